"""Writing notifications (inside the caller's transaction) and marking them read."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.db import retry_on_conflict
from core.errors import NotFound
from directory.models import User, UserGroup, UserGroupMembership

from .models import EmailStatus, Kind, Notification
from .tasks import deliver_email

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
) -> list[Notification]:
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
    rows = Notification.objects.bulk_create(
        [
            Notification(
                recipient_id=uid,
                kind=kind,
                message=texts[uid],
                calendar=calendar,
                session_id=session_id,
                created_at=now,
                email_status=EmailStatus.PENDING,
                # Real time, not the business `now` (which the demo back-dates): due at once.
                email_next_attempt_at=timezone.now(),
            )
            for uid in ids
        ]
    )
    if not all(n.pk for n in rows):  # backends that return no keys from bulk_create
        rows = list(
            Notification.objects.filter(
                session_id=session_id, kind=kind, created_at=now, recipient_id__in=ids
            )
        )
    for n in rows:
        deliver_email.enqueue(n.pk)
    return rows


def notifications_for(user: User, *, unread_only: bool = False) -> QuerySet[Notification]:
    qs = Notification.objects.filter(recipient=user)
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return qs.select_related("session").order_by("-created_at", "-id")


def unread_count(user: User) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


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
