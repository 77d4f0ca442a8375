"""Query limits of issue 11, on SQLite and PostgreSQL alike: at most 6 queries per list request,
authentication included, the same for any page size and any amount of data; a suggestion's
queries do not grow with the coach group's size."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from coaching.rules import PartyRef
from directory.models import UserGroup
from tests.domain.helpers import user_group

from .conftest import suggest

MAX_LIST_QUERIES = 6
LISTS = [
    "/coaching-sessions",
    "/coaching-sessions?suggested_by=me",
    "/coaching-sessions?coach=me&state=suggested",
    "/coaching-sessions?state=canceled",
    "/notifications",
    "/users?search=a",
    "/user-groups",
    "/cases?search=case",
    "/coaching-areas",
]


def _count(client, path: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(path)
    assert r.status_code == 200, r.content
    return len(ctx.captured_queries), len(r.json()["items"])


def _sessions(org, n: int) -> None:
    for i in range(n):
        suggest(
            org,
            title=f"S{i}",
            coach=PartyRef.of(org.coaching_team) if i % 2 else PartyRef.of(org.cora),
            trainees=[PartyRef.of(org.alice), PartyRef.of(org.tier1)],
            reference_case_ids=[org.case1001.pk, org.case1002.pk],
        )


@pytest.mark.parametrize("role", ["sam", "cora", "alice", "admin"])
def test_every_list_within_six_queries_whatever_the_page_and_data_size(org, as_user, role):
    client = as_user(role)
    client.get("/me")  # token bookkeeping (last_used_at, once a minute) out of the way
    _sessions(org, 2)
    few = {p: _count(client, p + ("&" if "?" in p else "?") + "limit=1")[0] for p in LISTS}
    _sessions(org, 14)
    for path in LISTS:
        sep = "&" if "?" in path else "?"
        small, _ = _count(client, f"{path}{sep}limit=1")
        large, _ = _count(client, f"{path}{sep}limit=100")
        assert small == few[path], path
        # The whole list on one page needs no count: one query fewer, never more.
        assert large in (small, small - 1), (path, small, large)
        assert small <= MAX_LIST_QUERIES, (path, small)


def test_me_is_two_queries(org, as_user):
    client = as_user("sam")
    client.get("/me")
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/me").status_code == 200
    assert len(ctx.captured_queries) == 2  # the token with its user; permissions, roles, groups


def test_suggesting_to_a_coach_group_costs_the_same_for_2_or_50_members(org, as_user):
    client = as_user("sam")
    client.get("/me")

    def post(group: UserGroup) -> int:
        body = {
            "title": "Fan-out",
            "coach": {"type": "group", "id": group.pk},
            "trainees": [{"type": "user", "id": org.alice.pk}],
            "coaching_area_id": org.areas["Empathy"].pk,
        }
        with CaptureQueriesContext(connection) as ctx:
            r = client.post("/coaching-sessions", body)
        assert r.status_code == 201, r.content
        return len(ctx.captured_queries)

    small, large = user_group("small", 2), user_group("large", 50)
    post(small)  # first-use look-ups out of the way
    assert post(small) == post(large)
    # The token, the viewer; BEGIN; the coach group, the trainee, the group's members, the area;
    # the trainee's (area, agent) lock (qa.locks; on PostgreSQL only: SQLite's IMMEDIATE
    # transaction is the lock there); the session, its trainee (no read of links a
    # new session cannot have), the audit event, the members again for the fan-out, the
    # notifications, two task rows, the expiry reminder (added: a new session has none to
    # replace) and its task; COMMIT; the answer's session and what it shows.
    assert post(large) == (20 if connection.vendor == "postgresql" else 19)
