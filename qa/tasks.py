from __future__ import annotations

from django.tasks import task

from . import engine


@task(queue_name="default")
def evaluate_agents(coaching_area_id: int, agent_ids: list[int]) -> int:
    """New evaluations of these agents in the area arrived: run the area's active rules for
    them. Returns the number of suggestions made."""
    return sum(r.created for r in engine.run_rules_for_agents(coaching_area_id, agent_ids))
