"""The API additions of 2026-12-01 (after scheduling): conflicts, reschedule, cancel, complete,
acknowledge, free slots, the calendar feed and working hours."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client
from icalendar import Calendar

from coaching import services
from directory.models import User
from directory.parties import PartyRef

from .conftest import assert_problem, snapshot, suggest

NOW = datetime(2030, 3, 1, 8, 0, tzinfo=UTC)  # Friday
MON_9 = "2030-03-04T09:00:00Z"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def body(response) -> dict:
    return json.loads(response.content)


def scheduled(org, as_user, **kw):
    s = suggest(org, **kw)
    r = as_user("cora").post(
        f"/coaching-sessions/{s.pk}/schedule", {"starts_at": MON_9, "duration_minutes": 60}
    )
    assert r.status_code == 200, r.content
    return s


def test_schedule_conflict_is_409_naming_each_clash_and_allow_conflicts_overrides(org, as_user):
    first = scheduled(org, as_user, title="First")
    s = suggest(org, title="Second", trainees=[PartyRef.of(org.tier1)])
    before = snapshot()
    r = as_user("cora").post(
        f"/coaching-sessions/{s.pk}/schedule",
        {"starts_at": "2030-03-04T09:30:00+00:00", "duration_minutes": 30},
    )
    assert r.status_code == 409 and r["Content-Type"] == "application/problem+json"
    problem = body(r)
    assert problem["code"] == "schedule_conflict"
    assert [(c["user"]["username"], c["session_id"], c["title"]) for c in problem["conflicts"]] == [
        ("cora.coach", first.pk, "First"),
        ("alice.agent", first.pk, "First"),
    ]
    assert problem["conflicts"][0]["starts_at"] == "2030-03-04T09:00:00Z"
    assert problem["conflicts"][0]["ends_at"] == "2030-03-04T10:00:00Z"
    assert snapshot() == before
    r = as_user("cora").post(
        f"/coaching-sessions/{s.pk}/schedule",
        {"starts_at": "2030-03-04T09:30:00Z", "duration_minutes": 30, "allow_conflicts": True},
    )
    assert r.status_code == 200 and body(r)["state"] == "scheduled"
    assert body(r)["calendar_uid"]


def test_reschedule_cancel_and_their_refusals(org, as_user):
    s = scheduled(org, as_user)
    r = as_user("cora").post(
        f"/coaching-sessions/{s.pk}/reschedule",
        {"starts_at": "2030-03-05T10:00:00+01:00", "duration_minutes": 45, "location": "Room 7"},
    )
    assert r.status_code == 200, r.content
    out = body(r)
    assert out["schedule"]["starts_at"] == "2030-03-05T09:00:00Z"
    assert (out["schedule"]["duration_minutes"], out["schedule"]["location"]) == (45, "Room 7")
    assert out["version"] == 3 and out["state"] == "scheduled"
    assert out["actions"]["reschedule"] and out["actions"]["cancel"]
    assert not out["actions"]["complete"]
    assert_problem(
        as_user("alice").post(
            f"/coaching-sessions/{s.pk}/reschedule", {"starts_at": MON_9, "duration_minutes": 30}
        ),
        403,
        "permission_denied",
    )
    assert_problem(
        as_user("cora").post(
            f"/coaching-sessions/{s.pk}/reschedule",
            {"starts_at": "2030-02-01T09:00:00Z", "duration_minutes": 1000},
        ),
        422,
        "validation_failed",
        [("starts_at", "in_past"), ("duration_minutes", "out_of_range")],
    )
    assert_problem(
        as_user("cora").post(f"/coaching-sessions/{s.pk}/cancel", {"reason": " "}),
        422,
        "validation_failed",
        [("reason", "required")],
    )
    assert_problem(
        as_user("sam").post(f"/coaching-sessions/{s.pk}/cancel", {"reason": "mine"}),
        403,
        "permission_denied",
    )
    r = as_user("cora").post(f"/coaching-sessions/{s.pk}/cancel", {"reason": "team course"})
    assert r.status_code == 200
    out = body(r)
    assert out["state"] == "canceled"
    assert out["cancellation"]["reason"] == "canceled_by_coach"
    assert out["cancellation"]["note"] == "team course"
    assert out["cancellation"]["by"]["username"] == "cora.coach"
    assert_problem(
        as_user("cora").post(f"/coaching-sessions/{s.pk}/cancel", {"reason": "again"}),
        409,
        "invalid_state",
    )
    # An agent still sees a session canceled after it was scheduled.
    assert as_user("alice").get(f"/coaching-sessions/{s.pk}").status_code == 200
    assert body(as_user("alice").get("/coaching-sessions?state=canceled"))["count"] == 1


def test_complete_then_acknowledge_and_who_reads_the_notes(org, as_user, clock):
    s = scheduled(org, as_user, trainees=[PartyRef.of(org.tier1)])
    assert_problem(
        as_user("cora").post(f"/coaching-sessions/{s.pk}/complete", {"notes": "early"}),
        409,
        "invalid_state",
    )
    clock.move_to(datetime(2030, 3, 4, 10, 5, tzinfo=UTC))
    assert body(as_user("cora").get(f"/coaching-sessions/{s.pk}"))["actions"]["complete"] is True
    assert_problem(
        as_user("cora").post(
            f"/coaching-sessions/{s.pk}/complete", {"notes": "", "action_items": ["x" * 501]}
        ),
        422,
        "validation_failed",
        [("notes", "required"), ("action_items[0]", "too_long")],
    )
    r = as_user("cora").post(
        f"/coaching-sessions/{s.pk}/complete",
        {"notes": "Practised openings.", "action_items": ["Greeting script", "Two calls"]},
    )
    assert r.status_code == 200, r.content
    completion = body(r)["completion"]
    assert completion["notes"] == "Practised openings."
    assert completion["action_items"] == ["Greeting script", "Two calls"]
    assert completion["by"]["username"] == "cora.coach" and completion["acknowledgements"] == []
    alice = as_user("alice").get(f"/coaching-sessions/{s.pk}")
    assert body(alice)["actions"]["acknowledge"] is True
    r = as_user("alice").post(f"/coaching-sessions/{s.pk}/acknowledge", {"comment": "Thanks"})
    assert r.status_code == 200
    acks = body(r)["completion"]["acknowledgements"]
    assert [(a["user"]["username"], a["comment"]) for a in acks] == [("alice.agent", "Thanks")]
    assert body(r)["actions"]["acknowledge"] is False
    assert_problem(
        as_user("alice").post(f"/coaching-sessions/{s.pk}/acknowledge", {}),
        409,
        "already_acknowledged",
    )
    assert_problem(
        as_user("dan").post(f"/coaching-sessions/{s.pk}/acknowledge", {}), 404, "not_found"
    )
    assert_problem(
        as_user("cora").post(f"/coaching-sessions/{s.pk}/acknowledge", {}),
        403,
        "permission_denied",
    )
    # Notes: coach, trainees, author, QM Admin; not others who see the analytics pages.
    for name in ("cora", "alice", "bob", "sam", "admin"):
        assert body(as_user(name).get(f"/coaching-sessions/{s.pk}"))["completion"]["notes"]
    for name in ("sue", "audrey", "carl"):
        completion = body(as_user(name).get(f"/coaching-sessions/{s.pk}"))["completion"]
        assert completion["notes"] is None and completion["action_items"] is None
        assert [a["user"]["username"] for a in completion["acknowledgements"]] == ["alice.agent"]
    # A list loads of each invitation list only the viewer's row and the acknowledgements; the
    # other trainee still sees alice's and may still acknowledge, the coach may not.
    for name, may in (("bob", True), ("alice", False), ("cora", False)):
        listed = body(as_user(name).get("/coaching-sessions?state=completed"))["items"]
        (item,) = [i for i in listed if i["id"] == s.pk]
        acks = item["completion"]["acknowledgements"]
        assert [a["user"]["username"] for a in acks] == ["alice.agent"], name
        assert item["actions"]["acknowledge"] is may, name
    from coaching import selectors
    from coaching.models import CoachingSession

    def loaded(viewer=None) -> set[str]:
        (row,) = selectors.with_related(CoachingSession.objects.filter(pk=s.pk), viewer)
        return {a.user.username for a in selectors.prefetched(row, "attendees")}

    assert loaded() == {"alice.agent", "bob.agent", "cora.coach"}
    assert loaded(org.bob) == {"alice.agent", "bob.agent"}
    assert loaded(org.cora) == {"alice.agent", "cora.coach"}


def test_list_of_completed_sessions_keeps_a_fixed_query_count(org, as_user, clock):
    def one() -> None:
        s = suggest(org, trainees=[PartyRef.of(org.tier1)])
        services.session_schedule(
            actor=org.cora,
            session_id=s.pk,
            starts_at=datetime(2030, 3, 4, 9, tzinfo=UTC),
            duration_minutes=30,
            allow_conflicts=True,
        )

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    one()
    client = as_user("alice")
    client.get("/me")  # the token's first use is recorded once
    with CaptureQueriesContext(connection) as few:
        assert body(client.get("/coaching-sessions?state=scheduled&limit=1"))["count"] == 1
    for _ in range(5):
        one()
    with CaptureQueriesContext(connection) as many:
        assert body(client.get("/coaching-sessions?state=scheduled&limit=1"))["count"] == 6
    # token, the viewer (permissions, roles, groups), sessions with their count (the first page
    # is full: the total needs its count, which rides on the page's rows), what the cards show
    # (one UNION ALL), attendees
    assert len(few) == len(many) == 5, "\n".join(q["sql"][:120] for q in many.captured_queries)


def test_free_slots(org, as_user):
    s = suggest(org, trainees=[PartyRef.of(org.tier1)])
    other = scheduled(org, as_user, title="Monday nine", trainees=[PartyRef.of(org.bob)])
    assert other
    r = as_user("cora").get(
        f"/coaching-sessions/{s.pk}/free-slots?duration_minutes=30&from=2030-03-04T00:00:00Z"
        "&to=2030-03-05T00:00:00Z&limit=3"
    )
    assert r.status_code == 200, r.content
    assert body(r)["items"] == [
        {"starts_at": "2030-03-04T10:00:00Z", "ends_at": "2030-03-04T10:30:00Z"},
        {"starts_at": "2030-03-04T10:15:00Z", "ends_at": "2030-03-04T10:45:00Z"},
        {"starts_at": "2030-03-04T10:30:00Z", "ends_at": "2030-03-04T11:00:00Z"},
    ]
    assert_problem(
        as_user("cora").get(
            f"/coaching-sessions/{s.pk}/free-slots?from=2030-03-04T00:00:00Z&to=2030-04-10T00:00:00Z"
        ),
        422,
        "validation_failed",
        [("to", "out_of_range")],
    )
    assert_problem(
        as_user("sam").get(f"/coaching-sessions/{s.pk}/free-slots"), 403, "permission_denied"
    )
    # Found by the fuzzing: a number in the query string is not a time.
    assert_problem(
        as_user("cora").get(f"/coaching-sessions/{s.pk}/free-slots?from=0.5"),
        400,
        "malformed_request",
    )
    assert_problem(as_user("dan").get(f"/coaching-sessions/{s.pk}/free-slots"), 404, "not_found")
    assert_problem(
        as_user("cora").get(f"/coaching-sessions/{s.pk}/free-slots?duration_minutes=2"),
        422,
        "validation_failed",
        [("duration_minutes", "out_of_range")],
    )


def test_calendar_feed_url_rotates_and_the_feed_lists_sessions(org, as_user):
    s = scheduled(org, as_user)
    url = body(as_user("alice").get("/me/calendar"))["feed_url"]
    path = url.split("127.0.0.1:8000", 1)[1]
    r = Client().get(path)
    assert r.status_code == 200 and r["Content-Type"].startswith("text/calendar")
    (event,) = Calendar.from_ical(r.content).walk("VEVENT")
    assert str(event["uid"]) == str(
        body(as_user("alice").get(f"/coaching-sessions/{s.pk}"))["calendar_uid"]
    )
    new = body(as_user("alice").post("/me/calendar/rotate"))["feed_url"]
    assert new != url
    assert Client().get(path).status_code == 404
    assert Client().get(new.split("127.0.0.1:8000", 1)[1]).status_code == 200
    assert Client().get(path.replace(str(org.alice.pk), str(org.bob.pk), 1)).status_code == 404
    as_user("cora").post(f"/coaching-sessions/{s.pk}/cancel", {"reason": "sick"})
    (event,) = Calendar.from_ical(Client().get(new.split("127.0.0.1:8000", 1)[1]).content).walk(
        "VEVENT"
    )
    assert str(event["status"]) == "CANCELLED" and int(event["sequence"]) == 1


def test_working_hours_read_and_replace(org, as_user):
    r = as_user("cora").get("/me/working-hours")
    assert body(r) == {
        "time_zone": "UTC",
        "days": {
            "mon": [["09:00", "17:00"]],
            "tue": [["09:00", "17:00"]],
            "wed": [["09:00", "17:00"]],
            "thu": [["09:00", "17:00"]],
            "fri": [["09:00", "17:00"]],
            "sat": [],
            "sun": [],
        },
    }
    r = as_user("cora").request(
        "PUT",
        "/me/working-hours",
        {"time_zone": "Europe/Berlin", "days": {"mon": [["13:00", "17:00"], ["08:00", "12:00"]]}},
    )
    assert r.status_code == 200, r.content
    assert body(r)["time_zone"] == "Europe/Berlin"
    assert body(r)["days"]["mon"] == [["08:00", "12:00"], ["13:00", "17:00"]]
    assert body(r)["days"]["tue"] == []
    assert User.objects.get(pk=org.cora.pk).time_zone == "Europe/Berlin"
    assert_problem(
        as_user("cora").request(
            "PUT", "/me/working-hours", {"time_zone": "Mars/Olympus", "days": {"mon": [["9", "5"]]}}
        ),
        422,
        "validation_failed",
        [("days.mon[0]", "invalid"), ("time_zone", "invalid")],
    )
    assert body(as_user("cora").get("/me/working-hours"))["days"]["mon"] == [
        ["08:00", "12:00"],
        ["13:00", "17:00"],
    ]


def test_openapi_documents_the_additions(org, as_user):
    schema = body(as_user("sam").get("/openapi.json"))
    paths = schema["paths"]
    for p in (
        "/api/v1/coaching-sessions/{id}/reschedule",
        "/api/v1/coaching-sessions/{id}/cancel",
        "/api/v1/coaching-sessions/{id}/complete",
        "/api/v1/coaching-sessions/{id}/acknowledge",
        "/api/v1/coaching-sessions/{id}/free-slots",
        "/api/v1/me/calendar",
        "/api/v1/me/calendar/rotate",
        "/api/v1/me/working-hours",
    ):
        assert p in paths, p
    session = schema["components"]["schemas"]["SessionOut"]["properties"]
    assert {"completion", "calendar_uid"} <= set(session)
    conflict = paths["/api/v1/coaching-sessions/{id}/schedule"]["post"]["responses"]["409"]
    assert "conflicts" in json.dumps(conflict) or "ConflictProblem" in json.dumps(conflict)
