"""Reminders: the coach and the trainees before a scheduled session starts, the coach before an
open suggestion expires. Each is sent once, whatever the number of workers.

The services plan a reminder inside the transaction of the change that fixes its moment (a
`Reminder` row and a task row due at that moment, committed together with the change). At the
moment, a worker runs `reminder_send`; the sweep (`send_due_reminders`) sends the pending ones
whose task is late (lost, or no worker was running) — a reminder whose moment passed while the
workers were down still goes out once, unless what it announces has already begun. Both lock the
session row, then the reminder row, re-check that the reminder is pending and still true (same
start or expiry, state unchanged, moment not yet reached), and write the notifications and the
"sent" mark in one transaction; a second worker finds it sent and does nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.db import retry_on_conflict
from core.shapes import written
from core.timeutils import format_moment
from directory.models import User
from notifications.models import Kind
from notifications.services import notify

from .models import (
    CoachingSession,
    Reminder,
    ReminderKind,
    ReminderStatus,
    SessionAttendee,
    State,
)

log = logging.getLogger(__name__)

TEXT_SESSION_REMINDER = "Reminder: the coaching session starts {start}."
TEXT_SUGGESTION_EXPIRING = "A suggested coaching session expires {expiry} unless it is scheduled."


def lead(kind: ReminderKind) -> timedelta:
    minutes = (
        settings.COACHING_REMINDER_BEFORE_START_MINUTES
        if kind == ReminderKind.SESSION_START
        else settings.COACHING_REMINDER_BEFORE_EXPIRY_MINUTES
    )
    return timedelta(minutes=minutes)


def _target(session: CoachingSession, kind: ReminderKind) -> datetime | None:
    if kind == ReminderKind.SESSION_START:
        return session.starts_at if session.state == State.SCHEDULED else None
    return session.expires_at if session.state == State.SUGGESTED else None


def plan(
    session: CoachingSession, kind: ReminderKind, *, now: datetime, fresh: bool = False
) -> Reminder | None:
    """Replace the session's pending reminder of this kind with one for its current start (or
    expiry). Call inside the transaction that set that moment, with the session row locked;
    `fresh`: the session was created in this transaction, so it has none to replace.

    None when the reminder is off, or when its moment is already past at planning time (a
    session scheduled for in two hours gets its invitation, not a reminder on top of it)."""
    from .tasks import send_reminder  # the task module imports this one

    if not fresh:
        Reminder.objects.filter(session=session, kind=kind, status=ReminderStatus.PENDING).update(
            status=ReminderStatus.DROPPED, done_at=now, note="replaced"
        )
    target = _target(session, kind)
    before = lead(kind)
    if target is None or before <= timedelta(0) or target - before <= now:
        return None
    reminder = Reminder.objects.create(
        session=session, kind=kind, due_at=target - before, target_at=target, created_at=now
    )
    send_reminder.using(run_after=reminder.due_at).enqueue(reminder.pk)
    return reminder


def plan_many(sessions: list[CoachingSession], kind: ReminderKind, *, now: datetime) -> int:
    """`plan` for sessions just created together (a coaching rule's batch): one INSERT for their
    reminders, and one task per moment rather than per reminder (a batch shares its moment): at
    that moment it sends every due reminder, each once, as the sweep does. Returns how many were
    planned."""
    from .tasks import send_reminders_due  # the task module imports this one

    before = lead(kind)
    rows = [
        Reminder(session=s, kind=kind, due_at=target - before, target_at=target, created_at=now)
        for s in sessions
        if (target := _target(s, kind)) is not None
        and before > timedelta(0)
        and target - before > now
    ]
    Reminder.objects.bulk_create(rows)
    for moment in sorted({r.due_at for r in rows}):
        send_reminders_due.using(run_after=moment).enqueue()
    return len(rows)


def drop_pending(session: CoachingSession, *, now: datetime, note: str) -> None:
    """The session closed or was scheduled: what its pending reminders announce will not happen."""
    Reminder.objects.filter(session=session, status=ReminderStatus.PENDING).update(
        status=ReminderStatus.DROPPED, done_at=now, note=note
    )


def _recipients(session: CoachingSession, kind: ReminderKind) -> list[User | None]:
    if kind == ReminderKind.SESSION_START:
        # The people invited: the coach who holds it and each trainee.
        return list(
            User.objects.filter(
                pk__in=SessionAttendee.objects.filter(session=session).values("user_id")
            ).order_by("pk")
        )
    return [session.coach_user or session.coach_group]  # type: ignore[list-item]


def _text(session: CoachingSession, kind: ReminderKind) -> Callable[[User], str]:
    start = session.starts_at
    if kind == ReminderKind.SESSION_START and start is not None:
        return lambda user: TEXT_SESSION_REMINDER.format(start=format_moment(start, user.time_zone))
    expiry = session.expires_at
    return lambda user: TEXT_SUGGESTION_EXPIRING.format(
        expiry=format_moment(expiry, user.time_zone)
    )


@retry_on_conflict
def reminder_send(*, reminder_id: int, now: datetime | None = None) -> bool:
    """Send one reminder if it is due, pending and still true. True when this call sent it."""
    now = now or timezone.now()
    session_id = (
        Reminder.objects.filter(pk=reminder_id).values_list("session_id", flat=True).first()
    )
    if session_id is None:
        return False
    with transaction.atomic():
        # Session first, as every service locks it: a reschedule replacing this reminder and this
        # send then queue on one lock instead of deadlocking on two.
        session = (
            CoachingSession.objects.select_for_update(of=("self",))
            .select_related("coach_user", "coach_group")
            .filter(pk=session_id)
            .first()
        )
        reminder = Reminder.objects.select_for_update().filter(pk=reminder_id).first()
        if session is None or reminder is None or reminder.status != ReminderStatus.PENDING:
            return False
        if reminder.due_at > now:
            return False  # an early call (a clock behind); the task at the moment does it
        kind = ReminderKind(reminder.kind)
        target = _target(session, kind)
        if target != reminder.target_at or now >= reminder.target_at:
            reminder.status = ReminderStatus.DROPPED
            reminder.done_at = now
            reminder.note = (
                "the moment it announced has passed" if target == reminder.target_at else "moved"
            )
            reminder.save(update_fields=["status", "done_at", "note"])
            return False
        notify(
            kind=Kind.SESSION_REMINDER
            if kind == ReminderKind.SESSION_START
            else Kind.SUGGESTION_EXPIRING,
            session_id=session.pk,
            message=_text(session, kind),
            recipients=_recipients(session, kind),
            actor=None,
            now=now,
        )
        reminder.status = ReminderStatus.SENT
        reminder.done_at = now
        reminder.save(update_fields=["status", "done_at"])
    return True


def send_due_reminders(
    *, now: datetime | None = None, grace: timedelta | None = None, batch_size: int = 200
) -> int:
    """The backstop: send every pending reminder whose moment passed more than `grace` ago
    (its task is late or lost). Safe beside the workers and other sweeps."""
    now = now or timezone.now()
    grace = (
        timedelta(seconds=settings.COACHING_REMINDER_SWEEP_GRACE_SECONDS)
        if grace is None
        else grace
    )
    sent = 0
    last: tuple[datetime, int] | None = None
    while True:
        # The status written out, so that a worker's prepared statement keeps `reminder_due`.
        qs = Reminder.objects.filter(
            status=written(ReminderStatus.PENDING), due_at__lte=now - grace
        )
        if last is not None:
            qs = qs.filter(due_at__gte=last[0]).exclude(due_at=last[0], pk__lte=last[1])
        batch = list(qs.order_by("due_at", "pk").values_list("due_at", "pk")[:batch_size])
        if not batch:
            return sent
        for _, pk in batch:
            if reminder_send(reminder_id=pk, now=now):
                sent += 1
        last = batch[-1]
