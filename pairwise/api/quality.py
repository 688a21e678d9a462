"""Rater quality routes (issue 7), added to the API blueprint: experts' figures,
exclusions, gold pairs, and each expert's own figures."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask_login import current_user

from .. import experts, gold, pools
from ..auth import login_required, role_required
from ..db import get_db
from ..errors import Invalid
from ..schema import Model
from .views import _json_body, bp


@bp.get("/pools/<pool_name>/experts")
@role_required("researcher", "admin")
def experts_report(pool_name: str) -> Any:
    db = get_db()
    pool = pools.get_pool(db, pool_name)
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv"):
        raise Invalid("format: json or csv")
    # Researchers see pseudonyms, as in the judgment exports; admins, who act on it, see emails.
    report = experts.pool_quality(db, pool, emails=current_user.role.value == "admin")
    if fmt == "csv":
        return Response(experts.to_csv(report), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="{pool.name}-experts.csv"'})
    return report.as_dict()


def _optional_body(*allowed: str) -> dict[str, Any]:
    if not request.get_data():
        return {}
    return _json_body(*allowed)


@bp.post("/pools/<pool_name>/experts/<email>/exclusion")
@role_required("admin")
def exclude_expert(pool_name: str, email: str) -> Any:
    db = get_db()
    pool = pools.get_pool(db, pool_name)
    body = _json_body("reason")
    row = experts.exclude(db, pool, email, body.get("reason"), actor=current_user.email)
    db.commit()
    return {"pool": pool.name, "expert": email.strip().lower(), "excluded": True, "reason": row.reason}, 201


@bp.delete("/pools/<pool_name>/experts/<email>/exclusion")
@role_required("admin")
def include_expert(pool_name: str, email: str) -> Any:
    db = get_db()
    pool = pools.get_pool(db, pool_name)
    body = _optional_body("reason")
    experts.include(db, pool, email, actor=current_user.email, reason=body.get("reason"))
    db.commit()
    return {"pool": pool.name, "expert": email.strip().lower(), "excluded": False}


def _model_names(pool_id: int) -> dict[int, str]:
    from sqlalchemy import select
    return dict(get_db().execute(select(Model.id, Model.name).where(Model.pool_id == pool_id)).all())


@bp.get("/pools/<pool_name>/gold")
@role_required("admin")
def list_gold(pool_name: str) -> Any:
    db = get_db()
    pool = pools.get_pool(db, pool_name)
    names = _model_names(pool.id)
    return {"gold": [gold.gold_json(g, names) for g in gold.list_gold(db, pool)]}


@bp.post("/pools/<pool_name>/gold")
@role_required("admin")
def add_gold(pool_name: str) -> Any:
    db = get_db()
    pool = pools.get_pool(db, pool_name)
    body = _json_body("item", "better", "worse")
    pair = gold.add_designated(db, pool, item=body.get("item"), better=body.get("better"),
                               worse=body.get("worse"), actor=current_user)
    db.commit()
    return gold.gold_json(pair, _model_names(pool.id)), 201


@bp.get("/me/quality")
@login_required
def my_quality() -> Any:
    """The caller's own figures per pool: never anybody else's."""
    return {"email": current_user.email, "pools": experts.own_figures(get_db(), current_user)}
