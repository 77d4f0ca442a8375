"""The caller's notifications: list (newest first), unread filter, mark read."""

from __future__ import annotations

import pytest

from coaching import services
from coaching.rules import PartyRef
from notifications.models import Notification
from tests.api.conftest import ROLES, assert_problem, snapshot, suggest


def test_list_newest_first_with_unread_count(org, as_user):
    first = suggest(org, title="First")
    services.session_delete(actor=org.sam, session_id=first.pk)
    second = suggest(org, title="Second")
    r = as_user("cora").get("/notifications")
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 3 and body["unread_count"] == 3
    assert [(n["kind"], n["session_id"]) for n in body["items"]] == [
        ("session_suggested", second.pk),
        ("session_canceled_by_supervisor", first.pk),
        ("session_suggested", first.pk),
    ]
    item = body["items"][0]
    assert item["message"] == "Sam Supervisor suggested a coaching session."
    assert item["session_title"] == "Second"
    assert item["read_at"] is None and item["created_at"].endswith("Z")
    assert as_user("sam").get("/notifications").json() == {
        "items": [],
        "count": 0,
        "unread_count": 0,
    }


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_their_own(org, as_user, role):
    suggest(org)
    r = as_user(role).get("/notifications")
    assert r.status_code == 200
    assert r.json()["count"] == (1 if role == "cora" else 0)


def test_mark_one_and_all_read(org, as_user):
    a = suggest(org, title="A")
    suggest(org, title="B")
    cora = as_user("cora")
    n = Notification.objects.get(session=a, recipient=org.cora)
    assert cora.post(f"/notifications/{n.pk}/read").status_code == 204
    n.refresh_from_db()
    assert n.read_at is not None
    unread = cora.get("/notifications?unread=true").json()
    assert unread["count"] == 1 and unread["unread_count"] == 1
    assert [i["session_title"] for i in unread["items"]] == ["B"]
    assert cora.post("/notifications/read-all").status_code == 204
    assert cora.get("/notifications").json()["unread_count"] == 0


def test_mark_read_errors_change_nothing(org, as_user):
    suggest(org)
    n = Notification.objects.get(recipient=org.cora)
    before = snapshot()
    assert_problem(as_user("sam").post(f"/notifications/{n.pk}/read"), 404, "not_found")
    assert_problem(as_user(None).post(f"/notifications/{n.pk}/read"), 401, "not_authenticated")
    assert_problem(as_user(None).post("/notifications/read-all"), 401, "not_authenticated")
    assert_problem(as_user(None).get("/notifications"), 401, "not_authenticated")
    assert_problem(as_user("cora").post("/notifications/987654/read"), 404, "not_found")
    assert_problem(
        as_user("cora").post("/notifications/x/read"), 400, "malformed_request", [("id", "invalid")]
    )
    assert as_user("sam").post("/notifications/read-all").status_code == 204  # Sam has none
    assert snapshot() == before


def test_list_query_count_is_pinned(org, as_user, django_assert_num_queries):
    for i in range(10):
        suggest(org, title=f"S{i}")
    cora = as_user("cora")
    cora.get("/me")
    for limit in (2, 10):
        # token, the caller's permissions, roles and groups, page, both totals in one statement
        with django_assert_num_queries(4):
            r = cora.get(f"/notifications?limit={limit}")
        assert len(r.json()["items"]) == limit


@pytest.mark.parametrize(
    ("query", "queries", "items"),
    [
        ("limit=4", 4, 4),  # a full page: the totals counted, both in one statement
        ("limit=4&offset=4", 4, 4),
        ("limit=4&offset=8", 4, 2),  # the last page tells the total; unread counted
        ("limit=4&offset=20", 4, 0),  # past the end: counted
        ("limit=20", 4, 10),  # the whole list on one page
        ("unread=true&limit=4", 4, 4),
        ("unread=true&limit=20", 3, 7),  # the page tells both totals: nothing counted
        ("unread=true&limit=4&offset=20", 4, 0),
    ],
)
def test_totals_true_on_every_page_in_at_most_four_queries(
    org, as_user, django_assert_num_queries, query, queries, items
):
    made = [suggest(org, title=f"S{i}") for i in range(10)]
    for s in made[:3]:
        n = Notification.objects.get(session=s, recipient=org.cora)
        n.read_at = n.created_at
        n.save(update_fields=["read_at"])
    suggest(org, title="Carl's", coach=PartyRef.of(org.carl))  # another recipient's rows
    cora = as_user("cora")
    cora.get("/me")
    with django_assert_num_queries(queries):
        body = cora.get(f"/notifications?{query}").json()
    assert len(body["items"]) == items
    assert body["unread_count"] == 7
    assert body["count"] == (7 if "unread" in query else 10)
