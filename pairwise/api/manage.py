"""API routes for seeding scripts and admins: items, models, progress, bulk imports, tokens.

Registered on the API blueprint (imported at the bottom of ``views.py``).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from flask import Response, current_app, request, url_for
from sqlalchemy.orm import Session

from .. import bulk_import, manifest, pool_status, pools, tokens
from ..auth import role_required
from ..context import current_store
from ..db import get_db
from ..errors import Invalid, NotFound
from ..schema import ImportJob
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


def _job_response(job: ImportJob) -> dict[str, Any]:
    return bulk_import.job_json(job, url_for("api.get_import", job_id=job.id))


def _sessions() -> Session:
    """A session apart from the request's, for progress committed while the import runs."""
    return current_app.extensions["pairwise.sessionmaker"]()


def _session_maker() -> Any:
    """What :func:`_sessions` calls, bound now: an import's heartbeat thread has no app context."""
    return current_app.extensions["pairwise.sessionmaker"]


@bp.post("/pools/<pool_name>/imports")
@role_required("admin")
def create_import(pool_name: str) -> Any:
    """A manifest and an archive of its files, imported all or nothing.

    The archive and manifest are checked before the answer (a bad one: 422,
    nothing written). Then, by default, the import runs before the answer
    (201 when done); with ``Prefer: respond-async`` the answer is 202 at once
    and the import runs on in this server process. Either way the job is
    readable at its URL, with progress while it runs.
    """
    db = get_db()
    pool = pools.get_pool(db, pool_name)
    archive = request.files.get("archive")
    if archive is None:
        raise Invalid("archive: required file field (a zip or tar of the manifest's files)")
    unknown = sorted(set(request.files) - {"archive", "manifest"}) or sorted(set(request.form) - {"manifest"})
    if unknown:
        raise Invalid(f"{unknown[0]}: unknown field (send archive and, optionally, manifest)")
    respond_async = "respond-async" in {p.strip().lower() for p in request.headers.get("Prefer", "").split(",")}
    manifest_file = request.files.get("manifest")
    manifest_text = manifest_file.read() if manifest_file is not None else request.form.get("manifest", "").encode()
    job = bulk_import.create_job(db, pool.name)
    job.status, job.stage = "running", "unpacking"
    db.commit()
    job_id = job.id
    root = Path(tempfile.mkdtemp(prefix="pairwise-import-"))
    background = False
    try:
        try:
            loaded = bulk_import.unpack(archive.stream, manifest_text, root,
                                        max_bytes=current_app.config["MAX_ARCHIVE_MB"] * 2**20)
        except BaseException as exc:
            message = bulk_import.reason(exc)
            bulk_import.fail(_sessions, job_id, message or "internal error; nothing imported")
            if message is None:
                raise
            raise Invalid(f"{message} (import {job_id}, nothing imported)") from None
        job.items_total = len(loaded.items)
        job.images_total = sum(1 + len(entry.outputs) for entry in loaded.items)
        job.status, job.stage = ("queued", None) if respond_async else ("running", "images")
        db.commit()
        max_pixels = current_app.config["MAX_IMAGE_PIXELS"]
        if respond_async:
            _start(current_app._get_current_object(), job_id, loaded, root, pool.name, max_pixels)  # type: ignore[attr-defined]
            background = True
            return _job_response(job), 202, {"Location": _job_response(job)["url"],
                                             "Preference-Applied": "respond-async"}
        try:
            job = bulk_import.run(db, current_store(), job_id, loaded, pool_name=pool.name,
                                  sessions=_session_maker(), max_pixels=max_pixels)
        except bulk_import.ImportFailed as exc:
            raise Invalid(f"{exc.message} (import {job_id}, nothing imported)") from None
    finally:
        if not background:
            shutil.rmtree(root, ignore_errors=True)
    response = _job_response(job)
    return response, 201, {"Location": response["url"]}


def _start(app: Any, job_id: int, loaded: manifest.Manifest, root: Path, pool_name: str, max_pixels: int) -> None:
    """Run an import on a thread of this process; its state lives in the job row, not here."""
    def work() -> None:
        try:
            with app.app_context():
                bulk_import.run(get_db(), current_store(), job_id, loaded, pool_name=pool_name,
                                sessions=_session_maker(), max_pixels=max_pixels)
        except bulk_import.ImportFailed:
            pass  # recorded on the job
        except Exception:  # noqa: BLE001 - recorded on the job by run(); logged here
            app.logger.exception("bulk import %s failed", job_id)
        finally:
            shutil.rmtree(root, ignore_errors=True)

    # Not a daemon: a server shutting down lets a running import finish.
    threading.Thread(target=work, name=f"pairwise-import-{job_id}").start()


@bp.get("/imports/<int:job_id>")
@role_required("admin")
def get_import(job_id: int) -> Any:
    db = get_db()
    job = db.get(ImportJob, job_id)
    if job is None:
        raise NotFound(f"no import {job_id}")
    return _job_response(bulk_import.mark_if_stale(db, job))


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

