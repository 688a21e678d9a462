"""Benchmark: issuing the next pair and recording the answer on large pools (issue #6).

For each pool size (--items, default 1k, 10k and 100k items) builds a pool of
--models models (every item has every model's output) with --judgments
judgments already stored (by 200 other experts, with their count cells), as
plain rows (no image files), then times --rounds requests of one expert
through the Flask app, server-side (no network):
``POST /api/v1/pools/<pool>/assignments`` and
``POST /api/v1/assignments/<id>/judgment``. Prints median and p95 of each
against the targets (p95 < 25 ms), so the cost can be seen not to grow with
the number of items. Beside each wall-clock p95 is the p95 of the CPU time
the app's own thread spent (with SQLite, in-process, that is nearly all the
work; on a shared, loaded machine it is the steadier figure). A figure, not
a test.

    .venv/bin/python scripts/bench_scheduler.py [--database-url URL] [--scheduler active|uniform]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import json
import tempfile
import time
import uuid

import numpy as np
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

from pairwise import create_app, pools
from pairwise.auth import add_user, create_token
from pairwise.config import normalise_database_url
from pairwise.db import get_db, get_engine
from pairwise.migrate import upgrade
from pairwise.schema import Assignment, Image, Item, Judgment, JudgmentCell, Model, Output, utcnow

TARGET_MS = 25.0
CHUNK = 20_000


def _insert(db, table, rows) -> None:  # type: ignore[no-untyped-def]
    for start in range(0, len(rows), CHUNK):
        db.execute(insert(table), rows[start:start + CHUNK])


def build(db, name: str, n_items: int, n_models: int, n_judgments: int, scheduler: str, seed: int) -> None:  # type: ignore[no-untyped-def]
    """A pool of plain rows: items, outputs, judgments (with assignments and cells)."""
    rng = np.random.default_rng(seed)
    pool = pools.create_pool(db, name, {"scheduler": scheduler})
    first_image = (db.scalar(select(func.max(Image.id))) or 0) + 1
    # Every output may share a handful of images: the scheduler never reads pixels.
    db.execute(insert(Image), [{"id": first_image + i, "sha256": uuid.uuid4().hex * 2, "width": 1, "height": 1,
                                "byte_size": 1} for i in range(n_models + 1)])
    models = [Model(pool_id=pool.id, name=f"model-{k}") for k in range(n_models)]
    db.add_all(models)
    db.flush()
    model_ids = np.array([m.id for m in models])
    first_item = (db.scalar(select(func.max(Item.id))) or 0) + 1
    categories = ("a", "b", "c")
    _insert(db, Item, [{"id": first_item + i, "pool_id": pool.id, "external_id": f"item-{i}",
                        "category": categories[i % 3], "instruction": "edit", "source_image_id": first_image,
                        "pick_key": float(rng.random())} for i in range(n_items)])
    first_output = (db.scalar(select(func.max(Output.id))) or 0) + 1
    _insert(db, Output, [{"id": first_output + i * n_models + k, "item_id": first_item + i,
                          "model_id": int(model_ids[k]), "image_id": first_image + 1 + k}
                         for i in range(n_items) for k in range(n_models)])
    experts = [add_user(db, f"{name}-rater-{e}@example.com", "bench-password-1", "expert") for e in range(200)]
    # Judgments: random expert, item and model pair; one per (expert, item, pair).
    expert = rng.integers(len(experts), size=n_judgments)
    item = rng.integers(n_items, size=n_judgments)
    a = rng.integers(n_models, size=n_judgments)
    b = (a + rng.integers(1, n_models, size=n_judgments)) % n_models
    low, high = np.minimum(a, b), np.maximum(a, b)
    key = (expert * n_items + item) * n_models * n_models + low * n_models + high
    _unique, keep = np.unique(key, return_index=True)
    expert, item, a, b = expert[keep], item[keep], a[keep], b[keep]
    choice = np.where(rng.random(len(keep)) < 0.5, "left", "right")
    first_assignment = (db.scalar(select(func.max(Assignment.id))) or 0) + 1
    stamp = utcnow()
    _insert(db, Assignment, [{"id": first_assignment + j, "pool_id": pool.id, "item_id": first_item + int(item[j]),
                              "expert_id": experts[int(expert[j])].id,
                              "left_output_id": first_output + int(item[j]) * n_models + int(a[j]),
                              "right_output_id": first_output + int(item[j]) * n_models + int(b[j]),
                              "issued_at": stamp, "expires_at": stamp, "is_open": False}
                             for j in range(len(keep))])
    _insert(db, Judgment, [{"assignment_id": first_assignment + j, "pool_id": pool.id,
                            "category": categories[int(item[j]) % 3], "expert_id": experts[int(expert[j])].id,
                            "left_model_id": int(model_ids[a[j]]), "right_model_id": int(model_ids[b[j]]),
                            "choice": str(choice[j]), "rationale": "bulk", "tags_left": [], "tags_right": [],
                            "seconds": 30.0, "created_at": stamp,
                            "low_output_id": first_output + int(item[j]) * n_models + int(min(a[j], b[j])),
                            "high_output_id": first_output + int(item[j]) * n_models + int(max(a[j], b[j]))}
                           for j in range(len(keep))])
    cells: dict[tuple[str, int, int, str], int] = {}
    for j in range(len(keep)):
        cell = (categories[int(item[j]) % 3], int(model_ids[a[j]]), int(model_ids[b[j]]), str(choice[j]))
        cells[cell] = cells.get(cell, 0) + 1
    _insert(db, JudgmentCell, [{"pool_id": pool.id, "category": c, "left_model_id": left, "right_model_id": right,
                                "choice": ch, "n": n} for (c, left, right, ch), n in cells.items()])
    if db.get_bind().dialect.name == "postgresql":  # rows given explicit ids leave the sequences behind
        for table in ("image", "item", "output", "assignment"):
            db.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"))


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--items", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--judgments", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--scheduler", default="active", choices=("active", "uniform"))
    parser.add_argument("--profile", action="store_true",
                        help="print where the next-pair requests spend their time (cProfile, top 30)")
    args = parser.parse_args()
    profiler = cProfile.Profile() if args.profile else None
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
    client = app.test_client()
    database = "PostgreSQL" if drop else "SQLite"
    lines = [f"{args.models} models, {args.judgments:,} judgments stored, scheduler {args.scheduler}, "
             f"{database}, {args.rounds} rounds, server-side through the Flask app (no network)",
             "| items | next pair median | next pair p95 (app CPU) | judgment median | judgment p95 (app CPU) | target p95 |",
             "| --- | --- | --- | --- | --- | --- |"]
    try:
        with app.app_context():
            upgrade(get_engine())
        for n in args.items:
            name = f"big-{n}"
            started = time.perf_counter()
            with app.app_context():
                db = get_db()
                build(db, name, n, args.models, args.judgments, args.scheduler, seed=n)
                user = add_user(db, f"{name}-bench@example.com", "bench-password-1", "expert")
                token = create_token(db, user)
                db.commit()
                if drop:
                    db.execute(text("ANALYZE"))
                    db.commit()
            built = time.perf_counter() - started
            headers = {"Authorization": f"Bearer {token}"}
            issue, judge, issue_cpu, judge_cpu = [], [], [], []
            for _ in range(args.rounds):
                if profiler is not None:
                    profiler.enable()
                start, cpu = time.perf_counter(), time.thread_time()
                response = client.post(f"/api/v1/pools/{name}/assignments", headers=headers)
                if profiler is not None:
                    profiler.disable()
                issue.append(1000 * (time.perf_counter() - start))
                issue_cpu.append(1000 * (time.thread_time() - cpu))
                assert response.status_code == 201, response.get_data(as_text=True)
                start, cpu = time.perf_counter(), time.thread_time()
                answer = client.post(response.json["submit_url"], headers=headers,
                                     data=json.dumps({"choice": "left", "rationale": "benchmark rationale text"}),
                                     content_type="application/json")
                judge.append(1000 * (time.perf_counter() - start))
                judge_cpu.append(1000 * (time.thread_time() - cpu))
                assert answer.status_code == 201, answer.get_data(as_text=True)
            lines.append(f"| {n:,} | {np.median(issue):.1f} ms | {p95(issue):.1f} ms ({p95(issue_cpu):.1f} ms CPU) | "
                         f"{np.median(judge):.1f} ms | {p95(judge):.1f} ms ({p95(judge_cpu):.1f} ms CPU) | "
                         f"< {TARGET_MS:.0f} ms: {'met' if max(p95(issue), p95(judge)) < TARGET_MS else 'NOT met'} |")
            print(f"{n:,} items: built in {built:.0f} s; {lines[-1]}", flush=True)
        with app.app_context():
            get_engine().dispose()
    finally:
        if drop is not None:
            admin, name = drop
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    print("\n".join(lines))
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
