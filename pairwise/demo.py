"""The demo pool: synthetic sources and retouches, demo accounts, and
optionally simulated judgments so a newcomer's leaderboard is not empty."""

from __future__ import annotations

import io
import secrets
from datetime import timedelta

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import judging, pools, synthetic
from .auth import add_user
from .schema import Pool, User
from .storage import ImageStore

POOL = "demo"
ITEMS_PER_CATEGORY = 8
ACCOUNTS = (  # email, password, role
    ("admin@example.com", "demo-admin-pass", "admin"),
    ("researcher@example.com", "demo-researcher-pass", "researcher"),
    ("expert@example.com", "demo-expert-pass", "expert"),
)
SIMULATED_EXPERTS = ("sim-expert-1@example.com", "sim-expert-2@example.com", "sim-expert-3@example.com")


def _png(image: object) -> bytes:
    buffer = io.BytesIO()
    # Uncompressed: these bytes are only handed to the importer, which re-encodes.
    image.save(buffer, format="PNG", compress_level=0)  # type: ignore[attr-defined]
    return buffer.getvalue()


def _account(db: Session, email: str, password: str, role: str) -> tuple[User, bool]:
    user = db.scalar(select(User).where(User.email == email))
    if user is not None:
        return user, False
    return add_user(db, email, password, role), True


def _complete_items(db: Session, pool: Pool) -> set[str]:
    from sqlalchemy import func

    from .schema import Item, Output
    rows = db.execute(select(Item.external_id).join(Output, Output.item_id == Item.id)
                      .where(Item.pool_id == pool.id).group_by(Item.external_id)
                      .having(func.count(Output.id) == len(synthetic.MODELS)))
    return {external_id for (external_id,) in rows}


def build(db: Session, store: ImageStore, *, simulate: int = 0, seed: int = 7) -> str:
    """Create (or complete) the demo pool and accounts; return what to tell the user."""
    pool = db.scalar(select(Pool).where(Pool.name == POOL))
    if pool is None:
        pool = pools.create_pool(db, POOL, {"rationale_min_chars": 20, "scheduler": "active"})
    created_items = 0
    complete = _complete_items(db, pool)
    for category in synthetic.CATEGORIES:
        for index in range(ITEMS_PER_CATEGORY):
            if f"{category}-{index + 1:03d}" in complete:
                continue  # a second run adds nothing; skip making its images
            source = synthetic.make_source(category, index)
            outputs = {name: pools.Upload(name=f"{name}.png", data=_png(edit(source)))
                       for name, edit in synthetic.MODELS.items()}
            result = pools.add_item(
                db, store, pool, item_id=f"{category}-{index + 1:03d}", category=category,
                instruction=synthetic.make_instruction(category, index),
                source=pools.Upload(name="source.png", data=_png(source)), outputs=outputs)
            created_items += result.created
    new_accounts = [email for email, password, role in ACCOUNTS if _account(db, email, password, role)[1]]

    simulated = 0
    if simulate:
        simulated = _simulate(db, pool, simulate, np.random.default_rng(seed))
    lines = [f"demo pool {POOL!r}: {created_items} new items "
             f"({len(synthetic.CATEGORIES)} categories x {ITEMS_PER_CATEGORY} items x {len(synthetic.MODELS)} models)",
             f"simulated judgments added: {simulated}" if simulate else "no judgments simulated",
             "demo logins (created now: " + (", ".join(new_accounts) or "none, they existed") + "):"]
    lines += [f"  {role:<10} {email:<24} password: {password}" for email, password, role in ACCOUNTS]
    return "\n".join(lines)


def _simulate(db: Session, pool: Pool, n: int, rng: np.random.Generator) -> int:
    """Judgments from simulated experts answering from TRUE_QUALITY (Bradley-Terry)."""
    from .schema import Judgment, Model, Output
    from sqlalchemy import func
    sims = [_account(db, email, secrets.token_urlsafe(24), "expert")[0] for email in SIMULATED_EXPERTS]
    already = db.scalar(select(func.count()).select_from(Judgment)
                        .where(Judgment.pool_id == pool.id, Judgment.expert_id.in_([s.id for s in sims]))) or 0
    model_of = dict(db.execute(select(Output.id, Model.name).join(Model, Model.id == Output.model_id)
                               .where(Model.pool_id == pool.id)).all())
    made = 0
    for k in range(max(n - already, 0)):
        expert = sims[k % len(sims)]
        assignment = judging.next_assignment(db, pool, expert, rng=rng, minutes=60)
        if assignment is None:
            continue
        left = synthetic.TRUE_QUALITY[model_of[assignment.left_output_id]]
        right = synthetic.TRUE_QUALITY[model_of[assignment.right_output_id]]
        p_left = 1.0 / (1.0 + np.exp(right - left))
        u = rng.random()
        choice = "tie" if u > 0.92 else ("left" if rng.random() < p_left else "right")
        # A plausible pace (about a minute a pair), so cost estimates mean something.
        answered = assignment.issued_at + timedelta(seconds=float(20 + rng.gamma(3.0, 15.0)))
        judging.record_judgment(db, assignment.id, expert, {
            "choice": choice, "rationale": "simulated demo judgment (not a real expert)"}, now=answered)
        made += 1
    return made
