"""The judge page: a shell; pairs come from and go to the JSON API."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template

from .. import pools
from ..auth import role_required
from ..db import get_db
from ..errors import NotFound

bp = Blueprint("judge", __name__)


@bp.get("/pools/<pool_name>/judge")
@role_required("expert")
def judge(pool_name: str) -> Any:
    try:
        pool = pools.get_pool(get_db(), pool_name)
    except NotFound:
        abort(404)
    # Tags, criteria and everything else of a pair come with the assignment JSON.
    return render_template("judge/judge.html", pool=pool)
