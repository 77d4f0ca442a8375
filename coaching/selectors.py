"""Every read of coaching sessions that depends on who is asking.

Lists return querysets ordered deterministically, each answered by an index; `with_related` loads
what a page or an API list shows in a fixed number of queries, whatever the page size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import F, Prefetch, Q, QuerySet
from django.db.models.lookups import In
from django.utils import timezone

from core.timeutils import default_expiry
from directory.models import Case, CaseParticipant, User, UserGroup, UserGroupMembership
from directory.parties import PartyRef
from directory.permissions import Perm, has_perm
from directory.policies import sees_all_analytics

from .models import (
    CoachingSession,
    Origin,
    SessionAttendee,
    SessionEvent,
    SessionReferenceCase,
    SessionTraineeGroup,
    SessionTraineeUser,
    State,
)
from .rules import DURATION_MAX


# --- building blocks ---------------------------------------------------------------------------
class _InArray(In):
    """`id IN (subquery)`, written on PostgreSQL as `id = ANY(ARRAY(subquery))`.

    The subquery (the viewer's own session ids, a UNION of index scans) then runs once as an
    InitPlan and the sessions are fetched by primary key, so the cost follows the viewer's
    sessions. With a plain IN, the planner may instead scan every session matching the caller's
    other filters (e.g. all open suggestions for `state=suggested`) and hash-join: a cost that
    grows with the table. Same rows either way (ids are never NULL)."""

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY(ARRAY{rhs})", (*lhs_params, *rhs_params)


def _id_in(ids: QuerySet) -> Q:
    return Q(_InArray(F("id"), ids.query))


def _groups_of(user: User) -> QuerySet[UserGroupMembership, Any]:
    return UserGroupMembership.objects.filter(user=user).values("group_id")


def _trainee_session_ids(user: User) -> QuerySet[SessionTraineeUser, Any]:
    return (
        SessionTraineeUser.objects.filter(user=user)
        .values("session_id")
        .union(
            SessionTraineeGroup.objects.filter(group_id__in=_groups_of(user)).values("session_id")
        )
    )


def trainee_q(user: User) -> Q:
    """Sessions where `user` is a trainee, directly or through a user group.

    One `id IN (... UNION ...)` rather than two `id IN` joined by OR: PostgreSQL cannot drive an
    OR of subqueries from an index, so it walked the whole `-created_at` index filtering every
    session (cost grew with the table); the union is answered from the trainee indexes and costs
    what the user's own sessions cost."""
    return _id_in(_trainee_session_ids(user))


def coach_q(user: User) -> Q:
    """Sessions where `user` is the coach, directly or through the coach group."""
    return Q(coach_user=user) | Q(coach_group_id__in=_groups_of(user))


def _coached_session_ids(user: User, extra: Q | None = None) -> QuerySet[CoachingSession, Any]:
    """`coach_q` as a union of two index scans (`session_coach_user`, `session_coach_group`)."""
    extra = extra or Q()
    direct = CoachingSession.objects.filter(extra, coach_user=user)
    through_group = CoachingSession.objects.filter(extra, coach_group_id__in=_groups_of(user))
    return direct.order_by().values("id").union(through_group.order_by().values("id"))


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
        Prefetch(
            "attendees",
            queryset=SessionAttendee.objects.select_related("user").order_by("role", "id"),
        ),
    )


# --- visibility --------------------------------------------------------------------------------
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
    if sees_all_analytics(viewer):
        return qs
    now = now or timezone.now()
    # own | (involved & ~canceled_before_scheduled), written as: the id is among the viewer's
    # own or involved sessions (one UNION of index scans, so the cost follows the viewer's
    # sessions, not the table), and the row is own or not canceled-before-scheduled.
    own = Q(suggested_by=viewer) | coach_q(viewer)
    cases = CaseParticipant.objects.filter(user=viewer).values("case_id")
    candidates = _trainee_session_ids(viewer).union(
        SessionReferenceCase.objects.filter(case_id__in=cases).values("session_id"),
        CoachingSession.objects.filter(suggested_by=viewer).order_by().values("id"),
        _coached_session_ids(viewer),
    )
    return qs.filter(_id_in(candidates), own | ~canceled_before_scheduled_q(now))


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
        .filter(_id_in(_coached_session_ids(viewer, open_q(now))))
        .order_by("expires_at", "id")
    )


def sessions_scheduled_to_coach(
    viewer: User, now: datetime | None = None
) -> QuerySet[CoachingSession]:
    """The coach's "Scheduled Coaching Sessions": sessions they coach (directly or through a
    group) that are scheduled and still ahead or possibly running (started less than the longest
    duration ago), the next one first."""
    now = now or timezone.now()
    upcoming = Q(state=State.SCHEDULED, starts_at__gt=now - timedelta(minutes=DURATION_MAX))
    return (
        sessions_visible_to(viewer, now)
        .filter(_id_in(_coached_session_ids(viewer, upcoming)))
        .order_by("starts_at", "id")
    )


def sessions_upcoming_for(viewer: User, now: datetime | None = None) -> QuerySet[CoachingSession]:
    """The scheduled sessions the viewer attends (as trainee, or as the coach who holds it) that
    are ahead or possibly running, the next first: the agent's "Upcoming Coaching Sessions"."""
    now = now or timezone.now()
    ids = SessionAttendee.objects.filter(
        user=viewer, busy=True, ends_at__gt=now, starts_at__gt=now - timedelta(minutes=DURATION_MAX)
    ).values("session_id")
    return (
        sessions_visible_to(viewer, now)
        .filter(_id_in(ids), state=State.SCHEDULED)
        .order_by("starts_at", "id")
    )


def sessions_awaiting_acknowledgement(viewer: User) -> QuerySet[CoachingSession]:
    """Completed sessions the viewer attended as a trainee and has not acknowledged yet, the most
    recently held first."""
    ids = SessionAttendee.objects.filter(
        user=viewer, role="trainee", acknowledged_at__isnull=True
    ).values("session_id")
    return (
        sessions_visible_to(viewer)
        .filter(_id_in(ids), state=State.COMPLETED)
        .order_by("-starts_at", "-id")
    )


def sessions_for_trainee(
    viewer: User, agent: User, now: datetime | None = None
) -> QuerySet[CoachingSession]:
    """The Agent Analytics page of `agent`: sessions where they are a trainee (directly or through
    a group), as far as `viewer` may see them."""
    now = now or timezone.now()
    qs = sessions_visible_to(viewer, now).filter(trainee_q(agent))
    if viewer.pk == agent.pk or not sees_all_analytics(viewer):
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
    if not sees_all_analytics(viewer):
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
