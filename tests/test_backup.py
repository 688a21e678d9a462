"""Backups: a consistent archive while serving; restore into an empty instance, across databases."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from .conftest import PASSWORD, _fresh_postgres
from .test_cli import judge_everything


@pytest.fixture()
def fresh(database_url: str, tmp_path: Path) -> Iterator[Any]:
    """Makes empty, migrated instances (an app each): SQLite, or the suite's own kind."""
    from pairwise import create_app
    from pairwise.db import make_engine
    from pairwise.migrate import upgrade

    made: list[tuple[Any, Any]] = []

    def make(kind: str, revision: str = "head") -> Any:
        n = len(made)
        if kind == "postgresql":
            url, drop = _fresh_postgres(database_url)
        else:
            url, drop = f"sqlite:///{tmp_path / f'fresh-{n}.db'}", (lambda: None)
        engine = make_engine(url)
        upgrade(engine, revision)
        engine.dispose()
        app = create_app({"TESTING": True, "DATABASE_URL": url, "IMAGE_DIR": str(tmp_path / f"images-{n}"),
                          "SECRET_KEY": "test-secret", "BOOTSTRAP_ROUNDS": 50})
        made.append((app, drop))
        return app

    yield make
    for app, drop in made:
        app.extensions["pairwise.engine"].dispose()
        drop()


def _cli(app: Any, *args: str) -> Any:
    from pairwise.cli import main
    return app.test_cli_runner().invoke(main, args=list(args))


def _populate(app: Any, client: Any, make_pool: Any, make_user: Any, token_for: Any) -> None:
    make_pool(categories=("apparel", "food"), items=2, rationale_min_chars=5)
    expert = make_user("expert")
    assert judge_everything(client, token_for(expert)) > 0
    admin = token_for(make_user("admin"))
    client.patch("/api/v1/pools/pool-1", headers=admin, json={"settings": {"gold_share": 0.1}})
    # A cached fit (bootstrap leaderboard) and audit entries are rows like any other.
    assert client.get("/api/v1/pools/pool-1/leaderboard?bootstrap=100", headers=admin).status_code == 200


def _leaderboards(app: Any) -> list[str]:
    boards = []
    for category in ("all", "apparel", "food"):
        result = _cli(app, "leaderboard", "pool-1", "--category", category, "--format", "csv", "--bootstrap", "100")
        assert result.exit_code == 0, result.output
        boards.append(result.output)
    return boards


def _manifest(path: Path) -> dict[str, Any]:
    with tarfile.open(path) as archive:
        handle = archive.extractfile("manifest.json")
        assert handle is not None
        return json.loads(handle.read())


def _contents(path: Path) -> tuple[list[tuple[str, int, str]], list[tuple[str, str]]]:
    manifest = _manifest(path)
    return ([(t["table"], t["rows"], t["sha256"]) for t in manifest["tables"]],
            [(i["file"], i["sha256"]) for i in manifest["images"]])


def _row_counts(app: Any) -> dict[str, int]:
    from pairwise.db import Base, get_db
    with app.app_context():
        db = get_db()
        return {t.name: db.scalar(select(func.count()).select_from(t)) or 0 for t in Base.metadata.sorted_tables}


def test_round_trip_through_sqlite_and_back(app, client, make_pool, make_user, token_for, tmp_path,
                                            database_url, fresh) -> None:
    """suite database -> SQLite -> the suite's kind (PostgreSQL in the PostgreSQL run):
    every row, every image and every leaderboard come back identical."""
    _populate(app, client, make_pool, make_user, token_for)
    first = tmp_path / "a.tar"
    made = _cli(app, "backup", str(first))
    assert made.exit_code == 0 and made.output.startswith(f"wrote {first}: "), made.output
    tables, images = _contents(first)
    assert {t for t, _, _ in tables} >= {"pool", "item", "judgment", "judgment_cell", "audit_event",
                                         "leaderboard_cache", "api_token", "user_account"}
    assert dict((t, n) for t, n, _ in tables) == _row_counts(app)
    assert len(images) > 0
    # Only stored images: display sizes and tiles are derived (made again on request).
    with app.app_context():
        from pairwise.context import current_store
        root = current_store().root
    (root / "ab" / "cd").mkdir(parents=True, exist_ok=True)
    derived = [root / "ab" / "cd" / ("ab" * 32 + ".preview.png"), root / "ab" / "cd" / ("ab" * 32 + ".d") / "tiles" / "0" / "0_0.png"]
    for path in derived:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"derived")
    assert all(name.endswith(".png") and ".preview." not in name and ".thumb." not in name and ".d/" not in name
               for name, _ in images)
    with_derived = tmp_path / "derived.tar"
    assert _cli(app, "backup", str(with_derived)).exit_code == 0
    assert _contents(with_derived)[1] == images
    for path in derived:
        path.unlink()

    sqlite_copy = fresh("sqlite")
    restored = _cli(sqlite_copy, "restore", str(first))
    assert restored.exit_code == 0 and restored.output.startswith(f"restored {first}: "), restored.output
    second = tmp_path / "b.tar"
    assert _cli(sqlite_copy, "backup", str(second)).exit_code == 0

    kind = make_url(database_url).get_backend_name()
    back = fresh(kind)
    assert _cli(back, "restore", str(second)).exit_code == 0
    third = tmp_path / "c.tar"
    assert _cli(back, "backup", str(third)).exit_code == 0

    assert _contents(first) == _contents(second) == _contents(third)
    boards = _leaderboards(app)
    assert _leaderboards(sqlite_copy) == boards and _leaderboards(back) == boards
    # The restored instance works: logins, tokens, images, and new rows get fresh ids.
    restored_client = back.test_client()
    page = restored_client.get("/login")
    assert page.status_code == 200
    from pairwise.auth import add_user, create_token
    from pairwise.db import get_db
    with back.app_context():
        db = get_db()
        token = create_token(db, add_user(db, "new@example.com", PASSWORD, "expert"))
        db.commit()
    headers = {"Authorization": f"Bearer {token}"}
    issued = restored_client.post("/api/v1/pools/pool-1/assignments", headers=headers)
    assert issued.status_code == 201
    with restored_client.get(issued.json["left"]["url"], headers=headers) as image:
        assert image.status_code == 200
    done = restored_client.post(issued.json["submit_url"], headers=headers,
                                json={"choice": "tie", "rationale": "after the restore"})
    assert done.status_code == 201, done.get_data(as_text=True)


def test_the_archive_is_one_snapshot_while_writes_go_on(app, client, make_pool, make_user, token_for,
                                                         tmp_path) -> None:
    from pairwise import audit, backup
    from pairwise.db import get_db, get_engine
    _populate(app, client, make_pool, make_user, token_for)
    before = _row_counts(app)
    writes = []

    def write_meanwhile(table: str) -> None:
        # After each table is read, another connection commits rows to this and
        # to later tables: the archive must not see any of them.
        with app.app_context():
            db = get_db()
            audit.record(db, "cli:test", "pool.update", f"after-{table}")
            db.commit()
        writes.append(table)

    with app.app_context():
        backup.backup(get_engine(), Path(app.config["IMAGE_DIR"]), tmp_path / "s.tar", after_table=write_meanwhile)
    assert len(writes) == len(before) and _row_counts(app)["audit_event"] == before["audit_event"] + len(writes)
    assert {t: n for t, n, _ in _contents(tmp_path / "s.tar")[0]} == before


def _damage(source: Path, target: Path, member: str) -> None:
    """Flip one byte inside one member's data."""
    with tarfile.open(source) as archive:
        offset = archive.getmember(member).offset_data
    data = bytearray(source.read_bytes())
    data[offset + 3] ^= 0x20
    target.write_bytes(bytes(data))


def test_damaged_or_mismatched_archives_change_nothing(app, client, make_pool, make_user, token_for,
                                                       tmp_path, fresh) -> None:
    _populate(app, client, make_pool, make_user, token_for)
    good = tmp_path / "good.tar"
    assert _cli(app, "backup", str(good)).exit_code == 0
    manifest = _manifest(good)
    judgments = next(t["file"] for t in manifest["tables"] if t["table"] == "judgment")
    target = fresh("sqlite")
    empty = _row_counts(target)

    cases = []
    damaged_table = tmp_path / "damaged-table.tar"
    _damage(good, damaged_table, judgments)
    cases.append((damaged_table, f"{judgments}: checksum mismatch (the archive is damaged)"))
    damaged_image = tmp_path / "damaged-image.tar"
    _damage(good, damaged_image, manifest["images"][0]["file"])
    cases.append((damaged_image, "checksum mismatch"))
    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    cases.append((truncated, "truncated.tar: "))
    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(b"not an archive at all" * 100)
    cases.append((garbage, "not a readable archive"))
    for path, reason in cases:
        result = _cli(target, "restore", str(path))
        assert result.exit_code == 1, result.output
        assert reason in result.output and len(result.output.strip().splitlines()) == 1, result.output
        assert _row_counts(target) == empty

    # A database that is not empty, or at another migration, is refused too.
    refused = _cli(app, "restore", str(good))
    assert refused.exit_code == 1 and "this database is not empty" in refused.output
    older = fresh("sqlite", revision="0002")
    refused = _cli(older, "restore", str(good))
    assert refused.exit_code == 1 and "this database is at 0002" in refused.output
    # And a backup never overwrites a file.
    again = _cli(app, "backup", str(good))
    assert again.exit_code == 1 and "already exists" in again.output
    assert _cli(target, "restore", str(good)).exit_code == 0
    assert _row_counts(target) == _row_counts(app)
