"""The admin's pages: a home listing pools, and per pool the experts' quality
with exclude / include buttons (forms with CSRF)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from .. import experts, pools
from ..auth import role_required
from ..db import get_db
from ..errors import NotFound, Problem

bp = Blueprint("admin", __name__, url_prefix="/admin")

SORTABLE = ("email", "judgments", "gold_accuracy", "overlap_agreement", "fit_agreement", "left_rate",
            "median_seconds", "repeated_share", "flags", "excluded")


@bp.get("/")
@role_required("admin")
def home() -> Any:
    db = get_db()
    listed = [{"pool": p, **pools.pool_counts(db, p)} for p in pools.list_pools(db)]
    return render_template("admin/home.html", pools=listed)


def _pool(name: str) -> Any:
    try:
        return pools.get_pool(get_db(), name)
    except NotFound:
        abort(404)


@bp.get("/pools/<pool_name>/experts")
@role_required("admin")
def pool_experts(pool_name: str) -> Any:
    pool = _pool(pool_name)
    report = experts.pool_quality(get_db(), pool)
    sort = request.args.get("sort", "email")
    if sort not in SORTABLE:
        abort(400, f"sort: one of {', '.join(SORTABLE)}")
    descending = request.args.get("desc") == "1"

    def key(row: dict[str, Any]) -> Any:
        value = len(row["flags"]) if sort == "flags" else row[sort]
        return (value is None, value if value is not None else 0)

    rows = sorted(report.experts, key=key, reverse=descending)
    if descending:  # missing values last either way
        rows = [r for r in rows if (len(r["flags"]) if sort == "flags" else r[sort]) is not None] + \
               [r for r in rows if (len(r["flags"]) if sort == "flags" else r[sort]) is None]
    return render_template("admin/experts.html", pool=pool, report=report, rows=rows, sort=sort,
                           descending=descending, sortable=SORTABLE)


@bp.post("/pools/<pool_name>/experts/<email>/exclusion")
@role_required("admin")
def exclusion(pool_name: str, email: str) -> Any:
    db = get_db()
    pool = _pool(pool_name)
    action = request.form.get("action")
    try:
        if action == "exclude":
            experts.exclude(db, pool, email, request.form.get("reason"), actor=current_user.email)
            message = f"{email}: judgments excluded from every fit of {pool.name}."
        elif action == "include":
            experts.include(db, pool, email, actor=current_user.email, reason=request.form.get("reason") or None)
            message = f"{email}: judgments included again in {pool.name}."
        else:
            abort(400, "action: exclude or include")
        db.commit()
        flash(message, "info")
    except Problem as exc:
        db.rollback()
        flash(exc.message, "error")
    return redirect(url_for("admin.pool_experts", pool_name=pool.name))
