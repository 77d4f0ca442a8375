"""Directory reads, and removing a user (QM Admin)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from coaching.models import CoachingSession, State
from directory.models import Case, User, UserGroup
from tests.api.conftest import ROLES, assert_problem, snapshot, suggest


def items(r):
    assert r.status_code == 200, r.content
    body = r.json()
    assert set(body) == {"items", "count"}
    return body["items"]


@pytest.mark.parametrize("role", ROLES)
def test_every_signed_in_role_reads_users_groups_and_areas(org, as_user, role):
    client = as_user(role)
    users = items(client.get("/users?limit=100"))
    assert [u["username"] for u in users] == list(
        User.objects.filter(is_active=True)
        .order_by("display_name", "id")
        .values_list("username", flat=True)
    )
    assert set(users[0]) == {"id", "username", "display_name", "is_active"}
    groups = items(client.get("/user-groups"))
    assert [(g["name"], g["member_count"]) for g in groups] == [
        ("Coaching Team", 2),
        ("Empty Group", 0),
        ("Sam Only", 1),
        ("Tier 1", 2),
    ]
    areas = items(client.get("/coaching-areas"))
    assert [a["name"] for a in areas] == [
        "Call Handling",
        "Compliance",
        "Empathy",
        "Product Knowledge",
    ]


@pytest.mark.parametrize(
    "path", ["/users", "/user-groups", "/user-groups/1", "/cases", "/cases/1", "/coaching-areas"]
)
def test_directory_anonymous_is_401(org, as_user, path):
    assert_problem(as_user(None).get(path), 401, "not_authenticated")


def test_search_and_paging(org, as_user):
    client = as_user("sam")
    r = client.get("/users?search=AGENT")
    assert [u["username"] for u in items(r)] == ["alice.agent", "bob.agent", "dan.agent"]
    assert r.json()["count"] == 3
    r = client.get("/users?limit=2&offset=1")
    assert r.json()["count"] == User.objects.filter(is_active=True).count()
    assert len(r.json()["items"]) == 2
    assert [g["name"] for g in items(client.get("/user-groups?search=tier"))] == ["Tier 1"]
    assert [a["name"] for a in items(client.get("/coaching-areas?search=emp"))] == ["Empathy"]
    assert [c["number"] for c in items(client.get("/cases?search=1002"))] == ["CASE-1002"]
    assert_problem(
        client.get("/users?limit=101"), 422, "validation_failed", [("limit", "out_of_range")]
    )
    assert_problem(client.get("/users?offset=x"), 400, "malformed_request", [("offset", "invalid")])
    assert_problem(
        client.get("/users?search=%00"), 422, "validation_failed", [("search", "invalid")]
    )


def test_inactive_users_on_request(org, as_user):
    org.bob.is_active = False
    org.bob.save()
    client = as_user("sam")
    assert "bob.agent" not in [u["username"] for u in items(client.get("/users?limit=100"))]
    listed = {u["username"]: u for u in items(client.get("/users?include_inactive=true&limit=100"))}
    assert listed["bob.agent"]["is_active"] is False


def test_group_detail(org, as_user):
    r = as_user("alice").get(f"/user-groups/{org.coaching_team.pk}")
    assert r.status_code == 200
    assert r.json() == {
        "id": org.coaching_team.pk,
        "name": "Coaching Team",
        "member_count": 2,
        "members": [
            {
                "id": org.carl.pk,
                "username": "carl.coach",
                "display_name": "Carl Coach",
                "is_active": True,
            },
            {
                "id": org.cora.pk,
                "username": "cora.coach",
                "display_name": "Cora Coach",
                "is_active": True,
            },
        ],
    }
    assert_problem(as_user("alice").get("/user-groups/987654"), 404, "not_found")


CASES_SEEN = {
    "sam": ["CASE-1002", "CASE-1001"],
    "cora": ["CASE-1002", "CASE-1001"],
    "audrey": ["CASE-1002", "CASE-1001"],
    "admin": ["CASE-1002", "CASE-1001"],
    "alice": ["CASE-1001"],
    "dan": ["CASE-1002"],
    "nora": [],
}


@pytest.mark.parametrize("role", list(CASES_SEEN))
def test_cases_by_role(org, as_user, role):
    numbers = sorted((c["number"] for c in items(as_user(role).get("/cases"))), reverse=True)
    assert numbers == CASES_SEEN[role]
    for case in (org.case1001, org.case1002):
        r = as_user(role).get(f"/cases/{case.pk}")
        if case.number in CASES_SEEN[role]:
            assert r.status_code == 200
        else:
            assert_problem(r, 404, "not_found")


def test_case_detail(org, as_user):
    r = as_user("alice").get(f"/cases/{org.case1001.pk}")
    body = r.json()
    assert body["number"] == "CASE-1001" and body["subject"]
    assert [(p["user"]["username"], p["role"]) for p in body["participants"]] == [
        ("alice.agent", "agent"),
        ("bob.agent", "agent"),
        ("audrey.auditor", "auditor"),
    ]
    assert_problem(as_user("sam").get("/cases/987654"), 404, "not_found")


# The token with its user, the viewer's permissions, roles and groups (one query), page, count.
@pytest.mark.parametrize("path,expected", [("/users", 4), ("/user-groups", 4), ("/cases", 4)])
def test_directory_lists_query_count_is_pinned(
    org, as_user, path, expected, django_assert_num_queries
):
    for i in range(8):
        UserGroup.objects.create(name=f"Extra {i}")
        User.objects.create(username=f"extra{i}", display_name=f"Extra {i}")
        Case.objects.create(number=f"CASE-EXTRA-{i}", opened_at=timezone.now())
    client = as_user("sam")
    client.get("/me")
    for limit in (2, 8):
        with django_assert_num_queries(expected):
            r = client.get(f"{path}?limit={limit}")
        assert r.status_code == 200 and len(r.json()["items"]) == limit


# --- removing a user ---------------------------------------------------------------------------
def test_admin_removes_a_user_whose_suggestions_stay(org, as_user):
    session = suggest(org, actor=org.sue)
    r = as_user("admin").delete(f"/users/{org.sue.pk}")
    assert r.status_code == 204 and r.content == b""
    org.sue.refresh_from_db()
    assert org.sue.is_active is False
    session.refresh_from_db()
    assert session.state == State.SUGGESTED and session.suggested_by_name == "Sue Supervisor"
    # History keeps the name; the user no longer signs in; deleting again changes nothing.
    s = as_user("sam").get(f"/coaching-sessions/{session.pk}").json()
    assert s["suggested_by"]["is_active"] is False
    assert as_user("admin").delete(f"/users/{org.sue.pk}").status_code == 204
    assert CoachingSession.objects.filter(pk=session.pk, state=State.SUGGESTED).exists()


@pytest.mark.parametrize(
    "role", ["sam", "sue", "cora", "carl", "alice", "bob", "dan", "audrey", "nora"]
)
def test_only_qm_admin_removes_users(org, as_user, role):
    before = snapshot()
    assert_problem(as_user(role).delete(f"/users/{org.bob.pk}"), 403, "permission_denied")
    org.bob.refresh_from_db()
    assert org.bob.is_active is True
    assert snapshot() == before


def test_remove_user_errors(org, as_user):
    assert_problem(as_user(None).delete(f"/users/{org.bob.pk}"), 401, "not_authenticated")
    assert_problem(as_user("admin").delete("/users/987654"), 404, "not_found")
    assert_problem(
        as_user("admin").delete(f"/users/{org.admin.pk}"),
        422,
        "validation_failed",
        [("id", "invalid")],
    )
    assert_problem(
        as_user("admin").delete("/users/x"), 400, "malformed_request", [("id", "invalid")]
    )
    assert User.objects.filter(is_active=False).count() == 0
