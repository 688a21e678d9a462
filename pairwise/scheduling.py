"""Which pair an expert sees next. Pure: ids in, ids out.

``uniform``: every pair of outputs of the same item that this expert has not
judged yet is equally likely. Chosen in two steps (an item weighted by its
number of eligible pairs, then one of those pairs) so that a large pool never
has its pairs listed one by one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np


def pair_key(a: int, b: int) -> tuple[int, int]:
    """Unordered pair of output ids."""
    return (a, b) if a < b else (b, a)


def choose_uniform(
    item_outputs: Mapping[int, Sequence[int]],
    seen: set[tuple[int, int]],
    rng: np.random.Generator,
) -> tuple[int, int, int] | None:
    """An (item, output, output) this expert has not judged, uniformly at random.

    Parameters
    ----------
    item_outputs
        item id -> ids of its outputs.
    seen
        unordered output-id pairs (see :func:`pair_key`) the expert already judged.
    rng
        the random source (seeded in tests).

    Returns
    -------
    The chosen pair in a random order, or None when nothing is left.
    """
    seen_per_item: dict[int, int] = {}
    output_item = {o: item for item, outs in item_outputs.items() for o in outs}
    for a, _b in seen:
        item = output_item.get(a)
        if item is not None:
            seen_per_item[item] = seen_per_item.get(item, 0) + 1
    items = list(item_outputs)
    sizes = np.array([len(item_outputs[i]) for i in items], dtype=np.int64)
    weights = sizes * (sizes - 1) // 2 - np.array([seen_per_item.get(i, 0) for i in items], dtype=np.int64)
    weights = np.clip(weights, 0, None)
    total = int(weights.sum())
    if total == 0:
        return None
    item = items[int(rng.choice(len(items), p=weights / total))]
    pairs = [p for p in combinations(sorted(item_outputs[item]), 2) if p not in seen]
    a, b = pairs[int(rng.integers(len(pairs)))]
    return (item, a, b) if rng.random() < 0.5 else (item, b, a)
