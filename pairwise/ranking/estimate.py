"""Who was compared with whom: existence of the maximum-likelihood fit, and groups.

Pure numpy/scipy; part of :mod:`pairwise.ranking`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from pairwise.ranking.model import Design, newton

#: Precision of the Gaussian prior on every parameter when the exact MLE does
#: not exist: a standard deviation of sqrt(10) ~ 3.2 on the log-strength scale,
#: i.e. "strengths are within a factor of ~25 of the average" at one SD. Weak
#: enough to leave connected models essentially untouched, strong enough to
#: keep one-sided records finite with honestly wide intervals.
DEFAULT_PRIOR = 0.1


def beat_graph(d: Design, cells: NDArray[np.float64]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Directed edges ``winner -> loser`` of the data (ties count both ways).

    For ``drop`` the tie cells are already zero, so only decisive results count.
    """
    a, b, t = cells
    forward = (a > 0) | (t > 0)
    backward = (b > 0) | (t > 0)
    src = np.concatenate([d.first[forward], d.second[backward]])
    dst = np.concatenate([d.second[forward], d.first[backward]])
    return src, dst


def n_strong_components(k: int, src: NDArray[np.intp], dst: NDArray[np.intp]) -> tuple[int, NDArray[np.int32]]:
    """Strongly connected components of a directed graph on ``k`` nodes (scipy, loaded on demand)."""
    from scipy.sparse import coo_array
    from scipy.sparse.csgraph import connected_components

    graph = coo_array((np.ones(src.size), (src, dst)), shape=(k, k)).tocsr()
    return connected_components(graph, directed=True, connection="strong")


def _reached(adjacency: NDArray[np.bool_], start: int) -> NDArray[np.bool_]:
    """Nodes reachable from ``start`` (breadth first, a frontier at a time)."""
    seen = np.zeros(adjacency.shape[0], bool)
    seen[start] = True
    frontier = seen.copy()
    while frontier.any():
        frontier = adjacency[frontier].any(axis=0) & ~seen
        seen |= frontier
    return seen


def strongly_connected(k: int, src: NDArray[np.intp], dst: NDArray[np.intp]) -> bool:
    """Whether every node reaches every other: all reached from node 0, forwards and backwards."""
    if k == 0:
        return False
    adjacency = np.zeros((k, k), bool)
    adjacency[src, dst] = True
    return bool(_reached(adjacency, 0).all() and _reached(adjacency.T, 0).all())


def mle_exists(d: Design, cells: NDArray[np.float64]) -> bool:
    """Whether the exact maximum-likelihood estimate is finite (necessary conditions).

    Zermelo/Ford: the scores are finite iff every model can be reached from
    every other along "beat" edges (the beat graph is strongly connected).
    Davidson's tie parameter needs at least one tie and one decisive result.
    The position effect is covered by the Newton fit's divergence check.
    """
    if d.n_edges == 0:
        return False
    if not strongly_connected(d.n_models, *beat_graph(d, cells)):
        return False
    if d.nu_index is not None:
        tied, total = cells[2].sum(), cells.sum()
        if not 0 < tied < total:
            return False
    return True


def groups(k: int, first: NDArray[np.intp], second: NDArray[np.intp], judged: NDArray[np.bool_]) -> NDArray[np.intp]:
    """Group number (1 = largest) of each judged model in the comparison graph; 0 if unjudged.

    Models in different groups were never compared, even indirectly, so their
    scores are not comparable; groups of equal size are numbered by their
    first model.
    """
    adjacency = np.zeros((k, k), bool)
    adjacency[first, second] = adjacency[second, first] = True
    labels = np.full(k, -1, dtype=np.intp)
    for node in range(k):
        if labels[node] < 0:
            labels[_reached(adjacency, node)] = node
    out = np.zeros(k, dtype=np.intp)
    found = [np.flatnonzero((labels == label) & judged) for label in np.unique(labels[judged])]
    found.sort(key=lambda members: (-members.size, members[0]))
    for number, members in enumerate(found, start=1):
        out[members] = number
    return out


def estimate(
    d: Design, cells: NDArray[np.float64], theta: NDArray[np.float64] | None = None
) -> tuple[NDArray[np.float64], float]:
    """Exact MLE when it exists, else the MAP under :data:`DEFAULT_PRIOR`.

    Returns ``(theta, prior)`` with ``s`` centred; ``prior`` is 0.0 for the MLE.
    """
    if mle_exists(d, cells):
        try:
            fitted, converged = newton(d, cells, 0.0, theta)
        except np.linalg.LinAlgError:
            converged = False
        if converged:
            return _centred(d, fitted), 0.0
    fitted, converged = newton(d, cells, DEFAULT_PRIOR, None)
    if not converged:  # cannot happen for a strictly concave objective; guard anyway
        raise ArithmeticError("Bradley-Terry fit did not converge")
    return _centred(d, fitted), DEFAULT_PRIOR


def _centred(d: Design, theta: NDArray[np.float64]) -> NDArray[np.float64]:
    out = theta.copy()
    out[: d.n_models] -= out[: d.n_models].mean() if d.n_models else 0.0
    return out
