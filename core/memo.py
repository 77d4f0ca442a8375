from __future__ import annotations

from collections.abc import Callable


def memo[T](obj: object, name: str, compute: Callable[[], T]) -> T:
    """`compute()` once per object, kept on it: facts about the signed-in user (roles, groups)
    asked many times while one request lists sessions, read from the database once."""
    attr = f"_memo_{name}"
    try:
        return getattr(obj, attr)
    except AttributeError:
        value = compute()
        setattr(obj, attr, value)
        return value
