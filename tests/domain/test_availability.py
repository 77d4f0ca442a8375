"""Who is busy when: working hours, the overlap rule at its edges, free slots on the 15-minute grid
inside the coach's working hours, clashes as a caller may learn of them, and fixed query counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from coaching import availability
from coaching.models import AttendeeRole, CoachingSession, SessionAttendee
from directory.models import User, UserGroupMembership
from directory.working_hours import (
    clean_working_hours,
    default_working_hours,
    stored_or_default,
    working_intervals,
)

from .helpers import ref, suggest

MON = datetime(2030, 3, 4, tzinfo=UTC)  # a Monday
pytestmark = pytest.mark.django_db


def at(day: int, hh: int, mm: int = 0) -> datetime:
    return MON + timedelta(days=day, hours=hh, minutes=mm)


def book(session: CoachingSession, user: User, start: datetime, minutes: int, **kw) -> None:
    """The attendance row a scheduled session gives each person invited to it."""
    SessionAttendee.objects.create(
        session=session,
        user=user,
        role=kw.pop("role", AttendeeRole.TRAINEE),
        starts_at=start,
        ends_at=start + timedelta(minutes=minutes),
        **kw,
    )


@pytest.fixture
def other(org):
    return suggest(org, title="Other session")


# --- working hours -----------------------------------------------------------------------------
def test_default_is_monday_to_friday_nine_to_five():
    hours = default_working_hours()
    assert hours["mon"] == [["09:00", "17:00"]] and hours["fri"] == [["09:00", "17:00"]]
    assert hours["sat"] == [] and hours["sun"] == []
    assert stored_or_default({}) == hours
    assert stored_or_default(None) == hours


def test_working_hours_rules_name_the_day():
    _, errors = clean_working_hours(
        {"mon": [["17:00", "09:00"]], "tue": [["09:00", "12:00"], ["11:00", "13:00"]], "xyz": []}
    )
    assert sorted((e.field, str(e.code)) for e in errors) == [
        ("days.mon[0]", "out_of_range"),
        ("days.tue", "duplicate"),
        ("days.xyz", "invalid"),
    ]
    _, errors = clean_working_hours({"wed": [["9:00", "25:00"]], "thu": "all day"})
    assert sorted(e.field for e in errors) == ["days.thu", "days.wed[0]"]
    cleaned, errors = clean_working_hours(
        {"mon": [["13:00", "17:00"], ["08:00", "12:00"]], "sat": [["20:00", "24:00"]]}
    )
    assert errors == []
    assert cleaned["mon"] == [["08:00", "12:00"], ["13:00", "17:00"]]
    assert cleaned["sat"] == [["20:00", "24:00"]] and cleaned["tue"] == []


def test_working_intervals_keep_wall_clock_hours_across_daylight_saving():
    hours = default_working_hours()
    # Europe/Berlin: CET (+1) until Sunday 2030-03-31, CEST (+2) from then on.
    days = list(
        working_intervals(
            hours,
            "Europe/Berlin",
            datetime(2030, 3, 29, tzinfo=UTC),
            datetime(2030, 4, 2, tzinfo=UTC),
        )
    )
    assert days == [
        (datetime(2030, 3, 29, 8, tzinfo=UTC), datetime(2030, 3, 29, 16, tzinfo=UTC)),  # Fri CET
        (datetime(2030, 4, 1, 7, tzinfo=UTC), datetime(2030, 4, 1, 15, tzinfo=UTC)),  # Mon CEST
    ]


# --- the overlap rule --------------------------------------------------------------------------
def test_touching_intervals_do_not_clash(org, other):
    book(other, org.alice, at(0, 10), 60)
    ids = [org.alice.pk]
    assert availability.busy_intervals(ids, at(0, 11), at(0, 12)) == []  # starts as it ends
    assert availability.busy_intervals(ids, at(0, 9), at(0, 10)) == []  # ends as it starts
    assert [b.session_id for b in availability.busy_intervals(ids, at(0, 10, 59), at(0, 12))] == [
        other.pk
    ]
    assert [b.session_id for b in availability.busy_intervals(ids, at(0, 9), at(0, 10, 1))] == [
        other.pk
    ]
    # Inside and around.
    assert len(availability.busy_intervals(ids, at(0, 10, 15), at(0, 10, 30))) == 1
    assert len(availability.busy_intervals(ids, at(0, 8), at(0, 13))) == 1


def test_a_six_hour_session_is_found_from_its_last_minute(org, other):
    book(other, org.alice, at(0, 8), 360)
    assert len(availability.busy_intervals([org.alice.pk], at(0, 13, 59), at(0, 15))) == 1
    assert availability.busy_intervals([org.alice.pk], at(0, 14), at(0, 15)) == []


def test_only_scheduled_sessions_of_the_people_asked_about_count(org, other):
    book(other, org.alice, at(0, 10), 60, busy=False)  # completed or canceled
    book(other, org.bob, at(0, 10), 60)
    assert availability.busy_intervals([org.alice.pk, org.dan.pk], at(0, 9), at(0, 12)) == []
    assert (
        availability.busy_intervals([org.bob.pk], at(0, 9), at(0, 12), exclude_session_id=other.pk)
        == []
    )


def test_people_are_the_coach_and_trainee_users_with_groups_expanded_now(org):
    people = availability.people_of(
        coach=org.cora, trainee_users=[org.dan], trainee_groups=[org.tier1]
    )
    assert people == [org.cora.pk, org.dan.pk, org.alice.pk, org.bob.pk]
    UserGroupMembership.objects.create(group=org.tier1, user=org.audrey)
    User.objects.filter(pk=org.bob.pk).update(is_active=False)
    people = availability.people_of(coach=org.cora, trainee_users=[], trainee_groups=[org.tier1])
    assert people == [org.cora.pk, org.alice.pk, org.audrey.pk]


# --- clashes as the caller learns them ---------------------------------------------------------
def test_clashes_name_each_person_and_hide_titles_the_caller_may_not_see(org):
    theirs = suggest(
        org, actor=org.sue, title="Sue's private one", coach=ref(org.carl), trainees=[ref(org.dan)]
    )
    mine = suggest(org, title="Cora with Alice")
    book(theirs, org.dan, at(0, 10), 30)
    book(mine, org.alice, at(0, 10, 15), 30)
    with CaptureQueriesContext(connection) as q:
        found = availability.clashes(org.alice, [org.alice.pk, org.dan.pk], at(0, 10), at(0, 11))
    assert [(c.user.username, c.session_id, c.title) for c in found] == [
        ("dan.agent", None, None),
        ("alice.agent", mine.pk, "Cora with Alice"),
    ]
    assert (found[0].starts_at, found[0].ends_at) == (at(0, 10), at(0, 10, 30))
    # The clashes; the viewer's permissions (user, groups), admin role; the visible ones.
    assert len(q) == 5, [x["sql"] for x in q]
    # Cora sees every session (View Analytics), so she is told which one.
    shown = availability.clashes(org.cora, [org.dan.pk], at(0, 10), at(0, 11))
    assert [(c.session_id, c.title) for c in shown] == [(theirs.pk, "Sue's private one")]


# --- free slots --------------------------------------------------------------------------------
def slots(org, *, people=(), minutes=30, start=None, end=None, now=None, limit=5):
    return availability.free_slots(
        coach=User.objects.get(pk=org.cora.pk),
        user_ids=[p.pk for p in people],
        duration=timedelta(minutes=minutes),
        start=start or at(0, 0),
        end=end or at(7, 0),
        now=now or at(-7, 0),
        limit=limit,
    )


def test_free_slots_start_at_the_coachs_working_day_on_the_grid(org):
    assert slots(org, limit=3) == [
        (at(0, 9), at(0, 9, 30)),
        (at(0, 9, 15), at(0, 9, 45)),
        (at(0, 9, 30), at(0, 10)),
    ]


def test_free_slots_are_in_the_coachs_own_time_zone_and_hours(org):
    User.objects.filter(pk=org.cora.pk).update(
        time_zone="America/New_York",  # UTC-5 in early March
        working_hours={"mon": [], "tue": [["14:00", "15:00"]]},
    )
    # 14:00-14:45 and 14:15-15:00 local, and nothing else that week.
    assert slots(org, minutes=45, limit=5) == [
        (at(1, 19), at(1, 19, 45)),
        (at(1, 19, 15), at(1, 20)),
    ]


def test_free_slots_skip_anyone_busy_and_never_propose_the_past(org, other):
    book(other, org.cora, at(0, 9), 60, role=AttendeeRole.COACH)
    book(other, org.alice, at(0, 10, 10), 20)  # 10:10-10:30: the grid resumes at 10:30
    found = slots(org, people=[org.alice], minutes=30, limit=3)
    assert found == [
        (at(0, 10, 30), at(0, 11)),
        (at(0, 10, 45), at(0, 11, 15)),
        (at(0, 11), at(0, 11, 30)),
    ]
    # "now" is 13:07: the first slot is 13:15.
    assert slots(org, now=at(0, 13, 7), limit=1) == [(at(0, 13, 15), at(0, 13, 45))]
    # A slot must fit in the working day: 16:45 + 30 min is past 17:00, so Tuesday 09:00 is next.
    assert slots(org, start=at(0, 16, 30), limit=2) == [
        (at(0, 16, 30), at(0, 17)),
        (at(1, 9), at(1, 9, 30)),
    ]


def test_free_slots_ignore_busy_time_of_people_not_asked_about(org, other):
    book(other, org.bob, at(0, 9), 360)
    assert slots(org, people=[org.alice], limit=1) == [(at(0, 9), at(0, 9, 30))]
    assert slots(org, people=[org.alice, org.bob], limit=1) == [(at(0, 15), at(0, 15, 30))]


def test_free_slots_cost_two_queries_whatever_the_group_size(org, other):
    coach = User.objects.get(pk=org.cora.pk)
    for n in (1, 40):
        people = [User.objects.create(username=f"p{n}-{i}", is_active=True) for i in range(n)]
        for p in people:
            book(other, p, at(0, 9), 30)
        with CaptureQueriesContext(connection) as q:
            availability.free_slots(
                coach=coach,
                user_ids=[p.pk for p in people],
                duration=timedelta(minutes=30),
                start=at(0, 0),
                end=at(31, 0),
                now=at(-1, 0),
                limit=10,
            )
        assert len(q) == 1, [x["sql"] for x in q]
        SessionAttendee.objects.filter(user__in=people).delete()
