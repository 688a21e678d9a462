#!/usr/bin/env python
"""Benchmark the judgment browser and the artifact rates on a pool with a million judgments.

Prints one line per figure; checks nothing (it is not a test) and exits 0.
Builds the pool as scripts/bench_leaderboard.py does (real schema, bulk
inserts, a temporary SQLite file or a fresh PostgreSQL database dropped at the
end), then adds what this benchmark reads: artifact tags on ~15 % of the
judgments' sides (marks and the judgments' tag lists), "unacceptable" on
~10 % of sides, one rubric criterion answered on every judgment, and a rare
rationale phrase on 100 judgments.

    .venv/bin/python scripts/bench_browser.py                 # SQLite in a temp dir
    .venv/bin/python scripts/bench_browser.py --database-url postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python scripts/bench_browser.py --judgments 100000

Each figure is the median of ``--repeat`` requests through the Flask test
client (in process, researcher session, body read in full), after one
unmeasured request (template compilation, the database's caches). "first
page" is the newest 25 matches; "deep page" starts below the middle id (a
keyset page: ``id < before``), which is where OFFSET paging would be slow.
"""

from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_leaderboard as base  # noqa: E402
from sqlalchemy import bindparam, insert, select, text, update  # noqa: E402

from pairwise import create_app  # noqa: E402
from pairwise.db import make_engine  # noqa: E402
from pairwise.schema import Judgment, JudgmentCriterion, JudgmentMark, Model, Pool, User  # noqa: E402
from pairwise.vocabulary import TAGS  # noqa: E402

RARE = "zebra-stripes on the hem"


def add_evidence(engine, data: base.Synthetic, seed: int) -> dict[str, float]:
    """Marks, criterion answers and rare rationales for the synthetic judgments."""
    rng = np.random.default_rng(seed + 1)
    tags = list(TAGS)
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    with engine.begin() as conn:
        pool_id = conn.scalar(select(Pool.id).where(Pool.name == base.POOL))
        conn.execute(update(Pool).where(Pool.id == pool_id).values(
            criteria=[{"name": "texture", "label": "Texture", "required": True}]))
        model_ids = np.array([conn.scalar(select(Model.id).where(Model.pool_id == pool_id,
                                                                  Model.name == data.model_name(m)))
                              for m in range(data.k)])
    categories = np.array(data.categories, dtype=object)[data.item // data.items_per_category]
    answers = np.array(["left", "right", "same"], dtype=object)
    for part in base.batches(data.n):
        ids = np.arange(part.start, part.stop) + 1
        left, right = model_ids[data.left[part]], model_ids[data.right[part]]
        cats = categories[part]
        marks, tag_updates = [], []
        for side, models in (("left", left), ("right", right)):
            tagged = rng.random(len(ids)) < 0.15
            tag_of = rng.integers(len(tags), size=len(ids))
            unacceptable = rng.random(len(ids)) < 0.10
            for k in np.flatnonzero(tagged):
                marks.append({"judgment_id": int(ids[k]), "side": side, "mark": tags[tag_of[k]],
                              "pool_id": pool_id, "category": cats[k], "model_id": int(models[k])})
                tag_updates.append({"jid": int(ids[k]), "side": side, "tags": [tags[tag_of[k]]]})
            for k in np.flatnonzero(unacceptable):
                marks.append({"judgment_id": int(ids[k]), "side": side, "mark": "unacceptable",
                              "pool_id": pool_id, "category": cats[k], "model_id": int(models[k])})
        answer = answers[rng.integers(3, size=len(ids))]
        with engine.begin() as conn:
            conn.execute(insert(JudgmentMark), marks)
            conn.execute(insert(JudgmentCriterion), [
                {"judgment_id": int(j), "criterion": "texture", "answer": a, "pool_id": pool_id,
                 "category": c, "left_model_id": int(lm), "right_model_id": int(rm)}
                for j, a, c, lm, rm in zip(ids, answer, cats, left, right, strict=True)])
            for side in ("left", "right"):
                rows = [u for u in tag_updates if u["side"] == side]
                if rows:
                    column = Judgment.tags_left if side == "left" else Judgment.tags_right
                    conn.execute(update(Judgment).where(Judgment.id == bindparam("jid"))
                                 .values({column: bindparam("tags")}).execution_options(synchronize_session=False),
                                 [{"jid": r["jid"], "tags": r["tags"]} for r in rows])
    with engine.begin() as conn:  # the count cells, as the judgments' transactions would have kept them
        conn.execute(text("INSERT INTO mark_cell (pool_id, category, model_id, mark, n) "
                          "SELECT pool_id, category, model_id, mark, COUNT(*) FROM judgment_mark "
                          "GROUP BY pool_id, category, model_id, mark"))
        conn.execute(text("INSERT INTO criterion_cell (pool_id, criterion, category, left_model_id, right_model_id, "
                          "answer, n) SELECT pool_id, criterion, category, left_model_id, right_model_id, answer, "
                          "COUNT(*) FROM judgment_criterion "
                          "GROUP BY pool_id, criterion, category, left_model_id, right_model_id, answer"))
        rare = sorted(rng.choice(data.n, size=100, replace=False) + 1)
        conn.execute(update(Judgment).where(Judgment.id.in_([int(r) for r in rare]))
                     .values(rationale=RARE))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    times["marks, criterion answers, rare rationales"] = time.perf_counter() - t0
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--judgments", type=int, default=1_000_000)
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--categories", type=int, default=5)
    parser.add_argument("--items-per-category", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, default=None,
                        help="SQLite only: keep the database in this folder, and reuse it when it is there")
    args = parser.parse_args(argv)

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="pairwise-bench-browser-"))
    workdir.mkdir(parents=True, exist_ok=True)
    reuse = args.keep is not None and (workdir / "bench.db").exists()
    try:
        with base.database(args.database_url, workdir) as url:
            engine = make_engine(url)
            data = base.synthetic(args.judgments, args.models, args.categories, args.items_per_category, args.seed)
            if reuse:
                seeded = fresh_logins(engine)
            else:
                seeded = base.seed_database(engine, data)
                seeded.seconds.update(add_evidence(engine, data, args.seed))
            with engine.connect() as conn:
                expert_id = conn.scalar(select(User.id).where(User.email == "seed-expert-03@bench.example"))
            engine.dispose()
            print(f"database: {engine.dialect.name}; {data.n:,} judgments, {data.k} models, "
                  f"{len(data.categories)} categories")
            for what, seconds in seeded.seconds.items():
                print(f"  seeding: {what}: {seconds:.1f} s")
            run(url, workdir / "images", data, seeded, expert_id, args.repeat)
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def fresh_logins(engine) -> base.Seeded:
    """A new researcher token on a kept database (tokens are stored hashed only)."""
    from sqlalchemy.orm import Session

    from pairwise.auth import create_token, find_user
    with Session(engine) as db:
        token = create_token(db, find_user(db, "researcher@bench.example"))
        db.commit()
    return base.Seeded(researcher_email="researcher@bench.example", researcher_token=token, expert_token="",
                       seconds={"reused": 0.0})


def run(url: str, image_dir: Path, data: base.Synthetic, seeded: base.Seeded, expert_id: int, repeat: int) -> None:
    app = create_app({"DATABASE_URL": url, "IMAGE_DIR": str(image_dir), "SECRET_KEY": "bench-secret"})
    client = app.test_client()
    form = client.get("/login").get_data(as_text=True)
    base.request(client, "/login", method="POST", expect=302,
                 data={"email": seeded.researcher_email, "password": base.PASSWORD,
                       "csrf_token": base.csrf_token(form)})
    api = {"Authorization": f"Bearer {seeded.researcher_token}"}
    a, b = data.model_name(3), data.model_name(7)
    middle = data.n // 2
    filters = [
        ("no filter", ""),
        ("category", f"category={data.categories[0]}"),
        ("model", f"model={a}"),
        ("model pair", f"model={a}&versus={b}"),
        ("choice", "choice=both_bad"),
        ("tag", "tag=halo"),
        ("model + tag (on its side)", f"model={a}&tag=halo"),
        ("unacceptable", "tag=unacceptable"),
        ("criterion answer", "criterion=texture&answer=same"),
        ("expert", f"expert=expert-{expert_id}"),
        ("rationale text, common (1 in 12)", "q=halos"),
        ("rationale text, rare (100 rows)", "q=zebra"),
        ("category + model + tag + text", f"category={data.categories[0]}&model={a}&tag=halo&q=sleeve"),
    ]
    page = f"/pools/{base.POOL}/judgments"
    print(f"\n{'filter':<36} {'first page':>12} {'deep page':>12}   (median of {repeat}, ms)")
    for name, query in filters:
        figures = []
        for extra in ("", f"&before={middle}"):
            target = f"{page}?{query}{extra}"
            base.request(client, target)  # unmeasured: templates, caches
            figures.append(statistics.median(base.request(client, target)[0] for _ in range(repeat)))
        print(f"{name:<36} {figures[0]:>10.1f}   {figures[1]:>10.1f}")

    print()
    for name, target in [
        ("artifact rates API, all categories", f"/api/v1/pools/{base.POOL}/artifacts"),
        ("artifact rates API, one category", f"/api/v1/pools/{base.POOL}/artifacts?category={data.categories[0]}"),
        ("leaderboard page (with heat map)", f"/pools/{base.POOL}/leaderboard"),
        ("criterion leaderboard API (closed form)", f"/api/v1/pools/{base.POOL}/leaderboard?criterion=texture&bootstrap=0"),
    ]:
        headers = api if target.startswith("/api/") else None
        base.request(client, target, headers=headers)
        ms = statistics.median(base.request(client, target, headers=headers)[0] for _ in range(repeat))
        print(f"{name:<44} {ms:>10.1f} ms")
    for name, query in [("filtered CSV download (model + tag)", f"model={a}&tag=halo"),
                        ("filtered CSV download (rare text)", "q=zebra")]:
        ms, response = base.request(client, f"/api/v1/pools/{base.POOL}/judgments?format=csv&{query}", headers=api)
        rows = response.get_data(as_text=True).count("\n") - 1
        print(f"{name:<44} {ms:>10.1f} ms  ({rows:,} rows)")


if __name__ == "__main__":
    raise SystemExit(main())
