"""Coaching rules at work: which agents a rule fires for, and the suggestions it makes.

A rule fires for an agent whose average score in the rule's area, over their last `window`
evaluations there, is below `threshold`, given at least `min_evaluations` of them. The averages
are one set-based query (a window function: the same SQL on SQLite and PostgreSQL), however many
agents. The suggestions are made in chunks of `CHUNK` agents, each chunk its own transaction:

1. lock the agents' (area, agent) rows (`qa.locks`: created on first use, in agent order; a
   person's suggestion takes the same rows);
2. drop the agents who already have an open session in the area, directly or through a trainee
   group (`coaching.selectors.trainees_with_open_session`, read after the lock);
3. make one suggestion per remaining agent (`coaching.services.sessions_suggest_for_rule`:
   sessions, audit, notifications and their e-mail tasks, expiry and reminders, set-based);
4. raise the rule's counter.

Two workers evaluating the same agent at once take turns on step 1, and the second finds the
first's suggestion in step 2: never a duplicate. A run that stops half-way (a crash, a deploy)
leaves whole chunks behind; running it again makes only the missing suggestions.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from coaching.selectors import trainees_with_open_session
from coaching.services import sessions_suggest_for_rule
from core.db import retry_on_conflict
from core.errors import ValidationFailed
from directory.models import Evaluation, User
from directory.parties import PartyRef

from .locks import lock_agents_in_area
from .models import CoachingRule

log = logging.getLogger(__name__)

CHUNK = 200  # agents per transaction (and at most one validation of the form's rules each)
AGENTS_PER_QUERY = 500  # agent ids per `IN (...)` (SQLite's variable limit, plan stability)
AGENTS_PER_TASK = 1000


@dataclass
class RunResult:
    rule_id: int
    firing: int = 0  # agents below the threshold
    created: int = 0  # suggestions made
    skipped: int = 0  # agents who already had an open session in the area
    error: str = ""  # why the rule could make nothing (its coach left, its area closed)


def title_for(rule: CoachingRule) -> str:
    """At most 100 + 11 + 80 characters: within a session title's 200."""
    return f"{rule.coaching_area.name} coaching: {rule.name}"


def firing_agents(rule: CoachingRule, agent_ids: Collection[int] | None = None) -> list[int]:
    """The active agents the rule fires for now, in id order (all agents with evaluations in the
    area, or those of `agent_ids`): one query per `AGENTS_PER_QUERY` ids. The comparison is in
    integers (sum < threshold x count), so an average exactly at the threshold never fires on
    either database."""
    if agent_ids is not None:
        ids = sorted(set(agent_ids))
        found: list[int] = []
        for start in range(0, len(ids), AGENTS_PER_QUERY):
            found += _firing(rule, ids[start : start + AGENTS_PER_QUERY])
        return found
    return _firing(rule, None)


def firing_sql(rule: CoachingRule, agent_ids: list[int] | None) -> tuple[str, list[int | bool]]:
    """The averaging query (and its parameters): each agent's newest `window` evaluations in the
    area (read along the (area, agent, time) index), kept when there are at least
    `min_evaluations` and their sum is below threshold x count."""
    evaluation = Evaluation._meta.db_table
    user = User._meta.db_table
    params: list[int | bool] = [rule.coaching_area_id]
    only = ""
    if agent_ids is not None:
        only = f"AND e.agent_id IN ({', '.join(['%s'] * len(agent_ids))})"
        params += agent_ids
    params += [rule.window, True, rule.coach_user_id or 0, rule.min_evaluations, rule.threshold]
    sql = f"""
        SELECT r.agent_id
        FROM (
            SELECT e.agent_id, e.score,
                   ROW_NUMBER() OVER (
                       PARTITION BY e.agent_id ORDER BY e.evaluated_at DESC, e.id DESC
                   ) AS recent
            FROM {evaluation} e
            WHERE e.coaching_area_id = %s {only}
        ) r
        JOIN {user} u ON u.id = r.agent_id
        WHERE r.recent <= %s AND u.is_active = %s AND r.agent_id <> %s
        GROUP BY r.agent_id
        HAVING COUNT(*) >= %s AND SUM(r.score) < %s * COUNT(*)
        ORDER BY r.agent_id
    """
    return sql, params


def _firing(rule: CoachingRule, agent_ids: list[int] | None) -> list[int]:
    if agent_ids is not None and not agent_ids:
        return []
    sql, params = firing_sql(rule, agent_ids)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def run_rule(
    rule_id: int,
    agent_ids: Collection[int] | None = None,
    *,
    now: datetime | None = None,
    chunk: int = CHUNK,
    progress: Callable[[RunResult], None] | None = None,
) -> RunResult:
    """Evaluate one rule for `agent_ids` (None: every agent with evaluations in its area) and
    make the suggestions it calls for. Safe to run twice, at once, or again after a crash."""
    result = RunResult(rule_id)
    rule = (
        CoachingRule.objects.select_related("coaching_area", "coach_user", "coach_group")
        .filter(pk=rule_id, active=True)
        .first()
    )
    if rule is None:
        return result
    started = now or timezone.now()
    firing = firing_agents(rule, agent_ids)
    result.firing = len(firing)
    try:
        for start in range(0, len(firing), chunk):
            made, skipped, still_active = _fire(rule, firing[start : start + chunk], now=now)
            result.created += made
            result.skipped += skipped
            if progress is not None:
                progress(result)
            if not still_active:
                break
    except ValidationFailed as refused:
        # The rule as written cannot make a suggestion now (its coach left, its group emptied,
        # its area closed): the QM Admin sees why on the rules page.
        result.error = refused.message[:500]
        log.warning("coaching rule %s (%s) made no suggestion: %s", rule.pk, rule, refused)
    CoachingRule.objects.filter(pk=rule.pk).update(last_run_at=started, last_error=result.error)
    return result


@retry_on_conflict
def _fire(rule: CoachingRule, agents: list[int], *, now: datetime | None) -> tuple[int, int, bool]:
    """One chunk in one transaction: lock, re-check, suggest, count. Returns (made, skipped,
    whether the rule is still active)."""
    with transaction.atomic():
        area_id = rule.coaching_area_id
        lock_agents_in_area(coaching_area_id=area_id, agent_ids=agents)
        # Deactivated or deleted while it ran: stop here.
        if not CoachingRule.objects.filter(pk=rule.pk, active=True).exists():
            return 0, 0, False
        # The time of this chunk (after the lock): an open session is one open now.
        moment = now or timezone.now()
        busy = trainees_with_open_session(coaching_area_id=area_id, user_ids=agents, now=moment)
        fresh = [uid for uid in agents if uid not in busy]
        made = sessions_suggest_for_rule(
            rule_name=rule.name,
            title=title_for(rule),
            coach=PartyRef.of(rule.coach),
            coaching_area_id=area_id,
            expires_at=moment + timedelta(days=rule.expires_in_days),
            trainee_ids=fresh,
            now=moment,
        )
        if made:
            CoachingRule.objects.filter(pk=rule.pk).update(
                suggestions_created=F("suggestions_created") + len(made)
            )
        return len(made), len(busy), True


def run_rules_for_agents(coaching_area_id: int, agent_ids: Collection[int]) -> list[RunResult]:
    """Every active rule of the area, for these agents (new evaluations arrived)."""
    rule_ids = CoachingRule.objects.filter(
        coaching_area_id=coaching_area_id, active=True
    ).values_list("id", flat=True)
    return [run_rule(rule_id, agent_ids) for rule_id in rule_ids.order_by("id")]


def evaluations_arrived(pairs: Iterable[tuple[int, int]]) -> None:
    """Called inside the transaction that stores new or changed evaluations, with the (agent id,
    coaching area id) pairs they touched: the rules of those areas look at those agents (in the
    background; this only enqueues). The task rows are written in that transaction, so they
    commit with the evaluations or not at all: a worker sees them only once the evaluations are
    there, and no crash between commit and enqueue can lose them. The pairs' stored
    coaching-effect windows are recomputed in the background too (`qa.tasks.refresh_windows`;
    `manage.py effect_windows` rebuilds them all)."""
    from .tasks import evaluate_agents, refresh_windows  # the task module imports this one

    by_area: dict[int, set[int]] = defaultdict(set)
    for agent_id, area_id in pairs:
        by_area[area_id].add(agent_id)
    if not by_area:
        return
    touched = sorted([agent_id, area_id] for area_id, ids in by_area.items() for agent_id in ids)
    for start in range(0, len(touched), AGENTS_PER_TASK):
        refresh_windows.enqueue(touched[start : start + AGENTS_PER_TASK])
    areas = set(
        CoachingRule.objects.filter(coaching_area_id__in=list(by_area), active=True).values_list(
            "coaching_area_id", flat=True
        )
    )
    for area_id in sorted(areas):
        ids = sorted(by_area[area_id])
        for start in range(0, len(ids), AGENTS_PER_TASK):
            evaluate_agents.enqueue(area_id, ids[start : start + AGENTS_PER_TASK])


def claim_daily_sweep(rule_id: int, today: date) -> bool:
    """Take today's sweep of the rule: one conditional UPDATE, so of several sweepers on several
    machines exactly one gets it (the others' UPDATE finds the day already set)."""
    return bool(
        CoachingRule.objects.filter(pk=rule_id, active=True)
        .filter(Q(swept_on__isnull=True) | Q(swept_on__lt=today))
        .update(swept_on=today)
    )


def sweep_rules(
    *, now: datetime | None = None, progress: Callable[[RunResult], None] | None = None
) -> list[RunResult]:
    """The daily sweep: every active rule over every agent of its area, once per (UTC) day,
    whatever the number of sweepers. A sweep that stops half-way is not taken again that day
    (arrivals and the next day's sweep, or `manage.py run_rules`, make up the rest)."""
    now = now or timezone.now()
    today = now.astimezone(UTC).date()
    results = []
    due = CoachingRule.objects.filter(active=True).filter(
        Q(swept_on__isnull=True) | Q(swept_on__lt=today)
    )
    for rule_id in due.order_by("id").values_list("id", flat=True):
        if claim_daily_sweep(rule_id, today):
            results.append(run_rule(rule_id, now=None, progress=progress))
    return results
