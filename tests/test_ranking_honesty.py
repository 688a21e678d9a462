"""Tie-only evidence, exact ties in draws, groups, and separation power (issue 8)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from pairwise.ranking import TIES_MODES, fit
from pairwise.ranking.intervals import rank_summary


def tie_only_table() -> np.ndarray:
    """Models 0 and 1 with mixed results; model 2's only judgment is one tie with model 0."""
    counts = np.zeros((3, 3, 4), dtype=int)
    counts[0, 1, 0], counts[0, 1, 1] = 10, 8
    counts[1, 0, 0], counts[1, 0, 1] = 7, 9
    counts[2, 0, 2] = 1
    return counts


def all_ties_table() -> np.ndarray:
    counts = np.zeros((4, 4, 4), dtype=int)
    counts[0, 1, 2] = counts[1, 2, 2] = counts[2, 3, 2] = counts[3, 0, 2] = counts[0, 2, 3] = 5
    return counts


@pytest.mark.parametrize("ties", TIES_MODES)
@pytest.mark.parametrize("bootstrap", [0, 200])
def test_a_model_with_one_tie_is_not_given_its_opponents_interval(ties: str, bootstrap: int) -> None:
    result = fit(tie_only_table(), ties=ties, bootstrap=bootstrap)
    width = result.ci_high - result.ci_low
    assert width[2] > 1.5 * width[0]  # one tie says little; the interval says so
    assert not np.isclose(result.ci_low[2], result.ci_low[0])
    assert "only ties" in result.flags[2]
    assert result.rank_ci_low[2] == 1 and result.rank_ci_high[2] == 3


@pytest.mark.parametrize("ties", TIES_MODES)
@pytest.mark.parametrize("bootstrap", [0, 200])
def test_an_all_ties_board_is_honestly_undecided(ties: str, bootstrap: int) -> None:
    result = fit(all_ties_table(), ties=ties, bootstrap=bootstrap, seed=3)
    assert np.allclose(result.scores, 0, atol=1e-9)
    assert (result.ci_high - result.ci_low > 0.5).all()  # never [0, 0]
    assert list(result.rank) == [1, 1, 1, 1]
    np.testing.assert_allclose(result.p_best, 0.25, atol=0.06)  # not 1.0 for the first model
    assert list(result.rank_ci_low) == [1] * 4 and list(result.rank_ci_high) == [4] * 4
    assert all(not s.distinguishable and s.extra_judgments is None for s in result.separation)
    assert {s.verdict for s in result.separation} == {"estimated equal"}


def test_exact_ties_in_draws_are_broken_at_random() -> None:
    draws = np.zeros((4000, 3))
    draws[:, 2] = -1.0  # model 2 always last; 0 and 1 always exactly equal
    low, high, p_best = rank_summary(draws, np.array([1, 1, 3]), 0.95, seed=5)
    np.testing.assert_allclose(p_best, [0.5, 0.5, 0.0], atol=0.03)
    assert list(low) == [1, 1, 3] and list(high) == [2, 2, 3]


def test_equal_disconnected_groups_are_not_called_one_sided() -> None:
    counts = np.zeros((4, 4, 4), dtype=int)
    counts[0, 1, 0], counts[1, 0, 0] = 3, 2  # group {0, 1}, both ways
    counts[2, 3, 0], counts[3, 2, 0] = 4, 1  # group {2, 3}, both ways, same size
    result = fit(counts)
    assert result.prior > 0
    for i, group in ((0, 1), (1, 1), (2, 2), (3, 2)):
        assert f"never compared with the others (group {group})" in result.flags[i]
        assert not any("one-sided" in f for f in result.flags[i])
    counts[3, 2, 0] = 0  # now 2 never lost to 3: that group, and only it, is one-sided
    result = fit(counts)
    assert all(any("one-sided" in f for f in result.flags[i]) for i in (2, 3))
    assert not any(any("one-sided" in f for f in result.flags[i]) for i in (0, 1))


def test_probability_of_correct_order_is_the_normal_tail() -> None:
    counts = np.zeros((2, 2, 4), dtype=int)
    counts[0, 1, 0], counts[0, 1, 1] = 30, 20
    result = fit(counts, ties="drop")
    (sep,) = result.separation
    se = (sep.ci_high - sep.ci_low) / (2 * 1.959964)
    from statistics import NormalDist
    assert sep.p_correct_order == pytest.approx(NormalDist().cdf(sep.difference / se))
    assert 0.5 < sep.p_correct_order < 0.975


def test_a_tiny_difference_is_not_separable_at_a_practical_budget() -> None:
    counts = np.zeros((2, 2, 4), dtype=int)
    counts[0, 1, 0], counts[0, 1, 1] = 1010, 1000  # a difference of ~0.01
    (sep,) = fit(counts, ties="drop").separation
    assert sep.extra_judgments is None and not sep.separable
    assert sep.verdict == "not separable at a practical budget"
    (sep,) = fit(counts, ties="drop", budget=10**7).separation
    assert sep.extra_judgments is not None and sep.extra_judgments > 5000


def expected_table(strengths: np.ndarray, per_pair: int) -> np.ndarray:
    """Counts as the truth would give them on average (rounded), both sides alike."""
    k = strengths.size
    counts = np.zeros((k, k, 4), dtype=int)
    for i in range(k):
        for j in range(i + 1, k):
            wins = round(per_pair * expit(strengths[i] - strengths[j]))
            counts[i, j, 0], counts[i, j, 1] = wins, per_pair - wins
    return counts


def test_judgments_for_80_percent_power_are_calibrated_in_simulation() -> None:
    """Simulate worlds where the current estimate is the truth and the extra judgments
    are spread as the uniform scheduler spreads them: about 80 % separate the pair."""
    truth = np.array([0.25, 0.0, -0.3, -0.6])
    counts = expected_table(truth, 40)
    result = fit(counts, ties="drop", scheduler="uniform")
    top = result.separation[0]
    assert (top.upper, top.lower) == (0, 1) and not top.distinguishable
    extra = top.extra_judgments
    assert extra is not None
    active = fit(counts, ties="drop", scheduler="active").separation[0].extra_judgments
    assert active is not None and active < extra  # targeting the open pairs needs fewer
    s = result.scores
    rng = np.random.default_rng(11)
    pairs = [(i, j) for i in range(4) for j in range(i + 1, 4)]
    per_pair = 40 + extra // len(pairs)
    worlds, separated = 300, 0
    for _ in range(worlds):
        world = np.zeros((4, 4, 4), dtype=int)
        for i, j in pairs:
            wins = rng.binomial(per_pair, expit(s[i] - s[j]))
            world[i, j, 0], world[i, j, 1] = wins, per_pair - wins
        sep = {(x.upper, x.lower): x for x in fit(world, ties="drop").separation}.get((0, 1))
        separated += bool(sep is not None and sep.distinguishable and sep.difference > 0)
    print(f"separated in {separated / worlds:.0%} of worlds; extra={extra}")
    assert 0.72 <= separated / worlds <= 0.88
