"""The QA tests reuse the API tests' clients and problem assertions; `arrivals` records what the
rules engine is told (the engine is another module's seam; this records its calls only)."""

from __future__ import annotations

from typing import Any

import pytest

from qa import engine
from tests.api.conftest import ApiClient, as_user, assert_problem  # noqa: F401


@pytest.fixture
def arrivals(monkeypatch) -> list[list[tuple[int, int]]]:
    calls: list[list[tuple[int, int]]] = []

    def record(pairs: Any) -> None:
        calls.append(list(pairs))

    monkeypatch.setattr(engine, "evaluations_arrived", record)
    return calls


def item(org, n: int = 1, **kw: Any) -> dict[str, Any]:
    """An evaluation as the QA tool sends it: Alice, Empathy, on CASE-1001."""
    return {
        "source_id": f"qa-{n}",
        "agent_id": org.alice.pk,
        "coaching_area_id": org.areas["Empathy"].pk,
        "score": 80,
        "evaluated_at": "2026-11-30T14:05:00+01:00",
        "case_id": org.case1001.pk,
        **kw,
    }
