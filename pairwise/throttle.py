"""Login throttling: failed attempts counted in the database, per key, over a window.

Operations (flush, never commit). Keys are sha256 digests, so the table holds
no email address or client address in clear. Because the counts live in the
database, every gunicorn worker (and every app server on one PostgreSQL)
refuses the same attempts.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .schema import LoginFailure, utcnow


@dataclass(frozen=True)
class Limit:
    key: str  # a digest from :func:`key`
    failures: int  # this many failures within the window lock the key
    cleared_by_success: bool = True  # a good password forgets these failures


def key(kind: str, *parts: str) -> str:
    return hashlib.sha256("\x1f".join((kind, *parts)).encode()).hexdigest()


def login_limits(email: str, address: str, *, per_account: int, per_address: int) -> list[Limit]:
    """The keys a login attempt counts against.

    Per account and address (5: a guesser at one place stops fast), per
    account from anywhere (a spread-out guesser; higher, so that a stranger
    cannot lock a colleague out as easily) and per address over all accounts
    (password spraying).
    """
    email = email.strip().lower()
    return [Limit(key("account-address", email, address), per_account),
            Limit(key("account", email), per_account * 4),
            Limit(key("address", address), per_address, cleared_by_success=False)]


def retry_after(db: Session, limits: list[Limit], *, window: timedelta,
                now: datetime | None = None) -> int | None:
    """Seconds until an attempt is allowed again, or None when it is allowed now."""
    now = now or utcnow()
    wait = 0.0
    for limit in limits:
        times = db.scalars(select(LoginFailure.created_at)
                           .where(LoginFailure.key == limit.key, LoginFailure.created_at > now - window)
                           .order_by(LoginFailure.created_at.desc()).limit(limit.failures)).all()
        if len(times) >= limit.failures:
            # Allowed again when the oldest of the last `failures` leaves the window.
            wait = max(wait, (times[-1] + window - now).total_seconds())
    return max(math.ceil(wait), 1) if wait > 0 else None


def record_failure(db: Session, limits: list[Limit], *, window: timedelta,
                   now: datetime | None = None) -> None:
    now = now or utcnow()
    db.add_all(LoginFailure(key=limit.key, created_at=now) for limit in limits)
    # Housekeeping: rows older than the window count for nothing.
    db.execute(delete(LoginFailure).where(LoginFailure.created_at <= now - window))
    db.flush()


def clear(db: Session, limits: list[Limit]) -> None:
    """A successful login forgets the account's failures (not the address's)."""
    keys = [limit.key for limit in limits if limit.cleared_by_success]
    db.execute(delete(LoginFailure).where(LoginFailure.key.in_(keys)))
    db.flush()
