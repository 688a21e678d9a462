"""The judgment browser: a researcher reads judgments as the experts saw them.

Also lends the leaderboard page its artifact heat map (a template global), so
that page includes it with one line.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request

from .. import browse, evidence, leaderboards, pools
from ..artifacts import separating
from ..auth import role_required
from ..db import get_db
from ..errors import NotFound, Problem
from ..rubric import ANSWERS, UNACCEPTABLE
from ..schema import Choice, Pool

bp = Blueprint("browser", __name__)


@bp.get("/pools/<pool_name>/judgments")
@role_required("researcher", "admin")
def judgments(pool_name: str) -> Any:
    db = get_db()
    try:
        pool = pools.get_pool(db, pool_name)
    except NotFound:
        abort(404)
    error, found, limit = None, browse.Page(rows=[], next_before=None), browse.DEFAULT_LIMIT
    args = {k: v for k, v in request.args.items() if k in browse.FILTERS}
    try:
        filters = browse.parse_filters(db, pool, request.args)
        before, limit = browse.page_args(request.args)
        found = browse.page(db, filters, before=before, limit=limit)
        args = filters.query_args()
    except Problem as exc:
        error = exc.message  # the page again, with the form and the reason, so the filter can be fixed
    status = 422 if error else 200
    return render_template(
        "browser/judgments.html", pool=pool, error=error, page=found, args=args, limit=limit,
        categories=pools.pool_categories(db, pool),
        models=[name for _id, name in leaderboards.pool_models(db, pool)],
        choices=[c.value for c in Choice], tags={**pool.vocabulary, UNACCEPTABLE: "Unacceptable (would not ship)"},
        criteria=pool.criteria or [], answers=ANSWERS), status


@bp.app_template_global("artifact_heatmap")
def artifact_heatmap(pool: Pool, category: str) -> dict[str, Any]:
    """Model x tag rates for the leaderboard page's heat map."""
    table = evidence.artifact_rates(get_db(), pool, category)
    labels = pool.vocabulary
    tags = list(dict.fromkeys(r.tag for r in table))
    return {
        "models": list(dict.fromkeys(r.model for r in table)),
        "tags": [(t, labels.get(t, t)) for t in tags],
        "cells": {(r.model, r.tag): r for r in table},
        "separating": [s.words(labels.get(s.tag)) for s in sorted(separating(table), key=lambda s: s.direction != "more")],
        "flagged": sum(r.flagged for r in table),
    }
