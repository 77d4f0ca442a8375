"""Signing in: bearer tokens (issued, hashed, expiring, revocable) and browser sessions (CSRF)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from coaching.models import CoachingSession
from tests.api.conftest import ROLES, ApiClient, assert_problem, snapshot, suggest_body
from tokens.models import ApiToken


def issue(username: str, password: str = "demo") -> object:
    return ApiClient().post("/auth/token", {"username": username, "password": password})


def test_token_is_issued_for_the_right_password_and_stored_hashed(org, settings):
    settings.API_TOKEN_TTL_DAYS = 7
    r = issue("sam.supervisor")
    assert r.status_code == 200
    body = r.json()
    assert body["user"] == {
        "id": org.sam.pk,
        "username": "sam.supervisor",
        "display_name": "Sam Supervisor",
        "is_active": True,
    }
    token = ApiToken.objects.get()
    assert token.user == org.sam
    assert token.key_hash == hashlib.sha256(body["token"].encode()).hexdigest()
    assert body["token"] not in (token.key_hash, token.prefix, token.name)
    assert token.expires_at - token.created_at == timedelta(days=7)
    assert body["expires_at"].startswith(token.expires_at.strftime("%Y-%m-%dT%H:%M"))
    me = ApiClient(body["token"]).get("/me")
    assert me.status_code == 200 and me.json()["username"] == "sam.supervisor"


@pytest.mark.parametrize(
    "username,password", [("sam.supervisor", "wrong"), ("nobody", "demo"), ("", "")]
)
def test_wrong_credentials_are_401_and_issue_nothing(org, username, password):
    assert_problem(issue(username, password), 401, "not_authenticated")
    assert ApiToken.objects.count() == 0


def test_inactive_user_gets_no_token(org):
    org.bob.is_active = False
    org.bob.save()
    assert_problem(issue("bob.agent"), 401, "not_authenticated")
    assert ApiToken.objects.count() == 0


def test_token_request_needs_both_fields_and_json(org):
    assert_problem(
        ApiClient().post("/auth/token", {"username": "sam.supervisor"}),
        422,
        "validation_failed",
        [("password", "required")],
    )
    assert_problem(ApiClient().post("/auth/token", raw="{not json"), 400, "malformed_request")
    assert_problem(
        ApiClient().post("/auth/token", {"username": 1, "password": "demo"}),
        400,
        "malformed_request",
        [("username", "invalid")],
    )
    assert ApiToken.objects.count() == 0


@pytest.mark.parametrize("header", [None, "Bearer nonsense", "Bearer ", "Token abc", "Basic eDp5"])
def test_missing_or_bad_credentials_are_401(org, header):
    client = Client()
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    r = client.get("/api/v1/me", **extra)
    assert_problem(r, 401, "not_authenticated")
    assert r["WWW-Authenticate"].startswith("Bearer")


def test_expired_token_is_401(org, as_user):
    client = as_user("sam")
    assert client.get("/me").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        assert_problem(client.get("/me"), 401, "not_authenticated")


def test_revoked_token_is_401_and_admin_action_revokes(org, as_user):
    client = as_user("sam")
    other = as_user("cora")
    assert client.get("/me").status_code == 200
    token = ApiToken.objects.get(user=org.sam)
    admin_client = Client()
    admin_client.force_login(org.admin)
    r = admin_client.post(
        "/admin/tokens/apitoken/", {"action": "revoke", "_selected_action": [token.pk]}
    )
    assert r.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert_problem(client.get("/me"), 401, "not_authenticated")
    assert other.get("/me").status_code == 200


def test_token_of_deactivated_user_stops_working(org, as_user):
    client = as_user("alice")
    assert client.get("/me").status_code == 200
    org.alice.is_active = False
    org.alice.save()
    assert_problem(client.get("/me"), 401, "not_authenticated")


def test_last_used_is_recorded(org, as_user):
    as_user("sam").get("/me")
    assert ApiToken.objects.get(user=org.sam).last_used_at is not None


EXPECTED_ME = {
    "sam": ({"view_suggestions", "create_suggestions", "view_analytics"}, ["Supervisor"]),
    "sue": ({"view_suggestions", "create_suggestions", "view_analytics"}, ["Supervisor"]),
    "cora": ({"view_suggestions", "view_analytics"}, ["Coach"]),
    "carl": ({"view_suggestions", "view_analytics"}, ["Coach"]),
    "alice": ({"view_suggestions"}, ["Agent"]),
    "bob": ({"view_suggestions"}, ["Agent"]),
    "dan": ({"view_suggestions"}, ["Agent"]),
    "audrey": ({"view_suggestions", "view_analytics"}, ["Auditor"]),
    "nora": (set(), []),
    "admin": (
        {"view_suggestions", "create_suggestions", "view_analytics", "import_evaluations"},
        ["QM Admin"],
    ),
}


@pytest.mark.parametrize("role", ROLES)
def test_me_lists_permissions_and_roles(org, as_user, role):
    r = as_user(role).get("/me")
    assert r.status_code == 200
    body = r.json()
    user = getattr(org, role)
    perms, roles = EXPECTED_ME[role]
    assert body["id"] == user.pk and body["username"] == user.username
    assert body["display_name"] == user.display_name and body["is_active"] is True
    assert set(body["permissions"]) == perms and len(body["permissions"]) == len(perms)
    assert body["roles"] == roles


def test_me_anonymous_is_401(org, as_user):
    assert_problem(as_user(None).get("/me"), 401, "not_authenticated")


# --- browser sessions ------------------------------------------------------------------------
def test_session_cookie_reads_without_csrf(org):
    client = Client(enforce_csrf_checks=True)
    client.force_login(org.sam)
    r = client.get("/api/v1/me")
    assert r.status_code == 200 and r.json()["username"] == "sam.supervisor"


def test_session_cookie_write_needs_csrf_token(org):
    client = Client(enforce_csrf_checks=True)
    client.force_login(org.sam)
    before = snapshot()
    r = client.post("/api/v1/coaching-sessions", suggest_body(org), content_type="application/json")
    assert_problem(r, 403, "permission_denied")
    assert snapshot() == before

    client.get("/api/v1/me")  # any page; the CSRF cookie is set by the test client below
    from django.middleware.csrf import _get_new_csrf_string, _mask_cipher_secret

    secret = _get_new_csrf_string()
    client.cookies["csrftoken"] = secret
    r = client.post(
        "/api/v1/coaching-sessions",
        suggest_body(org),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=_mask_cipher_secret(secret),
    )
    assert r.status_code == 201, r.content
    assert CoachingSession.objects.filter(pk=r.json()["id"], suggested_by=org.sam).exists()


def test_anonymous_write_is_401_not_a_csrf_error(org):
    client = Client(enforce_csrf_checks=True)
    before = snapshot()
    r = client.post("/api/v1/coaching-sessions", suggest_body(org), content_type="application/json")
    assert_problem(r, 401, "not_authenticated")
    assert snapshot() == before


def test_bearer_write_needs_no_csrf(org, as_user):
    r = as_user("sam").post("/coaching-sessions", suggest_body(org))
    assert r.status_code == 201
