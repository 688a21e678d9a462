"""The demo pool: synthetic sources and retouches, demo accounts, and
optionally simulated judgments so a newcomer's leaderboard is not empty."""

from __future__ import annotations

import io
import secrets
from datetime import timedelta

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from PIL import Image, ImageFilter, ImageOps

from . import judging, pools, synthetic
from .auth import add_user
from .errors import Conflict
from .schema import Pool, User
from .storage import ImageStore

POOL = "demo"
ITEMS_PER_CATEGORY = 8
ACCOUNTS = (  # email, password, role
    ("admin@example.com", "demo-admin-pass", "admin"),
    ("researcher@example.com", "demo-researcher-pass", "researcher"),
    ("expert@example.com", "demo-expert-pass", "expert"),
)
# A few large items whose flaws are mild versions of each model's: invisible
# at fit, plain at 100 % (what the judge page's zoom, flip and diff are for).
# Few, because a 1600 x 1200 item takes ~10 s to draw and import.
DETAIL_SIZE = (1600, 1200)
DETAIL_CATEGORIES = ("apparel", "jewelry")


def _subtle(model: str, source: Image.Image) -> Image.Image:
    edited = synthetic.MODELS["careful"](source)
    if model == "halo-sharpen":
        return edited.filter(ImageFilter.UnsharpMask(radius=1.5, percent=70, threshold=0))
    if model == "posterize":
        return ImageOps.posterize(edited, 6)
    if model == "colour-cast":
        red, green, blue = edited.split()
        return Image.merge("RGB", (red.point(lambda v: min(255, v + 3)), green.point(lambda v: round(v * 0.975)), blue))
    if model == "over-smooth":
        return edited.filter(ImageFilter.MedianFilter(3))
    return edited


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


def check_demo_database(db: Session) -> None:
    """Refuse a database that looks like production: the demo accounts' passwords
    are printed in the README, so they must never land next to real accounts."""
    if db.get_bind().dialect.name == "postgresql":
        raise Conflict("pairwise demo: this is a PostgreSQL database (production?) and the demo accounts "
                       "have published passwords; use --force only on a throwaway database")
    demo_emails = [email for email, _, _ in ACCOUNTS] + list(SIMULATED_EXPERTS)
    others = db.scalar(select(func.count()).select_from(User).where(User.email.not_in(demo_emails))) or 0
    if others:
        raise Conflict(f"pairwise demo: this database has {others} account(s) besides the demo ones and the "
                       "demo accounts have published passwords; use --force only on a throwaway database")


def build(db: Session, store: ImageStore, *, simulate: int = 0, seed: int = 7, force: bool = False) -> str:
    """Create (or complete) the demo pool and accounts; return what to tell the user."""
    if not force:
        check_demo_database(db)
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
    for category in DETAIL_CATEGORIES:
        item_id = f"{category}-detail-1"
        if item_id in complete:
            continue
        source = synthetic.make_source(category, 100, DETAIL_SIZE)
        outputs = {name: pools.Upload(name=f"{name}.png", data=_png(_subtle(name, source)))
                   for name in synthetic.MODELS}
        result = pools.add_item(
            db, store, pool, item_id=item_id, category=category,
            instruction=synthetic.make_instruction(category, 100),
            source=pools.Upload(name="source.png", data=_png(source)), outputs=outputs)
        created_items += result.created
    new_accounts = [email for email, password, role in ACCOUNTS if _account(db, email, password, role)[1]]

    simulated = 0
    if simulate:
        simulated = _simulate(db, pool, simulate, np.random.default_rng(seed))
    lines = [f"demo pool {POOL!r}: {created_items} new items "
             f"({len(synthetic.CATEGORIES)} categories x {ITEMS_PER_CATEGORY} items x {len(synthetic.MODELS)} models, "
             f"and {len(DETAIL_CATEGORIES)} items at {DETAIL_SIZE[0]}x{DETAIL_SIZE[1]} with flaws to see at 100 %)",
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
        marks = {side: _flaw_marks(model_of[output], rng)
                 for side, output in (("left", assignment.left_output_id), ("right", assignment.right_output_id))}
        judging.record_judgment(db, assignment.id, expert, {
            "choice": choice, "rationale": "simulated demo judgment (not a real expert)",
            "tags": {side: tags for side, (tags, _bad) in marks.items()},
            "unacceptable": {side: bad for side, (_tags, bad) in marks.items()}}, now=answered)
        made += 1
    return made


def _flaw_marks(model: str, rng: np.random.Generator) -> tuple[list[str], bool]:
    """A simulated expert spots a model's own flaw most of the time, and now and
    then calls a flawed output unacceptable; so the artifact heat map lights up
    where the flaws are."""
    flaw = synthetic.FLAW_TAGS.get(model)
    if flaw is None:
        return [], bool(rng.random() < 0.03)
    return ([flaw] if rng.random() < 0.7 else []), bool(rng.random() < 0.2)
