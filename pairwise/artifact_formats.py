"""Artifact rates as CSV, JSON and a terminal table. Pure: no Flask, no SQL.

Rows: ``model, tag, flagged, shown, rate, ci_low, ci_high`` (rate and interval
empty / null when the model was never shown).
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence

from . import csv_safe
from .artifacts import COLUMNS, Rate, separating, summary


def to_csv(table: Sequence[Rate]) -> str:
    buffer = io.StringIO()
    writer = csv_safe.dict_writer(buffer, fieldnames=COLUMNS, lineterminator="\n")  # formulas neutralised
    writer.writeheader()
    writer.writerows(r.as_row() for r in table)
    return buffer.getvalue()


def to_json(pool: str, category: str, table: Sequence[Rate], labels: Mapping[str, str]) -> str:
    return json.dumps({
        "pool": pool, "category": category, "tags": dict(labels),
        "interval": "95 % Wilson score interval of flagged / shown",
        "rows": [r.as_row() for r in table],
        "separating": [{"model": s.model, "tag": s.tag, "direction": s.direction,
                        "median": round(s.median, 4), "words": s.words(labels.get(s.tag))}
                       for s in separating(table)],
    }, indent=1)


def to_table(pool: str, category: str, table: Sequence[Rate], labels: Mapping[str, str]) -> str:
    header = f"{'model':<24} {'tag':<26} {'flagged':>7} {'shown':>6} {'rate':>6}  95% CI"
    lines = [f"{pool} / {category}: artifact tags per model", header, "-" * len(header)]
    for r in table:
        if r.rate is None:
            rate, ci = "n/a", ""
        else:
            rate, ci = f"{100 * r.rate:.0f}%", f"[{100 * r.ci_low:.0f}-{100 * r.ci_high:.0f}%]"  # type: ignore[operator]
        lines.append(f"{r.model[:24]:<24} {r.tag[:26]:<26} {r.flagged:>7} {r.shown:>6} {rate:>6}  {ci}")
    words = summary(table, labels)
    lines.append("")
    lines += ["What sets models apart:", *(f"  {w}" for w in words)] if words else \
        ["No tag separates a model from the pool's median yet."]
    return "\n".join(lines) + "\n"


def render(pool: str, category: str, table: Sequence[Rate], labels: Mapping[str, str], fmt: str) -> str:
    if fmt == "json":
        return to_json(pool, category, table, labels) + "\n"
    if fmt == "csv":
        return to_csv(table)
    return to_table(pool, category, table, labels)
