"""The judge page's API routes: skip, renew, progress, and the skips export."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from flask import Response, current_app, request, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from .. import judge_ops, judging, pools
from ..auth import role_required
from ..db import get_db
from ..errors import Conflict, Invalid
from ..exports import _csv_chunks
from ..schema import Assignment, utcnow
from .views import bp, issue_response

ACCEPTS = ("unsure", "pins", "unacceptable", "criteria")
"""Optional judgment fields this server takes (the page shows their controls)."""


def assignment_extras(assignment: Assignment) -> dict[str, Any]:
    return {"accepts": list(ACCEPTS),
            "skip_url": url_for("api.skip_assignment", assignment_id=assignment.id),
            "renew_url": url_for("api.renew_assignment", assignment_id=assignment.id)}


@bp.post("/pools/<pool_name>/assignments/ahead")
@role_required("expert")
def queue_assignment(pool_name: str) -> Any:
    """The pair after the open one, reserved now so the page can show it the
    moment the open one is answered: 201 with it (the next ``POST
    .../assignments`` then opens it), or 204 with no open pair or none left."""
    return issue_response(pool_name, judging.queue_next)


@bp.post("/assignments/<int:assignment_id>/skip")
@role_required("expert")
def skip_assignment(assignment_id: int) -> Any:
    db = get_db()
    assignment = judging.get_assignment(db, assignment_id, current_user)
    reason = judge_ops.parse_reason(request.get_json(silent=True))
    try:
        row = judge_ops.skip(db, assignment, reason)
        db.commit()
    except IntegrityError:  # a racing second skip
        db.rollback()
        raise Conflict(f"assignment {assignment_id} was skipped") from None
    return {"id": row.id, "assignment": assignment_id, "reason": row.reason}, 201


@bp.post("/assignments/<int:assignment_id>/renew")
@role_required("expert")
def renew_assignment(assignment_id: int) -> Any:
    db = get_db()
    assignment = judging.get_assignment(db, assignment_id, current_user)
    judge_ops.renew(db, assignment, minutes=current_app.config["ASSIGNMENT_MINUTES"])
    expires = assignment.expires_at.isoformat(timespec="seconds") + "Z"
    db.commit()
    return {"id": assignment_id, "expires_at": expires}


@bp.get("/pools/<pool_name>/my-progress")  # /progress is the pool's, for seeding scripts (manage.py)
@role_required("expert")
def progress(pool_name: str) -> Any:
    db = get_db()
    pool = pools.get_pool(db, pool_name)
    since_text = request.args.get("since")
    if since_text:
        try:
            since = datetime.fromisoformat(since_text.replace("Z", "+00:00"))
        except ValueError:
            raise Invalid("since: an ISO 8601 time, e.g. 2026-12-01T00:00:00Z") from None
        if since.tzinfo is not None:
            since = (since - since.utcoffset()).replace(tzinfo=None)  # type: ignore[operator]
    else:
        since = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    if since < utcnow() - timedelta(days=2):
        raise Invalid("since: at most two days ago (the start of the expert's day)")
    return judge_ops.progress(db, pool, current_user, since)


@bp.get("/pools/<pool_name>/skips")
@role_required("researcher", "admin")
def skips(pool_name: str) -> Any:
    db = get_db()
    pool = pools.get_pool(db, pool_name)
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "jsonl", "csv"):
        raise Invalid("format: json, jsonl or csv")
    rows = list(judge_ops.skip_rows(db, pool))
    if fmt == "json":
        return {"pool": pool.name, "flagged_items": judge_ops.flagged_items(db, pool), "skips": rows}
    if fmt == "jsonl":
        body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        mimetype = "application/x-ndjson"
    else:
        body = "".join(_csv_chunks(judge_ops.SKIP_COLUMNS,
                                   (tuple(r[c] for c in judge_ops.SKIP_COLUMNS) for r in rows)))
        mimetype = "text/csv"
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{pool.name}-skips.{fmt}"'})
