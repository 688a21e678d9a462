"""Style control: the contextual Bradley-Terry fit recovers known covariate effects."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from pairwise.ranking import fit, tally
from pairwise.ranking.style import fit_style

NAMES = ("luminance", "saturation")


def world(n: int, beta: tuple[float, float], rng: np.random.Generator, k: int = 5):
    strengths = np.linspace(-0.6, 0.6, k)
    left = rng.integers(k, size=n)
    right = (left + rng.integers(1, k, size=n)) % k
    z = rng.normal(0, 1, size=(n, 2))
    p = expit(strengths[left] - strengths[right] + z @ np.array(beta))
    choice = (rng.random(n) >= p).astype(int)  # 0 = left won
    return strengths - strengths.mean(), left, right, choice, z


def test_without_covariate_effects_it_is_plain_bradley_terry() -> None:
    rng = np.random.default_rng(1)
    _, left, right, choice, _ = world(4000, (0.0, 0.0), rng)
    plain = fit(tally(left, right, choice, 5), ties="half")
    zero = fit_style(left, right, choice, np.zeros((left.size, 2)), NAMES, 5)
    np.testing.assert_allclose(zero.scores, plain.scores, atol=1e-8)
    assert np.isnan(zero.coefficients).all() and zero.prior == 0.0  # nothing to estimate


def test_covariate_effects_are_recovered_and_strengths_controlled() -> None:
    rng = np.random.default_rng(1)
    truth, left, right, choice, z = world(20000, (0.5, -0.2), rng)
    # covariates in natural units (not standardised), e.g. luminance in [0, 1]
    result = fit_style(left, right, choice, z * [0.1, 3.0], NAMES, 5)
    assert result.scale == pytest.approx([0.1, 3.0], rel=0.03)
    for j, beta in enumerate((0.5, -0.2)):
        assert result.coef_ci_low[j] < beta < result.coef_ci_high[j]
    assert np.all(result.ci_low < truth) and np.all(truth < result.ci_high)


def test_sandwich_intervals_cover_in_simulation() -> None:
    rng = np.random.default_rng(3)
    covered, worlds = 0, 200
    for _ in range(worlds):
        _, left, right, choice, z = world(600, (0.4, 0.0), rng)
        result = fit_style(left, right, choice, z, NAMES, 5)
        covered += result.coef_ci_low[0] < 0.4 < result.coef_ci_high[0]
    assert 0.91 <= covered / worlds <= 0.985


def test_a_model_that_wins_by_brightening_loses_its_lead_under_style_control() -> None:
    rng = np.random.default_rng(4)
    k, n = 3, 9000
    left = rng.integers(k, size=n)
    right = (left + rng.integers(1, k, size=n)) % k
    brightness = np.array([0.8, 0.5, 0.5])  # model 0 brightens; equal true quality
    z = (brightness[left] - brightness[right] + rng.normal(0, 0.05, size=n))[:, None]
    choice = (rng.random(n) >= expit(3.0 * z[:, 0])).astype(int)
    raw = fit(tally(left, right, choice, k))
    controlled = fit_style(left, right, choice, z, ("luminance",), k)
    assert raw.ci_low[0] > raw.ci_high[1]  # raw: model 0 clearly ahead
    assert controlled.ci_low[0] < controlled.scores[1] < controlled.ci_high[0]  # controlled: not
    assert controlled.coef_ci_low[0] > 0


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="ties=half or drop"):
        fit_style([0], [1], [0], np.zeros((1, 1)), ("x",), 2, ties="davidson")
    with pytest.raises(ValueError, match="finite"):
        fit_style([0], [1], [0], np.full((1, 1), np.nan), ("x",), 2)
