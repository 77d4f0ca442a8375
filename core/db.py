"""Running a transaction again when the database chose it as the loser of a race.

PostgreSQL aborts one of two transactions that wait for each other's row locks (deadlock,
SQLSTATE 40P01) and, at stricter isolation levels, one that read what another changed meanwhile
(serialization failure, 40001). Nothing of the aborted transaction was written, so running it
again is safe and almost always succeeds; failing instead would be an HTTP 500 for a request that
did nothing wrong, or a FAILED task (the worker does not retry tasks) whose e-mail waits for the
sweep.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from functools import wraps

from django.db import OperationalError, connection

log = logging.getLogger(__name__)

RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
ATTEMPTS = 5


def lost_a_race(exc: BaseException) -> bool:
    """True for an error that aborted the transaction only because of a concurrent one."""
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    return getattr(cause, "sqlstate", None) in RETRYABLE_SQLSTATES


def retry_on_conflict[**P, R](fn: Callable[P, R]) -> Callable[P, R]:
    """Run `fn` (which opens its own transaction) again, up to ATTEMPTS times, when its
    transaction loses a deadlock or serialization race. Inside an outer transaction it runs once:
    the aborted transaction is the caller's, and only the caller can start it again."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if connection.in_atomic_block:
            return fn(*args, **kwargs)
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return fn(*args, **kwargs)
            except OperationalError as exc:
                if attempt == ATTEMPTS or not lost_a_race(exc):
                    raise
                log.warning(
                    "%s lost a database race (attempt %s of %s), running it again: %s",
                    fn.__qualname__,
                    attempt,
                    ATTEMPTS,
                    str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                )
                # Apart, so the two that collided do not collide again at once.
                time.sleep(random.uniform(0.01, 0.05) * attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    return wrapper
