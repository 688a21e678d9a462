"""Alembic, driven from code: `pairwise db upgrade` and the tests use these."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine

# migrations/ sits beside the package in the checkout; an installed copy can
# point elsewhere with PAIRWISE_MIGRATIONS_DIR.
MIGRATIONS_DIR = Path(os.environ.get("PAIRWISE_MIGRATIONS_DIR")
                      or Path(__file__).resolve().parent.parent / "migrations")


def _config(connection: object) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


@contextmanager
def _migrating(engine: Engine) -> Iterator[Connection]:
    """One transaction for the migration run; on SQLite with foreign keys off.

    SQLite's ALTER TABLE cannot do most changes, so Alembic's batch mode copies
    a table, drops it and renames the copy; with foreign keys on, that DROP
    deletes every row referring to it (ON DELETE CASCADE): an upgrade would
    silently lose judgments. The pragma only takes effect outside a transaction.
    """
    with engine.connect() as connection:
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                yield connection
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def upgrade(engine: Engine, revision: str = "head") -> None:
    with _migrating(engine) as connection:
        command.upgrade(_config(connection), revision)


def downgrade(engine: Engine, revision: str) -> None:
    with _migrating(engine) as connection:
        command.downgrade(_config(connection), revision)


def check(engine: Engine) -> None:
    """Raise if the tables in schema.py and the migrations disagree."""
    with engine.connect() as connection:
        command.check(_config(connection))
