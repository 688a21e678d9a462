"""The migrations build the schema that schema.py describes, and step back down."""

from __future__ import annotations

from sqlalchemy import inspect

from pairwise.db import Base
from pairwise.migrate import check, downgrade, upgrade


def test_models_and_migrations_do_not_drift(app) -> None:
    from pairwise.db import get_engine
    with app.app_context():
        check(get_engine())  # raises if an autogenerate would find differences


def test_upgrade_downgrade_upgrade(tmp_path) -> None:
    from pairwise.db import make_engine
    import pairwise.schema  # noqa: F401
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_db_upgrade_command(runner) -> None:
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0 and "database at head" in result.output
