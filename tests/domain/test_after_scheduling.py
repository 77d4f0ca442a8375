"""After scheduling (decisions.md, 2026-12-01): invitations, conflicts, reschedule, cancel,
complete, acknowledge; who may, in which state, who is told what, and the calendar messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
import time_machine
from django.utils import timezone
from icalendar import Calendar

from coaching import services
from coaching.models import (
    Action,
    AttendeeRole,
    CancelReason,
    CoachingSession,
    Reminder,
    ReminderKind,
    ReminderStatus,
    SessionAttendee,
    State,
)
from coaching.policies import allowed_actions
from core.errors import (
    AlreadyAcknowledged,
    InvalidState,
    PermissionDenied,
    ScheduleConflict,
    ValidationFailed,
)
from directory.models import User, UserGroupMembership
from notifications.models import Kind, Notification

from .helpers import codes, events, fresh, inbox, ref, suggest, world

pytestmark = pytest.mark.django_db
NOW = datetime(2030, 3, 1, 8, 0, tzinfo=UTC)  # a Friday
START = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)  # the Monday after


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def sched(org, actor=None, *, start=START, minutes=60, allow=False, **kw):
    s = suggest(org, **kw)
    return services.session_schedule(
        actor=actor or org.cora,
        session_id=s.pk,
        starts_at=start,
        duration_minutes=minutes,
        location="Room 4",
        allow_conflicts=allow,
    )


def kinds(session: CoachingSession, kind: Kind) -> list[tuple[str, str]]:
    return inbox(session, kind=kind)


def ics(notification: Notification):
    assert notification.calendar is not None
    (event,) = Calendar.from_ical(notification.calendar.ics).walk("VEVENT")
    return notification.calendar.method, event


# --- scheduling invites --------------------------------------------------------------------------
def test_scheduling_invites_each_trainee_user_with_a_calendar_request(org):
    s = sched(org, trainees=[ref(org.tier1), ref(org.dan)])
    assert kinds(s, Kind.SESSION_INVITATION) == [
        (u, "Cora Coach has scheduled a coaching session with you.")
        for u in ("alice.agent", "bob.agent", "dan.agent")
    ]
    assert kinds(s, Kind.SESSION_SCHEDULED) == [
        ("sam.supervisor", "Cora Coach has scheduled a session based on your suggestion.")
    ]
    assert sorted(
        SessionAttendee.objects.filter(session=s).values_list("user__username", "role", "busy")
    ) == [
        ("alice.agent", AttendeeRole.TRAINEE, True),
        ("bob.agent", AttendeeRole.TRAINEE, True),
        ("cora.coach", AttendeeRole.COACH, True),
        ("dan.agent", AttendeeRole.TRAINEE, True),
    ]
    n = Notification.objects.filter(session=s, kind=Kind.SESSION_INVITATION).first()
    method, event = ics(n)
    assert method == "REQUEST"
    assert str(event["uid"]) == str(s.calendar_uid) and int(event["sequence"]) == 0
    assert event.decoded("dtstart") == START and event.decoded("dtend") == START + timedelta(
        hours=1
    )
    assert str(event["organizer"]) == "mailto:cora.coach@demo.example"
    assert sorted(str(a) for a in event["attendee"]) == [
        f"mailto:{u}@demo.example" for u in ("alice.agent", "bob.agent", "dan.agent")
    ]
    # The author's notice is not an invitation to their calendar.
    assert not Notification.objects.filter(session=s, kind=Kind.SESSION_SCHEDULED)[0].calendar
    reminder = Reminder.objects.get(session=s, kind=ReminderKind.SESSION_START)
    assert (reminder.due_at, reminder.status) == (START - timedelta(hours=24), "pending")


def test_a_group_coach_is_held_by_the_member_who_schedules(org):
    s = sched(org, actor=org.carl, coach=ref(org.coaching_team))
    assert list(
        SessionAttendee.objects.filter(session=s, role=AttendeeRole.COACH).values_list(
            "user__username", flat=True
        )
    ) == ["carl.coach"]
    assert not SessionAttendee.objects.filter(session=s, user=org.cora).exists()


# --- conflicts -----------------------------------------------------------------------------------
def test_a_clash_of_the_coach_or_a_trainee_refuses_and_names_each(org):
    first = sched(org, title="First", trainees=[ref(org.alice)])
    s = suggest(org, title="Second", trainees=[ref(org.tier1)])
    before = world()
    with pytest.raises(ScheduleConflict) as e:
        services.session_schedule(
            actor=org.cora,
            session_id=s.pk,
            starts_at=START + timedelta(minutes=30),
            duration_minutes=60,
        )
    assert world() == before
    assert [(c.user.username, c.session_id, c.title) for c in e.value.conflicts] == [
        ("cora.coach", first.pk, "First"),
        ("alice.agent", first.pk, "First"),
    ]
    assert e.value.status == 409 and e.value.code == "schedule_conflict"
    assert "Cora Coach, Alice Agent already have a coaching session" in e.value.message


def test_touching_sessions_do_not_clash_and_schedule_anyway_does(org):
    sched(org, title="First")
    sched(org, title="Right after", start=START + timedelta(hours=1))  # touching: accepted
    sched(org, title="Right before", start=START - timedelta(minutes=30), minutes=30)
    s = sched(org, title="Overlapping", start=START + timedelta(minutes=15), allow=True)
    assert s.state == State.SCHEDULED


def test_groups_are_expanded_when_the_request_is_made(org):
    sched(org, org.carl, title="Dan's", coach=ref(org.carl), trainees=[ref(org.dan)])
    s = suggest(org, trainees=[ref(org.tier1)])
    UserGroupMembership.objects.create(group=org.tier1, user=org.dan)  # joins before scheduling
    with pytest.raises(ScheduleConflict) as e:
        services.session_schedule(
            actor=org.cora, session_id=s.pk, starts_at=START, duration_minutes=30
        )
    assert [c.user.username for c in e.value.conflicts] == ["dan.agent"]


def test_an_agent_is_told_of_a_clash_without_a_session_they_may_not_see(org):
    other = sched(
        org, actor=org.carl, title="Carl and Dan", coach=ref(org.carl), trainees=[ref(org.dan)]
    )
    from coaching import availability

    shown = availability.clashes(org.alice, [org.dan.pk], START, START + timedelta(hours=1))
    assert [(c.user.username, c.session_id, c.title) for c in shown] == [("dan.agent", None, None)]
    assert other.pk


# --- reschedule ----------------------------------------------------------------------------------
def test_reschedule_moves_it_tells_trainees_in_their_zone_and_raises_the_sequence(org):
    User.objects.filter(pk=org.alice.pk).update(time_zone="Europe/Berlin")
    s = sched(org, trainees=[ref(org.alice), ref(org.bob)])
    new = START + timedelta(days=1, hours=2)  # Tue 11:00 UTC
    s = services.session_reschedule(
        actor=fresh(org.cora), session_id=s.pk, starts_at=new, duration_minutes=45
    )
    s.refresh_from_db()
    assert (s.state, s.starts_at, s.duration_minutes, s.location) == (
        State.SCHEDULED,
        new,
        45,
        "Room 4",
    )
    assert s.version == 3 and s.calendar_sequence == 1
    assert kinds(s, Kind.SESSION_RESCHEDULED) == [
        ("alice.agent", "Cora Coach has moved the coaching session to Tue 5 Mar 2030, 12:00 CET."),
        ("bob.agent", "Cora Coach has moved the coaching session to Tue 5 Mar 2030, 11:00 UTC."),
        (
            "sam.supervisor",
            "Cora Coach has moved the coaching session to Tue 5 Mar 2030, 11:00 UTC.",
        ),
    ]
    n = Notification.objects.get(session=s, kind=Kind.SESSION_RESCHEDULED, recipient=org.alice)
    method, event = ics(n)
    assert (method, int(event["sequence"]), str(event["uid"])) == (
        "REQUEST",
        1,
        str(s.calendar_uid),
    )
    assert event.decoded("dtstart") == new
    assert set(SessionAttendee.objects.filter(session=s).values_list("starts_at", flat=True)) == {
        new
    }
    assert events(s)[-1] == (Action.RESCHEDULED, "cora.coach")
    pending = Reminder.objects.get(session=s, status=ReminderStatus.PENDING)
    assert pending.target_at == new
    assert sorted(
        Reminder.objects.filter(session=s, status=ReminderStatus.DROPPED).values_list(
            "kind", "note"
        )
    ) == [("session_start", "replaced"), ("suggestion_expiry", "scheduled")]


def test_reschedule_checks_conflicts_but_not_against_itself(org):
    s = sched(org)
    sched(org, title="Other", start=START + timedelta(hours=3))
    services.session_reschedule(
        actor=org.cora,
        session_id=s.pk,
        starts_at=START + timedelta(minutes=30),
        duration_minutes=60,
    )
    with pytest.raises(ScheduleConflict):
        services.session_reschedule(
            actor=org.cora,
            session_id=s.pk,
            starts_at=START + timedelta(hours=3),
            duration_minutes=30,
        )
    services.session_reschedule(
        actor=org.cora,
        session_id=s.pk,
        starts_at=START + timedelta(hours=3),
        duration_minutes=30,
        allow_conflicts=True,
    )


def test_who_may_reschedule_and_when(org):
    s = sched(org, coach=ref(org.coaching_team))
    for user in (org.alice, org.sam, org.admin):
        with pytest.raises(PermissionDenied):
            services.session_reschedule(
                actor=user, session_id=s.pk, starts_at=START, duration_minutes=30
            )
    # Another member of the coach group may, and holds it from then on.
    services.session_reschedule(
        actor=org.carl, session_id=s.pk, starts_at=START + timedelta(hours=2), duration_minutes=30
    )
    assert list(
        SessionAttendee.objects.filter(session=s, role=AttendeeRole.COACH).values_list(
            "user__username", flat=True
        )
    ) == ["carl.coach"]
    assert (
        "cora.coach",
        "Carl Coach has moved the coaching session to Mon 4 Mar 2030, 11:00 UTC.",
    ) in kinds(s, Kind.SESSION_RESCHEDULED)
    with pytest.raises(ValidationFailed) as e:
        services.session_reschedule(
            actor=org.carl,
            session_id=s.pk,
            starts_at=NOW - timedelta(hours=1),
            duration_minutes=400,
        )
    assert codes(e.value) == [("starts_at", "in_past"), ("duration_minutes", "out_of_range")]
    open_one = suggest(org)
    with pytest.raises(InvalidState):
        services.session_reschedule(
            actor=org.cora, session_id=open_one.pk, starts_at=START, duration_minutes=30
        )


# --- cancel --------------------------------------------------------------------------------------
def test_coach_cancels_with_a_reason_and_calendars_get_a_cancellation(org):
    s = sched(org, trainees=[ref(org.tier1)])
    with pytest.raises(ValidationFailed) as e:
        services.session_cancel(actor=org.cora, session_id=s.pk, reason="  ")
    assert codes(e.value) == [("reason", "required")]
    services.session_cancel(actor=org.cora, session_id=s.pk, reason="the team is on a course")
    s.refresh_from_db()
    assert (s.state, s.cancel_reason, s.cancel_note, s.calendar_sequence) == (
        State.CANCELED,
        CancelReason.CANCELED_BY_COACH,
        "the team is on a course",
        1,
    )
    text = (
        "Coaching Session has been canceled as Cora Coach has canceled the scheduled session "
        "because of the team is on a course."
    )
    assert kinds(s, Kind.SESSION_CANCELED_AFTER_SCHEDULING) == [
        ("alice.agent", text),
        ("bob.agent", text),
        ("sam.supervisor", text),
    ]
    n = Notification.objects.get(
        session=s, kind=Kind.SESSION_CANCELED_AFTER_SCHEDULING, recipient=org.bob
    )
    method, event = ics(n)
    assert (method, str(event["status"]), int(event["sequence"])) == ("CANCEL", "CANCELLED", 1)
    assert str(event["uid"]) == str(s.calendar_uid)
    assert not SessionAttendee.objects.filter(session=s, busy=True).exists()
    # The time is free again.
    sched(org, title="Instead")
    with pytest.raises(InvalidState):
        services.session_cancel(actor=org.cora, session_id=s.pk, reason="again")


def test_a_qm_admin_cancels_in_their_own_name_and_the_coach_is_told(org):
    s = sched(org)
    services.session_cancel(actor=org.admin, session_id=s.pk, reason="budget freeze")
    text = (
        "Coaching Session has been canceled as Quinn Admin has canceled the scheduled session "
        "because of budget freeze."
    )
    assert kinds(s, Kind.SESSION_CANCELED_AFTER_SCHEDULING) == [
        ("alice.agent", text),
        ("cora.coach", text),
        ("sam.supervisor", text),
    ]
    for user in (org.alice, org.sam, org.carl):
        with pytest.raises((PermissionDenied, InvalidState)):
            services.session_cancel(actor=user, session_id=s.pk, reason="x")


# --- complete ------------------------------------------------------------------------------------
def test_complete_only_once_started_with_notes(org, clock):
    s = sched(org, trainees=[ref(org.tier1)])
    assert allowed_actions(org.cora, s)["complete"] is False
    with pytest.raises(InvalidState):
        services.session_complete(actor=org.cora, session_id=s.pk, notes="too early")
    clock.move_to(START + timedelta(minutes=5))
    s = CoachingSession.objects.get(pk=s.pk)
    assert allowed_actions(fresh(org.cora), s)["complete"] is True
    with pytest.raises(ValidationFailed) as e:
        services.session_complete(
            actor=org.cora, session_id=s.pk, notes="", action_items=["ok", " ", "x" * 501]
        )
    assert codes(e.value) == [
        ("notes", "required"),
        ("action_items[1]", "required"),
        ("action_items[2]", "too_long"),
    ]
    with pytest.raises(ValidationFailed) as e:
        services.session_complete(
            actor=org.cora, session_id=s.pk, notes="n", action_items=["a"] * 21
        )
    assert codes(e.value) == [("action_items", "too_long")]
    for user in (org.alice, org.sam, org.admin):
        with pytest.raises(PermissionDenied):
            services.session_complete(actor=user, session_id=s.pk, notes="mine")
    services.session_complete(
        actor=org.cora,
        session_id=s.pk,
        notes="  Practised the greeting. ",
        action_items=["Use the script", "Listen to two calls"],
    )
    s.refresh_from_db()
    assert (s.state, s.completion_notes, s.action_items, s.completed_by) == (
        State.COMPLETED,
        "Practised the greeting.",
        ["Use the script", "Listen to two calls"],
        org.cora,
    )
    text = "Cora Coach has completed the coaching session and shared notes."
    assert kinds(s, Kind.SESSION_COMPLETED) == [
        ("alice.agent", text),
        ("bob.agent", text),
        ("sam.supervisor", text),
    ]
    with pytest.raises(InvalidState):
        services.session_complete(actor=org.cora, session_id=s.pk, notes="twice")
    with pytest.raises(InvalidState):
        services.session_cancel(actor=org.cora, session_id=s.pk, reason="after the fact")


# --- acknowledge ---------------------------------------------------------------------------------
def test_each_trainee_acknowledges_once_and_the_coach_is_told(org, clock):
    s = sched(org, trainees=[ref(org.tier1)])
    with pytest.raises(InvalidState):
        services.session_acknowledge(actor=org.alice, session_id=s.pk)
    clock.move_to(START + timedelta(hours=1))
    services.session_complete(actor=org.cora, session_id=s.pk, notes="Done.")
    services.session_acknowledge(actor=org.alice, session_id=s.pk, comment=" Thanks, useful. ")
    with pytest.raises(AlreadyAcknowledged) as e:
        services.session_acknowledge(actor=fresh(org.alice), session_id=s.pk)
    assert e.value.status == 409 and e.value.code == "already_acknowledged"
    for user in (org.cora, org.sam, org.dan):
        with pytest.raises((PermissionDenied, Exception)):
            services.session_acknowledge(actor=user, session_id=s.pk)
    services.session_acknowledge(actor=org.bob, session_id=s.pk)
    assert sorted(
        SessionAttendee.objects.filter(session=s, acknowledged_at__isnull=False).values_list(
            "user__username", "acknowledgement_comment"
        )
    ) == [("alice.agent", "Thanks, useful."), ("bob.agent", "")]
    assert kinds(s, Kind.SESSION_ACKNOWLEDGED) == [
        ("cora.coach", "Alice Agent has acknowledged the coaching session."),
        ("cora.coach", "Bob Agent has acknowledged the coaching session."),
    ]
    assert (
        allowed_actions(fresh(org.alice), CoachingSession.objects.get(pk=s.pk))["acknowledge"]
        is False
    )


def test_nobody_is_told_of_their_own_act(org, clock):
    # Sue suggests to the Coaching Team with Cora as a trainee? Not allowed; Cora coaches, Carl is
    # a trainee and schedules nothing. The acting coach never hears of their own changes.
    s = sched(org, trainees=[ref(org.alice)])
    services.session_reschedule(
        actor=org.cora, session_id=s.pk, starts_at=START + timedelta(hours=1), duration_minutes=30
    )
    clock.move_to(START + timedelta(hours=2))
    services.session_complete(actor=org.cora, session_id=s.pk, notes="n")
    assert (
        not Notification.objects.filter(session=s, recipient=org.cora)
        .exclude(kind__in=[Kind.SESSION_SUGGESTED, Kind.SESSION_ACKNOWLEDGED])
        .exists()
    )


# --- e-mail ----------------------------------------------------------------------------------------
def test_invitation_and_cancellation_e_mails_carry_the_calendar(org, run_worker, mailoutbox):
    s = sched(org, trainees=[ref(org.alice)])
    services.session_cancel(actor=org.cora, session_id=s.pk, reason="sick")
    run_worker()
    to_alice = [m for m in mailoutbox if m.to == ["alice.agent@demo.example"]]
    assert len(to_alice) == 2
    found = []
    for m in to_alice:
        parsed = message_from_bytes(m.message().as_bytes(), policy=policy.default)
        (part,) = [p for p in parsed.walk() if p.get_content_type() == "text/calendar"]
        (event,) = Calendar.from_ical(part.get_content()).walk("VEVENT")
        found.append((part.get_param("method"), int(event["sequence"]), str(event["uid"])))
    assert sorted(found) == [
        ("CANCEL", 1, str(s.calendar_uid)),
        ("REQUEST", 0, str(s.calendar_uid)),
    ]
    # The author's e-mails carry none.
    to_sam = [m for m in mailoutbox if m.to == ["sam.supervisor@demo.example"]]
    assert to_sam and all("text/calendar" not in m.message().as_string() for m in to_sam)
    assert timezone.now() == NOW


# --- the agent's homepage lists ------------------------------------------------------------------
def test_upcoming_and_awaiting_acknowledgement_lists(org, clock):
    from coaching import selectors

    later = sched(org, title="Later", trainees=[ref(org.tier1)], start=START + timedelta(days=1))
    soon = sched(org, title="Soon", trainees=[ref(org.alice)])
    other = sched(org, org.carl, title="Dan's", coach=ref(org.carl), trainees=[ref(org.dan)])
    assert [s.title for s in selectors.sessions_upcoming_for(fresh(org.alice))] == ["Soon", "Later"]
    assert [s.title for s in selectors.sessions_upcoming_for(fresh(org.cora))] == ["Soon", "Later"]
    assert [s.title for s in selectors.sessions_upcoming_for(fresh(org.dan))] == ["Dan's"]
    clock.move_to(START + timedelta(hours=2))
    services.session_complete(actor=org.cora, session_id=soon.pk, notes="n")
    services.session_complete(actor=org.carl, session_id=other.pk, notes="n")
    assert [s.title for s in selectors.sessions_upcoming_for(fresh(org.alice))] == ["Later"]
    assert [s.title for s in selectors.sessions_awaiting_acknowledgement(fresh(org.alice))] == [
        "Soon"
    ]
    services.session_acknowledge(actor=org.alice, session_id=soon.pk)
    assert list(selectors.sessions_awaiting_acknowledgement(fresh(org.alice))) == []
    assert [s.title for s in selectors.sessions_awaiting_acknowledgement(fresh(org.dan))] == [
        "Dan's"
    ]
    assert list(selectors.sessions_awaiting_acknowledgement(fresh(org.cora))) == []
    assert later.pk


def test_a_completed_session_takes_no_suggestion_verb(org, clock):
    """Found by the API fuzzing: a completed session once accepted a decline."""
    s = sched(org)
    clock.move_to(START + timedelta(hours=1))
    services.session_complete(actor=org.cora, session_id=s.pk, notes="held")
    before = world()
    for verb in (
        lambda: services.session_decline(actor=org.cora, session_id=s.pk, reason="no"),
        lambda: services.session_decline(actor=org.alice, session_id=s.pk, reason="no"),
        lambda: services.session_delete(actor=org.sam, session_id=s.pk),
        lambda: services.session_schedule(
            actor=org.cora,
            session_id=s.pk,
            starts_at=START + timedelta(days=2),
            duration_minutes=30,
        ),
    ):
        with pytest.raises(InvalidState, match="completed"):
            verb()
    assert world() == before
    assert CoachingSession.objects.get(pk=s.pk).state == State.COMPLETED
