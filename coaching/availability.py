"""Who is busy when: the conflict check of scheduling and rescheduling, and the free slots the
schedule form proposes. Reads only (selectors).

A person is busy during every scheduled session they attend (`SessionAttendee` rows with
`busy=True`: the coach who holds it and each trainee user, groups expanded when it was scheduled).
Each question is one query on the `attendee_busy` index (user, starts_at): per person, a range scan
of the window widened by the longest possible session, so its cost follows the people asked
about and the window, not the number of sessions in the table or in their history.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from core.errors import FieldCode, FieldError, PermissionDenied, ValidationFailed
from directory.models import User, UserGroup
from directory.working_hours import stored_or_default, working_intervals

from .models import CoachingSession, SessionAttendee
from .policies import is_coach
from .rules import DURATION_MAX, group_active_member_ids
from .selectors import sessions_visible_to

GRID = timedelta(minutes=15)
FREE_SLOTS_WINDOW_MAX = timedelta(days=31)
FREE_SLOTS_LIMIT_MAX = 50


@dataclass(frozen=True)
class Busy:
    user_id: int
    session_id: int
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class Clash:
    """One conflict as the caller may learn it: who, when, and the other session's id and title
    only where the caller may see that session."""

    user: User
    starts_at: datetime
    ends_at: datetime
    session_id: int | None
    title: str | None


def people_of(
    *,
    coach: User | None,
    trainee_users: Iterable[User],
    trainee_groups: Iterable[UserGroup],
) -> list[int]:
    """The user ids who would attend: the coach person and every active trainee user, trainee
    groups expanded to their active members now. Coach first, nobody twice."""
    ids: dict[int, None] = {}
    if coach is not None:
        ids[coach.pk] = None
    for user in trainee_users:
        if user.is_active:
            ids[user.pk] = None
    members = group_active_member_ids([g.pk for g in trainee_groups])
    for gid in sorted(members):
        for uid in sorted(members[gid]):
            ids[uid] = None
    return list(ids)


def busy_rows(
    user_ids: Collection[int],
    start: datetime,
    end: datetime,
    *,
    exclude_session_id: int | None = None,
) -> QuerySet[SessionAttendee]:
    """Scheduled sessions of these people overlapping [start, end). Touching intervals (one ends
    when the other starts) do not overlap. The lower bound on `starts_at` (no session is longer
    than DURATION_MAX) keeps the scan inside the window on the (user, starts_at) index."""
    qs = SessionAttendee.objects.filter(
        busy=True,
        user_id__in=list(user_ids),
        starts_at__lt=end,
        starts_at__gt=start - timedelta(minutes=DURATION_MAX),
        ends_at__gt=start,
    )
    if exclude_session_id is not None:
        qs = qs.exclude(session_id=exclude_session_id)
    return qs.order_by("starts_at", "user_id", "session_id")


def busy_intervals(
    user_ids: Collection[int],
    start: datetime,
    end: datetime,
    *,
    exclude_session_id: int | None = None,
) -> list[Busy]:
    return [
        Busy(uid, sid, s, e)
        for uid, sid, s, e in busy_rows(
            user_ids, start, end, exclude_session_id=exclude_session_id
        ).values_list("user_id", "session_id", "starts_at", "ends_at")
    ]


def clashes(
    viewer: User,
    user_ids: Collection[int],
    starts_at: datetime,
    ends_at: datetime,
    *,
    exclude_session_id: int | None = None,
) -> list[Clash]:
    """The conflicts of a session planned at [starts_at, ends_at) for these people, as `viewer`
    may be told of them (each clash: the person, the other session's time, and its id and title
    where `viewer` may see it). Three queries whatever the number of people and clashes."""
    rows = list(
        busy_rows(user_ids, starts_at, ends_at, exclude_session_id=exclude_session_id)
        .select_related("user", "session")
        .only(
            "user_id",
            "session_id",
            "starts_at",
            "ends_at",
            "user__username",
            "user__display_name",
            "user__first_name",
            "user__last_name",
            "user__is_active",
            "session__title",
        )
    )
    if not rows:
        return []
    visible = set(
        sessions_visible_to(viewer)
        .filter(pk__in={r.session_id for r in rows})
        .values_list("pk", flat=True)
    )
    return [
        Clash(
            user=r.user,
            starts_at=r.starts_at,
            ends_at=r.ends_at,
            session_id=r.session_id if r.session_id in visible else None,
            title=r.session.title if r.session_id in visible else None,
        )
        for r in rows
    ]


def _ceil_to_grid(moment: datetime) -> datetime:
    """The next 15-minute mark at or after `moment`. Every time zone in use today is a whole
    number of quarter hours from UTC, so marks in UTC are marks on every wall clock."""
    base = moment.replace(second=0, microsecond=0)
    if base < moment:
        base += timedelta(minutes=1)
    extra = base.minute % 15
    return base + timedelta(minutes=(15 - extra) % 15)


def free_slots(
    *,
    coach: User,
    user_ids: Collection[int],
    duration: timedelta,
    start: datetime,
    end: datetime,
    now: datetime,
    limit: int = 10,
    exclude_session_id: int | None = None,
) -> list[tuple[datetime, datetime]]:
    """The first `limit` times in [start, end), on the 15-minute grid, inside the coach's working
    hours (in the coach's time zone), when the coach and every one of `user_ids` is free, none of
    them before `now`. A slot lies within one working range (a lunch break splits a day)."""
    start = max(start, now)
    if start >= end or limit <= 0:
        return []
    people = {coach.pk, *user_ids}
    busy = sorted(
        (b.starts_at, b.ends_at)
        for b in busy_intervals(people, start, end, exclude_session_id=exclude_session_id)
    )
    hours = stored_or_default(coach.working_hours)
    slots: list[tuple[datetime, datetime]] = []
    i = 0  # busy intervals ending at or before the candidate are behind us for good
    for window_start, window_end in working_intervals(hours, coach.time_zone, start, end):
        candidate = _ceil_to_grid(window_start)
        while candidate + duration <= window_end:
            slot_end = candidate + duration
            while i < len(busy) and busy[i][1] <= candidate:
                i += 1
            # A busy interval that overlaps pushes the candidate past its end.
            blocked_until: datetime | None = None
            for busy_start, busy_end in busy[i:]:
                if busy_start >= slot_end:
                    break
                if busy_end > candidate:
                    blocked_until = max(blocked_until or busy_end, busy_end)
            if blocked_until is None:
                slots.append((candidate, slot_end))
                if len(slots) >= limit:
                    return slots
                candidate += GRID
            else:
                candidate = _ceil_to_grid(blocked_until)
    return slots


def free_slots_for(
    viewer: User,
    session: CoachingSession,
    *,
    duration_minutes: int | None,
    start: datetime | None,
    end: datetime | None,
    limit: int = 10,
    now: datetime | None = None,
) -> list[tuple[datetime, datetime]]:
    """The free slots of a session as its coach asks for them: the people who would attend (the
    coach person and every trainee user, groups expanded now), the session itself not counted as
    busy. For the coach, or a member of the coach group; `session` as `access_session` gave it to
    the viewer."""
    now = now or timezone.now()
    if not is_coach(viewer, session):
        raise PermissionDenied("Only the session's coach may look for free slots.")
    errors: list[FieldError] = []
    for name, value in (("from", start), ("to", end)):
        if value is not None and timezone.is_naive(value):
            errors.append(FieldError(name, FieldCode.INVALID, f"Give `{name}` with its time zone."))
    if errors:
        raise ValidationFailed(errors)
    start = start or now
    end = end or start + FREE_SLOTS_WINDOW_MAX
    if end <= start:
        errors.append(FieldError("to", FieldCode.INVALID, "`to` must be after `from`."))
    elif end - start > FREE_SLOTS_WINDOW_MAX:
        errors.append(
            FieldError("to", FieldCode.OUT_OF_RANGE, "`to` may be at most 31 days after `from`.")
        )
    if errors:
        raise ValidationFailed(errors)
    coach = session.coach_user or viewer
    people = people_of(
        coach=coach,
        trainee_users=session.trainee_users.all(),
        trainee_groups=session.trainee_groups.all(),
    )
    minutes = duration_minutes or session.duration_minutes or 30
    return free_slots(
        coach=coach,
        user_ids=people,
        duration=timedelta(minutes=minutes),
        start=start,
        end=end,
        now=now,
        limit=limit,
        exclude_session_id=session.pk,
    )
