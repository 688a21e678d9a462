"""The JSON API under /api/v1/: thin views over the operations."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request, stream_with_context, url_for
from flask_login import current_user
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, object_session

from .. import audit, browse, exports, judging, leaderboard_formats, leaderboards, pools, submissions, visibility
from ..auth import login_required, role_required
from ..context import current_store, fit_options, scheduler_rng
from ..db import get_db
from ..errors import Conflict, Invalid, NotFound
from ..leaderboard_fit import download_name
from ..schema import Assignment, Image, Item, Output, Pool
from ..security import accepts_upload, json_error
from ..media.views import image_json
from .openapi import spec

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _json_body(*allowed: str) -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Invalid(f"body: {json_error() or 'expected a JSON object (Content-Type: application/json)'}")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise Invalid(f"{unknown[0]}: unknown field (expected {', '.join(allowed)})")
    return body


def _pool_json(pool: Pool) -> dict[str, Any]:
    return visibility.pool_view(get_db(), pool, current_user)


@bp.get("/openapi.json")
def openapi() -> Any:
    return spec()


@bp.get("/me")
@login_required
def me() -> Any:
    return {"email": current_user.email, "role": current_user.role.value,
            "categories": current_user.category_list}


@bp.get("/pools")
@login_required
def list_pools() -> Any:
    db = get_db()
    return {"pools": [_pool_json(p) for p in pools.list_pools(db) if visibility.may_see(db, p, current_user)]}


@bp.post("/pools")
@role_required("admin")
def create_pool() -> Any:
    body = _json_body("name", "settings")
    db = get_db()
    if not isinstance(body.get("settings", {}), dict):
        raise Invalid("settings: must be an object")
    pool = pools.create_pool(db, body.get("name"), body.get("settings", {}))
    audit.record(db, current_user.email, "pool.create", pool.name, {"settings": pool.settings()})
    db.commit()
    return _pool_json(pool), 201


@bp.get("/pools/<pool_name>")
@login_required
def get_pool(pool_name: str) -> Any:
    db = get_db()
    pool = pools.get_pool(db, pool_name)
    if not visibility.may_see(db, pool, current_user):
        raise NotFound(f"no pool {pool_name!r}")
    return _pool_json(pool)


@bp.patch("/pools/<pool_name>")
@role_required("admin")
def update_pool(pool_name: str) -> Any:
    db = get_db()
    pool = pools.get_pool(db, pool_name)
    body = _json_body("settings")
    if "settings" not in body:
        raise Invalid("settings: required, e.g. {\"settings\": {\"open\": false}}")
    before = pool.settings()
    pools.apply_settings(pool, body["settings"])
    changes = {k: [before[k], v] for k, v in pool.settings().items() if before[k] != v}
    audit.record(db, current_user.email, "pool.update", pool.name, {"changes": changes})
    db.commit()
    return _pool_json(pool)


@bp.post("/pools/<pool_name>/items")
@accepts_upload
@role_required("admin")
def add_item(pool_name: str) -> Any:
    db = get_db()
    pool = pools.get_pool(db, pool_name)
    form, files = request.form, request.files
    missing = [k for k in ("id", "category", "instruction") if not form.get(k)]
    if missing:
        raise Invalid(f"{missing[0]}: required form field")
    if "source" not in files:
        raise Invalid("source: required file field")
    outputs = {key[len("outputs["):-1]: f for key, f in files.items(multi=False)
               if key.startswith("outputs[") and key.endswith("]")}
    unknown = [k for k in files if k != "source" and not (k.startswith("outputs[") and k.endswith("]"))]
    if unknown:
        raise Invalid(f"{unknown[0]}: unknown file field (use source and outputs[<model>])")
    if not outputs:
        raise Invalid("outputs: send one file field outputs[<model>] per model")
    result = pools.add_item(
        db, current_store(), pool, item_id=form["id"], category=form["category"],
        instruction=form["instruction"],
        source=pools.Upload(name=files["source"].filename or "source", data=files["source"].read()),
        outputs={m: pools.Upload(name=f.filename or m, data=f.read()) for m, f in outputs.items()},
        max_pixels=current_app.config["MAX_IMAGE_PIXELS"])
    if result.created or result.new_outputs:
        audit.record(db, current_user.email, "pool.item", pool.name,
                     {"item": result.item.external_id, "created": result.created,
                      "outputs_added": result.new_outputs})
    db.commit()
    status = 201 if result.created else 200
    return {"id": result.item.external_id, "created": result.created,
            "outputs_added": result.new_outputs}, status


def _image_json(image: Image) -> dict[str, Any]:
    return image_json(image)


def _preload_statement() -> Any:
    source, left_image, right_image, left, right = (aliased(Image), aliased(Image), aliased(Image),
                                                    aliased(Output), aliased(Output))
    return (select(Item, source, left, left_image, right, right_image)
            .join(source, source.id == Item.source_image_id)
            .join(left, left.id == bindparam("left")).join(left_image, left_image.id == left.image_id)
            .join(right, right.id == bindparam("right"))
            .join(right_image, right_image.id == right.image_id)
            .where(Item.id == bindparam("item")))


# Built once: building it costs more than running it.
_PRELOAD = _preload_statement()


def _preload(assignment: Assignment) -> Any:
    """The item, its source and both outputs with their images, in one query.

    They land in the session's identity map, so the attribute reads below
    need no query each (six lazy loads otherwise, a round trip apiece). The
    map holds objects weakly: the caller keeps the returned row until done.
    """
    db = object_session(assignment)
    if db is None:
        return None
    return db.execute(_PRELOAD, {"item": assignment.item_id, "left": assignment.left_output_id,
                                 "right": assignment.right_output_id}).first()


def assignment_json(assignment: Assignment, pool: Pool) -> dict[str, Any]:
    """What the expert sees: no model names, no item ids, no file names."""
    loaded = _preload(assignment)  # noqa: F841  (kept alive while the attributes are read)
    return {
        "id": assignment.id,
        "pool": pool.name,
        "category": assignment.item.category,
        "instruction": assignment.item.instruction,
        "source": _image_json(assignment.item.source_image),
        "left": _image_json(assignment.shown_image("left")),
        "right": _image_json(assignment.shown_image("right")),
        "expires_at": assignment.expires_at.isoformat(timespec="seconds") + "Z",
        "rationale_min_chars": pool.rationale_min_chars,
        "tags": pool.vocabulary,
        "criteria": list(pool.criteria or []),
        "submit_url": url_for("api.submit_judgment", assignment_id=assignment.id),
        **judge_api.assignment_extras(assignment),
    }


@bp.post("/pools/<pool_name>/assignments")
@role_required("expert")
def next_assignment(pool_name: str) -> Any:
    return issue_response(pool_name, judging.next_assignment)


def issue_response(pool_name: str, issue: Any) -> Any:
    """201 with the pair ``issue(db, pool, expert, rng=, minutes=)`` gives this expert, or 204.

    A unique index (one open pair, one queued pair per expert) may catch a
    racing request for the same expert: then the winner's pair is answered.
    """
    db = get_db()
    pool = pools.get_pool(db, pool_name)
    minutes = current_app.config["ASSIGNMENT_MINUTES"]
    try:
        assignment = issue(db, pool, current_user, rng=scheduler_rng(), minutes=minutes)
    except IntegrityError:
        db.rollback()
        assignment = issue(db, pool, current_user, rng=scheduler_rng(), minutes=minutes)
    if assignment is None:
        db.rollback()
        return Response(status=204)
    body = assignment_json(assignment, pool)
    db.commit()
    return body, 201


@bp.post("/assignments/<int:assignment_id>/judgment")
@role_required("expert")
def submit_judgment(assignment_id: int) -> Any:
    db = get_db()
    key = submissions.parse_key(request.headers.get(submissions.HEADER))
    body = request.get_json(silent=True)
    try:
        judgment, created = submissions.submit(db, assignment_id, current_user, body, key)
        db.commit()
    except (IntegrityError, Conflict) as error:  # a racing submission of the same assignment (or key) won
        db.rollback()
        judgment = submissions.find_replay(db, assignment_id, current_user, key, submissions.body_sha256(body))
        if judgment is None:
            if isinstance(error, Conflict):
                raise
            raise Conflict(f"assignment {assignment_id} was already judged") from None
        created = False
    # 200 for a retry: "already stored, and it is yours", not "someone else's" (409).
    return submissions.judgment_json(judgment), 201 if created else 200


def _flag(name: str) -> bool:
    value = request.args.get(name, "false").lower()
    if value not in ("1", "0", "true", "false", "yes", "no"):
        raise Invalid(f"{name}: true or false")
    return value in ("1", "true", "yes")


@bp.get("/pools/<pool_name>/leaderboard")
@role_required("researcher", "admin")
def leaderboard(pool_name: str) -> Any:
    db = get_db()
    pool = pools.get_pool(db, pool_name)
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv"):
        raise Invalid("format: json or csv")
    category = pools.require_category(db, pool, request.args.get("category") or leaderboards.ALL)
    try:
        bootstrap = int(request.args["bootstrap"]) if "bootstrap" in request.args else None
    except ValueError:
        raise Invalid("bootstrap: a whole number of rounds") from None
    options = fit_options(ties=request.args.get("ties", "half"), position=_flag("position"),
                          bootstrap=bootstrap, style=_flag("style"))
    criterion = request.args.get("criterion") or None
    board = leaderboards.build_cached(db, pool, category, options, current_app.config["HOURLY_RATE"],
                                      store=current_store(), criterion=criterion)
    db.commit()
    # Both formats download (a browser saves them instead of opening a tab),
    # under a name that says which fit they hold.
    disposition = {"Content-Disposition": f'attachment; filename="{download_name(board, fmt)}"'}
    if fmt == "csv":
        return Response(leaderboard_formats.to_csv([board]), mimetype="text/csv", headers=disposition)
    return Response(leaderboard_formats.to_json([board]), mimetype="application/json", headers=disposition)


@bp.get("/pools/<pool_name>/judgments")
@role_required("researcher", "admin")
def judgments(pool_name: str) -> Any:
    db = get_db()
    pool = pools.get_pool(db, pool_name)
    fmt = request.args.get("format", "jsonl")
    if fmt not in exports.FORMATS:
        raise Invalid("format: jsonl, csv or pwcmp")
    mimetype = "application/x-ndjson" if fmt == "jsonl" else "text/csv"
    filename = f"{pool.name}-pwcmp.csv" if fmt == "pwcmp" else f"{pool.name}-judgments.{fmt}"
    # The judgment browser's filters, if any: the download holds exactly its rows.
    where = browse.parse_filters(db, pool, request.args, extra=("format",)).clauses

    def body() -> Any:
        try:
            yield from exports.stream(db, pool, fmt, where)
        finally:
            db.close()  # ends the server-side cursor's transaction as soon as the stream does

    return Response(stream_with_context(body()), mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{filename}"'})

from . import audit_views  # noqa: E402,F401  (GET /api/v1/audit on this blueprint)
from . import insights  # noqa: E402,F401  (artifact rates, filtered judgments)
from . import quality as _quality  # noqa: E402,F401  (issue 7 routes on this blueprint)
from . import judge_api  # noqa: E402,F401  (adds the judge page's routes to bp)
from . import manage  # noqa: E402,F401  (items, models, progress, imports, tokens)
