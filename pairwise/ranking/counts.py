"""Judgment rows to count tables, and what can be read off a table without a fit.

Part of :mod:`pairwise.ranking` (the bottom layer: nothing else of the package
is imported here).
"""

from __future__ import annotations

import hashlib

import numpy as np
from numpy.typing import NDArray

#: Index order of the last axis of a count table.
CHOICES: tuple[str, ...] = ("left", "right", "tie", "both_bad")
TIES_MODES: tuple[str, ...] = ("half", "davidson", "drop")


def tally(
    left: NDArray[np.integer], right: NDArray[np.integer], choice: NDArray[np.integer], n_models: int
) -> NDArray[np.int64]:
    """Count judgment rows into a (K, K, 4) table, the equivalent of a SQL GROUP BY.

    ``left``/``right`` are model indices in ``range(n_models)``, ``choice`` an
    index into :data:`CHOICES`.
    """
    left, right, choice = (np.asarray(v, dtype=np.int64) for v in (left, right, choice))
    if not left.shape == right.shape == choice.shape:
        raise ValueError("left, right and choice must have the same length")
    if left.size and (min(left.min(), right.min()) < 0 or max(left.max(), right.max()) >= n_models):
        raise ValueError(f"model indices must lie in 0..{n_models - 1}")
    if choice.size and (choice.min() < 0 or choice.max() >= len(CHOICES)):
        raise ValueError(f"choice indices must lie in 0..{len(CHOICES) - 1}")
    if np.any(left == right):
        raise ValueError("a model cannot be compared with itself")
    cell = (left * n_models + right) * len(CHOICES) + choice
    size = n_models * n_models * len(CHOICES)
    return np.bincount(cell, minlength=size).reshape(n_models, n_models, len(CHOICES))


def digest(counts: NDArray) -> str:
    """sha256 (hex) of a count table's shape and int64 little-endian bytes, for provenance."""
    table = np.ascontiguousarray(np.asarray(counts), dtype="<i8")
    h = hashlib.sha256(repr(table.shape).encode())
    h.update(table.tobytes())
    return h.hexdigest()


def records(table: NDArray[np.int64]) -> dict[str, NDArray[np.int64]]:
    """Wins, losses, ties (tie + both_bad) and judgments of each model, either side."""
    left, right = table[..., 0], table[..., 1]
    tied = table[..., 2] + table[..., 3]
    wins = left.sum(axis=1) + right.sum(axis=0)
    losses = right.sum(axis=1) + left.sum(axis=0)
    ties = tied.sum(axis=1) + tied.sum(axis=0)
    return {"wins": wins, "losses": losses, "ties": ties, "judgments": wins + losses + ties}


def observed(table: NDArray[np.int64]) -> NDArray[np.float64]:
    """Share of i-vs-j judgments that i won, ties counting half; NaN where never compared."""
    beat = table[..., 0] + table[..., 1].T
    tied = table[..., 2] + table[..., 3]
    tied = tied + tied.T
    n = beat + beat.T + tied
    out = np.full(n.shape, np.nan)
    np.divide(beat + tied / 2, n, out=out, where=n > 0)
    return out
