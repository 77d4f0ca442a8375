"""Every change to a coaching session. Nothing else writes these rows.

Each service runs in one transaction: it locks the session row and re-checks who may act and that
the session's state allows it (`policies.access_session`), validates through `rules`, writes the
change, the audit event (`audit`) and the notifications (`messaging`) together, and queues e-mail
and expiry in that same transaction. A refused request raises an `ApplicationError` and leaves
nothing behind.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.db import retry_on_conflict
from core.errors import FieldError, ScheduleConflict, ValidationFailed, VersionConflict
from core.timeutils import default_expiry
from directory.models import User
from directory.parties import PartyRef
from qa.effect import refresh_effect_windows
from qa.locks import share_agents_in_area

from . import audit, availability, calendar, policies, reminders
from .messaging import announce, holder
from .models import (
    Action,
    AttendeeRole,
    CalendarMethod,
    CalendarRevision,
    CancelReason,
    CoachingSession,
    Origin,
    ReminderKind,
    SessionAttendee,
    SessionReferenceCase,
    SessionTraineeGroup,
    SessionTraineeUser,
    State,
)
from .policies import Verb, access_session
from .rules import (
    TRAINEES_MAX,
    ResolvedFields,
    SessionFields,
    clean_comment,
    clean_completion,
    clean_origin,
    clean_reason,
    clean_schedule,
    group_active_member_ids,
    validate_session_fields,
)

# The columns the form's fields are stored in (the many-to-many ones are set apart).
FORM_COLUMNS = ["title", "coach_user", "coach_group", "coaching_area", "expires_at"]
SCHEDULE_COLUMNS = [
    "state",
    "starts_at",
    "duration_minutes",
    "location",
    "scheduled_by",
    "scheduled_at",
]
CALENDAR_COLUMNS = ["calendar_uid", "calendar_sequence"]
CANCEL_COLUMNS = [
    "state",
    "cancel_reason",
    "cancel_note",
    "canceled_by",
    "canceled_by_name",
    "canceled_at",
]
DECLINED = {
    CancelReason.DECLINED_BY_COACH: Action.DECLINED_BY_COACH,
    CancelReason.DECLINED_BY_TRAINEE: Action.DECLINED_BY_TRAINEE,
}


# --- helpers -----------------------------------------------------------------------------------
def resolved_of(session: CoachingSession) -> ResolvedFields:
    return ResolvedFields(
        title=session.title,
        coach_user=session.coach_user,
        coach_group=session.coach_group,
        trainee_users=list(session.trainee_users.all()),
        trainee_groups=list(session.trainee_groups.all()),
        coaching_area=session.coaching_area,
        expires_at=session.expires_at,
        reference_cases=list(session.reference_cases.all()),
    )


def _resolved(
    fields: SessionFields,
    *,
    author: User | None,
    actor: User,
    now: datetime,
    current: ResolvedFields | None = None,
    more_errors: list[FieldError] | None = None,
) -> ResolvedFields:
    """The form's fields resolved, or ValidationFailed listing every rule they break."""
    resolved, errors = validate_session_fields(
        fields, author=author, actor_tz=actor.time_zone, now=now, current=current
    )
    errors += more_errors or []
    if errors:
        raise ValidationFailed(errors)
    return resolved


def _lock_trainees(r: ResolvedFields, *, unchanged_area_id: int | None = None) -> None:
    """Take the (area, agent) locks of every trainee user, directly or through a group, before the
    session is written: a rule reaching one of them at this instant waits for this transaction,
    then finds this session and skips them (`qa.locks`)."""
    area_id = r.coaching_area.pk if r.coaching_area is not None else unchanged_area_id
    if area_id is None:
        return
    ids = {u.pk for u in r.trainee_users}
    if r.trainee_groups:
        for members in group_active_member_ids(g.pk for g in r.trainee_groups).values():
            ids |= members
    share_agents_in_area(coaching_area_id=area_id, agent_ids=ids)


def _store(session: CoachingSession, r: ResolvedFields, save: Callable[[], None]) -> None:
    """Put the resolved fields on the session, save it (`save`), then set its relations."""
    session.title = r.title
    session.coach_user = r.coach_user
    session.coach_group = r.coach_group
    if r.coaching_area is not None:
        session.coaching_area = r.coaching_area
    if r.expires_at is not None:
        session.expires_at = r.expires_at
    fresh = session._state.adding
    save()
    if fresh:
        # A new session has no links yet: write them without first reading what there is (three
        # queries fewer per suggestion than `set`).
        SessionTraineeUser.objects.bulk_create(
            SessionTraineeUser(session=session, user_id=pk)
            for pk in dict.fromkeys(u.pk for u in r.trainee_users)
        )
        SessionTraineeGroup.objects.bulk_create(
            SessionTraineeGroup(session=session, group_id=pk)
            for pk in dict.fromkeys(g.pk for g in r.trainee_groups)
        )
        SessionReferenceCase.objects.bulk_create(
            SessionReferenceCase(session=session, case_id=pk)
            for pk in dict.fromkeys(c.pk for c in r.reference_cases)
        )
        return
    session.trainee_users.set(r.trainee_users)
    session.trainee_groups.set(r.trainee_groups)
    session.reference_cases.set(r.reference_cases)


def _touch(session: CoachingSession, now: datetime, fields: list[str]) -> None:
    session.version += 1
    session.updated_at = now
    session.save(update_fields=[*fields, "version", "updated_at"])


def _schedule_expiry(session: CoachingSession) -> None:
    from .tasks import expire_suggestion  # the task module imports this one

    expire_suggestion.using(run_after=session.expires_at).enqueue(session.pk)


def _cancel(
    session: CoachingSession,
    *,
    reason: CancelReason,
    action: Action,
    note: str = "",
    actor: User | None,
    now: datetime,
) -> None:
    """Cancel the session, record why and tell those `messaging` names. A session that was
    scheduled also frees its people's time and sends its calendars a cancellation."""
    was_scheduled = session.state == State.SCHEDULED
    session.state = State.CANCELED
    session.cancel_reason = reason
    session.cancel_note = note
    session.canceled_by = actor
    session.canceled_by_name = str(actor) if actor is not None else ""
    session.canceled_at = now
    if was_scheduled:
        session.calendar_sequence += 1
    reminders.drop_pending(session, now=now, note="canceled")
    _touch(session, now, CANCEL_COLUMNS + (["calendar_sequence"] if was_scheduled else []))
    audit.record(
        session, actor=actor, action=action, changes={"reason": note} if note else {}, now=now
    )
    revision = None
    if was_scheduled:
        SessionAttendee.objects.filter(session=session).update(busy=False)
        revision = _calendar_revision(session, CalendarMethod.CANCEL, now)
    announce(action, session, actor=actor, now=now, calendar=revision)


# --- the verbs ---------------------------------------------------------------------------------
@retry_on_conflict
def session_suggest(
    *,
    actor: User,
    fields: SessionFields,
    origin: str = Origin.HOMEPAGE,
    now: datetime | None = None,
) -> CoachingSession:
    now = now or timezone.now()
    if (refused := policies.suggest_denial(actor)) is not None:
        raise refused
    if errors := clean_origin(origin):
        raise ValidationFailed(errors)
    if fields.expires_at is None:
        fields = replace(fields, expires_at=default_expiry(tz_name=actor.time_zone, now=now))
    with transaction.atomic():
        resolved = _resolved(fields, author=actor, actor=actor, now=now)
        _lock_trainees(resolved)
        session = CoachingSession(
            state=State.SUGGESTED,
            suggested_by=actor,
            suggested_by_name=str(actor),
            origin=origin,
            created_at=now,
            updated_at=now,
        )
        _store(session, resolved, session.save)
        audit.record(
            session, actor=actor, action=Action.SUGGESTED, changes=audit.snapshot(resolved), now=now
        )
        announce(Action.SUGGESTED, session, actor=actor, now=now)
        _schedule_expiry(session)
        reminders.plan(session, ReminderKind.SUGGESTION_EXPIRY, now=now, fresh=True)
    return session


@retry_on_conflict
def session_edit(
    *,
    actor: User,
    session_id: int,
    fields: SessionFields,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> CoachingSession:
    now = now or timezone.now()
    with transaction.atomic():
        session = access_session(actor, session_id, Verb.EDIT, for_update=True, now=now)
        if expected_version is not None and expected_version != session.version:
            raise VersionConflict(
                f"The suggestion was changed meanwhile (version {session.version}, "
                f"you had {expected_version})."
            )
        before = resolved_of(session)
        resolved = _resolved(
            fields, author=session.suggested_by, actor=actor, now=now, current=before
        )
        changes = audit.diff(audit.snapshot(before), audit.snapshot(resolved))
        if not changes:
            return session
        if "trainees" in changes or "coaching_area" in changes:
            _lock_trainees(resolved, unchanged_area_id=session.coaching_area_id)
        old_coach = session.coach
        _store(session, resolved, lambda: _touch(session, now, FORM_COLUMNS))
        audit.record(session, actor=actor, action=Action.EDITED, changes=changes, now=now)
        if "coach" in changes:
            # The new coach learns of the suggestion as if it were new; whoever was already coach
            # (e.g. a member of both groups) is not told twice.
            announce(Action.SUGGESTED, session, actor=actor, now=now, already_told=[old_coach])
        if "expires_at" in changes:
            _schedule_expiry(session)
            reminders.plan(session, ReminderKind.SUGGESTION_EXPIRY, now=now)
    return session


@retry_on_conflict
def session_delete(*, actor: User, session_id: int, now: datetime | None = None) -> CoachingSession:
    now = now or timezone.now()
    with transaction.atomic():
        session = access_session(actor, session_id, Verb.DELETE, for_update=True, now=now)
        _cancel(
            session,
            reason=CancelReason.DELETED_BY_SUPERVISOR,
            action=Action.DELETED,
            actor=actor,
            now=now,
        )
    return session


@retry_on_conflict
def session_schedule(
    *,
    actor: User,
    session_id: int,
    starts_at: datetime | None,
    duration_minutes: int | None,
    location: str = "",
    fields: SessionFields | None = None,
    allow_conflicts: bool = False,
    now: datetime | None = None,
) -> CoachingSession:
    """The coach schedules: the same form rules apply to any field they adjust, with the author
    still the supervisor who may be neither coach nor trainee. A clash with another scheduled
    session of the coach or a trainee refuses it unless `allow_conflicts`. The trainees are
    invited (in-app, and by e-mail with a calendar invitation)."""
    now = now or timezone.now()
    # A scheduled session no longer expires: its expiry is not edited here.
    fields = replace(fields or SessionFields(), expires_at=None)
    location = (location or "").strip()
    with transaction.atomic():
        session = access_session(actor, session_id, Verb.SCHEDULE, for_update=True, now=now)
        before = resolved_of(session)
        schedule_errors = clean_schedule(
            starts_at=starts_at, duration_minutes=duration_minutes, location=location, now=now
        )
        resolved = _resolved(
            fields,
            author=session.suggested_by,
            actor=actor,
            now=now,
            current=before,
            more_errors=schedule_errors,
        )
        if starts_at is None or duration_minutes is None:  # reported by clean_schedule
            raise ValidationFailed(schedule_errors)
        host = resolved.coach_user or actor
        people = availability.people_of(
            coach=host, trainee_users=resolved.trainee_users, trainee_groups=resolved.trainee_groups
        )
        _check_conflicts(actor, session, people, starts_at, duration_minutes, allow_conflicts)
        changes: dict[str, Any] = audit.diff(audit.snapshot(before), audit.snapshot(resolved))
        session.state = State.SCHEDULED
        session.starts_at = starts_at
        session.duration_minutes = duration_minutes
        session.location = location
        session.scheduled_by = actor
        session.scheduled_at = now
        session.calendar_uid = session.calendar_uid or uuid.uuid4()
        session.calendar_sequence = 0
        _store(
            session,
            resolved,
            lambda: _touch(session, now, FORM_COLUMNS + SCHEDULE_COLUMNS + CALENDAR_COLUMNS),
        )
        changes.update(
            starts_at=starts_at.isoformat(), duration_minutes=duration_minutes, location=location
        )
        audit.record(session, actor=actor, action=Action.SCHEDULED, changes=changes, now=now)
        _invite(session, host=host, people=people)
        announce(
            Action.SCHEDULED,
            session,
            actor=actor,
            now=now,
            calendar=_calendar_revision(session, CalendarMethod.REQUEST, now),
        )
        reminders.drop_pending(session, now=now, note="scheduled")
        reminders.plan(session, ReminderKind.SESSION_START, now=now)
    return session


@retry_on_conflict
def session_decline(
    *, actor: User, session_id: int, reason: str, now: datetime | None = None
) -> CoachingSession:
    """The coach (or a coach-group member) or a trainee declines; the whole suggestion is canceled."""
    now = now or timezone.now()
    with transaction.atomic():
        session = access_session(actor, session_id, Verb.DECLINE, for_update=True, now=now)
        reason, errors = clean_reason(reason)
        if errors:
            raise ValidationFailed(errors)
        cancel_reason = policies.decline_reason_for(actor, session)
        _cancel(
            session,
            reason=cancel_reason,
            action=DECLINED[cancel_reason],
            note=reason,
            actor=actor,
            now=now,
        )
    return session


@retry_on_conflict
def session_expire(*, session_id: int, now: datetime | None = None) -> bool:
    """Record that an open suggestion passed its Expiry Time. Safe to call any number of times,
    from any number of workers: only the first call after expiry changes anything."""
    now = now or timezone.now()
    with transaction.atomic():
        session = (
            CoachingSession.objects.select_for_update(of=("self",))
            .select_related("coach_user", "coach_group", "suggested_by")
            .filter(pk=session_id)
            .first()
        )
        if session is None or session.state != State.SUGGESTED or session.expires_at > now:
            return False
        _cancel(session, reason=CancelReason.EXPIRED, action=Action.EXPIRED, actor=None, now=now)
    return True


EXPIRY_BATCH = 500


def expire_due_suggestions(
    *, now: datetime | None = None, batch_size: int = EXPIRY_BATCH, progress: Any = None
) -> int:
    """Expire every open suggestion whose Expiry Time has passed, in batches. Cron-safe: several
    copies may run at once (sweeps, workers); each batch locks its rows with SKIP LOCKED, so the
    copies share the work and each expiry is recorded once."""
    now = now or timezone.now()
    done = 0
    while True:
        n = _expire_batch(now, batch_size)
        if not n:
            return done
        done += n
        if progress is not None:
            progress(done)


def _expire_batch(now: datetime, size: int) -> int:
    """One batch of `session_expire`, set-based: lock up to `size` due suggestions (skipping rows
    another transaction holds: it decides their fate, or a later batch takes them), cancel them
    in one UPDATE, write their audit events and notifications in one INSERT each."""
    from notifications.services import notify_many

    from .messaging import MESSAGES, render
    from .models import Reminder, ReminderStatus, SessionEvent

    with transaction.atomic():
        due = list(
            CoachingSession.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(state=State.SUGGESTED, expires_at__lte=now)
            .order_by("expires_at", "id")
            .values_list("id", "coach_user_id", "coach_group_id", "suggested_by_id")[:size]
        )
        if not due:
            return 0
        ids = [row[0] for row in due]
        CoachingSession.objects.filter(pk__in=ids).update(
            state=State.CANCELED,
            cancel_reason=CancelReason.EXPIRED,
            cancel_note="",
            canceled_by=None,
            canceled_by_name="",
            canceled_at=now,
            version=F("version") + 1,
            updated_at=now,
        )
        # What the pending reminders announce (the expiry) will not happen: as `_cancel` does.
        Reminder.objects.filter(session_id__in=ids, status=ReminderStatus.PENDING).update(
            status=ReminderStatus.DROPPED, done_at=now, note="canceled"
        )
        SessionEvent.objects.bulk_create(
            [
                SessionEvent(
                    session_id=pk, at=now, actor=None, actor_name="System", action=Action.EXPIRED
                )
                for pk in ids
            ]
        )
        notify_many(
            kind=MESSAGES[Action.EXPIRED].kind,
            message=render(Action.EXPIRED),
            recipients={
                pk: [("user", coach_user), ("group", coach_group), ("user", author)]
                for pk, coach_user, coach_group, author in due
            },
            actor=None,
            now=now,
        )
    return len(ids)


# --- after scheduling --------------------------------------------------------------------------
def _check_conflicts(
    actor: User,
    session: CoachingSession,
    people: list[int],
    starts_at: datetime,
    duration_minutes: int,
    allow: bool,
) -> None:
    if allow:
        return
    found = availability.clashes(
        actor,
        people,
        starts_at,
        starts_at + timedelta(minutes=duration_minutes),
        exclude_session_id=session.pk,
    )
    if found:
        raise ScheduleConflict(found)


def _invite(session: CoachingSession, *, host: User, people: list[int]) -> None:
    """Write the invitation list: the coach who holds the session, then each trainee user."""
    starts_at, ends_at = session.starts_at, session.ends_at
    if starts_at is None or ends_at is None:
        raise ValueError("Only a session with a time has attendees.")
    SessionAttendee.objects.filter(session=session).delete()
    SessionAttendee.objects.bulk_create(
        [
            SessionAttendee(
                session=session,
                user_id=uid,
                role=AttendeeRole.COACH if uid == host.pk else AttendeeRole.TRAINEE,
                starts_at=starts_at,
                ends_at=ends_at,
                busy=True,
            )
            for uid in people
        ]
    )


def _calendar_revision(
    session: CoachingSession, method: CalendarMethod, now: datetime
) -> CalendarRevision:
    """The calendar message of this change, stored once for every e-mail that carries it."""
    people = list(
        SessionAttendee.objects.filter(session=session).select_related("user").order_by("id")
    )
    host = next((a.user for a in people if a.role == AttendeeRole.COACH), None)
    trainees = [a.user for a in people if a.role == AttendeeRole.TRAINEE]
    return CalendarRevision.objects.create(
        session=session,
        sequence=session.calendar_sequence,
        method=method,
        ics=calendar.itip_message(
            session, method=method, organizer=host, attendees=trainees, stamp=now
        ),
        created_at=now,
    )


@retry_on_conflict
def session_reschedule(
    *,
    actor: User,
    session_id: int,
    starts_at: datetime | None,
    duration_minutes: int | None,
    location: str | None = None,
    allow_conflicts: bool = False,
    now: datetime | None = None,
) -> CoachingSession:
    """The coach moves a scheduled session (new start, duration, and location if given). The
    conflict rule of scheduling applies; for a group coach the member who reschedules holds it
    from now on. Trainees (with an updated calendar invitation) and the author are told."""
    now = now or timezone.now()
    with transaction.atomic():
        session = access_session(actor, session_id, Verb.RESCHEDULE, for_update=True, now=now)
        new_location = session.location if location is None else location.strip()
        errors = clean_schedule(
            starts_at=starts_at, duration_minutes=duration_minutes, location=new_location, now=now
        )
        if errors or starts_at is None or duration_minutes is None:
            raise ValidationFailed(errors)
        host = session.coach_user or actor
        invited = [a.user_id for a in session.attendees.all() if a.role == AttendeeRole.TRAINEE]
        people = availability.people_of(
            coach=host,
            trainee_users=session.trainee_users.all(),
            trainee_groups=session.trainee_groups.all(),
        )
        people = list(dict.fromkeys([*people, *invited]))
        _check_conflicts(actor, session, people, starts_at, duration_minutes, allow_conflicts)
        changes = audit.diff(
            {
                "starts_at": session.starts_at.isoformat() if session.starts_at else None,
                "duration_minutes": session.duration_minutes,
                "location": session.location,
            },
            {
                "starts_at": starts_at.isoformat(),
                "duration_minutes": duration_minutes,
                "location": new_location,
            },
        )
        if not changes:
            return session
        previous = holder(session)
        session.starts_at = starts_at
        session.duration_minutes = duration_minutes
        session.location = new_location
        session.calendar_sequence += 1
        _touch(session, now, ["starts_at", "duration_minutes", "location", "calendar_sequence"])
        # The same people as invited (joining a group later invites nobody); the acting coach
        # holds it.
        ends_at = starts_at + timedelta(minutes=duration_minutes)
        SessionAttendee.objects.filter(session=session).update(starts_at=starts_at, ends_at=ends_at)
        moved_from = [u for u in previous if u is not None and u.pk != host.pk]
        if moved_from:
            SessionAttendee.objects.filter(session=session, role=AttendeeRole.COACH).delete()
            SessionAttendee.objects.update_or_create(
                session=session,
                user=host,
                defaults={
                    "role": AttendeeRole.COACH,
                    "starts_at": starts_at,
                    "ends_at": ends_at,
                    "busy": True,
                },
            )
        audit.record(session, actor=actor, action=Action.RESCHEDULED, changes=changes, now=now)
        announce(
            Action.RESCHEDULED,
            session,
            actor=actor,
            now=now,
            also_tell=moved_from,
            calendar=_calendar_revision(session, CalendarMethod.REQUEST, now),
        )
        reminders.plan(session, ReminderKind.SESSION_START, now=now)
    return session


@retry_on_conflict
def session_cancel(
    *, actor: User, session_id: int, reason: str, now: datetime | None = None
) -> CoachingSession:
    """The coach (or a QM Admin) cancels a scheduled session, giving a reason. The trainees'
    calendars get a cancellation; the trainees, the author and the coach who held it are told."""
    now = now or timezone.now()
    with transaction.atomic():
        session = access_session(actor, session_id, Verb.CANCEL, for_update=True, now=now)
        reason, errors = clean_reason(reason, doing="canceling")
        if errors:
            raise ValidationFailed(errors)
        _cancel(
            session,
            reason=CancelReason.CANCELED_BY_COACH,
            action=Action.CANCELED,
            note=reason,
            actor=actor,
            now=now,
        )
    return session


@retry_on_conflict
def session_complete(
    *,
    actor: User,
    session_id: int,
    notes: str,
    action_items: list[str] | None = None,
    now: datetime | None = None,
) -> CoachingSession:
    """The coach records that the session was held, once its start has passed: notes (required)
    and action items. The trainees and the author are told."""
    now = now or timezone.now()
    with transaction.atomic():
        session = access_session(actor, session_id, Verb.COMPLETE, for_update=True, now=now)
        text, items, errors = clean_completion(notes, action_items)
        if errors:
            raise ValidationFailed(errors)
        session.state = State.COMPLETED
        session.completed_at = now
        session.completed_by = actor
        session.completed_by_name = str(actor)
        session.completion_notes = text
        session.action_items = items
        _touch(
            session,
            now,
            [
                "state",
                "completed_at",
                "completed_by",
                "completed_by_name",
                "completion_notes",
                "action_items",
            ],
        )
        SessionAttendee.objects.filter(session=session).update(busy=False)
        refresh_effect_windows(session_ids=[session.pk])  # the trainees' windows (qa.effect)
        audit.record(
            session,
            actor=actor,
            action=Action.COMPLETED,
            changes={"action_items": len(items)},
            now=now,
        )
        announce(Action.COMPLETED, session, actor=actor, now=now)
    return session


@retry_on_conflict
def session_acknowledge(
    *, actor: User, session_id: int, comment: str | None = None, now: datetime | None = None
) -> CoachingSession:
    """A trainee acknowledges a completed session (once), optionally with a comment; the coach
    who completed it is told."""
    now = now or timezone.now()
    with transaction.atomic():
        session = access_session(actor, session_id, Verb.ACKNOWLEDGE, for_update=True, now=now)
        text, errors = clean_comment(comment)
        if errors:
            raise ValidationFailed(errors)
        SessionAttendee.objects.filter(session=session, user=actor).update(
            acknowledged_at=now, acknowledgement_comment=text
        )
        _touch(session, now, [])
        audit.record(
            session,
            actor=actor,
            action=Action.ACKNOWLEDGED,
            changes={"comment": text} if text else {},
            now=now,
        )
        announce(Action.ACKNOWLEDGED, session, actor=actor, now=now)
    return session


# --- suggestions a coaching rule makes (decisions.md, "Data-driven coaching") ------------------
def sessions_suggest_for_rule(
    *,
    rule_name: str,
    title: str,
    coach: PartyRef,
    coaching_area_id: int,
    expires_at: datetime,
    trainee_ids: Sequence[int],
    now: datetime,
) -> list[CoachingSession]:
    """Ordinary suggestions made by a coaching rule, one per trainee user: no author
    (`suggested_by` null, the rule's name as `suggested_by_name`), origin `rule`. The form's rules
    apply with the rule as the supervisor (so nothing to check for self-selection), through
    `validate_session_fields` once per `TRAINEES_MAX` trainees; any error refuses the whole batch
    (ValidationFailed). The coach is told with the seed's Session Suggested text, the rule's name
    as <Suggested By>.

    Set-based, for a rule firing for thousands of agents at once: the rows, their audit events
    and notifications are written with a few INSERTs per batch, one expiry task per batch (they
    all expire together; the task expires every due one). Runs inside the caller's transaction,
    which holds the trainees' locks and has checked that none of them has an open session."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("sessions_suggest_for_rule() belongs inside the caller's transaction")
    ids = list(dict.fromkeys(trainee_ids))
    made: list[CoachingSession] = []
    for start in range(0, len(ids), TRAINEES_MAX):
        made += _rule_batch(
            rule_name=rule_name,
            fields=SessionFields(
                title=title,
                coach=coach,
                trainees=[PartyRef("user", uid) for uid in ids[start : start + TRAINEES_MAX]],
                coaching_area_id=coaching_area_id,
                expires_at=expires_at,
                reference_case_ids=[],
            ),
            now=now,
        )
    return made


def _rule_batch(*, rule_name: str, fields: SessionFields, now: datetime) -> list[CoachingSession]:
    from notifications.services import notify_many

    from .messaging import MESSAGES, render
    from .models import SessionEvent, SessionTraineeUser

    resolved, errors = validate_session_fields(fields, author=None, actor_tz=None, now=now)
    if errors or resolved.expires_at is None:
        raise ValidationFailed(errors)
    sessions = [
        CoachingSession(
            title=resolved.title,
            state=State.SUGGESTED,
            coach_user=resolved.coach_user,
            coach_group=resolved.coach_group,
            coaching_area=resolved.coaching_area,
            expires_at=resolved.expires_at,
            suggested_by=None,
            suggested_by_name=rule_name,
            origin=Origin.RULE,
            created_at=now,
            updated_at=now,
        )
        for _ in resolved.trainee_users
    ]
    if not sessions:
        return []
    # Both databases return the new keys from a bulk INSERT (SQLite since 3.35).
    sessions = CoachingSession.objects.bulk_create(sessions)
    pairs = list(zip(sessions, resolved.trainee_users, strict=True))
    SessionTraineeUser.objects.bulk_create(
        [SessionTraineeUser(session=s, user=u) for s, u in pairs]
    )
    SessionEvent.objects.bulk_create(
        [
            SessionEvent(
                session=s,
                at=now,
                actor=None,
                actor_name=rule_name,
                action=Action.SUGGESTED,
                changes=audit.snapshot(replace(resolved, trainee_users=[u], trainee_groups=[])),
            )
            for s, u in pairs
        ]
    )
    notify_many(
        kind=MESSAGES[Action.SUGGESTED].kind,
        message=render(Action.SUGGESTED, author=rule_name),
        recipients={
            s.pk: [("user", s.coach_user_id), ("group", s.coach_group_id)] for s in sessions
        },
        actor=None,
        now=now,
    )
    _schedule_expiry(sessions[0])  # the task expires every due suggestion, these among them
    reminders.plan_many(sessions, ReminderKind.SUGGESTION_EXPIRY, now=now)
    return sessions
