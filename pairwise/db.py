"""Database wiring: the declarative Base, one engine per app, one session per request."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine, MetaData, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
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


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the judge page read while another worker writes; foreign keys
    # are off by default in SQLite; the busy timeout rides out short write locks.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"])
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
        session.close()  # rolls back anything left uncommitted


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
