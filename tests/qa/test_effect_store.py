"""The stored windows (`qa.EffectWindow`): written when a session is completed, refreshed when
evaluations arrive through the real ingest and `evaluations_arrived`, rebuilt by the command, and
always equal to a recomputation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command

from directory.models import Evaluation, User
from qa import engine
from qa.effect import refresh_effect_windows, session_effect, stale_effect_windows
from qa.ingest import evaluations_ingest
from qa.models import EffectWindow
from tests.qa.effect_helpers import days, held, scores, series
from tests.qa.test_effect_report import month  # noqa: F401  (the report's dataset)

START = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


def direct(agent, area, points, prefix="d"):
    """Evaluations written straight to the table: nothing refreshes the stored windows."""
    Evaluation.objects.bulk_create(
        Evaluation(
            source_id=f"{prefix}-{i}", agent=agent, coaching_area=area, score=v, evaluated_at=at
        )
        for i, (at, v) in enumerate(points)
    )


def stored(session, agent):
    return EffectWindow.objects.filter(session=session, agent=agent).values_list(
        "coaching_area_id", "starts_at", "before_n", "before_sum", "after_n", "after_sum", "delta"
    )


def everything():
    fields = [f.attname for f in EffectWindow._meta.concrete_fields if f.name != "id"]
    return list(EffectWindow.objects.order_by("session_id", "agent_id").values_list(*fields))


def test_completion_stores_the_trainees_windows(org):
    empathy = org.areas["Empathy"]
    direct(org.alice, empathy, series(START - days(4), days(1), [60, 70, 80]), "before")
    direct(org.alice, empathy, series(START + days(1), days(1), [90, 90, 90]), "after")
    session = held(
        author=org.sam, coach=org.cora, trainees=[org.alice, org.bob], area=empathy, starts_at=START
    )
    assert list(stored(session, org.alice)) == [(empathy.pk, START, 3, 210, 3, 270, 20.0)]
    assert not stored(session, org.bob).exists()  # no evaluations in the area: no row
    assert stale_effect_windows() == []


def test_the_ingest_refreshes_the_windows_after_commit(
    org, django_capture_on_commit_callbacks, run_worker
):
    empathy = org.areas["Empathy"]
    session = held(
        author=org.sam, coach=org.cora, trainees=[org.alice], area=empathy, starts_at=START
    )
    scores(org.alice, empathy, series(START - days(3), days(1), [50, 50, 50]))
    assert list(stored(session, org.alice).values_list("after_n", "delta")) == [(0, None)]
    items = [
        {
            "source_id": f"qa-{i}",
            "agent_id": org.alice.pk,
            "coaching_area_id": empathy.pk,
            "score": 80,
            "evaluated_at": (START + days(i + 1)).isoformat(),
            "case_id": None,
        }
        for i in range(3)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        evaluations_ingest(actor=User.objects.get(username="admin"), items=items)
    assert list(stored(session, org.alice).values_list("after_n", "delta")) == [(0, None)]
    run_worker()  # the refresh is a background task
    assert list(stored(session, org.alice).values_list("after_n", "after_sum", "delta")) == [
        (3, 240, 30.0)
    ]
    (effect,) = session_effect(session, org.sam)
    assert (effect.after.n, effect.after.mean, effect.delta) == (3, 80, 30)
    assert stale_effect_windows() == []


def test_arrivals_refresh_only_their_pairs_and_a_move_leaves_the_old_area(org, run_worker):
    empathy, compliance = org.areas["Empathy"], org.areas["Compliance"]
    a = held(author=org.sam, coach=org.cora, trainees=[org.alice], area=empathy, starts_at=START)
    b = held(author=org.sam, coach=org.cora, trainees=[org.bob], area=compliance, starts_at=START)
    direct(org.alice, empathy, series(START - days(3), days(1), [40, 40, 40]), "a")
    direct(org.bob, compliance, series(START - days(3), days(1), [40, 40, 40]), "b")
    assert stale_effect_windows() == [(a.pk, org.alice.pk), (b.pk, org.bob.pk)]

    engine.evaluations_arrived([(org.alice.pk, empathy.pk)])
    run_worker()
    assert list(stored(a, org.alice).values_list("before_n", "before_sum")) == [(3, 120)]
    assert not stored(b, org.bob).exists()  # not among the pairs that arrived
    assert stale_effect_windows() == [(b.pk, org.bob.pk)]

    # Alice's evaluations move to another area: her Empathy pair has none left.
    Evaluation.objects.filter(agent=org.alice).update(coaching_area=compliance)
    engine.evaluations_arrived([(org.alice.pk, empathy.pk), (org.alice.pk, compliance.pk)])
    run_worker()
    assert not stored(a, org.alice).exists()
    assert stale_effect_windows() == [(b.pk, org.bob.pk)]


@pytest.mark.usefixtures("month")
def test_stored_equals_recomputed_and_the_command_rebuilds_and_checks(org, capsys):
    assert stale_effect_windows() == []
    before = everything()
    assert len(before) == 3  # Alice, Bob, Dan (February)
    # Written behind the table's back: the check sees it, the command repairs it.
    direct(org.bob, org.areas["Empathy"], [(datetime(2026, 3, 19, tzinfo=UTC), 0)])
    with pytest.raises(CommandError, match="1 stored windows differ"):
        call_command("effect_windows", "--check")
    call_command("effect_windows")
    call_command("effect_windows", "--check")
    assert "up to date" in capsys.readouterr().out
    assert stale_effect_windows() == []
    # Refreshing again changes nothing (idempotent), whichever scope.
    after = everything()
    assert len(after) == len(before) and after != before  # Bob's before window has the 0
    refresh_effect_windows(session_ids=[row[0] for row in after])
    refresh_effect_windows(pairs=[(row[1], row[2]) for row in after])
    assert everything() == after


def test_the_background_work_commits_with_the_evaluations_or_not_at_all(org):
    """The refresh (and rule) tasks are written in the ingest's transaction: rolled back with it,
    committed with it; nothing waits for an after-commit hook a crash could lose."""
    from django.db import transaction
    from django_tasks_db.models import DBTaskResult

    def refresh_tasks() -> list[list[list[int]]]:
        return [
            t.args_kwargs["args"][0]
            for t in DBTaskResult.objects.filter(task_path="qa.tasks.refresh_windows")
        ]

    batch = [
        {
            "source_id": "tx-1",
            "agent_id": org.alice.pk,
            "coaching_area_id": org.areas["Empathy"].pk,
            "score": 70,
            "evaluated_at": "2026-11-30T10:00:00Z",
        }
    ]
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        evaluations_ingest(actor=org.admin, items=batch, now=now)
        raise Abort
    assert refresh_tasks() == [] and not Evaluation.objects.filter(source_id="tx-1").exists()

    evaluations_ingest(actor=org.admin, items=batch, now=now)  # no on-commit hook runs here
    assert refresh_tasks() == [[[org.alice.pk, org.areas["Empathy"].pk]]]
