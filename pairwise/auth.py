"""Accounts, passwords, API tokens, roles and the CSRF rule.

Browser requests authenticate with the Flask-Login session cookie and must
carry a CSRF token on every state-changing request (forms and the judge page's
fetch calls alike). Scripts send ``Authorization: Bearer <token>``; such a
request acts as the token's user only, ignores any session, and needs no CSRF
token because no browser attaches it on its own.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from collections.abc import Callable
from typing import Any

from flask import Flask, abort, g, jsonify, redirect, request, url_for
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException
from werkzeug.security import check_password_hash, generate_password_hash

from .db import get_db
from .errors import Conflict, Invalid, NotFound, Problem
from .manifest import CATEGORY, RESERVED_CATEGORIES
from .schema import ApiToken, Role, User

login_manager = LoginManager()
csrf = CSRFProtect()

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_EMAIL = 254
MAX_CATEGORIES_TEXT = 1000
MIN_PASSWORD = 8


# ----- operations (flush, never commit) ---------------------------------------

def parse_categories(text: str | None) -> list[str] | None:
    """``"apparel, food"`` -> ``["apparel", "food"]``; empty -> None (all)."""
    if text is None or not text.strip():
        return None
    slugs = sorted({c.strip().lower() for c in text.split(",") if c.strip()})
    for slug in slugs:
        if not CATEGORY.fullmatch(slug) or slug in RESERVED_CATEGORIES:
            raise Invalid(f"categories: {slug!r} is not a category slug (lowercase letters, digits, '-'; not 'all')")
    if len(",".join(slugs)) > MAX_CATEGORIES_TEXT:
        raise Invalid(f"categories: at most {MAX_CATEGORIES_TEXT} characters in all")
    return slugs


def add_user(db: Session, email: str, password: str, role: str,
             categories: list[str] | None = None) -> User:
    email = email.strip().lower()
    if not EMAIL.match(email) or len(email) > MAX_EMAIL:
        raise Invalid(f"email: {email[:80]!r} is not an email address (at most {MAX_EMAIL} characters)")
    try:
        role_value = Role(role)
    except ValueError:
        raise Invalid(f"role: must be one of {', '.join(r.value for r in Role)}") from None
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"password: at least {MIN_PASSWORD} characters")
    if db.scalar(select(User).where(User.email == email)) is not None:
        raise Conflict(f"user {email} already exists")
    user = User(email=email, password_hash=generate_password_hash(password), role=role_value,
                categories=",".join(categories) if categories else None)
    db.add(user)
    db.flush()
    return user


def find_user(db: Session, email: str) -> User:
    user = db.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no user {email}")
    return user


# Hashed once per process with the same method as real passwords, so that an
# unknown or inactive account costs one hash check too: the answer time says
# nothing about which accounts exist.
_DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(16))


def check_password(db: Session, email: str, password: str) -> User | None:
    user = db.scalar(select(User).where(User.email == email.strip().lower()))
    matches = check_password_hash(user.password_hash if user is not None else _DUMMY_HASH, password)
    if user is None or not user.is_active or not matches:
        return None
    return user


def set_password(db: Session, user: User, password: str) -> None:
    """A new password; every session of the account ends (tokens stay)."""
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"password: at least {MIN_PASSWORD} characters")
    user.password_hash = generate_password_hash(password)
    end_sessions(user)
    db.flush()


def end_sessions(user: User) -> None:
    """Every session cookie signed for this account stops working."""
    user.session_generation = (user.session_generation or 0) + 1


def set_categories(db: Session, user: User, categories: list[str] | None) -> int:
    """Change the categories an expert may judge (None: all); return how many
    open pairs outside them were withdrawn (expired now, so the expert's next
    request issues a pair they may judge)."""
    from .schema import Assignment, Item, utcnow
    user.categories = ",".join(categories) if categories else None
    if categories is None:
        db.flush()
        return 0
    now = utcnow()
    outside = (select(Assignment.id).join(Item, Item.id == Assignment.item_id)
               .where(Assignment.expert_id == user.id, Assignment.is_open, Assignment.expires_at > now,
                      Item.category.not_in(categories)))
    ids = list(db.scalars(outside))
    if ids:
        db.execute(update(Assignment).where(Assignment.id.in_(ids)).values(expires_at=now, is_open=False))
    db.flush()
    return len(ids)


def set_active(db: Session, user: User, active: bool) -> None:
    user.is_active = active
    end_sessions(user)
    db.flush()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(db: Session, user: User) -> str:
    """A new random token for ``user``; only its hash is stored."""
    token = "pw_" + secrets.token_urlsafe(32)
    db.add(ApiToken(user_id=user.id, token_hash=hash_token(token)))
    db.flush()
    return token


_USER_BY_TOKEN = (select(User).join(ApiToken, ApiToken.user_id == User.id)
                  .where(ApiToken.token_hash == bindparam("token_hash")))  # built once: every API request asks


def user_for_token(db: Session, token: str) -> User | None:
    user = db.scalar(_USER_BY_TOKEN, {"token_hash": hash_token(token)})
    if user is None or not user.is_active:
        return None
    return user


# ----- request wiring ---------------------------------------------------------

def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/images/")


def error_response(status: int, message: str) -> tuple[Any, int]:
    return jsonify(error=message), status


def _authenticate_bearer() -> Any:
    header = request.headers.get("Authorization", "")
    g.token_auth = False
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return error_response(401, "Authorization header must be 'Bearer <token>'")
    db = get_db()
    user = user_for_token(db, token.strip())
    if user is None:
        return error_response(401, "unknown or revoked API token")
    # Flask-Login keeps the request's user in g._login_user: setting it here
    # makes the token's user current_user for this request, whatever session
    # cookie came along, without writing a session.
    g._login_user = user
    g.token_auth = True
    return None


def _csrf_for_sessions() -> None:
    if request.method not in ("POST", "PUT", "PATCH", "DELETE") or g.get("token_auth"):
        return
    if request.routing_exception is not None:
        return  # no such URL or method: the 404 / 405 (with Allow) says more than a CSRF error
    if _wants_json() and not current_user.is_authenticated:
        return  # nobody to act as: the view answers 401, which says more than a CSRF error
    csrf.protect()


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "account.login"
    login_manager.login_message = "Please log in."
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)  # we call protect() ourselves
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # tied to the session instead
    csrf.init_app(app)
    app.before_request(_authenticate_bearer)
    app.before_request(_csrf_for_sessions)

    @login_manager.user_loader
    def load_user(session_id: str) -> User | None:
        # "<user id>:<session generation>" (User.get_id): a session signed
        # before the last logout, password change or deactivation is refused.
        user_id, _, generation = session_id.partition(":")
        if not (user_id.isdigit() and generation.isdigit()) or int(user_id) > 2**31 - 1:
            return None
        user = get_db().get(User, int(user_id))
        if user is None or not user.is_active or user.session_generation != int(generation):
            return None
        return user

    @login_manager.unauthorized_handler
    def unauthorized() -> Any:
        if _wants_json():
            return error_response(401, "log in or send 'Authorization: Bearer <token>'")
        return redirect(url_for("account.login", next=request.full_path.rstrip("?")))

    @app.errorhandler(Problem)
    def problem(exc: Problem) -> Any:
        get_db().rollback()
        if _wants_json():
            return error_response(exc.status, exc.message)
        return exc.message, exc.status, {"Content-Type": "text/plain; charset=utf-8"}

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        # Unknown API URLs and wrong methods answer in JSON too, not Flask's HTML.
        if _wants_json() and not isinstance(exc, CSRFError):
            response = error_response(exc.code or 500, exc.description or exc.name)
            # A 405 must say what is allowed (RFC 9110), in JSON as in HTML.
            allowed = getattr(exc, "valid_methods", None)
            if allowed:
                return (*response, {"Allow": ", ".join(sorted(allowed))})
            return response
        return exc

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Any:
        message = f"CSRF check failed: {exc.description} Reload the page and try again."
        if _wants_json():
            return error_response(400, message)
        return message, 400, {"Content-Type": "text/plain; charset=utf-8"}


def role_required(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Logged in (session or token) and holding one of ``roles``."""
    allowed = {Role(r) for r in roles}

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in allowed:
                names = " or ".join(sorted(r.value for r in allowed))
                if _wants_json():
                    return error_response(403, f"this needs the {names} role")
                abort(403, f"This page is for the {names} role.")
            return view(*args, **kwargs)

        return wrapped

    return decorate


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    return role_required(*(r.value for r in Role))(view)
