"""Leaderboards from the database: count cells in, fitted (and cached) boards out."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from . import ranking
from .db import dialect_insert
from .errors import Invalid
from .leaderboard_fit import (
    MEDIAN_SAMPLE,
    SCHEDULERS,
    CostModel,
    FitOptions,
    Leaderboard,
    StyleRows,
    fit_counts,
    fit_style,
)
from .leaderboard_formats import as_dict
from .schema import Item, Judgment, JudgmentCell, LeaderboardCache, Model, Output, Pool, utcnow

__all__ = ["ALL", "CostModel", "FitOptions", "Leaderboard", "build_cached", "cell_counts", "fit_counts",
           "pool_models", "recent_median_seconds", "recount"]

ALL = "all"
CACHE_DAYS = 2  # unused cache entries older than this are dropped
#: At most this many fitted boards are kept per pool (newest first). Options
#: come from a short list (3 ties modes x 2 position flags x
#: ``BOOTSTRAP_CHOICES``), and a new judgment makes every older entry unused.
CACHE_PER_POOL = 60
# Part of every cache key: bump it when the engine or the output format
# changes, so boards fitted by an older release are not served again.
CACHE_VERSION = 2


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
        select(*columns, func.count()).where(Judgment.gold_pair_id.is_(None)).group_by(*columns)))
    return db.scalar(select(func.coalesce(func.sum(JudgmentCell.n), 0))) or 0


def recent_median_seconds(db: Session, pool: Pool) -> float | None:
    """Median seconds per judgment over the pool's most recent judgments."""
    seconds = db.scalars(select(Judgment.seconds).where(Judgment.pool_id == pool.id)
                         .order_by(Judgment.id.desc()).limit(MEDIAN_SAMPLE)).all()
    return float(np.median(seconds)) if seconds else None


def style_rows(db: Session, pool: Pool, category: str, models: tuple[str, ...], ties: str,
               store: object | None) -> StyleRows:
    """Covariates of every judgment (computing missing image statistics first) and their contextual fit."""
    from . import image_stats

    if store is not None:
        image_stats.ensure(db, store, image_stats.judged_images(db, pool.id))
    ids = {name: model_id for model_id, name in pool_models(db, pool, category)}
    index = {ids[name]: i for i, name in enumerate(models)}
    left, right, choice, covariates = image_stats.covariate_rows(db, pool.id, None if category == ALL else category,
                                                                 index)
    return fit_style(left, right, choice, covariates, image_stats.STATS, len(models), ties)


def build_cached(db: Session, pool: Pool, category: str = ALL, options: FitOptions = FitOptions(),
                 hourly_rate: float | None = None, store: object | None = None,
                 criterion: str | None = None) -> dict[str, Any]:
    """The leaderboard as a plain dict, from the cache when nothing has changed.

    The key digests the counts themselves (and the options and cost inputs), so
    one new judgment means a new key: a cached board is never stale. Flushes a
    new entry; the caller commits. With ``options.style`` the image statistics
    of judged outputs are computed first where missing (from ``store``).
    """
    from . import evidence  # it imports this module
    from .experts import excluded_counts
    from .pool_status import mark_retired

    options = options.check()
    if criterion is None:
        models, counts = cell_counts(db, pool, category)
    else:  # a rubric criterion's answers, fitted by the same engine
        models, counts = evidence.criterion_counts(db, pool, category, criterion)
    scheduler = pool.scheduler if pool.scheduler in SCHEDULERS else "uniform"
    # Excluded experts (issue 7): their counts leave every fit, and the reasons
    # enter the key and the provenance.
    minus, excluded = excluded_counts(db, pool, category, models, criterion=criterion)
    counts = counts - minus
    # Every judgment changes the counts and so the key; the pace behind the
    # cost model changes only with judgments too, so it need not be in it.
    key = hashlib.sha256(json.dumps([
        CACHE_VERSION, pool.id, category, list(models), ranking.digest(counts), options.__dict__, hourly_rate,
        scheduler,
        criterion,
        excluded,
    ], sort_keys=True).encode()).hexdigest()
    cached = db.get(LeaderboardCache, key)
    if cached is not None:
        return mark_retired(db, pool, evidence.annotate(db, pool, category, json.loads(cached.payload)))
    cost = None if hourly_rate is None else CostModel(recent_median_seconds(db, pool), hourly_rate)
    if options.style and criterion is not None:
        raise Invalid("style: style control fits the overall choice, not a rubric criterion")
    style = style_rows(db, pool, category, models, options.ties, store) if options.style else None
    board = as_dict(fit_counts(pool.name, category, models, counts, options, cost, scheduler, style))
    board["criterion"] = board["provenance"]["criterion"] = criterion
    board["provenance"]["excluded"] = excluded
    db.execute(delete(LeaderboardCache).where(LeaderboardCache.pool_id == pool.id,
                                              LeaderboardCache.created_at < utcnow() - timedelta(days=CACHE_DAYS)))
    keep = (select(LeaderboardCache.key).where(LeaderboardCache.pool_id == pool.id)
            .order_by(LeaderboardCache.created_at.desc(), LeaderboardCache.key).limit(CACHE_PER_POOL - 1))
    db.execute(delete(LeaderboardCache).where(LeaderboardCache.pool_id == pool.id,
                                              LeaderboardCache.key.not_in(keep.scalar_subquery())))
    # Two workers may fit the same board at once; the second insert is a no-op.
    db.execute(dialect_insert(db)(LeaderboardCache)
               .values(key=key, pool_id=pool.id, payload=json.dumps(board), created_at=utcnow())
               .on_conflict_do_nothing(index_elements=["key"]))
    return mark_retired(db, pool, evidence.annotate(db, pool, category, board))
