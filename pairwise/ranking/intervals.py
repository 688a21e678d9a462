"""Intervals, rank intervals, P(best) and separations from a covariance or from draws.

Part of :mod:`pairwise.ranking`; uses :mod:`.model` only through the arrays it
is given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numpy.typing import NDArray

from pairwise.ranking.model import Design

#: Draws from the normal approximation used for rank intervals and P(best)
#: when there is no bootstrap.
PARAMETRIC_DRAWS = 4000
#: Scores closer than this share a rank (rounding noise is not a ranking).
SCORE_TIE = 1e-9


@dataclass(frozen=True)
class Interval:
    """A point estimate with its confidence interval."""

    estimate: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class Separation:
    """Whether two models adjacent in rank order can be told apart, and at what cost.

    ``difference`` is ``score[upper] - score[lower]`` with its interval
    (``ci_low``, ``ci_high``) from the same fit as every other figure;
    ``distinguishable`` means that interval excludes 0.
    ``p_correct_order`` is the probability, under the fit's normal
    approximation (flat prior on the difference), that the two are in the
    right order now: ``Phi(|difference| / se)``.
    ``extra_judgments`` is a power calculation: how many more judgments, spread
    as the pool's scheduler spreads them, make the interval of the difference
    exclude 0 with 80 % probability *if the current estimate were the truth*
    (``|difference| / se_n >= z_(1-alpha/2) + z_0.8``); see :func:`separation`.
    It is None when the pair is already distinguishable, and when it would
    exceed ``budget`` (then ``separable`` is False: "not separable at a
    practical budget"), or the estimated difference is 0.
    """

    upper: int
    lower: int
    difference: float
    ci_low: float
    ci_high: float
    distinguishable: bool
    extra_judgments: int | None
    p_correct_order: float = 0.5
    separable: bool = False
    budget: int = 0

    @property
    def verdict(self) -> str:
        if self.distinguishable:
            return "separated"
        if self.extra_judgments is not None:
            return "tied for now"
        if abs(self.difference) <= SCORE_TIE:
            return "estimated equal"
        return "not separable at a practical budget"


def ranks(scores: NDArray[np.float64]) -> NDArray[np.int64]:
    """1 = best; models within :data:`SCORE_TIE` of each other share the better rank."""
    above = scores[None, :] > scores[:, None] + SCORE_TIE
    return 1 + above.sum(axis=1).astype(np.int64)


def normal_draws(mean: NDArray[np.float64], cov: NDArray[np.float64], seed: int) -> NDArray[np.float64]:
    """Draws from N(mean, cov); cov is singular (centred scores), so use its eigen-square-root."""
    values, vectors = np.linalg.eigh(cov) if mean.size else (np.zeros(0), np.zeros((0, 0)))
    root = vectors * np.sqrt(np.clip(values, 0, None))
    noise = np.random.default_rng(seed).standard_normal((PARAMETRIC_DRAWS, mean.size))
    return mean + noise @ root.T


def rank_summary(
    draws: NDArray[np.float64], rank: NDArray[np.int64], confidence: float, seed: int = 0
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Rank interval and P(best) from draws of the scores (bootstrap or parametric).

    Ranks within a draw are ordinal; exact ties within a draw (tie-only data,
    a resample that lost a model's only decisive result) are broken at random
    (seeded), never by model order. The interval is widened, if need be, to
    contain the reported rank.
    """
    n, k = draws.shape
    if k == 0 or n == 0:
        return rank.copy(), rank.copy(), np.full(k, 1.0 / max(k, 1))
    order = np.argsort(-draws, axis=1, kind="stable")
    ordered = np.take_along_axis(draws, order, axis=1)
    tied = np.flatnonzero((np.diff(ordered, axis=1) == 0).any(axis=1))
    if tied.size:  # lexsort: the last key is primary; random keys only order exact ties
        jitter = np.random.default_rng([seed, 1]).random((tied.size, k))
        order[tied] = np.lexsort((jitter, -draws[tied]), axis=1)
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(1, k + 1)[None, :].repeat(n, axis=0), axis=1)
    low = np.quantile(ranks, (1 - confidence) / 2, axis=0, method="inverted_cdf").astype(np.int64)
    high = np.quantile(ranks, (1 + confidence) / 2, axis=0, method="inverted_cdf").astype(np.int64)
    p_best = (ranks == 1).mean(axis=0)
    return np.minimum(low, rank), np.maximum(high, rank), p_best


def tie_parameter(
    d: Design,
    theta: NDArray[np.float64],
    low: NDArray[np.float64],
    high: NDArray[np.float64],
    cov: NDArray[np.float64],
    z: float,
    bootstrapped: bool,
) -> Interval | None:
    """Davidson's nu; its interval is built on the log scale, where it is closer to normal."""
    if d.nu_index is None:
        return None
    i = d.nu_index
    if bootstrapped:
        return Interval(float(np.exp(theta[i])), float(np.exp(low[i])), float(np.exp(high[i])))
    se = math.sqrt(max(cov[i, i], 0.0))
    return Interval(float(np.exp(theta[i])), float(np.exp(theta[i] - z * se)), float(np.exp(theta[i] + z * se)))


def position_effect(
    d: Design, theta: NDArray[np.float64], low: NDArray[np.float64], high: NDArray[np.float64]
) -> Interval | None:
    if d.delta_index is None:
        return None
    i = d.delta_index
    return Interval(float(theta[i]), float(low[i]), float(high[i]))


SCHEDULERS: tuple[str, ...] = ("uniform", "active")
#: Power of the "judgments needed" figure, as in a sample-size calculation.
POWER = 0.8
#: More judgments than this for one pair: "not separable at a practical budget".
SEPARATION_BUDGET = 5000


def floor_tie_only(
    cov: NDArray[np.float64], fisher: NDArray[np.float64], floored: NDArray[np.bool_], k: int
) -> NDArray[np.float64]:
    """Sandwich covariance with tie-only models' variances raised to the information-based ones.

    The sandwich's meat is the observed spread of each judgment's score; a
    model whose every judgment is a tie against an equal has none, so its
    interval would collapse onto its opponent's. For those models (``floored``)
    the missing variance ``max(0, fisher_ii - cov_ii)`` is added on the diagonal
    (a positive semi-definite addition), then the scores are centred again.
    """
    if not floored.any():
        return cov
    extra = np.zeros(cov.shape[0])
    index = np.flatnonzero(floored)
    extra[index] = np.clip(np.diag(fisher)[index] - np.diag(cov)[index], 0, None)
    out = cov + np.diag(extra)
    centre = np.eye(cov.shape[0])
    centre[:k, :k] -= 1 / max(k, 1)
    out = centre @ out @ centre.T
    return (out + out.T) / 2


def scheduled_information(
    n_params: int, k: int, win_prob: NDArray[np.float64], pairs: list[tuple[int, int]]
) -> NDArray[np.float64]:
    """Expected Fisher information (P, P) of one more judgment on a pair drawn uniformly from ``pairs``.

    A judgment of ``i`` against ``j`` adds ``p (1 - p) x x^T`` with ``x`` = +1 at
    ``i``, -1 at ``j`` and ``p`` the fitted P(i beats j) (ties half a win).
    """
    if not pairs:
        return np.zeros((n_params, n_params))
    first, second = (np.array(v, dtype=np.intp) for v in zip(*pairs))
    w = win_prob[first, second] * (1 - win_prob[first, second]) / len(pairs)
    rows = np.concatenate([first, second, first, second])
    cols = np.concatenate([first, second, second, first])
    flat = np.bincount(rows * n_params + cols, weights=np.concatenate([w, w, -w, -w]), minlength=n_params**2)
    return flat.reshape(n_params, n_params)


def separation(
    scores: NDArray[np.float64],
    rank: NDArray[np.int64],
    cov: NDArray[np.float64],
    draws: NDArray[np.float64] | None,
    information: NDArray[np.float64],
    win_prob: NDArray[np.float64],
    z: float,
    *,
    scheduler: str = "uniform",
    budget: int = SEPARATION_BUDGET,
    exact: NDArray[np.bool_] | None = None,
) -> tuple[Separation, ...]:
    """One :class:`Separation` per adjacent pair in rank order (ties by model index).

    ``cov`` (P, P) is the reported covariance (centred scores first);
    ``information`` (P, P) the regularised Fisher information it came from
    (invertible); ``win_prob`` the fitted K x K win probabilities.

    Judgments needed for 80 % power. After ``n`` more judgments the
    information becomes ``I + n J`` with ``J`` the expected information of
    one judgment under the scheduler: ``uniform`` draws a pair of models
    uniformly; ``active`` is modelled as spreading judgments evenly over the
    adjacent pairs not yet separated (the uncertain pairs such a scheduler
    seeks). The variance of the difference ``c = e_upper - e_lower`` is then
    ``r c^T (I + n J)^-1 c`` where ``r`` (the ratio of the reported variance,
    sandwich or bootstrap, to the Fisher one now) carries the working
    likelihood's inflation forward. One generalised eigendecomposition
    ``J V = I V M`` gives ``(I + n J)^-1 = V (1 + n M)^-1 V^T`` for every ``n``,
    so the smallest ``n`` with ``|d| / se_n >= z + z_0.8`` is found by bisection
    at O(P) per step. Pairs whose ``n`` exceeds ``budget`` (or whose variance
    cannot fall far enough under that scheduler) get None.

    ``exact`` marks models whose draws cannot be trusted for a difference
    (tie-only evidence under a bootstrap): pairs touching them use ``cov``.
    """
    k = scores.size
    order = np.lexsort((np.arange(k), rank))
    confidence = 2 * NormalDist().cdf(z) - 1
    z_power = NormalDist().inv_cdf(POWER)
    if scheduler not in SCHEDULERS:
        scheduler = "uniform"
    n_params = information.shape[0]

    gaps: list[tuple[int, int, float, float, float, float]] = []
    for upper, lower in zip(order[:-1], order[1:]):
        diff = float(scores[upper] - scores[lower])
        cov_se = math.sqrt(max(cov[upper, upper] + cov[lower, lower] - 2 * cov[upper, lower], 0.0))
        use_draws = draws is not None and not (exact is not None and (exact[upper] or exact[lower]))
        if use_draws:
            spread = draws[:, upper] - draws[:, lower]
            low, high = (float(v) for v in np.quantile(spread, [(1 - confidence) / 2, (1 + confidence) / 2]))
            se = (high - low) / (2 * z)
        else:
            se = cov_se
            low, high = diff - z * se, diff + z * se
        gaps.append((int(upper), int(lower), diff, low, high, se))

    open_pairs = [(u, l) for u, l, _, low, high, _ in gaps if not (low > 0 or high < 0)]
    if scheduler == "active":
        pairs = open_pairs
    else:
        pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    if open_pairs and pairs:
        try:
            # generalised eigenproblem J v = m I v by Cholesky (numpy only): I = L L^T,
            # L^-1 J L^-T w = m w, v = L^-T w, so that V^T I V = 1 and V^T J V = diag(m)
            root_inverse = np.linalg.inv(np.linalg.cholesky(information))
            m, w = np.linalg.eigh(root_inverse @ scheduled_information(n_params, k, win_prob, pairs)
                                  @ root_inverse.T)
            v = root_inverse.T @ w
            m = np.clip(m, 0, None)
        except np.linalg.LinAlgError:  # information not positive definite: no forecast
            pairs = []
    out = []
    for upper, lower, diff, low, high, se in gaps:
        distinguishable = low > 0 or high < 0
        p_correct = NormalDist().cdf(abs(diff) / se) if se > 0 else (1.0 if abs(diff) > SCORE_TIE else 0.5)
        extra = None
        if not distinguishable and abs(diff) > SCORE_TIE and pairs:
            c = np.zeros(n_params)
            c[upper], c[lower] = 1.0, -1.0
            weights = (v.T @ c) ** 2
            fisher_now = float(weights.sum())
            ratio = se**2 / fisher_now if fisher_now > 0 else 1.0
            target = (abs(diff) / (z + z_power)) ** 2

            def variance(n: float, ratio: float = ratio, weights: NDArray[np.float64] = weights) -> float:
                return ratio * float((weights / (1 + n * m)).sum())

            if variance(budget) <= target:
                lo_n, hi_n = 0, budget  # variance(lo_n) > target >= variance(hi_n)
                while hi_n - lo_n > 1:
                    mid = (lo_n + hi_n) // 2
                    lo_n, hi_n = (lo_n, mid) if variance(mid) <= target else (mid, hi_n)
                extra = max(hi_n, 1)
        out.append(Separation(upper, lower, diff, low, high, distinguishable, extra,
                              p_correct_order=float(p_correct), separable=distinguishable or extra is not None,
                              budget=int(budget)))
    return tuple(out)
