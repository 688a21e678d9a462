"""Leaderboards as CSV, JSON and a terminal table. Pure: no Flask, no SQL.

The first nine CSV columns (and the keys of JSON ``rows``) are the public
interface: rank, model, score, ci_low, ci_high, wins, losses, ties, judgments.
Every row also carries the fit's provenance (:data:`PROVENANCE_COLUMNS`), so a
CSV file alone says which interval method, ties mode, position flag, seed,
bootstrap rounds, judgment count and data digest made it.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import csv_safe, ranking
from .leaderboard_fit import Leaderboard

#: With style control (``style=1``), after COLUMNS.
STYLE_COLUMNS = ("style_score", "style_ci_low", "style_ci_high")
PROVENANCE_COLUMNS = ("interval_method", "ties_mode", "position", "bootstrap_rounds", "seed", "scheduler",
                      "total_judgments", "data_digest")
COLUMNS = ("rank", "model", "score", "ci_low", "ci_high", "wins", "losses", "ties", "judgments",
           "rating", "rank_ci_low", "rank_ci_high", "p_best", "flags",
           "separated_from_next", "extra_judgments_to_next", "extra_hours_to_next", "category",
           "p_correct_order_next", "verdict_next",
           "unacceptable", "unacceptable_rate", "unacceptable_ci_low", "unacceptable_ci_high", "criterion",
           *PROVENANCE_COLUMNS, "excluded_judgments", "exclusions")


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


def _separation(board: Leaderboard) -> list[dict[str, Any]]:
    out = []
    seconds = board.cost.median_seconds if board.cost else None
    for s in board.fit.separation:
        entry: dict[str, Any] = {
            "upper": board.models[s.upper], "lower": board.models[s.lower],
            "difference": _num(s.difference), "ci_low": _num(s.ci_low), "ci_high": _num(s.ci_high),
            "distinguishable": bool(s.distinguishable), "extra_judgments": s.extra_judgments,
            "extra_hours": None, "extra_cost": None,
            "p_correct_order": _num(s.p_correct_order, 3), "separable": bool(s.separable),
            "verdict": s.verdict, "budget": s.budget,
        }
        if s.extra_judgments is not None and seconds is not None and board.cost is not None:
            hours = s.extra_judgments * seconds / 3600
            entry["extra_hours"] = round(hours, 2)
            entry["extra_cost"] = round(hours * board.cost.hourly_rate, 2)
        out.append(entry)
    return out


def as_dict(board: Leaderboard) -> dict[str, Any]:
    """Everything about a leaderboard, JSON-ready: the API's and the cache's form."""
    fit = board.fit
    separation = _separation(board)
    table = rows(board)
    # The separation from the next model down, on each row, so the CSV carries it too.
    for row, gap in zip(table, [*separation, None]):
        row["separated_from_next"] = None if gap is None else gap["distinguishable"]
        row["extra_judgments_to_next"] = None if gap is None else gap["extra_judgments"]
        row["extra_hours_to_next"] = None if gap is None else gap["extra_hours"]
        row["p_correct_order_next"] = None if gap is None else gap["p_correct_order"]
        row["verdict_next"] = None if gap is None else gap["verdict"]
    digest = ranking.digest(board.counts)
    provenance_row = {
        "interval_method": fit.interval_method, "ties_mode": board.options.ties,
        "position": bool(board.options.position), "bootstrap_rounds": board.options.bootstrap,
        "seed": board.options.seed, "scheduler": board.scheduler, "total_judgments": board.judgments,
        "data_digest": digest,
    }
    for row in table:
        row.update(provenance_row)
    style = _style(board)
    if style is not None:
        by_model = {r["model"]: r for r in style["rows"]}
        for row in table:
            controlled = by_model.get(row["model"], {})
            row.update({"style_score": controlled.get("score"), "style_ci_low": controlled.get("ci_low"),
                        "style_ci_high": controlled.get("ci_high")})
    return {
        "style": style,
        "pool": board.pool,
        "category": board.category,
        "judgments": board.judgments,
        "models": list(board.models),
        "rows": table,
        "provenance": {
            "pool": board.pool,
            "category": board.category,
            "judgments": board.judgments,
            "settings": fit.settings,
            "seed": board.options.seed,
            "data_digest": digest,
            "scheduler": board.scheduler,
            "created_at": board.created_at,
            "engine": "pairwise.ranking: Bradley-Terry maximum likelihood by Newton's method (checked against choix in the tests)",
        },
        "interval_method": fit.interval_method,
        "prior": fit.prior,
        "position_effect": _interval(fit.position_effect),
        "tie_parameter": _interval(fit.tie_parameter),
        "separation": separation,
        "cost_model": None if board.cost is None else {
            "median_seconds_per_judgment": None if board.cost.median_seconds is None
            else round(board.cost.median_seconds, 1),
            "hourly_rate": board.cost.hourly_rate, "basis": board.cost.basis},
        # Matrices follow "models" (alphabetical); rows beat columns.
        "win_rate": {"observed": _matrix(fit.observed_win_rate), "fitted": _matrix(fit.fitted_win_prob)},
        # judgments of each pair, either side (same order as "models")
        "pair_counts": (board.counts.sum(axis=2) + board.counts.sum(axis=2).T).astype(int).tolist(),
    }


def _style(board: Leaderboard) -> dict[str, Any] | None:
    """The style-controlled fit: covariate effects (per SD of difference) and controlled scores."""
    if board.style is None:
        return None
    fit = board.style.fit
    # When every model's outputs differ in style consistently, style and model
    # identity are nearly collinear: the data cannot tell them apart, and the
    # controlled intervals balloon. Say so rather than leave it to the reader.
    raw_width = np.asarray(board.fit.ci_high) - np.asarray(board.fit.ci_low)
    style_width = np.asarray(fit.ci_high) - np.asarray(fit.ci_low)
    ratio = float(np.median(style_width / np.where(raw_width > 0, raw_width, np.nan))) if raw_width.size else 1.0
    warning = None
    if math.isfinite(ratio) and ratio > 3:
        warning = (f"style-controlled intervals are {ratio:.0f}x wider than the plain ones: in these data each "
                   "model's outputs differ in style consistently, so style and model quality cannot be told apart")
    return {
        "warning": warning,
        "method": "contextual Bradley-Terry (covariates: left minus right, per SD), sandwich intervals",
        "judgments": int(fit.judgments),
        "ties": fit.ties,
        "prior": fit.prior,
        "covariates": [{"name": name, "estimate": _num(fit.coefficients[j]), "ci_low": _num(fit.coef_ci_low[j]),
                        "ci_high": _num(fit.coef_ci_high[j]), "sd": _num(fit.scale[j], 6)}
                       for j, name in enumerate(board.style.covariates)],
        "rows": [{"model": board.models[i], "score": _num(fit.scores[i]), "ci_low": _num(fit.ci_low[i]),
                  "ci_high": _num(fit.ci_high[i])} for i in range(len(board.models))],
    }


def to_json(boards: Sequence[dict[str, Any]]) -> str:
    """One leaderboard as an object; several as {"leaderboards": [...]}."""
    if len(boards) == 1:
        return json.dumps(boards[0], indent=1)
    return json.dumps({"leaderboards": list(boards)}, indent=1)


def to_csv(boards: Sequence[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    styled = any(board.get("style") for board in boards)
    writer = csv_safe.dict_writer(buffer, fieldnames=COLUMNS + (STYLE_COLUMNS if styled else ()), lineterminator="\n",
                                  extrasaction="ignore")
    writer.writeheader()
    for board in boards:
        # Excluded experts (issue 7) travel with every row, like the rest of the provenance.
        excluded = board.get("provenance", {}).get("excluded") or {}
        note = "; ".join(f"{e['judgments']} judgments of {e['expert']}: {' '.join(str(e['reason']).split())}"
                         for e in excluded.get("experts", []))
        writer.writerows({**row, "criterion": board.get("criterion"),
                          "excluded_judgments": excluded.get("judgments", 0), "exclusions": note}
                         for row in board["rows"])
    return buffer.getvalue()


def to_table(boards: Sequence[dict[str, Any]]) -> str:
    blocks = []
    for board in boards:
        title = f"{board['pool'] or 'file'} / {board['category']}: {board['judgments']} judgments"
        if board.get("criterion"):
            title += f" (criterion {board['criterion']!r})"
        header = (f"{'rank':>4}  {'model':<24} {'score':>7}  {'95% CI':>17}  {'rank CI':>7}  "
                  f"{'W':>5} {'L':>5} {'T':>5}  {'P(best)':>7}  flags")
        lines = [title, header, "-" * len(header)]
        for r in board["rows"]:
            ci = f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]"
            rank_ci = f"{r['rank_ci_low']}-{r['rank_ci_high']}"
            lines.append(f"{r['rank']:>4}  {r['model'][:24]:<24} {_fmt(r['score']):>7}  {ci:>17}  {rank_ci:>7}  "
                         f"{r['wins']:>5} {r['losses']:>5} {r['ties']:>5}  {_fmt(r['p_best'], 3):>7}  {r['flags']}"
                         + _unacceptable(r))
        for s in board["separation"]:
            if not s["distinguishable"]:
                lines.append(f"  tied: {s['upper']} ~ {s['lower']}: {separation_sentence(s)}")
        style = board.get("style")
        if style:
            lines.append(f"  style control ({style['judgments']} judgments with image statistics), "
                         "effect per SD of difference (log-odds):")
            for c in style["covariates"]:
                lines.append(f"    {c['name']:<12} {_fmt(c['estimate'], 3)} [{_fmt(c['ci_low'], 3)}, "
                             f"{_fmt(c['ci_high'], 3)}]")
        effect = board.get("position_effect")
        if effect:
            lines.append(f"  left-position effect: {_fmt(effect['estimate'], 3)} "
                         f"[{_fmt(effect['ci_low'], 3)}, {_fmt(effect['ci_high'], 3)}] (log-odds)")
        nu = board.get("tie_parameter")
        if nu:
            lines.append(f"  Davidson tie parameter: {_fmt(nu['estimate'], 3)} "
                         f"[{_fmt(nu['ci_low'], 3)}, {_fmt(nu['ci_high'], 3)}]")
        settings = board["provenance"]["settings"]
        lines.append(f"  ties={settings.get('ties')} position={int(bool(settings.get('position')))} "
                     f"intervals={board['interval_method']} bootstrap={settings.get('bootstrap')} "
                     f"seed={board['provenance']['seed']} judgments={board['judgments']} "
                     f"scheduler={board['provenance'].get('scheduler')} "
                     f"digest={board['provenance']['data_digest'][:12]}")
        for e in (board["provenance"].get("excluded") or {}).get("experts", []):
            lines.append(f"  excluded: {e['judgments']} judgments of {e['expert']}: {e['reason']}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def separation_sentence(s: dict[str, Any]) -> str:
    """The verdict on one adjacent pair in words, the same on the page and in the terminal."""
    p = s.get("p_correct_order")
    now = f"P(correct order now) {p:.2f}" if p is not None else "order unknown"
    if s["distinguishable"]:
        return f"separated ({now})"
    if s["extra_judgments"] is not None:
        text = f"{now}; ~{s['extra_judgments']:,} more judgments for 80 % power to separate them"
        if s.get("extra_hours") is not None:
            text += f" (~{s['extra_hours']:.1f} expert hours)"
        return text
    if s.get("verdict") == "estimated equal":
        return "estimated equal: no difference to separate"
    return f"{now}; not separable at a practical budget (over {s.get('budget', 0):,} judgments)"


def _unacceptable(row: dict[str, Any]) -> str:
    if row.get("unacceptable_rate") is None:
        return ""
    return (f"  unacceptable {100 * row['unacceptable_rate']:.0f}% "
            f"[{100 * row['unacceptable_ci_low']:.0f}-{100 * row['unacceptable_ci_high']:.0f}%]")


def _fmt(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def render(boards: Sequence[dict[str, Any]], fmt: str) -> str:
    if fmt == "json":
        return to_json(boards) + "\n"
    if fmt == "csv":
        return to_csv(boards)
    return to_table(boards)
