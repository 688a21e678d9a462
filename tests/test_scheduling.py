from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np

from pairwise.scheduling import choose_item, choose_pair, pair_key


def choose_uniform(
    item_outputs: Mapping[int, Sequence[int]],
    judged: set[tuple[int, int]],
    rng: np.random.Generator,
) -> tuple[int, int, int] | None:
    """The scheduler's two steps (judging.next_assignment takes the counts from
    SQL) on fully listed data: an item weighted by its unjudged pairs, then a pair."""
    output_item = {o: item for item, outs in item_outputs.items() for o in outs}
    judged_counts: dict[int, int] = {}
    for a, _b in judged:
        if a in output_item:
            judged_counts[output_item[a]] = judged_counts.get(output_item[a], 0) + 1
    item = choose_item({i: len(o) for i, o in item_outputs.items()}, judged_counts, rng)
    if item is None:
        return None
    pair = choose_pair(item_outputs[item], judged, rng)
    return None if pair is None else (item, *pair)


def test_every_pair_once_then_none() -> None:
    items = {1: [10, 11, 12], 2: [20, 21], 3: [30, 31, 32, 33]}
    rng = np.random.default_rng(0)
    seen: set[tuple[int, int]] = set()
    while (chosen := choose_uniform(items, seen, rng)) is not None:
        item, a, b = chosen
        assert a in items[item] and b in items[item] and a != b
        assert pair_key(a, b) not in seen
        seen.add(pair_key(a, b))
    expected = {pair_key(a, b) for outs in items.values() for a, b in combinations(outs, 2)}
    assert seen == expected  # 3 + 1 + 6 pairs, none repeated, none missed


def test_pairs_are_equally_likely_and_sides_balanced() -> None:
    # Items of very different sizes: choosing an item first, uniformly, would
    # over-sample the small item's single pair. Each of the 7 pairs should get ~1/7.
    items = {1: [1, 2], 2: [3, 4, 5, 6]}
    rng = np.random.default_rng(1)
    draws = [choose_uniform(items, set(), rng) for _ in range(14000)]
    counts = Counter(pair_key(a, b) for _, a, b in draws)  # type: ignore[misc]
    assert len(counts) == 7
    for n in counts.values():
        assert abs(n - 2000) < 200
    first_is_smaller = sum(a < b for _, a, b in draws)  # type: ignore[misc]
    assert abs(first_is_smaller - 7000) < 300


def test_nothing_to_schedule() -> None:
    rng = np.random.default_rng(2)
    assert choose_uniform({}, set(), rng) is None
    assert choose_uniform({1: [5]}, set(), rng) is None
    assert choose_uniform({1: [5, 6]}, {(5, 6)}, rng) is None
