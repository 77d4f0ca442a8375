"""Online password guessing: after LOGIN_FAILURE_LIMIT wrong passwords for one account, or from one
client address, signing in is refused (429) on the login page and on POST /api/v1/auth/token until
LOGIN_LOCKOUT_MINUTES have passed; the counts live in the database; admins see the lockouts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client, RequestFactory, override_settings
from django.utils import timezone

from core.lockout import client_ip
from tests.api.conftest import assert_problem
from tokens.models import ApiToken

pytestmark = pytest.mark.django_db

LIMIT = settings.AXES_FAILURE_LIMIT
LOCK_SECONDS = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))


def token(client: Client, username: str, password: str, **extra: Any) -> Any:
    return client.post(
        "/api/v1/auth/token",
        {"username": username, "password": password},
        content_type="application/json",
        **extra,
    )


def login(client: Client, username: str, password: str, **extra: Any) -> Any:
    return client.post("/login/", {"username": username, "password": password}, **extra)


def test_api_locks_an_account_after_the_limit_until_the_lockout_expires(org):
    client = Client()
    for _ in range(LIMIT - 1):
        assert_problem(token(client, "sam.supervisor", "guess"), 401, "not_authenticated")
    locked = token(client, "sam.supervisor", "guess")
    body = assert_problem(locked, 429, "too_many_attempts")
    assert locked["Retry-After"] == LOCK_SECONDS
    assert "15 minutes" in body["detail"]
    # The right password no longer helps, from anywhere: the account is locked.
    elsewhere = token(Client(), "sam.supervisor", "demo", REMOTE_ADDR="198.51.100.7")
    assert_problem(elsewhere, 429, "too_many_attempts")
    assert ApiToken.objects.count() == 0
    # Other accounts sign in (from another address: this one is over the limit too).
    assert token(Client(), "cora.coach", "demo", REMOTE_ADDR="198.51.100.7").status_code == 200
    with time_machine.travel(timezone.now() + settings.AXES_COOLOFF_TIME + timedelta(minutes=1)):
        assert token(Client(), "sam.supervisor", "demo").status_code == 200


def test_api_locks_a_client_address_guessing_across_accounts(org):
    client = Client()
    for n in range(LIMIT):
        token(client, f"nobody{n}", "demo", REMOTE_ADDR="203.0.113.5")
    from_there = token(client, "sam.supervisor", "demo", REMOTE_ADDR="203.0.113.5")
    assert_problem(from_there, 429, "too_many_attempts")
    assert token(Client(), "sam.supervisor", "demo", REMOTE_ADDR="203.0.113.6").status_code == 200


def test_a_successful_sign_in_clears_its_counts(org):
    client = Client()
    for _ in range(LIMIT - 1):
        token(client, "sam.supervisor", "typo")
    assert token(client, "sam.supervisor", "demo").status_code == 200
    for _ in range(LIMIT - 1):
        assert_problem(token(client, "sam.supervisor", "typo"), 401, "not_authenticated")
    assert token(client, "sam.supervisor", "demo").status_code == 200


def test_login_page_says_why_and_keeps_the_lock(org):
    client = Client()
    for _ in range(LIMIT - 1):
        page = login(client, "sam.supervisor", "guess")
        assert page.status_code == 200 and "Too many failed" not in page.text
    page = login(client, "sam.supervisor", "guess")
    assert page.status_code == 429 and page["Retry-After"] == LOCK_SECONDS
    assert 'role="alert"' in page.text and "Too many failed sign-in attempts" in page.text
    assert 'value="sam.supervisor"' in page.text and "'nonce-" in page["Content-Security-Policy"]
    right = login(Client(), "sam.supervisor", "demo", REMOTE_ADDR="198.51.100.9")
    assert right.status_code == 429 and "_auth_user_id" not in right.client.session
    assert Client().get("/").status_code == 302
    # The page and the API share the counts (one table, whichever process answers).
    assert_problem(token(Client(), "sam.supervisor", "demo"), 429, "too_many_attempts")
    assert AccessAttempt.objects.filter(username="sam.supervisor").exists()


def test_admin_lists_lockouts(org):
    for _ in range(LIMIT):
        token(Client(), "sam.supervisor", "guess", REMOTE_ADDR="203.0.113.77")
    admin = Client()
    admin.force_login(org.admin)
    page = admin.get("/admin/axes/accessattempt/")
    assert page.status_code == 200
    assert "sam.supervisor" in page.text and "203.0.113.77" in page.text


def test_client_address_behind_trusted_proxies():
    rf = RequestFactory()
    spoofed = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 192.0.2.10")
    # Without trusted proxies the header is the client's own writing: ignored.
    assert client_ip(spoofed) == "10.0.0.2"
    with override_settings(TRUSTED_PROXIES=1):
        assert client_ip(spoofed) == "192.0.2.10"  # what our proxy appended
        assert client_ip(rf.get("/", REMOTE_ADDR="10.0.0.2")) == "10.0.0.2"
        bad = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="not-an-address")
        assert client_ip(bad) == "10.0.0.2"
    with override_settings(TRUSTED_PROXIES=2):
        assert client_ip(spoofed) == "1.2.3.4"
    with override_settings(TRUSTED_PROXIES=1, CLIENT_IP_HEADER="X-Real-IP"):
        assert client_ip(rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_REAL_IP="192.0.2.99")) == (
            "192.0.2.99"
        )
