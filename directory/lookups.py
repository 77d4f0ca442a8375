"""The directory's look-ups that every analytics page makes, compiled once per process
(`core.shapes`, bound without a viewer: no viewer changes them; the pages check access first).

Built per request through the ORM, each of these small statements cost 0.3-0.5 ms of queryset
building and compiling, more than the statement itself; an agent's page made six of them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import Group

from core.shapes import Args, Shape
from directory.models import Case, Evaluation, User, UserGroup


def _id(a: Args, name: str) -> int:
    value = a.ids[name]
    if value is None:
        raise TypeError(f"the look-up needs its {name} id")
    return value


USER = Shape("directory.user", User, lambda a: User.objects.filter(pk=_id(a, "user")))
CASE = Shape("directory.case", Case, lambda a: Case.objects.filter(pk=_id(a, "case")))
ROLE_NAMES = Shape(
    "directory.role_names",
    Group,
    lambda a: Group.objects.filter(user=_id(a, "user")).order_by("name").values_list("name"),
)
USER_GROUPS = Shape(
    "directory.user_groups",
    UserGroup,
    lambda a: UserGroup.objects.filter(members=_id(a, "user")).order_by("name", "id"),
)
SCORE_SERIES = Shape(
    "directory.score_series",
    Evaluation,
    lambda a: (
        Evaluation.objects.filter(agent=_id(a, "agent"), evaluated_at__gte=a.times["since"])
        .order_by("evaluated_at", "id")
        .values_list("coaching_area__name", "evaluated_at", "score")
    ),
)
# The agent's evaluations, newest first (the index `evaluation_agent_time`), with what the
# page's table shows of their case and area.
RECENT_EVALUATIONS = Shape(
    "directory.recent_evaluations",
    Evaluation,
    lambda a: (
        Evaluation.objects.filter(agent=_id(a, "agent"))
        .order_by("-evaluated_at", "-id")
        .values_list(
            "case_id",
            "case__number",
            "case__subject",
            "evaluated_at",
            "coaching_area__name",
            "score",
        )
    ),
)


def user_by_id(pk: int) -> User | None:
    rows = USER.bind(viewer=None, ids={"user": ("user", pk)}).rows(limit=1, offset=0)
    return rows[0] if rows else None


def case_by_id(pk: int) -> Case | None:
    rows = CASE.bind(viewer=None, ids={"case": ("case", pk)}).rows(limit=1, offset=0)
    return rows[0] if rows else None


def role_names_of(user: User) -> frozenset[str]:
    bound = ROLE_NAMES.bind(viewer=None, ids={"user": ("user", user.pk)})
    return frozenset(name for (name,) in bound.all())


def user_groups_of(user: User) -> list[UserGroup]:
    """The user's user groups by name."""
    return USER_GROUPS.bind(viewer=None, ids={"user": ("user", user.pk)}).all()


def score_series(agent: User, since: datetime) -> list[tuple[str, datetime, int]]:
    """(area name, time, score) of the agent's evaluations since `since`, oldest first."""
    bound = SCORE_SERIES.bind(
        viewer=None, ids={"agent": ("user", agent.pk)}, times={"since": since}
    )
    return bound.all()


def recent_evaluations(agent: User, limit: int) -> list[tuple[Any, ...]]:
    """(case id, case number, case subject, time, area name, score) of the agent's latest
    `limit` evaluations, newest first; the case's columns are None for one without a case."""
    bound = RECENT_EVALUATIONS.bind(viewer=None, ids={"agent": ("user", agent.pk)})
    return bound.rows(limit=limit, offset=0)
