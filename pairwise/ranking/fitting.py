"""Bradley-Terry leaderboards from a table of pairwise judgment counts.

Pure numpy/scipy (no Flask, no SQL): counts in, frozen dataclasses of numpy
arrays out. The web app, the CLI and the benchmark all call :func:`fit`.

Model. Model ``i`` has log-strength ``s_i``; ``P(i beats j) = sigma(s_i - s_j)``
(natural log, ``sigma`` the logistic function). Scores are centred to mean 0
over the K models of the table. Ties and "both bad" are treated by ``ties``:

* ``"half"`` (default): half a win each way (the convention of choix and of
  Chatbot Arena); intervals by the sandwich estimator, since with ties this
  is a working likelihood.
* ``"davidson"``: Davidson (1970) ties model with a tie parameter ``nu``
  (``P(tie) = nu / (2 + nu)`` between equals), reported in ``tie_parameter``.
* ``"drop"``: ties ignored.

``position=True`` adds a left-side advantage ``delta`` (log-odds), the
"home advantage" of Agresti (2002, sec. 10.6).

Estimation. The exact maximum-likelihood estimate when it exists (every model
reachable from every other along "beat" edges, Zermelo/Ford); otherwise the
posterior mode under a Gaussian prior of precision :data:`DEFAULT_PRIOR` on
every parameter, reported as ``Fit.prior`` and explained in the models'
``flags``. Newton's method on the K (+2) parameters; a test checks it against
``choix`` and against ``scipy.optimize.minimize``.

Intervals. Closed form (``bootstrap=0``): from the inverse information, or the
sandwich ``A^+ B A^+`` for half ties, with the sum-to-zero constraint handled
by the pseudo-inverse. Bootstrap (``bootstrap=N``): percentile intervals of N
refits on Poisson-resampled count cells (see :mod:`pairwise.ranking.bootstrap`),
reproducible from ``seed``; rank intervals and P(best) from the same rounds.
Without a bootstrap, rank intervals and P(best) come from ``PARAMETRIC_DRAWS``
seeded draws of the normal approximation. When the fit needed a prior, the
bootstrap is not run (resamples of a one-sided record stay one-sided, so its
intervals would be falsely narrow): the posterior (Fisher) intervals are
reported and ``settings["interval_method"]`` says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np
from numpy.typing import NDArray

from pairwise.ranking.bootstrap import replicate
from pairwise.ranking.counts import CHOICES, TIES_MODES, observed, records
from pairwise.ranking.estimate import beat_graph, estimate, groups, n_strong_components
from pairwise.ranking.intervals import (
    SCHEDULERS,
    SEPARATION_BUDGET,
    Interval,
    Separation,
    floor_tie_only,
    normal_draws,
    position_effect,
    rank_summary,
    ranks,
    separation,
    tie_parameter,
)
from pairwise.ranking.model import Design, build, covariance, expit, information, regularised, terms


#: Models with fewer judgments than this are flagged.
FEW_JUDGMENTS = 5
ELO_SCALE = 400 / math.log(10)
ELO_BASE = 1000.0


@dataclass(frozen=True, eq=False)  # eq=False: arrays have no single truth value
class Fit:
    """A fitted leaderboard; all arrays are indexed by model (read-only)."""

    scores: NDArray[np.float64]
    ci_low: NDArray[np.float64]
    ci_high: NDArray[np.float64]
    interval_method: str
    rank: NDArray[np.int64]
    rank_ci_low: NDArray[np.int64]
    rank_ci_high: NDArray[np.int64]
    p_best: NDArray[np.float64]
    rating: NDArray[np.float64]
    wins: NDArray[np.int64]
    losses: NDArray[np.int64]
    ties: NDArray[np.int64]
    judgments: NDArray[np.int64]
    flags: tuple[tuple[str, ...], ...]
    prior: float
    tie_parameter: Interval | None
    position_effect: Interval | None
    observed_win_rate: NDArray[np.float64]
    fitted_win_prob: NDArray[np.float64]
    separation: tuple[Separation, ...]
    settings: dict = field(default_factory=dict)


def fit(
    counts: NDArray,
    *,
    ties: str = "half",
    position: bool = False,
    bootstrap: int = 0,
    seed: int = 0,
    confidence: float = 0.95,
    scheduler: str = "uniform",
    budget: int = SEPARATION_BUDGET,
) -> Fit:
    """Fit a Bradley-Terry leaderboard to a (K, K, 4) table of judgment counts.

    Parameters
    ----------
    counts : NDArray
        ``counts[i, j, c]``: judgments with model ``i`` on the left, ``j`` on
        the right and choice ``CHOICES[c]`` ("left" = the left one won).
        Non-negative integers, zero diagonal; K may be 0.
    ties : str
        One of :data:`TIES_MODES`.
    position : bool
        Estimate a left-side advantage.
    bootstrap : int
        Bootstrap rounds; 0 for closed-form intervals. Ignored (and reported
        as such in ``settings``) when the fit needs a prior.
    seed : int
        Seed of the bootstrap (or, without one, of the draws for rank intervals).
    confidence : float
        Coverage of every interval.
    scheduler : str
        How the pool issues pairs (one of ``SCHEDULERS``), for the judgments a
        separation needs.
    budget : int
        More judgments than this to separate a pair reads "not separable at a
        practical budget".

    Returns
    -------
    Fit
    """
    table = _validated(counts, ties, bootstrap, seed, confidence)
    if scheduler not in SCHEDULERS:
        raise ValueError(f"scheduler must be one of {SCHEDULERS}, not {scheduler!r}")
    k = table.shape[0]
    d, cells = build(table, ties, position)
    theta, prior = estimate(d, cells)
    record = records(table)
    # Models with judgments but no decisive result: no spread for a sandwich or
    # a resample to see, so their intervals come from the information instead.
    tie_only = np.zeros(d.n_params, bool)
    tie_only[:k] = (record["judgments"] > 0) & (record["wins"] + record["losses"] == 0)
    closed = "sandwich" if ties == "half" and prior == 0 else "fisher"
    fisher = covariance(d, theta, cells, prior, "fisher")
    cov = floor_tie_only(covariance(d, theta, cells, prior, "sandwich"), fisher, tie_only, k) \
        if closed == "sandwich" else fisher
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    se = np.sqrt(np.clip(np.diag(cov), 0, None))

    # A bootstrap cannot see uncertainty the data do not hold (a model that never
    # lost never loses in a resample either), so with a prior the posterior
    # (Fisher) intervals are reported instead, and the settings say so.
    resample = bootstrap > 0 and prior == 0
    if resample:
        samples = replicate(d, cells, theta, prior, bootstrap, seed)
        low, high = np.quantile(samples, [(1 - confidence) / 2, (1 + confidence) / 2], axis=0)
        draws = samples[:, :k].copy()
        if tie_only.any():  # floor: the closed-form interval, and its draws for the ranks
            low = np.where(tie_only, np.minimum(low, theta - z * se), low)
            high = np.where(tie_only, np.maximum(high, theta + z * se), high)
            draws[:, tie_only[:k]] = normal_draws(theta[:k], cov[:k, :k], seed)[: draws.shape[0], tie_only[:k]]
        method = "bootstrap"
    else:
        low, high = theta - z * se, theta + z * se
        draws = normal_draws(theta[:k], cov[:k, :k], seed)
        method = closed

    scores = theta[:k]
    rank = ranks(scores)
    rank_low, rank_high, p_best = rank_summary(draws, rank, confidence, seed)
    fitted = _fitted(d, theta)
    info = regularised(d, information(d, terms(d, theta, cells)), prior)
    settings = {
        "ties": ties,
        "position": bool(position),
        "bootstrap": int(bootstrap),
        "seed": int(seed),
        "confidence": float(confidence),
        "prior": float(prior),
        "interval_method": method,
        "rank_interval_method": "bootstrap" if resample else "normal approximation (parametric draws)",
        "resampling": "poisson cells" if resample else None,
        "tie_only_models": int(tie_only.sum()),
        "scheduler": scheduler,
        "separation_budget": int(budget),
        "power": 0.8,
    }
    return Fit(
        scores=_frozen(scores),
        ci_low=_frozen(low[:k]),
        ci_high=_frozen(high[:k]),
        interval_method=method,
        rank=_frozen(rank),
        rank_ci_low=_frozen(rank_low),
        rank_ci_high=_frozen(rank_high),
        p_best=_frozen(p_best),
        rating=_frozen(ELO_SCALE * scores + ELO_BASE),
        wins=_frozen(record["wins"]),
        losses=_frozen(record["losses"]),
        ties=_frozen(record["ties"]),
        judgments=_frozen(record["judgments"]),
        flags=_flags(d, cells, record, prior, tie_only[:k] & (method != "fisher")),
        prior=float(prior),
        tie_parameter=tie_parameter(d, theta, low, high, cov, z, resample),
        position_effect=position_effect(d, theta, low, high),
        observed_win_rate=_frozen(observed(table)),
        fitted_win_prob=_frozen(fitted),
        separation=separation(scores, rank, cov, draws if resample else None, info, fitted, z,
                              scheduler=scheduler, budget=budget, exact=tie_only[:k]),
        settings=settings,
    )


def _validated(counts: NDArray, ties: str, bootstrap: int, seed: int, confidence: float) -> NDArray[np.int64]:
    """The count table as int64, or a ValueError saying what is wrong with the input."""
    if ties not in TIES_MODES:
        raise ValueError(f"ties must be one of {TIES_MODES}, not {ties!r}")
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, (int, np.integer)) or bootstrap < 0:
        raise ValueError(f"bootstrap must be a non-negative integer, not {bootstrap!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, not {seed!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, not {confidence!r}")
    table = np.asarray(counts)
    if table.ndim != 3 or table.shape[0] != table.shape[1] or table.shape[2] != len(CHOICES):
        raise ValueError(f"counts must have shape (K, K, {len(CHOICES)}), not {table.shape}")
    if table.size and not (np.issubdtype(table.dtype, np.integer) or np.issubdtype(table.dtype, np.floating)):
        raise ValueError(f"counts must be numbers, not {table.dtype}")
    if table.size and not np.all(np.isfinite(table)):
        raise ValueError("counts must be finite")
    if np.any(table < 0):
        raise ValueError("counts must be non-negative")
    as_int = table.astype(np.int64)
    if np.any(as_int != table):
        raise ValueError("counts must be whole numbers")
    if np.any(np.diagonal(as_int, axis1=0, axis2=1)):
        raise ValueError("counts[i, i] must be zero: a model cannot be compared with itself")
    return as_int


def _frozen(array: NDArray) -> NDArray:
    out = np.array(array)
    out.flags.writeable = False
    return out


def _fitted(d: Design, theta: NDArray[np.float64]) -> NDArray[np.float64]:
    """P(i beats j) under the fit, without position effect; Davidson counts ties half."""
    s = theta[: d.n_models]
    gap = s[:, None] - s[None, :]
    if d.nu_index is None:
        return expit(gap)
    log_nu = theta[d.nu_index]
    log_d = np.logaddexp(np.logaddexp(gap / 2, -gap / 2), log_nu)
    return np.exp(gap / 2 - log_d) + np.exp(log_nu - log_d) / 2


def _flags(
    d: Design, cells: NDArray[np.float64], record: dict[str, NDArray[np.int64]], prior: float,
    tie_only: NDArray[np.bool_],
) -> tuple[tuple[str, ...], ...]:
    """Plain-English warnings per model, for the leaderboard.

    "One-sided results" means a model's group (models compared with each other,
    even indirectly) splits into several strongly connected parts of the beat
    graph, so some model in it never lost (or never won) against the rest: only
    the prior keeps those scores finite. Separate groups that are each
    connected both ways are only "never compared with the others".
    """
    k = d.n_models
    judged = record["judgments"] > 0
    group = groups(k, d.first, d.second, judged)
    n_groups = int(group.max(initial=0))
    held = np.zeros(k, bool)
    if prior > 0 and k:
        _, strong = n_strong_components(k, *beat_graph(d, cells))
        for number in range(1, n_groups + 1):
            members = group == number
            if np.unique(strong[members]).size > 1:
                held |= members
    out = []
    for i in range(k):
        flags: list[str] = []
        n, wins, losses = int(record["judgments"][i]), int(record["wins"][i]), int(record["losses"][i])
        if n == 0:
            out.append(("no judgments",))
            continue
        if losses == 0 and wins > 0:
            flags.append("never lost")
        if wins == 0 and losses > 0:
            flags.append("never won")
        if wins == 0 and losses == 0:
            flags.append("only ties")
        if tie_only[i]:
            flags.append("interval from the information (no decisive result to resample)")
        if n < FEW_JUDGMENTS:
            flags.append(f"only {n} judgment" + ("s" if n > 1 else ""))
        if n_groups > 1:
            flags.append(f"never compared with the others (group {group[i]})")
        if held[i]:
            flags.append("score held finite by the prior (one-sided results)")
        out.append(tuple(flags))
    return tuple(out)
