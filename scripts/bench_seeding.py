"""Seeding throughput: images/s and peak memory, CLI into SQLite and API into PostgreSQL.

    .venv/bin/python scripts/bench_seeding.py                      # both, 20 items x 6 images of 1024x1024
    .venv/bin/python scripts/bench_seeding.py --only cli --profile # where the time goes (cProfile, one process)
    .venv/bin/python scripts/bench_seeding.py --database-url postgresql://postgres@127.0.0.1:5432/test

Target (#11): >= 25 images/s for 1024x1024 PNGs through the CLI on 2 cores, the
same order through the API into PostgreSQL, bounded peak memory. The images are
photo-like (pairwise.synthetic sources, each "model" a small edit plus sensor
noise), written as PNG at zlib's default level, as most tools do. Every run
starts from an empty database and image folder. Wall-clock figures on a shared
machine vary with its load: run it more than once.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
TARGET = 25.0
MODELS = ("alpha", "beta", "gamma", "delta", "epsilon")


def make_dataset(folder: Path, items: int, size: int) -> Path:
    """A manifest of ``items`` items, each a source and five outputs, as PNG files."""
    from pairwise.synthetic import CATEGORIES, make_source

    manifest = folder / "manifest.json"
    if manifest.is_file():
        return manifest
    entries = []
    for k in range(items):
        category = CATEGORIES[k % len(CATEGORIES)]
        source = make_source(category, k, (size, size))
        item = folder / f"item-{k:03d}"
        item.mkdir(parents=True, exist_ok=True)
        source.save(item / "source.png")
        rng = np.random.default_rng(k)
        outputs = {}
        for m, model in enumerate(MODELS):
            pixels = np.asarray(source, dtype=np.float32) * (0.92 + 0.03 * m)
            pixels += rng.normal(0, 2.0, pixels.shape)
            Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(item / f"{model}.png")
            outputs[model] = f"{item.name}/{model}.png"
        entries.append({"id": item.name, "category": category, "instruction": "brighten the product",
                        "source": f"{item.name}/source.png", "outputs": outputs})
    manifest.write_text(json.dumps({"pool": "bench", "items": entries}))
    return manifest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fresh_postgres(url: str) -> tuple[str, object]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from pairwise.config import normalise_database_url

    base = make_url(normalise_database_url(url))
    name = f"pairwise_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


def _env(database_url: str, images: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(PAIRWISE_DATABASE_URL=database_url, PAIRWISE_IMAGE_DIR=str(images),
               PAIRWISE_SECRET_KEY="bench-secret", PAIRWISE_MAX_UPLOAD_MB="200")
    return env


def _pairwise(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run([str(Path(sys.executable).parent / "pairwise"), *args], env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"pairwise {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


class TreeMemory:
    """Samples the resident memory of a process and all its descendants.

    Worker processes are the CLI's grandchildren (via the forkserver), so
    ``getrusage`` never sees them; /proc does, while they live.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_total_mb = 0.0
        self.peak_process_mb = 0.0
        self.cpu: dict[int, float] = {}  # pid -> CPU seconds, last seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            total = 0.0
            for pid in _descendants(self.pid):
                rss, hwm = _status_mb(pid)
                self.cpu[pid] = max(self.cpu.get(pid, 0.0), _cpu_seconds(pid))
                total += rss
                self.peak_process_mb = max(self.peak_process_mb, hwm)
            self.peak_total_mb = max(self.peak_total_mb, total)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            todo.extend(int(p) for p in Path(f"/proc/{current}/task/{current}/children").read_text().split())
        except OSError:
            continue
    return found


def _status_mb(pid: int) -> tuple[float, float]:
    rss = hwm = 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    except OSError:
        pass
    return rss, hwm


def _children_cpu() -> float:
    """User + system CPU seconds of the child processes waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bench_cli(manifest: Path, images_total: int, workers: int) -> dict[str, float]:
    """One timed run with ``workers``; one single-process run for CPU per image."""
    result: dict[str, float] = {}
    for label, count in (("parallel", workers), ("single", 1)):
        with tempfile.TemporaryDirectory() as tmp:
            env = _env(f"sqlite:///{tmp}/bench.db", Path(tmp) / "images")
            _pairwise("db", "upgrade", env=env)
            cpu_before = _children_cpu()
            started = time.perf_counter()
            process = subprocess.Popen([str(Path(sys.executable).parent / "pairwise"), "pools", "seed",
                                        str(manifest), "--workers", str(count)], env=env,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            memory = TreeMemory(process.pid)
            _out, err = process.communicate()
            memory.stop()
            seconds = time.perf_counter() - started
            if process.returncode != 0:
                raise SystemExit(f"pairwise pools seed failed: {err.strip()}")
            if label == "parallel":
                result.update(seconds=seconds, images_per_s=images_total / seconds,
                              peak_total_mb=memory.peak_total_mb, peak_process_mb=memory.peak_process_mb,
                              parallel_cpu_per_image_ms=1000 * sum(memory.cpu.values()) / images_total)
            else:
                result["cpu_per_image_ms"] = 1000 * (_children_cpu() - cpu_before) / images_total
    return result


def bench_api(manifest: Path, images_total: int, database_url: str, server_workers: int,
              uploads: int) -> dict[str, float]:
    url, drop = _fresh_postgres(database_url) if database_url.startswith("postgres") else (database_url, None)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = _env(url, Path(tmp) / "images")
            _pairwise("db", "upgrade", env=env)
            password = "bench-password-1"
            subprocess.run([str(Path(sys.executable).parent / "pairwise"), "users", "add",
                            "bench@example.com", "--role", "admin"], input=password + "\n",
                           env=env, capture_output=True, text=True, check=True)
            token = _pairwise("tokens", "create", "bench@example.com", env=env).strip().splitlines()[-1]
            port = _free_port()
            server = subprocess.Popen(
                [str(Path(sys.executable).parent / "gunicorn"), "-w", str(server_workers), "-b",
                 f"127.0.0.1:{port}", "--timeout", "120", "pairwise:create_app()"],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                base = f"http://127.0.0.1:{port}"
                for _ in range(200):
                    try:
                        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                            break
                    except OSError:
                        time.sleep(0.1)
                _wait_until_booted(server.pid, server_workers)
                server_cpu_before = sum(_cpu_seconds(pid) for pid in _descendants(server.pid))
                started = time.perf_counter()
                done = subprocess.run(
                    [sys.executable, str(ROOT / "scripts" / "seed_pool.py"), str(manifest), "--url", base,
                     "--token", token, "--parallel", str(uploads), "--quiet"],
                    capture_output=True, text=True, check=False)
                seconds = time.perf_counter() - started
                if done.returncode != 0:
                    raise SystemExit(f"seed_pool.py failed: {done.stderr.strip()}")
                server_peak = max(_status_mb(pid)[1] for pid in _descendants(server.pid))
                server_cpu = sum(_cpu_seconds(pid) for pid in _descendants(server.pid)) - server_cpu_before
            finally:
                server.terminate()
                server.wait(timeout=30)
    finally:
        if drop is not None:
            drop()  # type: ignore[operator]
    return {"seconds": seconds, "images_per_s": images_total / seconds, "peak_rss_mb": server_peak,
            "cpu_per_image_ms": 1000 * server_cpu / images_total}


def _wait_until_booted(pid: int, workers: int, timeout: float = 60.0) -> None:
    """Until every gunicorn worker has imported the app and sits idle.

    The port opens before the workers have imported anything; without this
    wait their start-up (numpy, Pillow, SQLAlchemy, the app) was counted as
    CPU spent on the upload.
    """
    deadline, last = time.monotonic() + timeout, -1.0
    while time.monotonic() < deadline:
        pids = _descendants(pid)
        total = sum(_cpu_seconds(p) for p in pids)
        if len(pids) >= 1 + workers and total == last:
            return
        last = total
        time.sleep(0.5)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a live process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")



def profile_in_process(manifest: Path) -> None:
    """cProfile (CPU time) of one seeding run in this process (workers=1)."""
    from pairwise import create_app, manifest as manifest_module, pools
    from pairwise.context import current_store
    from pairwise.db import get_db, get_engine
    from pairwise.migrate import upgrade

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"DATABASE_URL": f"sqlite:///{tmp}/p.db", "IMAGE_DIR": f"{tmp}/images",
                          "SECRET_KEY": "x"})
        with app.app_context():
            upgrade(get_engine())
            loaded = manifest_module.load(manifest)
            # CPU time, not wall time: on a shared machine the wall clock
            # mostly measures the neighbours.
            profiler = cProfile.Profile(time.process_time)
            cpu = time.process_time()
            profiler.enable()
            pools.seed(get_db(), current_store(), loaded, workers=1)
            get_db().commit()
            profiler.disable()
            cpu = time.process_time() - cpu
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
        print(out.getvalue())
        print(f"{cpu:.1f} s CPU in one process (with the profiler's overhead) for the whole import; "
              f"load average {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--only", choices=["cli", "api"], default=None)
    parser.add_argument("--workers", type=int, default=0, help="CLI worker processes (0: one per core)")
    parser.add_argument("--server-workers", type=int, default=2, help="gunicorn workers for the API run")
    parser.add_argument("--parallel", type=int, default=4, help="concurrent uploads for the API run")
    parser.add_argument("--database-url", default=os.environ.get(
        "PAIRWISE_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "pairwise-bench-seeding")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one in-process run")
    args = parser.parse_args()

    folder = args.data / f"{args.items}x{args.size}"
    manifest = make_dataset(folder, args.items, args.size)
    images_total = args.items * (1 + len(MODELS))
    cores = len(os.sched_getaffinity(0))
    print(f"{args.items} items x {1 + len(MODELS)} images of {args.size}x{args.size} PNG = {images_total} images; "
          f"{cores} cores (shared with other work: figures vary with the machine's load)")
    if args.profile:
        profile_in_process(manifest)
        return
    if args.only in (None, "cli"):
        r = bench_cli(manifest, images_total, args.workers)
        print(f"CLI -> SQLite      {r['seconds']:6.1f} s  {r['images_per_s']:6.1f} images/s  "
              f"(target >= {TARGET:.0f})  peak RSS: {r['peak_total_mb']:.0f} MB all processes, "
              f"{r['peak_process_mb']:.0f} MB largest; "
              f"~{r['parallel_cpu_per_image_ms']:.0f} ms CPU per image over all its processes (sampled)")
        # On a loaded machine the wall clock says more about the neighbours
        # than about the code; CPU time per image says what 2 idle cores would do.
        print(f"                   {r['cpu_per_image_ms']:.0f} ms CPU per image in one process; with the "
              f"workers' overhead ~{cores * 1000 / r['parallel_cpu_per_image_ms']:.0f} images/s on {cores} "
              f"idle cores (load average now {os.getloadavg()[0]:.1f})")
    if args.only in (None, "api"):
        r = bench_api(manifest, images_total, args.database_url, args.server_workers, args.parallel)
        where = "PostgreSQL" if args.database_url.startswith("postgres") else "SQLite"
        print(f"API -> {where:<11} {r['seconds']:6.1f} s  {r['images_per_s']:6.1f} images/s  "
              f"(target: same order as the CLI)  gunicorn -w {args.server_workers}, {args.parallel} "
              f"parallel uploads; peak RSS per server process {r['peak_rss_mb']:.0f} MB")
        print(f"                   {r['cpu_per_image_ms']:.0f} ms server CPU per image -> "
              f"~{cores * 1000 / r['cpu_per_image_ms']:.0f} images/s on {cores} idle cores "
              f"(load average now {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
