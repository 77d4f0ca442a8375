"""Coaching rules at work: which agents a rule fires for, and the suggestions it makes."""

from __future__ import annotations

from collections.abc import Iterable


def evaluations_arrived(pairs: Iterable[tuple[int, int]]) -> None:
    """Called once the transaction that stored new or changed evaluations has committed, with the
    (agent id, coaching area id) pairs they touched: the rules of those areas look at those agents
    (in the background; this only enqueues)."""
