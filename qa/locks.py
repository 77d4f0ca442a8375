"""The per-(coaching area, agent) lock behind "no duplicates" (decisions.md): a rule skips an
agent who already has an open session in the area. Whoever is about to give agents an open
session in an area takes their `AgentAreaLock` rows first, in agent order: the rule engine
before it checks and suggests (`lock_agents_in_area`, exclusive), a person's suggestion or an
edit that adds trainees or moves the area before it writes (`share_agents_in_area`). A rule
that reaches an agent while a person's suggestion for them is being written waits for it, then
finds it and skips; without the person's lock it saw no open session (not yet committed) and
made a second one. People do not wait for each other: a person is warned of an open session,
never refused, so two suggestions for one agent may be written at once."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.db import connection

from .models import AgentAreaLock

PER_QUERY = 500  # agent ids per statement (SQLite's variable limit, plan stability)


def lock_agents_in_area(*, coaching_area_id: int, agent_ids: Iterable[int]) -> None:
    """Lock the (area, agent) rows of `agent_ids` exclusively until the transaction ends,
    creating the missing ones. In ascending agent order, batch after batch: two transactions
    locking overlapping agents wait for each other instead of deadlocking."""
    for batch in _batches(agent_ids):
        if connection.vendor != "postgresql":
            _insert_missing(coaching_area_id, batch)
            continue
        # `DO UPDATE ... WHERE false` locks every conflicting row without writing it
        # (PostgreSQL locks all rows the action is taken for, updated or not), also a row
        # another transaction was inserting when this one arrived.
        with connection.cursor() as cursor:
            cursor.execute(
                f'INSERT INTO "{AgentAreaLock._meta.db_table}" (coaching_area_id, agent_id) '
                "SELECT %s, u.id FROM unnest(%s::bigint[]) AS u(id) ORDER BY u.id "
                "ON CONFLICT (coaching_area_id, agent_id) "
                "DO UPDATE SET agent_id = EXCLUDED.agent_id WHERE false",
                [coaching_area_id, batch],
            )


def share_agents_in_area(*, coaching_area_id: int, agent_ids: Iterable[int]) -> None:
    """Hold the (area, agent) rows of `agent_ids` against `lock_agents_in_area` until the
    transaction ends (`FOR KEY SHARE`: other holders are not kept out), creating the missing
    ones (a row this transaction inserts is its own until it ends)."""
    table = AgentAreaLock._meta.db_table
    for batch in _batches(agent_ids):
        if connection.vendor != "postgresql":
            _insert_missing(coaching_area_id, batch)
            continue
        with connection.cursor() as cursor:
            # A row another transaction inserted while this statement waited is not in the
            # statement's snapshot, so it is neither inserted nor held: run it again (a new
            # snapshot) until every agent is one or the other.
            held = 0
            while held < len(batch):
                cursor.execute(
                    f'WITH made AS (INSERT INTO "{table}" (coaching_area_id, agent_id) '
                    "SELECT %s, u.id FROM unnest(%s::bigint[]) AS u(id) ORDER BY u.id "
                    "ON CONFLICT (coaching_area_id, agent_id) DO NOTHING RETURNING 1), "
                    f'held AS (SELECT 1 FROM "{table}" WHERE coaching_area_id = %s '
                    "AND agent_id = ANY(%s::bigint[]) ORDER BY agent_id FOR KEY SHARE) "
                    "SELECT (SELECT count(*) FROM made) + (SELECT count(*) FROM held)",
                    [coaching_area_id, batch, coaching_area_id, batch],
                )
                row = cursor.fetchone()
                held = int(row[0]) if row else 0


def _batches(agent_ids: Iterable[int]) -> Iterator[list[int]]:
    ids = sorted(set(agent_ids))
    for start in range(0, len(ids), PER_QUERY):
        yield ids[start : start + PER_QUERY]


def _insert_missing(area_id: int, ids: list[int]) -> None:
    """SQLite: the insert takes the database's write lock, held to the end of the (IMMEDIATE)
    transaction, which serializes the writers on its own."""
    AgentAreaLock.objects.bulk_create(
        [AgentAreaLock(coaching_area_id=area_id, agent_id=uid) for uid in ids],
        ignore_conflicts=True,
    )
