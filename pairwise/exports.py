"""Raw judgments, streamed as CSV or JSONL rows (the `pairwise rank` input).

CSV cells go through :mod:`pairwise.csv_safe` (no spreadsheet formulas);
JSONL keeps the raw text.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session, aliased

from . import csv_safe
from .image_stats import STATS
from .schema import Assignment, ExpertExclusion, ImageStat, Item, Judgment, Model, Output, Pool

COLUMNS = ("pool", "category", "item", "model_left", "model_right", "choice", "expert",
           "rationale", "tags_left", "tags_right", "seconds", "created_at", "judgment_id",
           "unacceptable_left", "unacceptable_right", "excluded", "unsure", "pins")
# Style statistics of each side's output (empty until measured: a style=1
# leaderboard or `pairwise image-stats POOL` measures them); `pairwise rank
# --style` reads them back.
STYLE_COLUMNS = tuple(f"{side}_{stat}" for side in ("left", "right") for stat in STATS)
COLUMNS = COLUMNS + STYLE_COLUMNS
# CSV adds one column per rubric criterion of the pool, named with this prefix
# (left | right | same, empty when unanswered); JSONL rows carry "criteria": {...}.
CRITERION_PREFIX = "criterion_"
FORMATS = ("csv", "jsonl", "pwcmp")
# The long table of pwcmp (Perez-Ortiz & Mantiuk's pairwise-comparison toolbox):
# pw_scale_table(T, 'scene') reads these first five columns; the rest ride along.
PWCMP_COLUMNS = ("observer", "scene", "condition_A", "condition_B", "selected_A", "choice", "item")


def judgment_rows(db: Session, pool: Pool,
                  where: Sequence[ColumnElement[bool]] = ()) -> Iterator[dict[str, Any]]:
    left, right = aliased(Model), aliased(Model)
    # Excluded experts' judgments stay, marked, so a download shows everything;
    # gold answers are no comparison of two models and stay out.
    excluded = set(db.scalars(select(ExpertExclusion.expert_id).where(ExpertExclusion.pool_id == pool.id)))
    lo, ro, ls, rs = aliased(Output), aliased(Output), aliased(ImageStat), aliased(ImageStat)
    stats = [getattr(ls, s) for s in STATS] + [getattr(rs, s) for s in STATS]
    query = (select(Judgment, Item.external_id, left.name, right.name, *stats)
             .join(Assignment, Assignment.id == Judgment.assignment_id)
             .join(Item, Item.id == Assignment.item_id)
             .join(left, left.id == Judgment.left_model_id)
             .join(right, right.id == Judgment.right_model_id)
             .join(lo, lo.id == Assignment.left_output_id).join(ro, ro.id == Assignment.right_output_id)
             .outerjoin(ls, ls.image_id == lo.image_id).outerjoin(rs, rs.image_id == ro.image_id)
             .where(Judgment.pool_id == pool.id, Judgment.gold_pair_id.is_(None), *where)
             .order_by(Judgment.id)
             .execution_options(yield_per=2000))  # streamed, never all in memory
    for judgment, item, model_left, model_right, *measured in db.execute(query):
        yield {
            "pool": pool.name,
            "category": judgment.category,
            "item": item,
            "model_left": model_left,
            "model_right": model_right,
            "choice": judgment.choice.value,
            # A pseudonym: researchers can compare raters without seeing emails.
            "expert": f"expert-{judgment.expert_id}",
            "rationale": judgment.rationale,
            "tags_left": list(judgment.tags_left or []),
            "tags_right": list(judgment.tags_right or []),
            "seconds": round(judgment.seconds, 1),
            "created_at": judgment.created_at.isoformat(timespec="seconds") + "Z",
            "judgment_id": judgment.id,
            "unacceptable_left": judgment.unacceptable_left,
            "unacceptable_right": judgment.unacceptable_right,
            "criteria": dict(judgment.criteria or {}),
            "excluded": judgment.expert_id in excluded,
            "unsure": bool(judgment.unsure),
            "pins": list(judgment.pins or []),
            **{name: None if value is None else round(value, 6) for name, value in zip(STYLE_COLUMNS, measured)},
        }


def as_jsonl(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(row, ensure_ascii=False) + "\n"


def _csv_chunks(header: tuple[str, ...], records: Iterator[tuple[Any, ...]]) -> Iterator[str]:
    """CSV text in chunks of about 64 KiB: streamed, never the whole file in memory."""
    buffer = io.StringIO()
    writer = csv_safe.writer(buffer, lineterminator="\n")  # formulas neutralised
    writer.writerow(header)
    for record in records:
        writer.writerow(record)
        if buffer.tell() > 65536:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def pins_text(pins: list[dict[str, Any]]) -> str:
    """Pins in one CSV cell: ``side:tag@x,y`` joined by ``;`` (x, y: fractions of the image)."""
    return ";".join(f"{p['side']}:{p['tag']}@{p['x']:g},{p['y']:g}" for p in pins)


def as_csv(rows: Iterator[dict[str, Any]], criteria: Sequence[str] = ()) -> Iterator[str]:
    def records() -> Iterator[tuple[Any, ...]]:
        for row in rows:
            flat = {**row, "tags_left": ";".join(row["tags_left"]), "tags_right": ";".join(row["tags_right"]),
                    "unacceptable_left": int(row["unacceptable_left"]),
                    "unacceptable_right": int(row["unacceptable_right"]),
                    "unsure": int(row["unsure"]), "pins": pins_text(row["pins"])}
            yield (*(flat[c] for c in COLUMNS), *(row["criteria"].get(name, "") for name in criteria))

    return _csv_chunks((*COLUMNS, *(CRITERION_PREFIX + name for name in criteria)), records())


def as_pwcmp(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    """One row per choice, A = the left output. pwcmp wants selected_A in {0, 1},
    so a tie (or both unacceptable) becomes one row each way: half a win each,
    as in the default leaderboard, but weighing like two comparisons."""
    def records() -> Iterator[tuple[Any, ...]]:
        for row in rows:
            base = (row["expert"], row["category"], row["model_left"], row["model_right"])
            tail = (row["choice"], row["item"])
            if row["choice"] in ("left", "tie", "both_bad"):
                yield (*base, 1, *tail)
            if row["choice"] in ("right", "tie", "both_bad"):
                yield (*base, 0, *tail)

    return _csv_chunks(PWCMP_COLUMNS, records())


def stream(db: Session, pool: Pool, fmt: str, where: Sequence[ColumnElement[bool]] = ()) -> Iterator[str]:
    """``where``: extra clauses on Judgment (the judgment browser's filters)."""
    rows = judgment_rows(db, pool, where)
    if fmt == "csv":
        return as_csv(rows, [c["name"] for c in pool.criteria or []])
    return {"jsonl": as_jsonl, "pwcmp": as_pwcmp}[fmt](rows)
