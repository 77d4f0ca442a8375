"""E-mail delivery of notifications: at most once per notification, retried on failure.

A row moves pending -> sending (claimed, committed) -> sent. The claim is committed before the
mail leaves, so a worker killed mid-send leaves the row in `sending`; a rerun never sends it again.
The sweep turns such stale claims into `uncertain` for a person to look at, and re-queues pending
rows whose task was lost. A send that fails with an error (the server said no, the connection
broke before the message was accepted) goes back to pending with exponential back-off.
"""

from __future__ import annotations

import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from email.utils import make_msgid
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, mailers
from django.db import connections, transaction
from django.db.models import BooleanField, Case, Q, Value, When
from django.utils import timezone

from core.db import retry_on_conflict

from .calendar_mail import with_calendar
from .models import EmailStatus, Notification
from .notice_mail import NoticeEmail

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
    msg: EmailMessage = NoticeEmail(
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


# Notifications per delivery task (`notify` queues one task per this many), and rows read at once.
TASK_BATCH = 200
READ_CHUNK = 100


def _due(now: datetime) -> Q:
    # A row whose next attempt is later belongs to the task queued for that time. `_CLAIM_SQL`
    # writes the same condition out (test_claim_takes_a_due_row... pins it there).
    return Q(email_next_attempt_at__isnull=True) | Q(email_next_attempt_at__lte=now)


def _is(status: str, *also: Q) -> Case:
    """`email_status = status AND also...`, written as a CASE so that PostgreSQL looks rows up
    by primary key and never through the partial `notification_email_due` index: right after a
    burst (an expiry writing 180,000 notifications) that index's statistics still say it is
    empty, and a lookup by primary key walked every pending row instead (111 ms at 148,000)."""
    condition = Q(email_status=status)
    for q in also:
        condition &= q
    return Case(
        When(condition, then=Value(True)), default=Value(False), output_field=BooleanField()
    )


@retry_on_conflict
def _mark_sent(ids: list[int]) -> None:
    Notification.objects.filter(_is(EmailStatus.SENDING), pk__in=ids).update(
        email_status=EmailStatus.SENT, email_sent_at=timezone.now(), email_last_error=""
    )


# pending -> sending for one row and, in the same statement, sending -> sent for the batch's
# previous message (when there is one: `%(accepted)s` NULL matches no row). One SQL text for
# both, written once: the ORM spent more time building this UPDATE's CASE expressions than the
# mail server took to accept the message. Conditions are CASE expressions for the reason `_is`
# gives (the rows are found by primary key, never through the partial outbox index).
_CLAIM_SQL = """
UPDATE {table} SET
  email_status = CASE WHEN id = %(accepted)s THEN %(sent)s ELSE %(sending)s END,
  email_attempts = CASE WHEN id = %(accepted)s THEN email_attempts ELSE email_attempts + 1 END,
  email_claimed_at = CASE WHEN id = %(accepted)s THEN email_claimed_at ELSE %(now)s END,
  email_sent_at = CASE WHEN id = %(accepted)s THEN %(sent_at)s ELSE email_sent_at END,
  email_last_error = CASE WHEN id = %(accepted)s THEN '' ELSE email_last_error END
WHERE (id = %(claim)s AND CASE WHEN email_status = %(pending)s AND (email_next_attempt_at IS NULL
         OR email_next_attempt_at <= %(now)s) THEN 1 ELSE 0 END = 1)
   OR (id = %(accepted)s AND CASE WHEN email_status = %(sending)s THEN 1 ELSE 0 END = 1)
"""


@retry_on_conflict
def _claim(n: Notification, now: datetime, accepted: int | None) -> bool:
    """pending -> sending, committed before the message leaves. In the same statement (so one
    commit per message, not two) the batch's previous message, which the mail server accepted
    meanwhile, is recorded as sent."""
    from django.db import connection

    adapt = connection.ops.adapt_datetimefield_value
    params = {
        "claim": n.pk,
        "accepted": accepted,
        "now": adapt(now),
        "sent_at": adapt(timezone.now()),
        "pending": EmailStatus.PENDING.value,
        "sending": EmailStatus.SENDING.value,
        "sent": EmailStatus.SENT.value,
    }
    sql = _CLAIM_SQL.format(table=connection.ops.quote_name(Notification._meta.db_table))
    # In a transaction of its own, not autocommit: a worker killed while this statement waits
    # for a lock never sends the COMMIT, so its claim is rolled back instead of being recorded
    # by the server afterwards (the message would then never be sent).
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        changed = cursor.rowcount
    claimed = changed == (1 if accepted is None else 2)
    if accepted is not None and changed == 1:
        # Either the claim or the previous row's record did not apply; which one, the row says.
        claimed = (
            Notification.objects.filter(pk=n.pk)
            .values_list("email_status", "email_claimed_at")
            .first()
        ) == (EmailStatus.SENDING, now)
    if claimed:
        n.email_status = EmailStatus.SENDING
        n.email_attempts += 1
    return claimed


def lanes_for(count: int) -> int:
    """How many connections to the mail server a batch of `count` e-mails goes out over: one per
    EMAIL_CONNECTIONS_MIN_BATCH of them, at most EMAIL_CONNECTIONS. Each message waits for its
    committed claim and four round trips to the mail server; several connections at once overlap
    those waits (a remote relay's round trips are milliseconds each). One on SQLite, which takes
    one writer at a time, and inside a transaction, whose rows other connections cannot see."""
    from django.db import connection

    if connection.vendor == "sqlite" or connection.in_atomic_block:
        return 1
    return max(1, min(settings.EMAIL_CONNECTIONS, count // settings.EMAIL_CONNECTIONS_MIN_BATCH))


def deliver_batch(notification_ids: list[int], *, now: datetime | None = None) -> dict[str, int]:
    """Send the e-mails of these notifications that are still due. Each message alone is claimed
    (committed) before it leaves and marked sent once accepted, so a worker stopped mid-batch
    leaves at most one message per connection `sending` (later `uncertain`, never resent) and the
    rest pending for the rescue task queued first. A failure sends that message back to pending
    with back-off; the rest go on over a new connection. A large batch is shared among
    `lanes_for(...)` connections, each with its own thread and database connection. Returns how
    many ended in each status. Runs outside any transaction (as the worker runs it), so that each
    claim commits before its message leaves."""
    now = now or timezone.now()
    lanes = lanes_for(len(notification_ids))
    if lanes == 1:
        return _deliver_lane(notification_ids, now, rescue=True)
    _enqueue_rescue(notification_ids)
    # Interleaved, so that each lane's rows are read in the same order of primary key.
    shares = [notification_ids[i::lanes] for i in range(lanes)]
    counts: dict[str, int] = {}
    with ThreadPoolExecutor(lanes - 1, thread_name_prefix="email-lane") as pool:
        others = [pool.submit(_own_connection_lane, share, now) for share in shares[1:]]
        results = [_deliver_lane(shares[0], now, rescue=False)]
        results += [f.result() for f in others]
    for result in results:
        for status, n in result.items():
            counts[status] = counts.get(status, 0) + n
    return counts


def _own_connection_lane(notification_ids: list[int], now: datetime) -> dict[str, int]:
    try:
        return _deliver_lane(notification_ids, now, rescue=False)
    finally:
        # The thread ends with the batch: its database connection would otherwise stay open.
        connections.close_all()


def _deliver_lane(notification_ids: list[int], now: datetime, *, rescue: bool) -> dict[str, int]:
    """These e-mails, in order, over one connection to the mail server."""
    counts: dict[str, int] = {}
    mailer: Any = None
    accepted: int | None = None  # sent, not yet recorded

    def count(status: str, n: int = 1) -> None:
        counts[status] = counts.get(status, 0) + n

    try:
        for start in range(0, len(notification_ids), READ_CHUNK):
            rows = list(
                Notification.objects.select_related("recipient", "session")
                .filter(_is(EmailStatus.PENDING, _due(now)))
                .filter(pk__in=notification_ids[start : start + READ_CHUNK])
                .order_by("pk")
            )
            if rescue and start == 0 and (len(rows) > 1 or len(notification_ids) > READ_CHUNK):
                _enqueue_rescue(notification_ids)
            skipped = [
                n.pk
                for n in rows
                if not (
                    n.recipient.is_active and n.recipient.email and n.recipient.email_notifications
                )
            ]
            if skipped:
                count(
                    EmailStatus.SKIPPED,
                    Notification.objects.filter(_is(EmailStatus.PENDING), pk__in=skipped).update(
                        email_status=EmailStatus.SKIPPED
                    ),
                )
            for n in rows:
                if n.pk in skipped:
                    continue
                claimed = _claim(n, now, accepted)
                accepted = None
                if not claimed:
                    continue  # another worker got there first
                try:
                    if mailer is None:
                        mailer = mailers.default
                        mailer.open()
                    mailer.send_messages([_build_message(n)])
                except Exception as exc:  # any failure to hand the message over: later again
                    count(_record_failure(n.pk, exc, now))
                    with contextlib.suppress(Exception):
                        mailer.close()
                    mailer = None
                    continue
                accepted = n.pk  # recorded with the next claim, or below
                count(EmailStatus.SENT)
        if accepted is not None:
            _mark_sent([accepted])
            accepted = None
    finally:
        if mailer is not None:
            with contextlib.suppress(Exception):
                mailer.close()
    return counts


def _enqueue_rescue(notification_ids: list[int]) -> None:
    """Queue this batch again for later, committed before its first message leaves. A worker
    stopped mid-batch (killed, its machine gone) leaves its task `RUNNING` for ever, and the
    task queue never gives it to another worker; the rescue sends what is still due then, so
    the rest of the batch is not left waiting for the sweep. When the batch went through, the
    rescue finds nothing due and queues nothing further; when it is stopped as well, the
    rescue it queued takes over. Claims keep every message to at most one send whichever task
    gets to it, so a rescue that starts while a slow batch is still going only shares it."""
    from .tasks import deliver_emails

    run_after = timezone.now() + timedelta(seconds=settings.EMAIL_BATCH_RESCUE_SECONDS)
    deliver_emails.using(run_after=run_after).enqueue(notification_ids)


def deliver(notification_id: int, *, now: datetime | None = None) -> str:
    """Send one notification's e-mail if it is still due. Returns the resulting status."""
    deliver_batch([notification_id], now=now)
    current = (
        Notification.objects.filter(pk=notification_id)
        .values_list("email_status", flat=True)
        .first()
    )
    return current or "missing"


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
    from .tasks import deliver_emails

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
        for start in range(0, len(due), TASK_BATCH):
            deliver_emails.enqueue(due[start : start + TASK_BATCH])
        requeued = len(due)
        # Not again for five minutes, whatever the new task's fate.
        Notification.objects.filter(_is(EmailStatus.PENDING), pk__in=due).update(
            email_next_attempt_at=now
        )
    return {"uncertain": uncertain, "requeued": requeued}
