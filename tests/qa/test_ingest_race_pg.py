"""Real concurrency on PostgreSQL: integrations sending overlapping batches at the same instant
(and a CSV import beside them) all succeed; every source id is stored once."""

from __future__ import annotations

import io
from functools import partial

import pytest
from django.core.management import call_command

from directory.models import Evaluation, User
from qa.ingest import IngestResult, evaluations_ingest
from tests.domain.helpers import at_once

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

ROUNDS = 5


def _batch(org, ids: range, score: int) -> list[dict[str, object]]:
    return [
        {
            "source_id": f"race-{n}",
            "agent_id": org.alice.pk,
            "coaching_area_id": org.areas["Empathy"].pk,
            "score": score,
            "evaluated_at": "2026-11-30T10:00:00Z",
        }
        for n in ids
    ]


def test_overlapping_batches_at_once_all_succeed(org, tmp_path):
    csv_path = tmp_path / "race.csv"
    for round_ in range(ROUNDS):
        Evaluation.objects.filter(source_id__startswith="race-").delete()
        # Three batches overlapping pairwise (and in opposite orders), and a file.
        first = _batch(org, range(0, 600), 10)
        second = list(reversed(_batch(org, range(300, 900), 20)))
        third = _batch(org, range(500, 1000), 30)
        csv_path.write_text(
            "source_id,agent_id,coaching_area_id,score,evaluated_at\n"
            + "".join(
                f"race-{n},{org.alice.pk},{org.areas['Empathy'].pk},40,2026-11-30T10:00:00Z\n"
                for n in range(800, 1200)
            )
        )

        def send(items: list[dict[str, object]]) -> IngestResult:
            return evaluations_ingest(actor=User.objects.get(username="admin"), items=items)

        def run_file() -> str:
            out = io.StringIO()
            call_command("import_evaluations", str(csv_path), stdout=out, stderr=io.StringIO())
            return out.getvalue()

        outcome = at_once(
            {
                "a": partial(send, first),
                "b": partial(send, second),
                "c": partial(send, third),
                "file": run_file,
            }
        )
        for name, result in outcome.items():
            assert not isinstance(result, Exception), (round_, name, result)
        assert Evaluation.objects.filter(source_id__startswith="race-").count() == 1200
        batches = [outcome[n] for n in "abc"]
        assert all(isinstance(r, IngestResult) for r in batches)
        assert sum(r.created + r.updated for r in batches) == 1700
