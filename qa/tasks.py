from __future__ import annotations

from django.tasks import task

from . import engine
from .effect import refresh_effect_windows


@task(queue_name="default")
def evaluate_agents(coaching_area_id: int, agent_ids: list[int]) -> int:
    """New evaluations of these agents in the area arrived: run the area's active rules for
    them. Returns the number of suggestions made."""
    return sum(r.created for r in engine.run_rules_for_agents(coaching_area_id, agent_ids))


@task(queue_name="default")
def refresh_windows(pairs: list[list[int]]) -> int:
    """Evaluations of these (agent id, coaching area id) pairs arrived, changed or moved: their
    completed sessions' stored windows, recomputed (idempotent). Returns the number of pairs."""
    refresh_effect_windows(pairs=[(agent_id, area_id) for agent_id, area_id in pairs])
    return len(pairs)
