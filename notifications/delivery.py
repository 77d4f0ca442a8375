"""E-mail delivery of notifications: at most once per notification, retried on failure.

A row moves pending -> sending (claimed, committed) -> sent. The claim is committed before the
mail leaves, so a worker killed mid-send leaves the row in `sending`; a rerun never sends it again.
The sweep turns such stale claims into `uncertain` for a person to look at, and re-queues pending
rows whose task was lost. A send that fails with an error (the server said no, the connection
broke before the message was accepted) goes back to pending with exponential back-off.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMessage, mailers
from django.db import transaction
from django.utils import timezone

from core.db import retry_on_conflict

from .calendar_mail import with_calendar
from .models import EmailStatus, Notification

log = logging.getLogger(__name__)


def _build_message(n: Notification) -> EmailMessage:
    session = n.session
    link = f"{settings.SITE_URL}/sessions/{session.pk}/"
    body = (
        f"Hello {n.recipient},\n\n"
        f"{n.message}\n\n"
        f"Coaching session: {session.title}\n"
        f"Open it: {link}\n\n"
        "You receive this because e-mail notifications are on in your profile.\n"
    )
    msg = EmailMessage(
        subject=f"{n.message[:120]} - {session.title[:80]}",
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[n.recipient.email],
        # A stable Message-ID lets receiving systems recognise the message as one and the same.
        headers={
            "Message-ID": make_msgid(idstring=f"notification-{n.pk}", domain="coaching.local")
        },
    )
    if n.calendar is not None:
        msg = with_calendar(msg, ics=n.calendar.ics, method=n.calendar.method)
    return msg


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=settings.EMAIL_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0))


@retry_on_conflict
def _claim(notification_id: int, now: datetime) -> Notification | None:
    with transaction.atomic():
        # Only the notification's own row: locking its recipient and session too (as a plain
        # FOR UPDATE over the join does) deadlocks with every state change that writes a
        # notification for that user on that session at the same moment. It waits for a lock
        # held on this row rather than skipping it: the holder (a user marking it read, the
        # sweep) is quick, and a skipped e-mail would wait for the sweep.
        n = (
            Notification.objects.select_for_update(of=("self",))
            .select_related("recipient", "session")
            .filter(pk=notification_id)
            .first()
        )
        if n is None or n.email_status != EmailStatus.PENDING:
            return None
        if n.email_next_attempt_at is not None and n.email_next_attempt_at > now:
            return None  # a later task owns the next attempt
        user = n.recipient
        if not (user.is_active and user.email and user.email_notifications):
            n.email_status = EmailStatus.SKIPPED
            n.save(update_fields=["email_status"])
            return None
        n.email_status = EmailStatus.SENDING
        n.email_attempts += 1
        n.email_claimed_at = now
        n.save(update_fields=["email_status", "email_attempts", "email_claimed_at"])
        return n


def deliver(notification_id: int, *, now: datetime | None = None) -> str:
    """Send one notification's e-mail if it is still due. Returns the resulting status."""
    now = now or timezone.now()
    n = _claim(notification_id, now)
    if n is None:
        current = (
            Notification.objects.filter(pk=notification_id)
            .values_list("email_status", flat=True)
            .first()
        )
        return current or "missing"
    try:
        mailers.default.send_messages([_build_message(n)])
    except Exception as exc:  # any failure to hand the message over: try again later
        return _record_failure(n.pk, exc, now)
    _mark_sent(n.pk)
    return EmailStatus.SENT


@retry_on_conflict
def _mark_sent(notification_id: int) -> None:
    Notification.objects.filter(pk=notification_id, email_status=EmailStatus.SENDING).update(
        email_status=EmailStatus.SENT, email_sent_at=timezone.now(), email_last_error=""
    )


@retry_on_conflict
def _record_failure(notification_id: int, exc: Exception, now: datetime) -> str:
    from .tasks import deliver_email

    with transaction.atomic():
        n = Notification.objects.select_for_update(of=("self",)).get(pk=notification_id)
        if n.email_status != EmailStatus.SENDING:
            return n.email_status
        n.email_last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if n.email_attempts >= settings.EMAIL_MAX_ATTEMPTS:
            n.email_status = EmailStatus.FAILED
            log.error(
                "Giving up e-mail for notification %s after %s attempts: %s",
                n.pk,
                n.email_attempts,
                exc,
            )
        else:
            n.email_status = EmailStatus.PENDING
            n.email_next_attempt_at = now + backoff(n.email_attempts)
            deliver_email.using(run_after=n.email_next_attempt_at).enqueue(n.pk)
            log.warning(
                "E-mail for notification %s failed (attempt %s), retrying at %s: %s",
                n.pk,
                n.email_attempts,
                n.email_next_attempt_at,
                exc,
            )
        n.save(update_fields=["email_status", "email_last_error", "email_next_attempt_at"])
        return n.email_status


@retry_on_conflict
def sweep_email(
    *, now: datetime | None = None, stale_after: timedelta | None = None
) -> dict[str, int]:
    """Cron-safe housekeeping: stale claims become `uncertain`; due pending rows get a new task
    (the task is idempotent, so an extra one is harmless)."""
    from .tasks import deliver_email

    now = now or timezone.now()
    stale_after = stale_after or timedelta(seconds=settings.EMAIL_CLAIM_TIMEOUT_SECONDS)
    uncertain = Notification.objects.filter(
        email_status=EmailStatus.SENDING, email_claimed_at__lt=now - stale_after
    ).update(
        email_status=EmailStatus.UNCERTAIN,
        email_last_error="The worker stopped while sending; not resent.",
    )
    requeued = 0
    with transaction.atomic():
        # A row a worker holds right now is being delivered: it needs no new task.
        due = list(
            Notification.objects.select_for_update(of=("self",), skip_locked=True)
            .filter(
                email_status=EmailStatus.PENDING,
                email_next_attempt_at__lte=now - timedelta(minutes=5),
            )
            .order_by("pk")
            .values_list("pk", flat=True)[:1000]
        )
        for pk in due:
            deliver_email.enqueue(pk)
            requeued += 1
        # Not again for five minutes, whatever the new task's fate.
        Notification.objects.filter(pk__in=due, email_status=EmailStatus.PENDING).update(
            email_next_attempt_at=now
        )
    return {"uncertain": uncertain, "requeued": requeued}
