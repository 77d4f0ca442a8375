"""Input limits and times: a body too large (413), a query string too long (414), a time that is
not ISO 8601 (400) or too far ahead (422), all problem+json, and nothing written."""

from __future__ import annotations

import json

import pytest
from django.conf import settings

from tests.api.conftest import assert_problem, future, snapshot, suggest, suggest_body

pytestmark = pytest.mark.django_db


def test_body_over_the_limit_is_413_and_writes_nothing(org, as_user):
    body = suggest_body(org, title="x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1))
    before = snapshot()
    r = as_user("sam").post("/coaching-sessions", body)
    problem = assert_problem(r, 413, "request_too_large")
    assert "2.5 MiB" in problem["detail"]
    assert snapshot() == before


def test_body_just_under_the_limit_is_read(org, as_user):
    # The same route with a large but allowed body reaches the rules (title too long: 422).
    raw = json.dumps(suggest_body(org, title="x" * 2_000_000))
    assert len(raw) < settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert_problem(
        as_user("sam").post("/coaching-sessions", raw=raw),
        422,
        "validation_failed",
        [("title", "too_long")],
    )


def test_query_string_over_the_limit_is_414(org, as_user):
    r = as_user("sam").get("/users?search=" + "%C3%A9" * 800)
    body = assert_problem(r, 414, "uri_too_long")
    assert "4096" in body["detail"]


def test_search_longer_than_documented_is_422(org, as_user):
    assert_problem(
        as_user("sam").get("/users?search=" + "a" * 101),
        422,
        "validation_failed",
        [("search", "too_long")],
    )
    assert as_user("sam").get("/users?search=" + "a" * 100).status_code == 200


def test_pages_get_the_limits_too(org, client):
    r = client.get("/search/agents/?q=" + "a" * 5000)
    assert r.status_code == 414 and "text/plain" in r["Content-Type"]


@pytest.mark.parametrize("value", ["1893456000", "1893456000.5", "2030-13-01", "next tuesday"])
def test_time_that_is_not_iso_8601_is_400(org, as_user, value):
    session = suggest(org)
    before = snapshot()
    r = as_user("cora").post(
        f"/coaching-sessions/{session.pk}/schedule", {"starts_at": value, "duration_minutes": 30}
    )
    assert_problem(r, 400, "malformed_request", [("starts_at", "invalid")])
    r = as_user("sam").post("/coaching-sessions", suggest_body(org, expires_at=value))
    assert_problem(r, 400, "malformed_request", [("expires_at", "invalid")])
    assert snapshot() == before


@pytest.mark.parametrize(
    "template", ["{day}T10:00:00+01:00", "{day}T09:00:00Z", "{day}t09:00:00.123456z"]
)
def test_iso_8601_times_are_accepted(org, as_user, template):
    day = future(days=30)[:10]
    session = suggest(org)
    r = as_user("cora").post(
        f"/coaching-sessions/{session.pk}/schedule",
        {"starts_at": template.format(day=day), "duration_minutes": 30},
    )
    assert r.status_code == 200, r.content
    assert r.json()["schedule"]["starts_at"].startswith(f"{day}T09:00:00")


@pytest.mark.parametrize("value", ["9999-12-31T23:00:00Z", "2100-01-01T00:00:00+00:00"])
def test_start_too_far_ahead_is_422_naming_the_field(org, as_user, value):
    session = suggest(org)
    before = snapshot()
    r = as_user("cora").post(
        f"/coaching-sessions/{session.pk}/schedule", {"starts_at": value, "duration_minutes": 30}
    )
    body = assert_problem(r, 422, "validation_failed", [("starts_at", "too_far")])
    assert "24 months" in body["errors"][0]["message"]
    assert snapshot() == before


def test_start_within_the_window_is_accepted(org, as_user):
    session = suggest(org)
    r = as_user("cora").post(
        f"/coaching-sessions/{session.pk}/schedule",
        {"starts_at": future(days=700), "duration_minutes": 30},
    )
    assert r.status_code == 200, r.content


@pytest.mark.parametrize(
    "value,code",
    [
        ("9999-12-31T23:00:00Z", "too_far"),
        # Past the last moment Python can hold, once in UTC.
        ("9999-12-31T23:59:59-10:00", "out_of_range"),
    ],
)
def test_expiry_too_far_ahead_is_422_naming_the_field(org, as_user, value, code):
    r = as_user("sam").post("/coaching-sessions", suggest_body(org, expires_at=value))
    assert_problem(r, 422, "validation_failed", [("expires_at", code)])
    session = suggest(org)
    before = snapshot()
    r = as_user("sam").patch(f"/coaching-sessions/{session.pk}", {"expires_at": value})
    assert_problem(r, 422, "validation_failed", [("expires_at", code)])
    assert snapshot() == before


def test_openapi_states_the_limits(db, client):
    schema = client.get("/api/v1/openapi.json").json()
    users = schema["paths"]["/api/v1/users"]["get"]
    search = next(p for p in users["parameters"] if p["name"] == "search")
    assert search["schema"]["maxLength"] == 100
    assert "414" in users["responses"] and "413" not in users["responses"]
    suggest_op = schema["paths"]["/api/v1/coaching-sessions"]["post"]
    assert {"413", "414"} <= set(suggest_op["responses"])
    token = schema["paths"]["/api/v1/auth/token"]["post"]["responses"]["429"]
    assert "Retry-After" in token["headers"]


def test_a_form_body_is_never_parsed_by_the_api(org, client):
    # A multipart body without its boundary: the sign-in throttle and CSRF never read it.
    r = client.post(
        "/api/v1/auth/token",
        data=b'{"username": "sam.supervisor", "password": "nope"}',
        content_type="multipart/form-data",
    )
    assert_problem(r, 401, "not_authenticated")
    r = client.post(
        "/api/v1/auth/token",
        data=b'{"username": "sam.supervisor", "password": "demo"}',
        content_type="multipart/form-data",
    )
    assert r.status_code == 200
