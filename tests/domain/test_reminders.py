"""Reminders before a session starts and before a suggestion expires: when, to whom, what text,
once; moved, closed and late ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test import override_settings
from django_tasks_db.models import DBTaskResult

from coaching import reminders, services
from coaching.models import Reminder, ReminderKind, ReminderStatus
from core.testing import drain_tasks
from directory.models import User
from notifications.models import Kind, Notification

from .helpers import inbox, ref, suggest

pytestmark = pytest.mark.django_db
NOW = datetime(2030, 3, 1, 8, 0, tzinfo=UTC)
START = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)
DUE = START - timedelta(hours=24)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def scheduled(org, start=START, **kw):
    s = suggest(org, **kw)
    return services.session_schedule(
        actor=org.cora, session_id=s.pk, starts_at=start, duration_minutes=30
    )


def reminded(session) -> list[tuple[str, str]]:
    return inbox(session, kind=Kind.SESSION_REMINDER)


def test_coach_and_trainees_are_reminded_once_at_the_moment(org, clock):
    User.objects.filter(pk=org.bob.pk).update(time_zone="America/New_York")
    s = scheduled(org, trainees=[ref(org.tier1)])
    clock.move_to(DUE - timedelta(minutes=1))
    drain_tasks()
    assert reminded(s) == []
    clock.move_to(DUE)
    drain_tasks()
    assert reminded(s) == [
        ("alice.agent", "Reminder: the coaching session starts Mon 4 Mar 2030, 09:00 UTC."),
        ("bob.agent", "Reminder: the coaching session starts Mon 4 Mar 2030, 04:00 EST."),
        ("cora.coach", "Reminder: the coaching session starts Mon 4 Mar 2030, 09:00 UTC."),
    ]
    reminder = Reminder.objects.get(session=s, kind=ReminderKind.SESSION_START)
    assert (reminder.status, reminder.done_at) == (ReminderStatus.SENT, DUE)
    # Any further call (a duplicate task, the sweep) sends nothing.
    assert reminders.reminder_send(reminder_id=reminder.pk) is False
    assert reminders.send_due_reminders(grace=timedelta(0)) == 0
    assert len(reminded(s)) == 3


def test_a_moved_session_is_reminded_for_its_new_start_only(org, clock):
    s = scheduled(org)
    old = Reminder.objects.get(session=s, kind=ReminderKind.SESSION_START)
    services.session_reschedule(
        actor=org.cora, session_id=s.pk, starts_at=START + timedelta(days=2), duration_minutes=30
    )
    clock.move_to(DUE + timedelta(minutes=5))
    drain_tasks()  # the old task runs and finds its reminder replaced
    assert reminded(s) == []
    old.refresh_from_db()
    assert (old.status, old.note) == (ReminderStatus.DROPPED, "replaced")
    clock.move_to(DUE + timedelta(days=2))
    drain_tasks()
    assert [u for u, _ in reminded(s)] == ["alice.agent", "cora.coach"]


def test_a_canceled_or_completed_session_is_not_reminded(org, clock):
    s = scheduled(org)
    services.session_cancel(actor=org.cora, session_id=s.pk, reason="moved to next quarter")
    clock.move_to(DUE)
    drain_tasks()
    assert reminded(s) == []
    assert Reminder.objects.get(session=s, kind=ReminderKind.SESSION_START).status == "dropped"


def test_a_reminder_missed_while_the_workers_were_down_is_sent_once_later(org, clock):
    s = scheduled(org)
    DBTaskResult.objects.all().delete()  # the task was lost (or no worker ran at all)
    clock.move_to(START - timedelta(hours=2))
    assert reminders.send_due_reminders() == 1
    assert len(reminded(s)) == 2
    sent: list[tuple[str, tuple]] = []

    def spy(execute, sql, params, many, context):
        sent.append((sql, tuple(params or ())))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy):
        assert reminders.send_due_reminders() == 0
    assert len(reminded(s)) == 2
    # The status is in the statement's text, not a parameter: a worker's prepared (generic)
    # plan can then use the partial index `reminder_due` instead of reading every reminder.
    looked = [(sql, params) for sql, params in sent if "due_at" in sql]
    assert looked and all(
        "'pending'" in sql and "pending" not in params for sql, params in looked
    ), looked


def test_a_reminder_whose_session_has_started_is_dropped(org, clock):
    s = scheduled(org)
    clock.move_to(START + timedelta(minutes=1))
    drain_tasks()
    assert reminded(s) == []
    reminder = Reminder.objects.get(session=s, kind=ReminderKind.SESSION_START)
    assert (reminder.status, reminder.note) == ("dropped", "the moment it announced has passed")


def test_no_reminder_when_scheduled_inside_the_lead_time_or_switched_off(org, clock):
    s = scheduled(org, start=NOW + timedelta(hours=3))
    assert not Reminder.objects.filter(session=s, kind=ReminderKind.SESSION_START).exists()
    with override_settings(COACHING_REMINDER_BEFORE_START_MINUTES=0):
        s = scheduled(org, start=START + timedelta(days=1))
    assert not Reminder.objects.filter(session=s, kind=ReminderKind.SESSION_START).exists()
    with override_settings(COACHING_REMINDER_BEFORE_START_MINUTES=30):
        s = scheduled(org, start=START + timedelta(days=2))
    assert Reminder.objects.get(
        session=s, kind=ReminderKind.SESSION_START
    ).due_at == START + timedelta(days=2, minutes=-30)


def test_the_coach_is_reminded_before_an_open_suggestion_expires(org, clock):
    expiry = NOW + timedelta(days=30)
    s = suggest(org, coach=ref(org.coaching_team), expires_at=expiry)
    other = suggest(org, title="scheduled in time", expires_at=expiry)
    services.session_schedule(
        actor=org.cora, session_id=other.pk, starts_at=START, duration_minutes=30
    )
    clock.move_to(expiry - timedelta(days=7))
    drain_tasks()
    text = "A suggested coaching session expires Sun 31 Mar 2030, 08:00 UTC unless it is scheduled."
    assert inbox(s, kind=Kind.SUGGESTION_EXPIRING) == [("carl.coach", text), ("cora.coach", text)]
    assert inbox(other, kind=Kind.SUGGESTION_EXPIRING) == []


def test_moving_the_expiry_moves_its_reminder(org, clock):
    s = suggest(org, expires_at=NOW + timedelta(days=30))
    from coaching.rules import SessionFields

    services.session_edit(
        actor=org.sam, session_id=s.pk, fields=SessionFields(expires_at=NOW + timedelta(days=60))
    )
    clock.move_to(NOW + timedelta(days=23, minutes=1))
    drain_tasks()
    assert inbox(s, kind=Kind.SUGGESTION_EXPIRING) == []
    clock.move_to(NOW + timedelta(days=53, minutes=1))
    drain_tasks()
    assert [u for u, _ in inbox(s, kind=Kind.SUGGESTION_EXPIRING)] == ["cora.coach"]
    assert Notification.objects.filter(kind=Kind.SUGGESTION_EXPIRING).count() == 1
