"""Per-expert figures and flags (``careless``, ``side_bias``, ``copy_paste``).

The two statistical flags are sequential likelihood-ratio tests (Wald's SPRT
with a mixture alternative). Under the null hypothesis (a good expert) the
likelihood ratio is a non-negative martingale, so by Ville's inequality the
chance that it *ever* reaches ``1 / ALPHA`` is at most ``ALPHA``, however often
an admin looks: no correction for repeated looks is needed.

- ``careless``: each judgment with a known expectation is a coin with the
  good-expert success probability ``p`` (choosing the fit's favourite with the
  fit's probability; getting a gold pair right with ``GOLD_EXPECTED``). The
  alternative mixes in random clicks: ``(1 - e) p + e / 2`` for e in
  ``CARELESS_MIX``, or makes the *fast* judgments (under ``FAST_SHARE`` of the
  pool's median seconds) coin flips; the test averages the likelihood ratios
  of these alternatives (an average of martingales is one).
- ``side_bias``: a left choice has probability ``sigmoid(d + b)``, d the fit's
  log-odds of left over right. Null: ``|b| <= SIDE_TOLERANCE`` (a good expert's
  small position habit); alternative: a bias ``SIDE_STEPS`` beyond it, tested on
  each side with ``ALPHA / 2``.
- ``copy_paste``: at least ``COPY_MIN_REPEATS`` rationales, and at least
  ``COPY_SHARE`` of them, repeat an earlier one word for word.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .stats import krippendorff_alpha_nominal, left_rate_test, mean_pairwise_kappa, median, repeat_share, wilson

ALPHA = 0.05  # chance that a good expert is ever flagged, per statistical flag
GOLD_EXPECTED = 0.95  # a good expert's accuracy on gold pairs, at worst
CARELESS_MIX = (0.5, 0.7)  # shares of random clicks the careless test looks for
FAST_SHARE = 1 / 3  # a judgment faster than this share of the pool's median is "fast"
SIDE_TOLERANCE = 0.25  # logit: a position habit this small is not a flag
SIDE_STEPS = (0.5, 0.9, 1.3)  # logit beyond the tolerance the side test looks for
COPY_MIN_REPEATS = 5
COPY_SHARE = 0.3
P_CLIP = 0.02  # fit probabilities are kept in [P_CLIP, 1 - P_CLIP]: no single judgment decides


@dataclass(frozen=True)
class Rated:
    """One judgment, as rater quality sees it (plain data, no ORM).

    ``choice``: left, right, tie or both_bad as shown. ``gold_better``: the side
    of the known better output on a gold pair, else None. ``unit``: the pair
    judged (item, lower output id, higher output id) for regular pairs, else None;
    ``flipped``: the lower output id was on the right. ``p_left``: the current
    fit's probability that the left output wins (None when the fit has no view).
    """

    expert: Hashable
    choice: str
    seconds: float
    rationale: str
    gold_better: str | None = None
    unit: Hashable | None = None
    flipped: bool = False
    p_left: float | None = None

    @property
    def canonical(self) -> str:
        """The choice relative to the unit's fixed order: first, second, tie, both_bad."""
        if self.choice == "left":
            return "second" if self.flipped else "first"
        if self.choice == "right":
            return "first" if self.flipped else "second"
        return self.choice


@dataclass(frozen=True)
class Flag:
    kind: str  # careless | side_bias | copy_paste
    evidence: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "evidence": self.evidence}


@dataclass
class ExpertFigures:
    expert: Hashable
    judgments: int = 0
    gold_judged: int = 0
    gold_correct: int = 0
    gold_accuracy: float | None = None
    gold_ci: tuple[float, float] | None = None
    overlap_judged: int = 0  # judgments on pairs another expert judged too
    overlap_agreement: float | None = None  # share of agreeing (expert, other) answer pairs
    overlap_kappa: float | None = None  # mean Cohen's kappa with each other expert
    fit_judged: int = 0  # left/right judgments of pairs the fit has a favourite for
    fit_agreed: int = 0
    fit_expected: float | None = None  # how many of those a good expert would agree on
    left: int = 0
    right: int = 0
    left_rate: float | None = None
    left_p_value: float | None = None
    median_seconds: float | None = None
    median_rationale_chars: float | None = None
    repeated_rationales: int = 0
    repeated_share: float | None = None
    careless_lr: float = 1.0
    side_lr: float = 1.0
    side: str | None = None  # the side the side test leans to
    flags: list[Flag] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        def r(x: float | None, digits: int = 3) -> float | None:
            return None if x is None else round(float(x), digits)

        return {
            "judgments": self.judgments,
            "gold_judged": self.gold_judged, "gold_correct": self.gold_correct,
            "gold_accuracy": r(self.gold_accuracy),
            "gold_ci_low": r(self.gold_ci[0]) if self.gold_ci else None,
            "gold_ci_high": r(self.gold_ci[1]) if self.gold_ci else None,
            "overlap_judged": self.overlap_judged,
            "overlap_agreement": r(self.overlap_agreement), "overlap_kappa": r(self.overlap_kappa),
            "fit_judged": self.fit_judged, "fit_agreed": self.fit_agreed,
            "fit_agreement": r(self.fit_agreed / self.fit_judged) if self.fit_judged else None,
            "fit_expected": r(self.fit_expected / self.fit_judged) if self.fit_judged and self.fit_expected else None,
            "left": self.left, "right": self.right, "left_rate": r(self.left_rate),
            "left_p_value": r(self.left_p_value, 6),
            "median_seconds": r(self.median_seconds, 1),
            "median_rationale_chars": r(self.median_rationale_chars, 1),
            "repeated_rationales": self.repeated_rationales, "repeated_share": r(self.repeated_share),
            "careless_lr": r(self.careless_lr, 2), "side_lr": r(self.side_lr, 2),
            "flags": [f.as_dict() for f in self.flags],
        }


@dataclass(frozen=True)
class PoolAgreement:
    units: int  # pairs judged by at least two experts
    alpha: float | None  # Krippendorff's alpha, nominal (first, second, tie, both_bad)
    kappa: float | None  # mean pairwise Cohen's kappa

    def as_dict(self) -> dict[str, Any]:
        return {"overlap_pairs": self.units,
                "krippendorff_alpha": None if self.alpha is None else round(self.alpha, 3),
                "mean_cohen_kappa": None if self.kappa is None else round(self.kappa, 3)}


def _clip(p: float) -> float:
    return min(max(p, P_CLIP), 1 - P_CLIP)


def _log_mean_exp(values: Sequence[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values) / len(values))


def careless_log_lr(outcomes: Sequence[tuple[float, bool]], fast: Sequence[bool] | None = None) -> float:
    """log likelihood ratio 'random clicks mixed in' vs 'good expert'.

    ``outcomes``: (good-expert success probability, succeeded) per judgment;
    ``fast``: which of them were fast (the alternative 'fast ones are coin flips').
    """
    if not outcomes:
        return 0.0
    p = np.array([_clip(q) for q, _ in outcomes])
    y = np.array([ok for _, ok in outcomes], dtype=bool)
    logs = []
    for e in CARELESS_MIX:
        q = (1 - e) * p + e / 2
        logs.append(float(np.sum(np.where(y, np.log(q / p), np.log((1 - q) / (1 - p))))))
    if fast is not None:
        quick = np.array(fast, dtype=bool)
        logs.append(float(np.sum(np.where(quick, np.where(y, np.log(0.5 / p), np.log(0.5 / (1 - p))), 0.0))))
    return _log_mean_exp(logs)


def side_log_lr(outcomes: Sequence[tuple[float, bool]], sign: int) -> float:
    """log likelihood ratio 'bias beyond the tolerance to one side' vs 'at the tolerance'.

    ``outcomes``: (fit's P(left wins), chose left) per left/right judgment;
    ``sign`` +1 tests a left bias, -1 a right bias.
    """
    if not outcomes:
        return 0.0
    p = np.array([_clip(q) for q, _ in outcomes])
    y = np.array([ok for _, ok in outcomes], dtype=bool)
    d = np.log(p / (1 - p))

    def loglik(b: float) -> float:
        q = 1 / (1 + np.exp(-(d + b)))
        return float(np.sum(np.where(y, np.log(q), np.log(1 - q))))

    null = loglik(sign * SIDE_TOLERANCE)
    return _log_mean_exp([loglik(sign * (SIDE_TOLERANCE + s)) - null for s in SIDE_STEPS])


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %"


def _expert_figures(expert: Hashable, rows: Sequence[Rated], pool_median_seconds: float | None) -> ExpertFigures:
    f = ExpertFigures(expert=expert, judgments=len(rows))
    gold = [r for r in rows if r.gold_better is not None]
    f.gold_judged = len(gold)
    f.gold_correct = sum(r.choice == r.gold_better for r in gold)
    if gold:
        f.gold_accuracy = f.gold_correct / f.gold_judged
        f.gold_ci = wilson(f.gold_correct, f.gold_judged)
    careless: list[tuple[float, bool]] = [(GOLD_EXPECTED, r.choice == r.gold_better) for r in gold]
    fast_limit = FAST_SHARE * pool_median_seconds if pool_median_seconds else 0.0
    fast: list[bool] = [r.seconds < fast_limit for r in gold]
    side: list[tuple[float, bool]] = []
    expected = 0.0
    for r in rows:
        if r.gold_better is not None or r.p_left is None or r.choice not in ("left", "right"):
            continue
        side.append((r.p_left, r.choice == "left"))
        if r.p_left == 0.5:
            continue  # the fit has no favourite
        favourite = "left" if r.p_left > 0.5 else "right"
        p_fav = max(r.p_left, 1 - r.p_left)
        f.fit_judged += 1
        f.fit_agreed += r.choice == favourite
        expected += p_fav
        careless.append((p_fav, r.choice == favourite))
        fast.append(r.seconds < fast_limit)
    f.fit_expected = expected if f.fit_judged else None
    f.left = sum(r.choice == "left" for r in rows)
    f.right = sum(r.choice == "right" for r in rows)
    if f.left + f.right:
        f.left_rate = f.left / (f.left + f.right)
        f.left_p_value = left_rate_test(f.left, f.right)
    f.median_seconds = median([r.seconds for r in rows])
    f.median_rationale_chars = median([float(len(r.rationale)) for r in rows])
    f.repeated_rationales, f.repeated_share = repeat_share([r.rationale for r in rows])

    threshold = math.log(1 / ALPHA)
    log_careless = careless_log_lr(careless, fast)
    f.careless_lr = math.exp(min(log_careless, 700))
    if log_careless >= threshold:
        words = []
        if f.fit_judged:
            words.append(f"chose the current fit's favourite in {f.fit_agreed} of {f.fit_judged} "
                         f"judgments ({_pct(f.fit_agreed / f.fit_judged)}) where a good expert would "
                         f"in about {expected:.0f} ({_pct(expected / f.fit_judged)})")
        if gold:
            assert f.gold_ci is not None
            words.append(f"got {f.gold_correct} of {f.gold_judged} gold pairs right "
                         f"({_pct(f.gold_correct / f.gold_judged)}, 95 % CI {_pct(f.gold_ci[0])}-{_pct(f.gold_ci[1])})")
        quick = [ok for (_p, ok), q in zip(careless, fast) if q]
        if quick:
            words.append(f"{len(quick)} judgments faster than {fast_limit:.0f} s, of which {sum(quick)} "
                         f"({_pct(sum(quick) / len(quick))}) agree with the fit or the gold answer")
        if f.median_seconds is not None and pool_median_seconds:
            words.append(f"median {f.median_seconds:.0f} s per judgment against "
                         f"{pool_median_seconds:.0f} s for the pool")
        f.flags.append(Flag("careless", "; ".join(words) + f". Random clicks explain this "
                            f"{f.careless_lr:.0f} times better than a good expert does "
                            f"(flagged at {1 / ALPHA:.0f}: a good expert is flagged at most {_pct(ALPHA)} of the time)."))
    lean_left, lean_right = side_log_lr(side, +1), side_log_lr(side, -1)
    log_side, f.side = (lean_left, "left") if lean_left >= lean_right else (lean_right, "right")
    f.side_lr = math.exp(min(log_side, 700))
    if log_side >= math.log(2 / ALPHA):
        observed = sum(chose for _p, chose in side)
        fit_expects = sum(p for p, _chose in side)
        count, expect = (observed, fit_expects) if f.side == "left" else (len(side) - observed, len(side) - fit_expects)
        f.flags.append(Flag("side_bias", (
            f"chose the {f.side} output in {count} of {len(side)} left/right judgments "
            f"({_pct(count / len(side))}) where the fit expects about {expect:.0f} ({_pct(expect / len(side))}); "
            f"a {f.side} bias beyond {SIDE_TOLERANCE} logit explains this {f.side_lr:.0f} times better "
            f"(flagged at {2 / ALPHA:.0f}: a good expert is flagged at most {_pct(ALPHA)} of the time).")))
    if f.repeated_rationales >= COPY_MIN_REPEATS and (f.repeated_share or 0) >= COPY_SHARE:
        assert f.repeated_share is not None
        common = _most_repeated([r.rationale for r in rows])
        f.flags.append(Flag("copy_paste", (
            f"{f.repeated_rationales} of {f.judgments} rationales ({_pct(f.repeated_share)}) repeat an "
            f"earlier one word for word; the most frequent, {common[1]} times: {common[0]!r}")))
    return f


def _most_repeated(rationales: Sequence[str]) -> tuple[str, int]:
    from .stats import normalise_rationale

    counts: dict[str, int] = defaultdict(int)
    first: dict[str, str] = {}
    for text in rationales:
        key = normalise_rationale(text)
        counts[key] += 1
        first.setdefault(key, text[:80])
    key = max(counts, key=lambda k: counts[k])
    return first[key], counts[key]


def _overlap(rows: Iterable[Rated]) -> dict[Hashable, dict[Hashable, str]]:
    """unit -> expert -> canonical choice, for units that two or more experts judged.

    An expert judging a unit twice counts once (their first answer).
    """
    by_unit: dict[Hashable, dict[Hashable, str]] = defaultdict(dict)
    for r in rows:
        if r.gold_better is None and r.unit is not None:
            by_unit[r.unit].setdefault(r.expert, r.canonical)
    return {u: v for u, v in by_unit.items() if len(v) >= 2}


def agreement(rows: Iterable[Rated]) -> PoolAgreement:
    """The pool's agreement on overlap pairs: Krippendorff's alpha and mean pairwise kappa."""
    units = _overlap(rows)
    by_expert: dict[Hashable, dict[Hashable, str]] = defaultdict(dict)
    for unit, answers in units.items():
        for expert, value in answers.items():
            by_expert[expert][unit] = value
    return PoolAgreement(units=len(units),
                         alpha=krippendorff_alpha_nominal([list(v.values()) for v in units.values()]),
                         kappa=mean_pairwise_kappa(by_expert))


def assess(rows: Sequence[Rated]) -> dict[Hashable, ExpertFigures]:
    """Figures and flags for every expert with judgments in ``rows``."""
    by_expert: dict[Hashable, list[Rated]] = defaultdict(list)
    for r in rows:
        by_expert[r.expert].append(r)
    pool_median = median([r.seconds for r in rows])
    figures = {e: _expert_figures(e, rs, pool_median) for e, rs in by_expert.items()}
    units = _overlap(rows)
    for expert, f in figures.items():
        agree = total = 0
        mine: dict[Hashable, str] = {}
        others: dict[Hashable, dict[Hashable, str]] = defaultdict(dict)
        for unit, answers in units.items():
            if expert not in answers:
                continue
            mine[unit] = answers[expert]
            for other, value in answers.items():
                if other != expert:
                    total += 1
                    agree += value == answers[expert]
                    others[other][unit] = value
        f.overlap_judged = len(mine)
        f.overlap_agreement = agree / total if total else None
        kappas = [mean_pairwise_kappa({expert: mine, other: values}, min_shared=1) for other, values in others.items()]
        weights = [len(values) for values in others.values()]
        pairs = [(k, w) for k, w in zip(kappas, weights) if k is not None]
        f.overlap_kappa = sum(k * w for k, w in pairs) / sum(w for _k, w in pairs) if pairs else None
    return figures
