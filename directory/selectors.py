"""Reads of the directory: typeahead search, analytics data. Every list is indexed and paged by
the caller (slice the queryset); ordering is deterministic."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from directory.models import Case, CaseParticipant, CoachingArea, Evaluation, User, UserGroup
from directory.permissions import Perm, has_perm, is_qm_admin


def search_users(term: str = "", *, active_only: bool = True) -> QuerySet[User]:
    """Users whose display name or username contains `term` (case-insensitive). On PostgreSQL
    the trigram indexes of migration 0002 answer this; results are ordered by name."""
    qs = User.objects.all()
    if active_only:
        qs = qs.filter(is_active=True)
    term = term.strip()
    if term:
        qs = qs.filter(Q(display_name__icontains=term) | Q(username__icontains=term))
    return qs.order_by("display_name", "id")


def search_groups(term: str = "") -> QuerySet[UserGroup]:
    qs = UserGroup.objects.all()
    term = term.strip()
    if term:
        qs = qs.filter(name__icontains=term)
    return qs.order_by("name", "id")


def with_member_count(qs: QuerySet[UserGroup]) -> QuerySet[UserGroup]:
    """Active members, counted in the same query."""
    return qs.annotate(
        member_count=Count("memberships", filter=Q(memberships__user__is_active=True))
    )


def group_members(group: UserGroup) -> QuerySet[User]:
    return User.objects.filter(group_memberships__group=group, is_active=True).order_by(
        "display_name", "id"
    )


def search_cases(term: str = "", *, viewer: User | None = None) -> QuerySet[Case]:
    """Cases by number or subject. An agent without View Analytics finds only their own cases."""
    qs = Case.objects.all()
    term = term.strip()
    if term:
        qs = qs.filter(Q(number__icontains=term) | Q(subject__icontains=term))
    if viewer is not None and not (has_perm(viewer, Perm.VIEW_ANALYTICS) or is_qm_admin(viewer)):
        qs = qs.filter(id__in=CaseParticipant.objects.filter(user=viewer).values("case_id"))
    return qs.order_by("-opened_at", "-id")


def case_participants(case: Case) -> QuerySet[CaseParticipant]:
    return case.participations.select_related("user").order_by("role", "user__display_name", "id")


def active_coaching_areas() -> QuerySet[CoachingArea]:
    return CoachingArea.objects.filter(is_active=True).order_by("name", "id")


def agent_evaluations(agent: User, *, since: datetime | None = None) -> QuerySet[Evaluation]:
    """An agent's evaluations, newest first (the index `evaluation_agent_time`)."""
    qs = Evaluation.objects.filter(agent=agent)
    if since is not None:
        qs = qs.filter(evaluated_at__gte=since)
    return qs.select_related("case", "coaching_area").order_by("-evaluated_at", "-id")


def agent_score_series(agent: User, *, days: int = 90) -> dict[str, list[tuple[datetime, int]]]:
    """QA scores over time per coaching area, oldest first, for the Agent Analytics chart."""
    since = timezone.now() - timedelta(days=days)
    series: dict[str, list[tuple[datetime, int]]] = {}
    rows = (
        Evaluation.objects.filter(agent=agent, evaluated_at__gte=since)
        .order_by("evaluated_at", "id")
        .values_list("coaching_area__name", "evaluated_at", "score")
    )
    for area, at, score in rows:
        series.setdefault(area, []).append((at, score))
    return series


def case_evaluations(case: Case) -> QuerySet[Evaluation]:
    return case.evaluations.select_related("agent", "coaching_area").order_by(
        "agent__display_name", "coaching_area__name", "id"
    )
