"""The database becomes unreachable in the middle of a request: the API answers 503 problem+json
with Retry-After, a page answers a 503 page, and nothing is half-written.

gunicorn runs the product against PostgreSQL through a TCP proxy. The proxy is told to drop every
connection at the moment the request sends its notification INSERT, i.e. after the session row
was updated and the audit event written in the same transaction; PostgreSQL then rolls that
transaction back. While the proxy stays down, every request answers 503 too.
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from coaching.models import CoachingSession, State
from notifications.models import Kind, Notification
from tests.domain.helpers import suggest, world
from tokens.services import token_issue

from .harness import DatabaseProxy, product_env, request, running, start_web, wait_for

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

NOTIFICATION_INSERT = b'INSERT INTO "notifications_notification"'


def _url_via(port: int) -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@127.0.0.1:{port}/{s['NAME']}"


def _assert_unavailable_problem(answer) -> None:
    assert answer.status == 503, answer.body
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"].isdigit()
    body = answer.json()
    assert (body["status"], body["code"]) == (503, "service_unavailable")
    assert b"Traceback" not in answer.body


def _assert_unavailable_page(answer) -> None:
    assert answer.status == 503, answer.body
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["retry-after"].isdigit()
    assert b"briefly unavailable" in answer.body and b"Traceback" not in answer.body


def test_database_cut_mid_request_answers_503_and_writes_nothing(org, tmp_path):
    session = suggest(org)
    _, cora = token_issue(user=org.cora, name="faults")
    browser = Client()
    browser.force_login(org.alice)
    cookie = f"sessionid={browser.cookies['sessionid'].value}"
    schedule = {
        "starts_at": (timezone.now() + timedelta(days=2)).isoformat(),
        "duration_minutes": 30,
    }
    before = world()

    with DatabaseProxy(("127.0.0.1", int(connection.settings_dict["PORT"] or 5432))) as proxy:
        web = start_web(
            product_env(_url_via(proxy.port), DB_POOL_TIMEOUT="2"), log=tmp_path / "web.log"
        )
        with running(web.proc):
            path = f"/api/v1/coaching-sessions/{session.pk}"

            def back_with_nothing_written() -> None:
                proxy.restore()
                wait_for(
                    lambda: request(web.base, "GET", path, token=cora).status == 200,
                    timeout=60,
                    what="the web server to reach the database again",
                )
                assert world() == before

            # The API, cut between the session's UPDATE and the notification's INSERT.
            proxy.cut_on(NOTIFICATION_INSERT)
            _assert_unavailable_problem(
                request(web.base, "POST", f"{path}/schedule", schedule, token=cora)
            )
            assert proxy.cuts == 1
            # While it stays down: the API and the pages answer 503 as well.
            _assert_unavailable_problem(request(web.base, "GET", path, token=cora))
            _assert_unavailable_page(request(web.base, "GET", "/", headers={"Cookie": cookie}))
            back_with_nothing_written()

            # A page's form, cut the same way: Alice declines.
            page = request(
                web.base, "GET", f"/sessions/{session.pk}/decline/", headers={"Cookie": cookie}
            )
            assert page.status == 200
            token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)
            assert token is not None
            cookies = f"{cookie}; csrftoken={page.cookies['csrftoken']}"
            form = urlencode({"csrfmiddlewaretoken": token.group(1).decode(), "reason": "Away"})
            proxy.cut_on(NOTIFICATION_INSERT)
            _assert_unavailable_page(
                request(
                    web.base,
                    "POST",
                    f"/sessions/{session.pk}/decline/",
                    form=form,
                    headers={"Cookie": cookies, "Referer": web.base + "/"},
                )
            )
            assert proxy.cuts == 2
            back_with_nothing_written()

            # Once it is back, the same request goes through, once.
            answer = request(web.base, "POST", f"{path}/schedule", schedule, token=cora)
            assert answer.status == 200, answer.body
    session = CoachingSession.objects.get(pk=session.pk)
    assert (session.state, session.version) == (State.SCHEDULED, 2)
    assert list(
        Notification.objects.filter(kind=Kind.SESSION_SCHEDULED).values_list(
            "recipient__username", flat=True
        )
    ) == ["sam.supervisor"]
