"""Bradley-Terry likelihoods on a list of compared pairs, and their Newton fit.

Pure numpy/scipy; part of :mod:`pairwise.ranking`. Everything here works on the
*cells* of a count table (never on judgment rows), so its cost depends on the
number of compared pairs, not on the number of judgments.

Parameters are one vector ``theta`` of length ``P``::

    theta = [s_0, ..., s_{K-1}, delta?, log_nu?]

``s`` are log-strengths, ``delta`` the left-position advantage (only with
``position=True``) and ``log_nu`` the log of Davidson's tie parameter (only
with ``ties="davidson"``). For one "edge" (a pair of models ``first`` vs
``second``) the linear predictor is ``eta = s[first] - s[second] + delta``.

Likelihoods of one edge with ``a`` wins of ``first``, ``b`` wins of
``second`` and ``t`` ties (ties and both-bad):

* ``half``: Bradley-Terry with ties counted half a win each way,
  ``(a + t/2) log sigma(eta) + (b + t/2) log sigma(-eta)``. With ties this is a
  working (quasi-) likelihood, so its intervals use the sandwich estimator.
* ``drop``: the same with ``t`` ignored.
* ``davidson``: Davidson (1970), ``P(first) : P(second) : P(tie) =
  exp(eta/2) : exp(-eta/2) : nu``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    import scipy.sparse as sparse

#: Newton stops when no parameter moves more than this.
TOLERANCE = 1e-10
#: A fit whose parameters pass this bound is treated as diverging (the MLE
#: does not exist), never reported: log-odds of 40 is a probability of 1 - 4e-18.
DIVERGENCE_BOUND = 40.0
MAX_ITERATIONS = 100


@dataclass(frozen=True)
class Design:
    """Which pairs were compared and how parameters enter their likelihood.

    Attributes
    ----------
    n_models : int
        K.
    first, second : NDArray[np.intp]
        (E,) model indices of each edge; with ``position`` ``first`` is the
        left side, otherwise ``first < second``.
    ties : str
        "half", "davidson" or "drop".
    position : bool
        Whether ``delta`` (a left-side advantage) is a parameter.
    """

    n_models: int
    first: NDArray[np.intp]
    second: NDArray[np.intp]
    ties: str
    position: bool

    @cached_property
    def xt(self) -> sparse.csr_array:
        """(P, E) transpose of the coefficients of ``theta`` in each edge's ``eta``.

        Built on first use (the bootstrap's batched gradients): scipy.sparse
        costs start-up time that a single fit does not need.
        """
        import scipy.sparse as sparse

        n_edges = self.n_edges
        rows = np.arange(n_edges)
        data = [np.ones(n_edges), -np.ones(n_edges)]
        cols = [self.first, self.second]
        if self.position:
            data.append(np.ones(n_edges))
            cols.append(np.full(n_edges, self.n_models))
        x = sparse.csr_array(
            (np.concatenate(data), (np.tile(rows, len(cols)), np.concatenate(cols))),
            shape=(n_edges, self.n_params),
        )
        return x.T.tocsr()

    @property
    def n_params(self) -> int:
        return self.n_models + int(self.position) + int(self.ties == "davidson")

    @property
    def delta_index(self) -> int | None:
        return self.n_models if self.position else None

    @property
    def nu_index(self) -> int | None:
        return self.n_params - 1 if self.ties == "davidson" else None

    @property
    def n_edges(self) -> int:
        return int(self.first.size)


@dataclass(frozen=True)
class Terms:
    """Per-edge log-likelihood derivatives at one ``theta`` (any leading batch shape).

    ``r_eta``/``r_nu`` are first derivatives with respect to ``eta`` and
    ``log_nu``; ``w_*`` the information (minus second derivatives).
    """

    loglik: NDArray[np.float64]
    r_eta: NDArray[np.float64]
    w_ee: NDArray[np.float64]
    r_nu: NDArray[np.float64] | None = None
    w_en: NDArray[np.float64] | None = None
    w_nn: NDArray[np.float64] | None = None


def build(counts: NDArray, ties: str, position: bool) -> tuple[Design, NDArray[np.float64]]:
    """Reduce a (K, K, 4) count table to edges and their (3, E) cells ``a, b, t``.

    Without a position effect the two orientations of a pair carry the same
    information, so they are merged into one edge ``first < second``; with it
    each orientation is its own edge.
    """
    k = counts.shape[0]
    left, right = counts[..., 0], counts[..., 1]
    tied = counts[..., 2] + counts[..., 3]
    if ties == "drop":
        tied = np.zeros_like(tied)
    if position:
        a, b, t = left, right, tied
        present = (a + b + t) > 0
    else:
        a, b, t = left + right.T, right + left.T, tied + tied.T
        present = np.triu((a + b + t) > 0, 1)
    first, second = np.nonzero(present)
    cells = np.stack([a[present], b[present], t[present]]).astype(np.float64)
    return design(k, first, second, ties, position), cells


def design(k: int, first: NDArray, second: NDArray, ties: str, position: bool) -> Design:
    """The edges of a fit and how its parameters enter them."""
    return Design(k, np.asarray(first, dtype=np.intp), np.asarray(second, dtype=np.intp), ties, position)


def expit(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """The logistic function, written so that nothing overflows (numpy only: no scipy at start-up)."""
    return np.exp(-np.logaddexp(0.0, -x))


def eta(d: Design, theta: NDArray[np.float64]) -> NDArray[np.float64]:
    """Linear predictor of every edge, (..., E)."""
    s = theta[..., : d.n_models]
    out = s[..., d.first] - s[..., d.second]
    if d.position:
        out = out + theta[..., d.delta_index, None]
    return out


def terms(d: Design, theta: NDArray[np.float64], cells: NDArray[np.float64], *, loglik: bool = True) -> Terms:
    """Log-likelihood and its derivatives per edge; ``cells`` is (..., 3, E).

    ``loglik=False`` skips the log-likelihood itself (NaN in its place), which
    the bootstrap's refits never look at and which costs two thirds of the time.
    """
    a, b, t = cells[..., 0, :], cells[..., 1, :], cells[..., 2, :]
    e = eta(d, theta)
    if d.ties != "davidson":
        wins, losses = a + t / 2, b + t / 2
        p = expit(e)
        n = wins + losses
        if not loglik:
            return Terms(np.full(e.shape[:-1], np.nan), wins - n * p, n * p * (1 - p))
        # log sigma(x) = -log(1 + exp(-x)), written so that no exp overflows
        value = -(wins * np.logaddexp(0.0, -e) + losses * np.logaddexp(0.0, e))
        return Terms(value.sum(-1), wins - n * p, n * p * (1 - p))
    log_nu = theta[..., d.nu_index, None]
    log_d = np.logaddexp(np.logaddexp(e / 2, -e / 2), log_nu)
    p_first, p_second, p_tie = np.exp(e / 2 - log_d), np.exp(-e / 2 - log_d), np.exp(log_nu - log_d)
    n = a + b + t
    half_gap = (p_first - p_second) / 2
    value = (a * e / 2 - b * e / 2 + t * log_nu - n * log_d).sum(-1) if loglik else np.full(e.shape[:-1], np.nan)
    return Terms(
        loglik=value,
        r_eta=(a - b) / 2 - n * half_gap,
        w_ee=n * ((p_first + p_second) / 4 - half_gap**2),
        r_nu=t - n * p_tie,
        w_en=-n * half_gap * p_tie,
        w_nn=n * p_tie * (1 - p_tie),
    )


def gradient(d: Design, tm: Terms) -> NDArray[np.float64]:
    """Score vector (..., P) of the log-likelihood (no prior)."""
    if np.ndim(tm.r_eta) == 1:  # one fit: two bincounts beat any matrix product
        r = tm.r_eta
        g = np.zeros(d.n_params)
        g[: d.n_models] = np.bincount(d.first, r, d.n_models) - np.bincount(d.second, r, d.n_models)
        if d.position:
            g[d.delta_index] = r.sum()
        if d.nu_index is not None:
            g[d.nu_index] += float(np.sum(tm.r_nu))
        return g
    r = np.atleast_2d(tm.r_eta)
    g = (d.xt @ r.T).T
    if d.nu_index is not None:
        g[:, d.nu_index] += np.atleast_2d(tm.r_nu).sum(-1)
    return g.reshape(tm.r_eta.shape[:-1] + (d.n_params,))


def information(d: Design, tm: Terms) -> NDArray[np.float64]:
    """Fisher information (P, P) of one fit (observed = expected for these models)."""
    return _bilinear(d, tm.w_ee, tm.w_en, tm.w_nn)


def sandwich_meat(d: Design, theta: NDArray[np.float64], cells: NDArray[np.float64]) -> NDArray[np.float64]:
    """Sum over judgments of the outer product of their scores (half ties only).

    Each judgment of an edge scores ``y - p`` in ``eta`` with ``y`` 1, 0 or 1/2,
    so per edge the meat weight is ``a (1-p)^2 + b p^2 + t (1/2 - p)^2``.
    """
    a, b, t = cells
    p = expit(eta(d, theta))
    if d.ties == "drop":
        t = np.zeros_like(t)
    return _bilinear(d, a * (1 - p) ** 2 + b * p**2 + t * (0.5 - p) ** 2, None, None)


def _bilinear(d: Design, w_ee: NDArray, w_en: NDArray | None, w_nn: NDArray | None) -> NDArray[np.float64]:
    """``sum_e w_e x_e x_e^T`` (plus the ``log_nu`` row and column), scattered with one bincount.

    ``x_e`` is +1 at ``first``, -1 at ``second`` and +1 at ``delta``; a
    sparse product would do, but its overhead dominates at leaderboard sizes.
    """
    p = d.n_params
    coords = [(d.first, 1.0), (d.second, -1.0)]
    if d.position:
        coords.append((np.full(d.n_edges, d.delta_index), 1.0))
    rows, cols, values = [], [], []
    for row, sign_row in coords:
        for col, sign_col in coords:
            rows.append(row)
            cols.append(col)
            values.append(sign_row * sign_col * w_ee)
    flat = np.concatenate(rows) * p + np.concatenate(cols)
    h = np.bincount(flat, weights=np.concatenate(values), minlength=p * p).reshape(p, p).astype(np.float64)
    if d.nu_index is not None and w_en is not None and w_nn is not None:
        cross = np.zeros(p)
        for index, sign in coords:
            cross += np.bincount(index, weights=sign * w_en, minlength=p)[:p]
        h[:, d.nu_index] += cross
        h[d.nu_index, :] += cross
        h[d.nu_index, d.nu_index] += w_nn.sum()
    return h


def score_null_vector(d: Design) -> NDArray[np.float64]:
    """Unit vector of the direction the likelihood cannot see: all ``s`` shifted alike."""
    u = np.zeros(d.n_params)
    u[: d.n_models] = 1 / np.sqrt(max(d.n_models, 1))
    return u


def regularised(d: Design, h: NDArray[np.float64], prior: float) -> NDArray[np.float64]:
    """Make the information invertible.

    With a prior the Gaussian prior's precision is added to every parameter.
    Without one, ``u u^T`` is added along the unidentified direction ``u``: the
    inverse of ``H + u u^T`` is ``H^+ + u u^T`` (``H^+`` the pseudo-inverse, the
    covariance under the sum-to-zero constraint) and its Newton steps never
    move the mean of ``s``.
    """
    if prior > 0:
        return h + prior * np.eye(d.n_params)
    u = score_null_vector(d)
    return h + np.outer(u, u)


def covariance(
    d: Design, theta: NDArray[np.float64], cells: NDArray[np.float64], prior: float, method: str
) -> NDArray[np.float64]:
    """Covariance (P, P) of ``theta`` with ``s`` centred to mean 0.

    ``method`` "fisher": inverse information (posterior covariance when
    ``prior`` > 0). "sandwich": ``A^+ B A^+`` with ``A`` the information and
    ``B`` the empirical meat, robust to the half-ties working likelihood.
    """
    h = information(d, terms(d, theta, cells))
    bread = np.linalg.inv(regularised(d, h, prior))
    if prior == 0:
        u = score_null_vector(d)
        bread -= np.outer(u, u)
    cov = bread @ sandwich_meat(d, theta, cells) @ bread if method == "sandwich" else bread
    centre = np.eye(d.n_params)
    centre[: d.n_models, : d.n_models] -= 1 / max(d.n_models, 1)
    cov = centre @ cov @ centre.T
    return (cov + cov.T) / 2


def objective(d: Design, theta: NDArray[np.float64], cells: NDArray[np.float64], prior: float) -> float:
    """Penalised log-likelihood (to maximise)."""
    return float(terms(d, theta, cells).loglik) - prior / 2 * float(theta @ theta)


def start(d: Design, cells: NDArray[np.float64]) -> NDArray[np.float64]:
    """Starting point: equal strengths, no position effect, nu from the tie share."""
    theta = np.zeros(d.n_params)
    if d.nu_index is not None:
        total = cells.sum()
        share = np.clip(cells[2].sum() / total if total else 1 / 3, 0.01, 0.99)
        # at equal strengths P(tie) = nu / (2 + nu)
        theta[d.nu_index] = np.log(2 * share / (1 - share))
    return theta


def newton(
    d: Design, cells: NDArray[np.float64], prior: float, theta: NDArray[np.float64] | None = None
) -> tuple[NDArray[np.float64], bool]:
    """Maximise the penalised log-likelihood by Newton's method with step halving.

    Returns ``(theta, converged)``; ``converged`` is False when the iterations
    run out or the parameters diverge (no finite maximum), so the caller can
    add a prior instead of reporting a silently wrong answer.
    """
    theta = start(d, cells) if theta is None else theta.copy()
    current = objective(d, theta, cells, prior)
    for _ in range(MAX_ITERATIONS):
        tm = terms(d, theta, cells)
        g = gradient(d, tm) - prior * theta
        step = np.linalg.solve(regularised(d, information(d, tm), prior), g)
        length = 1.0
        while True:
            trial = theta + length * step
            value = objective(d, trial, cells, prior)
            # accept any non-decrease; rounding can make a tiny final step look flat
            if value >= current - 1e-12 * max(1.0, abs(current)) or length < 1e-8:
                break
            length /= 2
        theta, current = trial, value
        if np.abs(theta).max(initial=0.0) > DIVERGENCE_BOUND:
            return theta, False
        if np.abs(length * step).max(initial=0.0) < TOLERANCE:
            return theta, True
    return theta, False
