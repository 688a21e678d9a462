"""Issue pairs to experts and record their judgments (operations: flush only)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Select, bindparam, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from . import active, evidence, gold, judge_ops, rubric, scheduling
from .db import dialect_insert, lock_for_issuing
from .errors import Conflict, Forbidden, Gone, Invalid, NotFound
from .manifest import CONTROL
from .schema import Assignment, Choice, Item, Judgment, JudgmentCell, Model, Output, Pool, Skip, User, utcnow
from .vocabulary import TAGS

NO_CRITERIA: tuple[dict[str, Any], ...] = ()

MAX_RATIONALE = 5000


def item_sizes(db: Session, pool: Pool, expert: User) -> dict[int, int]:
    """item id -> number of outputs, for the items this expert may judge."""
    query = (select(Output.item_id, func.count()).join(Item, Item.id == Output.item_id)
             .join(Model, Model.id == Output.model_id)  # retired models get no new pairs
             .where(Item.pool_id == pool.id, Model.retired_at.is_(None)).group_by(Output.item_id))
    categories = expert.category_list
    if categories is not None:
        query = query.where(Item.category.in_(categories))
    return {item_id: n for item_id, n in db.execute(query)}


def _taken(pool: Pool, expert: User) -> Select[tuple[int, int, int]]:
    """(item, left output, right output) of the pairs this expert has judged, skipped, holds open or queued."""
    # Only pairs of models still in play count, as in item_sizes. A skipped
    # pair (broken image, unclear instruction) is not offered to the same expert again.
    active = select(Output.id).join(Model, Model.id == Output.model_id).where(Model.retired_at.is_(None))
    return (select(Assignment.item_id, Assignment.left_output_id, Assignment.right_output_id)
            .outerjoin(Judgment, Judgment.assignment_id == Assignment.id)
            .where(Assignment.pool_id == pool.id, Assignment.expert_id == expert.id,
                   or_(Judgment.id.is_not(None), Assignment.is_open, Assignment.queued,
                       Assignment.id.in_(select(Skip.assignment_id))),
                   Assignment.gold_pair_id.is_(None),
                   Assignment.left_output_id.in_(active), Assignment.right_output_id.in_(active)))


def _judged_counts(db: Session, pool: Pool, expert: User) -> dict[int, int]:
    """item id -> pairs of it this expert has judged (or holds open)."""
    judged = _taken(pool, expert).subquery()
    return {item_id: n for item_id, n in db.execute(
        select(judged.c.item_id, func.count()).group_by(judged.c.item_id))}


def _judged_pairs(db: Session, pool: Pool, expert: User, item_id: int) -> set[tuple[int, int]]:
    rows = db.execute(_taken(pool, expert).where(Assignment.item_id == item_id))
    return {scheduling.pair_key(a, b) for _item, a, b in rows}


def close_lapsed(db: Session, pool_id: int, expert_id: int, now: datetime) -> None:
    """Close this expert's open assignments in the pool that expired unanswered."""
    db.execute(update(Assignment)
               .where(Assignment.pool_id == pool_id, Assignment.expert_id == expert_id,
                      Assignment.is_open, Assignment.expires_at <= now)
               .values(is_open=False).execution_options(synchronize_session=False))


# Built once: building it costs more than running it, on every request.
_HELD = select(Assignment).where(Assignment.pool_id == bindparam("pool"), Assignment.expert_id == bindparam("expert"),
                                 or_(Assignment.is_open, Assignment.queued))


def next_assignment(db: Session, pool: Pool, expert: User, *, rng: np.random.Generator,
                    minutes: int, now: datetime | None = None) -> Assignment | None:
    """The expert's open assignment in this pool, or a new one; None when done.

    Atomic: requests of one expert for one pool are serialised by a lock
    (:func:`lock_for_issuing`, which leaves other experts alone on
    PostgreSQL), and a partial unique index allows one open assignment per
    expert and pool whatever happens.
    """
    now = now or utcnow()
    if not pool.is_open:
        raise Conflict(f"pool {pool.name!r} is closed")
    lock_for_issuing(db, pool.id, expert.id)
    # The expert's open pair and the one queued behind it (at most one each,
    # by their partial unique indexes), in one query.
    held = db.scalars(_HELD, {"pool": pool.id, "expert": expert.id}).all()
    for assignment in held:
        if assignment.is_open and assignment.expires_at > now:
            # A reload or a second tab gets the pair already issued, not a new
            # one: an unanswered pair costs nothing but would skew the schedule.
            return assignment
        if assignment.is_open:  # lapsed unanswered: closed (its pair can come back later)
            assignment.is_open = False
            db.flush()
    for assignment in held:
        if assignment.queued:
            queued = _open_queued(db, assignment, expert, minutes=minutes, now=now)
            if queued is not None:
                return queued
    return _issue(db, pool, expert, rng=rng, minutes=minutes, now=now)


def queue_next(db: Session, pool: Pool, expert: User, *, rng: np.random.Generator,
               minutes: int, now: datetime | None = None) -> Assignment | None:
    """The pair the expert will get after the open one, reserved now (the judge
    page shows it the moment the open one is answered); None when there is no
    open pair or nothing else is left.

    Idempotent like :func:`next_assignment`: the pair already queued, if any.
    Chosen by the same code as any pair (gold and overlap draws included),
    just before the open pair's answer is known.
    """
    now = now or utcnow()
    if not pool.is_open:
        raise Conflict(f"pool {pool.name!r} is closed")
    lock_for_issuing(db, pool.id, expert.id)
    close_lapsed(db, pool.id, expert.id, now)
    mine = (Assignment.pool_id == pool.id, Assignment.expert_id == expert.id)
    current = db.scalar(select(Assignment).where(*mine, Assignment.is_open).limit(1))
    if current is None:
        return None
    queued = db.scalar(select(Assignment).where(*mine, Assignment.queued).limit(1))
    if queued is not None:
        return queued
    # The issuing code makes an open assignment, and one pair may be open: the
    # open pair steps aside as the queued one meanwhile (still taken, so it
    # cannot be chosen again), then the two trade places.
    current.is_open, current.queued = False, True
    db.flush()
    ahead = _issue(db, pool, expert, rng=rng, minutes=minutes, now=now)
    if ahead is not None:
        ahead.is_open = False
        db.flush()
    current.is_open, current.queued = True, False
    db.flush()
    if ahead is not None:
        ahead.queued = True
        db.flush()
    return ahead


def _open_queued(db: Session, queued: Assignment, expert: User, *, minutes: int,
                 now: datetime) -> Assignment | None:
    """Open the pair queued for the expert, when it may still be judged; its time starts now."""
    queued.queued = False
    categories = expert.category_list
    retired = db.scalar(select(func.count()).select_from(Output).join(Model, Model.id == Output.model_id)
                        .where(Output.id.in_((queued.left_output_id, queued.right_output_id)),
                               Model.retired_at.is_not(None)))
    if retired or (categories is not None and queued.item.category not in categories):
        db.flush()  # withdrawn while it waited (a retired model, the expert's categories): never shown
        return None
    queued.is_open, queued.issued_at = True, now
    queued.expires_at = now + timedelta(minutes=minutes)
    db.flush()
    return queued


def _issue(db: Session, pool: Pool, expert: User, *, rng: np.random.Generator,
           minutes: int, now: datetime) -> Assignment | None:
    """A new open assignment from the gold/overlap draw or the scheduler."""
    special = gold.special_assignment(db, pool, expert, rng=rng, minutes=minutes, now=now)
    if special is not None:  # a gold or overlap pair (issue 7)
        return special
    if pool.scheduler == "active":
        picked = active.choose(db, pool, expert, rng, now)
        chosen = None if picked is None else (picked.item_id, picked.left_output_id, picked.right_output_id)
    else:
        chosen = _choose_uniform(db, pool, expert, rng)
    if chosen is None:
        return None
    item_id, left, right = chosen
    assignment = Assignment(pool_id=pool.id, item_id=item_id, expert_id=expert.id,
                            left_output_id=left, right_output_id=right, issued_at=now,
                            expires_at=now + timedelta(minutes=minutes), is_open=True)
    db.add(assignment)
    db.flush()
    return assignment


def _choose_uniform(db: Session, pool: Pool, expert: User,
                    rng: np.random.Generator) -> tuple[int, int, int] | None:
    """(item, left output, right output), uniformly over the pairs left to this expert."""
    # Per-item counts, then only the chosen item's outputs: the cost grows
    # with the number of items, not with items x pairs.
    item_id = scheduling.choose_item(item_sizes(db, pool, expert), _judged_counts(db, pool, expert), rng)
    if item_id is None:
        return None
    outputs = db.scalars(select(Output.id).join(Model, Model.id == Output.model_id)
                         .where(Output.item_id == item_id, Model.retired_at.is_(None))).all()
    pair = scheduling.choose_pair(outputs, _judged_pairs(db, pool, expert, item_id), rng)
    if pair is None:  # counts and pairs disagree only if outputs changed mid-request
        return None
    return item_id, *pair


@dataclass(frozen=True)
class Answer:
    choice: Choice
    rationale: str
    tags_left: list[str]
    tags_right: list[str]
    extras: rubric.Extras = rubric.Extras()
    unsure: bool = False
    pins: list[dict[str, Any]] = field(default_factory=list)


def parse_answer(body: Any, *, rationale_min_chars: int, vocabulary: dict[str, str] = TAGS,
                 criteria: Sequence[dict[str, Any]] = NO_CRITERIA) -> Answer:
    """Check a judgment body; raise Invalid naming the first bad field."""
    if not isinstance(body, dict):
        raise Invalid("body: expected a JSON object with choice, rationale and tags")
    unknown = set(body) - {"choice", "rationale", "tags", "unacceptable", "criteria", "unsure", "pins"}
    if unknown:
        raise Invalid(f"{sorted(unknown)[0]}: unknown field")
    try:
        choice = Choice(body.get("choice"))
    except ValueError:
        raise Invalid("choice: must be one of left, right, tie, both_bad") from None
    rationale = body.get("rationale")
    if not isinstance(rationale, str):
        raise Invalid("rationale: required (a short text saying why)")
    rationale = rationale.strip()
    if CONTROL.search(rationale):
        raise Invalid("rationale: contains a control character")
    if len(rationale) < max(rationale_min_chars, 1):
        raise Invalid(f"rationale: at least {max(rationale_min_chars, 1)} characters, "
                      f"not counting surrounding spaces (got {len(rationale)})")
    if len(rationale) > MAX_RATIONALE:
        raise Invalid(f"rationale: at most {MAX_RATIONALE} characters")
    tags = body.get("tags", {})
    if not isinstance(tags, dict) or set(tags) - {"left", "right"}:
        raise Invalid("tags: expected {\"left\": [...], \"right\": [...]}")
    sides: dict[str, list[str]] = {}
    for side in ("left", "right"):
        values = tags.get(side, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise Invalid(f"tags.{side}: expected a list of tag names")
        rubric.check_tag_names(side, values, vocabulary)
        sides[side] = sorted(set(values))
    extras = rubric.parse_extras(body, both_bad=choice == Choice.both_bad, criteria=criteria)
    return Answer(choice=choice, rationale=rationale, tags_left=sides["left"], tags_right=sides["right"],
                  extras=extras, unsure=judge_ops.parse_unsure(body), pins=judge_ops.parse_pins(body, sides))


def get_assignment(db: Session, assignment_id: int, expert: User) -> Assignment:
    assignment = db.get(Assignment, assignment_id)
    if assignment is None:
        raise NotFound(f"no assignment {assignment_id}")
    if assignment.expert_id != expert.id:
        raise Forbidden(f"assignment {assignment_id} was issued to another expert")
    return assignment


def check_still_allowed(assignment: Assignment, pool: Pool, expert: User) -> None:
    """What held when the pair was issued must still hold when it is answered."""
    if not pool.is_open:
        raise Conflict(f"pool {pool.name!r} was closed after assignment {assignment.id} was issued; "
                       "its pairs can no longer be judged")
    allowed = expert.category_list
    if allowed is not None and assignment.item.category not in allowed:
        raise Forbidden(f"assignment {assignment.id}: category {assignment.item.category!r} "
                        "is no longer one of yours")


def record_judgment(db: Session, assignment_id: int, expert: User, body: Any,
                    now: datetime | None = None) -> Judgment:
    """Store the expert's answer to their own, open assignment."""
    now = now or utcnow()
    assignment = get_assignment(db, assignment_id, expert)
    if db.scalar(select(Judgment.id).where(Judgment.assignment_id == assignment.id)) is not None:
        raise Conflict(f"assignment {assignment_id} was already judged")
    if assignment.expires_at <= now:
        raise Gone(f"assignment {assignment_id} expired at {assignment.expires_at:%Y-%m-%d %H:%M} UTC; "
                   "ask for a new pair")
    pool = db.get(Pool, assignment.pool_id)
    assert pool is not None
    check_still_allowed(assignment, pool, expert)
    answer = parse_answer(body, rationale_min_chars=pool.rationale_min_chars, vocabulary=pool.vocabulary,
                          criteria=pool.criteria or NO_CRITERIA)
    # Closing the assignment is the commit point of a racing pair of
    # submissions: the second finds it closed (PostgreSQL waits on the row
    # lock, SQLite on the write lock) and is refused.
    closed = db.execute(update(Assignment).where(Assignment.id == assignment.id, Assignment.is_open)
                        .values(is_open=False).execution_options(synchronize_session=False))
    if closed.rowcount != 1:
        raise Conflict(f"assignment {assignment_id} was already judged")
    set_committed_value(assignment, "is_open", False)
    low, high = scheduling.pair_key(assignment.left_output_id, assignment.right_output_id)
    judgment = Judgment(
        assignment_id=assignment.id, pool_id=pool.id, category=assignment.item.category,
        expert_id=expert.id, left_model_id=assignment.left_output.model_id,
        right_model_id=assignment.right_output.model_id, choice=answer.choice,
        rationale=answer.rationale, tags_left=answer.tags_left, tags_right=answer.tags_right,
        seconds=max((now - assignment.issued_at).total_seconds(), 0.0), created_at=now,
        low_output_id=None if assignment.gold_pair_id is not None else low,
        high_output_id=None if assignment.gold_pair_id is not None else high,
        unacceptable_left=answer.extras.unacceptable_left, unacceptable_right=answer.extras.unacceptable_right,
        criteria=answer.extras.criteria or None,
        gold_pair_id=assignment.gold_pair_id,
        unsure=answer.unsure, pins=answer.pins or None,
    )
    db.add(judgment)
    db.flush()  # the unique assignment_id turns a racing second submission into an error here
    if judgment.gold_pair_id is None:  # gold answers measure the expert, never a model
        count_in_cell(db, judgment)
        evidence.record(db, judgment)
    return judgment


def count_in_cell(db: Session, judgment: Judgment) -> None:
    """Add one to the judgment's count cell, in the judgment's own transaction."""
    statement = dialect_insert(db)(JudgmentCell).values(
        pool_id=judgment.pool_id, category=judgment.category, left_model_id=judgment.left_model_id,
        right_model_id=judgment.right_model_id, choice=judgment.choice, n=1)
    # An upsert, so two experts opening a new cell at once cannot collide.
    db.execute(statement.on_conflict_do_update(
        index_elements=["pool_id", "category", "left_model_id", "right_model_id", "choice"],
        set_={"n": JudgmentCell.n + 1}))
