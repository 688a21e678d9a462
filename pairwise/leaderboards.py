"""Leaderboards from the database: count cells in, fitted (and cached) boards out."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from . import ranking
from .db import dialect_insert
from .errors import Invalid
from .schema import Item, Judgment, JudgmentCell, LeaderboardCache, Model, Output, Pool, utcnow

ALL = "all"
MEDIAN_SAMPLE = 2000  # judgments behind the seconds-per-judgment estimate
CACHE_DAYS = 2  # unused cache entries older than this are dropped
# Part of every cache key: bump it when the engine or the output format
# changes, so boards fitted by an older release are not served again.
CACHE_VERSION = 1


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


def pool_models(db: Session, pool: Pool, category: str = ALL) -> list[tuple[int, str]]:
    """(id, name) of the models with outputs in this pool (and category), by name."""
    query = select(Model.id, Model.name).where(Model.pool_id == pool.id)
    if category != ALL:
        query = query.where(Model.id.in_(
            select(Output.model_id).join(Item, Item.id == Output.item_id)
            .where(Item.pool_id == pool.id, Item.category == category)))
    return [(i, n) for i, n in db.execute(query.order_by(Model.name))]


def cell_counts(db: Session, pool: Pool, category: str = ALL) -> tuple[tuple[str, ...], NDArray[np.int64]]:
    """Models and the (K, K, 4) judgment counts of one pool and category.

    ``counts[i, j, c]``: judgments with model i on the left, j on the right and
    choice ``ranking.CHOICES[c]``. One GROUP BY over the count cells (at most
    K x K x 4 rows per category); judgment rows are never read.
    """
    models = pool_models(db, pool, category)
    index = {model_id: k for k, (model_id, _name) in enumerate(models)}
    choice_index = {c: k for k, c in enumerate(ranking.CHOICES)}
    counts = np.zeros((len(models), len(models), len(ranking.CHOICES)), dtype=np.int64)
    cell = JudgmentCell
    query = (select(cell.left_model_id, cell.right_model_id, cell.choice, func.sum(cell.n))
             .where(cell.pool_id == pool.id)
             .group_by(cell.left_model_id, cell.right_model_id, cell.choice))
    if category != ALL:
        query = query.where(cell.category == category)
    for left, right, choice, n in db.execute(query):
        if left in index and right in index:
            counts[index[left], index[right], choice_index[choice.value]] += int(n)
    return tuple(name for _id, name in models), counts


def recount(db: Session) -> int:
    """Rebuild every count cell from the judgments; returns the judgments counted."""
    db.execute(delete(JudgmentCell))
    columns = (Judgment.pool_id, Judgment.category, Judgment.left_model_id, Judgment.right_model_id,
               Judgment.choice)
    db.execute(insert(JudgmentCell).from_select(
        ["pool_id", "category", "left_model_id", "right_model_id", "choice", "n"],
        select(*columns, func.count()).group_by(*columns)))
    return db.scalar(select(func.coalesce(func.sum(JudgmentCell.n), 0))) or 0


def recent_median_seconds(db: Session, pool: Pool) -> float | None:
    """Median seconds per judgment over the pool's most recent judgments."""
    seconds = db.scalars(select(Judgment.seconds).where(Judgment.pool_id == pool.id)
                         .order_by(Judgment.id.desc()).limit(MEDIAN_SAMPLE)).all()
    return float(np.median(seconds)) if seconds else None


def build_cached(db: Session, pool: Pool, category: str = ALL, options: FitOptions = FitOptions(),
                 hourly_rate: float | None = None) -> dict[str, Any]:
    """The leaderboard as a plain dict, from the cache when nothing has changed.

    The key digests the counts themselves (and the options and cost inputs), so
    one new judgment means a new key: a cached board is never stale. Flushes a
    new entry; the caller commits.
    """
    from .leaderboard_formats import as_dict
    from .pool_status import mark_retired

    options = options.check()
    models, counts = cell_counts(db, pool, category)
    # Every judgment changes the counts and so the key; the pace behind the
    # cost model changes only with judgments too, so it need not be in it.
    key = hashlib.sha256(json.dumps([
        CACHE_VERSION, pool.id, category, list(models), ranking.digest(counts), options.__dict__, hourly_rate,
    ], sort_keys=True).encode()).hexdigest()
    cached = db.get(LeaderboardCache, key)
    if cached is not None:
        return mark_retired(db, pool, json.loads(cached.payload))
    cost = None if hourly_rate is None else CostModel(recent_median_seconds(db, pool), hourly_rate)
    board = as_dict(fit_counts(pool.name, category, models, counts, options, cost))
    db.execute(delete(LeaderboardCache).where(LeaderboardCache.pool_id == pool.id,
                                              LeaderboardCache.created_at < utcnow() - timedelta(days=CACHE_DAYS)))
    # Two workers may fit the same board at once; the second insert is a no-op.
    db.execute(dialect_insert(db)(LeaderboardCache)
               .values(key=key, pool_id=pool.id, payload=json.dumps(board), created_at=utcnow())
               .on_conflict_do_nothing(index_elements=["key"]))
    return mark_retired(db, pool, board)
