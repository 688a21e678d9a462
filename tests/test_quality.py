"""Rater quality statistics and flags (pure: no app, no database)."""

from __future__ import annotations

import math

import krippendorff
import numpy as np
import pytest

from pairwise.quality import Rated, agreement, assess, cohen_kappa, krippendorff_alpha_nominal, left_rate_test, wilson
from pairwise.quality.stats import mean_pairwise_kappa, median, normalise_rationale, repeat_share


def test_wilson_interval_golden_values() -> None:
    low, high = wilson(8, 10)  # type: ignore[misc]
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    assert wilson(0, 5)[0] == 0.0  # type: ignore[index]
    assert wilson(5, 5)[1] == 1.0  # type: ignore[index]
    assert wilson(0, 0) is None
    with pytest.raises(ValueError):
        wilson(6, 5)


def test_left_rate_binomial_test() -> None:
    assert left_rate_test(5, 5) == pytest.approx(1.0)
    assert left_rate_test(9, 1) == pytest.approx(0.021484375)  # 2 * 11 / 1024
    assert left_rate_test(0, 0) is None


@pytest.mark.parametrize("seed", range(6))
def test_krippendorff_alpha_matches_the_krippendorff_package(seed: int) -> None:
    rng = np.random.default_rng(seed)
    coders, units = 4, 30
    truth = rng.integers(0, 3, units)
    data = np.where(rng.random((coders, units)) < 0.7, truth, rng.integers(0, 4, (coders, units))).astype(float)
    data[rng.random((coders, units)) < 0.4] = np.nan  # most units seen by some coders only
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    ours = krippendorff_alpha_nominal([[v for v in data[:, u] if not np.isnan(v)] for u in range(units)])
    assert ours == pytest.approx(expected, abs=1e-12)


def test_krippendorff_alpha_edge_cases() -> None:
    assert krippendorff_alpha_nominal([["a", "a"], ["a", "a"]]) is None  # no variation: undefined
    assert krippendorff_alpha_nominal([["a"], ["b"]]) is None  # nothing paired
    assert krippendorff_alpha_nominal([["a", "a"], ["b", "b"]]) == pytest.approx(1.0)


def test_cohen_kappa_golden() -> None:
    # Classic 2 x 2 example: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no -> kappa 0.4.
    a = ["y"] * 25 + ["n"] * 25
    b = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    assert cohen_kappa(["x", "x"], ["x", "x"]) is None
    assert cohen_kappa([], []) is None
    assert mean_pairwise_kappa({"r1": dict(enumerate(a)), "r2": dict(enumerate(b)), "r3": {0: "y"}}) == pytest.approx(0.4)


def test_rationale_repeats_and_medians() -> None:
    assert normalise_rationale("  Left is  SHARPER. ") == "left is sharper"
    assert repeat_share(["Sharper edges", "sharper edges!", "better colour", "Sharper  edges"]) == (2, 0.5)
    assert repeat_share([]) == (0, None)
    assert median([3.0, 1.0, 2.0, 10.0]) == 2.5
    assert median([]) is None


STRENGTHS = np.linspace(-1.5, 1.5, 6)


def simulate(kind: str, n: int, seed: int, bias: float = 0.2) -> list[Rated]:
    """One simulated expert: good (BT + small left bias), careless (random half the time) or side-biased."""
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(n):
        if rng.random() < 0.05:
            gold = str(rng.choice(["left", "right"]))
            d, p_left = (4.0 if gold == "left" else -4.0), None
        else:
            i, j = rng.choice(len(STRENGTHS), 2, replace=False)
            d, gold = float(STRENGTHS[i] - STRENGTHS[j]), None
            p_left = 1 / (1 + math.exp(-0.9 * d))  # a fit a little shrunk towards 0.5
        if kind == "careless" and rng.random() < 0.5:
            choice = str(rng.choice(["left", "right"]))
        else:
            b = 1.2 if kind == "side" else bias
            choice = "left" if rng.random() < 1 / (1 + math.exp(-(d + b))) else "right"
        rows.append(Rated(expert=kind, choice=choice, seconds=20.0, rationale=f"reason {t}",
                          gold_better=gold, p_left=p_left))
    return rows


def kinds(rows: list[Rated]) -> set[str]:
    return {f.kind for f in assess(rows)[rows[0].expert].flags}


def test_careless_and_side_biased_experts_are_flagged_good_ones_are_not() -> None:
    worlds = range(30)
    careless = np.mean(["careless" in kinds(simulate("careless", 200, s)) for s in worlds])
    side = np.mean(["side_bias" in kinds(simulate("side", 200, s)) for s in worlds])
    good = np.mean([bool(kinds(simulate("good", 300, s))) for s in worlds])
    assert careless >= 0.8 and side >= 0.8 and good <= 0.05, (careless, side, good)


def test_flags_carry_evidence_in_words() -> None:
    rows = simulate("careless", 300, 1)
    figures = assess(rows)["careless"]
    careless = next(f for f in figures.flags if f.kind == "careless")
    assert "current fit's favourite" in careless.evidence and "gold pairs right" in careless.evidence
    side = next(f for f in assess(simulate("side", 300, 2))["side"].flags if f.kind == "side_bias")
    assert side.evidence.startswith("chose the left output in ")
    as_dict = figures.as_dict()
    assert as_dict["judgments"] == 300 and as_dict["flags"][0]["kind"] == "careless"


def test_copy_paste_flag() -> None:
    rows = [Rated(expert="e", choice="left", seconds=5.0, rationale="Looks better overall." if t % 2 else f"note {t}")
            for t in range(20)]
    flags = assess(rows)["e"].flags
    assert [f.kind for f in flags] == ["copy_paste"]
    assert "9 of 20 rationales (45 %)" in flags[0].evidence and "'Looks better overall.'" in flags[0].evidence


def test_overlap_agreement_per_pool_and_expert() -> None:
    rows = []
    for unit in range(10):
        # e1 and e2 agree always (e2 sees the pair mirrored), e3 disagrees on every other unit.
        rows.append(Rated(expert="e1", choice="left", seconds=1, rationale="", unit=unit))
        rows.append(Rated(expert="e2", choice="right", seconds=1, rationale="", unit=unit, flipped=True))
        rows.append(Rated(expert="e3", choice="left" if unit % 2 else "right", seconds=1, rationale="", unit=unit))
    rows.append(Rated(expert="e1", choice="left", seconds=1, rationale="", unit=99))  # judged once: not overlap
    pool = agreement(rows)
    assert pool.units == 10
    figures = assess(rows)
    assert figures["e1"].overlap_judged == 10 and figures["e1"].overlap_agreement == pytest.approx(0.75)
    assert figures["e3"].overlap_agreement == pytest.approx(0.5)
    expected = krippendorff.alpha(reliability_data=np.array(
        [[0] * 10, [0] * 10, [0 if u % 2 else 1 for u in range(10)]], dtype=float), level_of_measurement="nominal")
    assert pool.alpha == pytest.approx(expected)
    assert pool.as_dict()["overlap_pairs"] == 10


def test_fast_random_clicks_are_caught_sooner_but_speed_alone_is_no_flag() -> None:
    def expert(fast_random: bool, fast_all: bool, seed: int) -> list[Rated]:
        rng = np.random.default_rng(seed)
        rows = []
        for t in range(60):
            i, j = rng.choice(len(STRENGTHS), 2, replace=False)
            d = float(STRENGTHS[i] - STRENGTHS[j])
            random_click = fast_random and t % 2 == 0
            p = 0.5 if random_click else 1 / (1 + math.exp(-d))
            choice = "left" if rng.random() < p else "right"
            rows.append(Rated(expert="careless" if fast_random else "good", choice=choice,
                              seconds=3.0 if (random_click or fast_all) else 25.0, rationale=f"r{t}",
                              p_left=1 / (1 + math.exp(-0.9 * d))))
        others = [Rated(expert="other", choice="left", seconds=25.0, rationale=f"o{t}") for t in range(200)]
        return rows + others

    from pairwise.quality.flags import careless_log_lr

    # Speed is evidence only together with the answers: a fast good expert is not flagged.
    assert not [f for s in range(10) for f in assess(expert(False, True, s))["good"].flags]
    assert careless_log_lr([(0.9, True)] * 20, [True] * 20) < 0
    # Fast coin flips are flagged within 60 judgments in most worlds, with the pace in the evidence.
    flagged = [next((f for f in assess(expert(True, False, s))["careless"].flags if f.kind == "careless"), None)
               for s in range(10)]
    assert sum(f is not None for f in flagged) >= 8
    assert "faster than 8 s" in next(f for f in flagged if f is not None).evidence
