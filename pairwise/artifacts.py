"""Artifact-tag and acceptability rates per model, with Wilson intervals. Pure: no Flask, no SQL.

A rate is ``flagged / shown``: of the judgments that showed a model's output,
how many put the tag (or the "unacceptable" mark) on that output. Intervals
are 95 % Wilson score intervals, which stay inside [0, 1] and behave at 0 and
n (unlike the normal approximation) for the small counts a new pool has.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["COLUMNS", "Rate", "Separation", "add_unacceptable", "rates", "separating", "summary", "wilson"]

Z95 = 1.959963984540054  # the two-sided 95 % normal quantile
COLUMNS = ("model", "tag", "flagged", "shown", "rate", "ci_low", "ci_high")
# A model is called out for a tag only with at least this many flags: when most
# models are never flagged the median is 0, which any single flag would "clear".
MIN_FLAGS = 3


def wilson(flagged: int, shown: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for ``flagged`` successes in ``shown`` trials.

    Parameters
    ----------
    flagged, shown : int
        ``0 <= flagged <= shown``; ``shown`` > 0.
    z : float
        The normal quantile (1.96 for 95 %).

    Returns
    -------
    (low, high) : tuple of float, inside [0, 1].
    """
    if shown <= 0 or not 0 <= flagged <= shown:
        raise ValueError(f"need 0 <= flagged <= shown and shown > 0 (got {flagged}/{shown})")
    p = flagged / shown
    z2 = z * z
    centre = (p + z2 / (2 * shown)) / (1 + z2 / shown)
    half = z * math.sqrt(p * (1 - p) / shown + z2 / (4 * shown * shown)) / (1 + z2 / shown)
    # Exact ends at 0 and n (rounding would otherwise leave 1e-17 outside).
    low = 0.0 if flagged == 0 else max(0.0, centre - half)
    high = 1.0 if flagged == shown else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True)
class Rate:
    """How often one model's outputs carried one tag."""

    model: str
    tag: str
    flagged: int
    shown: int
    rate: float | None  # None when the model was never shown
    ci_low: float | None
    ci_high: float | None

    def as_row(self, digits: int = 4) -> dict[str, Any]:
        row = asdict(self)
        for key in ("rate", "ci_low", "ci_high"):
            if row[key] is not None:
                row[key] = round(row[key], digits)
        return row


def rates(models: Sequence[str], tags: Iterable[str], shown: Mapping[str, int],
          flagged: Mapping[tuple[str, str], int]) -> list[Rate]:
    """One :class:`Rate` per (model, tag), models then tags in the order given.

    ``shown[model]``: judgments that showed the model's output;
    ``flagged[model, tag]``: of those, how many had the tag on its side.
    Tags flagged but missing from ``tags`` (e.g. dropped from a vocabulary
    later) are appended, so no evidence disappears.
    """
    tag_list = list(dict.fromkeys(tags))
    tag_list += sorted({t for (_m, t) in flagged if t not in tag_list})
    out = []
    for model in models:
        n = int(shown.get(model, 0))
        for tag in tag_list:
            k = int(flagged.get((model, tag), 0))
            if k > n:
                raise ValueError(f"{model}/{tag}: flagged {k} times but shown only {n}")
            if n == 0:
                out.append(Rate(model, tag, k, n, None, None, None))
            else:
                low, high = wilson(k, n)
                out.append(Rate(model, tag, k, n, k / n, low, high))
    return out


@dataclass(frozen=True)
class Separation:
    """A model whose rate for a tag is clearly above (or below) the pool's median."""

    model: str
    tag: str
    rate: float
    ci_low: float
    ci_high: float
    median: float
    direction: str  # "more" | "less"

    def words(self, label: str | None = None) -> str:
        name = label or self.tag
        return (f"{self.model}: {name} flagged {'more' if self.direction == 'more' else 'less'} often than "
                f"the pool's median model ({_pct(self.rate)} of its outputs, 95 % CI "
                f"{_pct(self.ci_low)}–{_pct(self.ci_high)}, against a median of {_pct(self.median)})")


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %" if x >= 0.1 or x == 0 else f"{100 * x:.1f} %"


def separating(table: Sequence[Rate]) -> list[Separation]:
    """The (model, tag) rates whose interval does not overlap the pool's median rate.

    The median is taken per tag over the models that were shown at all. A model
    is called out when its whole 95 % interval lies above the median
    ("more", and flagged at least ``MIN_FLAGS`` times) or below it ("less"). Ordered by tag, then the largest gap first.
    """
    by_tag: dict[str, list[Rate]] = {}
    for r in table:
        if r.rate is not None:
            by_tag.setdefault(r.tag, []).append(r)
    found = []
    for tag, group in by_tag.items():
        if len(group) < 2:
            continue  # nothing to separate from
        median = statistics.median(r.rate for r in group if r.rate is not None)
        for r in group:
            assert r.rate is not None and r.ci_low is not None and r.ci_high is not None
            if r.ci_low > median and r.flagged >= MIN_FLAGS:
                found.append(Separation(r.model, tag, r.rate, r.ci_low, r.ci_high, median, "more"))
            elif r.ci_high < median:
                found.append(Separation(r.model, tag, r.rate, r.ci_low, r.ci_high, median, "less"))
    order = {tag: k for k, tag in enumerate(by_tag)}
    found.sort(key=lambda s: (order[s.tag], -abs(s.rate - s.median)))
    return found


def summary(table: Sequence[Rate], labels: Mapping[str, str] | None = None) -> list[str]:
    """The separating tags in words, worst first per model, e.g. for a report."""
    labels = labels or {}
    found = sorted(separating(table), key=lambda s: s.direction != "more")  # stable: "more" first
    return [s.words(labels.get(s.tag)) for s in found]


def add_unacceptable(board: dict[str, Any], by_model: Mapping[str, Rate]) -> None:
    """Add ``unacceptable`` (count), ``unacceptable_rate`` and its 95 % interval to a leaderboard's rows."""
    for row in board["rows"]:
        r = by_model.get(row["model"])
        row["unacceptable"] = None if r is None else r.flagged
        row["unacceptable_rate"] = None if r is None or r.rate is None else round(r.rate, 4)
        row["unacceptable_ci_low"] = None if r is None or r.ci_low is None else round(r.ci_low, 4)
        row["unacceptable_ci_high"] = None if r is None or r.ci_high is None else round(r.ci_high, 4)
