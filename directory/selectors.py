"""Reads of the directory: typeahead search, analytics data. Every list is indexed and paged by
the caller (slice the queryset); ordering is deterministic."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.memo import memo
from directory.lookups import role_names_of, score_series
from directory.models import (
    Case,
    CaseParticipant,
    CoachingArea,
    Evaluation,
    User,
    UserGroup,
    UserGroupMembership,
)
from directory.policies import sees_all_analytics

SHORT_TERM = 3


def text_match(term: str, *fields: str) -> Q:
    """`term` found in any of `fields`, case-insensitively.

    From three characters on, anywhere in the text ("contains"); on PostgreSQL the trigram indexes
    of migration 0002 answer it. One or two characters match the start of a word instead ("co"
    finds Cora Coach and Carl Coach, not Nicole): that is what a person typing a name means, and
    it keeps the trigram index usable (a two-character "contains" has no trigram to look up and
    would read the whole table)."""
    q = Q()
    for name in fields:
        if len(term) >= SHORT_TERM:
            q |= Q(**{f"{name}__icontains": term})
        else:
            q |= Q(**{f"{name}__istartswith": term}) | Q(**{f"{name}__icontains": f" {term}"})
    return q


def search_users(term: str = "", *, active_only: bool = True) -> QuerySet[User]:
    """Users whose display name or username matches `term` (see `text_match`), by name."""
    qs = User.objects.all()
    if active_only:
        qs = qs.filter(is_active=True)
    term = term.strip()
    if term:
        qs = qs.filter(text_match(term, "display_name", "username"))
    return qs.order_by("display_name", "id")


def search_groups(term: str = "") -> QuerySet[UserGroup]:
    qs = UserGroup.objects.all()
    term = term.strip()
    if term:
        qs = qs.filter(text_match(term, "name"))
    return qs.order_by("name", "id")


def with_member_count(qs: QuerySet[UserGroup]) -> QuerySet[UserGroup]:
    """Active members, counted in the same query. A correlated subquery rather than a JOIN and
    GROUP BY: only the groups of the page (after LIMIT) are counted, each from the
    (group, user) index, instead of every matching group's members being aggregated first."""
    active = (
        UserGroupMembership.objects.filter(group=OuterRef("pk"), user__is_active=True)
        .order_by()
        .values("group")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return qs.annotate(member_count=Coalesce(Subquery(active), 0))


def group_members(group: UserGroup) -> QuerySet[User]:
    return User.objects.filter(group_memberships__group=group, is_active=True).order_by(
        "display_name", "id"
    )


def search_cases(term: str = "", *, viewer: User | None = None) -> QuerySet[Case]:
    """Cases by number or subject. An agent without View Analytics finds only their own cases."""
    qs = Case.objects.all()
    term = term.strip()
    if term:
        if len(term) >= SHORT_TERM:
            match = text_match(term, "number", "subject")
        else:
            # A short term: a word of the subject, or the start of the number or of a part of it
            # ("10" finds CASE-1001). Kept to four patterns: with more, PostgreSQL misjudges how
            # many cases match and walks the date index instead of the trigram indexes.
            match = (
                text_match(term, "subject")
                | Q(number__istartswith=term)
                | Q(number__icontains=f"-{term}")
            )
        qs = qs.filter(match)
    if viewer is not None and not sees_all_analytics(viewer):
        qs = qs.filter(id__in=CaseParticipant.objects.filter(user=viewer).values("case_id"))
    return qs.order_by("-opened_at", "-id")


def case_participants(case: Case) -> QuerySet[CaseParticipant]:
    return case.participations.select_related("user").order_by("role", "user__display_name", "id")


def active_coaching_areas() -> QuerySet[CoachingArea]:
    return CoachingArea.objects.filter(is_active=True).order_by("name", "id")


def agent_score_series(agent: User, *, days: int = 90) -> dict[str, list[tuple[datetime, int]]]:
    """QA scores over time per coaching area, oldest first, for the Agent Analytics chart."""
    since = timezone.now() - timedelta(days=days)
    series: dict[str, list[tuple[datetime, int]]] = {}
    for area, at, score in score_series(agent, since):
        series.setdefault(area, []).append((at, score))
    return series


def case_evaluations(case: Case) -> QuerySet[Evaluation]:
    return case.evaluations.select_related("agent", "coaching_area").order_by(
        "agent__display_name", "coaching_area__name", "id"
    )


# --- for the pages: re-showing what a form picked, and the viewer's roles -----------------------
def parties_by_tokens(tokens: list[tuple[str, int]]) -> list[User | UserGroup]:
    """Users and user groups for `("user"|"group", id)` pairs, in the given order; unknown ids
    are left out. Two queries at most."""
    user_ids = [pk for kind, pk in tokens if kind == "user"]
    group_ids = [pk for kind, pk in tokens if kind == "group"]
    users = User.objects.in_bulk(user_ids) if user_ids else {}
    groups = with_member_count(UserGroup.objects.filter(pk__in=group_ids)) if group_ids else []
    by_group = {g.pk: g for g in groups}
    out: list[User | UserGroup] = []
    for kind, pk in tokens:
        obj = users.get(pk) if kind == "user" else by_group.get(pk)
        if obj is not None:
            out.append(obj)
    return out


def cases_by_ids(ids: list[int]) -> list[Case]:
    cases = Case.objects.in_bulk(ids) if ids else {}
    return [cases[pk] for pk in dict.fromkeys(ids) if pk in cases]


def role_names(user: User) -> frozenset[str]:
    """The permission roles (Django groups) the user holds, read once per request."""
    return memo(user, "role_names", lambda: role_names_of(user))
