"""API routes for seeding scripts and admins: items, models, progress, bulk imports, tokens.

Registered on the API blueprint (imported at the bottom of ``views.py``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from flask import Response, current_app, request, url_for

from .. import manifest, pool_status, pools, tokens
from ..archives import ArchiveError, extract
from ..auth import role_required
from ..context import current_store
from ..db import get_db
from ..errors import Invalid, NotFound, Problem
from ..manifest import ManifestError
from ..schema import ImportJob, utcnow
from .views import _json_body, bp

MAX_ID = 2**31 - 1  # ids are 32-bit INTEGER columns: a larger one cannot exist


@bp.url_value_preprocessor
def _ids_in_range(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    """A path id no row can have is a 404, before it reaches a query.

    PostgreSQL refuses an out-of-range integer parameter with an error that
    would otherwise surface as a 500.
    """
    for key, value in (values or {}).items():
        if isinstance(value, int) and not 0 < value <= MAX_ID:
            raise NotFound(f"no {key.removesuffix('_id')} {value}")


@bp.get("/pools/<pool_name>/items")
@role_required("researcher", "admin")
def list_items(pool_name: str) -> Any:
    db = get_db()
    pool = pools.get_pool(db, pool_name)
    try:
        limit = int(request.args.get("limit", "100"))
    except ValueError:
        raise Invalid(f"limit: a whole number from 1 to {pool_status.MAX_PAGE}") from None
    page = pool_status.items_page(db, pool, after=request.args.get("after"), limit=limit)
    next_url = None
    if page.next_after is not None:
        next_url = url_for("api.list_items", pool_name=pool.name, after=page.next_after, limit=limit)
    return {"items": page.items, "next_after": page.next_after, "next_url": next_url}


@bp.get("/pools/<pool_name>/models")
@role_required("researcher", "admin")
def list_models(pool_name: str) -> Any:
    db = get_db()
    return {"models": pool_status.list_models(db, pools.get_pool(db, pool_name))}


@bp.patch("/pools/<pool_name>/models/<path:model_name>")
@role_required("admin")
def update_model(pool_name: str, model_name: str) -> Any:
    db = get_db()
    pool = pools.get_pool(db, pool_name)
    body = _json_body("retired")
    if "retired" not in body:
        raise Invalid("retired: required, true or false")
    pool_status.set_retired(db, pool, model_name, body["retired"])
    db.commit()
    return next(m for m in pool_status.list_models(db, pool) if m["name"] == model_name)


@bp.get("/pools/<pool_name>/progress")
@role_required("researcher", "admin")
def pool_progress(pool_name: str) -> Any:
    db = get_db()
    return pool_status.progress(db, pools.get_pool(db, pool_name))


def _job_json(job: ImportJob) -> dict[str, Any]:
    return {"id": job.id, "pool": job.pool_name, "status": job.status,
            "items_total": job.items_total, "items_done": job.items_done, "message": job.message,
            "created_at": job.created_at.isoformat(timespec="seconds") + "Z",
            "finished_at": None if job.finished_at is None else job.finished_at.isoformat(timespec="seconds") + "Z",
            "url": url_for("api.get_import", job_id=job.id)}


@bp.post("/pools/<pool_name>/imports")
@role_required("admin")
def create_import(pool_name: str) -> Any:
    """A manifest and an archive of its files, imported all or nothing.

    Synchronous: the answer comes when the import is over, and the job stays
    readable at its URL (a script that lost the answer polls it).
    """
    db = get_db()
    pool = pools.get_pool(db, pool_name)
    archive = request.files.get("archive")
    if archive is None:
        raise Invalid("archive: required file field (a zip or tar of the manifest's files)")
    unknown = sorted(set(request.files) - {"archive", "manifest"}) or sorted(set(request.form) - {"manifest"})
    if unknown:
        raise Invalid(f"{unknown[0]}: unknown field (send archive and, optionally, manifest)")
    manifest_file = request.files.get("manifest")
    manifest_text = manifest_file.read() if manifest_file is not None else request.form.get("manifest", "").encode()
    job = ImportJob(pool_name=pool.name, status="running", items_total=0, items_done=0)
    db.add(job)
    db.commit()
    job_id = job.id
    try:
        with tempfile.TemporaryDirectory(prefix="pairwise-import-") as tmp:
            root = Path(tmp)
            extract(archive.stream, root, max_bytes=current_app.config["MAX_ARCHIVE_MB"] * 2**20)
            if manifest_text:
                if (root / "manifest.json").exists():
                    raise Invalid("manifest: sent as a field and also inside the archive; send one")
                (root / "manifest.json").write_bytes(manifest_text)
            loaded = manifest.load(root)
            job = db.get(ImportJob, job_id)
            assert job is not None
            job.items_total = len(loaded.items)
            report = pools.seed(db, current_store(), loaded, pool_name=pool.name,
                                max_pixels=current_app.config["MAX_IMAGE_PIXELS"])
        job.items_done = len(loaded.items)
        job.status, job.message, job.finished_at = "done", report.summary(), utcnow()
        db.commit()
    except (Problem, ArchiveError, ManifestError) as exc:
        message = exc.message if isinstance(exc, Problem) else str(exc)
        _fail(job_id, message)
        raise Invalid(f"{message} (import {job_id}, nothing imported)") from None
    except BaseException:
        _fail(job_id, "internal error; nothing imported")
        raise
    response = _job_json(job)
    return response, 201, {"Location": response["url"]}


def _fail(job_id: int, message: str) -> None:
    db = get_db()
    db.rollback()  # everything the import flushed goes
    job = db.get(ImportJob, job_id)
    if job is not None:
        job.status, job.message, job.finished_at = "failed", message, utcnow()
        db.commit()


@bp.get("/imports/<int:job_id>")
@role_required("admin")
def get_import(job_id: int) -> Any:
    job = get_db().get(ImportJob, job_id)
    if job is None:
        raise NotFound(f"no import {job_id}")
    return _job_json(job)


@bp.get("/tokens")
@role_required("admin")
def list_tokens() -> Any:
    return {"tokens": tokens.list_tokens(get_db(), request.args.get("email"))}


@bp.post("/tokens")
@role_required("admin")
def create_token() -> Any:
    body = _json_body("email")
    db = get_db()
    row, token = tokens.issue(db, body.get("email"))
    db.commit()
    return {**tokens.token_json(row), "token": token}, 201


@bp.delete("/tokens/<int:token_id>")
@role_required("admin")
def revoke_token(token_id: int) -> Any:
    db = get_db()
    tokens.revoke(db, token_id)
    db.commit()
    return Response(status=204)

