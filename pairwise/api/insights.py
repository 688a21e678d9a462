"""API routes for why models lose: artifact-tag rates per model (researcher, admin)."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from .. import artifact_formats, evidence, leaderboards, pools
from ..auth import role_required
from ..db import get_db
from ..errors import Invalid
from .views import bp


@bp.get("/pools/<pool_name>/artifacts")
@role_required("researcher", "admin")
def artifacts(pool_name: str) -> Any:
    db = get_db()
    pool = pools.get_pool(db, pool_name)
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv"):
        raise Invalid("format: json or csv")
    category = pools.require_category(db, pool, request.args.get("category") or leaderboards.ALL)
    table = evidence.artifact_rates(db, pool, category)
    if fmt == "csv":
        return Response(artifact_formats.to_csv(table), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="{pool.name}-{category}-artifacts.csv"'})
    return Response(artifact_formats.to_json(pool.name, category, table, pool.vocabulary),
                    mimetype="application/json")
