"""coaching/selectors.py as it was before the scale rewrite (commit f6e9c3c), kept only so that
bench/verify_selectors.py can show the rewritten lists return exactly the same rows."""
# ruff: noqa

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from core.errors import NotFound
from core.timeutils import default_expiry
from directory.models import Case, CaseParticipant, User, UserGroup, UserGroupMembership
from directory.permissions import Perm, has_perm

from coaching.models import (
    CancelReason,
    CoachingSession,
    Origin,
    SessionEvent,
    SessionReferenceCase,
    SessionTraineeGroup,
    SessionTraineeUser,
    State,
)
from directory.permissions import is_qm_admin as is_admin
from directory.parties import PartyRef


# --- building blocks ---------------------------------------------------------------------------
def _groups_of(user: User) -> QuerySet[UserGroupMembership, int]:
    return UserGroupMembership.objects.filter(user=user).values("group_id")


def trainee_q(user: User) -> Q:
    return Q(id__in=SessionTraineeUser.objects.filter(user=user).values("session_id")) | Q(
        id__in=SessionTraineeGroup.objects.filter(group_id__in=_groups_of(user)).values(
            "session_id"
        )
    )


def coach_q(user: User) -> Q:
    """Sessions where `user` is the coach, directly or through the coach group."""
    return Q(coach_user=user) | Q(coach_group_id__in=_groups_of(user))


def open_q(now: datetime) -> Q:
    return Q(state=State.SUGGESTED, expires_at__gt=now)


def state_q(state: str, now: datetime | None = None) -> Q:
    """The state as everyone reads it: a suggestion past its expiry is canceled already."""
    now = now or timezone.now()
    if state == State.SUGGESTED:
        return open_q(now)
    if state == State.CANCELED:
        return Q(state=State.CANCELED) | Q(state=State.SUGGESTED, expires_at__lte=now)
    return Q(state=state)


def canceled_before_scheduled_q(now: datetime) -> Q:
    return Q(state=State.CANCELED, scheduled_at__isnull=True) | Q(
        state=State.SUGGESTED, expires_at__lte=now
    )


def with_related(qs: QuerySet[CoachingSession]) -> QuerySet[CoachingSession]:
    return qs.select_related(
        "coach_user", "coach_group", "coaching_area", "suggested_by", "scheduled_by", "canceled_by"
    ).prefetch_related(
        Prefetch("trainee_users", queryset=User.objects.order_by("display_name", "id")),
        Prefetch("trainee_groups", queryset=UserGroup.objects.order_by("name", "id")),
        Prefetch("reference_cases", queryset=Case.objects.order_by("number", "id")),
    )


# --- visibility --------------------------------------------------------------------------------
def sees_everything(viewer: User) -> bool:
    """QM Admins, and whoever may open any analytics page (where every session is listed)."""
    return is_admin(viewer) or has_perm(viewer, Perm.VIEW_ANALYTICS)


def sessions_visible_to(viewer: User, now: datetime | None = None) -> QuerySet[CoachingSession]:
    """Sessions `viewer` may see. An agent (no View Analytics) sees their own involvement, but
    never a session canceled before it was scheduled, unless they wrote it or coach it."""
    qs = CoachingSession.objects.all()
    if (
        not viewer.is_authenticated
        or not viewer.is_active
        or not has_perm(viewer, Perm.VIEW_SUGGESTIONS)
    ):
        return qs.none()
    if sees_everything(viewer):
        return qs
    now = now or timezone.now()
    own = Q(suggested_by=viewer) | coach_q(viewer)
    cases = CaseParticipant.objects.filter(user=viewer).values("case_id")
    on_my_cases = Q(
        id__in=SessionReferenceCase.objects.filter(case_id__in=cases).values("session_id")
    )
    involved = (trainee_q(viewer) | on_my_cases) & ~canceled_before_scheduled_q(now)
    return qs.filter(own | involved)


def session_for(viewer: User, session_id: int) -> CoachingSession:
    """One session, or NotFound when it does not exist or the viewer may not see it."""
    session = with_related(sessions_visible_to(viewer)).filter(pk=session_id).first()
    if session is None:
        raise NotFound("There is no such coaching session, or you may not see it.")
    return session


def hides_canceled_suggestions(viewer: User) -> bool:
    return not sees_everything(viewer)


# --- the lists of decisions.md -----------------------------------------------------------------
def sessions_suggested_by(viewer: User) -> QuerySet[CoachingSession]:
    """The author's cards on their homepage, newest first."""
    return sessions_visible_to(viewer).filter(suggested_by=viewer).order_by("-created_at", "-id")


def sessions_to_coach(viewer: User, now: datetime | None = None) -> QuerySet[CoachingSession]:
    """The coach's "Suggested Coaching Sessions": open suggestions addressed to them or to one of
    their groups, the soonest to expire first."""
    now = now or timezone.now()
    return (
        sessions_visible_to(viewer, now)
        .filter(coach_q(viewer), open_q(now))
        .order_by("expires_at", "id")
    )


def sessions_for_trainee(
    viewer: User, agent: User, now: datetime | None = None
) -> QuerySet[CoachingSession]:
    """The Agent Analytics page of `agent`: sessions where they are a trainee (directly or through
    a group), as far as `viewer` may see them."""
    now = now or timezone.now()
    qs = sessions_visible_to(viewer, now).filter(trainee_q(agent))
    if viewer.pk == agent.pk or hides_canceled_suggestions(viewer):
        qs = qs.exclude(canceled_before_scheduled_q(now))
    return qs.order_by("-created_at", "-id")


def sessions_for_case(
    viewer: User, case: Case, now: datetime | None = None
) -> QuerySet[CoachingSession]:
    """The Case Analytics page of `case`: sessions that reference it."""
    now = now or timezone.now()
    qs = sessions_visible_to(viewer, now).filter(
        id__in=SessionReferenceCase.objects.filter(case=case).values("session_id")
    )
    if hides_canceled_suggestions(viewer):
        qs = qs.exclude(canceled_before_scheduled_q(now))
    return qs.order_by("-created_at", "-id")


def session_history(session: CoachingSession) -> QuerySet[SessionEvent]:
    return session.events.select_related("actor").order_by("at", "id")


# --- prefill of the three entry points ---------------------------------------------------------
@dataclass
class Prefill:
    origin: str
    expires_at: datetime
    trainees: list[PartyRef] = field(default_factory=list)
    reference_case_ids: list[int] = field(default_factory=list)
    trainee_objects: list[User | UserGroup] = field(default_factory=list)
    reference_cases: list[Case] = field(default_factory=list)


def prefill_for_homepage(viewer: User) -> Prefill:
    return Prefill(origin=Origin.HOMEPAGE, expires_at=default_expiry(tz_name=viewer.time_zone))


def prefill_for_agent(viewer: User, agent: User) -> Prefill:
    return Prefill(
        origin=Origin.AGENT_ANALYTICS,
        expires_at=default_expiry(tz_name=viewer.time_zone),
        trainees=[PartyRef.of(agent)],
        trainee_objects=[agent],
    )


def prefill_for_case(viewer: User, case: Case) -> Prefill:
    """Every participant of the case, agents and auditors, and the case itself."""
    participants = [
        p.user
        for p in case.participations.select_related("user")
        .filter(user__is_active=True)
        .order_by("role", "user__display_name", "id")
    ]
    return Prefill(
        origin=Origin.CASE_ANALYTICS,
        expires_at=default_expiry(tz_name=viewer.time_zone),
        trainees=[PartyRef.of(u) for u in participants],
        trainee_objects=list(participants),
        reference_case_ids=[case.pk],
        reference_cases=[case],
    )


__all__ = [
    "CancelReason",
    "Prefill",
    "coach_q",
    "open_q",
    "prefill_for_agent",
    "prefill_for_case",
    "prefill_for_homepage",
    "session_for",
    "session_history",
    "sessions_for_case",
    "sessions_for_trainee",
    "sessions_suggested_by",
    "sessions_to_coach",
    "sessions_visible_to",
    "state_q",
    "trainee_q",
    "with_related",
]
