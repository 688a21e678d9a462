"""The active scheduler against the database (operations: flush only).

Per request: the stored posteriors of the pool's categories (one row each,
decoded again only when its version changed), the judgments since they were
fitted and the pairs in flight (open and reserved assignments, partial
indexes), then :func:`scheduling.choose_active` picks a model pair and
one indexed query finds an item holding both outputs that this expert has not
judged, starting at a random key. Nothing here reads all items or all
judgments, so the cost does not grow with the pool.

The posterior of a (pool, category) is refitted (warm-started from the
stored mean) when :data:`REFRESH_JUDGMENTS` judgments have arrived since --
incrementally, from its stored win matrix plus those judgments -- and in
full from the count cells when :data:`REFRESH_SECONDS` have passed; the
worker that notices and claims it (:func:`claim_refit`) does it, the others
keep using the stored one meanwhile, and every worker reads the result.
Statements run on every request are built once, at import: building a
statement costs more Python than running it.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Select, and_, bindparam, case, exists, func, or_, select, text, true, union_all
from sqlalchemy.orm import Session, aliased

from . import scheduling
from .db import dialect_insert
from .schema import Assignment, Item, Judgment, JudgmentCell, Model, Output, Pool, SchedulerPosterior, Skip, User

#: Refit a category's posterior after this many new judgments (until then
#: they count as information in flight) ...
REFRESH_JUDGMENTS = 10
#: ... and every category's when they are this old (new items, models and
#: categories join then).
REFRESH_SECONDS = 60


@dataclass(frozen=True)
class Choice:
    item_id: int
    left_output_id: int
    right_output_id: int
    reason: str


# Two outputs of one item, aliased once: an alias made per request costs
# more Python (column proxies) than the queries that use it.
_LEFT, _RIGHT = aliased(Output), aliased(Output)

def _cells(db: Session, pool: Pool, only: set[str] | None) -> dict[str, dict[tuple[int, int, str], int]]:
    """category -> (left model, right model, choice) -> judgments (read at refresh only)."""
    out: dict[str, dict[tuple[int, int, str], int]] = {}
    query = select(JudgmentCell.category, JudgmentCell.left_model_id, JudgmentCell.right_model_id,
                   JudgmentCell.choice, JudgmentCell.n).where(JudgmentCell.pool_id == pool.id)
    if only is not None:
        query = query.where(JudgmentCell.category.in_(sorted(only)))
    for category, left, right, choice, n in db.execute(query):
        out.setdefault(category, {})[(left, right, choice.value)] = int(n)
    return out


def _table(model_ids: list[int], cells: dict[tuple[int, int, str], int]) -> np.ndarray:
    index = {m: k for k, m in enumerate(model_ids)}
    order = {"left": 0, "right": 1, "tie": 2, "both_bad": 3}
    counts = np.zeros((len(model_ids), len(model_ids), 4), dtype=np.int64)
    for (left, right, choice), n in cells.items():
        if left in index and right in index:
            counts[index[left], index[right], order[choice]] += n
    return counts


def categories(db: Session, pool: Pool) -> list[str]:
    """The pool's categories by a loose index scan: one index probe per
    category, however many items there are."""
    found: list[str] = []
    while True:
        query = select(func.min(Item.category)).where(Item.pool_id == pool.id)
        if found:
            query = query.where(Item.category > found[-1])
        category = db.scalar(query)
        if category is None:
            return found
        found.append(category)


def _models(db: Session, pool: Pool, category: str) -> list[int]:
    """The pool's models with at least one output in the category.

    Per model, the first output found in the category. On PostgreSQL a
    lateral subquery with LIMIT 1, so the database stops there (an EXISTS let
    it hash every item of the category: 0.5 s at 100,000 items); SQLite runs
    the EXISTS as that same nested loop and has no LATERAL.
    """
    first = (select(Output.id).join(Item, Item.id == Output.item_id)
             .where(Output.model_id == Model.id, Item.pool_id == pool.id, Item.category == category))
    query = select(Model.id).where(Model.pool_id == pool.id)
    if db.get_bind().dialect.name == "postgresql":
        query = query.join(first.limit(1).lateral(), true())
    else:
        query = query.where(exists(first))
    return sorted(db.scalars(query))


def refresh(db: Session, pool: Pool, old: dict[str, SchedulerPosterior], now: datetime,
            only: set[str] | None = None,
            new: dict[str, list[tuple[int, int, int, str]]] | None = None) -> dict[str, SchedulerPosterior]:
    """Refit the posteriors from the count cells and store them.

    ``only``: refit just these categories with the models they had; None:
    every category, with its models looked up again (new items, models and
    categories join here). With ``only``, a category whose stored row keeps
    its win matrix is refitted *incrementally*: that matrix plus ``new``
    (category -> (judgment id, left model, right model, choice) of the
    judgments since its fit), without reading the count cells. A judgment
    that commits after a newer one was counted is then missed until the
    next full refit (every :data:`REFRESH_SECONDS`), which reads the cells.
    """
    if only is not None and new is not None:
        # The stored win matrices, where they belong to the fits in ``old``
        # (another worker may have refitted since they were read: then in full).
        wins = {category: matrix for category, matrix, last in db.execute(
            select(SchedulerPosterior.category, SchedulerPosterior.wins, SchedulerPosterior.last_judgment_id)
            .where(SchedulerPosterior.pool_id == pool.id, SchedulerPosterior.category.in_(sorted(only))))
            if matrix is not None and category in old and last == old[category].last_judgment_id}
        incremental = set(wins)
        fresh = dict(old)
        for category in sorted(incremental):
            fresh[category] = _store(db, pool, category, old[category].model_ids,
                                     _add_judgments(old[category].model_ids, wins[category],
                                                    new.get(category, [])),
                                     start=np.asarray(old[category].mean, dtype=np.float64), now=now,
                                     last=max([old[category].last_judgment_id]
                                              + [j for judged in new.values() for j, *_ in judged]))
        if incremental == only:
            return fresh
        return refresh(db, pool, fresh, now, only - incremental)
    # The newest judgment before the counts are read: a judgment committed in
    # between is then counted twice for a while (harmless), never missed.
    last = db.scalar(select(func.max(Judgment.id)).where(Judgment.pool_id == pool.id)) or 0
    cells = _cells(db, pool, only)
    fresh = {c: row for c, row in old.items() if only is not None and c not in only}
    for category in categories(db, pool) if only is None else sorted(only):
        model_ids = _models(db, pool, category) if only is None else old[category].model_ids
        counts = _table(model_ids, cells.get(category, {}))
        start = None
        if category in old:  # warm start: the previous mean, for the models it knew
            previous = dict(zip(old[category].model_ids, old[category].mean, strict=True))
            start = np.array([previous.get(m, 0.0) for m in model_ids])
        fresh[category] = _store(db, pool, category, model_ids, scheduling.wins_from_counts(counts),
                                 start=start, now=now, last=last)
    return fresh


def _add_judgments(model_ids: list[int], stored: list[list[float]],
                   judged: list[tuple[int, int, int, str]]) -> np.ndarray:
    """A stored win matrix with these judgments added, counted as the full
    refit counts the cells (:func:`scheduling.wins_from_counts`; a model new
    since the fit joins at the full refit)."""
    cells = Counter((left, right, choice) for _id, left, right, choice in judged)
    return np.asarray(stored, dtype=np.float64) + scheduling.wins_from_counts(_table(model_ids, cells))


def _store(db: Session, pool: Pool, category: str, model_ids: list[int], wins: np.ndarray, *,
           start: np.ndarray | None, now: datetime, last: int) -> SchedulerPosterior:
    """Fit the posterior of one category from its win matrix and upsert it."""
    mean, cov = scheduling.laplace_posterior(wins, start=start)
    pairs = wins + wins.T
    values = {"model_ids": model_ids, "mean": [float(x) for x in mean],
              "cov": [[float(x) for x in row] for row in cov],
              "pair_counts": [[int(round(x)) for x in row] for row in pairs],
              "wins": [[float(x) for x in row] for row in wins],
              "judgments": int(round(pairs.sum() / 2)), "last_judgment_id": int(last), "refreshed_at": now,
              "version": uuid.uuid4().hex}
    statement = dialect_insert(db)(SchedulerPosterior).values(pool_id=pool.id, category=category, **values)
    # An upsert: two workers refreshing at once both write a valid posterior.
    db.execute(statement.on_conflict_do_update(index_elements=["pool_id", "category"], set_=values))
    return SchedulerPosterior(pool_id=pool.id, category=category, **values)


def claim_refit(db: Session, pool: Pool) -> bool:
    """Whether this transaction may refit the pool's posteriors now.

    PostgreSQL: one worker at a time, by a transaction-scoped advisory lock
    tried without waiting; a worker that does not get it keeps the stored
    posterior (the judgments since count as in flight) instead of queueing
    behind the refit's upsert. SQLite: issuing is a write transaction
    already (``BEGIN IMMEDIATE``), so only one request refits at a time anyway.
    """
    connection = db.connection()
    if connection.dialect.name != "postgresql":
        return True
    return bool(connection.execute(text("SELECT pg_try_advisory_xact_lock(hashtextextended(:key, 0))"),
                                   {"key": f"pairwise.posterior:{pool.id}"}).scalar())


#: (pool id, category) -> (version, stored posterior): what this worker has
#: read, read again only once the row's version has changed (every refit
#: writes a new one). Decoding the matrices costs more than the small query
#: that asks for the versions.
_READ: dict[tuple[int, str], tuple[str, SchedulerPosterior]] = {}
_READ_LIMIT = 4096
_VERSIONS = select(SchedulerPosterior.category, SchedulerPosterior.version).where(
    SchedulerPosterior.pool_id == bindparam("pool"))
_ROWS = select(SchedulerPosterior).where(SchedulerPosterior.pool_id == bindparam("pool"),
                                         SchedulerPosterior.category.in_(bindparam("categories", expanding=True)))


def _read(db: Session, pool: Pool) -> dict[str, SchedulerPosterior]:
    """The pool's stored posteriors, as plain data (detached rows: the upsert writes the table)."""
    versions = {category: version for category, version in db.execute(_VERSIONS, {"pool": pool.id})}
    rows: dict[str, SchedulerPosterior] = {}
    for category, version in versions.items():
        kept = _READ.get((pool.id, category))
        if version is not None and kept is not None and kept[0] == version:
            rows[category] = kept[1]
    missing = sorted(set(versions) - set(rows))
    if missing:
        if len(_READ) > _READ_LIMIT:
            _READ.clear()
        for row in db.scalars(_ROWS, {"pool": pool.id, "categories": missing}).all():
            db.expunge(row)
            rows[row.category] = row
            if row.version is not None:
                _READ[(pool.id, row.category)] = (row.version, row)
    return rows


def posteriors(db: Session, pool: Pool,
               now: datetime) -> tuple[dict[str, SchedulerPosterior], dict[str, list[tuple[int, int]]]]:
    """The stored posteriors (refreshed first where stale or missing, by the
    worker that claims the refit), and per category the model pairs judged
    since they were fitted."""
    rows = _read(db, pool)
    if not rows:  # nothing to schedule by yet: fit (a racing worker's upsert waits, then overwrites)
        return refresh(db, pool, rows, now), {}
    stale = any(row.refreshed_at <= now - timedelta(seconds=REFRESH_SECONDS) for row in rows.values())
    since = _judged_since(db, pool, min(row.last_judgment_id for row in rows.values()), rows)
    behind = {category for category, judged in since.items()
              if category not in rows or len(judged) >= REFRESH_JUDGMENTS}
    if (stale or behind) and claim_refit(db, pool):
        if stale or any(category not in rows for category in behind):
            return refresh(db, pool, rows, now), {}
        rows = refresh(db, pool, rows, now, behind, since)
        since = {c: judged for c, judged in since.items() if c not in behind}
    # A new category waits for the refit that adds it.
    return rows, {c: [(left, right) for _id, left, right, _choice in judged]
                  for c, judged in since.items() if c in rows}


_SINCE = select(Judgment.id, Judgment.category, Judgment.left_model_id, Judgment.right_model_id,
                Judgment.choice).where(Judgment.pool_id == bindparam("pool"), Judgment.id > bindparam("after"))


def _judged_since(db: Session, pool: Pool, after: int,
                  rows: dict[str, SchedulerPosterior]) -> dict[str, list[tuple[int, int, int, str]]]:
    """category -> (id, left model, right model, choice) of the judgments
    newer than each category's fit: a handful of the newest rows, by the
    (pool, id) index."""
    out: dict[str, list[tuple[int, int, int, str]]] = {}
    for judgment_id, category, left, right, choice in db.execute(_SINCE, {"pool": pool.id, "after": after}):
        if category not in rows or judgment_id > rows[category].last_judgment_id:
            out.setdefault(category, []).append((int(judgment_id), left, right, choice.value))
    return out


# The statements of every request, built once: building a statement and its
# cache key costs more Python than running it (4 ms against 0.4 ms for the
# item query on PostgreSQL); built once, SQLAlchemy keeps the key.
def _in_flight_statement(*where: Any) -> Select:
    return (select(Item.category, _LEFT.model_id, _RIGHT.model_id)
            .select_from(Assignment)
            .join(Item, Item.id == Assignment.item_id)
            .join(_LEFT, _LEFT.id == Assignment.left_output_id)
            .join(_RIGHT, _RIGHT.id == Assignment.right_output_id)
            .where(Assignment.pool_id == bindparam("pool"), *where))


# Open (issued, unanswered, unexpired) pairs and pairs reserved ahead (queued
# behind an open one, see judging.queue_next): each read by its partial index.
_IN_FLIGHT = union_all(_in_flight_statement(Assignment.is_open, Assignment.expires_at > bindparam("now")),
                       _in_flight_statement(Assignment.queued))
_RETIRED = select(Model.id).where(Model.pool_id == bindparam("pool"), Model.retired_at.is_not(None))


def _find_item_statements() -> tuple[Select, Select]:
    oa, ob = _LEFT, _RIGHT
    low = case((oa.id < ob.id, oa.id), else_=ob.id)
    high = case((oa.id < ob.id, ob.id), else_=oa.id)
    judged = exists(select(Judgment.id).where(Judgment.expert_id == bindparam("expert"),
                                              Judgment.low_output_id == low, Judgment.high_output_id == high))
    # A pair this expert skipped (broken image, unclear instruction) is not offered to them again;
    # nor the pair they hold while the one after it is chosen (queued, see judging.queue_next).
    skipped = exists(select(Assignment.id).where(
        Assignment.expert_id == bindparam("expert"), Assignment.item_id == Item.id,
        or_(Assignment.queued, Assignment.id.in_(select(Skip.assignment_id))),
        or_(and_(Assignment.left_output_id == oa.id, Assignment.right_output_id == ob.id),
            and_(Assignment.left_output_id == ob.id, Assignment.right_output_id == oa.id))))
    base = (select(Item.id, oa.id, ob.id)
            .join(oa, and_(oa.item_id == Item.id, oa.model_id == bindparam("model_a")))
            .join(ob, and_(ob.item_id == Item.id, ob.model_id == bindparam("model_b")))
            .where(Item.pool_id == bindparam("pool"), Item.category == bindparam("category"), ~judged, ~skipped)
            .order_by(Item.pick_key).limit(1))
    return base.where(Item.pick_key >= bindparam("key")), base.where(Item.pick_key < bindparam("key"))


_FIND_FROM, _FIND_BEFORE = _find_item_statements()


def _in_flight(db: Session, pool: Pool, now: datetime) -> dict[str, list[tuple[int, int]]]:
    """category -> (model, model) of the pool's open, unexpired assignments
    and of the pairs reserved ahead."""
    out: dict[str, list[tuple[int, int]]] = {}
    for category, a, b in db.execute(_IN_FLIGHT, {"pool": pool.id, "now": now}):
        out.setdefault(category, []).append((a, b))
    return out


def find_item(db: Session, pool: Pool, category: str, model_a: int, model_b: int, expert: User,
              key: float) -> tuple[int, int, int] | None:
    """(item, output of a, output of b): the first item at or after ``key`` in
    the category's random order that holds both outputs and whose pair this
    expert has not judged (wrapping round once)."""
    params = {"pool": pool.id, "category": category, "model_a": model_a, "model_b": model_b,
              "expert": expert.id, "key": key}
    row = db.execute(_FIND_FROM, params).first() or db.execute(_FIND_BEFORE, params).first()
    return None if row is None else (int(row[0]), int(row[1]), int(row[2]))


def choose(db: Session, pool: Pool, expert: User, rng: np.random.Generator, now: datetime) -> Choice | None:
    """The next (item, left output, right output) for this expert, or None when none is left."""
    stored, since = posteriors(db, pool, now)
    allowed = expert.category_list
    names = sorted(c for c in stored if allowed is None or c in allowed)
    # Open assignments, and judgments the posterior has not seen yet: their
    # information is on its way (the outcomes are not, until the next refresh).
    flying = _in_flight(db, pool, now)
    for name, pairs in since.items():
        flying.setdefault(name, []).extend(pairs)
    # Retired models get no new pairs (their judgments stay in the posterior).
    retired = set(db.scalars(_RETIRED, {"pool": pool.id}))
    cats: list[scheduling.Category] = []
    for name in names:
        row = stored[name]
        k = len(row.model_ids)
        index = {m: i for i, m in enumerate(row.model_ids)}
        in_flight = tuple((index[a], index[b]) for a, b in flying.get(name, []) if a in index and b in index)
        available = ~np.eye(k, dtype=bool)
        for model_id in retired & set(index):
            available[index[model_id], :] = available[:, index[model_id]] = False
        cats.append(scheduling.Category(
            mean=np.asarray(row.mean, dtype=np.float64), cov=np.asarray(row.cov, dtype=np.float64),
            judged=np.asarray(row.pair_counts, dtype=np.int64), in_flight=in_flight, available=available,
            items=np.ones((k, k), dtype=np.int64)))
    # A pair fails only once this expert has judged all of its items; each
    # failure takes it out of this request, so the loop ends.
    while (pick := scheduling.choose_active(cats, rng)) is not None:
        name = names[pick.category]
        model_ids = stored[name].model_ids
        found = find_item(db, pool, name, model_ids[pick.first], model_ids[pick.second], expert,
                          float(rng.random()))
        if found is not None:
            item_id, left, right = found
            return Choice(item_id=item_id, left_output_id=left, right_output_id=right, reason=pick.reason)
        # This expert has judged every item of that pair: never offer it again in this request.
        cat = cats[pick.category]
        cat.available[pick.first, pick.second] = cat.available[pick.second, pick.first] = False
    return None
