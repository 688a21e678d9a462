"""Gold and overlap pairs: designate, generate and issue them (operations: flush only).

Called from :func:`pairwise.judging.next_assignment` through one hook,
:func:`special_assignment`, right after the pending-assignment check: at the
pool's ``gold_share`` an expert gets a gold pair (known answer), at its
``overlap_share`` a pair another expert already judged (agreement). Both are
plain :class:`Assignment` rows with the same expiry, JSON and image URLs as any
other, so the expert cannot tell them apart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from PIL import Image as PILImage

from . import imaging, scheduling, sentinels
from .errors import Invalid
from .schema import Assignment, GoldPair, Image, Item, Judgment, Model, Output, Pool, User
from .storage import ImageStore

if TYPE_CHECKING:
    from .pools import PreparedSentinel, StoredImage

OVERLAP_WINDOW = 2000  # overlap pairs come from the pool's most recent judgments
OVERLAP_CHECK = 32  # candidate overlap pairs checked against the expert's own per query
WORK_PAGE = 64  # items in the first page when checking for work left (the next pages grow)


# ----- making gold pairs -------------------------------------------------------

def add_designated(db: Session, pool: Pool, *, item: object, better: object, worse: object,
                   actor: User | None = None, where: str = "gold") -> GoldPair:
    """An admin's gold pair: on ``item``, model ``better``'s output beats ``worse``'s.

    Idempotent: the same pair again returns the stored one. Unknown item or
    model, or a model without an output for that item, is Invalid.
    """
    for field, value in (("item", item), ("better", better), ("worse", worse)):
        if not isinstance(value, str) or not value.strip():
            raise Invalid(f"{where}.{field}: required (a non-empty string)")
    assert isinstance(item, str) and isinstance(better, str) and isinstance(worse, str)
    if better == worse:
        raise Invalid(f"{where}: better and worse name the same model {better!r}")
    row = db.scalar(select(Item).where(Item.pool_id == pool.id, Item.external_id == item))
    if row is None:
        raise Invalid(f"{where}.item: pool {pool.name!r} has no item {item!r}")
    outputs = {name: output_id for name, output_id in db.execute(
        select(Model.name, Output.id).join(Output, Output.model_id == Model.id).where(Output.item_id == row.id))}
    for field, name in (("better", better), ("worse", worse)):
        if name not in outputs:
            raise Invalid(f"{where}.{field}: item {item!r} has no output of model {name!r}")
    existing = db.scalar(select(GoldPair).where(
        GoldPair.item_id == row.id, GoldPair.better_output_id == outputs[better],
        GoldPair.worse_output_id == outputs[worse]))
    if existing is not None:
        return existing
    gold = GoldPair(pool_id=pool.id, item_id=row.id, kind="designated", better_output_id=outputs[better],
                    worse_output_id=outputs[worse], created_by_id=actor.id if actor else None)
    db.add(gold)
    db.flush()
    return gold


def make_sentinel(db: Session, store: ImageStore, item: Item, *, max_pixels: int = 40_000_000,
                  prepared: PreparedSentinel | None = None,
                  known_images: Mapping[str, Image] | None = None) -> GoldPair | None:
    """A generated gold pair for ``item``: one output against a degraded copy of itself.

    The output and the degradation are chosen from the item's id, so seeding
    twice gives the same sentinel; an item that has one keeps it. Seeding
    makes the degraded copy in its worker processes, from pixels already
    decoded (``prepared``); it is used when it is of the output chosen
    here, else the copy is made now from the stored output.
    """
    from .pools import image_row  # pools calls this module at seeding

    if db.scalar(select(GoldPair.id).where(GoldPair.item_id == item.id, GoldPair.kind == "sentinel")) is not None:
        return None
    outputs = db.execute(select(Output.id, Image.sha256).join(Image, Image.id == Output.image_id)
                         .where(Output.item_id == item.id).order_by(Output.id)).all()
    if not outputs:
        return None
    index, kind = sentinels.plan(item.external_id, outputs)
    output_id, sha = outputs[index]
    if prepared is not None and (prepared.of_sha256, prepared.kind) == (sha, kind):
        image = image_row(db, prepared.image, known_images)
    else:
        image = image_row(db, make_sentinel_image(store, sha, kind, name=f"{item.external_id}-sentinel.png",
                                                  max_pixels=max_pixels))
    gold = GoldPair(pool_id=item.pool_id, item_id=item.id, kind="sentinel", better_output_id=output_id,
                    worse_image_id=image.id, degradation=kind)
    db.add(gold)
    db.flush()
    return gold


def make_sentinel_image(store: ImageStore, sha256: str, kind: str, *, name: str,
                        max_pixels: int = 40_000_000) -> StoredImage:
    """Degrade a stored output (``kind``), store the copy and say what its row needs."""
    from .pools import StoredImage, put_normalised

    with PILImage.open(store.path(sha256, "full"), formats=("PNG",)) as stored:
        if stored.width * stored.height > max_pixels:
            raise Invalid(f"{name}: too many pixels")
        stored.load()
        degraded = imaging.encode(sentinels.degrade(stored, kind), name=name)
    put_normalised(store, degraded)  # a large copy gets its display sizes and tiles, as outputs do
    return StoredImage(degraded.sha256, degraded.width, degraded.height, len(degraded.png))


def list_gold(db: Session, pool: Pool) -> list[GoldPair]:
    return list(db.scalars(select(GoldPair).where(GoldPair.pool_id == pool.id).order_by(GoldPair.id)))


def gold_json(gold: GoldPair, model_names: dict[int, str]) -> dict[str, object]:
    return {"id": gold.id, "kind": gold.kind, "item": gold.item.external_id,
            "better": model_names.get(gold.better_output.model_id),
            "worse": None if gold.worse_output is None else model_names.get(gold.worse_output.model_id),
            "degradation": gold.degradation}


# ----- issuing -------------------------------------------------------------------

def special_assignment(db: Session, pool: Pool, expert: User, *, rng: np.random.Generator, minutes: int,
                       now: datetime) -> Assignment | None:
    """A gold pair at ``gold_share``, an overlap pair at ``overlap_share``, else None.

    None also when the draw asks for one but none is eligible: the regular
    scheduler then issues as usual.
    """
    gold_share, overlap_share = pool.gold_share or 0.0, pool.overlap_share or 0.0
    if gold_share <= 0 and overlap_share <= 0:
        return None  # no draw: pools without either keep the scheduler's random stream
    u = float(rng.random())
    if u < gold_share:
        return _issue_gold(db, pool, expert, rng=rng, minutes=minutes, now=now)
    if u < gold_share + overlap_share:
        return _issue_overlap(db, pool, expert, rng=rng, minutes=minutes, now=now)
    return None


def _allowed(query: object, expert: User) -> object:
    categories = expert.category_list
    return query if categories is None else query.where(Item.category.in_(categories))  # type: ignore[attr-defined]


def _regular_work_left(db: Session, pool: Pool, expert: User) -> bool:
    """Whether this expert has pairs left to judge.

    Their judgments are counted by their own index; the pool's pairs are then
    added up a page of items at a time only until they exceed that count, so
    the cost follows the expert's own work, not the size of the pool.
    """
    judged = db.scalar(select(func.count()).select_from(Judgment).where(
        Judgment.pool_id == pool.id, Judgment.expert_id == expert.id, Judgment.gold_pair_id.is_(None))) or 0
    pairs, after, page = 0, None, WORK_PAGE
    while pairs <= judged:
        # Keyset pages on the (pool_id, external_id) unique index.
        query = select(Item.id, Item.external_id).where(Item.pool_id == pool.id)
        if after is not None:
            query = query.where(Item.external_id > after)
        page_query = _allowed(query, expert).order_by(Item.external_id).limit(page)  # type: ignore[attr-defined]
        rows = db.execute(page_query).all()
        if not rows:
            return False
        sizes = db.scalars(select(func.count()).select_from(Output)
                           .where(Output.item_id.in_([item_id for item_id, _ in rows])).group_by(Output.item_id))
        pairs += sum(n * (n - 1) // 2 for n in sizes)
        after, page = rows[-1][1], min(page * 4, 4096)
    return True


def _issue_gold(db: Session, pool: Pool, expert: User, *, rng: np.random.Generator, minutes: int,
                now: datetime) -> Assignment | None:
    # Each gold pair at most once per expert: a second showing would test memory.
    seen = select(Assignment.gold_pair_id).where(Assignment.expert_id == expert.id,
                                                 Assignment.pool_id == pool.id,
                                                 Assignment.gold_pair_id.is_not(None))
    query = _allowed(select(GoldPair).join(Item, Item.id == GoldPair.item_id)
                     .where(GoldPair.pool_id == pool.id, GoldPair.id.not_in(seen)), expert)
    candidates = list(db.scalars(query.order_by(GoldPair.id)))  # type: ignore[attr-defined]
    # Candidates first (a pool without gold pairs costs one small query), then
    # the check that real work is left: a gold pair after the last real one would stand out.
    if not candidates or not _regular_work_left(db, pool, expert):
        return None
    gold = candidates[int(rng.integers(len(candidates)))]
    better_side = "left" if rng.random() < 0.5 else "right"
    # A sentinel shows the same output on both sides in the table; the view swaps
    # in the degraded copy on the worse side (Assignment.shown_image).
    worse = gold.worse_output_id if gold.worse_output_id is not None else gold.better_output_id
    left, right = (gold.better_output_id, worse) if better_side == "left" else (worse, gold.better_output_id)
    return _add(db, pool, expert, gold.item_id, left, right, minutes=minutes, now=now,
                gold_pair_id=gold.id, gold_side=better_side)


def _issue_overlap(db: Session, pool: Pool, expert: User, *, rng: np.random.Generator, minutes: int,
                   now: datetime) -> Assignment | None:
    # The pairs of the pool's latest judgments by others: judgment columns
    # only, read down the (pool, id) index.
    recent = (select(Judgment.low_output_id, Judgment.high_output_id)
              .where(Judgment.pool_id == pool.id, Judgment.expert_id != expert.id, Judgment.gold_pair_id.is_(None))
              .order_by(Judgment.id.desc()).limit(OVERLAP_WINDOW))
    if expert.category_list is not None:
        recent = recent.where(Judgment.category.in_(expert.category_list))
    judged = Counter((low, high) for low, high in db.execute(recent))
    # The least-judged first (two answers on many pairs measure agreement
    # better than many answers on a few), in a random order; the first this
    # expert has never been given wins, checked a few at a time.
    pairs = list(judged)
    order = [pairs[k] for k in np.argsort(np.fromiter(judged.values(), dtype=np.float64, count=len(pairs))
                                          + rng.random(len(pairs)))]
    for start in range(0, len(order), OVERLAP_CHECK):
        chunk = order[start:start + OVERLAP_CHECK]
        items = {output: item for output, item in db.execute(
            select(Output.id, Output.item_id).where(Output.id.in_([low for low, _ in chunk])))}
        given = {(item, scheduling.pair_key(a, b)) for item, a, b in db.execute(
            select(Assignment.item_id, Assignment.left_output_id, Assignment.right_output_id)
            .where(Assignment.expert_id == expert.id, Assignment.item_id.in_(set(items.values())),
                   Assignment.gold_pair_id.is_(None)))}
        for low, high in chunk:
            if low in items and (items[low], (low, high)) not in given:
                left, right = (low, high) if rng.random() < 0.5 else (high, low)
                return _add(db, pool, expert, items[low], left, right, minutes=minutes, now=now)
    return None


def _add(db: Session, pool: Pool, expert: User, item_id: int, left: int, right: int, *, minutes: int,
         now: datetime, gold_pair_id: int | None = None, gold_side: str | None = None) -> Assignment:
    assignment = Assignment(pool_id=pool.id, item_id=item_id, expert_id=expert.id, left_output_id=left,
                            right_output_id=right, issued_at=now, expires_at=now + timedelta(minutes=minutes),
                            gold_pair_id=gold_pair_id, gold_side=gold_side, is_open=True)
    db.add(assignment)
    db.flush()
    return assignment

