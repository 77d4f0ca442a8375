"""Writing notifications (inside the caller's transaction) and marking them read."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from core import shapes
from core.db import retry_on_conflict
from core.errors import NotFound
from core.inserts import insert_rows
from core.paging import told_total
from core.shapes import Shape
from directory.models import User, UserGroup, UserGroupMembership

from .models import EmailStatus, Kind, Notification

if TYPE_CHECKING:
    from coaching.models import CalendarRevision

Recipient = User | UserGroup | None


def expand_recipients(recipients: Iterable[Recipient], *, exclude: User | None) -> list[int]:
    """User ids to notify: groups expand to their active members, inactive or removed users are
    dropped, nobody twice, and never the person who acted."""
    user_ids: dict[int, None] = {}
    group_ids: list[int] = []
    for r in recipients:
        if r is None:
            continue
        if isinstance(r, UserGroup):
            group_ids.append(r.pk)
        elif r.is_active:
            user_ids[r.pk] = None
    if group_ids:
        for uid in (
            UserGroupMembership.objects.filter(group_id__in=group_ids, user__is_active=True)
            .order_by("user_id")
            .values_list("user_id", flat=True)
        ):
            user_ids[uid] = None
    if exclude is not None:
        user_ids.pop(exclude.pk, None)
    return list(user_ids)


def notify(
    *,
    kind: Kind,
    session_id: int,
    message: str | Callable[[User], str],
    recipients: Iterable[Recipient],
    actor: User | None,
    now: datetime | None = None,
    skip: Iterable[Recipient] = (),
    calendar: CalendarRevision | None = None,
) -> list[int]:
    """Write one notification per recipient (but none to those in `skip`) and queue its e-mail.

    Must run inside the transaction of the change it reports. The e-mail task row lives in the
    same database, so it is written in that transaction too: it commits (or rolls back) with the
    notification, and no crash between commit and an on-commit hook can lose it. The worker only
    sees it once committed.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("notify() belongs inside the transaction of the change it reports")
    now = now or timezone.now()
    ids = expand_recipients(recipients, exclude=actor)
    if skip:
        told = set(expand_recipients(skip, exclude=None))
        ids = [uid for uid in ids if uid not in told]
    if not ids:
        return []
    if callable(message):
        # A text naming a time is written in each recipient's own zone.
        people = User.objects.only("id", "time_zone").in_bulk(ids)
        texts = {uid: message(people[uid]) for uid in ids}
    else:
        texts = dict.fromkeys(ids, message)
    # Real time, not the business `now` (which the demo back-dates): due at once.
    due = timezone.now()
    calendar_id = calendar.pk if calendar is not None else None
    written = _write([(uid, kind, texts[uid], calendar_id, session_id, now, due) for uid in ids])
    if not all(written):  # backends that return no keys from an insert
        written = list(
            Notification.objects.filter(
                session_id=session_id, kind=kind, created_at=now, recipient_id__in=ids
            ).values_list("pk", flat=True)
        )
    _queue_email(written)
    return written


# What a new notification is written with; the other columns take their defaults (unread, no
# e-mail attempt yet).
_WRITTEN = (
    "recipient",
    "kind",
    "message",
    "calendar",
    "session",
    "created_at",
    "email_next_attempt_at",
    "email_status",
)
Pending = tuple[int, str, str, int | None, int, datetime, datetime]


def _write(rows: list[Pending]) -> list[Any]:
    """Insert pending notifications, each (recipient, kind, message, calendar, session, created,
    due): one statement whatever their number (`core.inserts`)."""
    return insert_rows(Notification, _WRITTEN, [(*row, EmailStatus.PENDING) for row in rows])


def notify_many(
    *,
    kind: Kind,
    message: str,
    recipients: dict[int, list[tuple[str, int | None]]],
    actor: User | None,
    now: datetime | None = None,
) -> int:
    """`notify` for many sessions at once (the expiry sweep): `recipients` maps a session id to
    its recipients as `("user", id)` / `("group", id)`. The same rules (groups expanded to active
    members, inactive users dropped, nobody twice per session, never the actor) in three
    queries whatever the number of sessions. Returns the number of notifications written."""
    assert transaction.get_connection().in_atomic_block, (
        "notify_many() belongs inside the change's transaction"
    )
    now = now or timezone.now()
    user_ids = {pk for refs in recipients.values() for kind_, pk in refs if kind_ == "user" and pk}
    group_ids = {
        pk for refs in recipients.values() for kind_, pk in refs if kind_ == "group" and pk
    }
    active = set(User.objects.filter(pk__in=user_ids, is_active=True).values_list("pk", flat=True))
    members: dict[int, list[int]] = {}
    for gid, uid in (
        UserGroupMembership.objects.filter(group_id__in=group_ids, user__is_active=True)
        .order_by("group_id", "user_id")
        .values_list("group_id", "user_id")
    ):
        members.setdefault(gid, []).append(uid)
    rows: list[Pending] = []
    due = timezone.now()
    for session_id, refs in recipients.items():
        ids: dict[int, None] = {}
        for kind_, pk in refs:
            if kind_ == "user" and pk in active:
                ids[pk] = None
            elif kind_ == "group" and pk is not None:
                ids.update(dict.fromkeys(members.get(pk, [])))
        if actor is not None:
            ids.pop(actor.pk, None)
        rows += [(uid, kind, message, None, session_id, now, due) for uid in ids]
    if not rows:
        return 0
    written = _write(rows)
    if not all(written):  # backends that return no keys from an insert
        written = list(
            Notification.objects.filter(
                session_id__in=list(recipients), kind=kind, created_at=now
            ).values_list("pk", flat=True)
        )
    _queue_email(written)
    return len(written)


def _queue_email(ids: list[int]) -> None:
    from .delivery import TASK_BATCH
    from .tasks import deliver_emails

    # One task per batch of recipients, not per notification: a 50-member coach group costs
    # one task row, and the worker sends the batch over one connection. Ahead of housekeeping
    # (expiry tasks) in the queue: people wait for these.
    task = deliver_emails.using(priority=10)
    for start in range(0, len(ids), TASK_BATCH):
        task.enqueue(ids[start : start + TASK_BATCH])


def received(recipient_id: int, *, unread_only: bool = False) -> QuerySet[Notification]:
    """The one definition of someone's inbox (all, or the unread), unordered: the page, the
    API's page and every count of it start here."""
    qs = Notification.objects.filter(recipient_id=recipient_id)
    return qs.filter(read_at__isnull=True) if unread_only else qs


# Newest first, the inbox's one order.
INBOX_ORDER = ("-created_at", "-id")


def notifications_for(user: User, *, unread_only: bool = False) -> QuerySet[Notification]:
    return (
        received(user.pk, unread_only=unread_only)
        .select_related("session")
        .defer(*_SESSION_UNREAD)
        .order_by(*INBOX_ORDER)
    )


# A notification shows its session's title (and links to it by id): the other columns of the
# session are not read with the inbox.
_SESSION_UNREAD = tuple(
    f"session__{f.name}"
    for f in Notification._meta.get_field("session").related_model._meta.concrete_fields
    if f.name not in ("id", "title")
)


# Every page's header counts the viewer's unread notifications: compiled once per process.
UNREAD = Shape(
    "notifications.unread",
    Notification,
    lambda a: received(a.viewer.pk, unread_only=True),
)


def unread_count(user: User) -> int:
    return UNREAD.bind(viewer=user).count()


RECEIVED = Shape("notifications.received", Notification, lambda a: received(a.viewer.pk))


# The API's page of the inbox: each answer's field and the column it is read from (the
# session's title joined).
INBOX_FIELDS = {
    "id": "id",
    "kind": "kind",
    "message": "message",
    "session_id": "session_id",
    "session_title": "session__title",
    "created_at": "created_at",
    "read_at": "read_at",
}
INBOX_COLUMNS = tuple(INBOX_FIELDS)
INBOX = Shape(
    "notifications.inbox",
    Notification,
    lambda a: (
        received(a.viewer.pk, unread_only=a.options["unread_only"] is True)
        .order_by(*INBOX_ORDER)
        .values_list(*INBOX_FIELDS.values())
    ),
)


def inbox_page(
    user: User, *, unread_only: bool, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int, int]:
    """A page of the user's notifications (newest first, as dicts of INBOX_COLUMNS), their
    total and the unread total, in at most two statements: the page, then both totals in one
    (`shapes.counts`), or none where the page tells them (a page that is not full ends the list;
    with `unread_only` the total is the unread total)."""
    rows = INBOX.bind(viewer=user, options={"unread_only": unread_only}).rows(
        limit=limit, offset=offset
    )
    items = [dict(zip(INBOX_COLUMNS, row, strict=True)) for row in rows]
    told = told_total(items, limit=limit, offset=offset)
    if unread_only:
        total = unread_count(user) if told is None else told
        return items, total, total
    if told is not None:
        return items, told, unread_count(user)
    total, unread = shapes.counts([RECEIVED.bind(viewer=user), UNREAD.bind(viewer=user)])
    return items, total, unread


@retry_on_conflict
def notification_mark_read(*, user: User, notification_id: int) -> Notification:
    with transaction.atomic():
        n = (
            Notification.objects.select_for_update()
            .filter(pk=notification_id, recipient=user)
            .first()
        )
        if n is None:
            raise NotFound("There is no such notification.")
        if n.read_at is None:
            n.read_at = timezone.now()
            n.save(update_fields=["read_at"])
        return n


def notification_mark_all_read(*, user: User) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )
