"""Which pair an expert sees next. Pure: ids and counts in, ids out.

``uniform``: every pair of outputs of the same item that this expert has not
judged yet is equally likely. Chosen in two steps -- an item with probability
proportional to its number of eligible pairs, then one of those pairs -- so a
large pool is summarised per item (counts) and only the chosen item's outputs
are ever listed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np


def pair_key(a: int, b: int) -> tuple[int, int]:
    """Unordered pair of output ids."""
    return (a, b) if a < b else (b, a)


def choose_item(
    output_counts: Mapping[int, int], judged_counts: Mapping[int, int], rng: np.random.Generator
) -> int | None:
    """An item, weighted by how many of its pairs this expert has not judged.

    Parameters
    ----------
    output_counts
        item id -> number of outputs (models) it has.
    judged_counts
        item id -> number of its pairs the expert already judged.
    rng
        the random source (seeded in tests).

    Returns
    -------
    The item id, or None when the expert has judged every pair.
    """
    items = list(output_counts)
    sizes = np.fromiter((output_counts[i] for i in items), dtype=np.int64, count=len(items))
    judged = np.fromiter((judged_counts.get(i, 0) for i in items), dtype=np.int64, count=len(items))
    weights = np.clip(sizes * (sizes - 1) // 2 - judged, 0, None)
    total = int(weights.sum())
    if total == 0:
        return None
    return items[int(np.searchsorted(np.cumsum(weights), rng.integers(total), side="right"))]


def choose_pair(
    outputs: Sequence[int], judged: set[tuple[int, int]], rng: np.random.Generator
) -> tuple[int, int] | None:
    """A pair of ``outputs`` not in ``judged``, uniformly, in a random left/right order."""
    pairs = [p for p in combinations(sorted(outputs), 2) if p not in judged]
    if not pairs:
        return None
    a, b = pairs[int(rng.integers(len(pairs)))]
    return (a, b) if rng.random() < 0.5 else (b, a)
