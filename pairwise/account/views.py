"""Log in, log out, and the home page that lists what each role can open."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired

from .. import experts, pools
from ..auth import check_password, login_required
from ..db import get_db

bp = Blueprint("account", __name__)


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


def _safe_next(target: str | None) -> str:
    # Only same-site paths: never bounce a fresh login to another host.
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("account.home")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = LoginForm()
    if form.validate_on_submit():
        user = check_password(get_db(), form.email.data or "", form.password.data or "")
        if user is not None:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        flash("Wrong email or password.", "error")
    elif request.method == "POST":
        flash("Enter your email and password.", "error")
    status = 200 if request.method == "GET" else 401
    return render_template("account/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout() -> Any:
    logout_user()
    return redirect(url_for("account.login"))


@bp.get("/")
@login_required
def home() -> Any:
    db = get_db()
    listed = []
    for pool in pools.list_pools(db):
        categories = pools.pool_categories(db, pool)
        mine = current_user.category_list
        if current_user.role.value == "expert":
            if not pool.is_open or (mine is not None and not set(mine) & set(categories)):
                continue
        listed.append({"pool": pool, "categories": categories, **pools.pool_counts(db, pool)})
    # An expert's own figures (calibration feedback), never anybody else's.
    mine = experts.own_figures(db, current_user) if current_user.role.value == "expert" else []
    return render_template("account/home.html", pools=listed, my_figures=mine)
