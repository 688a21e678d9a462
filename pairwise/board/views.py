"""The researcher's leaderboard page, per pool and category."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, render_template, request

from .. import leaderboards, pools
from ..auth import role_required
from ..context import current_store, fit_options
from ..db import get_db
from ..errors import NotFound, Problem
from ..leaderboard_fit import BOOTSTRAP_CHOICES, download_name
from ..leaderboard_formats import separation_sentence
from . import plots

bp = Blueprint("board", __name__)


def _page_rounds() -> int:
    """PAIRWISE_BOOTSTRAP_ROUNDS, or the nearest round count the server fits."""
    wanted = int(current_app.config["BOOTSTRAP_ROUNDS"])
    return min(BOOTSTRAP_CHOICES[1:], key=lambda rounds: (abs(rounds - wanted), rounds))


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
        # The same fit as the API, the CLI and the downloads: closed form by
        # default, the bootstrap on request (the configured rounds).
        options = fit_options(ties=request.args.get("ties", "half"),
                              position=request.args.get("position") == "1",
                              bootstrap=_page_rounds() if intervals == "bootstrap" else 0,
                              style=request.args.get("style") == "1")
    except Problem as exc:
        abort(400, exc.message)
    criterion = request.args.get("criterion") or None  # a rubric criterion's leaderboard
    rate = current_app.config["HOURLY_RATE"]
    store = current_store()
    boards = {c: leaderboards.build_cached(db, pool, c, options, rate, store, criterion=criterion)
              for c in [leaderboards.ALL, *categories]}
    db.commit()
    board = boards[category]
    index = {m: i for i, m in enumerate(board["models"])}
    order = [index[row["model"]] for row in board["rows"]]  # matrices in rank order
    lo, hi = plots.scale_range(boards.values())  # one scale for every tab
    download = {"category": category, "ties": options.ties, "position": "1" if options.position else "0",
                "bootstrap": options.bootstrap, "style": "1" if options.style else "0",
                **({"criterion": criterion} if criterion else {})}
    return render_template("board/leaderboard.html", pool=pool, categories=categories,
                           category=category, board=board, options=options, intervals=intervals,
                           order=order, forest=plots.forest(board["rows"], lo, hi),
                           heat_colour=plots.heat_colour, pair_counts=plots.pair_counts(board),
                           download=download, csv_name=download_name(board, "csv"),
                           json_name=download_name(board, "json"), sentence=separation_sentence,
                           criterion=criterion)
