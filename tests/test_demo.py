from __future__ import annotations

from sqlalchemy import func, select


def test_demo_builds_once(runner, app, table_counts) -> None:
    from pairwise.db import get_db
    from pairwise.schema import Item, Judgment, Model, Output, Pool
    # PostgreSQL is refused without --force (tests/test_instance_safety.py).
    force = ["--force"] if app.config["DATABASE_URL"].startswith("postgresql") else []
    result = runner.invoke(args=["demo", "--simulate", "30", *force])
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
    again = runner.invoke(args=["demo", "--simulate", "30", *force])
    assert again.exit_code == 0 and "0 new items" in again.output
    assert table_counts() == counts  # idempotent: nothing duplicated

    board = runner.invoke(args=["leaderboard", "demo", "--format", "csv", "--bootstrap", "0"])
    assert board.exit_code == 0 and "careful" in board.output

    # The simulated experts tag each flawed model with its own flaw (more judgments: no new images).
    assert runner.invoke(args=["demo", "--simulate", "240", *force]).exit_code == 0
    from pairwise import evidence, synthetic
    from pairwise.artifacts import separating
    from pairwise.schema import Pool
    with app.app_context():
        db = get_db()
        pool = db.scalar(select(Pool).where(Pool.name == "demo"))
        table = evidence.artifact_rates(db, pool)
        unacceptable = evidence.unacceptable_rates(db, pool)
    flagged = {(r.model, r.tag) for r in separating(table) if r.direction == "more"}
    assert flagged == set(synthetic.FLAW_TAGS.items())  # each flaw, and only the flaws, stand out
    assert unacceptable["careful"].rate < min(unacceptable[m].rate for m in synthetic.FLAW_TAGS)
    heat = runner.invoke(args=["artifacts", "demo"])
    assert "halo-sharpen: Halos flagged more often" in heat.output
