"""Issue pairs to experts and record their judgments (operations: flush only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from . import judge_ops, scheduling
from .db import dialect_insert
from .errors import Conflict, Forbidden, Gone, Invalid, NotFound
from .manifest import CONTROL
from .schema import Assignment, Choice, Item, Judgment, JudgmentCell, Output, Pool, Skip, User, utcnow
from .vocabulary import TAGS

MAX_RATIONALE = 5000


def _item_sizes(db: Session, pool: Pool, expert: User) -> dict[int, int]:
    """item id -> number of outputs, for the items this expert may judge."""
    query = (select(Output.item_id, func.count()).join(Item, Item.id == Output.item_id)
             .where(Item.pool_id == pool.id).group_by(Output.item_id))
    categories = expert.category_list
    if categories is not None:
        query = query.where(Item.category.in_(categories))
    return {item_id: n for item_id, n in db.execute(query)}


def _judged(pool: Pool, expert: User) -> Select[tuple[int, int, int]]:
    """(item, left output, right output) of the pairs this expert has judged or skipped."""
    # A skipped pair (broken image, unclear instruction) is not offered to the same expert again.
    answered = select(Judgment.assignment_id).union_all(select(Skip.assignment_id)).subquery()
    return (select(Assignment.item_id, Assignment.left_output_id, Assignment.right_output_id)
            .join(answered, answered.c.assignment_id == Assignment.id)
            .where(Assignment.pool_id == pool.id, Assignment.expert_id == expert.id))


def _judged_counts(db: Session, pool: Pool, expert: User) -> dict[int, int]:
    """item id -> pairs of it this expert has judged."""
    judged = _judged(pool, expert).subquery()
    return {item_id: n for item_id, n in db.execute(
        select(judged.c.item_id, func.count()).group_by(judged.c.item_id))}


def _judged_pairs(db: Session, pool: Pool, expert: User, item_id: int) -> set[tuple[int, int]]:
    rows = db.execute(_judged(pool, expert).where(Assignment.item_id == item_id))
    return {scheduling.pair_key(a, b) for _item, a, b in rows}


def next_assignment(db: Session, pool: Pool, expert: User, *, rng: np.random.Generator,
                    minutes: int, now: datetime | None = None) -> Assignment | None:
    """The expert's open assignment in this pool, or a new one; None when done."""
    now = now or utcnow()
    if not pool.is_open:
        raise Conflict(f"pool {pool.name!r} is closed")
    # A reload or a second tab gets the pair already issued, not a new one:
    # an unanswered pair costs nothing but would skew the schedule.
    pending = db.scalar(select(Assignment)
                        .outerjoin(Judgment, Judgment.assignment_id == Assignment.id)
                        .where(Assignment.pool_id == pool.id, Assignment.expert_id == expert.id,
                               Assignment.expires_at > now, Judgment.id.is_(None))
                        .order_by(Assignment.issued_at).limit(1))
    if pending is not None:
        return pending
    # Per-item counts, then only the chosen item's outputs: the cost grows
    # with the number of items, not with items x pairs.
    item_id = scheduling.choose_item(_item_sizes(db, pool, expert), _judged_counts(db, pool, expert), rng)
    if item_id is None:
        return None
    outputs = db.scalars(select(Output.id).where(Output.item_id == item_id)).all()
    pair = scheduling.choose_pair(outputs, _judged_pairs(db, pool, expert, item_id), rng)
    if pair is None:  # counts and pairs disagree only if outputs changed mid-request
        return None
    left, right = pair
    assignment = Assignment(pool_id=pool.id, item_id=item_id, expert_id=expert.id,
                            left_output_id=left, right_output_id=right, issued_at=now,
                            expires_at=now + timedelta(minutes=minutes))
    db.add(assignment)
    db.flush()
    return assignment


@dataclass(frozen=True)
class Answer:
    choice: Choice
    rationale: str
    tags_left: list[str]
    tags_right: list[str]
    unsure: bool = False
    pins: list[dict[str, Any]] = field(default_factory=list)


def parse_answer(body: Any, *, rationale_min_chars: int) -> Answer:
    """Check a judgment body; raise Invalid naming the first bad field."""
    if not isinstance(body, dict):
        raise Invalid("body: expected a JSON object with choice, rationale and tags")
    unknown = set(body) - {"choice", "rationale", "tags", "unsure", "pins"}
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
        for v in values:
            if v not in TAGS:
                raise Invalid(f"tags.{side}: unknown tag {v!r} (known: {', '.join(TAGS)})")
        sides[side] = sorted(set(values))
    return Answer(choice=choice, rationale=rationale, tags_left=sides["left"], tags_right=sides["right"],
                  unsure=judge_ops.parse_unsure(body), pins=judge_ops.parse_pins(body, sides))


def get_assignment(db: Session, assignment_id: int, expert: User) -> Assignment:
    assignment = db.get(Assignment, assignment_id)
    if assignment is None:
        raise NotFound(f"no assignment {assignment_id}")
    if assignment.expert_id != expert.id:
        raise Forbidden(f"assignment {assignment_id} was issued to another expert")
    return assignment


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
    answer = parse_answer(body, rationale_min_chars=pool.rationale_min_chars)
    judgment = Judgment(
        assignment_id=assignment.id, pool_id=pool.id, category=assignment.item.category,
        expert_id=expert.id, left_model_id=assignment.left_output.model_id,
        right_model_id=assignment.right_output.model_id, choice=answer.choice,
        rationale=answer.rationale, tags_left=answer.tags_left, tags_right=answer.tags_right,
        seconds=max((now - assignment.issued_at).total_seconds(), 0.0), created_at=now,
        unsure=answer.unsure, pins=answer.pins or None,
    )
    db.add(judgment)
    db.flush()  # the unique assignment_id turns a racing second submission into an error here
    count_in_cell(db, judgment)
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
