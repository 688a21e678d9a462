"""The researcher's leaderboard page, per pool and category."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, render_template, request

from .. import leaderboard_formats, leaderboards, pools
from ..auth import role_required
from ..context import fit_options
from ..db import get_db
from ..errors import NotFound, Problem

bp = Blueprint("board", __name__)


@bp.get("/pools/<pool_name>/leaderboard")
@role_required("researcher", "admin")
def leaderboard(pool_name: str) -> Any:
    db = get_db()
    try:
        pool = pools.get_pool(db, pool_name)
    except NotFound:
        abort(404)
    categories = pools.pool_categories(db, pool)
    category = request.args.get("category", leaderboards.ALL)
    if category != leaderboards.ALL and category not in categories:
        abort(404)
    ties = request.args.get("ties", "half")
    try:
        options = fit_options(ties=ties, position=request.args.get("position") == "1")
    except Problem as exc:
        abort(400, exc.message)
    board = leaderboards.build(db, pool, category, options)
    data = leaderboard_formats.as_dict(board)
    return render_template("board/leaderboard.html", pool=pool, categories=categories,
                           category=category, board=data, options=options,
                           hourly_rate=current_app.config["HOURLY_RATE"])
