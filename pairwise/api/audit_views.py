"""GET /api/v1/audit: the admin action log, newest first, keyset-paged."""

from __future__ import annotations

from typing import Any

from flask import request, url_for

from .. import audit
from ..auth import role_required
from ..db import get_db
from ..errors import Invalid
from .views import bp


def _int_arg(name: str, default: int | None) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or len(raw) > 18:
        raise Invalid(f"{name}: a positive whole number")
    return int(raw)


@bp.get("/audit")
@role_required("admin")
def audit_log() -> Any:
    limit = _int_arg("limit", 50)
    before = _int_arg("before", None)
    action = request.args.get("action") or None
    assert limit is not None
    rows = audit.events(get_db(), limit=limit, before=before, action=action)
    more = len(rows) == limit and bool(audit.events(get_db(), limit=1, before=rows[-1].id, action=action))
    following = None
    if more:
        following = url_for("api.audit_log", limit=limit, before=rows[-1].id,
                            **({"action": action} if action else {}))
    return {"events": [audit.event_json(e) for e in rows], "next": following}
