"""Alembic, driven from code: `pairwise db upgrade` and the tests use these."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

# migrations/ sits beside the package in the checkout; an installed copy can
# point elsewhere with PAIRWISE_MIGRATIONS_DIR.
MIGRATIONS_DIR = Path(os.environ.get("PAIRWISE_MIGRATIONS_DIR")
                      or Path(__file__).resolve().parent.parent / "migrations")


def _config(connection: object) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.begin() as connection:
        command.upgrade(_config(connection), revision)


def downgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as connection:
        command.downgrade(_config(connection), revision)


def check(engine: Engine) -> None:
    """Raise if the tables in schema.py and the migrations disagree."""
    with engine.connect() as connection:
        command.check(_config(connection))
