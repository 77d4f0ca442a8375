"""Who may do what to a coaching session, in one place.

`POLICIES` holds one entry per verb: who may ask for it, what they are told otherwise, and in which
state of the session it can happen. `denial(verb, user, session)` reads it for everyone: the
services (after locking the row), the API's `actions`, and the pages' buttons and refusals, so a
button shows exactly when the service would accept the click. `access_session` is the one way to
a session: it fetches it for a viewer, hides what they may not see, and applies `denial`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from django.utils import timezone

from core.errors import (
    AlreadyAcknowledged,
    ApplicationError,
    InvalidState,
    NotFound,
    PermissionDenied,
)
from core.memo import memo
from directory.models import User
from directory.permissions import Perm, has_perm, is_qm_admin

from .models import AttendeeRole, CancelReason, CoachingSession, Origin, SessionAttendee, State
from .selectors import prefetched, sessions_visible_to, trainee_q, with_related


class Verb(StrEnum):
    """What a person may ask to do to a session: the keys of the API's `actions`."""

    EDIT = "edit"
    DELETE = "delete"
    SCHEDULE = "schedule"
    DECLINE = "decline"
    RESCHEDULE = "reschedule"
    CANCEL = "cancel"
    COMPLETE = "complete"
    ACKNOWLEDGE = "acknowledge"


# --- who is who --------------------------------------------------------------------------------
def viewer_group_ids(user: User) -> frozenset[int]:
    """The user groups the user is in, read once per request."""
    return memo(
        user,
        "group_ids",
        lambda: frozenset(user.group_memberships.values_list("group_id", flat=True)),
    )


def is_author(user: User, session: CoachingSession) -> bool:
    return session.suggested_by_id is not None and session.suggested_by_id == user.pk


def is_coach(user: User, session: CoachingSession) -> bool:
    if session.coach_user_id is not None:
        return session.coach_user_id == user.pk
    return session.coach_group_id in viewer_group_ids(user)


def is_trainee(user: User, session: CoachingSession) -> bool:
    if any(u.pk == user.pk for u in prefetched(session, "trainee_users")):
        return True
    groups = viewer_group_ids(user)
    return any(g.pk in groups for g in prefetched(session, "trainee_groups"))


def may_manage(user: User, session: CoachingSession) -> bool:
    """Edit and delete: the author while they hold Create Suggestions, or a QM Admin. A
    suggestion without an author (a coaching rule's; one whose author was removed) has only QM
    Admins."""
    return is_qm_admin(user) or (
        is_author(user, session) and has_perm(user, Perm.CREATE_SUGGESTIONS)
    )


def is_coach_or_trainee(user: User, session: CoachingSession) -> bool:
    return is_coach(user, session) or is_trainee(user, session)


def is_coach_or_admin(user: User, session: CoachingSession) -> bool:
    return is_coach(user, session) or is_qm_admin(user)


def attendance(user: User, session: CoachingSession) -> SessionAttendee | None:
    """The user's row on the session's invitation list (from `with_related`'s prefetch when there
    is one, as the services load it under their lock)."""
    loaded = getattr(session, "_prefetched_objects_cache", {}).get("attendees")
    if loaded is not None:
        return next((a for a in loaded if a.user_id == user.pk), None)
    return SessionAttendee.objects.filter(session=session, user=user).first()


def is_invited_trainee(user: User, session: CoachingSession) -> bool:
    """A trainee on the invitation list: each trainee user, directly or through a group, as the
    session was scheduled."""
    row = attendance(user, session)
    return row is not None and row.role == AttendeeRole.TRAINEE


def may_acknowledge(user: User, session: CoachingSession) -> bool:
    """Acknowledge: a trainee on the invitation list. Before a session is scheduled nobody is
    invited yet; its trainees are then told it cannot be acknowledged (yet: 409), not that they
    are no trainee of it (403)."""
    if session.scheduled_at is None:
        return is_trainee(user, session)
    return is_invited_trainee(user, session)


def may_read_notes(user: User, session: CoachingSession) -> bool:
    """A completed session's notes and action items: its coach, its trainees, its author and QM
    Admins, not the other viewers of the analytics pages (decisions.md)."""
    return (
        is_qm_admin(user)
        or is_author(user, session)
        or is_coach_or_trainee(user, session)
        or attendance(user, session) is not None
    )


# --- in which state ----------------------------------------------------------------------------
def needs_open_suggestion(
    user: User, session: CoachingSession, now: datetime
) -> ApplicationError | None:
    """An open suggestion; one past its expiry is closed even before the worker recorded it."""
    if session.is_past_expiry(now):
        return InvalidState("This suggestion has expired and can no longer be changed.")
    if session.state == State.SCHEDULED:
        return InvalidState("This session has already been scheduled.")
    if session.state == State.COMPLETED:
        return InvalidState("This session has already been held and completed.")
    if session.state == State.CANCELED:
        reason = CancelReason(session.cancel_reason).label.lower()
        return InvalidState(f"This suggestion has already been canceled ({reason}).")
    return None


def needs_scheduled(user: User, session: CoachingSession, now: datetime) -> ApplicationError | None:
    """Reschedule and cancel: a scheduled session."""
    if session.state == State.SCHEDULED:
        return None
    if session.state == State.COMPLETED:
        return InvalidState("This session has already been completed.")
    if session.state == State.CANCELED:
        return InvalidState("This session has already been canceled.")
    return InvalidState("This session has not been scheduled yet.")


def needs_started(user: User, session: CoachingSession, now: datetime) -> ApplicationError | None:
    """Complete: a scheduled session whose start has passed."""
    if (refused := needs_scheduled(user, session, now)) is not None:
        return refused
    if not session.has_started(now):
        return InvalidState("A session can be completed only once it has started.")
    return None


def needs_unacknowledged(
    user: User, session: CoachingSession, now: datetime
) -> ApplicationError | None:
    """Acknowledge: a completed session this trainee has not acknowledged yet."""
    if session.state != State.COMPLETED:
        return InvalidState("Only a completed session can be acknowledged.")
    row = attendance(user, session)
    if row is not None and row.acknowledged_at is not None:
        return AlreadyAcknowledged("You have already acknowledged this session.")
    return None


# --- the table ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Policy:
    who: Callable[[User, CoachingSession], bool]
    refusal: str | Callable[[CoachingSession], str]  # what someone else is told (403)
    state: Callable[[User, CoachingSession, datetime], ApplicationError | None]  # else 409


MANAGE_REFUSAL = "Only the supervisor who suggested this session (or a QM Admin) may change it."
RULE_MANAGE_REFUSAL = (
    "The coaching rule {name} suggested this session: only a QM Admin may change it."
)
ORPHAN_MANAGE_REFUSAL = "Its author has left: only a QM Admin may change this suggestion."


def manage_refusal(session: CoachingSession) -> str:
    """A suggestion without an author (a coaching rule's, or one whose author was removed) is
    edited and deleted by QM Admins only (decisions.md): the refusal says so."""
    if session.origin == Origin.RULE:
        return RULE_MANAGE_REFUSAL.format(name=session.suggested_by_name)
    if session.suggested_by_id is None:
        return ORPHAN_MANAGE_REFUSAL
    return MANAGE_REFUSAL


POLICIES: dict[Verb, Policy] = {
    Verb.EDIT: Policy(may_manage, manage_refusal, needs_open_suggestion),
    Verb.DELETE: Policy(may_manage, manage_refusal, needs_open_suggestion),
    Verb.SCHEDULE: Policy(
        is_coach,
        "Only the session's coach (or a member of its coach group) may schedule it.",
        needs_open_suggestion,
    ),
    Verb.DECLINE: Policy(
        is_coach_or_trainee,
        "Only the session's coach or one of its trainees may decline it.",
        needs_open_suggestion,
    ),
    Verb.RESCHEDULE: Policy(
        is_coach,
        "Only the session's coach (or a member of its coach group) may reschedule it.",
        needs_scheduled,
    ),
    Verb.CANCEL: Policy(
        is_coach_or_admin,
        "Only the session's coach (or a QM Admin) may cancel it.",
        needs_scheduled,
    ),
    Verb.COMPLETE: Policy(is_coach, "Only the session's coach may complete it.", needs_started),
    Verb.ACKNOWLEDGE: Policy(
        may_acknowledge,
        "Only the session's trainees may acknowledge it.",
        needs_unacknowledged,
    ),
}


def denial(
    verb: Verb, user: User, session: CoachingSession, now: datetime | None = None
) -> ApplicationError | None:
    """Why `user` may not `verb` the session now (who first: 403; then the state: 409), or None."""
    policy = POLICIES[verb]
    if not policy.who(user, session):
        refusal = policy.refusal
        return PermissionDenied(refusal if isinstance(refusal, str) else refusal(session))
    return policy.state(user, session, now or timezone.now())


def allowed_actions(
    user: User, session: CoachingSession, now: datetime | None = None
) -> dict[str, bool]:
    """Each verb, and whether `user` may do it now: the API's `actions`, the pages' buttons.
    The same table as `denial`, each "who" and "state" rule asked once per session (several
    verbs share them; a list asks this for every session it shows)."""
    now = now or timezone.now()
    answers: dict[Callable[..., object], object] = {}

    def once(rule: Callable[..., object], *args: object) -> object:
        if rule not in answers:
            answers[rule] = rule(*args)
        return answers[rule]

    return {
        verb: bool(once(p.who, user, session)) and once(p.state, user, session, now) is None
        for verb, p in POLICIES.items()
    }


def require_view_suggestions(user: User) -> None:
    """Lists of sessions, the form's duplicate warning and the homepage's sections: without View
    Suggestions nobody sees any session (403)."""
    if not has_perm(user, Perm.VIEW_SUGGESTIONS):
        raise PermissionDenied("You need the View Suggestions permission to see sessions.")


def suggest_denial(user: User) -> ApplicationError | None:
    if not user.is_active or not has_perm(user, Perm.CREATE_SUGGESTIONS):
        return PermissionDenied("You need the Create Suggestions permission to suggest a session.")
    return None


def decline_reason_for(user: User, session: CoachingSession) -> CancelReason:
    """A user who is both coach (through a group) and trainee declines as the coach."""
    return (
        CancelReason.DECLINED_BY_COACH
        if is_coach(user, session)
        else CancelReason.DECLINED_BY_TRAINEE
    )


# --- the way to a session ----------------------------------------------------------------------
NOT_FOUND = "There is no such coaching session, or you may not see it."


def knew_of(user: User, session_id: int) -> bool:
    """`user` is a trainee of the session (directly or through a group) and holds View
    Suggestions, whether or not they still see it: a trainee stops seeing a suggestion once it is
    canceled before scheduling, yet may have had its decline dialog open meanwhile."""
    return (
        user.is_active
        and has_perm(user, Perm.VIEW_SUGGESTIONS)
        and CoachingSession.objects.filter(trainee_q(user), pk=session_id).exists()
    )


def may_address(user: User, session_id: int, verb: Verb | None) -> bool:
    """Whoever sees the session may address it. A trainee who no longer sees it because it was
    canceled before it was scheduled may still decline it: they knew of it, so they are told it
    is closed (409, like everyone who lost the race). For anything else it does not exist to
    them (404), as decisions.md has it for what one may not see."""
    if sessions_visible_to(user).filter(pk=session_id).exists():
        return True
    return verb == Verb.DECLINE and knew_of(user, session_id)


def access_session(
    viewer: User,
    session_id: int,
    verb: Verb | None = None,
    *,
    for_update: bool = False,
    now: datetime | None = None,
) -> CoachingSession:
    """The session as `viewer` may see it, or NotFound (never a hint that it exists); with `verb`,
    also the refusal `denial` gives. Pages and the API read through here (with everything a page
    shows loaded); the services pass `for_update`, which locks the row first so that what is
    checked here still holds when they write."""
    if for_update:
        session = (
            CoachingSession.objects.select_for_update(of=("self",))
            .select_related("coach_user", "coach_group", "coaching_area", "suggested_by")
            .filter(pk=session_id)
            .first()
        )
        if session is not None and not may_address(viewer, session_id, verb):
            session = None
        if session is not None:
            # The invitation list as the policies read it, loaded under the lock.
            session._prefetched_objects_cache = {  # type: ignore[attr-defined]
                "attendees": list(
                    SessionAttendee.objects.filter(session=session)
                    .select_related("user")
                    .order_by("role", "id")
                )
            }
    else:
        session = with_related(sessions_visible_to(viewer, now)).filter(pk=session_id).first()
        if session is None and verb == Verb.DECLINE and knew_of(viewer, session_id):
            # The decline page, as the API: the trainee is told it is closed.
            session = with_related(CoachingSession.objects.filter(pk=session_id)).first()
    if session is None:
        raise NotFound(NOT_FOUND)
    if verb is not None and (refused := denial(verb, viewer, session, now)) is not None:
        raise refused
    return session
