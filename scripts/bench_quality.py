"""Benchmark: does rater screening catch a careless and a side-biased expert, and
does excluding them restore the leaderboard?

Ten simulated experts judge through the real operations (``judging.next_assignment``
with the gold/overlap hook, ``judging.record_judgment``, the sentinel seeding,
``experts.pool_quality`` for the flags, ``experts.exclude`` and
``leaderboards.build_cached`` for the fit), in pools with gold_share 0.05 and
overlap_share 0.1. Per world:

- 8 good experts: Bradley-Terry on the true strengths with a small left bias
  (+0.2 logit); a sentinel's degraded copy is 4 logits worse than its original;
- 1 careless expert: clicks left/right at random half the time, and then fast
  (2-6 s; ``--careless-pace same``: as slow as careful judgments);
- 1 side-biased expert: Bradley-Terry with +1.2 logit towards the left.

Experts take turns; every 10 judgments each, the flags are read as an admin
would see them. At the end the flagged experts are excluded and the fit's
Kendall tau against the true order is compared with (a) the same world without
exclusion and (b) the same seeded world in which only the 8 good experts judge.

    .venv/bin/python scripts/bench_quality.py [--worlds 40] [--judgments 150] [--database-url URL] [--json PATH]
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import shutil
import tempfile
import time
import uuid
from datetime import timedelta
from typing import Any

import numpy as np
from PIL import Image
from scipy.stats import kendalltau
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from pairwise import create_app, experts, judging, leaderboards, pools
from pairwise.auth import add_user
from pairwise.config import normalise_database_url
from pairwise.context import current_store
from pairwise.db import get_db, get_engine
from pairwise.migrate import upgrade
from pairwise.schema import Assignment, Model, Output, User, utcnow

MODELS = 8
STRENGTHS = np.linspace(-1.5, 1.5, MODELS)  # true log-strengths of model-0 .. model-7
ITEMS = 40
GOOD_BIAS = 0.2
SIDE_BIAS = 1.2
SENTINEL_GAP = 4.0
CHECK_EVERY = 10
GOLD_SHARE = 0.05
KINDS = ["careless", "side"] + ["good"] * 8


def png(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8), "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def seed_pool(db: Any, name: str, world: int) -> Any:
    pool = pools.create_pool(db, name, {"gold_share": GOLD_SHARE, "overlap_share": 0.1, "rationale_min_chars": 5})
    for i in range(ITEMS):
        base = (world * 1000 + i) * (MODELS + 1)
        pools.add_item(db, current_store(), pool, item_id=f"item-{i}", category="apparel",
                       instruction="brighten", source=pools.Upload("s.png", png(base)),
                       outputs={f"model-{k}": pools.Upload(f"{k}.png", png(base + k + 1)) for k in range(MODELS)})
    db.commit()
    return pool


FAST_RANDOM_CLICKS = True  # --careless-pace same: random clicks take as long as careful ones


def answer(kind: str, assignment: Assignment, rng: np.random.Generator, model_of: dict[int, int]) -> tuple[str, float]:
    """The simulated expert's choice and seconds (``model_of``: output id -> true model index)."""
    if kind == "careless" and rng.random() < 0.5:
        seconds = float(rng.uniform(2, 6)) if FAST_RANDOM_CLICKS else float(rng.lognormal(math.log(25), 0.4))
        return ("left" if rng.random() < 0.5 else "right"), seconds
    if assignment.gold_pair_id is not None:  # the world knows which side is the degraded copy
        d = SENTINEL_GAP if assignment.gold_side == "left" else -SENTINEL_GAP
    else:
        d = float(STRENGTHS[model_of[assignment.left_output_id]] - STRENGTHS[model_of[assignment.right_output_id]])
    bias = SIDE_BIAS if kind == "side" else GOOD_BIAS
    choice = "left" if rng.random() < 1 / (1 + math.exp(-(d + bias))) else "right"
    return choice, float(rng.lognormal(math.log(25), 0.4))


def tau(board: dict[str, Any]) -> float:
    scores = {r["model"]: r["score"] for r in board["rows"]}
    names = [f"model-{k}" for k in range(MODELS)]
    return float(kendalltau([scores[n] for n in names], STRENGTHS).statistic)


def fit_tau(db: Any, pool: Any) -> float:
    board = leaderboards.build_cached(db, pool, leaderboards.ALL, leaderboards.FitOptions(bootstrap=0))
    db.commit()
    return tau(board)


def without_them(world: int, judgments: int) -> float:
    """Kendall tau in the same design without the two bad experts: 8 good experts,
    uniform pairs, fitted by the same engine (no service needed for a counterfactual).
    As in the service, 5 % of their judgments go to gold pairs and stay out of the fit."""
    rng = np.random.default_rng([world, 13])
    counts = np.zeros((MODELS, MODELS, 4), dtype=np.int64)
    for _ in range(round(8 * judgments * (1 - GOLD_SHARE))):
        i, j = rng.choice(MODELS, 2, replace=False)
        left_wins = rng.random() < 1 / (1 + math.exp(-(STRENGTHS[i] - STRENGTHS[j] + GOOD_BIAS)))
        counts[i, j, 0 if left_wins else 1] += 1
    fit = leaderboards.fit_counts(None, "all", tuple(f"model-{k}" for k in range(MODELS)), counts,
                                  leaderboards.FitOptions(bootstrap=0)).fit
    return float(kendalltau(fit.scores, STRENGTHS).statistic)


def run_world(db: Any, users: list[User], world: int, judgments: int) -> dict[str, Any]:
    pool = seed_pool(db, f"w{world}", world)
    rng = np.random.default_rng([world, 7])
    sched = np.random.default_rng([world, 11])
    model_of = {o: int(name.split("-")[1]) for o, name in db.execute(
        select(Output.id, Model.name).join(Model, Model.id == Output.model_id).where(Model.pool_id == pool.id))}
    active = [(u, k) for u, k in zip(users, KINDS)]
    first_flag: dict[str, dict[str, int]] = {u.email: {} for u, _k in active}
    clock = utcnow()
    for step in range(judgments):
        for user, kind in active:
            assignment = judging.next_assignment(db, pool, user, rng=sched, minutes=60, now=clock)
            if assignment is None:
                continue
            choice, seconds = answer(kind, assignment, rng, model_of)
            clock += timedelta(seconds=seconds)
            judging.record_judgment(db, assignment.id, user, {"choice": choice,
                                                              "rationale": f"reason {world}-{step}-{user.id}"},
                                    now=clock)
        db.commit()  # one transaction per round of ten judgments: the operations only flush
        if (step + 1) % CHECK_EVERY == 0:
            for row in experts.pool_quality(db, pool).experts:
                for flag in row["flags"]:
                    first_flag[row["email"]].setdefault(flag["kind"], step + 1)
    result: dict[str, Any] = {"world": world, "tau_without_them": without_them(world, judgments)}
    result["tau_all"] = fit_tau(db, pool)
    final = experts.pool_quality(db, pool).experts
    flagged = [r["email"] for r in final if r["flags"]]
    for email in flagged:
        experts.exclude(db, pool, email, "flagged by the screening benchmark", actor="bench")
    db.commit()
    result["tau_excluded"] = fit_tau(db, pool)
    kinds = {u.email: k for u, k in active}
    result["careless_first"] = next(first_flag[e].get("careless") for e, k in kinds.items() if k == "careless")
    result["careless_any_flag"] = min(next(first_flag[e] for e, k in kinds.items() if k == "careless").values(),
                                      default=None)
    result["side_first"] = next(first_flag[e].get("side_bias") for e, k in kinds.items() if k == "side")
    result["good_flagged"] = sum(bool(first_flag[e]) for e, k in kinds.items() if k == "good")
    result["good_flags"] = [f for e, k in kinds.items() if k == "good" for f in first_flag[e]]
    result["excluded"] = sorted(kinds[e] for e in flagged)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", type=int, default=40)
    parser.add_argument("--first-world", type=int, default=0, help="seed of the first world (to split a run)")
    parser.add_argument("--judgments", type=int, default=150, help="judgments per expert per world")
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--json", default=None, help="write per-world results here")
    parser.add_argument("--careless-pace", choices=["fast", "same"], default="fast",
                        help="the careless expert's random clicks take 2-6 s (fast) or as long as careful ones")
    args = parser.parse_args()
    global FAST_RANDOM_CLICKS
    FAST_RANDOM_CLICKS = args.careless_pace == "fast"
    # SQLite in memory-backed /dev/shm when there is one: the benchmark measures
    # screening, not the disk's fsync on a shared machine.
    tmp = tempfile.mkdtemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    url, drop = f"sqlite:///{tmp}/bench.db", None
    if args.database_url:
        base = make_url(normalise_database_url(args.database_url))
        name = f"pairwise_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url, drop = base.set(database=name).render_as_string(hide_password=False), (admin, name)
    app = create_app({"DATABASE_URL": url, "IMAGE_DIR": f"{tmp}/images", "SECRET_KEY": "bench"})
    results = []
    started = time.perf_counter()
    try:
        with app.app_context():
            upgrade(get_engine())
            db = get_db()
            users = [add_user(db, f"{kind}-{n}@example.com", "password-1", "expert") for n, kind in enumerate(KINDS)]
            db.commit()
            for world in range(args.first_world, args.first_world + args.worlds):
                result = run_world(db, users, world, args.judgments)
                results.append(result)
                print(json.dumps(result), flush=True)
            get_engine().dispose()
    finally:
        if drop:
            admin, name = drop
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
        shutil.rmtree(tmp, ignore_errors=True)
    n = len(results)
    careless = sum(r["careless_first"] is not None and r["careless_first"] <= 100 for r in results) / n
    side = sum(r["side_first"] is not None and r["side_first"] <= 150 for r in results) / n
    good = sum(r["good_flagged"] for r in results) / (8 * n)
    tau_all = float(np.mean([r["tau_all"] for r in results]))
    tau_excluded = float(np.mean([r["tau_excluded"] for r in results]))
    tau_without = float(np.mean([r["tau_without_them"] for r in results]))
    summary = {
        "worlds": n, "careless_pace": args.careless_pace, "judgments_per_expert": args.judgments, "seconds": round(time.perf_counter() - started, 1),
        "careless_flagged_within_100": careless, "side_biased_flagged_within_150": side,
        "good_experts_ever_flagged": good,
        "median_judgments_to_careless_flag": float(np.median([r["careless_first"] or 999 for r in results])),
        "median_judgments_to_side_flag": float(np.median([r["side_first"] or 999 for r in results])),
        "kendall_tau_all_experts": round(tau_all, 4), "kendall_tau_flagged_excluded": round(tau_excluded, 4),
        "kendall_tau_world_without_them": round(tau_without, 4),
        "targets_met": {"careless >= 0.8": careless >= 0.8, "side >= 0.8": side >= 0.8,
                        "false flags <= 0.05": good <= 0.05,
                        "tau excluded >= tau without - 0.01": tau_excluded >= tau_without - 0.01},
    }
    print(json.dumps(summary, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"summary": summary, "worlds": results}, f, indent=1)


if __name__ == "__main__":
    main()
