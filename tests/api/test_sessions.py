"""Coaching sessions over the API: every endpoint's success and each of its error codes, as every
demo role, and nothing changed by a refusal."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from coaching import services
from coaching.models import CoachingSession, SessionEvent, State
from directory.parties import PartyRef
from notifications.models import Notification
from tests.api.conftest import ROLES, assert_problem, future, snapshot, suggest, suggest_body

AFTER_SCHEDULING = {"reschedule": False, "cancel": False, "complete": False, "acknowledge": False}
ALL_FALSE = {
    "edit": False,
    "delete": False,
    "schedule": False,
    "decline": False,
    **AFTER_SCHEDULING,
}


def acts(**allowed: bool) -> dict[str, bool]:
    return {**ALL_FALSE, **allowed}


def notified(session_id: int) -> list[tuple[str, str]]:
    return sorted(
        Notification.objects.filter(session_id=session_id).values_list(
            "recipient__username", "kind"
        )
    )


# --- suggest -----------------------------------------------------------------------------------
def test_supervisor_suggests(org, as_user):
    body = suggest_body(
        org,
        trainees=[{"type": "user", "id": org.alice.pk}, {"type": "group", "id": org.tier1.pk}],
        reference_case_ids=[org.case1001.pk],
        origin="case_analytics",
    )
    r = as_user("sam").post("/coaching-sessions", body)
    assert r.status_code == 201, r.content
    s = r.json()
    session = CoachingSession.objects.get(pk=s["id"])
    assert s["title"] == "Handling refunds with empathy"
    assert s["state"] == "suggested" and s["version"] == 1
    assert s["coach"] == {"type": "user", "id": org.cora.pk, "name": "Cora Coach"}
    assert s["trainees"] == [
        {"type": "user", "id": org.alice.pk, "name": "Alice Agent"},
        {"type": "group", "id": org.tier1.pk, "name": "Tier 1"},
    ]
    assert s["coaching_area"] == {"id": org.areas["Empathy"].pk, "name": "Empathy"}
    assert s["reference_cases"] == [{"id": org.case1001.pk, "number": "CASE-1001"}]
    assert s["suggested_by"]["username"] == "sam.supervisor"
    assert s["suggested_by_name"] == "Sam Supervisor"
    assert s["origin"] == "case_analytics"
    assert s["schedule"] is None and s["cancellation"] is None
    assert s["actions"] == acts(edit=True, delete=True)
    # Default expiry: three calendar months ahead, answered in UTC.
    assert s["expires_at"].endswith("Z")
    assert 88 <= (session.expires_at - timezone.now()).days <= 92
    assert session.suggested_by == org.sam and session.origin == "case_analytics"
    assert notified(session.pk) == [("cora.coach", "session_suggested")]
    assert SessionEvent.objects.filter(session=session, action="suggested").count() == 1


def test_suggest_with_offset_answers_in_utc(org, as_user):
    r = as_user("sam").post(
        "/coaching-sessions", suggest_body(org, expires_at="2099-01-01T12:00:00+02:00")
    )
    # Too far ahead, but the point here is the rule runs on the aware time:
    assert_problem(r, 422, "validation_failed", [("expires_at", "too_far")])
    in_a_week = (timezone.now() + timedelta(days=7)).replace(microsecond=0)
    local = in_a_week.astimezone(timezone.get_fixed_timezone(120)).isoformat()
    r = as_user("sam").post("/coaching-sessions", suggest_body(org, expires_at=local))
    assert r.status_code == 201
    assert r.json()["expires_at"] == in_a_week.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("role", ["cora", "carl", "alice", "bob", "dan", "audrey", "nora"])
def test_suggest_without_create_permission_is_403(org, as_user, role):
    before = snapshot()
    assert_problem(
        as_user(role).post("/coaching-sessions", suggest_body(org)), 403, "permission_denied"
    )
    assert snapshot() == before


def test_suggest_anonymous_is_401(org, as_user):
    before = snapshot()
    assert_problem(
        as_user(None).post("/coaching-sessions", suggest_body(org)), 401, "not_authenticated"
    )
    assert snapshot() == before


@pytest.mark.parametrize("role", ["sue", "admin"])
def test_other_authors_may_suggest(org, as_user, role):
    r = as_user(role).post("/coaching-sessions", suggest_body(org))
    assert r.status_code == 201
    assert r.json()["suggested_by"]["id"] == getattr(org, role).pk


def _past() -> str:
    return (timezone.now() - timedelta(hours=1)).isoformat()


RULE_CASES = [
    # (body changes, expected (field, code) pairs)
    (
        lambda o: {"coach": {"type": "user", "id": o.sam.pk}},
        [("coach", "supervisor_cannot_be_coach")],
    ),
    (
        lambda o: {"trainees": [{"type": "user", "id": o.sam.pk}]},
        [("trainees", "supervisor_cannot_be_trainee")],
    ),
    (
        lambda o: {"trainees": [{"type": "user", "id": o.cora.pk}]},
        [("trainees", "coach_is_also_trainee")],
    ),
    (
        lambda o: {"coach": {"type": "group", "id": o.sam_only.pk}},
        [("coach", "coach_group_only_supervisor")],
    ),
    (
        lambda o: {"trainees": [{"type": "group", "id": o.sam_only.pk}]},
        [("trainees", "trainee_group_only_supervisor")],
    ),
    (
        lambda o: {"coach": {"type": "group", "id": o.empty_group.pk}},
        [("coach", "empty_group")],
    ),
    (lambda o: {"title": "   "}, [("title", "required")]),
    (lambda o: {"title": "x" * 201}, [("title", "too_long")]),
    (lambda o: {"trainees": []}, [("trainees", "required")]),
    (
        lambda o: {"trainees": [{"type": "user", "id": o.alice.pk}] * 2},
        [("trainees", "duplicate")],
    ),
    (
        lambda o: {"coach": {"type": "user", "id": 987654}},
        [("coach", "unknown_id")],
    ),
    (lambda o: {"coaching_area_id": 987654}, [("coaching_area_id", "unknown_id")]),
    (lambda o: {"reference_case_ids": [987654]}, [("reference_case_ids", "unknown_id")]),
    (lambda o: {"expires_at": _past()}, [("expires_at", "in_past")]),
    (
        lambda o: {"expires_at": (timezone.now() + timedelta(days=400)).isoformat()},
        [("expires_at", "too_far")],
    ),
    (lambda o: {"expires_at": "2099-01-01T12:00:00"}, [("expires_at", "invalid")]),
    (lambda o: {"origin": "somewhere"}, [("origin", "invalid")]),
    (lambda o: {"coach": {"type": "robot", "id": 1}}, [("coach.type", "invalid")]),
    (lambda o: {"coaching_area_id": 0}, [("coaching_area_id", "out_of_range")]),
    (lambda o: {"title": "a\x00b"}, [("title", "invalid")]),
]


@pytest.mark.parametrize("change,expected", RULE_CASES)
def test_suggest_rule_violations_are_422(org, as_user, change, expected):
    before = snapshot()
    body = suggest_body(org, **change(org))
    r = as_user("sam").post("/coaching-sessions", body)
    assert_problem(r, 422, "validation_failed", expected)
    assert snapshot() == before


def test_suggest_inactive_trainee_is_422(org, as_user):
    org.bob.is_active = False
    org.bob.save()
    before = snapshot()
    r = as_user("sam").post(
        "/coaching-sessions", suggest_body(org, trainees=[{"type": "user", "id": org.bob.pk}])
    )
    body = assert_problem(r, 422, "validation_failed", [("trainees", "inactive")])
    assert "Bob Agent" in body["errors"][0]["message"]
    assert snapshot() == before


def test_suggest_inactive_area_is_422(org, as_user):
    area = org.areas["Compliance"]
    area.is_active = False
    area.save()
    r = as_user("sam").post("/coaching-sessions", suggest_body(org, coaching_area_id=area.pk))
    assert_problem(r, 422, "validation_failed", [("coaching_area_id", "inactive")])


def test_suggest_lists_every_rule_violation_at_once(org, as_user):
    body = suggest_body(
        org,
        title="",
        coach={"type": "user", "id": org.sam.pk},
        trainees=[{"type": "user", "id": org.sam.pk}],
    )
    r = as_user("sam").post("/coaching-sessions", body)
    assert_problem(
        r,
        422,
        "validation_failed",
        [
            ("title", "required"),
            ("coach", "supervisor_cannot_be_coach"),
            ("trainees", "supervisor_cannot_be_trainee"),
            ("trainees", "coach_is_also_trainee"),
        ],
    )


def test_suggest_missing_fields_are_422_required(org, as_user):
    before = snapshot()
    r = as_user("sam").post("/coaching-sessions", {"title": "x"})
    assert_problem(
        r,
        422,
        "validation_failed",
        [("coach", "required"), ("trainees", "required"), ("coaching_area_id", "required")],
    )
    assert snapshot() == before


@pytest.mark.parametrize(
    "raw,fields",
    [
        ("{not json", []),
        ("", [("body", "invalid")]),
        ('"a string"', None),
        (
            '{"title": 5, "coach": {"type": "user", "id": "7"}, "trainees": [], "coaching_area_id": 1}',
            [("title", "invalid"), ("coach.id", "invalid")],
        ),
        (
            '{"title": "t", "coach": null, "trainees": [], "coaching_area_id": 1}',
            [("coach", "invalid")],
        ),
        (
            '{"title": "t", "coach": {"type": "user", "id": 1}, "trainees": {}, "coaching_area_id": 1}',
            [("trainees", "invalid")],
        ),
        (
            '{"title": "t", "coach": {"type": "user", "id": 1}, "trainees": [], "coaching_area_id": 1, '
            '"expires_at": 1700000000}',
            [("expires_at", "invalid")],
        ),
    ],
)
def test_suggest_malformed_is_400(org, as_user, raw, fields):
    before = snapshot()
    r = as_user("sam").post("/coaching-sessions", raw=raw)
    assert_problem(r, 400, "malformed_request", fields)
    assert snapshot() == before


# --- read one ----------------------------------------------------------------------------------
VIEW_ONE = {
    # role: actions on Sam's suggestion (coach Cora, trainee Alice), or None for 404
    "sam": acts(edit=True, delete=True),
    "sue": ALL_FALSE,
    "cora": acts(schedule=True, decline=True),
    "carl": ALL_FALSE,
    "alice": acts(decline=True),
    "bob": None,
    "dan": None,
    "audrey": ALL_FALSE,
    "nora": None,
    "admin": acts(edit=True, delete=True),
}


@pytest.mark.parametrize("role", ROLES)
def test_get_session_as_each_role(org, as_user, role):
    session = suggest(org)
    r = as_user(role).get(f"/coaching-sessions/{session.pk}")
    if VIEW_ONE[role] is None:
        assert_problem(r, 404, "not_found")
        return
    assert r.status_code == 200
    assert r["ETag"] == '"1"'
    assert r.json()["id"] == session.pk
    assert r.json()["actions"] == VIEW_ONE[role]


def test_get_session_errors(org, as_user):
    assert_problem(as_user(None).get("/coaching-sessions/1"), 401, "not_authenticated")
    assert_problem(as_user("sam").get("/coaching-sessions/987654"), 404, "not_found")
    assert_problem(
        as_user("sam").get("/coaching-sessions/abc"), 400, "malformed_request", [("id", "invalid")]
    )
    assert_problem(
        as_user("sam").get("/coaching-sessions/0"),
        422,
        "validation_failed",
        [("id", "out_of_range")],
    )
    assert_problem(
        as_user("sam").get(f"/coaching-sessions/{2**70}"),
        422,
        "validation_failed",
        [("id", "out_of_range")],
    )


def test_expired_suggestion_reads_canceled_expired(org, as_user):
    session = suggest(org, expires_at=timezone.now() + timedelta(days=2))
    with time_machine.travel(timezone.now() + timedelta(days=3)):
        r = as_user("sam").get(f"/coaching-sessions/{session.pk}")
        s = r.json()
        assert s["state"] == "canceled"
        assert s["cancellation"]["reason"] == "expired"
        assert s["cancellation"]["by"] is None
        assert s["actions"] == ALL_FALSE
        canceled = as_user("sam").get("/coaching-sessions?state=canceled").json()
        assert [i["id"] for i in canceled["items"]] == [session.pk]
        assert as_user("sam").get("/coaching-sessions?state=suggested").json()["count"] == 0


def test_history(org, as_user):
    session = suggest(org)
    services.session_edit(
        actor=org.sam, session_id=session.pk, fields=services.SessionFields(title="New title")
    )
    r = as_user("cora").get(f"/coaching-sessions/{session.pk}/history")
    assert r.status_code == 200
    items = r.json()["items"]
    assert [i["action"] for i in items] == ["suggested", "edited"]
    assert items[0]["actor"]["username"] == "sam.supervisor"
    assert items[1]["changes"] == {"title": ["Empathy on refunds", "New title"]}
    assert_problem(as_user("dan").get(f"/coaching-sessions/{session.pk}/history"), 404, "not_found")
    assert_problem(
        as_user("nora").get(f"/coaching-sessions/{session.pk}/history"), 404, "not_found"
    )
    assert_problem(
        as_user(None).get(f"/coaching-sessions/{session.pk}/history"), 401, "not_authenticated"
    )


# --- edit --------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["sam", "admin"])
def test_author_or_admin_edits(org, as_user, role):
    session = suggest(org)
    r = as_user(role).patch(
        f"/coaching-sessions/{session.pk}",
        {"title": "Better title", "coach": {"type": "group", "id": org.coaching_team.pk}},
        headers={"If-Match": '"1"'},
    )
    assert r.status_code == 200, r.content
    s = r.json()
    assert s["title"] == "Better title" and s["version"] == 2
    assert s["coach"] == {"type": "group", "id": org.coaching_team.pk, "name": "Coaching Team"}
    assert s["trainees"] == [{"type": "user", "id": org.alice.pk, "name": "Alice Agent"}]
    assert r["ETag"] == '"2"'
    session.refresh_from_db()
    assert session.title == "Better title" and session.coach_group == org.coaching_team
    # Carl learns of it as the new coach group's member; Cora was coach already.
    assert ("carl.coach", "session_suggested") in notified(session.pk)


def test_edit_with_body_version(org, as_user):
    session = suggest(org)
    r = as_user("sam").patch(f"/coaching-sessions/{session.pk}", {"title": "T2", "version": 1})
    assert r.status_code == 200 and r.json()["version"] == 2
    before = snapshot()
    r = as_user("sam").patch(f"/coaching-sessions/{session.pk}", {"title": "T3", "version": 1})
    assert_problem(r, 412, "version_conflict")
    assert snapshot() == before


@pytest.mark.parametrize("if_match", ['"2"', '"x"', 'W/"7"'])
def test_edit_if_match_mismatch_is_412(org, as_user, if_match):
    session = suggest(org)
    before = snapshot()
    r = as_user("sam").patch(
        f"/coaching-sessions/{session.pk}", {"title": "Lost update"}, headers={"If-Match": if_match}
    )
    assert_problem(r, 412, "version_conflict")
    assert snapshot() == before


def test_edit_if_match_star_and_header_body_disagreement(org, as_user):
    session = suggest(org)
    before = snapshot()
    r = as_user("sam").patch(
        f"/coaching-sessions/{session.pk}",
        {"title": "X", "version": 1},
        headers={"If-Match": '"5"'},
    )
    assert_problem(r, 412, "version_conflict")
    assert snapshot() == before
    r = as_user("sam").patch(
        f"/coaching-sessions/{session.pk}", {"title": "X"}, headers={"If-Match": "*"}
    )
    assert r.status_code == 200 and r.json()["version"] == 2


@pytest.mark.parametrize("role", ["sue", "cora", "carl", "alice", "audrey"])
def test_edit_by_others_who_see_it_is_403(org, as_user, role):
    session = suggest(org)
    before = snapshot()
    r = as_user(role).patch(f"/coaching-sessions/{session.pk}", {"title": "Hijack"})
    assert_problem(r, 403, "permission_denied")
    assert snapshot() == before


@pytest.mark.parametrize("role", ["bob", "dan", "nora"])
def test_edit_by_those_who_cannot_see_it_is_404(org, as_user, role):
    session = suggest(org)
    before = snapshot()
    r = as_user(role).patch(f"/coaching-sessions/{session.pk}", {"title": "Hijack"})
    assert_problem(r, 404, "not_found")
    assert snapshot() == before


def test_edit_errors(org, as_user):
    session = suggest(org)
    before = snapshot()
    path = f"/coaching-sessions/{session.pk}"
    assert_problem(as_user(None).patch(path, {"title": "x"}), 401, "not_authenticated")
    assert_problem(
        as_user("sam").patch(path, {"coach": {"type": "user", "id": org.sam.pk}}),
        422,
        "validation_failed",
        [("coach", "supervisor_cannot_be_coach")],
    )
    assert_problem(
        as_user("sam").patch(path, {"trainees": []}),
        422,
        "validation_failed",
        [("trainees", "required")],
    )
    assert_problem(as_user("sam").patch(path, raw="{"), 400, "malformed_request")
    assert_problem(
        as_user("sam").patch("/coaching-sessions/987654", {"title": "x"}), 404, "not_found"
    )
    assert snapshot() == before


def test_edit_after_cancel_is_409(org, as_user):
    session = suggest(org)
    services.session_delete(actor=org.sam, session_id=session.pk)
    before = snapshot()
    r = as_user("sam").patch(f"/coaching-sessions/{session.pk}", {"title": "Too late"})
    assert_problem(r, 409, "invalid_state")
    assert snapshot() == before


def test_edit_expired_is_409(org, as_user):
    session = suggest(org, expires_at=timezone.now() + timedelta(days=1))
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        before = snapshot()
        r = as_user("sam").patch(f"/coaching-sessions/{session.pk}", {"title": "Too late"})
        assert_problem(r, 409, "invalid_state")
        assert snapshot() == before


# --- delete ------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["sam", "admin"])
def test_author_or_admin_deletes(org, as_user, role):
    session = suggest(org)
    r = as_user(role).delete(f"/coaching-sessions/{session.pk}")
    assert r.status_code == 204 and r.content == b""
    session.refresh_from_db()
    assert (session.state, session.cancel_reason) == (State.CANCELED, "deleted_by_supervisor")
    assert session.version == 2
    assert ("cora.coach", "session_canceled_by_supervisor") in notified(session.pk)
    s = as_user("sam").get(f"/coaching-sessions/{session.pk}").json()
    assert s["state"] == "canceled"
    assert s["cancellation"]["reason"] == "deleted_by_supervisor"
    assert s["cancellation"]["by"]["id"] == getattr(org, role).pk


@pytest.mark.parametrize(
    "role,status,code",
    [
        ("sue", 403, "permission_denied"),
        ("cora", 403, "permission_denied"),
        ("carl", 403, "permission_denied"),
        ("alice", 403, "permission_denied"),
        ("audrey", 403, "permission_denied"),
        ("bob", 404, "not_found"),
        ("dan", 404, "not_found"),
        ("nora", 404, "not_found"),
        (None, 401, "not_authenticated"),
    ],
)
def test_delete_refused(org, as_user, role, status, code):
    session = suggest(org)
    before = snapshot()
    assert_problem(as_user(role).delete(f"/coaching-sessions/{session.pk}"), status, code)
    assert snapshot() == before


def test_delete_twice_is_409(org, as_user):
    session = suggest(org)
    assert as_user("sam").delete(f"/coaching-sessions/{session.pk}").status_code == 204
    before = snapshot()
    assert_problem(as_user("sam").delete(f"/coaching-sessions/{session.pk}"), 409, "invalid_state")
    assert snapshot() == before
    assert_problem(as_user("sam").delete("/coaching-sessions/987654"), 404, "not_found")


# --- schedule ----------------------------------------------------------------------------------
def test_coach_schedules(org, as_user):
    session = suggest(org)
    starts = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    r = as_user("cora").post(
        f"/coaching-sessions/{session.pk}/schedule",
        {
            "starts_at": starts.isoformat(),
            "duration_minutes": 45,
            "location": "Room 4",
            "title": "Refund empathy, scheduled",
        },
    )
    assert r.status_code == 200, r.content
    s = r.json()
    assert s["state"] == "scheduled" and s["version"] == 2
    assert s["title"] == "Refund empathy, scheduled"
    assert s["schedule"] == {
        "starts_at": starts.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration_minutes": 45,
        "location": "Room 4",
        "scheduled_by": {
            "id": org.cora.pk,
            "username": "cora.coach",
            "display_name": "Cora Coach",
            "is_active": True,
        },
    }
    assert s["actions"] == acts(reschedule=True, cancel=True)  # complete: once it has started
    assert ("sam.supervisor", "session_scheduled") in notified(session.pk)


def test_coach_group_member_schedules(org, as_user):
    session = suggest(org, coach=PartyRef.of(org.coaching_team))
    r = as_user("carl").post(
        f"/coaching-sessions/{session.pk}/schedule", {"starts_at": future(), "duration_minutes": 30}
    )
    assert r.status_code == 200 and r.json()["state"] == "scheduled"
    before = snapshot()
    r = as_user("cora").post(
        f"/coaching-sessions/{session.pk}/schedule", {"starts_at": future(), "duration_minutes": 30}
    )
    assert_problem(r, 409, "invalid_state")
    assert snapshot() == before


@pytest.mark.parametrize(
    "role,status,code",
    [
        ("sam", 403, "permission_denied"),
        ("sue", 403, "permission_denied"),
        ("carl", 403, "permission_denied"),
        ("alice", 403, "permission_denied"),
        ("audrey", 403, "permission_denied"),
        ("admin", 403, "permission_denied"),
        ("bob", 404, "not_found"),
        ("dan", 404, "not_found"),
        ("nora", 404, "not_found"),
        (None, 401, "not_authenticated"),
    ],
)
def test_schedule_refused(org, as_user, role, status, code):
    session = suggest(org)
    before = snapshot()
    r = as_user(role).post(
        f"/coaching-sessions/{session.pk}/schedule", {"starts_at": future(), "duration_minutes": 30}
    )
    assert_problem(r, status, code)
    assert snapshot() == before


@pytest.mark.parametrize(
    "body,expected",
    [
        ({"starts_at": future(), "duration_minutes": 4}, [("duration_minutes", "out_of_range")]),
        ({"starts_at": future(), "duration_minutes": 361}, [("duration_minutes", "out_of_range")]),
        (
            {"starts_at": "2000-01-01T10:00:00Z", "duration_minutes": 30},
            [("starts_at", "in_past")],
        ),
        ({"duration_minutes": 30}, [("starts_at", "required")]),
        ({"starts_at": future()}, [("duration_minutes", "required")]),
        (
            {"starts_at": future(), "duration_minutes": 30, "location": "x" * 201},
            [("location", "too_long")],
        ),
        (
            {"starts_at": future(), "duration_minutes": 30, "coach": {"type": "user", "id": -1}},
            [("coach.id", "out_of_range")],
        ),
    ],
)
def test_schedule_validation_is_422(org, as_user, body, expected):
    session = suggest(org)
    before = snapshot()
    r = as_user("cora").post(f"/coaching-sessions/{session.pk}/schedule", body)
    assert_problem(r, 422, "validation_failed", expected)
    assert snapshot() == before


def test_schedule_override_rules_use_the_author(org, as_user):
    session = suggest(org)
    before = snapshot()
    r = as_user("cora").post(
        f"/coaching-sessions/{session.pk}/schedule",
        {
            "starts_at": future(),
            "duration_minutes": 30,
            "coach": {"type": "user", "id": org.sam.pk},
            "trainees": [{"type": "group", "id": org.sam_only.pk}],
        },
    )
    assert_problem(
        r,
        422,
        "validation_failed",
        [("coach", "supervisor_cannot_be_coach"), ("trainees", "trainee_group_only_supervisor")],
    )
    assert snapshot() == before


def test_schedule_malformed_is_400(org, as_user):
    session = suggest(org)
    before = snapshot()
    r = as_user("cora").post(
        f"/coaching-sessions/{session.pk}/schedule", {"starts_at": "soon", "duration_minutes": "30"}
    )
    assert_problem(
        r, 400, "malformed_request", [("starts_at", "invalid"), ("duration_minutes", "invalid")]
    )
    assert snapshot() == before


# --- decline -----------------------------------------------------------------------------------
def test_coach_declines(org, as_user):
    session = suggest(org)
    r = as_user("cora").post(f"/coaching-sessions/{session.pk}/decline", {"reason": "Overbooked"})
    assert r.status_code == 200
    s = r.json()
    assert s["state"] == "canceled"
    assert s["cancellation"]["reason"] == "declined_by_coach"
    assert s["cancellation"]["note"] == "Overbooked"
    assert s["cancellation"]["by"]["username"] == "cora.coach"
    assert notified(session.pk) == [
        ("cora.coach", "session_suggested"),
        ("sam.supervisor", "session_canceled_by_coach"),
    ]


def test_trainee_declines_and_still_gets_the_answer(org, as_user):
    session = suggest(org)
    r = as_user("alice").post(f"/coaching-sessions/{session.pk}/decline", {"reason": "On leave"})
    assert r.status_code == 200
    assert r.json()["cancellation"]["reason"] == "declined_by_trainee"
    assert sorted(notified(session.pk)) == [
        ("cora.coach", "session_canceled_by_trainee"),
        ("cora.coach", "session_suggested"),
        ("sam.supervisor", "session_canceled_by_trainee"),
    ]
    # An agent never sees a session canceled while still suggested.
    assert_problem(as_user("alice").get(f"/coaching-sessions/{session.pk}"), 404, "not_found")


def test_trainee_group_member_declines(org, as_user):
    session = suggest(org, trainees=[PartyRef.of(org.tier1)])
    r = as_user("bob").post(f"/coaching-sessions/{session.pk}/decline", {"reason": "No time"})
    assert r.status_code == 200
    assert r.json()["cancellation"]["reason"] == "declined_by_trainee"


@pytest.mark.parametrize(
    "role,status,code",
    [
        ("sam", 403, "permission_denied"),
        ("sue", 403, "permission_denied"),
        ("carl", 403, "permission_denied"),
        ("audrey", 403, "permission_denied"),
        ("admin", 403, "permission_denied"),
        ("bob", 404, "not_found"),
        ("dan", 404, "not_found"),
        ("nora", 404, "not_found"),
        (None, 401, "not_authenticated"),
    ],
)
def test_decline_refused(org, as_user, role, status, code):
    session = suggest(org)
    before = snapshot()
    r = as_user(role).post(f"/coaching-sessions/{session.pk}/decline", {"reason": "No"})
    assert_problem(r, status, code)
    assert snapshot() == before


@pytest.mark.parametrize(
    "body,status,expected",
    [
        ({"reason": "  "}, 422, [("reason", "required")]),
        ({"reason": "x" * 1001}, 422, [("reason", "too_long")]),
        ({}, 422, [("reason", "required")]),
        ({"reason": 5}, 400, [("reason", "invalid")]),
    ],
)
def test_decline_reason_checked(org, as_user, body, status, expected):
    session = suggest(org)
    before = snapshot()
    r = as_user("cora").post(f"/coaching-sessions/{session.pk}/decline", body)
    assert_problem(
        r, status, "validation_failed" if status == 422 else "malformed_request", expected
    )
    assert snapshot() == before


def test_decline_after_schedule_is_409(org, as_user):
    session = suggest(org)
    services.session_schedule(
        actor=org.cora,
        session_id=session.pk,
        starts_at=timezone.now() + timedelta(days=1),
        duration_minutes=30,
    )
    before = snapshot()
    r = as_user("alice").post(f"/coaching-sessions/{session.pk}/decline", {"reason": "No"})
    assert_problem(r, 409, "invalid_state")
    assert snapshot() == before


# --- list --------------------------------------------------------------------------------------
@pytest.fixture
def sessions(org):
    """A: Sam -> Cora, trainee Alice, case 1001. B: Sue -> Coaching Team, trainee Tier 1.
    C: Sam -> Carl, trainee Dan, case 1002, then deleted. D: Sam -> Cora, trainee Bob, scheduled."""
    a = suggest(org, title="A", reference_case_ids=[org.case1001.pk])
    b = suggest(
        org,
        actor=org.sue,
        title="B",
        coach=PartyRef.of(org.coaching_team),
        trainees=[PartyRef.of(org.tier1)],
    )
    c = suggest(
        org,
        title="C",
        coach=PartyRef.of(org.carl),
        trainees=[PartyRef.of(org.dan)],
        reference_case_ids=[org.case1002.pk],
    )
    services.session_delete(actor=org.sam, session_id=c.pk)
    d = suggest(org, title="D", trainees=[PartyRef.of(org.bob)])
    services.session_schedule(
        actor=org.cora,
        session_id=d.pk,
        starts_at=timezone.now() + timedelta(days=1),
        duration_minutes=30,
    )
    return {"A": a, "B": b, "C": c, "D": d}


def titles(r) -> list[str]:
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["count"] == len(body["items"])
    return [i["title"] for i in body["items"]]


LIST_ALL = {
    "sam": ["D", "C", "B", "A"],
    "sue": ["D", "C", "B", "A"],
    "cora": ["D", "C", "B", "A"],
    "carl": ["D", "C", "B", "A"],
    "audrey": ["D", "C", "B", "A"],
    "admin": ["D", "C", "B", "A"],
    "alice": ["B", "A"],
    "bob": ["D", "B", "A"],  # A references CASE-1001, which Bob took part in
    "dan": [],  # C was canceled while suggested
}


@pytest.mark.parametrize("role", list(LIST_ALL))
def test_list_shows_what_each_role_may_see_newest_first(org, as_user, sessions, role):
    assert titles(as_user(role).get("/coaching-sessions")) == LIST_ALL[role]


def test_list_without_view_permission_is_403(org, as_user, sessions):
    assert_problem(as_user("nora").get("/coaching-sessions"), 403, "permission_denied")
    assert_problem(as_user(None).get("/coaching-sessions"), 401, "not_authenticated")


def test_list_filters(org, as_user, sessions):
    sam, cora, carl = as_user("sam"), as_user("cora"), as_user("carl")
    assert titles(sam.get("/coaching-sessions?suggested_by=me")) == ["D", "C", "A"]
    assert titles(cora.get("/coaching-sessions?coach=me")) == ["D", "B", "A"]
    assert titles(carl.get("/coaching-sessions?coach=me")) == ["C", "B"]
    assert titles(sam.get(f"/coaching-sessions?trainee={org.alice.pk}")) == ["B", "A"]  # Tier 1
    assert titles(sam.get(f"/coaching-sessions?trainee={org.bob.pk}")) == ["D", "B"]
    assert titles(sam.get(f"/coaching-sessions?case={org.case1001.pk}")) == ["A"]
    assert titles(sam.get("/coaching-sessions?state=suggested")) == ["B", "A"]
    assert titles(sam.get("/coaching-sessions?state=scheduled")) == ["D"]
    assert titles(sam.get("/coaching-sessions?state=canceled")) == ["C"]
    assert titles(cora.get("/coaching-sessions?coach=me&state=suggested")) == ["B", "A"]
    assert titles(
        sam.get(f"/coaching-sessions?suggested_by=me&trainee={org.bob.pk}&state=scheduled")
    ) == ["D"]
    assert titles(as_user("alice").get(f"/coaching-sessions?case={org.case1001.pk}")) == ["A"]
    assert titles(sam.get("/coaching-sessions?trainee=987654")) == []


def test_list_filter_errors(org, as_user, sessions):
    sam = as_user("sam")
    assert_problem(
        sam.get("/coaching-sessions?state=done"), 422, "validation_failed", [("state", "invalid")]
    )
    assert_problem(
        sam.get("/coaching-sessions?suggested_by=12"),
        422,
        "validation_failed",
        [("suggested_by", "invalid")],
    )
    assert_problem(
        sam.get("/coaching-sessions?trainee=bob"),
        400,
        "malformed_request",
        [("trainee", "invalid")],
    )
    assert_problem(
        sam.get("/coaching-sessions?limit=101"),
        422,
        "validation_failed",
        [("limit", "out_of_range")],
    )
    assert_problem(
        sam.get("/coaching-sessions?limit=0"), 422, "validation_failed", [("limit", "out_of_range")]
    )
    assert_problem(
        sam.get("/coaching-sessions?offset=-1"),
        422,
        "validation_failed",
        [("offset", "out_of_range")],
    )


def test_list_paging(org, as_user):
    for i in range(25):
        suggest(org, title=f"S{i:02}")
    sam = as_user("sam")
    first = sam.get("/coaching-sessions").json()
    assert first["count"] == 25 and len(first["items"]) == 20
    assert [i["title"] for i in first["items"]][:2] == ["S24", "S23"]
    rest = sam.get("/coaching-sessions?offset=20&limit=10").json()
    assert rest["count"] == 25
    assert [i["title"] for i in rest["items"]] == ["S04", "S03", "S02", "S01", "S00"]
    assert len(sam.get("/coaching-sessions?limit=100").json()["items"]) == 25
    # Past the end no row carries the count: it is counted on its own.
    past = sam.get("/coaching-sessions?offset=30&limit=10").json()
    assert past == {"items": [], "count": 25}
    # A full page's count rides on its rows; a filter narrows both alike.
    mine = sam.get("/coaching-sessions?suggested_by=me&limit=5&offset=5").json()
    assert mine["count"] == 25 and [i["title"] for i in mine["items"]][0] == "S19"


# The token with its user (1), the caller's permissions, roles and user groups (1), the page of
# sessions with their count (1), everything the page shows in one UNION ALL (1); the invitation
# lists (1) when the page holds a session that was given a time. The same for 2 rows or 16, for
# every caller, and whoever scheduled, completed or acknowledged them.
@pytest.mark.parametrize("timed", [False, True])
@pytest.mark.parametrize("role", ["sam", "alice", "admin"])
def test_list_query_count_is_pinned(org, as_user, role, timed, django_assert_num_queries):
    sessions = [
        suggest(
            org,
            title=f"S{i}",
            coach=PartyRef.of(org.coaching_team) if i % 2 else PartyRef.of(org.cora),
            trainees=[PartyRef.of(org.alice), PartyRef.of(org.tier1)],
            reference_case_ids=[org.case1001.pk, org.case1002.pk],
        )
        for i in range(16)
    ]
    if timed:
        start = timezone.now() + timedelta(days=1)
        for i, s in enumerate(sessions):
            at = start + timedelta(hours=i)
            services.session_schedule(
                actor=org.cora, session_id=s.pk, starts_at=at, duration_minutes=30
            )
            if i % 2:
                later = at + timedelta(minutes=40)
                services.session_complete(actor=org.cora, session_id=s.pk, notes="n", now=later)
                services.session_acknowledge(actor=org.alice, session_id=s.pk, now=later)
    client = as_user(role)
    client.get("/me")  # token bookkeeping (last_used_at) out of the way
    for limit in (2, 16):
        with django_assert_num_queries(5 if timed else 4):
            r = client.get(f"/coaching-sessions?limit={limit}")
        assert r.status_code == 200 and len(r.json()["items"]) == limit
        if timed:
            assert {i["state"] for i in r.json()["items"]} == {"scheduled", "completed"}


# --- prefill -----------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["sam", "sue", "admin"])
def test_prefill(org, as_user, role):
    client = as_user(role)
    home = client.get("/coaching-sessions/prefill").json()
    assert (
        home["origin"] == "homepage" and home["trainees"] == [] and home["reference_case_ids"] == []
    )
    agent = client.get(f"/coaching-sessions/prefill?agent={org.alice.pk}").json()
    assert agent["origin"] == "agent_analytics"
    assert agent["trainees"] == [{"type": "user", "id": org.alice.pk, "name": "Alice Agent"}]
    case = client.get(f"/coaching-sessions/prefill?case={org.case1001.pk}").json()
    assert case["origin"] == "case_analytics"
    assert [t["name"] for t in case["trainees"]] == ["Alice Agent", "Bob Agent", "Audrey Auditor"]
    assert case["reference_case_ids"] == [org.case1001.pk]
    assert case["expires_at"].endswith("Z")


@pytest.mark.parametrize(
    "role,status,code",
    [
        ("cora", 403, "permission_denied"),
        ("carl", 403, "permission_denied"),
        ("alice", 403, "permission_denied"),
        ("bob", 403, "permission_denied"),
        ("dan", 403, "permission_denied"),
        ("audrey", 403, "permission_denied"),
        ("nora", 403, "permission_denied"),
        (None, 401, "not_authenticated"),
    ],
)
def test_prefill_refused(org, as_user, role, status, code):
    assert_problem(
        as_user(role).get(f"/coaching-sessions/prefill?agent={org.alice.pk}"), status, code
    )


def test_prefill_errors(org, as_user):
    sam = as_user("sam")
    assert_problem(sam.get("/coaching-sessions/prefill?agent=987654"), 404, "not_found")
    assert_problem(sam.get("/coaching-sessions/prefill?case=987654"), 404, "not_found")
    assert_problem(
        sam.get(f"/coaching-sessions/prefill?agent={org.alice.pk}&case={org.case1001.pk}"),
        422,
        "validation_failed",
        [("case", "invalid")],
    )
    assert_problem(
        sam.get("/coaching-sessions/prefill?agent=x"),
        400,
        "malformed_request",
        [("agent", "invalid")],
    )


def test_prefill_then_suggest_round_trip(org, as_user):
    sam = as_user("sam")
    pre = sam.get(f"/coaching-sessions/prefill?case={org.case1001.pk}").json()
    body = {
        "title": "From the case",
        "coach": {"type": "user", "id": org.cora.pk},
        "trainees": [{"type": t["type"], "id": t["id"]} for t in pre["trainees"]],
        "coaching_area_id": org.areas["Compliance"].pk,
        "expires_at": pre["expires_at"],
        "reference_case_ids": pre["reference_case_ids"],
        "origin": pre["origin"],
    }
    r = sam.post("/coaching-sessions", body)
    assert r.status_code == 201, r.content
    assert r.json()["origin"] == "case_analytics"
    assert len(r.json()["trainees"]) == 3
