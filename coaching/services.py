"""Every change to a coaching session. Nothing else writes these rows.

Each service runs in one transaction: it locks the session row, re-checks who may act and that the
suggestion is still open, validates through `rules`, writes the change, the audit event and the
notifications together, and queues e-mail and expiry in that same transaction. A refused request
raises an `ApplicationError` and leaves nothing behind.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.errors import ApplicationError, NotFound, ValidationFailed, VersionConflict
from core.timeutils import default_expiry
from directory.models import User, UserGroup
from directory.permissions import Perm, has_perm
from notifications.models import Kind
from notifications.services import notify

from . import policies
from .models import Action, CancelReason, CoachingSession, Origin, SessionEvent, State
from .rules import (
    PartyRef,
    ResolvedFields,
    SessionFields,
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
    now: datetime | None = None,
) -> CoachingSession:
    """The coach schedules: the same form rules apply to any field they adjust, with the author
    still the supervisor who may be neither coach nor trainee."""
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
        changes: dict[str, Any] = _diff(snapshot(before), snapshot(resolved))
        _apply(session, resolved)
        session.state = State.SCHEDULED
        session.starts_at = starts_at
        session.duration_minutes = duration_minutes
        session.location = location
        session.scheduled_by = actor
        session.scheduled_at = now
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
            ],
        )
        _apply_relations(session, resolved)
        assert starts_at is not None
        changes.update(
            starts_at=starts_at.isoformat(), duration_minutes=duration_minutes, location=location
        )
        _event(session, actor=actor, action=Action.SCHEDULED, changes=changes, now=now)
        notify(
            kind=Kind.SESSION_SCHEDULED,
            session_id=session.pk,
            message=TEXT_SCHEDULED.format(coach=_name(actor)),
            recipients=[session.suggested_by],
            actor=actor,
            now=now,
        )
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
        SessionEvent.objects.bulk_create(
            [
                SessionEvent(
                    session_id=pk, at=now, actor=None, actor_name="System", action=Action.EXPIRED
                )
                for pk in ids
            ]
        )
        notify_many(
            kind=Kind.SESSION_EXPIRED,
            message=TEXT_EXPIRED,
            recipients={
                pk: [("user", coach_user), ("group", coach_group), ("user", author)]
                for pk, coach_user, coach_group, author in due
            },
            actor=None,
            now=now,
        )
    return len(ids)


def _cancel(
    session: CoachingSession, *, reason: CancelReason, note: str, actor: User | None, now: datetime
) -> None:
    session.state = State.CANCELED
    session.cancel_reason = reason
    session.cancel_note = note
    session.canceled_by = actor
    session.canceled_by_name = _name(actor)
    session.canceled_at = now
    _touch(
        session,
        now,
        ["state", "cancel_reason", "cancel_note", "canceled_by", "canceled_by_name", "canceled_at"],
    )
