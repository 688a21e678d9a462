"""Fixtures: one migrated database per test session (SQLite by default,
PostgreSQL when PAIRWISE_TEST_DATABASE_URL is set), emptied after every test."""

from __future__ import annotations

import io
import os
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PASSWORD = "correct-horse-42"


def _fresh_postgres(url: str) -> tuple[str, Callable[[], None]]:
    """A new, empty database beside the given one, dropped at the end."""
    base = make_url(url)
    name = f"pairwise_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from pairwise.config import normalise_database_url
    from pairwise.db import make_engine
    from pairwise.migrate import upgrade

    given = os.environ.get("PAIRWISE_TEST_DATABASE_URL")
    if given:
        url, cleanup = _fresh_postgres(normalise_database_url(given))
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        cleanup = lambda: None  # noqa: E731
    engine = make_engine(url)
    upgrade(engine)  # the schema comes from the migrations, never create_all
    engine.dispose()
    yield url
    cleanup()


def _empty_tables(engine: Any) -> None:
    from pairwise.db import Base
    import pairwise.schema  # noqa: F401

    tables = Base.metadata.sorted_tables
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # A session leaked by a test would block TRUNCATE for ever: fail instead.
            conn.execute(text("SET LOCAL lock_timeout = '10s'"))
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(tables):
                conn.execute(table.delete())


@pytest.fixture()
def app(database_url: str, tmp_path: Path) -> Iterator[Any]:
    from pairwise import create_app
    from pairwise.db import get_engine

    app = create_app({
        "TESTING": True,
        "DATABASE_URL": database_url,
        "IMAGE_DIR": str(tmp_path / "images"),
        "SECRET_KEY": "test-secret",
        "BOOTSTRAP_ROUNDS": 200,
        "SCHEDULER_SEED": int(os.environ.get("PAIRWISE_TEST_SCHEDULER_SEED", "1")),
    })
    yield app
    with app.app_context():
        engine = get_engine()
        _empty_tables(engine)
        engine.dispose()


@pytest.fixture()
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture()
def runner(app: Any) -> Any:
    """Runs the `pairwise` command group against the test app."""
    from pairwise.cli import main

    class Runner:
        def __init__(self) -> None:
            self.base = app.test_cli_runner()

        def invoke(self, args: list[str], **kwargs: Any) -> Any:
            return self.base.invoke(main, args=args, **kwargs)

    return Runner()


# ----- factories --------------------------------------------------------------

def png_bytes(seed: int, size: tuple[int, int] = (48, 32), fmt: str = "PNG") -> bytes:
    """A small distinct image per seed."""
    image = Image.new("RGB", size, ((seed * 53) % 256, (seed * 97) % 256, (seed * 31) % 256))
    draw = ImageDraw.Draw(image)
    draw.rectangle((seed % 10, 3, 20 + seed % 17, 20), fill=((seed * 11) % 256, 200, 40))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture()
def make_user(app: Any) -> Callable[..., Any]:
    from pairwise.auth import add_user
    from pairwise.db import get_db

    def make(role: str = "expert", email: str | None = None, categories: list[str] | None = None) -> Any:
        with app.app_context():
            db = get_db()
            user = add_user(db, email or f"{role}-{uuid.uuid4().hex[:6]}@example.com", PASSWORD, role,
                            categories)
            db.commit()
            return user

    return make


@pytest.fixture()
def token_for(app: Any) -> Callable[[Any], dict[str, str]]:
    from pairwise.auth import create_token
    from pairwise.db import get_db
    from pairwise.schema import User

    def make(user: Any) -> dict[str, str]:
        with app.app_context():
            db = get_db()
            token = create_token(db, db.get(User, user.id))
            db.commit()
            return {"Authorization": f"Bearer {token}"}

    return make


@pytest.fixture()
def make_pool(app: Any) -> Callable[..., Any]:
    """A pool with ``items`` items per category, each with one output per model."""
    from pairwise import pools
    from pairwise.context import current_store
    from pairwise.db import get_db

    def make(name: str = "pool-1", categories: tuple[str, ...] = ("apparel",), items: int = 2,
             models: tuple[str, ...] = ("model-a", "model-b", "model-c"), **settings: Any) -> str:
        with app.app_context():
            db = get_db()
            # No gold or overlap pairs unless a test asks: most tests count pairs exactly.
            pool = pools.create_pool(db, name, {"gold_share": 0.0, "overlap_share": 0.0, **settings})
            seed = 1
            for category in categories:
                for k in range(items):
                    outputs = {}
                    for m in models:
                        seed += 1
                        outputs[m] = pools.Upload(f"{m}.png", png_bytes(seed))
                    seed += 1
                    pools.add_item(db, current_store(), pool, item_id=f"{category}-{k}",
                                   category=category, instruction=f"brighten {category} item {k}",
                                   source=pools.Upload("source.png", png_bytes(seed)), outputs=outputs)
            db.commit()
        return name

    return make


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html) or re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


@pytest.fixture()
def login(client: Any) -> Callable[[Any], str]:
    """Log the test client in through the real form; return the page's CSRF token."""

    def do(user: Any) -> str:
        page = client.get("/login").get_data(as_text=True)
        response = client.post("/login", data={"email": user.email, "password": PASSWORD,
                                               "csrf_token": csrf_from(page)})
        assert response.status_code == 302, response.get_data(as_text=True)
        return csrf_from(client.get("/").get_data(as_text=True))

    return do


@pytest.fixture()
def table_counts(app: Any) -> Callable[[], dict[str, int]]:
    """Row counts of every table: 'the database is unchanged' made checkable."""
    from sqlalchemy import func, select

    from pairwise.db import Base, get_db

    def counts() -> dict[str, int]:
        with app.app_context():
            db = get_db()
            return {t.name: db.scalar(select(func.count()).select_from(t)) or 0
                    for t in Base.metadata.sorted_tables}

    return counts


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A skipped test is not a passing test: any skip fails the run."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and reporter.stats.get("skipped") and exitstatus == 0:
        session.exitstatus = 1
