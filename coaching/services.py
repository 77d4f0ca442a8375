"""Every change to a coaching session. Nothing else writes these rows.

Each service runs in one transaction: it locks the session row, re-checks who may act and that the
suggestion is still open, validates through `rules`, writes the change, the audit event and the
notifications together, and queues e-mail and expiry in that same transaction. A refused request
raises an `ApplicationError` and leaves nothing behind.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.errors import (
    ApplicationError,
    NotFound,
    ScheduleConflict,
    ValidationFailed,
    VersionConflict,
)
from core.timeutils import default_expiry, format_moment
from directory.models import User, UserGroup
from directory.permissions import Perm, has_perm
from notifications.models import Kind
from notifications.services import notify

from . import availability, calendar, policies, reminders
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
    SessionEvent,
    State,
)
from .rules import (
    PartyRef,
    ResolvedFields,
    SessionFields,
    clean_comment,
    clean_completion,
    clean_reason,
    clean_schedule,
    validate_session_fields,
)
from .selectors import sessions_visible_to, trainee_q

log = logging.getLogger(__name__)

# The spec's notification texts.
TEXT_SUGGESTED = "{author} suggested a coaching session."
TEXT_CANCELED_BY_SUPERVISOR = "Suggested Coaching Session has been canceled."
TEXT_EXPIRED = (
    "Coaching Session has been canceled because the suggested coaching session was not scheduled "
    "and has expired."
)
TEXT_CANCELED_BY_COACH = "Coaching Session has been canceled as {coach} has declined the suggested session because of {reason}."
TEXT_CANCELED_BY_TRAINEE = "Coaching Session has been canceled as {trainee} has declined the suggested session because of {reason}."
TEXT_SCHEDULED = "{coach} has scheduled a session based on your suggestion."
# Ours (decisions.md, "After scheduling").
TEXT_INVITATION = "{coach} has scheduled a coaching session with you."
TEXT_RESCHEDULED = "{coach} has moved the coaching session to {start}."
TEXT_CANCELED_AFTER_SCHEDULING = "Coaching Session has been canceled as {coach} has canceled the scheduled session because of {reason}."
TEXT_COMPLETED = "{coach} has completed the coaching session and shared notes."
TEXT_ACKNOWLEDGED = "{trainee} has acknowledged the coaching session."


# --- helpers -----------------------------------------------------------------------------------
def _name(user: User | None) -> str:
    return str(user) if user is not None else ""


def _party(obj: User | UserGroup | None) -> dict[str, Any] | None:
    if obj is None:
        return None
    return {
        "type": PartyRef.of(obj).type,
        "id": obj.pk,
        "name": obj.name if isinstance(obj, UserGroup) else str(obj),
    }


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


def snapshot(r: ResolvedFields) -> dict[str, Any]:
    """The form fields as the audit trail records them (names kept for readable history)."""
    coach: User | UserGroup | None = r.coach_user if r.coach_user is not None else r.coach_group
    return {
        "title": r.title,
        "coach": _party(coach),
        "trainees": [_party(u) for u in r.trainee_users] + [_party(g) for g in r.trainee_groups],
        "coaching_area": {"id": r.coaching_area.pk, "name": r.coaching_area.name}
        if r.coaching_area
        else None,
        "expires_at": r.expires_at.isoformat() if r.expires_at else None,
        "reference_cases": [{"id": c.pk, "number": c.number} for c in r.reference_cases],
    }


def _diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    def key(v: Any) -> Any:
        if isinstance(v, list):
            return sorted(repr(x) for x in v)
        return v

    return {k: [before[k], after[k]] for k in after if key(before.get(k)) != key(after[k])}


def _apply(session: CoachingSession, r: ResolvedFields) -> None:
    session.title = r.title
    session.coach_user = r.coach_user
    session.coach_group = r.coach_group
    session.coaching_area = r.coaching_area  # type: ignore[assignment]
    if r.expires_at is not None:
        session.expires_at = r.expires_at


def _apply_relations(session: CoachingSession, r: ResolvedFields) -> None:
    session.trainee_users.set(r.trainee_users)
    session.trainee_groups.set(r.trainee_groups)
    session.reference_cases.set(r.reference_cases)


def _event(
    session: CoachingSession,
    *,
    actor: User | None,
    action: Action,
    changes: dict[str, Any],
    now: datetime,
) -> None:
    SessionEvent.objects.create(
        session=session,
        at=now,
        actor=actor,
        actor_name=_name(actor) or "System",
        action=action,
        changes=changes,
    )


def _locked(actor: User, session_id: int) -> CoachingSession:
    """Lock the row, then check the actor may see it (404 otherwise, never a hint it exists)."""
    session = (
        CoachingSession.objects.select_for_update(of=("self",))
        .select_related("coach_user", "coach_group", "coaching_area", "suggested_by")
        .filter(pk=session_id)
        .first()
    )
    if session is None or not _may_address(actor, session_id):
        raise NotFound("There is no such coaching session, or you may not see it.")
    return session


def _may_address(actor: User, session_id: int) -> bool:
    """Whoever sees the session may address it. So may a trainee who no longer sees it because it
    was canceled before it was scheduled: they knew of it already, so they are told it is closed
    (409, like everyone who lost the race) rather than that it does not exist."""
    if sessions_visible_to(actor).filter(pk=session_id).exists():
        return True
    return (
        actor.is_active
        and has_perm(actor, Perm.VIEW_SUGGESTIONS)
        and CoachingSession.objects.filter(trainee_q(actor), pk=session_id).exists()
    )


def _check(*denials: ApplicationError | None) -> None:
    for denial in denials:
        if denial is not None:
            raise denial


def _touch(session: CoachingSession, now: datetime, fields: list[str]) -> None:
    session.version += 1
    session.updated_at = now
    session.save(update_fields=[*fields, "version", "updated_at"])


def _coach_recipients(session: CoachingSession) -> list[User | UserGroup | None]:
    return [session.coach_user or session.coach_group]


def _schedule_expiry(session: CoachingSession) -> None:
    from .tasks import expire_suggestion

    expire_suggestion.using(run_after=session.expires_at).enqueue(session.pk)


# --- the verbs ---------------------------------------------------------------------------------
def session_suggest(
    *,
    actor: User,
    fields: SessionFields,
    origin: str = Origin.HOMEPAGE,
    now: datetime | None = None,
) -> CoachingSession:
    now = now or timezone.now()
    _check(policies.suggest_denial(actor))
    if fields.expires_at is None:
        fields.expires_at = default_expiry(tz_name=actor.time_zone, now=now)
    if origin not in Origin.values:
        from core.errors import FieldCode, FieldError

        raise ValidationFailed(
            [FieldError("origin", FieldCode.INVALID, f"Unknown origin {origin!r}.")]
        )
    with transaction.atomic():
        resolved, errors = validate_session_fields(
            fields, author=actor, actor_tz=actor.time_zone, now=now
        )
        if errors:
            raise ValidationFailed(errors)
        session = CoachingSession(
            state=State.SUGGESTED,
            suggested_by=actor,
            suggested_by_name=_name(actor),
            origin=origin,
            created_at=now,
            updated_at=now,
        )
        _apply(session, resolved)
        session.save()
        _apply_relations(session, resolved)
        _event(session, actor=actor, action=Action.SUGGESTED, changes=snapshot(resolved), now=now)
        reminders.plan(session, ReminderKind.SUGGESTION_EXPIRY, now=now)
        notify(
            kind=Kind.SESSION_SUGGESTED,
            session_id=session.pk,
            message=TEXT_SUGGESTED.format(author=_name(actor)),
            recipients=_coach_recipients(session),
            actor=actor,
            now=now,
        )
        _schedule_expiry(session)
    return session


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
        session = _locked(actor, session_id)
        _check(policies.manage_denial(actor, session), policies.state_denial(session, now))
        if expected_version is not None and expected_version != session.version:
            raise VersionConflict(
                f"The suggestion was changed meanwhile (version {session.version}, you had {expected_version})."
            )
        before = resolved_of(session)
        old_coach = session.coach_user or session.coach_group
        resolved, errors = validate_session_fields(
            fields, author=session.suggested_by, actor_tz=actor.time_zone, now=now, current=before
        )
        if errors:
            raise ValidationFailed(errors)
        changes = _diff(snapshot(before), snapshot(resolved))
        if not changes:
            return session
        _apply(session, resolved)
        _touch(session, now, ["title", "coach_user", "coach_group", "coaching_area", "expires_at"])
        _apply_relations(session, resolved)
        _event(session, actor=actor, action=Action.EDITED, changes=changes, now=now)
        new_coach = session.coach_user or session.coach_group
        if new_coach != old_coach:
            # The new coach learns of the suggestion as if it were new; whoever was already coach
            # (e.g. a member of both groups) is not told twice.
            from notifications.services import expand_recipients

            already = set(expand_recipients([old_coach], exclude=None))
            newly = [
                u
                for u in User.objects.filter(pk__in=expand_recipients([new_coach], exclude=actor))
                if u.pk not in already
            ]
            notify(
                kind=Kind.SESSION_SUGGESTED,
                session_id=session.pk,
                message=TEXT_SUGGESTED.format(author=session.suggested_by_name),
                recipients=newly,
                actor=actor,
                now=now,
            )
        if "expires_at" in changes:
            _schedule_expiry(session)
            reminders.plan(session, ReminderKind.SUGGESTION_EXPIRY, now=now)
    return session


def session_delete(*, actor: User, session_id: int, now: datetime | None = None) -> CoachingSession:
    now = now or timezone.now()
    with transaction.atomic():
        session = _locked(actor, session_id)
        _check(policies.manage_denial(actor, session), policies.state_denial(session, now))
        _cancel(session, reason=CancelReason.DELETED_BY_SUPERVISOR, note="", actor=actor, now=now)
        _event(session, actor=actor, action=Action.DELETED, changes={}, now=now)
        notify(
            kind=Kind.SESSION_CANCELED_BY_SUPERVISOR,
            session_id=session.pk,
            message=TEXT_CANCELED_BY_SUPERVISOR,
            recipients=_coach_recipients(session),
            actor=actor,
            now=now,
        )
    return session


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
    fields = fields or SessionFields()
    fields.expires_at = None  # a scheduled session no longer expires; its expiry is not edited here
    location = (location or "").strip()
    with transaction.atomic():
        session = _locked(actor, session_id)
        _check(policies.schedule_denial(actor, session), policies.state_denial(session, now))
        before = resolved_of(session)
        resolved, errors = validate_session_fields(
            fields, author=session.suggested_by, actor_tz=actor.time_zone, now=now, current=before
        )
        errors += clean_schedule(
            starts_at=starts_at, duration_minutes=duration_minutes, location=location, now=now
        )
        if errors:
            raise ValidationFailed(errors)
        assert starts_at is not None and duration_minutes is not None
        host = resolved.coach_user or actor
        people = availability.people_of(
            coach=host,
            trainee_users=resolved.trainee_users,
            trainee_groups=resolved.trainee_groups,
        )
        _check_conflicts(actor, session, people, starts_at, duration_minutes, allow=allow_conflicts)
        changes: dict[str, Any] = _diff(snapshot(before), snapshot(resolved))
        _apply(session, resolved)
        session.state = State.SCHEDULED
        session.starts_at = starts_at
        session.duration_minutes = duration_minutes
        session.location = location
        session.scheduled_by = actor
        session.scheduled_at = now
        session.calendar_uid = session.calendar_uid or uuid.uuid4()
        session.calendar_sequence = 0
        _touch(
            session,
            now,
            [
                "title",
                "coach_user",
                "coach_group",
                "coaching_area",
                "state",
                "starts_at",
                "duration_minutes",
                "location",
                "scheduled_by",
                "scheduled_at",
                "calendar_uid",
                "calendar_sequence",
            ],
        )
        _apply_relations(session, resolved)
        changes.update(
            starts_at=starts_at.isoformat(), duration_minutes=duration_minutes, location=location
        )
        _event(session, actor=actor, action=Action.SCHEDULED, changes=changes, now=now)
        _invite(session, host=host, people=people)
        notify(
            kind=Kind.SESSION_SCHEDULED,
            session_id=session.pk,
            message=TEXT_SCHEDULED.format(coach=_name(actor)),
            recipients=[session.suggested_by],
            actor=actor,
            now=now,
        )
        notify(
            kind=Kind.SESSION_INVITATION,
            session_id=session.pk,
            message=TEXT_INVITATION.format(coach=_name(actor)),
            recipients=_trainees_invited(session),
            actor=actor,
            now=now,
            calendar=_calendar_revision(session, CalendarMethod.REQUEST, now),
        )
        reminders.drop_pending(session, now=now, note="scheduled")
        reminders.plan(session, ReminderKind.SESSION_START, now=now)
    return session


def session_decline(
    *, actor: User, session_id: int, reason: str, now: datetime | None = None
) -> CoachingSession:
    """The coach (or a coach-group member) or a trainee declines; the whole suggestion is canceled."""
    now = now or timezone.now()
    with transaction.atomic():
        session = _locked(actor, session_id)
        _check(policies.decline_denial(actor, session), policies.state_denial(session, now))
        reason, errors = clean_reason(reason)
        if errors:
            raise ValidationFailed(errors)
        cancel_reason = policies.decline_reason_for(actor, session)
        _cancel(session, reason=cancel_reason, note=reason, actor=actor, now=now)
        if cancel_reason == CancelReason.DECLINED_BY_COACH:
            _event(
                session,
                actor=actor,
                action=Action.DECLINED_BY_COACH,
                changes={"reason": reason},
                now=now,
            )
            notify(
                kind=Kind.SESSION_CANCELED_BY_COACH,
                session_id=session.pk,
                message=TEXT_CANCELED_BY_COACH.format(coach=_name(actor), reason=reason),
                recipients=[session.suggested_by],
                actor=actor,
                now=now,
            )
        else:
            _event(
                session,
                actor=actor,
                action=Action.DECLINED_BY_TRAINEE,
                changes={"reason": reason},
                now=now,
            )
            notify(
                kind=Kind.SESSION_CANCELED_BY_TRAINEE,
                session_id=session.pk,
                message=TEXT_CANCELED_BY_TRAINEE.format(trainee=_name(actor), reason=reason),
                recipients=[session.suggested_by, *_coach_recipients(session)],
                actor=actor,
                now=now,
            )
    return session


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
        _cancel(session, reason=CancelReason.EXPIRED, note="", actor=None, now=now)
        _event(session, actor=None, action=Action.EXPIRED, changes={}, now=now)
        notify(
            kind=Kind.SESSION_EXPIRED,
            session_id=session.pk,
            message=TEXT_EXPIRED,
            recipients=[*_coach_recipients(session), session.suggested_by],
            actor=None,
            now=now,
        )
    return True


def expire_due_suggestions(
    *, now: datetime | None = None, batch_size: int = 200, progress: Any = None
) -> int:
    """Expire every open suggestion whose Expiry Time has passed. Cron-safe: several copies may
    run at once; each row is locked and re-checked, so each expiry is recorded once."""
    from .models import CoachingSession as CS

    now = now or timezone.now()
    done = 0
    last_id = 0
    while True:
        ids = list(
            CS.objects.filter(state=State.SUGGESTED, expires_at__lte=now, pk__gt=last_id)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return done
        for pk in ids:
            if session_expire(session_id=pk, now=now):
                done += 1
        last_id = ids[-1]
        if progress is not None:
            progress(done)


def _cancel(
    session: CoachingSession, *, reason: CancelReason, note: str, actor: User | None, now: datetime
) -> None:
    session.state = State.CANCELED
    session.cancel_reason = reason
    session.cancel_note = note
    session.canceled_by = actor
    session.canceled_by_name = _name(actor)
    session.canceled_at = now
    reminders.drop_pending(session, now=now, note="canceled")
    _touch(
        session,
        now,
        ["state", "cancel_reason", "cancel_note", "canceled_by", "canceled_by_name", "canceled_at"],
    )


# --- after scheduling --------------------------------------------------------------------------
def _check_conflicts(
    actor: User,
    session: CoachingSession,
    people: list[int],
    starts_at: datetime,
    duration_minutes: int,
    *,
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
    assert starts_at is not None and ends_at is not None
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


def _attendees(session: CoachingSession) -> list[SessionAttendee]:
    return list(
        SessionAttendee.objects.filter(session=session)
        .select_related("user")
        .order_by("role", "id")
    )


def _trainees_invited(session: CoachingSession) -> list[User | UserGroup | None]:
    return [a.user for a in _attendees(session) if a.role == AttendeeRole.TRAINEE]


def _host(session: CoachingSession) -> User | None:
    return next((a.user for a in _attendees(session) if a.role == AttendeeRole.COACH), None)


def _calendar_revision(
    session: CoachingSession, method: CalendarMethod, now: datetime
) -> CalendarRevision:
    """The calendar message of this change, stored once for every e-mail that carries it."""
    people = _attendees(session)
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


def _locked_for(actor: User, session_id: int) -> CoachingSession:
    session = _locked(actor, session_id)
    # The invitation list as the policies read it, loaded under the lock.
    session._prefetched_objects_cache = {"attendees": _attendees(session)}  # type: ignore[attr-defined]
    return session


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
        session = _locked_for(actor, session_id)
        _check(policies.reschedule_denial(actor, session), policies.scheduled_denial(session))
        new_location = session.location if location is None else location.strip()
        errors = clean_schedule(
            starts_at=starts_at, duration_minutes=duration_minutes, location=new_location, now=now
        )
        if errors:
            raise ValidationFailed(errors)
        assert starts_at is not None and duration_minutes is not None
        host = session.coach_user or actor
        people = availability.people_of(
            coach=host,
            trainee_users=session.trainee_users.all(),
            trainee_groups=session.trainee_groups.all(),
        )
        invited = [a.user_id for a in _attendees(session) if a.role == AttendeeRole.TRAINEE]
        people = list(dict.fromkeys([*people, *invited]))
        _check_conflicts(actor, session, people, starts_at, duration_minutes, allow=allow_conflicts)
        before = {
            "starts_at": session.starts_at.isoformat() if session.starts_at else None,
            "duration_minutes": session.duration_minutes,
            "location": session.location,
        }
        after = {
            "starts_at": starts_at.isoformat(),
            "duration_minutes": duration_minutes,
            "location": new_location,
        }
        changes = _diff(before, after)
        if not changes:
            return session
        previous_host = _host(session)
        session.starts_at = starts_at
        session.duration_minutes = duration_minutes
        session.location = new_location
        session.calendar_sequence += 1
        _touch(session, now, ["starts_at", "duration_minutes", "location", "calendar_sequence"])
        # Same people as invited (later group changes invite nobody), the acting coach as host.
        ends_at = starts_at + timedelta(minutes=duration_minutes)
        SessionAttendee.objects.filter(session=session).update(starts_at=starts_at, ends_at=ends_at)
        if previous_host is not None and previous_host.pk != host.pk:
            SessionAttendee.objects.filter(session=session, user=previous_host).delete()
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
        _event(session, actor=actor, action=Action.RESCHEDULED, changes=changes, now=now)
        coach_name = _name(actor)
        revision = _calendar_revision(session, CalendarMethod.REQUEST, now)

        def text(user: User) -> str:
            return TEXT_RESCHEDULED.format(
                coach=coach_name, start=format_moment(starts_at, user.time_zone)
            )

        notify(
            kind=Kind.SESSION_RESCHEDULED,
            session_id=session.pk,
            message=text,
            recipients=_trainees_invited(session),
            actor=actor,
            now=now,
            calendar=revision,
        )
        others = [session.suggested_by]
        if previous_host is not None and previous_host.pk != host.pk:
            others.append(previous_host)
        trainee_ids = set(invited)
        notify(
            kind=Kind.SESSION_RESCHEDULED,
            session_id=session.pk,
            message=text,
            recipients=[u for u in others if u is not None and u.pk not in trainee_ids],
            actor=actor,
            now=now,
        )
        reminders.plan(session, ReminderKind.SESSION_START, now=now)
    return session


def session_cancel(
    *, actor: User, session_id: int, reason: str, now: datetime | None = None
) -> CoachingSession:
    """The coach (or a QM Admin) cancels a scheduled session, giving a reason. The trainees'
    calendars get a cancellation; the trainees and the author are told."""
    now = now or timezone.now()
    with transaction.atomic():
        session = _locked_for(actor, session_id)
        _check(policies.cancel_denial(actor, session), policies.scheduled_denial(session))
        reason, errors = clean_reason(reason, doing="canceling")
        if errors:
            raise ValidationFailed(errors)
        session.calendar_sequence += 1
        _cancel(session, reason=CancelReason.CANCELED_BY_COACH, note=reason, actor=actor, now=now)
        CoachingSession.objects.filter(pk=session.pk).update(
            calendar_sequence=session.calendar_sequence
        )
        SessionAttendee.objects.filter(session=session).update(busy=False)
        _event(session, actor=actor, action=Action.CANCELED, changes={"reason": reason}, now=now)
        message = TEXT_CANCELED_AFTER_SCHEDULING.format(coach=_name(actor), reason=reason)
        trainees = _trainees_invited(session)
        notify(
            kind=Kind.SESSION_CANCELED_AFTER_SCHEDULING,
            session_id=session.pk,
            message=message,
            recipients=trainees,
            actor=actor,
            now=now,
            calendar=_calendar_revision(session, CalendarMethod.CANCEL, now),
        )
        trainee_ids = {u.pk for u in trainees if u is not None}
        others: list[User | None] = [session.suggested_by]
        if not policies.is_coach(actor, session):
            others.append(_host(session))  # a QM Admin canceled: the coach learns of it too
        notify(
            kind=Kind.SESSION_CANCELED_AFTER_SCHEDULING,
            session_id=session.pk,
            message=message,
            recipients=[u for u in others if u is not None and u.pk not in trainee_ids],
            actor=actor,
            now=now,
        )
    return session


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
        session = _locked_for(actor, session_id)
        _check(
            policies.complete_denial(actor, session),
            policies.scheduled_denial(session),
            policies.started_denial(session, now),
        )
        text, items, errors = clean_completion(notes, action_items)
        if errors:
            raise ValidationFailed(errors)
        session.state = State.COMPLETED
        session.completed_at = now
        session.completed_by = actor
        session.completed_by_name = _name(actor)
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
        _event(
            session,
            actor=actor,
            action=Action.COMPLETED,
            changes={"action_items": len(items)},
            now=now,
        )
        notify(
            kind=Kind.SESSION_COMPLETED,
            session_id=session.pk,
            message=TEXT_COMPLETED.format(coach=_name(actor)),
            recipients=[*_trainees_invited(session), session.suggested_by],
            actor=actor,
            now=now,
        )
    return session


def session_acknowledge(
    *, actor: User, session_id: int, comment: str | None = None, now: datetime | None = None
) -> CoachingSession:
    """A trainee acknowledges a completed session (once), optionally with a comment; the coach
    who held it is told."""
    now = now or timezone.now()
    with transaction.atomic():
        session = _locked_for(actor, session_id)
        _check(
            policies.acknowledge_denial(actor, session),
            policies.acknowledge_state_denial(actor, session),
        )
        text, errors = clean_comment(comment)
        if errors:
            raise ValidationFailed(errors)
        SessionAttendee.objects.filter(session=session, user=actor).update(
            acknowledged_at=now, acknowledgement_comment=text
        )
        _touch(session, now, [])
        _event(
            session,
            actor=actor,
            action=Action.ACKNOWLEDGED,
            changes={"comment": text} if text else {},
            now=now,
        )
        notify(
            kind=Kind.SESSION_ACKNOWLEDGED,
            session_id=session.pk,
            message=TEXT_ACKNOWLEDGED.format(trainee=_name(actor)),
            recipients=[session.completed_by or _host(session)],
            actor=actor,
            now=now,
        )
    return session
