"""The per-(coaching area, agent) locks behind "no duplicates" (decisions.md): a rule skips an
agent who already has an open session in the area.

* The rule engine, before it checks and suggests, locks the agents' `AgentAreaLock` rows
  (`lock_agents_in_area`): two workers evaluating the same agent take turns, and the second sees
  the first's suggestion.
* A person's suggestion, or an edit that adds trainees or moves the session to another area,
  takes a shared lock per (area, agent) before it writes (`share_agents_in_area`), which the
  rule engine takes exclusively after its rows: a rule reaching an agent while a person's
  suggestion for them is being written waits for it, then finds it and skips. Without it the
  rule saw no open session (not yet committed) and made a second one. People do not wait for
  each other: a person is warned of an open session, never refused.

On PostgreSQL the shared lock is a transaction-scoped advisory lock, keyed by the area and the
agent (32 bits each: two ids that share a key only make one wait for the other); it writes
nothing, unlike a row lock that many suggestions for one agent would hold at once (a multixact
on a row updated at every suggestion). On SQLite every write transaction is `BEGIN IMMEDIATE`:
the database's write lock serializes the writers, people and rules alike, on its own."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.db import connection
from django.db.backends.utils import CursorWrapper

from .models import AgentAreaLock

PER_QUERY = 500  # agent ids per statement (SQLite's variable limit, plan stability)


def lock_agents_in_area(*, coaching_area_id: int, agent_ids: Iterable[int]) -> None:
    """Lock the (area, agent) rows of `agent_ids` until the transaction ends, creating the
    missing ones, then the people's shared locks exclusively. In ascending agent order, batch
    after batch: two transactions locking overlapping agents wait for each other instead of
    deadlocking."""
    for batch in _batches(agent_ids):
        if connection.vendor != "postgresql":
            AgentAreaLock.objects.bulk_create(
                [AgentAreaLock(coaching_area_id=coaching_area_id, agent_id=u) for u in batch],
                ignore_conflicts=True,
            )
            continue
        with connection.cursor() as cursor:
            # `DO UPDATE ... WHERE false` locks every conflicting row without writing it
            # (PostgreSQL locks all rows the action is taken for, updated or not), also a row
            # another transaction was inserting when this one arrived.
            cursor.execute(
                f'INSERT INTO "{AgentAreaLock._meta.db_table}" (coaching_area_id, agent_id) '
                "SELECT %s, u.id FROM unnest(%s::bigint[]) AS u(id) ORDER BY u.id "
                "ON CONFLICT (coaching_area_id, agent_id) "
                "DO UPDATE SET agent_id = EXCLUDED.agent_id WHERE false",
                [coaching_area_id, batch],
            )
            _advisory(cursor, "pg_advisory_xact_lock", coaching_area_id, batch)


def share_agents_in_area(*, coaching_area_id: int, agent_ids: Iterable[int]) -> None:
    """Hold (area, agent) against `lock_agents_in_area` until the transaction ends; other
    holders are not kept out."""
    if connection.vendor != "postgresql":
        return  # the IMMEDIATE transaction's write lock already keeps every rule out
    with connection.cursor() as cursor:
        for batch in _batches(agent_ids):
            _advisory(cursor, "pg_advisory_xact_lock_shared", coaching_area_id, batch)


def _advisory(cursor: CursorWrapper, function: str, area_id: int, ids: list[int]) -> None:
    # The keys in ascending agent order (the subquery's ORDER BY, then one call per row).
    cursor.execute(
        f"SELECT count({function}(k.area, k.agent)) FROM (SELECT %s::bigint::bit(32)::int AS area, "
        "u.id::bit(32)::int AS agent FROM unnest(%s::bigint[]) AS u(id) ORDER BY u.id) k",
        [area_id, ids],
    )


def _batches(agent_ids: Iterable[int]) -> Iterator[list[int]]:
    ids = sorted(set(agent_ids))
    for start in range(0, len(ids), PER_QUERY):
        yield ids[start : start + PER_QUERY]
