"""Database wiring: the declarative Base, one engine per app, one session per request."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _sqlite_pragmas(busy_seconds: float) -> Any:
    def pragmas(dbapi_connection: Any, _record: Any) -> None:
        # WAL lets the judge page read while another worker writes; foreign keys
        # are off by default in SQLite; the busy timeout rides out short write locks.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_seconds * 1000)}")
        cursor.close()

    return pragmas


def _create_private_sqlite_file(url: str) -> None:
    """Create a new SQLite database file owner-only (0600) before SQLite creates
    it with the umask's default (often world-readable): it holds password
    hashes and every judgment. SQLite gives its -wal and -shm files the same mode."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if path.exists() or not path.parent.is_dir():
        return
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass  # another worker made it first, the same way


def make_engine(url: str, *, busy_seconds: float = 10) -> Engine:
    """``busy_seconds``: how long an SQLite write waits for another's lock before
    the request gives up (503, see outage.py)."""
    if url.startswith("sqlite"):
        _create_private_sqlite_file(url)
        engine = create_engine(url, connect_args={"timeout": busy_seconds})
        event.listen(engine, "connect", _sqlite_pragmas(busy_seconds))
        return engine
    # pool_pre_ping: after a database restart the first request drops the dead
    # connections instead of failing on them; connect_timeout bounds how long
    # a request waits on an unreachable server before it answers 503.
    return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 5})


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"], busy_seconds=app.config.get("SQLITE_BUSY_SECONDS", 10))
    app.extensions["pairwise.engine"] = engine
    app.extensions["pairwise.sessionmaker"] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(close_db)


def get_engine() -> Engine:
    return current_app.extensions["pairwise.engine"]


def get_db() -> Session:
    """The session of this request or CLI command; commit is the caller's job."""
    if "db" not in g:
        g.db = current_app.extensions["pairwise.sessionmaker"]()
    return g.db


def close_db(_exc: BaseException | None = None) -> None:
    session: Session | None = g.pop("db", None)
    if session is not None:
        try:
            session.close()  # rolls back anything left uncommitted
        except DBAPIError as exc:
            # The database went away after the response was made (a restart
            # between the last query and this rollback): the transaction died
            # with the connection, which the pool has dropped. Nothing to undo,
            # and no reason to turn an answered request into a 500.
            from .outage import is_outage
            if not is_outage(exc):
                raise


def dialect_insert(db: Session) -> Any:
    """The INSERT with ON CONFLICT support for this session's database."""
    return postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert


def lock_for_issuing(db: Session, pool_id: int, expert_id: int) -> None:
    """Serialise this transaction's read-then-write with any other for the same
    expert and pool, until commit or rollback.

    PostgreSQL: a transaction-scoped advisory lock on (pool, expert), so other
    experts' requests never wait. SQLite allows one writer at a time anyway:
    the transaction is made a write transaction now (``BEGIN IMMEDIATE``)
    rather than at its first write, so what it reads cannot change before it
    writes.
    """
    connection = db.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                           {"key": f"pairwise.issue:{pool_id}:{expert_id}"})
        return
    raw = connection.connection.dbapi_connection
    if raw is not None and not raw.in_transaction:  # already writing: the lock is held
        connection.exec_driver_sql("BEGIN IMMEDIATE")
