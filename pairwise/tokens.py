"""API tokens as admins manage them over the API (operations: flush only)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .auth import create_token, find_user
from .errors import Invalid, NotFound
from .manifest import CONTROL
from .schema import ApiToken, User


def token_json(row: ApiToken) -> dict[str, Any]:
    """What may be shown of a token: never the token, which is not stored."""
    return {"id": row.id, "email": row.user.email, "role": row.user.role.value,
            "created_at": row.created_at.isoformat(timespec="seconds") + "Z"}


def list_tokens(db: Session, email: str | None = None) -> list[dict[str, Any]]:
    query = select(ApiToken).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id)
    if email is not None:
        query = query.where(User.id == _user(db, email).id)
    return [token_json(row) for row in db.scalars(query)]


def issue(db: Session, email: Any) -> tuple[ApiToken, str]:
    """A new token for the account ``email``: (its row, the token shown once)."""
    if not isinstance(email, str) or not email.strip():
        raise Invalid("email: required, the account to issue a token for")
    user = _user(db, email)
    if not user.is_active:
        raise Invalid(f"email: {user.email} is deactivated")
    token = create_token(db, user)
    row = db.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())).first()
    assert row is not None
    return row, token


def revoke(db: Session, token_id: int) -> None:
    row = db.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no token {token_id}")
    db.delete(row)
    db.flush()


def _user(db: Session, email: str) -> User:
    if CONTROL.search(email):  # no account has one, and PostgreSQL refuses NUL in a query
        raise NotFound(f"no user {email!r}")
    return find_user(db, email)
