"""Stale pairs, what experts see of pools, private database files, and a demo that stays out of production."""

from __future__ import annotations

import stat
from pathlib import Path

from sqlalchemy import func, select


GOOD = {"choice": "left", "rationale": "A keeps the fabric texture, B is smeared"}


# ----- pairs issued before a change ---------------------------------------------------

def test_a_pair_issued_before_the_pool_closed_cannot_be_judged(client, make_pool, make_user, token_for,
                                                                table_counts) -> None:
    make_pool()
    expert, admin = token_for(make_user("expert")), token_for(make_user("admin"))
    issued = client.post("/api/v1/pools/pool-1/assignments", headers=expert).json
    assert client.patch("/api/v1/pools/pool-1", headers=admin, json={"settings": {"open": False}}).status_code == 200
    before = table_counts()
    response = client.post(issued["submit_url"], headers=expert, json=GOOD)
    assert response.status_code == 409 and "closed" in response.json["error"]
    assert table_counts() == before
    client.patch("/api/v1/pools/pool-1", headers=admin, json={"settings": {"open": True}})
    assert client.post(issued["submit_url"], headers=expert, json=GOOD).status_code == 201


def test_a_pair_outside_narrowed_categories_cannot_be_judged(app, client, runner, make_pool, make_user,
                                                             token_for, table_counts) -> None:
    make_pool(categories=("apparel", "food"), items=1)
    user = make_user("expert")
    expert = token_for(user)
    issued = client.post("/api/v1/pools/pool-1/assignments", headers=expert).json
    other = "food" if issued["category"] == "apparel" else "apparel"
    # Narrowed behind the scheduler's back (a direct database edit): refused at submission.
    from pairwise.db import get_db
    from pairwise.schema import User
    with app.app_context():
        db = get_db()
        db.get(User, user.id).categories = other
        db.commit()
    before = table_counts()
    response = client.post(issued["submit_url"], headers=expert, json=GOOD)
    assert response.status_code == 403 and "no longer one of yours" in response.json["error"]
    assert table_counts() == before

    # Narrowed with the CLI: the open pair is withdrawn and the next one fits.
    assert runner.invoke(args=["users", "categories", user.email, "all"]).exit_code == 0
    result = runner.invoke(args=["users", "categories", user.email, other])
    assert result.exit_code == 0 and "1 open pair(s) withdrawn" in result.output
    again = client.post("/api/v1/pools/pool-1/assignments", headers=expert).json
    assert again["id"] != issued["id"] and again["category"] == other
    assert client.post(issued["submit_url"], headers=expert, json=GOOD).status_code == 410
    bad = runner.invoke(args=["users", "categories", user.email, " "])
    assert bad.exit_code == 1 and "'all' or a comma-separated list" in bad.output


# ----- what experts see -----------------------------------------------------------------

def test_experts_see_neither_closed_pools_nor_counts(client, make_pool, make_user, token_for, login) -> None:
    make_pool("open-pool")
    make_pool("closed-pool")
    make_pool("food-pool", categories=("food",))
    admin = token_for(make_user("admin"))
    client.patch("/api/v1/pools/closed-pool", headers=admin, json={"settings": {"open": False}})
    user = make_user("expert", categories=["apparel"])
    expert = token_for(user)

    listed = client.get("/api/v1/pools", headers=expert).json["pools"]
    assert [p["name"] for p in listed] == ["open-pool"]
    assert set(listed[0]) == {"name", "settings", "categories"}
    assert set(listed[0]["settings"]) == {"rationale_min_chars", "open"}
    for name in ("closed-pool", "food-pool"):
        assert client.get(f"/api/v1/pools/{name}", headers=expert).status_code == 404
    assert "models" not in client.get("/api/v1/pools/open-pool", headers=expert).json

    # Researchers and admins still see everything, counts included.
    researcher = client.get("/api/v1/pools", headers=token_for(make_user("researcher"))).json["pools"]
    assert {p["name"] for p in researcher} == {"open-pool", "closed-pool", "food-pool"}
    assert all({"models", "judgments", "items"} <= set(p) for p in researcher)

    login(user)
    home = client.get("/").get_data(as_text=True)
    assert "open-pool" in home and "closed-pool" not in home and "food-pool" not in home
    assert "<th>Models</th>" not in home and "<th>Judgments</th>" not in home
    assert client.get("/pools/closed-pool/judge").status_code == 404
    assert client.get("/pools/food-pool/judge").status_code == 404
    assert client.get("/pools/open-pool/judge").status_code == 200


# ----- private files -----------------------------------------------------------------------

def test_a_new_sqlite_database_and_its_wal_are_private(tmp_path) -> None:
    from pairwise.db import make_engine
    from pairwise.migrate import upgrade
    path = tmp_path / "fresh.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:  # WAL mode: -wal and -shm exist while a connection is open
        conn.exec_driver_sql("SELECT 1")
        files = [p for p in tmp_path.iterdir() if p.name.startswith("fresh.db")]
        assert {p.name for p in files} >= {"fresh.db", "fresh.db-wal"}
        for p in files:
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p.name
    engine.dispose()


def test_the_instance_folder_is_created_private(tmp_path) -> None:
    from pairwise.config import private_dir, secret_key
    instance = tmp_path / "deep" / "instance"
    secret_key(instance)
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
    assert stat.S_IMODE((instance / "secret_key").stat().st_mode) == 0o600
    existing = tmp_path / "shared"
    existing.mkdir(mode=0o755)
    existing.chmod(0o755)
    private_dir(existing)
    assert stat.S_IMODE(existing.stat().st_mode) == 0o755  # an operator's own folder is left as it is


def test_create_app_makes_its_default_instance_private() -> None:
    source = (Path(__file__).parents[1] / "pairwise" / "__init__.py").read_text()
    assert "config.private_dir(instance)" in source and "instance.mkdir(" not in source


# ----- the demo ---------------------------------------------------------------------------------

def test_demo_refuses_a_database_with_other_accounts_unless_forced(app, runner, make_user, table_counts) -> None:
    from pairwise.db import get_db
    from pairwise.schema import User
    make_user("admin", email="real-admin@company.example")
    before = table_counts()
    refused = runner.invoke(args=["demo", "--simulate", "0"])
    assert refused.exit_code == 1
    assert "--force" in refused.output and "published passwords" in refused.output
    assert table_counts() == before
    forced = runner.invoke(args=["demo", "--simulate", "0", "--force"])
    assert forced.exit_code == 0, forced.output
    with app.app_context():
        assert get_db().scalar(select(func.count()).select_from(User)) == 4


def test_demo_refuses_postgresql_unless_forced(app, runner, table_counts) -> None:
    """The SQLite run checks an empty SQLite database is accepted; the PostgreSQL run, the refusal."""
    from pairwise.db import get_db
    from pairwise.demo import check_demo_database
    before = table_counts()
    with app.app_context():
        postgres = get_db().get_bind().dialect.name == "postgresql"
        if not postgres:
            check_demo_database(get_db())  # no error: an empty SQLite database is the demo's home
    if postgres:
        result = runner.invoke(args=["demo", "--simulate", "0"])
        assert result.exit_code == 1 and "PostgreSQL" in result.output and "--force" in result.output
    assert table_counts() == before
