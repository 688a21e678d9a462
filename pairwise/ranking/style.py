"""Style control: a contextual Bradley-Terry fit with covariates per judgment.

Part of :mod:`pairwise.ranking` (uses :mod:`.counts` only). As LMArena does for
text, each judgment carries covariate *differences* between the two outputs
(left minus right: mean luminance, saturation, sharpness, size, ...), and

    P(left wins) = sigma(s_left - s_right + beta . z)

where ``z`` are the differences standardised by their standard deviation over
the judgments, so ``beta_c`` is the change in log-odds of winning per one SD
of difference in covariate ``c``. The strengths ``s`` are then the models'
quality *beyond* what the covariates explain: a model that wins because it
brightens loses that advantage here. Ties count half a win each way
(``ties="half"``) or are left out (``"drop"``); Davidson's model is not
offered with covariates.

Estimation: Newton's method on all K + C parameters with the sum-to-zero
constraint on ``s`` handled as in :mod:`.model` (``u u^T`` along the direction
the likelihood cannot see). Intervals: the sandwich ``A^+ B A^+`` with the
meat summed per judgment, the same estimator arena-rank uses for its
contextual model; a judgment-level working likelihood with half ties needs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit

from pairwise.ranking.counts import CHOICES

STYLE_TIES = ("half", "drop")
MAX_ITERATIONS = 100
TOLERANCE = 1e-10
#: A weak Gaussian prior (precision) on every parameter when the exact fit
#: diverges (one-sided records, a covariate that separates the outcomes).
FALLBACK_PRIOR = 0.1


@dataclass(frozen=True, eq=False)
class StyleFit:
    """Style-controlled strengths and covariate effects, with sandwich intervals."""

    scores: NDArray[np.float64]
    ci_low: NDArray[np.float64]
    ci_high: NDArray[np.float64]
    covariates: tuple[str, ...]
    coefficients: NDArray[np.float64]
    coef_ci_low: NDArray[np.float64]
    coef_ci_high: NDArray[np.float64]
    scale: NDArray[np.float64]
    judgments: int
    prior: float
    ties: str


def fit_style(
    left: NDArray[np.integer],
    right: NDArray[np.integer],
    choice: NDArray[np.integer],
    covariates: NDArray[np.floating],
    names: tuple[str, ...],
    n_models: int,
    *,
    ties: str = "half",
    confidence: float = 0.95,
) -> StyleFit:
    """Fit the contextual Bradley-Terry model to judgment rows.

    Parameters
    ----------
    left, right, choice : arrays (N,)
        Model indices and choice indices into :data:`CHOICES`.
    covariates : array (N, C)
        Per-judgment differences, left minus right, in natural units.
    names : tuple of str
        The C covariate names.
    n_models : int
        K.
    ties : str
        "half" or "drop".
    """
    if ties not in STYLE_TIES:
        raise ValueError(f"style control takes ties={' or '.join(STYLE_TIES)}, not {ties!r}")
    left, right, choice = (np.asarray(v, dtype=np.intp) for v in (left, right, choice))
    z = np.asarray(covariates, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] != left.size or z.shape[1] != len(names):
        raise ValueError("covariates must be an (N, C) array with one name per column")
    if not np.all(np.isfinite(z)):
        raise ValueError("covariates must be finite")
    y = np.select([choice == 0, choice == 1], [1.0, 0.0], default=0.5)
    keep = np.ones(left.size, bool) if ties == "half" else choice < 2
    left, right, y, z = left[keep], right[keep], y[keep], z[keep]
    scale = z.std(axis=0) if z.shape[0] else np.zeros(len(names))
    # A covariate that never differs says nothing (and its coefficient is not
    # identified): it is left out of the fit and reported as NaN.
    active = scale > 1e-12
    z = z[:, active] / scale[active]
    k, c = n_models, int(active.sum())
    theta, prior = _newton(left, right, y, z, k, c, 0.0)
    if theta is None:
        theta, prior = _newton(left, right, y, z, k, c, FALLBACK_PRIOR)
        if theta is None:  # strictly concave with the prior: cannot happen; guard anyway
            raise ArithmeticError("contextual Bradley-Terry fit did not converge")
    cov = _sandwich(left, right, y, z, k, c, theta, prior)
    q = NormalDist().inv_cdf(0.5 + confidence / 2)
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    low, high = theta - q * se, theta + q * se
    coefficients, coef_low, coef_high = (np.full(len(names), np.nan) for _ in range(3))
    coefficients[active], coef_low[active], coef_high[active] = theta[k:], low[k:], high[k:]
    return StyleFit(
        scores=theta[:k], ci_low=low[:k], ci_high=high[:k], covariates=tuple(names),
        coefficients=coefficients, coef_ci_low=coef_low, coef_ci_high=coef_high, scale=scale,
        judgments=int(left.size), prior=prior, ties=ties,
    )


def _eta(left, right, z, theta, k):  # noqa: ANN001, ANN202
    return theta[left] - theta[right] + z @ theta[k:]


def _information(left, right, z, w, k, c):  # noqa: ANN001, ANN202
    """``X^T diag(w) X`` with X = [e_left - e_right, z], by bincounts (X is never built)."""
    p = k + c
    h = np.zeros((p, p))
    block = np.bincount(left * k + left, w, k * k) + np.bincount(right * k + right, w, k * k)
    block -= np.bincount(left * k + right, w, k * k) + np.bincount(right * k + left, w, k * k)
    h[:k, :k] = block.reshape(k, k)
    wz = z * w[:, None]
    cross = np.stack([np.bincount(left, wz[:, j], k) - np.bincount(right, wz[:, j], k) for j in range(c)], axis=1) \
        if c else np.zeros((k, 0))
    h[:k, k:] = cross
    h[k:, :k] = cross.T
    h[k:, k:] = z.T @ wz
    return h


def _gradient(left, right, z, r, k):  # noqa: ANN001, ANN202
    return np.concatenate([np.bincount(left, r, k) - np.bincount(right, r, k), z.T @ r])


def _null(k, c):  # noqa: ANN001, ANN202
    u = np.zeros(k + c)
    u[:k] = 1 / np.sqrt(max(k, 1))
    return u


def _objective(left, right, y, z, k, theta, prior):  # noqa: ANN001, ANN202
    e = _eta(left, right, z, theta, k)
    return float(-(y * np.logaddexp(0, -e) + (1 - y) * np.logaddexp(0, e)).sum()) - prior / 2 * float(theta @ theta)


def _newton(left, right, y, z, k, c, prior):  # noqa: ANN001, ANN202
    """Penalised Newton with step halving; (theta centred, prior) or (None, prior) if it diverges."""
    theta = np.zeros(k + c)
    u = _null(k, c)
    current = _objective(left, right, y, z, k, theta, prior)
    for _ in range(MAX_ITERATIONS):
        p = expit(_eta(left, right, z, theta, k))
        g = _gradient(left, right, z, y - p, k) - prior * theta
        h = _information(left, right, z, p * (1 - p), k, c) + (prior * np.eye(k + c) if prior else np.outer(u, u))
        try:
            step = np.linalg.solve(h, g)
        except np.linalg.LinAlgError:
            return None, prior
        length = 1.0
        while True:
            trial = theta + length * step
            value = _objective(left, right, y, z, k, trial, prior)
            if value >= current - 1e-12 * max(1.0, abs(current)) or length < 1e-8:
                break
            length /= 2
        theta, current = trial, value
        if np.abs(theta).max(initial=0.0) > 40:
            return None, prior
        if np.abs(length * step).max(initial=0.0) < TOLERANCE:
            theta[:k] -= theta[:k].mean() if k else 0.0
            return theta, prior
    return None, prior


def _sandwich(left, right, y, z, k, c, theta, prior):  # noqa: ANN001, ANN202
    p = expit(_eta(left, right, z, theta, k))
    u = _null(k, c)
    a = _information(left, right, z, p * (1 - p), k, c)
    bread = np.linalg.inv(a + (prior * np.eye(k + c) if prior else np.outer(u, u)))
    if not prior:
        bread -= np.outer(u, u)
    meat = _information(left, right, z, (y - p) ** 2, k, c)
    cov = bread @ meat @ bread
    centre = np.eye(k + c)
    centre[:k, :k] -= 1 / max(k, 1)
    cov = centre @ cov @ centre.T
    return (cov + cov.T) / 2


__all__ = ["CHOICES", "STYLE_TIES", "StyleFit", "fit_style"]
