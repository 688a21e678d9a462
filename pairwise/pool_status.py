"""What a seeding script asks about a pool: its items, models and progress (flush only).

Operations take a session and never commit, like those in :mod:`pairwise.pools`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .errors import Invalid, NotFound
from .manifest import CONTROL, MODEL_NAME
from .schema import Assignment, Item, JudgmentCell, Model, Output, Pool, utcnow

MAX_PAGE = 1000


@dataclass(frozen=True)
class ItemsPage:
    items: list[dict[str, Any]]
    next_after: str | None


def items_page(db: Session, pool: Pool, *, after: str | None = None, limit: int = 100) -> ItemsPage:
    """Items by id, ``limit`` at a time after the id ``after`` (keyset paging).

    Keyset, not offset: a page costs the same at the millionth item, and
    items added while a script pages through never shift what it sees.
    """
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit: a whole number from 1 to {MAX_PAGE}")
    if after is not None and CONTROL.search(after):
        raise Invalid("after: contains a control character")
    query = select(Item).where(Item.pool_id == pool.id).order_by(Item.external_id).limit(limit + 1)
    if after is not None:
        query = query.where(Item.external_id > after)
    rows = list(db.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    models: dict[int, list[str]] = defaultdict(list)
    if rows:
        for item_id, name in db.execute(
                select(Output.item_id, Model.name).join(Model, Model.id == Output.model_id)
                .where(Output.item_id.in_([r.id for r in rows])).order_by(Model.name)):
            models[item_id].append(name)
    items = [{"id": r.external_id, "category": r.category, "instruction": r.instruction,
              "models": models[r.id], "created_at": _time(r.created_at)} for r in rows]
    return ItemsPage(items=items, next_after=rows[-1].external_id if more else None)


def list_models(db: Session, pool: Pool) -> list[dict[str, Any]]:
    """Every model of the pool with its output count and retirement."""
    counts = dict(db.execute(select(Output.model_id, func.count()).join(Model, Model.id == Output.model_id)
                             .where(Model.pool_id == pool.id).group_by(Output.model_id)).all())
    return [{"name": m.name, "outputs": counts.get(m.id, 0), "retired": m.retired_at is not None,
             "retired_at": _time(m.retired_at)}
            for m in db.scalars(select(Model).where(Model.pool_id == pool.id).order_by(Model.name))]


def get_model(db: Session, pool: Pool, name: str) -> Model:
    model = db.scalar(select(Model).where(Model.pool_id == pool.id, Model.name == name)) \
        if MODEL_NAME.fullmatch(name) else None
    if model is None:
        raise NotFound(f"pool {pool.name!r} has no model {name!r}")
    return model


def set_retired(db: Session, pool: Pool, name: str, retired: Any, now: datetime | None = None) -> Model:
    """Retire a model (no new pairs show it) or bring it back.

    Its judgments stay: in the history, the exports and every leaderboard,
    where its row is flagged ``retired``.
    """
    if not isinstance(retired, bool):
        raise Invalid("retired: true or false")
    model = get_model(db, pool, name)
    if retired and model.retired_at is None:
        model.retired_at = now or utcnow()
    elif not retired:
        model.retired_at = None
    db.flush()
    return model


def retired_names(db: Session, pool: Pool) -> set[str]:
    return set(db.scalars(select(Model.name).where(Model.pool_id == pool.id, Model.retired_at.is_not(None))))


def mark_retired(db: Session, pool: Pool, board: dict[str, Any]) -> dict[str, Any]:
    """Flag retired models' rows of a leaderboard dict (not cached: retiring changes no counts)."""
    retired = retired_names(db, pool)
    board["retired_models"] = sorted(retired & set(board.get("models", [])))
    for row in board.get("rows", []):
        if row.get("model") in retired:
            row["flags"] = "; ".join(f for f in (row.get("flags"), "retired") if f)
    return board


def progress(db: Session, pool: Pool, now: datetime | None = None) -> dict[str, Any]:
    """Per category: items, judgments, judgments per model pair, open assignments."""
    now = now or utcnow()
    names = dict(db.execute(select(Model.id, Model.name).where(Model.pool_id == pool.id)).all())
    categories: dict[str, dict[str, Any]] = {}

    def category(name: str) -> dict[str, Any]:
        return categories.setdefault(name, {"category": name, "items": 0, "judgments": 0,
                                            "open_assignments": 0, "pairs": defaultdict(int)})

    for name, n in db.execute(select(Item.category, func.count()).where(Item.pool_id == pool.id)
                              .group_by(Item.category)):
        category(name)["items"] = n
    # From the count cells, not the judgment rows: K x K x 4 rows per category.
    for name, left, right, n in db.execute(
            select(JudgmentCell.category, JudgmentCell.left_model_id, JudgmentCell.right_model_id,
                   func.sum(JudgmentCell.n)).where(JudgmentCell.pool_id == pool.id)
            .group_by(JudgmentCell.category, JudgmentCell.left_model_id, JudgmentCell.right_model_id)):
        entry = category(name)
        entry["judgments"] += int(n)
        entry["pairs"][tuple(sorted((names[left], names[right])))] += int(n)
    for name, n in db.execute(
            select(Item.category, func.count()).select_from(Assignment)
            .join(Item, Item.id == Assignment.item_id)
            .where(Assignment.pool_id == pool.id, Assignment.is_open, Assignment.expires_at > now)
            .group_by(Item.category)):
        category(name)["open_assignments"] = n
    rows = []
    for name in sorted(categories):
        entry = categories[name]
        entry["pairs"] = [{"models": list(pair), "judgments": n} for pair, n in sorted(entry["pairs"].items())]
        rows.append(entry)
    return {"pool": pool.name, "open": pool.is_open,
            "items": sum(r["items"] for r in rows), "judgments": sum(r["judgments"] for r in rows),
            "open_assignments": sum(r["open_assignments"] for r in rows), "categories": rows}


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds") + "Z"
