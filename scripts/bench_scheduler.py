"""Benchmark: issuing the next pair (and recording the answer) on a large pool.

Builds a pool of --items items x --models models as plain rows (no image
files), then times --rounds cycles of next_assignment + record_judgment for one
expert. Prints the median and the slowest cycle; a figure, not a test.

    .venv/bin/python scripts/bench_scheduler.py [--database-url URL] [--items 20000] [--models 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid

import numpy as np
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from pairwise import create_app, judging, pools
from pairwise.auth import add_user
from pairwise.config import normalise_database_url
from pairwise.db import get_db, get_engine
from pairwise.migrate import upgrade
from pairwise.schema import Image, Item, Model, Output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--models", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp()
    url, drop = f"sqlite:///{tmp}/bench.db", None
    if args.database_url:  # a fresh PostgreSQL database beside the given one, dropped at the end
        base = make_url(normalise_database_url(args.database_url))
        name = f"pairwise_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url, drop = base.set(database=name).render_as_string(hide_password=False), (admin, name)
    app = create_app({"DATABASE_URL": url, "IMAGE_DIR": tmp, "SECRET_KEY": "bench"})
    n, m = args.items, args.models
    try:
        with app.app_context():
            upgrade(get_engine())
            db = get_db()
            pool = pools.create_pool(db, "big", {})
            expert = add_user(db, "expert@example.com", "password-1", "expert")
            db.execute(insert(Image), [{"id": i + 1, "sha256": f"{i:064x}", "width": 1, "height": 1,
                                        "byte_size": 1} for i in range(n * (m + 1))])
            models = [Model(pool_id=pool.id, name=f"model-{k}") for k in range(m)]
            db.add_all(models)
            db.flush()
            db.execute(insert(Item), [{"id": i + 1, "pool_id": pool.id, "external_id": f"item-{i}",
                                       "category": ("a", "b", "c")[i % 3], "instruction": "edit",
                                       "source_image_id": i + 1} for i in range(n)])
            db.execute(insert(Output), [{"item_id": i + 1, "model_id": models[k].id,
                                         "image_id": n + i * m + k + 1} for i in range(n) for k in range(m)])
            db.commit()
            rng = np.random.default_rng(0)
            times = []
            for _ in range(args.rounds):
                start = time.perf_counter()
                assignment = judging.next_assignment(db, pool, expert, rng=rng, minutes=60)
                assert assignment is not None
                judging.record_judgment(db, assignment.id, expert,
                                        {"choice": "left", "rationale": "benchmark rationale text"})
                db.commit()
                times.append(time.perf_counter() - start)
            get_engine().dispose()
    finally:
        if drop is not None:
            admin, name = drop
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    print(f"pool of {n:,} items x {m} models ({'PostgreSQL' if drop else 'SQLite'}): next pair + judgment "
          f"median {1000 * np.median(times):.1f} ms, slowest {1000 * max(times):.1f} ms over {args.rounds} rounds")


if __name__ == "__main__":
    main()
