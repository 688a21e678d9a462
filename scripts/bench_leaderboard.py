#!/usr/bin/env python
"""Benchmark leaderboards on a pool with a million judgments, and ``pairwise rank`` on a big CSV.

Prints figures against the targets of the issue; checks nothing (it is not a
test) and exits 0. Cleans up after itself: a temporary folder for the SQLite
database, images and CSV files; for PostgreSQL a fresh database
``pairwise_bench_<random>`` beside the given one, dropped at the end.

    .venv/bin/python scripts/bench_leaderboard.py                      # SQLite in a temp dir
    .venv/bin/python scripts/bench_leaderboard.py --database-url postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python scripts/bench_leaderboard.py --judgments 100000 --skip-rank

Targets:

1. Leaderboard page and API answer in under 200 ms for a pool with 1,000,000
   judgments (results cached and invalidated by new judgments, never stale
   after one).
2. ``pairwise rank`` on a 1,000,000-row judgments CSV end to end: under 5 s.

How:

* The pool is built through the real schema (``pairwise.migrate.upgrade``):
  pool, users, models, items and outputs are real rows; images are rows with
  fake SHA-256 digests (no files: nothing here serves an image). Then N
  assignments and N judgments are bulk-inserted with SQLAlchemy Core
  ``insert()`` in executemany batches, drawn from known Bradley-Terry
  strengths with ties, by a few dozen seed experts; the count cells are
  rebuilt with ``pairwise.leaderboards.recount``. Seeding is timed apart
  (not a target). On PostgreSQL the tables are ANALYZEd afterwards, as
  autovacuum would.
* Requests go through the Flask test client of ``pairwise.create_app``, in
  process (no network, no HTTP parsing, no gunicorn): API calls with a
  researcher's bearer token, the page with a session logged in through the
  real login form. "cold" is the first request for a board (a cache miss: a
  fit); the cache-emptied repeats next to it re-measure misses after
  deleting ``leaderboard_cache``. "warm" is the median of ``--repeat``
  cached requests. The process is warmed first with boards of other options
  (imports, template compilation), as a worker that has served before.
* One judgment is then recorded through the API by an expert (a new expert,
  so the scheduler has pairs left), and the page and API are timed again:
  the first request after it must refit and count one more judgment.
* ``pairwise rank`` runs as a subprocess of the installed console script on
  a CSV written from the same synthetic judgments, with the default 1000
  bootstrap rounds and with ``--bootstrap 0``; the start-up cost is measured
  on a ten-row file.

BLAS threads are pinned to 1 (as ``scripts/bench_ranking.py`` does and the
README advises for gunicorn) unless set in the environment; the subprocess
inherits the same setting.
"""

from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import cProfile  # noqa: E402
import csv  # noqa: E402
import io  # noqa: E402
import pstats  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import datetime, timedelta  # noqa: E402
from hashlib import sha256  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, delete, insert, select, text  # noqa: E402
from sqlalchemy.engine import Engine, make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from pairwise import create_app  # noqa: E402
from pairwise.auth import add_user, create_token  # noqa: E402
from pairwise.config import normalise_database_url  # noqa: E402
from pairwise.db import make_engine  # noqa: E402
from pairwise.leaderboards import recount  # noqa: E402
from pairwise.migrate import upgrade  # noqa: E402
from pairwise.schema import (  # noqa: E402
    Assignment,
    Choice,
    Image,
    Item,
    Judgment,
    LeaderboardCache,
    Model,
    Output,
    Pool,
    Role,
    User,
)

TARGET_MS = 200.0
TARGET_RANK_S = 5.0
BATCH = 20_000
POOL = "bench"
PASSWORD = "bench-password-42"
SEED_EXPERTS = 40
CHOICES = (Choice.left, Choice.right, Choice.tie, Choice.both_bad)
CATEGORY_NAMES = ("apparel", "cosmetics", "food", "automotive", "jewelry", "real-estate",
                  "furniture", "footwear", "eyewear", "toys")
RATIONALES = (
    "A has halos on the sleeve, B keeps the weave",
    "B lost the fabric texture; A looks natural",
    "A shows banding in the sky, B is smooth",
    "B has a colour cast on the skin, A is neutral",
    "A cut-out edge is jagged around the hair",
    "Both follow the instruction, B is slightly sharper",
    "Neither removed the reflection, both unusable",
    "A over-sharpened the label text, B is clean",
    "B distorted the bottle shape, A kept it",
    "A kept the product colour true, B shifted it",
    "Same quality, cannot tell them apart at 200 %",
    "B left fringing on the chrome trim, A did not",
)
BASE_TIME = datetime(2025, 1, 1)


# ----- synthetic judgments ------------------------------------------------------

@dataclass
class Synthetic:
    """N judgments of K models on items, drawn from known Bradley-Terry strengths."""

    k: int
    categories: tuple[str, ...]
    items_per_category: int
    strengths: NDArray[np.float64]
    item: NDArray[np.int64]
    left: NDArray[np.int64]
    right: NDArray[np.int64]
    choice: NDArray[np.int64]
    expert: NDArray[np.int64]
    rationale: NDArray[np.int64]
    seconds: NDArray[np.float64]
    created: NDArray[np.datetime64] = field(repr=False)

    @property
    def n(self) -> int:
        return len(self.left)

    @property
    def n_items(self) -> int:
        return len(self.categories) * self.items_per_category

    def model_name(self, m: int) -> str:
        return f"model-{m:02d}"

    def item_category(self, i: int) -> str:
        return self.categories[i // self.items_per_category]

    def item_external_id(self, i: int) -> str:
        return f"{self.item_category(i)}-{i % self.items_per_category:04d}"


def synthetic(n: int, k: int, categories: int, items_per_category: int, seed: int,
              tie: float = 0.25) -> Synthetic:
    """Ties (split between tie and both_bad) take ``tie * 2 min(p, 1-p)`` of the
    probability, half from each side, so half-ties Bradley-Terry is the true model."""
    rng = np.random.default_rng(seed)
    names = tuple(CATEGORY_NAMES[c] if c < len(CATEGORY_NAMES) else f"category-{c}" for c in range(categories))
    strengths = rng.normal(0, 1, size=k)
    left = rng.integers(k, size=n)
    right = (left + rng.integers(1, k, size=n)) % k
    p = 1 / (1 + np.exp(strengths[right] - strengths[left]))
    tied = tie * 2 * np.minimum(p, 1 - p)
    u = rng.random(n)
    choice = np.where(u < p - tied / 2, 0, np.where(u < 1 - tied, 1, 2 + rng.integers(2, size=n)))
    offsets = np.sort(rng.random(n) * 90 * 86400).astype("timedelta64[s]")  # 90 days, in id order
    return Synthetic(
        k=k, categories=names, items_per_category=items_per_category, strengths=strengths,
        item=rng.integers(len(names) * items_per_category, size=n), left=left, right=right,
        choice=choice, expert=rng.integers(SEED_EXPERTS, size=n),
        rationale=rng.integers(len(RATIONALES), size=n),
        seconds=np.round(rng.lognormal(np.log(45), 0.5, size=n), 1),
        created=np.datetime64(BASE_TIME, "s") + offsets,
    )


# ----- database -----------------------------------------------------------------

@contextmanager
def database(url: str | None, workdir: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file in ``workdir``, or a new PostgreSQL database."""
    if url is None:
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    url = normalise_database_url(url)
    if not url.startswith("postgresql"):
        raise SystemExit(f"--database-url: expected postgresql://..., got {url!r} "
                         "(leave it out for a temporary SQLite file)")
    base = make_url(url)
    name = f"pairwise_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Seeded:
    researcher_email: str
    researcher_token: str
    expert_token: str
    seconds: dict[str, float]


def batches(n: int, size: int = BATCH) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def seed_database(engine: Engine, data: Synthetic) -> Seeded:
    """The pool, through the real tables; returns the logins and the seeding times."""
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    upgrade(engine)
    times["migrate"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    k, n_items = data.k, data.n_items
    with Session(engine, expire_on_commit=False) as db:
        pool = Pool(name=POOL, rationale_min_chars=20)
        db.add(pool)
        researcher = add_user(db, "researcher@bench.example", PASSWORD, "researcher")
        live_expert = add_user(db, "expert@bench.example", PASSWORD, "expert")
        db.flush()
        models = [Model(pool_id=pool.id, name=data.model_name(m)) for m in range(k)]
        db.add_all(models)
        db.flush()
        # Seed experts: judged the million; no passwords (no scrypt per user).
        db.execute(insert(User), [{"email": f"seed-expert-{e:02d}@bench.example", "password_hash": "!",
                                   "role": Role.expert, "is_active": True} for e in range(SEED_EXPERTS)])
        expert_ids = np.array([db.scalar(select(User.id).where(User.email == f"seed-expert-{e:02d}@bench.example"))
                               for e in range(SEED_EXPERTS)])
        model_ids = np.array([m.id for m in models])
        researcher_token = create_token(db, researcher)
        expert_token = create_token(db, live_expert)
        pool_id = pool.id
        db.commit()

    # Images: item i's source is id i+1, output (i, m) is n_items + i*k + m + 1;
    # items are id i+1 and outputs id i*k + m + 1. Explicit ids (sequences reset below).
    with engine.begin() as conn:
        images = [{"id": j + 1, "sha256": sha256(f"bench-image-{j}".encode()).hexdigest(),
                   "width": 1024, "height": 1024, "byte_size": 1_500_000} for j in range(n_items * (k + 1))]
        for part in batches(len(images)):
            conn.execute(insert(Image), images[part])
        conn.execute(insert(Item), [{
            "id": i + 1, "pool_id": pool_id, "external_id": data.item_external_id(i),
            "category": data.item_category(i), "source_image_id": i + 1, "created_at": BASE_TIME,
            "instruction": f"remove the background of {data.item_category(i)} shot {i}, keep fine detail",
        } for i in range(n_items)])
        outputs = [{"id": i * k + m + 1, "item_id": i + 1, "model_id": int(model_ids[m]),
                    "image_id": n_items + i * k + m + 1} for i in range(n_items) for m in range(k)]
        for part in batches(len(outputs)):
            conn.execute(insert(Output), outputs[part])
    times["pool, users, models, items, outputs"] = time.perf_counter() - t0

    # Assignments then judgments, in batches; ids 1..N.
    t0 = time.perf_counter()
    categories = np.array(data.categories, dtype=object)[data.item // data.items_per_category]
    for part in batches(data.n):
        ids = np.arange(part.start, part.stop) + 1
        created = data.created[part].astype("datetime64[us]").tolist()
        seconds = data.seconds[part].tolist()
        issued = [c - timedelta(seconds=s) for c, s in zip(created, seconds, strict=True)]
        item = data.item[part]
        experts = expert_ids[data.expert[part]].tolist()
        left_models, right_models = data.left[part], data.right[part]
        with engine.begin() as conn:
            conn.execute(insert(Assignment), [
                {"id": a, "pool_id": pool_id, "item_id": i + 1, "expert_id": e,
                 "left_output_id": i * k + lm + 1, "right_output_id": i * k + rm + 1,
                 "issued_at": t, "expires_at": t + timedelta(minutes=120)}
                for a, i, e, lm, rm, t in zip(ids.tolist(), item.tolist(), experts, left_models.tolist(),
                                              right_models.tolist(), issued, strict=True)])
            conn.execute(insert(Judgment), [
                {"id": a, "assignment_id": a, "pool_id": pool_id, "category": c, "expert_id": e,
                 "left_model_id": lm, "right_model_id": rm, "choice": CHOICES[ch],
                 "rationale": RATIONALES[r], "tags_left": [], "tags_right": [], "seconds": s,
                 "created_at": t}
                for a, c, e, lm, rm, ch, r, s, t in zip(
                    ids.tolist(), categories[part].tolist(), experts, model_ids[left_models].tolist(),
                    model_ids[right_models].tolist(), data.choice[part].tolist(),
                    data.rationale[part].tolist(), seconds, created, strict=True)])
    times[f"{data.n:,} assignments + {data.n:,} judgments"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    with Session(engine) as db:
        counted = recount(db)
        db.commit()
    assert counted == data.n, (counted, data.n)
    times["recount (count cells)"] = time.perf_counter() - t0

    if engine.dialect.name == "postgresql":
        t0 = time.perf_counter()
        with engine.begin() as conn:
            for table in ("image", "item", "output", "assignment", "judgment"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
        times["sequences + ANALYZE"] = time.perf_counter() - t0
    return Seeded(researcher_email="researcher@bench.example", researcher_token=researcher_token,
                  expert_token=expert_token, seconds=times)


# ----- timing -------------------------------------------------------------------

@dataclass
class Row:
    figure: str
    ms: float | None
    target: str = ""
    met: str = ""
    note: str = ""


def request(client: Any, url: str, *, method: str = "GET", expect: int = 200,
            **kwargs: Any) -> tuple[float, Any]:
    """Milliseconds for one request, body read in full, and the response."""
    t0 = time.perf_counter()
    response = client.open(url, method=method, **kwargs)
    response.get_data()
    ms = (time.perf_counter() - t0) * 1000
    if response.status_code != expect:
        raise SystemExit(f"{method} {url}: expected {expect}, got {response.status_code}: "
                         f"{response.get_data(as_text=True)[:300]}")
    return ms, response


def median_ms(run: Callable[[], float], repeat: int) -> tuple[float, list[float]]:
    samples = [run() for _ in range(repeat)]
    return statistics.median(samples), samples


def target_row(figure: str, ms: float, note: str = "") -> Row:
    return Row(figure, ms, f"< {TARGET_MS:.0f} ms", "yes" if ms < TARGET_MS else "NO", note)


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf-token" content="([^"]+)"', html)
    if not match:
        raise SystemExit("no CSRF token on the login page")
    return match.group(1)


def page_judgments(html: str) -> int:
    match = re.search(r"(\d+) judgments ·", html)
    if not match:
        raise SystemExit("the leaderboard page shows no judgment count")
    return int(match.group(1))


def bench_web(url: str, image_dir: Path, data: Synthetic, seeded: Seeded, repeat: int,
              profile: bool) -> tuple[list[Row], bool]:
    app = create_app({"DATABASE_URL": url, "IMAGE_DIR": str(image_dir), "SECRET_KEY": "bench-secret",
                      "BOOTSTRAP_ROUNDS": 1000})
    api = app.test_client()
    researcher = {"Authorization": f"Bearer {seeded.researcher_token}"}
    expert = {"Authorization": f"Bearer {seeded.expert_token}"}
    browser = app.test_client()
    form = browser.get("/login").get_data(as_text=True)
    request(browser, "/login", method="POST", expect=302,
            data={"email": seeded.researcher_email, "password": PASSWORD, "csrf_token": csrf_token(form)})

    board_api = f"/api/v1/pools/{POOL}/leaderboard"
    board_page = f"/pools/{POOL}/leaderboard"
    category = data.categories[0]
    rows: list[Row] = []

    def empty_cache() -> None:
        with app.app_context():
            from pairwise.db import get_db
            db = get_db()
            db.execute(delete(LeaderboardCache))
            db.commit()

    def cold(url: str, headers: dict[str, str] | None, client: Any) -> tuple[float, str, Any]:
        ms, response = request(client, url, headers=headers)
        again = []
        for _ in range(max(repeat // 2, 2)):
            empty_cache()
            again.append(request(client, url, headers=headers)[0])
        return ms, "cache-emptied repeats: " + ", ".join(f"{x:.0f}" for x in again) + " ms", response

    def warm(url: str, headers: dict[str, str] | None, client: Any) -> tuple[float, str]:
        mid, samples = median_ms(lambda: request(client, url, headers=headers)[0], repeat)
        return mid, f"median of {repeat} (min {min(samples):.1f}, max {max(samples):.1f})"

    # Process warm-up: imports, first fit, template compilation (other cache keys).
    t0 = time.perf_counter()
    request(api, f"{board_api}?ties=drop&bootstrap=0", headers=researcher)
    request(browser, f"{board_page}?ties=drop")
    rows.append(Row("process warm-up (other boards; imports, templates)", (time.perf_counter() - t0) * 1000,
                    note="not a target"))

    if profile:
        for kind in ("cold", "warm"):
            if kind == "cold":
                empty_cache()
            profiler = cProfile.Profile()
            profiler.enable()
            request(api, board_api, headers=researcher)
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
            print(f"\ncProfile of a {kind} API request (JSON, all categories, bootstrap 1000), by own time:")
            print("\n".join(line for line in out.getvalue().splitlines() if line.strip()))
        empty_cache()

    ms, note, response = cold(board_api, researcher, api)
    before = response.get_json()["judgments"]
    rows.append(target_row("API JSON, all categories, bootstrap 1000: cold (fit)", ms, note))
    rows.append(target_row("API JSON, all categories: warm (cached)", *warm(board_api, researcher, api)))
    rows.append(target_row("API CSV, all categories: warm (cached)",
                           *warm(f"{board_api}?format=csv", researcher, api)))
    ms, note, _ = cold(f"{board_api}?category={category}", researcher, api)
    rows.append(target_row(f"API JSON, category {category}: cold (fit)", ms, note))
    rows.append(target_row(f"API JSON, category {category}: warm (cached)",
                           *warm(f"{board_api}?category={category}", researcher, api)))
    ms, note, response = cold(board_page, None, browser)
    page_before = page_judgments(response.get_data(as_text=True))
    rows.append(target_row("page, all categories, closed form: cold (fit)", ms, note))
    rows.append(target_row("page, all categories: warm (cached)", *warm(board_page, None, browser)))
    # Re-fill the caches the cold repeats emptied, so only the judgment invalidates them.
    request(api, board_api, headers=researcher)

    ms, response = request(api, f"/api/v1/pools/{POOL}/assignments", method="POST", expect=201, headers=expert)
    rows.append(Row("POST assignment (expert, scheduler)", ms, note="not a target"))
    submit = response.get_json()["submit_url"]
    ms, _ = request(api, submit, method="POST", expect=201, headers=expert,
                    json={"choice": "left", "rationale": "benchmark judgment text"})
    rows.append(Row("POST judgment (count cell upsert)", ms, note="not a target"))

    ms, response = request(browser, board_page)
    page_after = page_judgments(response.get_data(as_text=True))
    rows.append(target_row("page after the new judgment (refit)", ms, f"{page_before:,} -> {page_after:,} judgments"))
    rows.append(target_row("page after it: warm (cached)", *warm(board_page, None, browser)))
    ms, response = request(api, board_api, headers=researcher)
    after = response.get_json()["judgments"]
    rows.append(target_row("API JSON after the new judgment (refit, bootstrap 1000)", ms,
                           f"{before:,} -> {after:,} judgments"))
    rows.append(target_row("API JSON after it: warm (cached)", *warm(board_api, researcher, api)))
    fresh = after == before + 1 and page_after == page_before + 1 and before == data.n
    with app.app_context():
        from pairwise.db import get_engine
        get_engine().dispose()
    return rows, fresh


# ----- pairwise rank --------------------------------------------------------------

def write_csv(path: Path, data: Synthetic, rows: int | None = None) -> None:
    n = data.n if rows is None else rows
    models = [data.model_name(m) for m in range(data.k)]
    externals = [data.item_external_id(i) for i in range(data.n_items)]
    categories = [data.item_category(i) for i in range(data.n_items)]
    choices = [c.value for c in CHOICES]
    experts = [f"expert-{e + 3}" for e in range(SEED_EXPERTS)]
    created = np.datetime_as_string(data.created[:n], unit="s")
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["pool", "category", "item", "model_left", "model_right", "choice", "expert",
                         "rationale", "created_at"])
        for part in batches(n, 100_000):
            writer.writerows(
                (POOL, categories[i], externals[i], models[lm], models[rm], choices[c], experts[e],
                 RATIONALES[r], t + "Z")
                for i, lm, rm, c, e, r, t in zip(
                    data.item[part].tolist(), data.left[part].tolist(), data.right[part].tolist(),
                    data.choice[part].tolist(), data.expert[part].tolist(), data.rationale[part].tolist(),
                    created[part].tolist(), strict=True))


def _peak_kb(pid: int) -> int | None:
    """The process's resident high-water mark so far (Linux), or None."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def run_rank(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str, int | None]:
    """Wall seconds, stdout and peak RSS (kB) of one `pairwise rank` run.

    The peak is polled from /proc: getrusage(RUSAGE_CHILDREN) would report this
    (much bigger) process, whose memory the child shares until it execs.
    """
    command = [str(ROOT / ".venv" / "bin" / "pairwise"), "rank", *args]
    out_path, err_path = cwd / "rank.out", cwd / "rank.err"
    with out_path.open("w") as out, err_path.open("w") as err:
        t0 = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=err)
        peak = None
        while process.poll() is None:
            peak = _peak_kb(process.pid) or peak
            time.sleep(0.005)
        seconds = time.perf_counter() - t0
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}): "
                         f"{err_path.read_text().strip()[:500]}")
    return seconds, out_path.read_text(), peak


def bench_rank(workdir: Path, data: Synthetic, repeat: int) -> list[Row]:
    rows: list[Row] = []
    path = workdir / "judgments.csv"
    t0 = time.perf_counter()
    write_csv(path, data)
    rows.append(Row(f"write the {data.n:,}-row CSV ({path.stat().st_size / 2**20:.0f} MB)",
                    (time.perf_counter() - t0) * 1000, note="not a target"))
    small = workdir / "small.csv"
    write_csv(small, data, rows=10)
    # Settings that keep the command from touching ./instance (it builds the app).
    env = {**os.environ, "PAIRWISE_SECRET_KEY": "bench-secret", "PAIRWISE_IMAGE_DIR": str(workdir / "images"),
           "PAIRWISE_DATABASE_URL": f"sqlite:///{workdir / 'unused.db'}"}

    samples = [run_rank([str(small), "--format", "csv", "--bootstrap", "0"], env, workdir)[0] for _ in range(3)]
    peaks: list[int] = []
    rows.append(Row("start-up: `pairwise rank` on a 10-row CSV, --bootstrap 0", statistics.median(samples) * 1000,
                    note="median of 3; the fixed cost in the figures below"))
    for label, extra in (("default 1000 bootstrap rounds", []), ("--bootstrap 0", ["--bootstrap", "0"])):
        runs = [run_rank([str(path), "--format", "csv", *extra], env, workdir) for _ in range(repeat)]
        seconds = [s for s, _, _ in runs]
        peaks += [p for _, _, p in runs if p is not None]
        out = runs[0][1].splitlines()
        boards = len({line.rsplit(",", 1)[-1] for line in out[1:]})
        mid = statistics.median(seconds)
        rows.append(Row(f"`pairwise rank` {data.n:,} rows, {label}", mid * 1000, f"< {TARGET_RANK_S:.0f} s",
                        "yes" if mid < TARGET_RANK_S else "NO",
                        f"median of {repeat}: " + ", ".join(f"{s:.2f}" for s in seconds)
                        + f" s; {boards} boards, {len(out) - 1} rows out"))
    if peaks:
        rows.append(Row("peak RSS of `pairwise rank` (polled VmHWM)", None, note=f"{max(peaks) / 1024:.0f} MB"))
    return rows


# ----- report --------------------------------------------------------------------

def print_table(title: str, rows: list[Row]) -> None:
    print(f"\n{title}")
    width = max(len(r.figure) for r in rows)
    header = f"{'figure':<{width}}  {'measured':>11}  {'target':>9}  {'met':>3}  notes"
    print(header)
    print("-" * len(header))
    for r in rows:
        value = "" if r.ms is None else (f"{r.ms / 1000:.2f} s" if r.ms >= 1000 else f"{r.ms:.1f} ms")
        print(f"{r.figure:<{width}}  {value:>11}  {r.target:>9}  {r.met:>3}  {r.note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None,
                        help="postgresql://... (a fresh database is made beside it); default: temp SQLite file")
    parser.add_argument("--judgments", type=int, default=1_000_000)
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--categories", type=int, default=5)
    parser.add_argument("--items-per-category", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5, help="warm samples per figure (median reported)")
    parser.add_argument("--rank-repeat", type=int, default=3, help="runs of `pairwise rank` per figure")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-rank", action="store_true", help="skip the `pairwise rank` benchmark")
    parser.add_argument("--skip-db", action="store_true", help="skip the database (page and API) benchmark")
    parser.add_argument("--profile", action="store_true", help="cProfile one cold API request")
    args = parser.parse_args(argv)
    if args.models < 2 or args.categories < 1 or args.judgments < 1 or args.items_per_category < 1:
        parser.error("need at least 2 models, 1 category, 1 item per category and 1 judgment")

    t0 = time.perf_counter()
    data = synthetic(args.judgments, args.models, args.categories, args.items_per_category, args.seed)
    shares = ", ".join(f"{c.value} {np.mean(data.choice == i):.1%}" for i, c in enumerate(CHOICES))
    backend = "skipped" if args.skip_db else (
        make_url(args.database_url).render_as_string(hide_password=True) if args.database_url else "SQLite (temp file)")
    print(f"pairwise leaderboard benchmark: {args.judgments:,} judgments, K={args.models} models, "
          f"{args.categories} categories x {args.items_per_category} items; database: {backend}")
    print(f"choices: {shares}; drawn in {time.perf_counter() - t0:.1f} s; "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}; cores: {os.cpu_count()}")

    fresh: bool | None = None
    workdir = Path(tempfile.mkdtemp(prefix="pairwise_bench_"))
    try:
        if not args.skip_db:
            with database(args.database_url, workdir) as url:
                engine = make_engine(url)
                try:
                    seeded = seed_database(engine, data)
                finally:
                    engine.dispose()
                print("\nseeding (not a target):")
                for step, seconds in seeded.seconds.items():
                    print(f"  {step:<45} {seconds:8.1f} s")
                print(f"  {'total':<45} {sum(seeded.seconds.values()):8.1f} s")
                web_rows, fresh = bench_web(url, workdir / "images", data, seeded, args.repeat, args.profile)
            print_table("Target 1: leaderboard page and API, pool of "
                        f"{args.judgments:,} judgments (in process, Flask test client, no network)", web_rows)
            print(f"never stale: {'yes' if fresh else 'no'} (the first page and API answer after one new judgment "
                  "counted it)")
        if not args.skip_rank:
            print_table("Target 2: `pairwise rank` end to end (subprocess, wall clock)",
                        bench_rank(workdir, data, args.rank_repeat))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process (seeding, app, CSV writing): {own:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
