"""Artifact rates and Wilson intervals (pure), against hand-computed values."""

from __future__ import annotations

import pytest

from pairwise import artifacts

# Wilson 95 % intervals worked by hand as the roots x of (p - x)² = z² x (1 - x) / n,
# i.e. (1 + z²/n) x² - (2p + z²/n) x + p² = 0, z = 1.959964 (z² = 3.841459). For 2/10:
# 1.384146 x² - 0.784146 x + 0.04 = 0 -> x = (0.784146 ± sqrt(0.614885 - 0.221464)) / 2.768292.
HAND = [
    (2, 10, 0.056682, 0.509838),
    (0, 10, 0.0, 0.277533),       # no flags: the lower end is exactly 0
    (10, 10, 0.722467, 1.0),      # all flagged: the upper end is exactly 1
    (5, 10, 0.236593, 0.763407),  # symmetric about 0.5
    (1, 1, 0.206549, 1.0),
    (0, 1, 0.0, 0.793451),
    (30, 100, 0.218949, 0.395849),
]


@pytest.mark.parametrize(("k", "n", "low", "high"), HAND)
def test_wilson_matches_hand_computed_values(k, n, low, high) -> None:
    got = artifacts.wilson(k, n)
    assert got == pytest.approx((low, high), abs=2e-6)


@pytest.mark.parametrize(("k", "n"), [(1, 0), (-1, 5), (6, 5), (0, 0)])
def test_wilson_refuses_impossible_counts(k, n) -> None:
    with pytest.raises(ValueError, match="flagged"):
        artifacts.wilson(k, n)


def test_rates_per_model_and_tag_and_separating_words() -> None:
    table = artifacts.rates(
        ["alpha", "beta", "gamma", "never"], ["halo", "banding"],
        shown={"alpha": 10, "beta": 10, "gamma": 10},
        flagged={("alpha", "halo"): 8, ("beta", "halo"): 1, ("gamma", "halo"): 1,
                 ("beta", "banding"): 2, ("gamma", "old_tag"): 1})
    rows = {(r.model, r.tag): r for r in table}
    # Tags in vocabulary order, then flagged tags the vocabulary no longer lists.
    assert [r.tag for r in table[:3]] == ["halo", "banding", "old_tag"]
    assert rows["alpha", "halo"].rate == 0.8
    assert (rows["alpha", "halo"].ci_low, rows["alpha", "halo"].ci_high) == pytest.approx((0.490162, 0.943318), abs=2e-6)
    assert rows["beta", "banding"].as_row() == {"model": "beta", "tag": "banding", "flagged": 2, "shown": 10,
                                               "rate": 0.2, "ci_low": 0.0567, "ci_high": 0.5098}
    assert rows["alpha", "banding"].flagged == 0 and rows["alpha", "banding"].ci_high == pytest.approx(0.277533, abs=2e-6)
    never = rows["never", "halo"]
    assert (never.shown, never.rate, never.ci_low, never.ci_high) == (0, None, None, None)

    found = artifacts.separating(table)
    # halo: median of (0.8, 0.1, 0.1) is 0.1; alpha's interval [0.49, 0.94] lies above it,
    # beta's and gamma's [0.018, 0.404] contain it. beta's 2 banding flags (median 0) and
    # gamma's single old_tag flag are fewer than MIN_FLAGS: one flag is no pattern.
    assert [(s.model, s.tag, s.direction, s.median) for s in found] == [("alpha", "halo", "more", 0.1)]
    words = artifacts.summary(table, {"halo": "Halos"})
    assert words == ["alpha: Halos flagged more often than the pool's median model "
                     "(80 % of its outputs, 95 % CI 49 %–94 %, against a median of 10 %)"]


def test_a_clean_model_is_called_out_below_the_median() -> None:
    table = artifacts.rates(["a", "b", "c"], ["noise"], shown={"a": 200, "b": 200, "c": 200},
                            flagged={("a", "noise"): 100, ("b", "noise"): 90, ("c", "noise"): 2})
    found = artifacts.separating(table)
    # median 0.45: a's [0.431, 0.569] overlaps it; c's [0.003, 0.036] lies below.
    assert [(s.model, s.direction) for s in found] == [("c", "less")]
    assert "less often" in artifacts.summary(table)[-1]


def test_more_flags_than_showings_is_an_error() -> None:
    with pytest.raises(ValueError, match="shown only"):
        artifacts.rates(["a"], ["halo"], shown={"a": 1}, flagged={("a", "halo"): 2})
