"""The engine's likelihoods and resampling checked against independent implementations."""

from __future__ import annotations

import choix
import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from pairwise.ranking import fit
from pairwise.ranking.bootstrap import poisson_draws, replicate
from pairwise.ranking.model import build, covariance


def random_counts(k: int, seed: int, scale: int = 8, tie_share: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, scale, size=(k, k, 4))
    counts[..., 2:] = rng.binomial(counts[..., 2:], tie_share)
    counts[np.arange(k), np.arange(k)] = 0
    return counts


def centre(values: np.ndarray) -> np.ndarray:
    return values - values.mean()


@pytest.mark.parametrize("seed", range(5))
def test_default_fit_agrees_with_choix(seed: int) -> None:
    counts = random_counts(8, seed)
    tied = counts[..., 2] + counts[..., 3]
    wins = counts[..., 0] + counts[..., 1].T + (tied + tied.T) / 2  # i beat j, ties half each way
    expected = centre(choix.ilsr_pairwise_dense(wins.astype(float), alpha=0.0, tol=1e-12, max_iter=10_000))
    result = fit(counts)
    assert result.prior == 0.0
    np.testing.assert_allclose(result.scores, expected, atol=1e-7)


def negative_loglik(params: np.ndarray, counts: np.ndarray, ties: str, position: bool) -> float:
    """Written from the textbook formulas, one oriented cell at a time (slow, obvious)."""
    k = counts.shape[0]
    s = np.append(params[: k - 1], -params[: k - 1].sum())
    delta = params[k - 1] if position else 0.0
    log_nu = params[-1] if ties == "davidson" else 0.0
    total = 0.0
    for i in range(k):
        for j in range(k):
            left, right, tie, bad = counts[i, j]
            tied = tie + bad
            eta = s[i] - s[j] + delta
            if ties == "davidson":
                norm = np.logaddexp(np.logaddexp(eta / 2, -eta / 2), log_nu)
                total += left * (eta / 2 - norm) + right * (-eta / 2 - norm) + tied * (log_nu - norm)
            else:
                extra = tied / 2 if ties == "half" else 0.0
                total += (left + extra) * log_expit(eta) + (right + extra) * log_expit(-eta)
    return -total


@pytest.mark.parametrize("ties", ["half", "davidson", "drop"])
@pytest.mark.parametrize("position", [False, True])
def test_newton_agrees_with_a_generic_optimiser(ties: str, position: bool) -> None:
    counts = random_counts(5, 11)
    k = counts.shape[0]
    n_params = k - 1 + int(position) + int(ties == "davidson")
    best = minimize(negative_loglik, np.zeros(n_params), args=(counts, ties, position), method="BFGS",
                    options={"gtol": 1e-9})
    s = np.append(best.x[: k - 1], -best.x[: k - 1].sum())
    result = fit(counts, ties=ties, position=position)
    assert result.prior == 0.0
    np.testing.assert_allclose(result.scores, s, atol=1e-5)
    if position:
        assert result.position_effect is not None
        assert result.position_effect.estimate == pytest.approx(best.x[k - 1], abs=1e-5)
    if ties == "davidson":
        assert result.tie_parameter is not None
        assert result.tie_parameter.estimate == pytest.approx(np.exp(best.x[-1]), rel=1e-5)
        # the fitted P(tie) between equals matches the observed tie share roughly
        share = counts[..., 2:].sum() / counts.sum()
        nu = result.tie_parameter.estimate
        assert nu / (2 + nu) == pytest.approx(share, rel=0.3)


def test_sandwich_matches_a_judgment_by_judgment_computation() -> None:
    """A^+ B A^+ with B summed over individual judgments (expanded rows), position effect included."""
    counts = random_counts(4, 5, scale=5)
    result = fit(counts, position=True)
    assert result.interval_method == "sandwich"
    d, cells = build(counts, "half", True)
    theta = np.append(result.scores, result.position_effect.estimate)
    k = counts.shape[0]
    information = np.zeros((k + 1, k + 1))
    meat = np.zeros((k + 1, k + 1))
    for i in range(k):
        for j in range(k):
            x = np.zeros(k + 1)
            x[i], x[j], x[k] = 1.0, -1.0, 1.0
            p = expit(theta[i] - theta[j] + theta[k])
            for choice, y in enumerate([1.0, 0.0, 0.5, 0.5]):
                for _ in range(counts[i, j, choice]):
                    information += p * (1 - p) * np.outer(x, x)
                    meat += (y - p) ** 2 * np.outer(x, x)
    bread = np.linalg.pinv(information)
    expected = bread @ meat @ bread
    z = 1.959963984540054
    np.testing.assert_allclose(result.ci_high - result.scores, z * np.sqrt(np.diag(expected)[:k]), rtol=1e-6)
    effect = result.position_effect
    assert effect.ci_high - effect.estimate == pytest.approx(z * np.sqrt(expected[k, k]), rel=1e-6)
    np.testing.assert_allclose(covariance(d, theta, cells, 0.0, "sandwich"), expected, atol=1e-9)


def test_sandwich_is_narrower_than_fisher_when_ties_are_common() -> None:
    """A tie carries less variance than a win or loss; the working likelihood's Fisher SE ignores that."""
    counts = random_counts(6, 2, scale=40, tie_share=0.8)
    d, cells = build(counts, "half", False)
    scores = fit(counts).scores
    fisher = np.diag(covariance(d, scores, cells, 0.0, "fisher"))
    sandwich = np.diag(covariance(d, scores, cells, 0.0, "sandwich"))
    assert np.all(sandwich < fisher)


def test_poisson_and_multinomial_resampling_give_the_same_intervals() -> None:
    counts = random_counts(6, 9, scale=30)
    d, cells = build(counts, "half", False)
    theta = fit(counts).scores
    quantiles = [0.025, 0.975]
    pois = np.quantile(replicate(d, cells, theta, 0.0, 4000, 1, "poisson"), quantiles, axis=0)
    multi = np.quantile(replicate(d, cells, theta, 0.0, 4000, 1, "multinomial"), quantiles, axis=0)
    np.testing.assert_allclose(pois, multi, atol=0.04)
    width = pois[1] - pois[0]
    np.testing.assert_allclose(multi[1] - multi[0], width, rtol=0.06)


def test_chord_refits_equal_exact_newton_refits() -> None:
    """Each bootstrap round's fast refit is the exact MLE of its resampled cells."""
    counts = random_counts(6, 4, scale=20)
    d, cells = build(counts, "davidson", True)
    result = fit(counts, ties="davidson", position=True)
    theta = np.concatenate([result.scores, [result.position_effect.estimate, np.log(result.tie_parameter.estimate)]])
    fast = replicate(d, cells, theta, 0.0, 5, 3)
    rng = np.random.default_rng(np.random.SeedSequence(3).spawn(1)[0])
    drawn = poisson_draws(rng, cells.ravel(), 5).reshape(5, *cells.shape)
    for row, cell in zip(fast, drawn):
        table = np.zeros_like(counts)
        table[d.first, d.second, 0], table[d.first, d.second, 1], table[d.first, d.second, 2] = cell
        again = fit(table, ties="davidson", position=True)
        # refits stop once a step is below 1e-4 standard errors (here ~0.1-0.3)
        np.testing.assert_allclose(row[: counts.shape[0]], again.scores, atol=1e-5)
        assert row[-2] == pytest.approx(again.position_effect.estimate, abs=1e-5)


def test_threads_do_not_change_the_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks carry their own seeded streams, so serial and threaded bootstraps agree exactly."""
    from pairwise.ranking import bootstrap as ranking_bootstrap

    counts = random_counts(6, 8, scale=30)
    d, cells = build(counts, "half", False)
    theta = fit(counts).scores
    monkeypatch.setattr(ranking_bootstrap, "PARALLEL_CELLS", 0)
    threaded = replicate(d, cells, theta, 0.0, 600, 5)
    monkeypatch.setattr(ranking_bootstrap, "PARALLEL_CELLS", 10**12)
    serial = replicate(d, cells, theta, 0.0, 600, 5)
    np.testing.assert_array_equal(threaded, serial)


def test_vectorised_bridge_check_agrees_with_the_graph_check() -> None:
    """Rounds that lose a lopsided edge: the all-rounds bridge check finds exactly the
    rounds whose resampled data lose the finite MLE, as the per-round graph check does."""
    from pairwise.ranking.bootstrap import _best_bridges, _lost_mle
    from pairwise.ranking.estimate import mle_exists

    rng = np.random.default_rng(4)
    k = 12
    strengths = np.linspace(-3, 3, k)
    counts = np.zeros((k, k, 4), dtype=np.int64)
    for i in range(k):
        for j in range(k):
            if i != j and rng.random() < 0.6:
                p = 1 / (1 + np.exp(-(strengths[i] - strengths[j])))
                n = int(rng.integers(2, 12))
                counts[i, j, 0] = rng.binomial(n, p)
                counts[i, j, 1] = n - counts[i, j, 0]
    d, cells = build(counts, "half", False)
    assert mle_exists(d, cells)
    drawn = poisson_draws(rng, cells.ravel(), 400).astype(np.float64).reshape(400, *cells.shape)
    fast = _lost_mle(d, drawn, cells, _best_bridges(d, cells))
    slow = np.array([not mle_exists(d, drawn[r]) for r in range(400)])
    np.testing.assert_array_equal(fast, slow)
    assert 0 < slow.sum() < 400  # the case is exercised both ways
