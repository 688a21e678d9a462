"""Geometry and colours for the leaderboard's server-rendered SVG plots. Pure: no Flask.

The forest plot shares one scale across the category tabs (the caller passes
the range of every category's intervals), and has a labelled axis. The heat
map uses a blue-white-orange diverging scale, which readers with the common
red-green colour-vision deficiencies tell apart (ColorBrewer's PuOr/RdBu
family); every cell also prints its value and count, so colour is never the
only carrier.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

# blue (row loses) -> white (even) -> orange (row wins); ColorBrewer PuOr/RdBu ends
LOW_RGB = (33, 102, 172)
MID_RGB = (247, 247, 247)
HIGH_RGB = (179, 88, 6)

FOREST_WIDTH = 520
FOREST_MARGIN = 16
ROW_HEIGHT = 22


def scale_range(boards: Iterable[dict[str, Any]]) -> tuple[float, float]:
    """The smallest [lo, hi] holding 0 and every interval of every board, padded 5 %."""
    values = [0.0]
    for board in boards:
        for row in board["rows"]:
            values += [v for v in (row["ci_low"], row["ci_high"], row["score"]) if v is not None]
    lo, hi = min(values), max(values)
    if hi - lo < 1e-9:
        lo, hi = -1.0, 1.0
    pad = 0.05 * (hi - lo)
    return lo - pad, hi + pad


def nice_ticks(lo: float, hi: float, target: int = 6) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten) covering [lo, hi]."""
    raw = (hi - lo) / max(target, 1)
    power = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step) * step
    ticks, value = [], first
    while value <= hi + 1e-12:
        ticks.append(round(value, 10) + 0.0)
        value += step
    return ticks


def forest(rows: Sequence[dict[str, Any]], lo: float, hi: float) -> dict[str, Any]:
    """Pixel geometry of a forest plot: one line per model, an x axis with ticks, a zero line."""
    width = FOREST_WIDTH - 2 * FOREST_MARGIN

    def x(value: float) -> float:
        return round(FOREST_MARGIN + width * (value - lo) / (hi - lo), 2)

    lines = []
    for index, row in enumerate(rows):
        y = ROW_HEIGHT * index + ROW_HEIGHT / 2
        has = row["ci_low"] is not None and row["ci_high"] is not None and row["score"] is not None
        lines.append({"model": row["model"], "y": y,
                      "x_low": x(row["ci_low"]) if has else None, "x_high": x(row["ci_high"]) if has else None,
                      "x_score": x(row["score"]) if row["score"] is not None else None})
    plot_height = ROW_HEIGHT * max(len(rows), 1)
    return {"width": FOREST_WIDTH, "height": plot_height + 34, "plot_height": plot_height,
            "zero": x(0.0), "lines": lines,
            "ticks": [{"x": x(t), "label": f"{t:g}"} for t in nice_ticks(lo, hi)],
            "lo": lo, "hi": hi}


def heat_colour(value: float | None) -> dict[str, str]:
    """Background and text colour of a win-rate cell (value in [0, 1])."""
    if value is None:
        return {"background": "#eeeeee", "text": "#555555"}
    v = min(max(float(value), 0.0), 1.0)
    end, share = (HIGH_RGB, (v - 0.5) * 2) if v >= 0.5 else (LOW_RGB, (0.5 - v) * 2)
    rgb = [round(m + (e - m) * share) for m, e in zip(MID_RGB, end)]
    luminance = (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255
    return {"background": "#{:02x}{:02x}{:02x}".format(*rgb), "text": "#ffffff" if luminance < 0.5 else "#111111"}


def pair_counts(board: dict[str, Any]) -> list[list[int]]:
    """Judgments of each pair (either side), in the order of ``board["models"]``."""
    return board.get("pair_counts") or [[0] * len(board["models"]) for _ in board["models"]]
