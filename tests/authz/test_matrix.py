"""Every cell of the authorization matrix (`spec.py`) as a request against the real stack.

One test per (endpoint, role) walks every relationship and state; each request that may change
something runs in a savepoint that is rolled back, so every cell starts from the same world. A
cell checks the status, the body (problem+json with the right code in the API, the sign-in
redirect on pages) and that a refused request changed nothing while an accepted one changed the
session once. Reading a session also checks its `actions` against the table (api-v1: each true
exactly when the request would be accepted) and who is shown a completed session's notes.

`test_every_endpoint_and_page_is_in_the_matrix` fails when a route or an API operation exists
that the matrix does not name: to add one, see the steps at the top of `spec.py`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone

from coaching.forms import to_local_input
from coaching.models import CoachingSession, SessionEvent
from config.api import api

from . import world as world_module
from .spec import (
    ACTIONS,
    ADMIN_LOGIN,
    ANONYMOUS_RELATIONSHIPS,
    COMPLETED,
    INVITED,
    LOGIN,
    OK,
    OTHER_ENDPOINTS,
    OTHER_RELATIONSHIPS,
    OTHER_TABLE,
    PAGES,
    RELATIONSHIPS,
    ROLES,
    SESSION_ENDPOINTS,
    SESSION_TABLE,
    STATES,
    Row,
    reads_notes,
    sees_scores_of_others,
)
from .world import World, impossible

PROBLEM = "application/problem+json"
NOTES = world_module.NOTES
CODES = {401: "not_authenticated", 403: "permission_denied", 404: "not_found", 409: "invalid_state"}
NO_STATE = "-"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


# --- the expansion -------------------------------------------------------------------------------
def session_cells(endpoint: str, role: str) -> Iterator[tuple[str, str]]:
    for rel in RELATIONSHIPS:
        for state in STATES:
            if not impossible(role, rel, state):
                yield rel, state


def other_cells(endpoint: str, role: str) -> Iterator[str]:
    for rel in OTHER_RELATIONSHIPS.get(endpoint, ("unrelated",)):
        if role == "anonymous" and rel not in ANONYMOUS_RELATIONSHIPS:
            continue
        yield rel


def first_row(table: list[Row], endpoint: str, role: str, rel: str, state: str) -> Row:
    for row in table:
        if row.matches(endpoint, role, rel, state):
            return row
    raise AssertionError(f"no row of the matrix covers {endpoint} {role} {rel} {state}")


def all_cells() -> Iterator[tuple[list[Row], str, str, str, str]]:
    for endpoint in SESSION_ENDPOINTS:
        for role in ROLES:
            for rel, state in session_cells(endpoint, role):
                yield SESSION_TABLE, endpoint, role, rel, state
    for endpoint in OTHER_ENDPOINTS:
        for role in ROLES:
            for rel in other_cells(endpoint, role):
                yield OTHER_TABLE, endpoint, role, rel, NO_STATE


def test_every_cell_has_a_row_and_every_row_a_cell():
    used: set[tuple[int, int]] = set()
    count = 0
    for table, endpoint, role, rel, state in all_cells():
        row = first_row(table, endpoint, role, rel, state)
        used.add((id(table), table.index(row)))
        count += 1
    for table in (SESSION_TABLE, OTHER_TABLE):
        for i, row in enumerate(table):
            assert (id(table), i) in used, f"row {i} ({row.why}) matches no cell: dead or shadowed"
    assert count > 13000  # the size reported in the README


# --- every endpoint and page is in the matrix -----------------------------------------------------
# Routes the OpenAPI schema does not list: the schema itself, the docs page, the API's root.
NOT_IN_SCHEMA = ("/api/v1/openapi.json", "/api/v1/docs", "/api/v1/")
ADMIN = "admin/"  # the admin site checks its own permissions (staff only): one row stands for it


def _routes(patterns: list[URLPattern | URLResolver], prefix: str = "") -> Iterator[str]:
    for p in patterns:
        route = prefix + str(p.pattern)
        if isinstance(p, URLResolver) and route != ADMIN:
            yield from _routes(p.url_patterns, route)
        else:
            yield route


def _route_of(path: str) -> str:
    path = path.split("?", 1)[0]
    return ADMIN if path.startswith("/" + ADMIN) else resolve(path).route


def _sample_path(template: str) -> str:
    return template.format(
        id=1,
        user=1,
        group=1,
        case=1,
        agent=1,
        notification=1,
        feed="/calendar/1/x.ics",
        rule=1,
        trainee=1,
        area=1,
    )


def test_every_endpoint_and_page_is_in_the_matrix():
    """Every URL route (pages, the feed, the admin, the API's docs) and every operation of the
    OpenAPI schema (method and path) is named by SESSION_ENDPOINTS or OTHER_ENDPOINTS; and every
    name there is a real route."""
    named = {**SESSION_ENDPOINTS, **OTHER_ENDPOINTS}
    covered = {_route_of(_sample_path(template)) for _, template, _ in named.values()}
    missing_routes = [r for r in _routes(get_resolver().url_patterns) if r not in covered]
    operations = {
        (method.upper(), path)
        for path, item in api.get_openapi_schema()["paths"].items()
        for method in item
    }
    in_table = {
        (method, re.sub(r"\{\w+\}", "{id}", template.split("?", 1)[0]))
        for method, template, _ in named.values()
        if template.startswith("/api/v1/") and template not in NOT_IN_SCHEMA
    }
    missing = sorted(f"{m} {p}" for m, p in operations - in_table)
    phantoms = sorted(f"{m} {p}" for m, p in in_table - operations)
    assert not missing_routes, f"routes the matrix does not name (see spec.py): {missing_routes}"
    assert not missing, f"API operations the matrix does not name (see spec.py): {missing}"
    assert not phantoms, f"the matrix names API operations that do not exist: {phantoms}"


# --- the world, once per module ------------------------------------------------------------------
@pytest.fixture(scope="module", autouse=True)
def quiet_refusals() -> Iterator[None]:
    """Thousands of refusals are the point here; Django logs each 4xx as a warning."""
    logger = logging.getLogger("django.request")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker) -> Iterator[World]:
    """Built once inside a transaction that is rolled back at the end of the module; each test's
    own transaction (the `db` fixture) and each cell's savepoint nest inside it."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield world_module.build(timezone.now())
        transaction.set_rollback(True)


@pytest.fixture(scope="module")
def clients(world: World, django_db_blocker) -> dict[str, Client]:
    """Per role: a browser client signed in (pages) and its bearer token (API)."""
    out = {"anonymous": Client(), "spare": Client()}
    with django_db_blocker.unblock():
        for role, user in world.users.items():
            client = Client()
            client.force_login(user)
            out[role] = client
    return out


# --- one request ---------------------------------------------------------------------------------
# One client for every API request (they carry a bearer token, never a cookie): a new client
# loads the middleware again, WhiteNoise's scan of the static files included.
API_CLIENT = Client()


def _api(token: str | None, method: str, path: str, body: Any) -> Any:
    extra = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    kwargs: dict[str, Any] = {}
    if body is not None:
        kwargs = {"data": json.dumps(body), "content_type": "application/json"}
    return getattr(API_CLIENT, method.lower())(path, **kwargs, **extra)


def _form(session: CoachingSession, tz: str, **extra: Any) -> dict[str, Any]:
    coach = session.coach_user or session.coach_group
    return {
        "title": "Renamed by the matrix",
        "coach": f"{'user' if session.coach_user_id else 'group'}:{coach.pk}",  # type: ignore[union-attr]
        "trainees": [f"user:{u.pk}" for u in session.trainee_users.all()]
        + [f"group:{g.pk}" for g in session.trainee_groups.all()],
        "coaching_area_id": str(session.coaching_area_id),
        "expires_at": to_local_input(session.expires_at, tz),
        "reference_case_ids": [str(c.pk) for c in session.reference_cases.all()],
        **extra,
    }


def session_body(endpoint: str, pk: int, tz: str) -> Any:
    later = timezone.now() + timedelta(days=3)

    def session() -> CoachingSession:
        return CoachingSession.objects.get(pk=pk)

    return {
        "api.edit": {"title": "Renamed by the matrix"},
        "api.schedule": {"starts_at": later.isoformat(), "duration_minutes": 30},
        "api.decline": {"reason": "Not this week"},
        "page.edit": lambda: _form(session(), tz),
        "page.schedule": lambda: _form(
            session(), tz, starts_at=to_local_input(later, tz), duration_minutes="30", location=""
        ),
        "page.decline": {"reason": "Not this week"},
        "page.delete": {},
        "api.reschedule": {"starts_at": later.isoformat(), "duration_minutes": 30},
        "api.cancel": {"reason": "Not this week"},
        "api.complete": {"notes": "Covered the greeting", "action_items": ["Practise"]},
        "api.acknowledge": {"comment": "Thanks"},
        "page.reschedule": {
            "starts_at": to_local_input(later, tz),
            "duration_minutes": "30",
            "location": "",
        },
        "page.cancel": {"reason": "Not this week"},
        "page.complete": {"notes": "Covered the greeting", "action_items": "Practise"},
        "page.acknowledge": {"comment": "Thanks"},
    }.get(endpoint)


def read_problem(response: Any, role: str, rel: str, state: str) -> str | None:
    """What a session's answer shows wrongly: its `actions` (api-v1: each true exactly when the
    request would be accepted now, as the table says) and a completed session's notes (only to
    those decisions.md names)."""
    if response.get("Content-Type", "").startswith("application/json"):
        body = json.loads(response.content)
        want = {
            verb: first_row(SESSION_TABLE, endpoint, role, rel, state).outcome == OK
            for verb, endpoint in ACTIONS.items()
        }
        if body["actions"] != want:
            wrong = sorted(v for v in want if body["actions"].get(v) != want[v])
            return f"actions {body['actions']}, expected {want} (differ: {wrong})"
        shown = (body.get("completion") or {}).get("notes") is not None
    else:
        shown = NOTES.encode() in response.content
    if state in COMPLETED and shown != reads_notes(role, rel):
        return f"notes {'shown' if shown else 'hidden'}, expected the opposite"
    return None


def effect_problem(world: World, response: Any, role: str, rel: str, state: str) -> str | None:
    """What a session's effect shows wrongly (api-v1: one item per trainee user, for a completed
    session): the trainees invited, as far as the caller may see their scores (decisions.md
    Visibility: an agent without View Analytics only their own), and matrix.trainee's change."""
    items = json.loads(response.content)["items"]
    got = {i["trainee"]["username"]: i for i in items}
    invited = {"matrix.trainee"}
    if rel in INVITED:
        invited.add(world.users[role].username)
    if rel in ("trainee_joined_later", "attendee_left_group"):
        invited.add("matrix.member")  # in the group when the session was scheduled
    if state not in COMPLETED:
        want: set[str] = set()
    elif sees_scores_of_others(role):
        want = invited
    else:
        want = invited & {world.users[role].username}
    if set(got) != want:
        return f"effect for {sorted(got)}, expected {sorted(want)}"
    mine = got.get("matrix.trainee")
    if mine is not None and (
        (mine["before"]["n"], mine["after"]["n"], mine["delta"])
        != (3, 3, world_module.EFFECT_DELTA)
    ):
        return (
            f"matrix.trainee's effect {mine}, expected 3 and 3 scores, +{world_module.EFFECT_DELTA}"
        )
    return None


def other_problem(world: World, endpoint: str, role: str, response: Any) -> str | None:
    """What an accepted list shows wrongly: `similar` only open sessions the caller may open
    (api-v1: open, visible to the caller); evaluations of another agent only with View Analytics
    or as their sender (decisions.md Visibility; Evaluations ingest)."""
    if endpoint not in ("api.similar", "api.evaluations"):
        return None
    body = json.loads(response.content)
    if endpoint == "api.similar":
        for item in body["items"]:
            if item["state"] not in ("suggested", "scheduled"):
                return f"similar lists session {item['id']} in state {item['state']}"
            seen = _api(world.tokens[role], "GET", f"/api/v1/coaching-sessions/{item['id']}", None)
            if seen.status_code != 200:
                return f"similar lists session {item['id']}, which answers {seen.status_code}"
    if endpoint == "api.evaluations":
        want = len(world_module.SCORES_BEFORE + world_module.SCORES_AFTER)
        want = want if sees_scores_of_others(role) else 0
        if body["count"] != want:
            return f"{body['count']} of matrix.trainee's evaluations listed, expected {want}"
    return None


def send(
    world: World, clients: dict[str, Client], role: str, endpoint: str, method: str, path: str, body
) -> Any:
    if callable(body):
        body = body()
    if endpoint.startswith("api."):
        return _api(world.tokens.get(role), method, path, body)
    client = clients[role]
    if method == "GET":
        return client.get(path)
    return client.post(path, body or {})


def check(
    response: Any, endpoint: str, expected: int | str, success: int, code: str | None = None
) -> str | None:
    """None when the answer is the expected one, else what was wrong."""
    status = response.status_code
    if expected == OK:
        want = success
    elif expected in (LOGIN, ADMIN_LOGIN):
        want = 302
    else:
        want = int(expected)
    if status != want:
        return f"status {status}, expected {want} ({expected})"
    location = response.get("Location", "")
    if expected == LOGIN and not location.startswith("/login/"):
        return f"redirect to {location!r}, expected the sign-in page"
    if expected == ADMIN_LOGIN and not location.startswith("/admin/login/"):
        return f"redirect to {location!r}, expected the admin's sign-in page"
    if endpoint.startswith("api.") and status >= 400:
        if response["Content-Type"] != PROBLEM:
            return f"content type {response['Content-Type']}"
        got = json.loads(response.content)["code"]
        if got != (code or CODES[status]):
            return f"code {got!r}, expected {code or CODES[status]!r}"
    return None


def _footprint(session_id: int) -> tuple[int, int]:
    version = CoachingSession.objects.values_list("version", flat=True).get(pk=session_id)
    return version, SessionEvent.objects.filter(session_id=session_id).count()


# --- the tests -----------------------------------------------------------------------------------
# The pages' half runs in the SQLite pass, beside the browser tests; the API's half in both
# passes (the pages and the API share every query, so PostgreSQL's own SQL is covered by the API
# half; this keeps CI within its time).
SESSION_PARAMS = [
    pytest.param(endpoint, marks=[pytest.mark.pages_matrix] if endpoint in PAGES else [])
    for endpoint in SESSION_ENDPOINTS
]


@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize("endpoint", SESSION_PARAMS)
def test_session_endpoint(db, world, clients, endpoint, role):
    method, template, success = SESSION_ENDPOINTS[endpoint]
    tz = world.users[role].time_zone if role in world.users else "UTC"
    wrong: list[str] = []
    for rel, state in session_cells(endpoint, role):
        row = first_row(SESSION_TABLE, endpoint, role, rel, state)
        pk = world.sessions[(role, rel, state)]
        path = template.format(id=pk)
        if method == "GET":  # changes nothing: no savepoint, no footprint
            response = send(world, clients, role, endpoint, method, path, None)
            problem = check(response, endpoint, row.outcome, success, row.code)
            if problem is None and row.outcome == OK and endpoint in ("api.get", "page.detail"):
                problem = read_problem(response, role, rel, state)
            if problem is None and row.outcome == OK and endpoint == "api.effect":
                problem = effect_problem(world, response, role, rel, state)
        else:
            with transaction.atomic():
                before = _footprint(pk)
                body = session_body(endpoint, pk, tz)
                response = send(world, clients, role, endpoint, method, path, body)
                problem = check(response, endpoint, row.outcome, success, row.code)
                if problem is None:
                    after = _footprint(pk)
                    changed = after[0] == before[0] + 1 and after[1] == before[1] + 1
                    if row.outcome == OK and not changed:
                        problem = f"accepted but the session went from {before} to {after}"
                    if row.outcome != OK and after != before:
                        problem = f"refused but the session went from {before} to {after}"
                transaction.set_rollback(True)
        if problem:
            wrong.append(f"{endpoint} {role} {rel} {state}: {problem}  [{row.why}]")
    assert not wrong, "\n".join(wrong)


def other_path(world: World, endpoint: str, role: str, rel: str) -> str:
    template = OTHER_ENDPOINTS[endpoint][1]
    own = rel in ("case_participant", "self", "recipient")
    return template.format(
        user=world.victim.pk,  # type: ignore[union-attr]
        group=world.group.pk,  # type: ignore[union-attr]
        case=(world.cases[role] if own else world.other_case).pk,  # type: ignore[union-attr]
        agent=(world.users[role] if own else world.other_agent).pk,  # type: ignore[union-attr]
        notification=world.notifications[role] if own else world.other_notification,
        feed={
            "valid_address": world.feeds.get(role, world.someones_feed),
            "rotated_address": world.rotated_feed,
            "wrong_secret": world.someones_feed.replace(".ics", "0.ics"),
        }.get(rel, ""),
        rule=world.rule,
        trainee=world.trainee.pk,  # type: ignore[union-attr]
        area=world.area.pk,  # type: ignore[union-attr]
    )


def other_body(world: World, endpoint: str, role: str) -> Any:
    if endpoint == "api.token":
        user = world.users.get(role)
        return {
            "username": user.username if user else "sam.supervisor",
            "password": "demo" if user else "wrong",
        }
    if endpoint == "api.working_hours_put":
        return {"time_zone": "Europe/Berlin", "days": {d: [["08:00", "16:00"]] for d in WEEKDAYS}}
    if endpoint == "page.profile_save":
        return {"time_zone": "Europe/Berlin", **{f"day_{d}": "08:00-16:00" for d in WEEKDAYS}}
    if endpoint == "page.profile_rotate":
        return {"form": "rotate"}
    if endpoint == "page.suggest":
        user_tz = world.users[role].time_zone if role in world.users else "UTC"
        return {
            "title": "Suggested by the matrix",
            "coach": f"user:{world.users['coach'].pk}",
            "trainees": [f"user:{world.users['agent'].pk}"],
            "coaching_area_id": str(world.area.pk),  # type: ignore[union-attr]
            "expires_at": to_local_input(timezone.now() + timedelta(days=30), user_tz),
        }
    if endpoint == "api.evaluations_ingest":
        return {
            "items": [
                {
                    "source_id": "matrix-sent",
                    "agent_id": world.trainee.pk,  # type: ignore[union-attr]
                    "coaching_area_id": world.area.pk,  # type: ignore[union-attr]
                    "score": 80,
                    "evaluated_at": (timezone.now() - timedelta(days=1)).isoformat(),
                }
            ]
        }
    if endpoint == "api.rule_create":
        return {
            "name": "Rule by the matrix",
            "coaching_area_id": world.area.pk,  # type: ignore[union-attr]
            "threshold": 60,
            "window": 5,
            "min_evaluations": 3,
            "coach": {"type": "user", "id": world.users["coach"].pk},
            "expires_in_days": 14,
        }
    if endpoint == "api.rule_edit":
        return {"threshold": 55}
    if endpoint in ("page.rule_create", "page.rule_edit"):
        return {
            "name": "Rule by the matrix",
            "coaching_area_id": str(world.area.pk),  # type: ignore[union-attr]
            "threshold": "60",
            "window": "5",
            "min_evaluations": "3",
            "coach": f"user:{world.users['coach'].pk}",
            "expires_in_days": "14",
            "active": "on",
        }
    if endpoint == "api.suggest":
        return {
            "title": "Suggested by the matrix",
            "coach": {"type": "user", "id": world.users["coach"].pk},
            "trainees": [{"type": "user", "id": world.users["agent"].pk}],
            "coaching_area_id": world.area.pk,  # type: ignore[union-attr]
        }
    return None


@pytest.mark.parametrize("endpoint", list(OTHER_ENDPOINTS))
def test_other_endpoint(db, world, clients, endpoint):
    method, _, success = OTHER_ENDPOINTS[endpoint]
    wrong: list[str] = []
    for role in ROLES:
        for rel in other_cells(endpoint, role):
            row = first_row(OTHER_TABLE, endpoint, role, rel, NO_STATE)
            path = other_path(world, endpoint, role, rel)
            body = other_body(world, endpoint, role)
            with transaction.atomic():
                if endpoint.startswith("api."):
                    token = None if endpoint == "api.token" else world.tokens.get(role)
                    response = _api(token, method, path, body)
                else:
                    client = clients[role]
                    if endpoint == "page.logout" and role in world.users:
                        client = clients["spare"]  # sign-out ends the session it uses
                        client.force_login(world.users[role])
                    response = (
                        client.get(path) if method == "GET" else client.post(path, body or {})
                    )
                problem = check(response, endpoint, row.outcome, success, row.code)
                if problem is None and row.outcome == OK:
                    problem = other_problem(world, endpoint, role, response)
                transaction.set_rollback(True)
            if problem:
                wrong.append(f"{endpoint} {role} {rel}: {problem}  [{row.why}]")
    assert not wrong, "\n".join(wrong)
