"""The statistics of qa/effect.py against numbers worked out by hand."""

from __future__ import annotations

import math

import pytest

from qa.effect import change, ci95, ci95_from_sums, mean, t_critical_95


def test_mean_and_change_hand_computed():
    assert mean([70, 80, 90]) == 80
    assert mean([]) is None
    # before (50+60+70+80+90)/5 = 70, after (80+90+100)/3 = 90
    assert change([50, 60, 70, 80, 90], [80, 90, 100]) == pytest.approx(20)


def test_change_needs_three_each_side():
    assert change([70, 70], [80, 80, 80]) is None
    assert change([70, 70, 70], [80, 80]) is None
    assert change([70, 70, 70], [80, 80, 80]) == 10


def test_ci95_of_three_deltas_hand_computed():
    # deltas 2, 4, 6: mean 4; s = sqrt(((−2)² + 0 + 2²) / 2) = 2; s/√3 = 1.154700;
    # t(0.975, df 2) = 4.303: half-width 4.968676
    low, high = ci95([2, 4, 6])
    assert low == pytest.approx(4 - 4.303 * 2 / math.sqrt(3), abs=1e-9)
    assert high == pytest.approx(8.968676, abs=1e-6)
    assert low == pytest.approx(-0.968676, abs=1e-6)


def test_ci95_of_two_deltas_and_below():
    # 10 and 20: mean 15, s = 7.0711, s/√2 = 5, t(df 1) = 12.706 -> 15 ± 63.53
    assert ci95([10, 20]) == pytest.approx((15 - 63.53, 15 + 63.53))
    assert ci95([10]) is None
    assert ci95([]) is None
    assert ci95_from_sums(1, 5.0, 25.0) is None


def test_ci95_of_equal_deltas_is_a_point():
    assert ci95([3, 3, 3, 3]) == pytest.approx((3, 3))


def test_t_table_edges():
    assert t_critical_95(1) == 12.706
    assert t_critical_95(30) == 2.042
    assert t_critical_95(35) == 2.042  # between rows: the smaller df (wider)
    assert t_critical_95(120) == 1.980
    assert t_critical_95(121) == 1.960  # beyond the table: the normal value
    assert t_critical_95(10_000) == 1.960
    with pytest.raises(ValueError):
        t_critical_95(0)


def test_a_change_reads_the_same_in_number_words_and_colour():
    from qa.templatetags.effect import change_words, signed, trend_class

    assert (signed(4.25), change_words(4.25), trend_class(4.25)) == (
        "+4.2",
        "up 4.2 points",
        "score-high",
    )
    assert (signed(-3.04), change_words(-3.04), trend_class(-3.04)) == (
        "−3.0",
        "down 3.0 points",
        "score-low",
    )
    # Rounded to nothing: no arrow colour, no "up 0.0".
    assert (signed(0.04), change_words(-0.04), trend_class(0.04)) == ("0.0", "no change", "")
    assert (signed(None), change_words(None), trend_class(None)) == (
        "–",
        "Not enough evaluations yet",
        "",
    )
