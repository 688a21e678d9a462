"""The judge page's own operations: pins and "unsure" in an answer, skips,
renewing an expired assignment, an expert's progress (flush only)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .errors import Conflict, Gone, Invalid
from .manifest import CONTROL
from .schema import Assignment, Item, Judgment, Pool, Skip, User, utcnow

MAX_PINS = 50
MAX_REASON = 500
SIDES = ("left", "right")


def parse_unsure(body: dict[str, Any]) -> bool:
    value = body.get("unsure", False)
    if not isinstance(value, bool):
        raise Invalid("unsure: true or false")
    return value


def parse_pins(body: dict[str, Any], tags: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Check ``pins``: each pin's tag must also be listed among that side's tags.

    ``tags`` are the already-checked tags per side, so a pin needs no
    vocabulary of its own (whatever decides valid tags decides valid pins).
    """
    pins = body.get("pins", [])
    if not isinstance(pins, list):
        raise Invalid("pins: expected a list of {side, tag, x, y}")
    if len(pins) > MAX_PINS:
        raise Invalid(f"pins: at most {MAX_PINS}")
    out: list[dict[str, Any]] = []
    for n, pin in enumerate(pins):
        where = f"pins[{n}]"
        if not isinstance(pin, dict) or set(pin) != {"side", "tag", "x", "y"}:
            raise Invalid(f"{where}: expected exactly side, tag, x and y")
        side, tag = pin["side"], pin["tag"]
        if side not in SIDES:
            raise Invalid(f"{where}.side: left or right")
        if not isinstance(tag, str) or tag not in tags.get(side, []):
            raise Invalid(f"{where}.tag: {tag!r:.40} must also be listed in tags.{side}")
        coords = []
        for axis in ("x", "y"):
            value = pin[axis]
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or not 0 <= value <= 1:
                raise Invalid(f"{where}.{axis}: a number from 0 to 1 (a fraction of the image)")
            coords.append(round(float(value), 5))
        out.append({"side": side, "tag": tag, "x": coords[0], "y": coords[1]})
    return out


def _open_assignment(db: Session, assignment: Assignment, now: datetime) -> Assignment | None:
    """Another open, unexpired assignment of the same expert in the same pool."""
    return db.scalar(select(Assignment)
                     .where(Assignment.pool_id == assignment.pool_id,
                            Assignment.expert_id == assignment.expert_id,
                            Assignment.id != assignment.id,
                            Assignment.is_open, Assignment.expires_at > now).limit(1))


def _check_unanswered(db: Session, assignment: Assignment) -> None:
    if db.scalar(select(Judgment.id).where(Judgment.assignment_id == assignment.id)) is not None:
        raise Conflict(f"assignment {assignment.id} was already judged")
    if db.scalar(select(Skip.id).where(Skip.assignment_id == assignment.id)) is not None:
        raise Conflict(f"assignment {assignment.id} was skipped")


def renew(db: Session, assignment: Assignment, *, minutes: int, now: datetime | None = None) -> Assignment:
    """Extend an unanswered assignment, expired or not, while its pair is still valid.

    Valid: the pool is open, the pair is neither judged nor skipped, and the
    expert holds no other open pair in the pool (one open pair per expert).
    Both outputs still exist, or the assignment would be gone (cascade).
    """
    now = now or utcnow()
    _check_unanswered(db, assignment)
    pool = db.get(Pool, assignment.pool_id)
    assert pool is not None
    if not pool.is_open:
        raise Gone(f"pool {pool.name!r} is closed; the pair cannot be renewed")
    if assignment.expires_at <= now and _open_assignment(db, assignment, now) is not None:
        raise Gone(f"assignment {assignment.id} expired and another pair was issued since")
    assignment.expires_at = max(assignment.expires_at, now + timedelta(minutes=minutes))
    # A lapsed pair may have been closed when the expert asked for the next one
    # (and none was left): renewing opens it again, under the one-open-pair index.
    assignment.is_open = True
    db.flush()
    return assignment


def parse_reason(body: Any) -> str:
    if not isinstance(body, dict) or set(body) - {"reason"}:
        raise Invalid("body: expected {\"reason\": \"...\"}")
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise Invalid("reason: required (e.g. image broken, instruction unclear, cannot judge)")
    reason = reason.strip()
    if CONTROL.search(reason):
        raise Invalid("reason: contains a control character")
    if len(reason) > MAX_REASON:
        raise Invalid(f"reason: at most {MAX_REASON} characters")
    return reason


def skip(db: Session, assignment: Assignment, reason: str, now: datetime | None = None) -> Skip:
    """Record a skip and close the assignment, so the expert's next request gets a new pair."""
    now = now or utcnow()
    _check_unanswered(db, assignment)
    row = Skip(assignment_id=assignment.id, pool_id=assignment.pool_id, item_id=assignment.item_id,
               expert_id=assignment.expert_id, reason=reason, created_at=now)
    db.add(row)
    assignment.expires_at = min(assignment.expires_at, now)
    assignment.is_open = False
    db.flush()  # the unique assignment_id turns a racing second skip into an error here
    return row


SKIP_COLUMNS = ("pool", "category", "item", "expert", "reason", "created_at", "skip_id")


def skip_rows(db: Session, pool: Pool) -> Iterator[dict[str, Any]]:
    query = (select(Skip, Item.external_id, Item.category).join(Item, Item.id == Skip.item_id)
             .where(Skip.pool_id == pool.id).order_by(Skip.id))
    for row, item, category in db.execute(query):
        yield {"pool": pool.name, "category": category, "item": item,
               "expert": f"expert-{row.expert_id}", "reason": row.reason,
               "created_at": row.created_at.isoformat(timespec="seconds") + "Z", "skip_id": row.id}


def flagged_items(db: Session, pool: Pool) -> list[dict[str, Any]]:
    """Items with skips, most skipped first: what an admin should look at."""
    rows = db.execute(select(Item.external_id, Item.category, func.count(Skip.id))
                      .join(Skip, Skip.item_id == Item.id).where(Skip.pool_id == pool.id)
                      .group_by(Item.external_id, Item.category)
                      .order_by(func.count(Skip.id).desc(), Item.external_id))
    return [{"item": item, "category": category, "skips": n} for item, category, n in rows]


def progress(db: Session, pool: Pool, expert: User, since: datetime) -> dict[str, Any]:
    """Today's judgments and time for this expert, and how far the pool has come for them."""
    today = db.execute(select(func.count(Judgment.id), func.coalesce(func.sum(Judgment.seconds), 0.0))
                       .where(Judgment.expert_id == expert.id, Judgment.created_at >= since)).one()
    mine = db.scalar(select(func.count(Judgment.id))
                     .where(Judgment.pool_id == pool.id, Judgment.expert_id == expert.id)) or 0
    from . import judging, pools  # judging calls this module

    # The pairs the scheduler could give this expert (same rules: categories, retired models).
    pairs = sum(n * (n - 1) // 2 for n in judging.item_sizes(db, pool, expert).values())
    total = pools.pool_counts(db, pool)["judgments"]  # from the count cells, not a scan of judgments
    return {"today_judgments": today[0], "today_seconds": round(float(today[1]), 1),
            "pool_judged_by_you": mine, "pool_pairs_for_you": int(pairs), "pool_judgments": total}
