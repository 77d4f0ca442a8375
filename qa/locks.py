"""The per-(coaching area, agent) lock behind "no duplicates" (decisions.md): a rule skips an
agent who already has an open session in the area. Whoever is about to give agents an open
session in an area takes their `AgentAreaLock` rows first, in agent order: the rule engine
before it checks and suggests, a person's suggestion (or an edit that adds trainees or moves the
area) before it writes. A rule that reaches an agent while a person's suggestion for them is
being written waits for it, then finds it and skips; without the person's lock it saw no open
session (not yet committed) and made a second one."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection

from .models import AgentAreaLock

PER_QUERY = 500  # agent ids per statement (SQLite's variable limit, plan stability)


def lock_agents_in_area(*, coaching_area_id: int, agent_ids: Iterable[int]) -> None:
    """Lock the (area, agent) rows of `agent_ids` until the transaction ends, creating the
    missing ones. In ascending agent order, batch after batch: two transactions locking
    overlapping agents wait for each other instead of deadlocking."""
    ids = sorted(set(agent_ids))
    for start in range(0, len(ids), PER_QUERY):
        batch = ids[start : start + PER_QUERY]
        if connection.vendor == "postgresql":
            _insert_or_lock(coaching_area_id, batch)
        else:
            # SQLite: the insert takes the database's write lock, held to the end of the
            # (IMMEDIATE) transaction; that serializes writers on its own.
            AgentAreaLock.objects.bulk_create(
                [AgentAreaLock(coaching_area_id=coaching_area_id, agent_id=uid) for uid in batch],
                ignore_conflicts=True,
            )


def _insert_or_lock(area_id: int, ids: list[int]) -> None:
    """One statement: the missing rows inserted, the existing ones locked. `DO UPDATE ... WHERE
    false` locks every conflicting row without writing it (PostgreSQL locks all rows the action
    is taken for, updated or not); rows are taken in the order given."""
    table = AgentAreaLock._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" (coaching_area_id, agent_id) '
            "SELECT %s, u.id FROM unnest(%s::bigint[]) WITH ORDINALITY AS u(id, n) ORDER BY u.n "
            "ON CONFLICT (coaching_area_id, agent_id) "
            "DO UPDATE SET agent_id = EXCLUDED.agent_id WHERE false",
            [area_id, ids],
        )
