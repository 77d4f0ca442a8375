"""Building completed sessions and evaluations at chosen moments for the effect tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from coaching import services
from coaching.models import CoachingSession
from coaching.rules import SessionFields
from directory.models import Case, CoachingArea, Evaluation, User, UserGroup
from directory.parties import PartyRef
from qa.effect import refresh_effect_windows


def held(
    *,
    author: User,
    coach: User | UserGroup,
    trainees: Sequence[User | UserGroup],
    area: CoachingArea,
    starts_at: datetime,
    minutes: int = 60,
    title: str = "Held session",
    holder: User | None = None,
) -> CoachingSession:
    """A session suggested, scheduled and completed at those moments (through the services)."""
    session = services.session_suggest(
        actor=author,
        fields=SessionFields(
            title=title,
            coach=PartyRef.of(coach),
            trainees=[PartyRef.of(t) for t in trainees],
            coaching_area_id=area.pk,
        ),
        now=starts_at - timedelta(days=3),
    )
    holder = holder or (coach if isinstance(coach, User) else None)
    if holder is None:
        raise ValueError("a group coach needs the member who holds the session")
    services.session_schedule(
        actor=holder,
        session_id=session.pk,
        starts_at=starts_at,
        duration_minutes=minutes,
        allow_conflicts=True,
        now=starts_at - timedelta(days=2),
    )
    return services.session_complete(
        actor=holder,
        session_id=session.pk,
        notes="Went through it.",
        action_items=[],
        now=starts_at + timedelta(minutes=minutes),
    )


_counter = iter(range(1, 10**9))


def scores(
    agent: User,
    area: CoachingArea,
    points: Sequence[tuple[datetime, int]],
    case: Case | None = None,
) -> None:
    """Evaluations of `agent` in `area`: (evaluated at, score) each, written directly (not through
    the ingest), so the stored windows are refreshed as the ingest's task would."""
    Evaluation.objects.bulk_create(
        Evaluation(
            source_id=f"t-{next(_counter)}",
            agent=agent,
            coaching_area=area,
            score=score,
            evaluated_at=at,
            case=case,
        )
        for at, score in points
    )
    refresh_effect_windows(pairs=[(agent.pk, area.pk)])


def series(start: datetime, step: timedelta, values: Sequence[int]) -> list[tuple[datetime, int]]:
    return [(start + step * i, v) for i, v in enumerate(values)]


def days(n: float) -> timedelta:
    return timedelta(days=n)


def approx(value: Any, digits: int = 4) -> Any:
    return None if value is None else round(value, digits)
