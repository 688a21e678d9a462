"""The judge page: a shell; pairs come from and go to the JSON API."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template
from flask_login import current_user

from .. import pools, visibility
from ..auth import role_required
from ..db import get_db
from ..errors import NotFound

bp = Blueprint("judge", __name__)


@bp.get("/pools/<pool_name>/judge")
@role_required("expert")
def judge(pool_name: str) -> Any:
    db = get_db()
    try:
        pool = pools.get_pool(db, pool_name)
    except NotFound:
        abort(404)
    if not visibility.may_see(db, pool, current_user):
        abort(404)  # closed, or none of this expert's categories
    # Tags, criteria and everything else of a pair come with the assignment JSON.
    return render_template("judge/judge.html", pool=pool)
