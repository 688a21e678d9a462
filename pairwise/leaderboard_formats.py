"""Leaderboards as CSV, JSON and a terminal table. Pure: no Flask, no SQL.

The first nine CSV columns (and the keys of JSON ``rows``) are the public
interface: rank, model, score, ci_low, ci_high, wins, losses, ties, judgments.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import ranking
from .leaderboards import Leaderboard

COLUMNS = ("rank", "model", "score", "ci_low", "ci_high", "wins", "losses", "ties", "judgments",
           "rating", "rank_ci_low", "rank_ci_high", "p_best", "flags", "category")


def _num(x: float, digits: int = 4) -> float | None:
    x = float(x)
    return round(x, digits) if math.isfinite(x) else None


def rows(board: Leaderboard) -> list[dict[str, Any]]:
    fit = board.fit
    out = []
    for i in np.argsort(fit.rank, kind="stable"):
        out.append({
            "rank": int(fit.rank[i]),
            "model": board.models[i],
            "score": _num(fit.scores[i]),
            "ci_low": _num(fit.ci_low[i]),
            "ci_high": _num(fit.ci_high[i]),
            "wins": int(fit.wins[i]),
            "losses": int(fit.losses[i]),
            "ties": int(fit.ties[i]),
            "judgments": int(fit.judgments[i]),
            "rating": _num(fit.rating[i], 1),
            "rank_ci_low": int(fit.rank_ci_low[i]),
            "rank_ci_high": int(fit.rank_ci_high[i]),
            "p_best": _num(fit.p_best[i], 3),
            "flags": "; ".join(fit.flags[i]),
            "category": board.category,
        })
    return out


def _interval(value: ranking.Interval | None) -> dict[str, float | None] | None:
    if value is None:
        return None
    return {"estimate": _num(value.estimate), "ci_low": _num(value.ci_low), "ci_high": _num(value.ci_high)}


def _matrix(m: np.ndarray) -> list[list[float | None]]:
    return [[_num(v, 4) for v in row] for row in m]


def as_dict(board: Leaderboard) -> dict[str, Any]:
    fit = board.fit
    return {
        "pool": board.pool,
        "category": board.category,
        "judgments": board.judgments,
        "models": list(board.models),
        "rows": rows(board),
        "provenance": {
            "pool": board.pool,
            "category": board.category,
            "judgments": board.judgments,
            "settings": fit.settings,
            "seed": board.options.seed,
            "data_digest": ranking.digest(board.counts),
            "created_at": board.created_at,
            "engine": "pairwise.ranking (Bradley-Terry via choix)",
        },
        "interval_method": fit.interval_method,
        "prior": fit.prior,
        "position_effect": _interval(fit.position_effect),
        "tie_parameter": _interval(fit.tie_parameter),
        "separation": [
            {"upper": board.models[s.upper], "lower": board.models[s.lower],
             "difference": _num(s.difference), "ci_low": _num(s.ci_low), "ci_high": _num(s.ci_high),
             "distinguishable": bool(s.distinguishable), "extra_judgments": s.extra_judgments}
            for s in fit.separation
        ],
        "win_rate": {"observed": _matrix(fit.observed_win_rate), "fitted": _matrix(fit.fitted_win_prob)},
    }


def to_json(boards: Sequence[Leaderboard]) -> str:
    """One leaderboard as an object; several as {"leaderboards": [...]}."""
    if len(boards) == 1:
        return json.dumps(as_dict(boards[0]), indent=1)
    return json.dumps({"leaderboards": [as_dict(b) for b in boards]}, indent=1)


def to_csv(boards: Sequence[Leaderboard]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for board in boards:
        writer.writerows(rows(board))
    return buffer.getvalue()


def to_table(boards: Sequence[Leaderboard]) -> str:
    blocks = []
    for board in boards:
        title = f"{board.pool or 'file'} / {board.category}: {board.judgments} judgments"
        header = f"{'rank':>4}  {'model':<24} {'score':>7}  {'95% CI':>17}  {'W':>5} {'L':>5} {'T':>5}  {'P(best)':>7}  flags"
        lines = [title, header, "-" * len(header)]
        for r in rows(board):
            ci = f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]"
            lines.append(f"{r['rank']:>4}  {r['model'][:24]:<24} {_fmt(r['score']):>7}  {ci:>17}  "
                         f"{r['wins']:>5} {r['losses']:>5} {r['ties']:>5}  {_fmt(r['p_best'], 3):>7}  {r['flags']}")
        settings = board.fit.settings
        lines.append(f"ties={settings.get('ties')} intervals={board.fit.interval_method} "
                     f"bootstrap={settings.get('bootstrap')} seed={settings.get('seed')}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _fmt(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def render(boards: Sequence[Leaderboard], fmt: str) -> str:
    if fmt == "json":
        return to_json(boards) + "\n"
    if fmt == "csv":
        return to_csv(boards)
    return to_table(boards)
