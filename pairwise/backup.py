"""Backups: a consistent, portable archive of the database and the images, and its restore.

The archive is a tar file:

- ``tables/NNN-<table>.jsonl``: one JSON object per row, one file per table,
  in dependency order (parents first), so any database can load it back:
  SQLite -> PostgreSQL and back;
- ``images/...``: every file of the image store, as stored;
- ``manifest.json`` (last): the format, the migration revision, the row count
  and sha256 of every table file, and the sha256 of every image file.

The table list comes from the schema's metadata, so tables added later are
included without touching this module.

:func:`backup` reads the whole database in one snapshot while the service
runs (a read-only REPEATABLE READ transaction on PostgreSQL, one read
transaction on SQLite's WAL), so the archive is a state the database was in,
even while judgments arrive. Images are immutable and written before the rows
that name them, so every image the snapshot names is in the store.

:func:`restore` verifies every checksum before it changes anything, refuses a
database that is not empty or not at the archive's migration, loads all rows
in one transaction and resets PostgreSQL's id sequences.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import enum
import hashlib
import io
import json
import os
import re
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine, func, select, text

from .db import Base
from .errors import Problem

FORMAT = "pairwise-backup/1"
MANIFEST = "manifest.json"
BATCH = 1000
_CHUNK = 1 << 20
_MEMBER = re.compile(r"^(tables/\d{3}-[A-Za-z0-9_]+\.jsonl|images/[A-Za-z0-9_./-]+)$")


class BackupError(Problem):
    """A backup or restore that cannot proceed; nothing was changed."""

    status = 422


@dataclass
class Report:
    path: Path
    revision: str
    rows: dict[str, int] = field(default_factory=dict)
    images: int = 0
    image_bytes: int = 0

    def summary(self, verb: str) -> str:
        return (f"{verb} {self.path}: {sum(self.rows.values())} rows in {len(self.rows)} tables, "
                f"{self.images} image files ({self.image_bytes / 2**20:.1f} MB), migration {self.revision}")


def _tables() -> list[sa.Table]:
    from . import schema  # noqa: F401  (registers every table on Base.metadata)
    return list(Base.metadata.sorted_tables)


# ----- values <-> JSON ----------------------------------------------------------

def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _decoder(column: sa.ColumnClause[Any]) -> Callable[[Any], Any]:
    kind = column.type
    if isinstance(kind, sa.DateTime):
        return dt.datetime.fromisoformat
    if isinstance(kind, sa.Date):
        return dt.date.fromisoformat
    if isinstance(kind, sa.Time):
        return dt.time.fromisoformat
    if isinstance(kind, sa.LargeBinary):
        return base64.b64decode
    if isinstance(kind, sa.Numeric) and not isinstance(kind, sa.Float) and kind.asdecimal:
        return decimal.Decimal
    return lambda value: value


# ----- backup --------------------------------------------------------------------

@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """One connection reading one consistent state of the whole database."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            yield conn
            conn.rollback()
    else:
        with engine.connect() as conn:
            # pysqlite starts transactions only for writes; an explicit BEGIN
            # makes every SELECT below read the snapshot of the first one.
            conn.exec_driver_sql("BEGIN")
            yield conn
            conn.rollback()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _dump_table(conn: Connection, table: sa.Table, out: IO[bytes]) -> int:
    order = list(table.primary_key.columns) or list(table.columns)
    result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(select(table).order_by(*order))
    n = 0
    names = [c.name for c in table.columns]
    for row in result:
        record = {name: _encode(value) for name, value in zip(names, row, strict=True)}
        out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n")
        n += 1
    return n


def _image_files(root: Path) -> list[Path]:
    """The stored images, not what is derived from them (display sizes, tiles: made again on request)."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".tmp-")
                  and not p.name.endswith((".preview.png", ".thumb.png"))
                  and not any(part.endswith(".d") for part in p.relative_to(root).parts[:-1]))


def backup(engine: Engine, image_root: Path, target: Path,
           after_table: Callable[[str], None] = lambda name: None) -> Report:
    """Write the archive to ``target`` (which must not exist yet); the file appears whole or not at all.

    ``after_table`` is called after each table is read (tests use it to write
    concurrently and check that the snapshot does not see it).
    """
    target = Path(target)
    if target.exists():
        raise BackupError(f"{target}: already exists; choose a new file name")
    part = target.with_name(target.name + ".part")
    with tempfile.TemporaryDirectory(prefix="pairwise-backup-", dir=target.parent) as scratch:
        entries: list[dict[str, Any]] = []
        with _snapshot(engine) as conn:
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
            report = Report(path=target, revision=revision)
            for k, table in enumerate(_tables()):
                name = f"tables/{k:03d}-{table.name}.jsonl"
                path = Path(scratch) / f"{k:03d}.jsonl"
                with path.open("wb") as out:
                    rows = _dump_table(conn, table, out)
                report.rows[table.name] = rows
                entries.append({"table": table.name, "file": name, "rows": rows,
                                "sha256": _sha256_file(path), "bytes": path.stat().st_size})
                after_table(table.name)
        images: list[dict[str, Any]] = []
        try:
            with tarfile.open(part, "w") as archive:
                for k, entry in enumerate(entries):
                    archive.add(Path(scratch) / f"{k:03d}.jsonl", arcname=entry["file"])
                for path in _image_files(image_root):
                    name = "images/" + path.relative_to(image_root).as_posix()
                    images.append({"file": name, "sha256": _sha256_file(path), "bytes": path.stat().st_size})
                    archive.add(path, arcname=name)
                    report.images += 1
                    report.image_bytes += images[-1]["bytes"]
                manifest = {"format": FORMAT, "revision": report.revision, "dialect": engine.dialect.name,
                            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                            "tables": entries, "images": images}
                data = json.dumps(manifest, indent=1).encode("utf-8")
                info = tarfile.TarInfo(MANIFEST)
                info.size = len(data)
                info.mtime = int(dt.datetime.now(dt.UTC).timestamp())
                archive.addfile(info, io.BytesIO(data))
            with part.open("rb") as handle:
                os.fsync(handle.fileno())
            part.replace(target)
        finally:
            part.unlink(missing_ok=True)
    return report


# ----- restore -------------------------------------------------------------------

def _read_manifest(archive: tarfile.TarFile, where: str) -> dict[str, Any]:
    try:
        member = archive.getmember(MANIFEST)
        handle = archive.extractfile(member)
        assert handle is not None
        manifest = json.loads(handle.read())
    except (KeyError, AssertionError):
        raise BackupError(f"{where}: no {MANIFEST}; not a pairwise backup") from None
    except (ValueError, UnicodeDecodeError):
        raise BackupError(f"{where}: {MANIFEST} is not valid JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{where}: unknown backup format (expected {FORMAT})")
    return manifest


def verify(source: Path) -> dict[str, Any]:
    """The archive's manifest, once every file in it matches its checksum; else BackupError."""
    where = str(source)
    try:
        with tarfile.open(source, "r:") as archive:
            manifest = _read_manifest(archive, where)
            expected = {e["file"]: e for e in [*manifest["tables"], *manifest["images"]]}
            seen: set[str] = set()
            for member in archive:
                if member.name == MANIFEST:
                    continue
                if not member.isfile() or not _MEMBER.match(member.name) or ".." in member.name.split("/"):
                    raise BackupError(f"{where}: {member.name!r}: unexpected entry in the archive")
                entry = expected.get(member.name)
                if entry is None:
                    raise BackupError(f"{where}: {member.name}: not listed in the manifest")
                handle = archive.extractfile(member)
                assert handle is not None
                digest = hashlib.sha256()
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
                if digest.hexdigest() != entry["sha256"]:
                    raise BackupError(f"{where}: {member.name}: checksum mismatch (the archive is damaged)")
                seen.add(member.name)
            missing = sorted(set(expected) - seen)
            if missing:
                raise BackupError(f"{where}: {missing[0]}: listed in the manifest but missing")
    except tarfile.TarError as exc:
        raise BackupError(f"{where}: not a readable archive ({exc})") from None
    except (KeyError, TypeError) as exc:
        raise BackupError(f"{where}: {MANIFEST} is incomplete ({exc})") from None
    return manifest


def _check_target(conn: Connection, manifest: dict[str, Any], where: str) -> None:
    revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()
    if revision != manifest["revision"]:
        raise BackupError(f"{where}: made at migration {manifest['revision']}, this database is at "
                          f"{revision or 'none'}; run `pairwise db upgrade` on a matching version first")
    known = {t.name for t in _tables()}
    listed = [e["table"] for e in manifest["tables"]]
    if set(listed) != known:
        odd = sorted(set(listed) ^ known)
        raise BackupError(f"{where}: table {odd[0]!r} is in only one of the archive and this database")
    for table in _tables():
        if conn.execute(select(func.count()).select_from(table)).scalar_one():
            raise BackupError(f"{where}: this database is not empty (table {table.name!r} has rows); "
                              "restore only into a new, migrated database")


def _reset_sequences(conn: Connection) -> None:
    """PostgreSQL hands out ids from sequences, which rows loaded with ids do not advance."""
    for table in _tables():
        for column in table.primary_key.columns:
            if not isinstance(column.type, sa.Integer):
                continue
            sequence = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                    {"t": f'"{table.name}"', "c": column.name}).scalar_one()
            if sequence is not None:
                conn.execute(text(f'SELECT setval(:s, COALESCE((SELECT MAX("{column.name}") '
                                  f'FROM "{table.name}"), 0) + 1, false)'), {"s": sequence})


def _insertable(table: sa.Table) -> sa.TableClause:
    """``table`` for INSERTs that keep a JSON column's None an SQL NULL, as it was
    (the dump cannot tell SQL NULL from JSON null; the app never stores the latter)."""
    columns = [sa.column(c.name, sa.JSON(none_as_null=True) if isinstance(c.type, sa.JSON) else c.type)
               for c in table.columns]
    return sa.table(table.name, *columns)


def _rows(handle: IO[bytes], table: sa.TableClause) -> Iterator[list[dict[str, Any]]]:
    decoders = {c.name: _decoder(c) for c in table.columns}
    batch: list[dict[str, Any]] = []
    for line in handle:
        record = json.loads(line)
        batch.append({k: (None if v is None else decoders[k](v)) for k, v in record.items()})
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _put_file(target: Path, handle: IO[bytes]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := handle.read(_CHUNK):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def restore(engine: Engine, image_root: Path, source: Path) -> Report:
    """Load a verified archive into an empty database at the same migration."""
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"{source}: no such file")
    manifest = verify(source)
    report = Report(path=source, revision=manifest["revision"])
    tables = {t.name: _insertable(t) for t in _tables()}
    with engine.begin() as conn, tarfile.open(source, "r:") as archive:
        _check_target(conn, manifest, str(source))
        for entry in manifest["tables"]:
            table = tables[entry["table"]]
            handle = archive.extractfile(entry["file"])
            assert handle is not None
            n = 0
            for batch in _rows(handle, table):
                conn.execute(table.insert(), batch)
                n += len(batch)
            if n != entry["rows"]:
                raise BackupError(f"{source}: {entry['file']}: {n} rows, the manifest says {entry['rows']}")
            report.rows[table.name] = n
        if engine.dialect.name == "postgresql":
            _reset_sequences(conn)
        # Images before the commit: if writing them fails, no rows name missing files.
        for entry in manifest["images"]:
            target = image_root / entry["file"][len("images/"):]
            if not (target.is_file() and target.stat().st_size == entry["bytes"]):
                handle = archive.extractfile(entry["file"])
                assert handle is not None
                _put_file(target, handle)
            report.images += 1
            report.image_bytes += entry["bytes"]
    return report
