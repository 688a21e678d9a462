#!/usr/bin/env python
"""Benchmark ``pairwise rank`` on a 1,000,000-row judgments CSV against a bare read of the file.

Prints figures and exits 0 (not a test). Each command runs in its own
process, as a user would run it, alternating, ``--repeat`` times; the
median wall seconds and CPU seconds (user + system, all threads, from
``getrusage(RUSAGE_CHILDREN)``) are reported side by side.

    .venv/bin/python scripts/bench_rank_file.py            # writes /tmp/pairwise-1m.csv once

Rows are our export format (pool, category, item, model_left, model_right,
choice, expert, rationale, created_at), K = 100 models, 4 categories, ~5 %
ties. ``pairwise rank`` prints the CSV leaderboards of all categories and of
each one (5 fits, closed form).
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from scipy.special import expit

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TARGET_S = 1.0
TARGET_RATIO = 3.0


def write_rows(path: Path, n: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    strengths = rng.normal(0, 1, size=k)
    left = rng.integers(k, size=n)
    right = (left + rng.integers(1, k, size=n)) % k
    p = expit(strengths[left] - strengths[right])
    tied = 0.09 * 2 * np.minimum(p, 1 - p)
    u = rng.random(n)
    choice = np.where(u < p - tied / 2, 0, np.where(u < 1 - tied, 1, 2 + rng.integers(2, size=n)))
    names = [f"model-{i:03d}" for i in range(k)]
    choices = ["left", "right", "tie", "both_bad"]
    categories = ["apparel", "food", "cosmetics", "jewelry"]
    category = rng.integers(len(categories), size=n)
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["pool", "category", "item", "model_left", "model_right", "choice", "expert", "rationale",
                      "created_at"])
        for i in range(n):
            out.writerow(["spring", categories[category[i]], f"item-{i % 5000}", names[left[i]], names[right[i]],
                          choices[choice[i]], f"expert-{i % 50}", "A keeps the fabric texture, B is smeared",
                          "2026-03-01T10:00:00"])


def run(command: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd="/tmp")
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--file", type=Path, default=Path("/tmp/pairwise-1m.csv"))
    parser.add_argument("--judgments", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if not args.file.exists():
        write_rows(args.file, args.judgments, 100, 0)
    python = str(BIN / "python")
    commands = {
        "pairwise rank FILE --format csv": [str(BIN / "pairwise"), "rank", str(args.file), "--format", "csv"],
        "bare read: csv.reader pass": [python, "-c", "import csv,sys\nn=sum(1 for _ in csv.reader("
                                       "open(sys.argv[1], newline='')))", str(args.file)],
        "bare read: pyarrow.csv.read_csv": [python, "-c", "import pyarrow.csv as c,sys\nc.read_csv(sys.argv[1])",
                                            str(args.file)],
        "python start-up only": [python, "-c", "pass"],
    }
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(args.repeat):
        for name, command in commands.items():
            times[name].append(run(command))
    size = args.file.stat().st_size / 2**20
    print(f"{args.file} ({size:.0f} MB, {args.judgments:,} rows); {os.cpu_count()} cores; "
          f"median of {args.repeat} runs each, alternating")
    print(f"{'command':<36} {'wall s':>7} {'cpu s':>7}")
    medians = {}
    for name, values in times.items():
        wall, cpu = statistics.median(v[0] for v in values), statistics.median(v[1] for v in values)
        medians[name] = (wall, cpu)
        print(f"{name:<36} {wall:>7.2f} {cpu:>7.2f}")
    rank_wall, rank_cpu = medians["pairwise rank FILE --format csv"]
    bare = min(medians["bare read: csv.reader pass"][0], medians["bare read: pyarrow.csv.read_csv"][0])
    bare_cpu = min(medians["bare read: csv.reader pass"][1], medians["bare read: pyarrow.csv.read_csv"][1])
    print(f"rank / fastest bare read: wall {rank_wall / bare:.1f}x, cpu {rank_cpu / bare_cpu:.1f}x "
          f"(target <= {TARGET_RATIO:.0f}x); rank wall {rank_wall:.2f} s (target <= {TARGET_S:.0f} s)")
    print(f"load average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())} "
          "(a shared machine: wall seconds stretch with the load, CPU seconds much less)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
