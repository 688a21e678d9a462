"""The researcher's leaderboard page, per pool and category."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, render_template, request

from .. import leaderboards, pools
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
    intervals = request.args.get("intervals", "closed")
    if intervals not in ("closed", "bootstrap"):
        abort(400, "intervals: closed or bootstrap")
    try:
        # Live view: closed-form intervals, refitted on every new judgment in
        # milliseconds. Bootstrap on request, and in the downloads.
        options = fit_options(ties=request.args.get("ties", "half"),
                              position=request.args.get("position") == "1",
                              bootstrap=None if intervals == "bootstrap" else 0)
    except Problem as exc:
        abort(400, exc.message)
    criterion = request.args.get("criterion") or None  # a rubric criterion's leaderboard
    board = leaderboards.build_cached(db, pool, category, options, current_app.config["HOURLY_RATE"],
                                      criterion=criterion)
    db.commit()
    index = {m: i for i, m in enumerate(board["models"])}
    order = [index[row["model"]] for row in board["rows"]]  # matrices in rank order
    return render_template("board/leaderboard.html", pool=pool, categories=categories,
                           category=category, board=board, options=options, intervals=intervals,
                           order=order, criterion=criterion)
