"""Bulk imports: a manifest and an archive of its files, all or nothing, with progress to poll.

Operations, no Flask. A job goes ``queued`` -> ``running`` -> ``done`` or
``failed``; while running, its ``stage`` says what it is doing:

- ``unpacking``: the archive is checked and unpacked and the manifest read
  (the request does this before it answers, so that a bad archive or
  manifest is refused at once with nothing written);
- ``images``: every image is decoded, checked, encoded and stored;
  ``items_done`` / ``images_done`` move as items finish, committed from a
  second session so that a poller sees them while the import's own
  transaction is still open;
- ``saving``: the rows, written in one transaction that also marks the job
  done (seconds, even for thousands of items: the database is not written
  before this stage, so nothing else waits on the import meanwhile).

A failure at any point rolls the import back and leaves the job ``failed``
with the reason (naming the file) in ``message``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from datetime import datetime, timedelta
from typing import IO, Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from . import manifest as manifest_module
from . import pools
from .archives import ArchiveError, extract
from .errors import Problem
from .manifest import Manifest, ManifestError
from .schema import ImportJob, utcnow
from .storage import ImageStore

__all__ = ["ImportFailed", "Progress", "create_job", "job_json", "mark_if_stale", "run", "unpack"]

PROGRESS_EVERY_SECONDS = 0.5  # how often, at most, progress is written while images are made
HEARTBEAT_SECONDS = 10.0  # a running import touches its job at least this often
STALE_SECONDS = 120.0  # a queued or running job not touched for this long has lost its process
INTERRUPTED = "interrupted: the server process running this import stopped; nothing was imported; send it again"


class ImportFailed(Exception):
    """The import was refused or failed; nothing was imported. ``message`` names the file."""

    def __init__(self, job_id: int, message: str) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.message = message


def after_progress(job_id: int, fields: dict[str, Any]) -> None:
    """Called after each progress write is committed; a seam for tests (does nothing)."""


def create_job(db: Session, pool_name: str) -> ImportJob:
    now = utcnow()
    job = ImportJob(pool_name=pool_name, status="queued", stage=None, items_total=0, items_done=0,
                    images_total=0, images_done=0, created_at=now, updated_at=now)
    db.add(job)
    db.flush()
    return job


def unpack(archive: IO[bytes], manifest_text: bytes, root: Path, *, max_bytes: int) -> Manifest:
    """Unpack ``archive`` into the empty folder ``root`` and read the manifest (field or archive root).

    Raises ArchiveError, ManifestError or Invalid, each naming the member or field.
    """
    from .errors import Invalid

    extract(archive, root, max_bytes=max_bytes)
    if manifest_text:
        if (root / "manifest.json").exists():
            raise Invalid("manifest: sent as a field and also inside the archive; send one")
        (root / "manifest.json").write_bytes(manifest_text)
    return manifest_module.load(root)


def reason(exc: BaseException) -> str | None:
    """The one-line reason of an import's expected failures; None for anything else."""
    if isinstance(exc, Problem):
        return exc.message
    if isinstance(exc, ArchiveError | ManifestError):
        return str(exc)
    return None


class Progress:
    """Writes a job's progress in short transactions of its own.

    The import's own session keeps its transaction open until the end (all
    or nothing), so what it writes is invisible until then; progress goes
    through ``sessions`` (a session factory) and is committed at once, at
    most every ``every_seconds`` unless forced.
    """

    def __init__(self, sessions: Callable[[], Session], job_id: int, *,
                 every_seconds: float = PROGRESS_EVERY_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.sessions, self.job_id = sessions, job_id
        self.every_seconds, self.clock = every_seconds, clock
        self.last = -float("inf")

    def update(self, *, force: bool = False, **fields: Any) -> None:
        now = self.clock()
        if not force and now - self.last < self.every_seconds:
            return
        self.last = now
        with self.sessions() as session:
            job = session.get(ImportJob, self.job_id)
            if job is None:
                return
            for key, value in fields.items():
                setattr(job, key, value)
            job.updated_at = utcnow()
            session.commit()
        after_progress(self.job_id, fields)


def run(db: Session, store: ImageStore, job_id: int, loaded: Manifest, *, pool_name: str,
        sessions: Callable[[], Session], max_pixels: int) -> ImportJob:
    """Import ``loaded`` (already unpacked) as job ``job_id``; commits ``db`` once, or raises ImportFailed.

    On failure everything the import flushed is rolled back and the job is
    left ``failed`` with the reason.
    """
    progress = Progress(sessions, job_id)
    items_total = len(loaded.items)
    images_total = sum(1 + len(entry.outputs) for entry in loaded.items)
    # A heartbeat, so that a poller can tell a slow stage (one huge item, the
    # final commit) from an import whose process died (see mark_if_stale).
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            try:
                Progress(sessions, job_id).update(force=True)
            except Exception:  # noqa: BLE001 - a missed beat is not the import's failure
                pass

    threading.Thread(target=beat, name=f"pairwise-import-{job_id}-heartbeat", daemon=True).start()
    try:
        progress.update(force=True, status="running", stage="images", items_total=items_total,
                        images_total=images_total, items_done=0, images_done=0)
        done = {"items": 0, "images": 0}

        def counted(entries: Iterable[Any]) -> Iterator[Any]:
            # seed() asks for the next entry only once the previous one's images are stored.
            for entry in entries:
                yield entry
                done["items"] += 1
                done["images"] += 1 + len(entry.outputs)
                last = done["items"] == items_total
                progress.update(force=last or done["items"] == 1, items_done=done["items"],
                                images_done=done["images"], **({"stage": "saving"} if last else {}))

        report = pools.seed(db, store, loaded, pool_name=pool_name, max_pixels=max_pixels, progress=counted)
        job = db.get(ImportJob, job_id)
        assert job is not None
        db.refresh(job)  # the progress session changed it since this session last read it
        job.status, job.stage, job.message = "done", None, report.summary()
        job.items_done, job.images_done = items_total, images_total
        job.finished_at = job.updated_at = utcnow()
        db.commit()
        return job
    except BaseException as exc:
        message = reason(exc)
        db.rollback()  # everything the import flushed goes
        fail(sessions, job_id, message or "internal error; nothing imported")
        if message is None:
            raise
        raise ImportFailed(job_id, message) from None
    finally:
        stop.set()


def mark_if_stale(db: Session, job: ImportJob, *, now: datetime | None = None,
                  stale_seconds: float = STALE_SECONDS) -> ImportJob:
    """A queued or running job whose process stopped (no heartbeat for ``stale_seconds``) becomes failed.

    Its rows were never committed (an import commits once, at its end), so
    nothing was imported; the client is told to send it again. Conditional
    on the row, so two pollers (or a late heartbeat) cannot disagree. Commits.
    """
    now = now or utcnow()
    if job.status not in ("queued", "running") or job.updated_at > now - timedelta(seconds=stale_seconds):
        return job
    changed = db.execute(update(ImportJob).where(
        ImportJob.id == job.id, ImportJob.status.in_(("queued", "running")),
        ImportJob.updated_at <= now - timedelta(seconds=stale_seconds),
    ).values(status="failed", stage=None, message=INTERRUPTED, finished_at=now, updated_at=now)).rowcount
    db.commit()
    if changed:
        db.refresh(job)
    return job


def fail(sessions: Callable[[], Session], job_id: int, message: str) -> None:
    Progress(sessions, job_id).update(force=True, status="failed", stage=None, message=message,
                                      finished_at=utcnow())


def job_json(job: ImportJob, url: str) -> dict[str, Any]:
    def when(moment: Any) -> str | None:
        return None if moment is None else moment.isoformat(timespec="seconds") + "Z"

    return {"id": job.id, "pool": job.pool_name, "status": job.status, "stage": job.stage,
            "items_total": job.items_total, "items_done": job.items_done,
            "images_total": job.images_total, "images_done": job.images_done,
            "message": job.message, "error": job.message if job.status == "failed" else None,
            "created_at": when(job.created_at), "updated_at": when(job.updated_at),
            "finished_at": when(job.finished_at), "url": url}
