"""Leaderboards from the database: one GROUP BY into count cells, then the engine."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import ranking
from .errors import Invalid
from .schema import Item, Judgment, Model, Output, Pool

ALL = "all"


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
class Leaderboard:
    """A fitted leaderboard with what it was fitted from (plain data)."""

    pool: str | None
    category: str
    models: tuple[str, ...]
    counts: NDArray[np.int64]
    fit: ranking.Fit
    options: FitOptions
    created_at: str

    @property
    def judgments(self) -> int:
        return int(self.counts.sum())


def fit_counts(pool: str | None, category: str, models: tuple[str, ...],
               counts: NDArray[np.int64], options: FitOptions) -> Leaderboard:
    fit = ranking.fit(counts, ties=options.ties, position=options.position,
                      bootstrap=options.bootstrap, seed=options.seed)
    return Leaderboard(pool=pool, category=category, models=models, counts=counts, fit=fit,
                       options=options,
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
    choice ``ranking.CHOICES[c]``. One GROUP BY; rows are never loaded.
    """
    models = pool_models(db, pool, category)
    index = {model_id: k for k, (model_id, _name) in enumerate(models)}
    choice_index = {c: k for k, c in enumerate(ranking.CHOICES)}
    counts = np.zeros((len(models), len(models), len(ranking.CHOICES)), dtype=np.int64)
    query = (select(Judgment.left_model_id, Judgment.right_model_id, Judgment.choice, func.count())
             .where(Judgment.pool_id == pool.id)
             .group_by(Judgment.left_model_id, Judgment.right_model_id, Judgment.choice))
    if category != ALL:
        query = query.where(Judgment.category == category)
    for left, right, choice, n in db.execute(query):
        if left in index and right in index:
            counts[index[left], index[right], choice_index[str(choice.value)]] += n
    return tuple(name for _id, name in models), counts


def build(db: Session, pool: Pool, category: str = ALL, options: FitOptions = FitOptions()) -> Leaderboard:
    models, counts = cell_counts(db, pool, category)
    return fit_counts(pool.name, category, models, counts, options.check())
