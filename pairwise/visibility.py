"""What each role may see of a pool.

Experts see only open pools with items in their categories, and nothing that
tells them how a pool is going (model count, judgment count, gold or overlap
shares): the work in front of them, not the experiment around it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from . import pools
from .schema import Pool, Role, User

EXPERT_SETTINGS = ("rationale_min_chars", "open")


def expert_categories(db: Session, pool: Pool, user: User) -> list[str]:
    """The pool's categories this expert may judge."""
    mine = user.category_list
    return [c for c in pools.pool_categories(db, pool) if mine is None or c in mine]


def may_see(db: Session, pool: Pool, user: User) -> bool:
    if user.role != Role.expert:
        return True
    return pool.is_open and bool(expert_categories(db, pool, user))


def pool_view(db: Session, pool: Pool, user: User) -> dict[str, Any]:
    """A pool as ``user`` may see it (check :func:`may_see` first)."""
    if user.role == Role.expert:
        settings = pool.settings()
        return {"name": pool.name, "settings": {k: settings[k] for k in EXPERT_SETTINGS},
                "categories": expert_categories(db, pool, user)}
    return {"name": pool.name, "settings": pool.settings(),
            "categories": pools.pool_categories(db, pool), **pools.pool_counts(db, pool)}
