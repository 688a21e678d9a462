"""One leaderboard fit: options in, a fitted board (plain data) out. Pure: no Flask, no SQL.

Shared by the database-backed :mod:`pairwise.leaderboards`, the offline
``pairwise rank`` and :mod:`pairwise.leaderboard_formats`; it imports neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from numpy.typing import NDArray

from . import ranking
from .errors import Invalid

MEDIAN_SAMPLE = 2000  # judgments behind the seconds-per-judgment estimate


@dataclass(frozen=True)
class FitOptions:
    ties: str = "half"
    position: bool = False
    bootstrap: int = 1000
    seed: int = 0

    def check(self) -> FitOptions:
        if self.ties not in ranking.TIES_MODES:
            raise Invalid(f"ties: one of {', '.join(ranking.TIES_MODES)}")
        if not 0 <= self.bootstrap <= 10000:
            raise Invalid("bootstrap: a number of rounds from 0 to 10000")
        return self


@dataclass(frozen=True)
class CostModel:
    """What one more judgment costs: for 'how many hours would separate them'."""

    median_seconds: float | None
    hourly_rate: float
    basis: str = f"median time of the pool's {MEDIAN_SAMPLE} most recent judgments"


@dataclass(frozen=True)
class Leaderboard:
    """A fitted leaderboard with what it was fitted from (plain data)."""

    pool: str | None
    category: str
    models: tuple[str, ...]
    counts: NDArray[np.int64]
    fit: ranking.Fit
    options: FitOptions
    created_at: str
    cost: CostModel | None = None

    @property
    def judgments(self) -> int:
        return int(self.counts.sum())


def fit_counts(pool: str | None, category: str, models: tuple[str, ...],
               counts: NDArray[np.int64], options: FitOptions, cost: CostModel | None = None) -> Leaderboard:
    fit = ranking.fit(counts, ties=options.ties, position=options.position,
                      bootstrap=options.bootstrap, seed=options.seed)
    return Leaderboard(pool=pool, category=category, models=models, counts=counts, fit=fit,
                       options=options, cost=cost,
                       created_at=datetime.now(UTC).replace(microsecond=0).isoformat())
