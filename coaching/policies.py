"""Who may do what to a coaching session, in one place.

Each `*_denial` function returns None when the action is allowed, or the error to raise. The
services call them after locking the row; the API's `actions` and the pages' buttons call
`allowed_actions`, so a button is shown exactly when the service would accept the click.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from core.errors import AlreadyAcknowledged, ApplicationError, InvalidState, PermissionDenied
from directory.models import User
from directory.permissions import Perm, has_perm, is_qm_admin

from .models import AttendeeRole, CancelReason, CoachingSession, SessionAttendee, State


def viewer_group_ids(user: User) -> frozenset[int]:
    """The user groups the user is in, cached on the user object for the request."""
    cached = getattr(user, "_coaching_group_ids", None)
    if cached is None:
        cached = frozenset(user.group_memberships.values_list("group_id", flat=True))
        user._coaching_group_ids = cached  # type: ignore[attr-defined]
    return cached


def is_admin(user: User) -> bool:
    cached = getattr(user, "_coaching_is_admin", None)
    if cached is None:
        cached = is_qm_admin(user)
        user._coaching_is_admin = cached  # type: ignore[attr-defined]
    return cached


def is_author(user: User, session: CoachingSession) -> bool:
    return session.suggested_by_id is not None and session.suggested_by_id == user.pk


def is_coach(user: User, session: CoachingSession) -> bool:
    if session.coach_user_id is not None:
        return session.coach_user_id == user.pk
    return session.coach_group_id in viewer_group_ids(user)


def is_trainee(user: User, session: CoachingSession) -> bool:
    if any(u.pk == user.pk for u in session.trainee_users.all()):
        return True
    groups = viewer_group_ids(user)
    return any(g.pk in groups for g in session.trainee_groups.all())


def state_denial(session: CoachingSession, now: datetime | None = None) -> ApplicationError | None:
    """Every action needs an open suggestion; an expired one is closed even before the worker ran."""
    now = now or timezone.now()
    if session.is_past_expiry(now):
        return InvalidState("This suggestion has expired and can no longer be changed.")
    if session.state == State.SCHEDULED:
        return InvalidState("This session has already been scheduled.")
    if session.state == State.CANCELED:
        reason = (
            CancelReason(session.cancel_reason).label.lower()
            if session.cancel_reason
            else "canceled"
        )
        return InvalidState(f"This suggestion has already been canceled ({reason}).")
    return None


def suggest_denial(user: User) -> ApplicationError | None:
    if not user.is_active or not has_perm(user, Perm.CREATE_SUGGESTIONS):
        return PermissionDenied("You need the Create Suggestions permission to suggest a session.")
    return None


def manage_denial(user: User, session: CoachingSession) -> ApplicationError | None:
    """Edit and delete: the author while they hold Create Suggestions, or a QM Admin."""
    if is_admin(user):
        return None
    if is_author(user, session) and has_perm(user, Perm.CREATE_SUGGESTIONS):
        return None
    return PermissionDenied(
        "Only the supervisor who suggested this session (or a QM Admin) may change it."
    )


def schedule_denial(user: User, session: CoachingSession) -> ApplicationError | None:
    if is_coach(user, session):
        return None
    return PermissionDenied(
        "Only the session's coach (or a member of its coach group) may schedule it."
    )


def decline_denial(user: User, session: CoachingSession) -> ApplicationError | None:
    if is_coach(user, session) or is_trainee(user, session):
        return None
    return PermissionDenied("Only the session's coach or one of its trainees may decline it.")


def decline_reason_for(user: User, session: CoachingSession) -> CancelReason:
    """A user who is both coach (through a group) and trainee declines as the coach."""
    return (
        CancelReason.DECLINED_BY_COACH
        if is_coach(user, session)
        else CancelReason.DECLINED_BY_TRAINEE
    )


# --- after scheduling ----------------------------------------------------------------------------
def attendance(user: User, session: CoachingSession) -> SessionAttendee | None:
    """The user's row on the session's invitation list (from `with_related`'s prefetch when
    there is one)."""
    prefetched = getattr(session, "_prefetched_objects_cache", {}).get("attendees")
    if prefetched is not None:
        return next((a for a in prefetched if a.user_id == user.pk), None)
    return SessionAttendee.objects.filter(session=session, user=user).first()


def scheduled_denial(session: CoachingSession) -> ApplicationError | None:
    """Reschedule, cancel and complete need a scheduled session."""
    if session.state == State.SCHEDULED:
        return None
    if session.state == State.COMPLETED:
        return InvalidState("This session has already been completed.")
    if session.state == State.CANCELED:
        return InvalidState("This session has already been canceled.")
    return InvalidState("This session has not been scheduled yet.")


def started_denial(
    session: CoachingSession, now: datetime | None = None
) -> ApplicationError | None:
    if session.has_started(now):
        return None
    return InvalidState("A session can be completed only once it has started.")


def reschedule_denial(user: User, session: CoachingSession) -> ApplicationError | None:
    if is_coach(user, session):
        return None
    return PermissionDenied(
        "Only the session's coach (or a member of its coach group) may reschedule it."
    )


def cancel_denial(user: User, session: CoachingSession) -> ApplicationError | None:
    if is_coach(user, session) or is_admin(user):
        return None
    return PermissionDenied("Only the session's coach (or a QM Admin) may cancel it.")


def complete_denial(user: User, session: CoachingSession) -> ApplicationError | None:
    if is_coach(user, session):
        return None
    return PermissionDenied("Only the session's coach may complete it.")


def acknowledge_denial(user: User, session: CoachingSession) -> ApplicationError | None:
    """Each trainee user on the invitation list (directly or through a group), once."""
    row = attendance(user, session)
    if row is None or row.role != AttendeeRole.TRAINEE:
        return PermissionDenied("Only the session's trainees may acknowledge it.")
    return None


def acknowledge_state_denial(user: User, session: CoachingSession) -> ApplicationError | None:
    if session.state != State.COMPLETED:
        return InvalidState("Only a completed session can be acknowledged.")
    row = attendance(user, session)
    if row is not None and row.acknowledged_at is not None:
        return AlreadyAcknowledged("You have already acknowledged this session.")
    return None


def may_read_notes(user: User, session: CoachingSession) -> bool:
    """A completed session's notes and action items: its coach, its trainees, its author and QM
    Admins, not the other viewers of the analytics pages (decisions.md)."""
    return (
        is_admin(user)
        or is_author(user, session)
        or is_coach(user, session)
        or is_trainee(user, session)
        or attendance(user, session) is not None
    )


def allowed_actions(
    user: User, session: CoachingSession, now: datetime | None = None
) -> dict[str, bool]:
    open_ = state_denial(session, now) is None
    scheduled = scheduled_denial(session) is None
    return {
        "edit": open_ and manage_denial(user, session) is None,
        "delete": open_ and manage_denial(user, session) is None,
        "schedule": open_ and schedule_denial(user, session) is None,
        "decline": open_ and decline_denial(user, session) is None,
        "reschedule": scheduled and reschedule_denial(user, session) is None,
        "cancel": scheduled and cancel_denial(user, session) is None,
        "complete": scheduled
        and started_denial(session, now) is None
        and complete_denial(user, session) is None,
        "acknowledge": session.state == State.COMPLETED
        and acknowledge_denial(user, session) is None
        and acknowledge_state_denial(user, session) is None,
    }
