"""Shared helpers of the coaching-rule tests: rules and evaluations written directly (as the
ingest would), and the rule-made suggestions as rows."""

from __future__ import annotations

from datetime import timedelta
from itertools import count
from typing import Any

from django.utils import timezone

from coaching import services
from coaching.models import CoachingSession, Origin
from coaching.rules import SessionFields
from directory.models import CoachingArea, Evaluation, User, UserGroup
from directory.parties import PartyRef
from qa.models import CoachingRule

_ids = count(1)


def rule(org: Any, **kw: Any) -> CoachingRule:
    """Empathy below 70 over the last 5 (at least 3), coached by Cora, expiring in 14 days."""
    base: dict[str, Any] = dict(
        name="Empathy dip",
        coaching_area=org.areas["Empathy"],
        threshold=70,
        window=5,
        min_evaluations=3,
        coach_user=org.cora,
        expires_in_days=14,
    )
    base.update(kw)
    return CoachingRule.objects.create(**base)


def scores(agent: User, area: CoachingArea, values: list[int], *, days_ago: int = 30) -> None:
    """Evaluations oldest first, one a day, the last one `days_ago - len(values) + 1` days ago."""
    start = timezone.now() - timedelta(days=days_ago)
    Evaluation.objects.bulk_create(
        [
            Evaluation(
                source_id=f"test-{next(_ids)}",
                agent=agent,
                coaching_area=area,
                score=value,
                evaluated_at=start + timedelta(days=i),
            )
            for i, value in enumerate(values)
        ]
    )


def made_by_rules(**kw: Any) -> list[CoachingSession]:
    return list(CoachingSession.objects.filter(origin=Origin.RULE, **kw).order_by("id"))


def trainees_of(session: CoachingSession) -> list[str]:
    return sorted(u.username for u in session.trainee_users.all())


def suggested(
    org: Any, trainee: User | UserGroup, area: str = "Empathy", **kw: Any
) -> CoachingSession:
    """A suggestion by Sam, coach Carl, for `trainee` in `area` (a person's, not a rule's)."""
    return services.session_suggest(
        actor=org.sam,
        fields=SessionFields(
            title=kw.pop("title", area),
            coach=PartyRef.of(kw.pop("coach", org.carl)),
            trainees=[PartyRef.of(trainee)],
            coaching_area_id=org.areas[area].pk,
            **kw,
        ),
    )
