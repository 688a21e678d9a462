from __future__ import annotations

from sqlalchemy import func, select


def test_demo_builds_once(runner, app, table_counts) -> None:
    from pairwise.db import get_db
    from pairwise.schema import Item, Judgment, Model, Output, Pool
    result = runner.invoke(args=["demo", "--simulate", "30"])
    assert result.exit_code == 0, result.output
    assert "expert@example.com" in result.output and "password" in result.output
    with app.app_context():
        db = get_db()
        categories = db.scalars(select(Item.category).distinct()).all()
        assert len(categories) >= 3
        per_category = db.execute(select(Item.category, func.count()).group_by(Item.category)).all()
        assert all(n >= 8 for _, n in per_category)
        assert db.scalar(select(func.count()).select_from(Model)) >= 4
        assert db.scalar(select(func.count()).select_from(Output)) == \
            db.scalar(select(func.count()).select_from(Item)) * db.scalar(select(func.count()).select_from(Model))
        assert db.scalar(select(func.count()).select_from(Judgment)) == 30
        assert db.scalar(select(Pool.scheduler).where(Pool.name == "demo")) == "active"
    counts = table_counts()
    again = runner.invoke(args=["demo", "--simulate", "30"])
    assert again.exit_code == 0 and "0 new items" in again.output
    assert table_counts() == counts  # idempotent: nothing duplicated

    board = runner.invoke(args=["leaderboard", "demo", "--format", "csv", "--bootstrap", "0"])
    assert board.exit_code == 0 and "careful" in board.output
