#!/usr/bin/env python3
"""Load and fault test: real HTTP against gunicorn, then reconcile with the database.

Phases (each on a fresh database, gunicorn with --workers worker processes):

1. ``steady``: PostgreSQL, --experts simulated experts for --duration seconds,
   each fetching a pair, its three images, and submitting a judgment (with an
   Idempotency-Key, retried on 503 / dropped connections until answered).
2. ``faults``: the same, with a gunicorn worker killed (``kill -9``) at 20 %
   of the run, a PostgreSQL restart at 45 %, and PostgreSQL stopped for
   --outage seconds at 70 %. A probe thread asks ``GET /api/v1/me`` every
   50 ms to time the recovery.
3. ``sqlite``: SQLite (WAL), --sqlite-experts experts.

PostgreSQL is a private cluster made for the run (initdb in a temporary
folder, listening on 127.0.0.1 and a free port) and deleted afterwards; the
shared server on 5432 is never touched. Everything listens on 127.0.0.1 only,
and every loop is bounded in time.

Set-up (migration, seeding, 50 accounts with tokens) runs in-process through
the same operations the CLI uses: 100 CLI processes would take minutes on a
loaded machine. The traffic is plain HTTP.

After each phase the client's record is reconciled with the database:
every acknowledged judgment stored exactly once, nothing stored that was
reported failed, no expert with more than one open pair, no pair judged
twice by one expert; and the gunicorn log is searched for tracebacks.

    .venv/bin/python scripts/load_test.py                       # 3 x 60 s, the issue's run
    .venv/bin/python scripts/load_test.py --duration 15 --experts 20 --phases steady,faults
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "load-test-password"
POOL = "load"
TIMEOUT = 15.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ----- a private PostgreSQL cluster -----------------------------------------------

class PrivateCluster:
    """initdb + pg_ctl in a temporary folder, on 127.0.0.1:<free port>."""

    def __init__(self, workdir: Path) -> None:
        self.bindir = Path(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True,
                                          check=False).stdout.strip() or "/usr/lib/postgresql/15/bin")
        if not (self.bindir / "initdb").exists():
            candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
            if not candidates:
                raise SystemExit("no initdb found: install PostgreSQL's server package")
            self.bindir = candidates[-1].parent
        workdir.mkdir(exist_ok=True)
        self.dir = workdir / "pgdata"
        self.port = free_port()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.dir.mkdir(mode=0o700)
        if os.geteuid() == 0:
            shutil.chown(workdir, "postgres")
            shutil.chown(self.dir, "postgres")
        self._run("initdb", "-D", str(self.dir), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        with (self.dir / "postgresql.conf").open("a") as conf:
            conf.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.dir}'\nmax_connections = 200\n")
        self.start()

    def _run(self, tool: str, *args: str) -> float:
        started = time.monotonic()
        subprocess.run([*self.as_postgres, str(self.bindir / tool), *args], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.monotonic() - started

    def start(self) -> float:
        return self._run("pg_ctl", "-D", str(self.dir), "-l", str(self.dir / "server.log"), "-w", "start")

    def stop(self) -> float:
        return self._run("pg_ctl", "-D", str(self.dir), "-m", "fast", "-w", "stop")

    def restart(self) -> float:
        return self._run("pg_ctl", "-D", str(self.dir), "-l", str(self.dir / "server.log"), "-m", "fast",
                         "-w", "restart")

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass


# ----- instance set-up ------------------------------------------------------------

def make_images(folder: Path, items: int, models: int, seed: int = 7) -> Path:
    """A folder-form pool: items with a source and one output per model (small PNGs)."""
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(seed)
    root = folder / "pool"
    for k in range(items):
        item = root / "apparel" / f"item-{k:03d}"
        item.mkdir(parents=True)
        base = rng.integers(0, 255, size=(96, 128, 3), dtype=np.uint8)
        Image.fromarray(base).save(item / "source.png")
        (item / "instruction.txt").write_text(f"brighten the garment in picture {k}")
        for m in range(models):
            noise = rng.integers(0, 40, size=base.shape, dtype=np.uint8)
            Image.fromarray(base // 2 + noise).save(item / f"model-{m}.png")
    return root


def set_up(url: str, image_dir: Path, pool_folder: Path, experts: int) -> list[str]:
    """Migrate, seed, and make expert accounts; return their API tokens."""
    from pairwise import create_app, manifest, pools
    from pairwise.auth import add_user, create_token
    from pairwise.context import current_store
    from pairwise.db import get_db, get_engine
    from pairwise.migrate import upgrade
    app = create_app({"DATABASE_URL": url, "IMAGE_DIR": str(image_dir), "SECRET_KEY": "load-test"})
    tokens = []
    with app.app_context():
        upgrade(get_engine())
        db = get_db()
        loaded = manifest.load(pool_folder)
        pools.seed(db, current_store(), loaded, pool_name=POOL)
        pools.apply_settings(pools.get_pool(db, POOL), {"rationale_min_chars": 10})
        for k in range(experts):
            tokens.append(create_token(db, add_user(db, f"expert-{k:03d}@load.test", PASSWORD, "expert")))
        db.commit()
        get_engine().dispose()
    return tokens


class Gunicorn:
    def __init__(self, workdir: Path, url: str, image_dir: Path, workers: int) -> None:
        self.port = free_port()
        self.log = workdir / "gunicorn.log"
        env = {**os.environ, "PAIRWISE_DATABASE_URL": url, "PAIRWISE_IMAGE_DIR": str(image_dir),
               "PAIRWISE_SECRET_KEY": "load-test"}
        gunicorn = Path(sys.executable).parent / "gunicorn"
        self.process = subprocess.Popen(
            [str(gunicorn), "-w", str(workers), "-b", f"127.0.0.1:{self.port}", "--timeout", "30",
             "--graceful-timeout", "5", "--error-logfile", str(self.log), *self._no_control_socket(gunicorn),
             "pairwise:create_app()"],
            env=env, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                status, _, _ = request("GET", self.port, "/api/v1/openapi.json", None)
                if status == 200 and len(self.workers()) == workers:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise SystemExit(f"gunicorn did not start; see {self.log}")

    @staticmethod
    def _no_control_socket(gunicorn: Path) -> list[str]:
        # gunicorn >= 23 opens a control socket at one path in $HOME, shared by
        # every gunicorn on the machine: this run needs none.
        help_text = subprocess.run([str(gunicorn), "--help"], capture_output=True, text=True).stdout
        return ["--no-control-socket"] if "--no-control-socket" in help_text else []

    def workers(self) -> list[int]:
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                found.append(int(stat.parent.name))
        return sorted(found)

    def kill_a_worker(self) -> int:
        pid = self.workers()[0]
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


# ----- HTTP ---------------------------------------------------------------------------

def request(method: str, port: int, path: str, token: str | None, body: Any = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=sent)
        response = conn.getresponse()
        payload = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, payload
    finally:
        conn.close()


@dataclass
class Record:
    """What the clients saw, shared by their threads (appends are atomic in CPython)."""

    t0: float
    calls: list[tuple[str, float, float, int]] = field(default_factory=list)  # endpoint, start, seconds, status (0: no response)
    no_retry_after: int = 0
    acked: dict[str, int] = field(default_factory=dict)  # Idempotency-Key -> judgment id
    failed: dict[str, int] = field(default_factory=dict)  # key -> final 4xx status
    unresolved: set[str] = field(default_factory=set)  # gave up without an answer
    replays: int = 0  # 200: a retry found its judgment already stored
    probe: list[tuple[float, float, int]] = field(default_factory=list)  # start, end, status

    def call(self, endpoint: str, port: int, method: str, path: str, token: str | None,
             body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        start = time.monotonic()
        try:
            status, got, payload = request(method, port, path, token, body, headers)
        except (OSError, http.client.HTTPException):
            status, got, payload = 0, {}, b""
        self.calls.append((endpoint, start - self.t0, time.monotonic() - start, status))
        if status == 503 and "retry-after" not in got:
            self.no_retry_after += 1
        return status, got, payload


def at_once(call: Any, double: bool) -> tuple[int, dict[str, str], bytes]:
    """``call()``, or two of it sent at the same moment (a double click, a second
    tab); the first answer is the one the expert goes on with."""
    if not double:
        return call()
    results: list[Any] = [None, None]

    def one(k: int) -> None:
        results[k] = call()

    threads = [threading.Thread(target=one, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results[0]


def expert_loop(record: Record, port: int, token: str, end: float, rng: random.Random, double: float) -> None:
    def wait(got: dict[str, str]) -> None:
        time.sleep(min(float(got.get("retry-after", "1") or 1), 2.0) * (0.5 + rng.random()))

    while time.monotonic() < end:
        status, got, payload = at_once(
            lambda: record.call("assign", port, "POST", f"/api/v1/pools/{POOL}/assignments", token),
            rng.random() < double)
        if status in (0, 503):
            wait(got)
            continue
        if status == 204:
            return
        if status != 201:
            time.sleep(1)
            continue
        pair = json.loads(payload)
        for side, key in (("source", "preview_url"), ("left", "url"), ("right", "url")):
            record.call("image", port, "GET", pair[side][key], token)
        time.sleep(rng.uniform(0.05, 0.3))  # an (impatient) expert looks
        key = str(uuid.uuid4())
        body = {"choice": rng.choice(["left", "right", "tie", "both_bad"]),
                "rationale": f"simulated rationale {key[:8]}", "tags": {"left": [], "right": []}}
        give_up = end + 30.0  # an answer for every submission, however long the outage
        first_try = rng.random() < double
        while True:
            status, got, payload = at_once(
                lambda: record.call("judgment", port, "POST", pair["submit_url"], token, body,
                                    {"Idempotency-Key": key}), first_try)
            first_try = False
            if status in (200, 201):
                record.acked[key] = json.loads(payload)["id"]
                record.replays += status == 200
                break
            if 400 <= status < 500:
                record.failed[key] = status
                break
            if time.monotonic() > give_up:
                record.unresolved.add(key)
                break
            wait(got)


def probe_loop(record: Record, port: int, token: str, end: float) -> None:
    while time.monotonic() < end:
        start = time.monotonic()
        try:
            status, _, _ = request("GET", port, "/api/v1/me", token)
        except (OSError, http.client.HTTPException):
            status = 0
        record.probe.append((start - record.t0, time.monotonic() - record.t0, status))
        time.sleep(0.05)


# ----- one phase ------------------------------------------------------------------------

def percentiles(values: list[float]) -> dict[str, float]:
    import numpy as np
    if not values:
        return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan")}
    p = np.percentile(np.array(values) * 1000, [50, 95, 99])
    return {"p50": round(float(p[0]), 1), "p95": round(float(p[1]), 1), "p99": round(float(p[2]), 1)}


def reconcile(url: str, record: Record) -> dict[str, Any]:
    from sqlalchemy import create_engine, func, select
    from sqlalchemy.orm import Session

    from pairwise.schema import Assignment, Judgment, utcnow
    engine = create_engine(url)
    with Session(engine) as db:
        stored = {k: (jid, n) for k, jid, n in db.execute(
            select(Judgment.idempotency_key, func.min(Judgment.id), func.count())
            .group_by(Judgment.idempotency_key))}
        total = db.scalar(select(func.count()).select_from(Judgment)) or 0
        pair = (Assignment.expert_id, Assignment.item_id,
                func.min(Assignment.left_output_id, Assignment.right_output_id) if engine.dialect.name == "sqlite"
                else func.least(Assignment.left_output_id, Assignment.right_output_id),
                func.max(Assignment.left_output_id, Assignment.right_output_id) if engine.dialect.name == "sqlite"
                else func.greatest(Assignment.left_output_id, Assignment.right_output_id))
        twice = db.execute(select(*pair, func.count()).join(Judgment, Judgment.assignment_id == Assignment.id)
                           .group_by(*pair).having(func.count() > 1)).all()
        # Item 1 of issue 12: did an expert ever hold two open pairs at once?
        # (issued before the previous pair was answered or had expired)
        held: dict[int, list[tuple[Any, Any]]] = defaultdict(list)
        for expert, issued, judged, expires in db.execute(
                select(Assignment.expert_id, Assignment.issued_at, Judgment.created_at, Assignment.expires_at)
                .outerjoin(Judgment, Judgment.assignment_id == Assignment.id)
                .order_by(Assignment.expert_id, Assignment.issued_at)):
            held[expert].append((issued, judged or expires))
        ever_several = sum(any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:], strict=False))
                           for spans in held.values())
        now = utcnow()
        open_per_expert = db.execute(
            select(Assignment.expert_id, func.count()).outerjoin(Judgment, Judgment.assignment_id == Assignment.id)
            .where(Judgment.id.is_(None), Assignment.expires_at > now)
            .group_by(Assignment.expert_id).having(func.count() > 1)).all()
    engine.dispose()
    lost = [k for k, jid in record.acked.items() if k not in stored or stored[k][0] != jid]
    duplicated = sum(n - 1 for k, (_, n) in stored.items() if k is not None and n > 1)
    stored_failed = [k for k in record.failed if k in stored]
    known = set(record.acked) | record.unresolved
    unacknowledged = [k for k in stored if k not in known]
    return {"judgments_stored": total, "acknowledged": len(record.acked), "lost": len(lost),
            "duplicated": duplicated, "stored_though_failed": len(stored_failed),
            "failed_4xx": dict(Counter(record.failed.values())),
            "unresolved": len(record.unresolved),
            "unresolved_but_stored": sum(k in stored for k in record.unresolved),
            "stored_unacknowledged": len(unacknowledged),
            "pairs_judged_twice_by_one_expert": len(twice),
            "experts_with_several_open_pairs": len(open_per_expert),
            "experts_who_ever_held_two_open_pairs": ever_several,
            "replayed_200": record.replays}


def run_phase(name: str, args: argparse.Namespace, cluster: PrivateCluster | None, workdir: Path,
              pool_folder: Path) -> dict[str, Any]:
    phase_dir = workdir / name
    phase_dir.mkdir()
    experts = args.sqlite_experts if name == "sqlite" else args.experts
    if name == "sqlite":
        url = f"sqlite:///{phase_dir / 'pairwise.db'}"
    else:
        assert cluster is not None
        url = cluster.create_database(f"load_{name}")
    image_dir = phase_dir / "images"
    log(f"{name}: setting up ({experts} experts)")
    tokens = set_up(url, image_dir, pool_folder, experts + 1)
    server = Gunicorn(phase_dir, url, image_dir, args.workers)
    record = Record(t0=time.monotonic())
    end = record.t0 + args.duration
    rngs = [random.Random(args.seed * 1000 + k) for k in range(experts)]
    threads = [threading.Thread(target=expert_loop, args=(record, server.port, tokens[k], end, rngs[k],
                                                          args.double_click), daemon=True) for k in range(experts)]
    threads.append(threading.Thread(target=probe_loop, args=(record, server.port, tokens[-1], end), daemon=True))
    log(f"{name}: {experts} experts for {args.duration:.0f} s against gunicorn -w {args.workers} on {url.split(':')[0]}")
    for t in threads:
        t.start()
    faults: list[dict[str, Any]] = []
    if name == "faults":
        assert cluster is not None
        schedule = [(0.20, "kill"), (0.45, "restart"), (0.70, "stop")]
        last_back = 0.0
        for share, fault in schedule:
            # Each fault at its share of the run, and at least 3 s after the
            # previous one ended, so every recovery can be timed on its own.
            due = record.t0 + max(share * args.duration, last_back + 3.0)
            if due + args.outage + 3.0 > end:
                log(f"{name}: no time left for the {fault} fault; use a longer --duration")
                continue
            time.sleep(max(0.0, due - time.monotonic()))
            at = time.monotonic() - record.t0
            if fault == "kill":
                pid = server.kill_a_worker()
                faults.append({"fault": f"kill -9 worker {pid}", "start": at, "back": at})
            elif fault == "restart":
                cluster.restart()
                faults.append({"fault": "PostgreSQL restart (pg_ctl -m fast)", "start": at,
                               "back": time.monotonic() - record.t0})
            else:
                cluster.stop()
                time.sleep(args.outage)
                cluster.start()
                faults.append({"fault": f"PostgreSQL stopped {args.outage:.0f} s", "start": at,
                               "back": time.monotonic() - record.t0})
            last_back = faults[-1]["back"]
            log(f"{name}: {faults[-1]['fault']} at {at:.1f} s, database back at {faults[-1]['back']:.1f} s")
    for t in threads:
        t.join(timeout=args.duration + 120)
    elapsed = time.monotonic() - record.t0
    server.stop()
    text = server.log_text()
    (workdir / f"{name}-gunicorn.log").write_text(text)

    def in_outage(start: float, seconds: float) -> bool:
        # A request overlapping [fault, database back + 1 s] may see the outage.
        return any(start <= f["back"] + 1.0 and start + seconds >= f["start"]
                   for f in faults if f["fault"].startswith("PostgreSQL"))

    def near_kill(start: float, seconds: float) -> bool:
        return any(start <= f["back"] + 1.0 and start + seconds >= f["start"] - TIMEOUT
                   for f in faults if f["fault"].startswith("kill"))

    endpoints: dict[str, Any] = {}
    by_endpoint: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
    for endpoint, start, seconds, status in record.calls:
        by_endpoint[endpoint].append((start, seconds, status))
    for endpoint, calls in sorted(by_endpoint.items()):
        served = [s for _, s, st in calls if 200 <= st < 400]
        endpoints[endpoint] = {"requests": len(calls), **percentiles(served),
                               "status": dict(sorted(Counter(st for _, _, st in calls).items()))}
    five_xx_outside = sum(1 for _, start, seconds, st in record.calls
                          if st >= 500 and not in_outage(start, seconds))
    dropped_outside = sum(1 for _, start, seconds, st in record.calls
                          if st == 0 and not in_outage(start, seconds) and not near_kill(start, seconds))
    recovery, probe_recovery, refused_after_back = [], [], []
    for f in faults:
        if not f["fault"].startswith("PostgreSQL"):
            continue
        # Server side: the first request that needed the database and was
        # answered 2xx after it came back (sent during the outage or after).
        served = [start + seconds for endpoint, start, seconds, st in record.calls
                  if 200 <= st < 300 and start >= f["start"] and start + seconds >= f["back"]]
        served += [done for start, done, st in record.probe if st == 200 and start >= f["start"] and done >= f["back"]]
        recovery.append(round(min(served) - f["back"], 3) if served else None)
        # Client side: a request sent after the database is back, answered 200
        # (this includes waiting behind every queued request of 50 experts).
        after = [done for start, done, st in record.probe if start >= f["back"] and st == 200]
        probe_recovery.append(round(after[0] - f["back"], 3) if after else None)
        # Requests still refused more than a second after the database was
        # back (and before the next fault): the recovery target, per request.
        until = min([g["start"] for g in faults if g["start"] > f["start"]] + [float("inf")])
        refused_after_back.append(
            sum(1 for _, start, seconds, st in record.calls if st == 503 and f["back"] + 1.0 < start + seconds < until)
            + sum(1 for _, done, st in record.probe if st == 503 and f["back"] + 1.0 < done < until))
    result = {
        "phase": name, "database": url.split(":")[0], "experts": experts, "workers": args.workers,
        "seconds": round(elapsed, 1),
        "judgments_per_second": round(len(record.acked) / args.duration, 2),
        "endpoints": endpoints,
        "faults": faults,
        "recovery_seconds": recovery,
        "fresh_request_answered_seconds": probe_recovery,
        "503_later_than_1s_after_back": refused_after_back,
        "five_xx_outside_outage": five_xx_outside,
        "dropped_connections_outside_faults": dropped_outside,
        "status_503_without_retry_after": record.no_retry_after,
        "tracebacks_in_log": text.count("Traceback (most recent call last)"),
        "outage_log_lines": sum("database unavailable" in line or "database still unavailable" in line
                                for line in text.splitlines()),
        **reconcile(url, record),
    }
    log(f"{name}: {json.dumps(result)}")
    if args.json:  # the raw timeline, for a closer look
        result["timeline"] = {"calls": record.calls, "probe": record.probe}
    return result


def markdown(results: list[dict[str, Any]]) -> str:
    lines = ["| phase | experts | judgments/s | endpoint | requests | p50 ms | p95 ms | p99 ms | statuses |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        for endpoint, e in r["endpoints"].items():
            statuses = ", ".join(f"{k or 'dropped'}: {v}" for k, v in e["status"].items())
            lines.append(f"| {r['phase']} ({r['database']}) | {r['experts']} | {r['judgments_per_second']} | "
                         f"{endpoint} | {e['requests']} | {e['p50']} | {e['p95']} | {e['p99']} | {statuses} |")
    lines += ["", "| phase | acknowledged | lost | duplicated | stored though failed | unresolved | pair twice | "
                  "two open pairs | 5xx outside outage | 503 w/o Retry-After | recovery s (first 2xx; fresh probe) | "
                  "503 > 1 s after back | tracebacks | outage log lines |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        lines.append(f"| {r['phase']} | {r['acknowledged']} | {r['lost']} | {r['duplicated']} | "
                     f"{r['stored_though_failed']} | {r['unresolved']} | {r['pairs_judged_twice_by_one_expert']} | "
                     f"{r['experts_who_ever_held_two_open_pairs']} | {r['five_xx_outside_outage']} | "
                     f"{r['status_503_without_retry_after']} | "
                     f"{'; '.join(f'{a}, {b}' for a, b in zip(r['recovery_seconds'], r['fresh_request_answered_seconds'], strict=True)) or '-'} | "
                     f"{r['503_later_than_1s_after_back'] or '-'} | {r['tracebacks_in_log']} | {r['outage_log_lines']} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per phase (default 60)")
    parser.add_argument("--experts", type=int, default=50, help="simulated experts on PostgreSQL (default 50)")
    parser.add_argument("--sqlite-experts", type=int, default=10, help="simulated experts on SQLite (default 10)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument("--items", type=int, default=40, help="items in the pool (default 40)")
    parser.add_argument("--models", type=int, default=5, help="models per item (default 5)")
    parser.add_argument("--outage", type=float, default=3.0, help="seconds PostgreSQL stays stopped (default 3)")
    parser.add_argument("--phases", default="steady,faults,sqlite", help="comma-separated: steady,faults,sqlite")
    parser.add_argument("--double-click", type=float, default=0.05,
                        help="share of pair requests and submissions sent twice at once (default 0.05)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--logs", type=Path, default=None,
                        help="keep gunicorn's logs in this folder (default: a new folder under /tmp)")
    args = parser.parse_args()
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = set(phases) - {"steady", "faults", "sqlite"}
    if unknown or not phases:
        parser.error(f"--phases: unknown {sorted(unknown)}")
    if not 1 <= args.duration <= 600 or not 1 <= args.experts <= 200 or not 1 <= args.sqlite_experts <= 200:
        parser.error("--duration 1..600, --experts and --sqlite-experts 1..200")

    workdir = Path(tempfile.mkdtemp(prefix="pairwise-load-"))
    os.chmod(workdir, 0o755)
    cluster = None
    results = []
    try:
        pool_folder = make_images(workdir, args.items, args.models)
        if any(p != "sqlite" for p in phases):
            log("starting a private PostgreSQL cluster")
            cluster = PrivateCluster(workdir / "pg")
        for phase in phases:
            results.append(run_phase(phase, args, cluster, workdir, pool_folder))
    finally:
        if cluster is not None:
            cluster.destroy()
        kept = args.logs or Path(tempfile.gettempdir()) / f"pairwise-load-logs-{os.getpid()}"
        for path in workdir.glob("*-gunicorn.log"):
            kept.mkdir(exist_ok=True)
            shutil.copy(path, kept / path.name)
        shutil.rmtree(workdir, ignore_errors=True)
        if kept.exists():
            log(f"gunicorn logs kept in {kept}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    sys.stdout.write(markdown(results))
    for r in results:
        r.pop("timeline", None)
    bad = any(r["lost"] or r["duplicated"] or r["stored_though_failed"] or r["five_xx_outside_outage"]
              or r["status_503_without_retry_after"] or r["pairs_judged_twice_by_one_expert"]
              or any(x is None or x > 1.0 for x in r["recovery_seconds"])
              or any(r["503_later_than_1s_after_back"]) for r in results)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
