"""One leaderboard fit: options in, a fitted board (plain data) out. Pure: no Flask, no SQL.

Shared by the database-backed :mod:`pairwise.leaderboards`, the offline
``pairwise rank`` and :mod:`pairwise.leaderboard_formats`; it imports neither.

One default everywhere: closed-form intervals (the sandwich for half ties,
the inverse information for Davidson and dropped ties). They are exact to the
bootstrap's 0.7 % on large boards with nominal 95 % coverage in simulation,
cost milliseconds (the page refits on every judgment), are deterministic, and
every verdict (rank intervals, P(best), separation) comes from the same
covariance. The bootstrap is opt-in, from a short list of round counts
(:data:`BOOTSTRAP_CHOICES`) so the server never fits or caches an open-ended
set of variants.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from numpy.typing import NDArray

from . import ranking
from .errors import Invalid

MEDIAN_SAMPLE = 2000  # judgments behind the seconds-per-judgment estimate


#: Bootstrap rounds the server fits (and caches); 0 = closed form, the default.
BOOTSTRAP_CHOICES: tuple[int, ...] = (0, 100, 200, 500, 1000, 2000)
#: Offline (``pairwise rank``, no cache) any count up to this.
MAX_OFFLINE_ROUNDS = 10000
SCHEDULERS = ("uniform", "active")


@dataclass(frozen=True)
class FitOptions:
    ties: str = "half"
    position: bool = False
    bootstrap: int = 0
    seed: int = 0
    style: bool = False

    def check(self, *, offline: bool = False) -> FitOptions:
        if self.ties not in ranking.TIES_MODES:
            raise Invalid(f"ties: one of {', '.join(ranking.TIES_MODES)}")
        if self.style and self.ties == "davidson":
            raise Invalid("style: style control takes ties=half or ties=drop, not davidson")
        if self.style and self.position:
            raise Invalid("style: style control is fitted without a position effect; drop position=1")
        if offline:
            if not 0 <= self.bootstrap <= MAX_OFFLINE_ROUNDS:
                raise Invalid(f"bootstrap: a number of rounds from 0 to {MAX_OFFLINE_ROUNDS}")
        elif self.bootstrap not in BOOTSTRAP_CHOICES:
            raise Invalid(f"bootstrap: one of {', '.join(map(str, BOOTSTRAP_CHOICES))} rounds (0: closed form)")
        return self

    @property
    def method(self) -> str:
        """Short name for file names: closed or bootstrapN."""
        return f"bootstrap{self.bootstrap}" if self.bootstrap else "closed"


@dataclass(frozen=True, eq=False)
class StyleRows:
    """Judgment rows with covariates (left minus right) and the style-controlled fit of them."""

    covariates: tuple[str, ...]
    fit: object  # pairwise.ranking.style.StyleFit (imported lazily: style is opt-in)


def fit_style(left: NDArray, right: NDArray, choice: NDArray, covariates: NDArray, names: tuple[str, ...],
              n_models: int, ties: str) -> StyleRows:
    from .ranking.style import fit_style as contextual

    return StyleRows(tuple(names), contextual(left, right, choice, covariates, names, n_models, ties=ties))


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
    scheduler: str = "uniform"
    style: StyleRows | None = None

    @property
    def judgments(self) -> int:
        return int(self.counts.sum())


def fit_counts(pool: str | None, category: str, models: tuple[str, ...],
               counts: NDArray[np.int64], options: FitOptions, cost: CostModel | None = None,
               scheduler: str = "uniform", style: StyleRows | None = None) -> Leaderboard:
    """The one fit behind a page, an API answer, a CLI print and every download."""
    scheduler = scheduler if scheduler in SCHEDULERS else "uniform"
    fit = ranking.fit(counts, ties=options.ties, position=options.position,
                      bootstrap=options.bootstrap, seed=options.seed, scheduler=scheduler)
    return Leaderboard(pool=pool, category=category, models=models, counts=counts, fit=fit,
                       options=options, cost=cost, scheduler=scheduler, style=style,
                       created_at=datetime.now(UTC).replace(microsecond=0).isoformat())


def download_name(board: dict, extension: str) -> str:
    """A file name naming pool, category, options and data digest, e.g.
    ``spring_apparel_ties-half_pos-0_closed_seed-20240601_3f2a9c1b7d4e.csv``."""
    p = board["provenance"]
    settings = p["settings"]
    method = f"bootstrap{settings['bootstrap']}" if settings["bootstrap"] else "closed"  # as asked
    parts = [board.get("pool") or "file", board["category"], f"ties-{settings['ties']}",
             f"pos-{int(bool(settings['position']))}", method, f"seed-{p['seed']}", p["data_digest"][:12]]
    if board.get("style"):
        parts.insert(-1, "style")
    if board.get("criterion"):
        parts.insert(2, f"criterion-{board['criterion']}")
    safe = "_".join("".join(c if c.isalnum() or c in "-." else "-" for c in str(part)) for part in parts)
    return f"{safe}.{extension}"
