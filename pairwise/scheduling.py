"""Which pair an expert sees next. Pure: ids, counts and arrays in, choices out.

Two schedulers (a pool's ``settings.scheduler``):

``uniform``
    every pair of outputs of the same item that this expert has not judged yet
    is equally likely. Chosen in two steps -- an item with probability
    proportional to its number of eligible pairs, then one of those pairs -- so a
    large pool is summarised per item (counts) and only the chosen item's outputs
    are ever listed.

``active``
    first a *model pair*, then an item holding both outputs (the item is the
    caller's query). The model pair is chosen under a Laplace (Gaussian)
    approximation of the category's Bradley-Terry posterior
    (:func:`laplace_posterior`). Pairs in flight (open assignments, and
    judgments the stored posterior has not seen yet) are folded into the
    covariance by Sherman-Morrison updates first (:func:`add_in_flight`), so
    fifty experts asking at once spread over many pairs. Then:

    - a share :data:`UNIFORM_SHARE` of picks is uniform over model pairs, so
      every pair keeps getting judgments;
    - a model with fewer than :data:`PLACEMENT_JUDGMENTS` judgments (e.g.
      one newly added) is placed first, against its most informative
      opponents (:func:`information_gain`);
    - otherwise a share :data:`RANKING_SHARE` of picks maximises
      :func:`ranking_gain` (the expected drop in the chance that a pair's
      order is wrong: what Kendall's tau counts) and the rest
      :func:`variance_reduction` (the greedy A-optimal pick: the total
      variance of the centred scores, which keeps the clearly best and worst
      models from being starved).

    Sides are random. ``scripts/bench_scheduling.py`` measures the choice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from numpy.typing import NDArray
from scipy.special import erfc

#: Share of active picks drawn uniformly over model pairs (coverage).
UNIFORM_SHARE = 0.05
#: Of the other picks, the share that refines the ranking (neighbours in the
#: current order); the rest shrink the scores' total variance.
RANKING_SHARE = 0.85
#: Ranking picks count the wrongly ordered pairs up to this many places apart
#: in the current ranking.
RANKING_REACH = 3
#: A model with fewer judgments than this (in its category, counting pairs in
#: flight) is placed before anything else is refined.
PLACEMENT_JUDGMENTS = 6
#: Standard deviation of the Gaussian prior on each log-strength (the Laplace
#: approximation needs one before a model's first win and loss).
PRIOR_SD = 2.0
SCHEDULERS = ("active", "uniform")


def pair_key(a: int, b: int) -> tuple[int, int]:
    """Unordered pair of output ids."""
    return (a, b) if a < b else (b, a)


# ----- uniform -----------------------------------------------------------------

def choose_item(
    output_counts: Mapping[int, int], judged_counts: Mapping[int, int], rng: np.random.Generator
) -> int | None:
    """An item, weighted by how many of its pairs this expert has not judged.

    Parameters
    ----------
    output_counts
        item id -> number of outputs (models) it has.
    judged_counts
        item id -> number of its pairs the expert already judged.
    rng
        the random source (seeded in tests).

    Returns
    -------
    The item id, or None when the expert has judged every pair.
    """
    items = list(output_counts)
    sizes = np.fromiter((output_counts[i] for i in items), dtype=np.int64, count=len(items))
    judged = np.fromiter((judged_counts.get(i, 0) for i in items), dtype=np.int64, count=len(items))
    weights = np.clip(sizes * (sizes - 1) // 2 - judged, 0, None)
    total = int(weights.sum())
    if total == 0:
        return None
    return items[int(np.searchsorted(np.cumsum(weights), rng.integers(total), side="right"))]


def choose_pair(
    outputs: Sequence[int], judged: set[tuple[int, int]], rng: np.random.Generator
) -> tuple[int, int] | None:
    """A pair of ``outputs`` not in ``judged``, uniformly, in a random left/right order."""
    pairs = [p for p in combinations(sorted(outputs), 2) if p not in judged]
    if not pairs:
        return None
    a, b = pairs[int(rng.integers(len(pairs)))]
    return (a, b) if rng.random() < 0.5 else (b, a)


def random_sides(a: int, b: int, rng: np.random.Generator) -> tuple[int, int]:
    """``(a, b)`` or ``(b, a)``, each with probability one half."""
    return (a, b) if rng.random() < 0.5 else (b, a)


# ----- active: the posterior ----------------------------------------------------

def wins_from_counts(counts: NDArray) -> NDArray[np.float64]:
    """(K, K) win matrix from a (K, K, 4) count table (left, right, tie, both_bad).

    ``wins[i, j]``: how often i beat j, whatever the sides; a tie or a
    "both bad" counts half a win each way (as the leaderboard's ``half`` mode).
    """
    c = np.asarray(counts, dtype=np.float64)
    if c.size == 0:
        return np.zeros((c.shape[0], c.shape[0]))
    half = 0.5 * (c[:, :, 2] + c[:, :, 3])
    wins = c[:, :, 0] + c[:, :, 1].T + half + half.T
    np.fill_diagonal(wins, 0.0)
    return wins


def laplace_posterior(
    wins: NDArray, *, prior_sd: float = PRIOR_SD, start: NDArray | None = None, iterations: int = 50
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Gaussian (Laplace) approximation of the Bradley-Terry posterior.

    Parameters
    ----------
    wins
        (K, K): ``wins[i, j]`` how often i beat j.
    prior_sd
        standard deviation of the independent N(0, prior_sd^2) prior per model.
    start
        a previous mean to start Newton from (incremental refresh).

    Returns
    -------
    (mean, cov): the posterior mode (K,) and the inverse Hessian there (K, K).
    """
    w = np.asarray(wins, dtype=np.float64)
    k = w.shape[0]
    if k == 0:
        return np.zeros(0), np.zeros((0, 0))
    n = w + w.T
    precision = 1.0 / prior_sd**2
    s = np.zeros(k) if start is None or len(start) != k else np.asarray(start, dtype=np.float64).copy()
    hessian = np.eye(k) * precision
    for _ in range(iterations):
        p = _sigmoid(s[:, None] - s[None, :])
        grad = (w - n * p).sum(axis=1) - precision * s
        weight = n * p * (1 - p)
        hessian = np.diag(weight.sum(axis=1) + precision) - weight
        step = np.linalg.solve(hessian, grad)
        s += step
        if np.max(np.abs(step)) < 1e-9:
            break
    p = _sigmoid(s[:, None] - s[None, :])
    weight = n * p * (1 - p)
    hessian = np.diag(weight.sum(axis=1) + precision) - weight
    return s, np.linalg.inv(hessian)


def _sigmoid(x: NDArray) -> NDArray[np.float64]:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))


def _win_probability(mean: NDArray, variance: NDArray) -> NDArray[np.float64]:
    """P(i beats j) averaged over the posterior of the difference (probit approximation)."""
    return _sigmoid((mean[:, None] - mean[None, :]) / np.sqrt(1.0 + np.pi * variance / 8.0))


def difference_variance(cov: NDArray) -> NDArray[np.float64]:
    """(K, K): posterior variance of s_i - s_j."""
    d = np.diag(cov)
    return np.clip(d[:, None] + d[None, :] - 2 * cov, 0.0, None)


def add_in_flight(mean: NDArray, cov: NDArray, pairs: Sequence[tuple[int, int]]) -> NDArray[np.float64]:
    """The covariance after the judgments of ``pairs`` (model indices) come in.

    Their outcomes are unknown, but their information is not: each adds
    ``p (1 - p) x x^T`` to the precision (x = e_i - e_j), folded in by a
    Sherman-Morrison update. Open assignments enter here so that they are
    not picked again by the next expert.
    """
    cov = np.array(cov, dtype=np.float64, copy=True)
    for i, j in pairs:
        if i == j:
            continue
        column = cov[:, i] - cov[:, j]
        v = column[i] - column[j]
        p = float(_sigmoid(mean[i] - mean[j]))
        w = p * (1 - p)
        cov -= np.outer(column, column) * (w / (1.0 + w * v))
    return cov


def information_gain(mean: NDArray, cov: NDArray) -> NDArray[np.float64]:
    """(K, K): expected information (nats) of one more judgment of each pair."""
    v = difference_variance(cov)
    p = _win_probability(np.asarray(mean, dtype=np.float64), v)
    gain = 0.5 * np.log1p(p * (1 - p) * v)
    np.fill_diagonal(gain, 0.0)
    return gain


#: Gauss-Hermite nodes and weights for expectations over a normal shift.
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(12)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()
_HALF_WEIGHTS = 0.5 * _WEIGHTS


def _wrong_order(gap: NDArray, variance: NDArray) -> NDArray[np.float64]:
    """P(the order of a pair is wrong): its difference is estimated ``gap``
    with posterior variance ``variance``."""
    return 0.5 * erfc(np.abs(gap) / np.sqrt(2.0 * (variance + 1e-12)))


def _expected_wrong_order_sum(gap: NDArray, shift: NDArray, variance: NDArray) -> NDArray[np.float64]:
    """(C,): summed over the T targets, E[P(the order of a target is wrong)]
    once candidate c is judged: the difference has variance ``variance[t, c]``
    and its estimate has moved by N(0, ``shift[t, c]``) from ``gap[t]``.

    The expectation over the move by Gauss-Hermite quadrature, in place on
    one (T, C, nodes) array: this is the scheduler's hot loop.
    """
    moved = np.sqrt(np.clip(shift, 0.0, None))[..., None] * _NODES
    moved += gap[:, None, None]
    np.abs(moved, out=moved)
    moved *= (1.0 / np.sqrt(2.0 * (variance + 1e-12)))[..., None]
    erfc(moved, out=moved)
    return np.einsum("tcn,n->c", moved, _HALF_WEIGHTS)


def _folded_mean(mean: NDArray, variance: NDArray) -> NDArray[np.float64]:
    """E|X| for X ~ N(mean, variance)."""
    sd = np.sqrt(np.clip(variance, 0.0, None)) + 1e-12
    return sd * np.sqrt(2 / np.pi) * np.exp(-0.5 * (mean / sd) ** 2) + np.abs(mean) * (
        1.0 - erfc(np.abs(mean) / (sd * np.sqrt(2.0))))


def _near_pairs(mean: NDArray, reach: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(a, b) with a < b: the pairs of models at most ``reach`` places apart in
    the ranking by ``mean`` (the pairs whose order is still in question)."""
    k = mean.shape[0]
    rank = np.empty(k, dtype=np.int64)
    rank[np.argsort(mean, kind="stable")] = np.arange(k)
    first, second = np.triu_indices(k, 1)
    near = np.abs(rank[first] - rank[second]) <= reach
    return first[near], second[near]


def ranking_gain(mean: NDArray, cov: NDArray, cov_now: NDArray | None = None,
                 reach: int = RANKING_REACH) -> NDArray[np.float64]:
    """(K, K): how much one more judgment of each pair lowers the expected
    number of wrongly ordered pairs among near neighbours in the current
    ranking (what Kendall's tau counts; far pairs are settled already).

    ``cov_now`` is the posterior as stored, ``cov`` the one after the pairs in
    flight (:func:`add_in_flight`). A judgment of (i, j) shrinks the variance
    of every difference (k, l) it informs (a Sherman-Morrison update), and
    the estimate of the difference moves as it comes in (a preposterior: a
    normal shift with the variance removed), so a pair estimated as an exact
    tie still gains.

    The judgments in flight count as information already in: the gain is
    measured from ``cov``, and the move they will cause is folded into the
    gap (its expected size, E|gap + shift|). Crediting their move to the next
    pick instead makes a pair *gain* from its own copies in flight (one
    judgment rarely flips an order, ten can), so that concurrent picks pile
    onto it; measured this way a pair's gain falls with every copy in flight.
    """
    mean = np.asarray(mean, dtype=np.float64)
    cov = np.asarray(cov, dtype=np.float64)
    cov_now = cov if cov_now is None else np.asarray(cov_now, dtype=np.float64)
    k = mean.shape[0]
    gain = np.zeros((k, k))
    if k < 2:
        return gain
    first, second = np.triu_indices(k, 1)  # candidates: each unordered pair once
    target_a, target_b = _near_pairs(mean, reach)  # targets: near neighbours
    v, v_now = difference_variance(cov), difference_variance(cov_now)
    gap = mean[:, None] - mean[None, :]
    p = _sigmoid(gap)
    w = p * (1 - p)
    # For candidate (i, j) and target (a, b): the update shrinks var(s_a - s_b)
    # by w_ij (c_ai - c_aj - c_bi + c_bj)^2 / (1 + w_ij v_ij).
    d = cov[target_a] - cov[target_b]  # (T, K)
    factor = (w / (1.0 + w * v))[first, second]  # (C,)
    diff = d[:, first] - d[:, second]
    shrink = factor[None, :] * diff * diff  # (T, C)
    v_target = v[target_a, target_b]
    g_target = _folded_mean(gap[target_a, target_b], v_now[target_a, target_b] - v_target)
    after = np.clip(v_target[:, None] - shrink, 1e-12, None)
    before = _wrong_order(g_target, v_target).sum()
    later = _expected_wrong_order_sum(g_target, v_target[:, None] - after, after)
    gain[first, second] = np.clip(before - later, 0.0, None)
    return gain + gain.T


def expected_wrong_orders(mean: NDArray, cov: NDArray, cov_now: NDArray | None = None,
                          reach: int = RANKING_REACH) -> float:
    """How many pairs of near neighbours (up to ``reach`` places apart in the
    current ranking) are expected to be in the wrong order: the targets of
    :func:`ranking_gain` before any pick, with the pairs in flight counted
    as in ``ranking_gain`` (``cov`` after them, ``cov_now`` as stored).

    Cheap (one value per target pair), so it chooses the category whose
    ranking is least settled before the costly :func:`ranking_gain` runs
    there only.
    """
    mean = np.asarray(mean, dtype=np.float64)
    k = mean.shape[0]
    if k < 2:
        return 0.0
    cov = np.asarray(cov, dtype=np.float64)
    cov_now = cov if cov_now is None else np.asarray(cov_now, dtype=np.float64)
    a, b = _near_pairs(mean, reach)
    v, v_now = difference_variance(cov)[a, b], difference_variance(cov_now)[a, b]
    return float(_wrong_order(_folded_mean(mean[a] - mean[b], v_now - v), v).sum())


def variance_reduction(mean: NDArray, cov: NDArray, _cov_now: NDArray | None = None) -> NDArray[np.float64]:
    """(K, K): how much one more judgment of each pair shrinks the total
    variance of the centred scores (the greedy A-optimal pick).

    Pure ranking picks starve the clearly best and worst models; this
    objective keeps the absolute scores (and so the RMSE) honest.
    """
    mean = np.asarray(mean, dtype=np.float64)
    k = mean.shape[0]
    centre = np.eye(k) - 1.0 / k
    c = centre @ np.asarray(cov, dtype=np.float64) @ centre
    square = (c * c).sum(axis=0)
    norm2 = square[:, None] + square[None, :] - 2 * (c @ c)
    v = difference_variance(cov)
    p = _sigmoid(mean[:, None] - mean[None, :])
    w = p * (1 - p)
    out = w * np.clip(norm2, 0.0, None) / (1.0 + w * v)
    np.fill_diagonal(out, 0.0)
    return out


OBJECTIVES = {"ranking": ranking_gain, "scores": variance_reduction}


# ----- active: the pick ---------------------------------------------------------

@dataclass(frozen=True)
class Category:
    """What the active scheduler knows about one (pool, category).

    Attributes
    ----------
    mean, cov
        the stored posterior (K,), (K, K), model order as ``available``.
    judged
        (K, K) symmetric: judgments so far of each model pair (both sides).
    in_flight
        model index pairs of open (issued, unanswered) assignments.
    available
        (K, K) symmetric bool: pairs this expert can still be given (an
        item holds both outputs and the expert has not judged it).
    items
        (K, K) symmetric: items holding both outputs (weights of the uniform share).
    """

    mean: NDArray[np.float64]
    cov: NDArray[np.float64]
    judged: NDArray[np.int64]
    in_flight: tuple[tuple[int, int], ...]
    available: NDArray[np.bool_]
    items: NDArray[np.int64]


@dataclass(frozen=True)
class Pick:
    category: int  # index into the categories given
    first: int  # model indices, in a random side order
    second: int
    reason: str  # "uniform" | "placement" | "ranking" | "scores"


def choose_active(
    categories: Sequence[Category],
    rng: np.random.Generator,
    *,
    uniform_share: float = UNIFORM_SHARE,
    ranking_share: float = RANKING_SHARE,
    placement: int = PLACEMENT_JUDGMENTS,
) -> Pick | None:
    """The model pair (and category) whose next judgment teaches the most.

    A share ``uniform_share`` of picks is uniform over model pairs; of the
    rest, ``ranking_share`` maximise :func:`ranking_gain` and the others
    :func:`variance_reduction`, both after the pairs in flight are counted.
    A model short of ``placement`` judgments is placed first, in whichever
    category. Over several categories a ranking pick goes to the one with
    the most neighbours expected in the wrong order
    (:func:`expected_wrong_orders`; ``ranking_gain`` costs too much to run
    in all of them per request), a scores pick to the best pair of all.
    Returns None when no category has an available pair.
    """
    live = [c for c in range(len(categories)) if categories[c].available.any()]
    if not live:
        return None
    if rng.random() < uniform_share:
        return _uniform_pick(categories, live, rng)
    objective = "ranking" if rng.random() < ranking_share else "scores"
    states = {c: _State.of(categories[c]) for c in live}
    unplaced = [(state.placement_pick(placement), c) for c, state in states.items()]
    if any(found is not None for found, _c in unplaced):
        # Placement outranks information: a new model is placed first.
        (score, flat), c = max((found, c) for found, c in unplaced if found is not None)
        reason = "placement"
    else:
        if objective == "ranking" and len(live) > 1:
            live = [max(live, key=lambda c: expected_wrong_orders(
                categories[c].mean, states[c].cov, categories[c].cov))]
        (score, flat), c = max((states[c].best(objective), c) for c in live)
        reason = objective
    k = categories[c].mean.shape[0]
    first, second = random_sides(flat // k, flat % k, rng)
    return Pick(category=c, first=first, second=second, reason=reason)


@dataclass(frozen=True)
class _State:
    """One category's pairs as a pick sees them: the pairs in flight counted."""

    cat: Category
    upper: NDArray[np.bool_]  # available pairs, each once (i < j)
    flying: NDArray[np.int64]  # (K, K) symmetric: copies in flight
    cov: NDArray[np.float64]  # the covariance after the pairs in flight

    @classmethod
    def of(cls, cat: Category) -> _State:
        k = cat.mean.shape[0]
        flying = np.zeros((k, k), dtype=np.int64)
        for i, j in cat.in_flight:
            flying[i, j] += 1
            flying[j, i] += 1
        return cls(cat=cat, upper=np.triu(cat.available, 1) | np.triu(cat.available.T, 1), flying=flying,
                   cov=add_in_flight(cat.mean, cat.cov, cat.in_flight))

    def whisker(self) -> NDArray[np.float64]:
        """A whisker of preference for rarely compared pairs: it breaks exact
        ties (e.g. the very first picks, when every pair looks the same)."""
        return 1e-9 / (1.0 + self.cat.judged + self.flying)

    def placement_pick(self, placement: int) -> tuple[float, int] | None:
        """(score, flat pair index) placing the least-judged model short of
        ``placement`` judgments, against its most informative opponent
        (those near its current estimate); None when every model is placed."""
        k = self.cat.mean.shape[0]
        per_model = (self.cat.judged + self.flying).sum(axis=1)
        unplaced = self.upper & ((per_model[:, None] < placement) | (per_model[None, :] < placement))
        if not unplaced.any():
            return None
        involved = np.where(unplaced.any(axis=1) | unplaced.any(axis=0), per_model, np.iinfo(np.int64).max)
        m = int(np.argmin(involved))
        mask = unplaced & ((np.arange(k)[:, None] == m) | (np.arange(k)[None, :] == m))
        score = information_gain(self.cat.mean, self.cov) + self.whisker()
        flat = int(np.argmax(np.where(mask, score, -np.inf)))
        return float(score.flat[flat]), flat

    def best(self, objective: str) -> tuple[float, int]:
        """(score, flat pair index) of the available pair that ``objective`` rates best."""
        score = OBJECTIVES[objective](self.cat.mean, self.cov, self.cat.cov) + self.whisker()
        flat = int(np.argmax(np.where(self.upper, score, -np.inf)))
        return float(score.flat[flat]), flat


def _uniform_pick(categories: Sequence[Category], live: list[int], rng: np.random.Generator) -> Pick:
    """A model pair drawn in proportion to its items (uniform over item pairs)."""
    weights = np.concatenate([np.where(np.triu(categories[c].available, 1), categories[c].items, 0).ravel()
                              .astype(np.float64) for c in live])
    if weights.sum() <= 0:  # available pairs with unknown item counts: uniform over pairs
        weights = np.concatenate([np.triu(categories[c].available, 1).ravel().astype(np.float64) for c in live])
    flat = int(rng.choice(weights.size, p=weights / weights.sum()))
    offset = 0
    for c in live:
        size = categories[c].mean.shape[0] ** 2
        if flat < offset + size:
            k = categories[c].mean.shape[0]
            first, second = random_sides((flat - offset) // k, (flat - offset) % k, rng)
            return Pick(category=c, first=first, second=second, reason="uniform")
        offset += size
    raise AssertionError("unreachable")
