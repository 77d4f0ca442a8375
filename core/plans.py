"""How PostgreSQL plans the statements psycopg prepares (`DB_PLAN_CACHE_MODE`).

psycopg prepares a statement the fifth time a connection runs it (`prepare_threshold`), and
PostgreSQL then decides per execution whether to plan it again for the values at hand ("custom
plan") or to reuse one plan made for any value ("generic"). Left to itself ("auto") it kept
re-planning the statements whose generic plan it merely *estimates* dearer: an agent's list of
sessions (a seven-relation join) was planned on every request, 0.8 ms where its generic plan
runs in 0.2 ms. Our lists and look-ups are index ranges of one id whatever its value, so the
connections use generic plans (`force_generic_plan`, set when they open: config/settings.py);
the states and roles that partial indexes name are written into the statements
(`core.shapes.written`) so that those plans still use them.

Text searches are the exception: how many rows `%refund%` matches decides between the trigram
index and a walk of the date index, which a generic plan cannot know (a generic case search
took 16.8 ms where a custom one takes 13.0). Their views run under `custom_plans()`, which sends
their statements with the values written in (psycopg's client-side binding: never prepared, so
planned for the term), without a statement of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections

GENERIC = "force_generic_plan"


@contextmanager
def custom_plans(using: str = "default") -> Iterator[None]:
    """Statements inside are planned for their values. Nothing changes on SQLite."""
    conn = connections[using]
    if conn.vendor != "postgresql":
        yield
        return
    from django.db.backends.postgresql.base import Cursor  # psycopg's ClientCursor, for Django

    conn.ensure_connection()
    raw = conn.connection
    before = raw.cursor_factory
    raw.cursor_factory = Cursor
    try:
        yield
    finally:
        raw.cursor_factory = before
