"""The coaching-effect report on a small hand-built month: the coached rows, the baseline."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test.utils import override_settings

from qa.effect import coaching_effect_report, csv_rows
from tests.qa.effect_helpers import approx, days, held, scores, series

MARCH = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
A_START = datetime(2026, 3, 10, 10, tzinfo=UTC)
B_START = datetime(2026, 3, 20, 10, tzinfo=UTC)
REFERENCE = datetime(2026, 3, 15, 10, tzinfo=UTC)  # the median of the two starts


def around(agent, area, at, before, after):
    scores(agent, area, series(at - days(len(before)), days(1), before))
    scores(agent, area, series(at + days(1), days(1), after))


@pytest.fixture
def month(org):
    """Empathy in March: Cora coaches Alice (+10) and Carl coaches Bob (+20); Dan is not coached
    (+6 around the reference moment, 15 March 10:00). Compliance: Carl coaches Dan in February
    (outside the period). Nora has a session in Empathy but fewer than three evaluations after
    (no change: not counted)."""
    empathy, compliance = org.areas["Empathy"], org.areas["Compliance"]
    a = held(author=org.sam, coach=org.cora, trainees=[org.alice], area=empathy, starts_at=A_START)
    around(org.alice, empathy, A_START, [70, 70, 70], [80, 80, 80])
    b = held(author=org.sam, coach=org.carl, trainees=[org.bob], area=empathy, starts_at=B_START)
    around(org.bob, empathy, B_START, [50, 50, 50], [70, 70, 70])
    around(org.dan, empathy, REFERENCE, [60, 60, 60], [66, 66, 66])
    feb = held(
        author=org.sam,
        coach=org.carl,
        trainees=[org.dan],
        area=compliance,
        starts_at=datetime(2026, 2, 10, 10, tzinfo=UTC),
    )
    around(org.dan, compliance, feb.starts_at, [50, 50, 50], [90, 90, 90])
    return a, b


def test_by_area(org, month):
    report = coaching_effect_report(group_by="coaching_area", start=MARCH[0], end=MARCH[1])
    (row,) = report.rows
    assert (row.key_id, row.name) == (org.areas["Empathy"].pk, "Empathy")
    assert (row.sessions, row.trainees, row.n) == (2, 2, 2)
    assert row.mean_delta == pytest.approx(15)
    # deltas 10 and 20: 15 ± 12.706 · 7.0711 / √2 = 15 ± 63.53
    assert row.ci95 == pytest.approx((15 - 63.53, 15 + 63.53))
    assert (approx(row.baseline_mean_delta), row.baseline_agents) == (6, 1)
    baseline = report.baselines[org.areas["Empathy"].pk]
    assert baseline.reference == REFERENCE


def test_by_coach(org, month):
    report = coaching_effect_report(group_by="coach", start=MARCH[0], end=MARCH[1])
    rows = {r.name: r for r in report.rows}
    assert list(rows) == ["Carl Coach", "Cora Coach"]
    carl, cora = rows["Carl Coach"], rows["Cora Coach"]
    assert (carl.key_id, carl.sessions, carl.trainees, carl.mean_delta) == (org.carl.pk, 1, 1, 20)
    assert carl.ci95 is None  # one change
    assert (cora.mean_delta, cora.baseline_mean_delta, cora.baseline_agents) == (10, 6, 1)


def test_february_has_its_own_baseline(org, month):
    report = coaching_effect_report(
        group_by="coaching_area", start=datetime(2026, 2, 1, tzinfo=UTC), end=MARCH[0]
    )
    (row,) = report.rows
    assert (row.name, row.mean_delta, row.trainees) == ("Compliance", 40, 1)
    # Nobody else has Compliance evaluations in February.
    assert (row.baseline_mean_delta, row.baseline_agents) == (None, 0)


def test_a_coached_agent_is_not_in_the_baseline(org, month):
    # Alice was coached in Empathy in March: her own evaluations around the reference moment
    # do not make her a baseline agent.
    around(org.alice, org.areas["Empathy"], REFERENCE + days(30), [10, 10, 10], [90, 90, 90])
    report = coaching_effect_report(group_by="coaching_area", start=MARCH[0], end=MARCH[1])
    assert report.rows[0].baseline_agents == 1


def test_no_change_no_row_and_empty_period(org, month):
    empty = coaching_effect_report(
        group_by="coach",
        start=datetime(2025, 1, 1, tzinfo=UTC),
        end=datetime(2025, 2, 1, tzinfo=UTC),
    )
    assert empty.rows == [] and empty.baselines == {}


def test_baseline_sample_is_capped_and_deterministic(org, month):
    around(org.audrey, org.areas["Empathy"], REFERENCE, [60, 60, 60], [60, 60, 60])
    full = coaching_effect_report(group_by="coaching_area", start=MARCH[0], end=MARCH[1])
    # Dan (+6) and Audrey (0).
    assert (full.rows[0].baseline_agents, full.rows[0].baseline_mean_delta) == (2, 3)
    with override_settings(QA_EFFECT_BASELINE_AGENTS=2):
        # Two of the four agents evaluated in Empathy (Alice, Bob, Dan, Audrey) are read: the
        # same two each time; the coached among them do not count.
        first = coaching_effect_report(group_by="coaching_area", start=MARCH[0], end=MARCH[1])
        again = coaching_effect_report(group_by="coaching_area", start=MARCH[0], end=MARCH[1])
    assert first.rows[0].baseline_agents <= 2
    assert (first.rows[0].baseline_agents, first.rows[0].baseline_mean_delta) == (
        again.rows[0].baseline_agents,
        again.rows[0].baseline_mean_delta,
    )


def test_csv_rows(org, month):
    report = coaching_effect_report(group_by="coaching_area", start=MARCH[0], end=MARCH[1])
    header, row = list(csv_rows(report))
    assert header[:3] == ["group_by", "key_id", "key_name"]
    assert row == [
        "coaching_area",
        str(org.areas["Empathy"].pk),
        "Empathy",
        "2",
        "2",
        "15.0000",
        "-48.5300",
        "78.5300",
        "6.0000",
        "1",
    ]
