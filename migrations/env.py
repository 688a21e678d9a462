"""Alembic environment: runs on the connection `pairwise db upgrade` hands over,
or on PAIRWISE_DATABASE_URL / sqlalchemy.url when run by the alembic command."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine

from pairwise.config import normalise_database_url
from pairwise.db import Base
import pairwise.schema  # noqa: F401  (registers the tables on Base.metadata)

config = context.config
target_metadata = Base.metadata


def _configure(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things in place
        compare_type=True,
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = os.environ.get("PAIRWISE_DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("set PAIRWISE_DATABASE_URL (or run `pairwise db upgrade`)")
    engine = create_engine(normalise_database_url(url))
    with engine.connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `pairwise db upgrade`")
run_migrations_online()
