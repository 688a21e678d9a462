"""Simulated worlds with known strengths: recovery and interval coverage."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit
from scipy.stats import kendalltau

from pairwise.ranking import fit, tally

WORLDS = 200
COVERAGE = (0.90, 0.98)


def simulate(
    rng: np.random.Generator, strengths: np.ndarray, n: int, *, model: str = "half", tie: float = 0.3,
    delta: float = 0.0, nu: float = 0.6,
) -> np.ndarray:
    """Counts of ``n`` judgments of random pairs in random positions.

    ``half``: the tie probability is ``tie * 2 min(p, 1 - p)`` and is taken
    half from each side, so that E[win + tie/2] = p and the half-ties estimator
    targets the true strengths. ``bt``: ties at a fixed rate ``tie``, the
    rest by Bradley-Terry. ``davidson``: Davidson's model with ``nu``.
    Ties are split at random between "tie" and "both_bad".
    """
    k = strengths.size
    left = rng.integers(k, size=n)
    right = (left + rng.integers(1, k, size=n)) % k
    eta = strengths[left] - strengths[right] + delta
    if model == "bt":  # ties at a fixed rate whatever the strengths: dropping them is unbiased
        p = expit(eta)
        p_left, p_right = (1 - tie) * p, (1 - tie) * (1 - p)
    elif model == "davidson":
        weights = np.stack([np.exp(eta / 2), np.exp(-eta / 2), np.full(n, nu)])
        p_left, p_right = weights[:2] / weights.sum(axis=0)
    else:
        p = expit(eta)
        tied = tie * 2 * np.minimum(p, 1 - p)
        p_left, p_right = p - tied / 2, 1 - p - tied / 2
    u = rng.random(n)
    choice = np.where(u < p_left, 0, np.where(u < p_left + p_right, 1, 2 + rng.integers(2, size=n)))
    return tally(left, right, choice, k)


@pytest.mark.parametrize("ties", ["half", "davidson", "drop"])
def test_recovers_known_strengths(ties: str) -> None:
    rng = np.random.default_rng(20)
    truth = rng.normal(0, 1, size=12)
    model = {"half": "half", "davidson": "davidson", "drop": "bt"}[ties]
    counts = simulate(rng, truth, 6000, model=model)
    result = fit(counts, ties=ties)
    assert kendalltau(result.scores, truth).statistic > 0.9
    np.testing.assert_allclose(result.scores, truth - truth.mean(), atol=0.25)
    assert int(np.argmin(result.rank)) == int(np.argmax(truth))


def test_recovers_a_position_effect() -> None:
    rng = np.random.default_rng(21)
    truth = rng.normal(0, 1, size=8)
    result = fit(simulate(rng, truth, 20_000, delta=0.4), position=True)
    assert result.position_effect is not None
    assert result.position_effect.ci_low < 0.4 < result.position_effect.ci_high
    assert result.position_effect.estimate == pytest.approx(0.4, abs=0.06)


def coverage(ties: str, bootstrap: int, *, model: str, position: bool = False, seed: int = 0) -> tuple[float, float]:
    """Share of true (centred) strengths, and of true position effects, inside their intervals."""
    rng = np.random.default_rng(seed)
    hits, total, delta_hits = 0, 0, 0
    for world in range(WORLDS):
        truth = rng.normal(0, 0.8, size=5)
        delta = 0.3 if position else 0.0
        counts = simulate(rng, truth, 500, model=model, delta=delta)
        result = fit(counts, ties=ties, bootstrap=bootstrap, seed=world, position=position)
        assert result.prior == 0.0
        centred = truth - truth.mean()
        hits += int(((result.ci_low <= centred) & (centred <= result.ci_high)).sum())
        total += truth.size
        if position:
            delta_hits += int(result.position_effect.ci_low <= delta <= result.position_effect.ci_high)
    return hits / total, delta_hits / WORLDS


@pytest.mark.parametrize(
    ("ties", "model", "position"),
    [("half", "half", False), ("half", "half", True), ("davidson", "davidson", False), ("drop", "bt", False)],
)
def test_closed_form_intervals_cover_the_truth(ties: str, model: str, position: bool) -> None:
    share, delta_share = coverage(ties, 0, model=model, position=position, seed=1)
    assert COVERAGE[0] <= share <= COVERAGE[1]
    if position:
        assert COVERAGE[0] <= delta_share <= COVERAGE[1]


@pytest.mark.parametrize(("ties", "model"), [("half", "half"), ("davidson", "davidson")])
def test_bootstrap_intervals_cover_the_truth(ties: str, model: str) -> None:
    share, _ = coverage(ties, 200, model=model, seed=2)
    assert COVERAGE[0] <= share <= COVERAGE[1]


def test_rank_intervals_and_p_best_are_calibrated_enough() -> None:
    """The true best model is inside its rank interval's top in most worlds, and P(best) is not overconfident."""
    rng = np.random.default_rng(3)
    inside, confidence_when_wrong = 0, []
    for world in range(100):
        truth = rng.normal(0, 0.5, size=6)
        result = fit(simulate(rng, truth, 600), bootstrap=200, seed=world)
        best = int(np.argmax(truth))
        inside += int(result.rank_ci_low[best] == 1)
        picked = int(np.argmax(result.p_best))
        if picked != best:
            confidence_when_wrong.append(result.p_best[picked])
    assert inside >= 90
    assert not confidence_when_wrong or np.mean(confidence_when_wrong) < 0.8
