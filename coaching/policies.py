"""Who may do what to a coaching session, in one place.

Each `*_denial` function returns None when the action is allowed, or the error to raise. The
services call them after locking the row; the API's `actions` and the pages' buttons call
`allowed_actions`, so a button is shown exactly when the service would accept the click.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from core.errors import ApplicationError, InvalidState, PermissionDenied
from directory.models import User
from directory.permissions import Perm, has_perm, is_qm_admin

from .models import CancelReason, CoachingSession, State


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


def allowed_actions(
    user: User, session: CoachingSession, now: datetime | None = None
) -> dict[str, bool]:
    open_ = state_denial(session, now) is None
    return {
        "edit": open_ and manage_denial(user, session) is None,
        "delete": open_ and manage_denial(user, session) is None,
        "schedule": open_ and schedule_denial(user, session) is None,
        "decline": open_ and decline_denial(user, session) is None,
    }
