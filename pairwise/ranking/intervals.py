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
    """Whether two models adjacent in rank order can be told apart.

    ``extra_judgments`` assumes the standard error of the difference shrinks as
    ``1/sqrt(n)`` with ``n`` the judgments involving either model, and the
    difference stays as estimated: ``n * ((z * se / difference)^2 - 1)``.
    It is None when the pair is already distinguishable, when the scores are
    equal (no number of judgments separates an estimated tie) or when
    neither model has a judgment yet.
    """

    upper: int
    lower: int
    difference: float
    ci_low: float
    ci_high: float
    distinguishable: bool
    extra_judgments: int | None


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
    draws: NDArray[np.float64], rank: NDArray[np.int64], confidence: float
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Rank interval and P(best) from draws of the scores (bootstrap or parametric).

    Ranks within a draw are ordinal (exact ties have probability zero). The
    interval is widened, if need be, to contain the reported rank.
    """
    n, k = draws.shape
    if k == 0 or n == 0:
        return rank.copy(), rank.copy(), np.full(k, 1.0 / max(k, 1))
    order = np.argsort(-draws, axis=1, kind="stable")
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


def separation(
    scores: NDArray[np.float64],
    rank: NDArray[np.int64],
    cov: NDArray[np.float64],
    draws: NDArray[np.float64] | None,
    record: dict[str, NDArray[np.int64]],
    table: NDArray[np.int64],
    z: float,
) -> tuple[Separation, ...]:
    """One :class:`Separation` per adjacent pair in rank order (ties by model index)."""
    order = np.lexsort((np.arange(scores.size), rank))
    between = table.sum(axis=2)
    between = between + between.T
    confidence = 2 * NormalDist().cdf(z) - 1
    out = []
    for upper, lower in zip(order[:-1], order[1:]):
        diff = float(scores[upper] - scores[lower])
        if draws is not None:
            spread = draws[:, upper] - draws[:, lower]
            low, high = (float(v) for v in np.quantile(spread, [(1 - confidence) / 2, (1 + confidence) / 2]))
            se = (high - low) / (2 * z)
        else:
            se = math.sqrt(max(cov[upper, upper] + cov[lower, lower] - 2 * cov[upper, lower], 0.0))
            low, high = diff - z * se, diff + z * se
        distinguishable = low > 0 or high < 0
        involved = int(record["judgments"][upper] + record["judgments"][lower] - between[upper, lower])
        extra = None
        if not distinguishable and diff > SCORE_TIE and involved > 0:
            extra = max(1, math.ceil(involved * ((z * se / diff) ** 2 - 1)))
        out.append(Separation(int(upper), int(lower), diff, low, high, distinguishable, extra))
    return tuple(out)
