"""Log in, log out, change the password, and the home page that lists what each role can open."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import (Blueprint, current_app, flash, redirect, render_template, request, session,
                   url_for)
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired

from .. import experts, pools, throttle, visibility
from ..auth import check_password, end_sessions, login_required, set_password
from ..db import get_db
from ..errors import Invalid
from ..schema import User

bp = Blueprint("account", __name__)


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


class PasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired()])
    new = PasswordField("New password", validators=[DataRequired()])
    confirm = PasswordField("New password again", validators=[DataRequired()])


def _safe_next(target: str | None) -> str:
    # Only same-site paths: never bounce a fresh login to another host.
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("account.home")


def _limits(email: str) -> list[throttle.Limit]:
    config = current_app.config
    return throttle.login_limits(email, request.remote_addr or "unknown",
                                 per_account=config["LOGIN_MAX_FAILURES"],
                                 per_address=config["LOGIN_MAX_FAILURES_PER_ADDRESS"])


def _window() -> timedelta:
    return timedelta(seconds=current_app.config["LOGIN_WINDOW_SECONDS"])


def _too_many(template: str, wait: int, **context: Any) -> Any:
    minutes = max(1, round(wait / 60))
    flash(f"Too many failed attempts: try again in about {minutes} minute{'s' if minutes > 1 else ''}.", "error")
    return render_template(template, **context), 429, {"Retry-After": str(wait)}


def _start_session(user: User) -> None:
    # A fresh session: nothing from before the login survives, the CSRF
    # token included (a token planted before login is worthless after it).
    session.clear()
    login_user(user)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = LoginForm()
    if form.validate_on_submit():
        db = get_db()
        limits = _limits(form.email.data or "")
        wait = throttle.retry_after(db, limits, window=_window())
        if wait is not None:
            return _too_many("account/login.html", wait, form=form)
        user = check_password(db, form.email.data or "", form.password.data or "")
        if user is not None:
            throttle.clear(db, limits)
            db.commit()
            _start_session(user)
            return redirect(_safe_next(request.args.get("next")))
        throttle.record_failure(db, limits, window=_window())
        db.commit()
        flash("Wrong email or password.", "error")
    elif request.method == "POST":
        flash("Enter your email and password.", "error")
    status = 200 if request.method == "GET" else 401
    return render_template("account/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout() -> Any:
    # Server-side: the cookie just cleared would otherwise keep working
    # wherever a copy of it is. This ends every session of the account.
    db = get_db()
    user = db.get(User, current_user.id)
    if user is not None:
        end_sessions(user)
        db.commit()
    logout_user()
    session.clear()
    return redirect(url_for("account.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password() -> Any:
    form = PasswordForm()
    if form.validate_on_submit():
        db = get_db()
        limits = _limits(current_user.email)
        wait = throttle.retry_after(db, limits, window=_window())
        if wait is not None:
            return _too_many("account/password.html", wait, form=form)
        user = check_password(db, current_user.email, form.current.data or "")
        if user is None:
            throttle.record_failure(db, limits, window=_window())
            db.commit()
            flash("The current password is wrong.", "error")
        elif form.new.data != form.confirm.data:
            flash("The two new passwords differ.", "error")
        else:
            try:
                set_password(db, user, form.new.data or "")
            except Invalid as exc:
                flash(exc.message.replace("password: ", "The new password needs "), "error")
            else:
                db.commit()
                _start_session(user)  # this browser stays logged in; every other session ends
                flash("Password changed. Other sessions of this account were logged out.", "ok")
                return redirect(url_for("account.home"))
    elif request.method == "POST":
        flash("Fill in all three fields.", "error")
    status = 200 if request.method == "GET" else 422
    return render_template("account/password.html", form=form), status


@bp.get("/")
@login_required
def home() -> Any:
    db = get_db()
    listed = [visibility.pool_view(db, pool, current_user) | {"pool": pool}
              for pool in pools.list_pools(db) if visibility.may_see(db, pool, current_user)]
    # An expert's own figures (calibration feedback), never anybody else's.
    mine = experts.own_figures(db, current_user) if current_user.role.value == "expert" else []
    return render_template("account/home.html", pools=listed, my_figures=mine)
