#!/usr/bin/env python
"""Benchmark the ranking engine against arena-rank, FastChat and the Chatbot Arena notebook.

Prints figures, checks nothing (it is not a test) and exits 0. Needs the
``bench`` extras (pandas, scikit-learn, arena-rank) for the peers;
``--no-baseline`` / ``--no-peers`` skip them. The default data have about
5 % ties and both-bad (``--tie 0.09``), as real pools do.

Peers, in the same run: arena-rank's bootstrap (LMArena's package) and
FastChat's count-based bootstrap (``compute_bootstrap_bt``, reimplemented
here); both run ``--peer-rounds`` rounds and are extrapolated to ``--rounds``
over every core, as their process pools would run them. The CPU seconds of
our bootstrap are the budget that matters on a shared machine: wall seconds
on 2 cores are about CPU / 2 when the cores are free.

    .venv/bin/python scripts/bench_ranking.py                 # K=100, 1e6 judgments, 1000 rounds
    .venv/bin/python scripts/bench_ranking.py --models 20 --judgments 100000 --baseline-rounds 5

What is timed (wall clock, median of ``--repeat`` runs):

* ours, closed form: judgment rows (numpy arrays) -> (K, K, 4) counts with
  ``np.bincount`` (the database's GROUP BY) -> fit -> sandwich intervals,
  rank intervals, P(best), separations;
* ours, bootstrap: the same with ``--rounds`` Poisson-cell bootstrap rounds;
* baseline: the Chatbot Arena notebook's ``compute_mle_elo`` (every judgment
  a row, duplicated, ties as one win each way, ``LogisticRegression`` on a
  +-1 design matrix) and its bootstrap (``battles.sample(frac=1, replace=True)``
  and a refit per round). The design matrix is sparse (CSR) rather than the
  notebook's dense array, which would need 1.6 GB here and is slower: the
  comparison favours the baseline. Only ``--baseline-rounds`` rounds are
  run; the time per round is extrapolated to ``--rounds``.

Peak memory of our bootstrap pipeline is measured separately with
tracemalloc (numpy reports its buffers to it), since tracing slows the code.
BLAS threads are pinned to 1 before numpy loads: our bootstrap runs its own
threads, one per core, and nested BLAS threads only fight them.
"""

from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from numpy.typing import NDArray  # noqa: E402
from scipy.special import expit  # noqa: E402
from scipy.stats import kendalltau  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pairwise.ranking import CHOICES, fit, tally  # noqa: E402

TARGET_CLOSED_S = 0.2
TARGET_BOOTSTRAP_S = 1.0
TARGET_MEMORY_MB = 500.0
TARGET_SPEEDUP = 100.0
TARGET_TAU = 0.99


def synthetic_rows(
    k: int, n: int, seed: int, tie: float = 0.25
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Strengths ~ N(0, 1) and ``n`` judgments of uniformly random pairs in random positions.

    Ties (split between "tie" and "both_bad") take ``tie * 2 min(p, 1-p)`` of
    the probability, half from each side, so half-ties Bradley-Terry is the
    true model.
    """
    rng = np.random.default_rng(seed)
    strengths = rng.normal(0, 1, size=k)
    left = rng.integers(k, size=n)
    right = (left + rng.integers(1, k, size=n)) % k
    p = expit(strengths[left] - strengths[right])
    tied = tie * 2 * np.minimum(p, 1 - p)
    u = rng.random(n)
    choice = np.where(u < p - tied / 2, 0, np.where(u < 1 - tied, 1, 2 + rng.integers(2, size=n)))
    return strengths, left, right, choice


def timed(run: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    """Median wall and CPU (all threads of this process) seconds over ``repeat`` runs, and the last result."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        result = run()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def peak_mb(run: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def arena_battles(left: NDArray[np.int64], right: NDArray[np.int64], choice: NDArray[np.int64]):  # noqa: ANN201
    """The notebook's battles table: one row per judgment, model names as strings."""
    import pandas as pd

    names = np.array([f"model_{i:03d}" for i in range(max(left.max(), right.max()) + 1)], dtype=object)
    winner = np.array(["model_a", "model_b", "tie", "tie (bothbad)"], dtype=object)
    return pd.DataFrame({"model_a": names[left], "model_b": names[right], "winner": winner[choice]})


def arena_mle(battles, models) -> NDArray[np.float64]:  # noqa: ANN001
    """``compute_mle_elo`` of the Chatbot Arena notebook, on log-strengths (natural log), sparse design."""
    import pandas as pd
    from scipy.sparse import csr_array
    from sklearn.linear_model import LogisticRegression

    doubled = pd.concat([battles, battles], ignore_index=True)
    n, p = doubled.shape[0], len(models)
    a = models[doubled["model_a"]].to_numpy()
    b = models[doubled["model_b"]].to_numpy()
    rows = np.arange(n)
    x = csr_array((np.r_[np.ones(n), -np.ones(n)], (np.r_[rows, rows], np.r_[a, b])), shape=(n, p))
    y = np.zeros(n)
    y[(doubled["winner"] == "model_a").to_numpy()] = 1.0
    # one tie => one win for A (in the first copy) and one for B (in the second)
    tie = doubled["winner"].isin(["tie", "tie (bothbad)"]).to_numpy().copy()
    tie[n // 2:] = False
    y[tie] = 1.0
    model = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-8, max_iter=1000)
    model.fit(x, y)
    return model.coef_[0]


def fastchat_preprocess(left: NDArray[np.int64], right: NDArray[np.int64], choice: NDArray[np.int64]):  # noqa: ANN201
    """FastChat's ``preprocess_for_bt``: unique (model_a, model_b, outcome) rows and their counts.

    Reimplemented from ``fastchat/serve/monitor/rating_systems.py`` (the package
    pins old torch/transformers and is not installed here): outcome 2 = A won,
    0 = B won, 1 = tie or both bad, halved to 1 / 0 / 0.5.
    """
    schedule = np.ones((left.size, 3), dtype=np.int32)
    schedule[:, 0], schedule[:, 1] = left, right
    schedule[choice == 0, 2] = 2
    schedule[choice == 1, 2] = 0
    rows, weights = np.unique(schedule, return_counts=True, axis=0)
    return rows[:, :2], rows[:, 2].astype(np.float64) / 2.0, weights.astype(np.float64)


def fastchat_fit(matchups, outcomes, weights, n_models: int):  # noqa: ANN001, ANN201
    """FastChat's ``fit_bt``: L-BFGS-B on the weighted Bradley-Terry loss (natural-log units here)."""
    from scipy.optimize import minimize

    def loss_and_grad(ratings):  # noqa: ANN001, ANN202
        logits = ratings[matchups[:, 0]] - ratings[matchups[:, 1]]
        probs = expit(logits)
        eps = 1e-300
        loss = -((np.log(probs + eps) * outcomes + np.log(1.0 - probs + eps) * (1.0 - outcomes)) * weights).sum()
        grads = -(outcomes - probs) * weights
        model_grad = np.zeros_like(ratings)
        np.add.at(model_grad, matchups, grads[:, None] * np.array([1.0, -1.0]))
        return loss, model_grad

    result = minimize(loss_and_grad, np.zeros(n_models), jac=True, method="L-BFGS-B",
                      options={"maxiter": 100, "gtol": 1e-6})
    return result.x


def fastchat_bootstrap(left, right, choice, k: int, rounds_run: int, seed: int):  # noqa: ANN001, ANN201
    """FastChat's ``compute_bootstrap_bt``: multinomial counts over the unique rows, one L-BFGS fit per round.

    Returns (point scores, seconds for the preprocessing, wall and CPU seconds per round).
    """
    start, cpu = time.perf_counter(), time.process_time()
    matchups, outcomes, weights = fastchat_preprocess(left, right, choice)
    prep_s = time.perf_counter() - start
    point = fastchat_fit(matchups, outcomes, weights, k)
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n=int(weights.sum()), pvals=weights / weights.sum(), size=rounds_run)
    start, cpu = time.perf_counter(), time.process_time()
    for row in draws:
        fastchat_fit(matchups, outcomes, row.astype(np.float64) / weights.sum(), k)
    return point, prep_s, (time.perf_counter() - start) / rounds_run, (time.process_time() - cpu) / rounds_run


def arena_rank_bootstrap(left, right, choice, k: int, rounds_run: int, seed: int):  # noqa: ANN001, ANN201
    """arena-rank 0.1.1 (LMArena): ``PairDataset.from_pandas``, ``BradleyTerry.fit`` and its bootstrap's
    per-round ``fit_single_bootstrap_sample`` on ``jax.random.multinomial`` counts.

    Its ``compute_ratings_and_cis(ci_method="bootstrap")`` runs those rounds in a
    ``multiprocessing.Pool`` of every core; here they run in this process (fork
    after jax starts threads can hang), and the per-round time is divided by the
    cores. Returns (point scores, point-fit seconds, wall and CPU seconds per round).
    """
    import jax
    import pandas as pd
    from arena_rank.models.bradley_terry import BradleyTerry, fit_single_bootstrap_sample
    from arena_rank.utils.data_utils import PairDataset

    names = np.array([f"model_{i:03d}" for i in range(k)], dtype=object)
    winner = np.array(["model_a", "model_b", "tie", "both_bad"], dtype=object)
    frame = pd.DataFrame({"model_a": names[left], "model_b": names[right], "winner": winner[choice]})
    start = time.perf_counter()
    dataset = PairDataset.from_pandas(frame)
    model = BradleyTerry(n_competitors=len(dataset.competitors))
    model.fit(dataset)
    point_s = time.perf_counter() - start
    total = float(dataset.counts.sum())
    counts = jax.random.multinomial(jax.random.PRNGKey(seed), n=total, p=dataset.counts / total,
                                    shape=(rounds_run, dataset.counts.shape[0]), dtype=model.dtype)
    fit_single_bootstrap_sample(counts[0], model, dataset)  # jit warm-up, as the pool's workers pay once each
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(rounds_run):
        fit_single_bootstrap_sample(counts[i], model, dataset)
    order = [int(name[6:]) for name in dataset.competitors]
    scores = np.zeros(k)
    scores[order] = np.asarray(model.params["ratings"])
    return scores, point_s, (time.perf_counter() - start) / rounds_run, (time.process_time() - cpu) / rounds_run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--judgments", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=1000, help="bootstrap rounds")
    parser.add_argument("--baseline-rounds", type=int, default=5, help="baseline rounds actually run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (median reported)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--peer-rounds", type=int, default=5,
                        help="rounds of arena-rank's and FastChat's bootstraps actually run (then extrapolated)")
    parser.add_argument("--no-peers", action="store_true", help="skip arena-rank and FastChat")
    parser.add_argument("--tie", type=float, default=0.09,
                        help="tie propensity (0.09: about 5 %% ties and both-bad, as in real pools)")
    args = parser.parse_args(argv)

    k, n = args.models, args.judgments
    print(f"pairwise ranking benchmark: K={k} models, {n:,} judgments, {args.rounds} bootstrap rounds, "
          f"{os.cpu_count()} cores, numpy {np.__version__}")
    strengths, left, right, choice = synthetic_rows(k, n, args.seed, args.tie)
    print("choices: " + ", ".join(f"{c} {np.mean(choice == i):.1%}" for i, c in enumerate(CHOICES)))

    def closed() -> object:
        return fit(tally(left, right, choice, k))

    def boot() -> object:
        return fit(tally(left, right, choice, k), bootstrap=args.rounds, seed=args.seed)

    closed()  # warm-up: imports, first-touch of memory
    closed_s, closed_cpu, ours = timed(closed, args.repeat)
    tally_s, _, _ = timed(lambda: tally(left, right, choice, k), args.repeat)
    boot_s, boot_cpu, ours_boot = timed(boot, args.repeat)
    boot_mb = peak_mb(boot)
    truth_tau = kendalltau(ours.scores, strengths).statistic
    width = float(np.mean(ours.ci_high - ours.ci_low))
    boot_width = float(np.mean(ours_boot.ci_high - ours_boot.ci_low))

    rows = [
        ("aggregation (bincount GROUP BY)", f"{tally_s:.3f} s", "", ""),
        ("aggregation + fit + closed-form intervals", f"{closed_s:.3f} s", f"< {TARGET_CLOSED_S} s",
         closed_s < TARGET_CLOSED_S),
        ("  the same, CPU seconds", f"{closed_cpu:.3f} s", "", ""),
        (f"aggregation + fit + {args.rounds} bootstrap rounds", f"{boot_s:.3f} s", f"< {TARGET_BOOTSTRAP_S} s",
         boot_s < TARGET_BOOTSTRAP_S),
        ("  the same, CPU seconds summed over threads", f"{boot_cpu:.3f} s", f"< {2 * TARGET_BOOTSTRAP_S} s",
         boot_cpu < 2 * TARGET_BOOTSTRAP_S),
        ("peak traced memory, bootstrap pipeline", f"{boot_mb:.0f} MB", f"< {TARGET_MEMORY_MB:.0f} MB",
         boot_mb < TARGET_MEMORY_MB),
        ("Kendall tau, our scores vs true strengths", f"{truth_tau:.4f}", "", ""),
        ("mean 95% CI width: sandwich / bootstrap", f"{width:.4f} / {boot_width:.4f}", "", ""),
    ]

    if not args.no_baseline:
        import pandas as pd

        battles = arena_battles(left, right, choice)
        models = pd.Series(np.arange(k), index=[f"model_{i:03d}" for i in range(k)])
        point_s, _, coef = timed(lambda: arena_mle(battles, models), 1)
        rng = np.random.default_rng(args.seed)
        start = time.perf_counter()
        for _ in range(args.baseline_rounds):
            arena_mle(battles.sample(frac=1.0, replace=True, random_state=rng), models)
        per_round = (time.perf_counter() - start) / args.baseline_rounds
        baseline_s = point_s + args.rounds * per_round
        tau = kendalltau(ours.scores, coef).statistic
        gap = float(np.abs(ours.scores - (coef - coef.mean())).max())
        speedup = baseline_s / boot_s
        rows += [
            ("baseline: LogisticRegression point fit (rows)", f"{point_s:.2f} s", "", ""),
            (f"baseline: bootstrap, {args.baseline_rounds} rounds run", f"{per_round:.2f} s/round", "", ""),
            (f"baseline: point + {args.rounds} rounds (extrapolated)", f"{baseline_s:.0f} s", "", ""),
            (f"speed ratio, baseline / ours ({args.rounds} rounds)", f"{speedup:,.0f}x", f">= {TARGET_SPEEDUP:.0f}x",
             speedup >= TARGET_SPEEDUP),
            ("Kendall tau, our scores vs baseline's", f"{tau:.4f}", f">= {TARGET_TAU}", tau >= TARGET_TAU),
            ("max |score difference| vs baseline (log units)", f"{gap:.1e}", "", ""),
        ]

    if not args.no_peers:
        cores = os.cpu_count() or 1
        fc_scores, fc_prep, fc_round, fc_cpu = fastchat_bootstrap(left, right, choice, k, args.peer_rounds, args.seed)
        fc_total = fc_prep + args.rounds * fc_round / cores
        rows += [
            (f"FastChat count-based bootstrap: {args.peer_rounds} rounds run", f"{fc_round:.3f} s/round",
             f"cpu {fc_cpu:.3f} s/round", ""),
            (f"FastChat: {args.rounds} rounds on {cores} cores (extrapolated)", f"{fc_total:.0f} s",
             f"cpu {args.rounds * fc_cpu:.0f} s", ""),
            ("max |score difference| vs FastChat (log units)",
             f"{np.abs(ours.scores - (fc_scores - fc_scores.mean())).max():.1e}", "", ""),
        ]
        try:
            ar_scores, ar_point, ar_round, ar_cpu = arena_rank_bootstrap(left, right, choice, k, args.peer_rounds,
                                                                        args.seed)
        except ImportError as exc:
            rows.append(("arena-rank", f"not installed ({exc.name})", "pip install -e '.[bench]'", ""))
        else:
            ar_total = ar_point + args.rounds * ar_round / cores
            rows += [
                (f"arena-rank bootstrap: {args.peer_rounds} rounds run", f"{ar_round:.2f} s/round",
                 f"cpu {ar_cpu:.3f} s/round", ""),
                (f"arena-rank: point + {args.rounds} rounds on {cores} cores (extrapolated)", f"{ar_total:.0f} s",
                 f"cpu {args.rounds * ar_cpu:.0f} s", ""),
                (f"speed ratio, arena-rank / ours ({args.rounds} rounds, wall)", f"{ar_total / boot_s:,.0f}x", "", ""),
                ("max |score difference| vs arena-rank (log units)",
                 f"{np.abs(ours.scores - (ar_scores - ar_scores.mean())).max():.1e}", "", ""),
            ]

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows.append(("process peak RSS (everything, incl. baseline)", f"{rss:.0f} MB", "", ""))
    widths = [max(len(str(r[i])) for r in rows) for i in range(3)]
    print()
    print(f"{'figure'.ljust(widths[0])}  {'measured'.rjust(widths[1])}  {'target'.ljust(widths[2])}  ok")
    print("-" * (sum(widths) + 10))
    for name, value, target, ok in rows:
        mark = "" if ok == "" else ("yes" if ok else "NO")
        print(f"{name.ljust(widths[0])}  {value.rjust(widths[1])}  {target.ljust(widths[2])}  {mark}")
    print()
    print(f"timings: wall clock, median of {args.repeat} runs; prior used: {ours.prior}; "
          f"interval method: {ours.interval_method} / {ours_boot.interval_method}")
    print(f"load average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())} "
          f"(other processes on these {os.cpu_count()} cores slow the wall clock, not the CPU seconds)")
    if not args.no_baseline:
        print(f"baseline bootstrap extrapolated from {args.baseline_rounds} rounds "
              f"({per_round:.2f} s/round x {args.rounds}); sparse design matrix (favours the baseline)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
