"""Errors are problem+json everywhere under /api/; the OpenAPI schema documents every operation's
statuses; the docs page is served from our own files under its own CSP."""

from __future__ import annotations

import os

import pytest
from django.contrib.staticfiles import finders
from django.test import Client, RequestFactory

from config.api import api
from config.errors_views import page_not_found, server_error
from tests.api.conftest import PROBLEM, assert_problem

# 413 (a body above 2.5 MiB) and 414 (a query string above 4096 bytes) are answered before any
# operation runs; 429 when signing in is locked.
CONTRACT = {
    ("post", "/api/v1/auth/token"): {200, 400, 401, 413, 414, 422, 429},
    ("get", "/api/v1/me"): {200, 401, 414},
    ("get", "/api/v1/users"): {200, 400, 401, 414, 422},
    ("delete", "/api/v1/users/{id}"): {204, 400, 401, 403, 404, 414, 422},
    ("get", "/api/v1/user-groups"): {200, 400, 401, 414, 422},
    ("get", "/api/v1/user-groups/{id}"): {200, 400, 401, 404, 414, 422},
    ("get", "/api/v1/cases"): {200, 400, 401, 414, 422},
    ("get", "/api/v1/cases/{id}"): {200, 400, 401, 404, 414, 422},
    ("get", "/api/v1/coaching-areas"): {200, 400, 401, 414, 422},
    ("post", "/api/v1/evaluations"): {200, 400, 401, 403, 413, 414, 422},
    ("get", "/api/v1/evaluations"): {200, 400, 401, 414, 422},
    ("post", "/api/v1/coaching-sessions"): {201, 400, 401, 403, 413, 414, 422},
    ("get", "/api/v1/coaching-sessions"): {200, 400, 401, 403, 414, 422},
    ("get", "/api/v1/coaching-sessions/prefill"): {200, 400, 401, 403, 404, 414, 422},
    ("get", "/api/v1/coaching-sessions/{id}"): {200, 400, 401, 404, 414, 422},
    ("patch", "/api/v1/coaching-sessions/{id}"): {200, 400, 401, 403, 404, 409, 412, 413, 414, 422},
    ("delete", "/api/v1/coaching-sessions/{id}"): {204, 400, 401, 403, 404, 409, 414, 422},
    ("post", "/api/v1/coaching-sessions/{id}/schedule"): {
        200,
        400,
        401,
        403,
        404,
        409,
        413,
        414,
        422,
    },
    ("post", "/api/v1/coaching-sessions/{id}/decline"): {
        200,
        400,
        401,
        403,
        404,
        409,
        413,
        414,
        422,
    },
    ("get", "/api/v1/coaching-sessions/{id}/history"): {200, 400, 401, 404, 414, 422},
    ("post", "/api/v1/coaching-sessions/{id}/reschedule"): {
        200,
        400,
        401,
        403,
        404,
        409,
        413,
        414,
        422,
    },
    ("post", "/api/v1/coaching-sessions/{id}/cancel"): {
        200,
        400,
        401,
        403,
        404,
        409,
        413,
        414,
        422,
    },
    ("post", "/api/v1/coaching-sessions/{id}/complete"): {
        200,
        400,
        401,
        403,
        404,
        409,
        413,
        414,
        422,
    },
    ("post", "/api/v1/coaching-sessions/{id}/acknowledge"): {
        200,
        400,
        401,
        403,
        404,
        409,
        413,
        414,
        422,
    },
    ("get", "/api/v1/coaching-sessions/{id}/free-slots"): {200, 400, 401, 403, 404, 414, 422},
    ("get", "/api/v1/coaching-sessions/similar"): {200, 400, 401, 403, 414, 422},
    ("get", "/api/v1/coaching-sessions/{id}/effect"): {200, 400, 401, 404, 414, 422},
    ("get", "/api/v1/reports/coaching-effect"): {200, 400, 401, 403, 414, 422},
    ("get", "/api/v1/me/calendar"): {200, 401, 414},
    ("post", "/api/v1/me/calendar/rotate"): {200, 401, 403, 414},
    ("get", "/api/v1/me/working-hours"): {200, 401, 414},
    ("put", "/api/v1/me/working-hours"): {200, 400, 401, 403, 413, 414, 422},
    ("get", "/api/v1/notifications"): {200, 400, 401, 414, 422},
    ("post", "/api/v1/notifications/read-all"): {204, 401, 403, 414},
    ("post", "/api/v1/notifications/{id}/read"): {204, 400, 401, 403, 404, 414, 422},
}
# Coaching rules (QM Admins; 2026-12-01).
CONTRACT |= {
    ("get", "/api/v1/coaching-rules"): {200, 400, 401, 403, 414, 422},
    ("post", "/api/v1/coaching-rules"): {201, 400, 401, 403, 413, 414, 422},
    ("get", "/api/v1/coaching-rules/{id}"): {200, 400, 401, 403, 404, 414, 422},
    ("patch", "/api/v1/coaching-rules/{id}"): {200, 400, 401, 403, 404, 413, 414, 422},
    ("delete", "/api/v1/coaching-rules/{id}"): {204, 400, 401, 403, 404, 414, 422},
}


def test_openapi_documents_every_operation_and_status(db):
    r = Client().get("/api/v1/openapi.json")
    assert r.status_code == 200
    schema = r.json()
    assert schema["openapi"].startswith("3.1")
    found = {
        (method, path): {int(s) for s in op["responses"]}
        for path, item in schema["paths"].items()
        for method, op in item.items()
    }
    assert found == CONTRACT
    for path, item in schema["paths"].items():
        for method, op in item.items():
            for status, response in op["responses"].items():
                if int(status) >= 400:
                    assert list(response["content"]) == [PROBLEM], (method, path, status)
            if path != "/api/v1/auth/token":
                assert op["security"] == [{"BearerTokenAuth": []}, {"SessionCookieAuth": []}]
    session = schema["components"]["schemas"]["SessionOut"]
    assert set(session["properties"]) == {
        "id", "title", "state", "coach", "trainees", "coaching_area", "expires_at",
        "reference_cases", "suggested_by", "suggested_by_name", "origin", "created_at",
        "updated_at", "version", "schedule", "cancellation", "actions", "completion",
        "calendar_uid",
    }  # fmt: skip
    patch = schema["paths"]["/api/v1/coaching-sessions/{id}"]["patch"]
    assert any(p["name"] == "If-Match" and p["in"] == "header" for p in patch["parameters"])


def test_unknown_api_route_is_problem_404_and_pages_stay_html(db):
    assert_problem(Client().get("/api/v1/nothing-here"), 404, "not_found")
    assert_problem(Client().get("/api/v1/"), 404, "not_found")
    r = Client().get("/no-such-page/")
    assert r.status_code == 404
    assert r["Content-Type"].startswith("text/html")


def test_wrong_method_is_problem_405_with_allow(org, as_user):
    r = as_user("sam").request("PUT", "/coaching-sessions")
    body = assert_problem(r, 405, "method_not_allowed")
    assert set(r["Allow"].split(", ")) == {"GET", "POST"}
    assert "PUT" in body["detail"]


@pytest.mark.parametrize("debug", [False, True])
def test_unexpected_error_is_problem_500_without_traceback(db, settings, debug):
    settings.DEBUG = debug
    request = RequestFactory().get("/api/v1/me")
    try:
        raise RuntimeError("secret internals")
    except RuntimeError as exc:
        response = api.on_exception(request, exc)
    assert_problem(response, 500, "internal_error")
    assert b"secret internals" not in response.content


def test_django_handlers_answer_problem_under_api_and_html_elsewhere(db):
    factory = RequestFactory()
    response = server_error(factory.get("/api/v1/coaching-sessions"))
    assert_problem(response, 500, "internal_error")
    page = server_error(factory.get("/"))
    assert page.status_code == 500 and page["Content-Type"].startswith("text/html")
    response = page_not_found(factory.get("/api/v1/x"), Exception("x"))
    assert_problem(response, 404, "not_found")
    page = page_not_found(factory.get("/x"), Exception("x"))
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


def test_docs_page_is_local_and_has_its_own_csp(db):
    r = Client().get("/api/v1/docs")
    assert r.status_code == 200
    html = r.content.decode()
    assert "swagger-ui-bundle.js" in html and "/api/v1/openapi.json" in html
    assert "cdn." not in html and "https://" not in html.replace("https://coaching.example", "")
    csp = r["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-eval" not in csp
    assert "connect-src 'self'" in csp
    for asset in ("ninja/swagger-ui-bundle.js", "ninja/swagger-ui.css", "ninja/swagger-ui-init.js"):
        assert finders.find(asset), asset
    # Every other page keeps the strict site policy.
    assert "unsafe-inline" not in Client().get("/api/v1/openapi.json").get(
        "Content-Security-Policy", ""
    ).replace("style-src 'self' 'unsafe-inline'", "")


CHROMIUM = "/usr/bin/chromium"


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no Chromium at /usr/bin/chromium")
def test_docs_page_works_in_a_real_browser(org, live_server, monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from tokens.services import token_issue

    _, token = token_issue(user=org.sam)
    problems: list[str] = []
    outside: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page()
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on(
                "request",
                lambda req: (
                    None if req.url.startswith(live_server.url) else outside.append(req.url)
                ),
            )
            page.goto(f"{live_server.url}/api/v1/docs")
            page.wait_for_selector(".opblock", timeout=20_000)
            assert page.locator(".opblock").count() == len(CONTRACT)
            # Authorize with a bearer token and call GET /me from the page.
            page.click("button.authorize")
            page.fill("input[aria-label='auth-bearer-value']", token)
            page.click(".auth-btn-wrapper button.authorize")
            page.click("button.btn-done")
            me = page.locator("#operations-auth-tokens_api_me")
            me.locator(".opblock-summary").click()
            me.locator("button.try-out__btn").click()
            me.locator("button.execute").click()
            page.wait_for_selector("#operations-auth-tokens_api_me .live-responses-table")
            text = me.locator(".live-responses-table").inner_text()
            assert "sam.supervisor" in text
        finally:
            browser.close()
    assert problems == []
    assert outside == []
