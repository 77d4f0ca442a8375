"""The one rule of every list's page and total."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def paged(
    fetch: Callable[[int, int], list[Any]], count: Callable[[], int], *, limit: int, offset: int
) -> tuple[list[Any], int]:
    """`fetch(limit, offset)` and the total: at most two queries whatever the page size. A page
    that is not full and not past the end is the end of the list, so it tells the total without
    counting (a short list, the last page: most lists most people open)."""
    items = fetch(limit, offset)
    told = told_total(items, limit=limit, offset=offset)
    return items, count() if told is None else told


def told_total(items: list[Any], *, limit: int, offset: int) -> int | None:
    """The total a page tells without counting, or None: a page that is not full and not past
    the end is the end of the list."""
    if 0 < len(items) < limit or (offset == 0 and not items):
        return offset + len(items)
    return None
