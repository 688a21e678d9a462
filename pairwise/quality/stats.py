"""Small statistics for rater quality: intervals, tests, agreement coefficients.

Pure Python + numpy/scipy; every function takes plain values and returns plain values.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence

from scipy.stats import binomtest


def wilson(successes: int, n: int, *, z: float = 1.959963984540054) -> tuple[float, float] | None:
    """95 % Wilson score interval for a proportion; None when ``n`` is 0.

    Unlike the normal approximation it stays inside [0, 1] and is honest for
    the few gold pairs an expert sees (5 of 100 judgments).
    """
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError("successes must be between 0 and n")
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def left_rate_test(left: int, right: int, *, p: float = 0.5) -> float | None:
    """Two-sided exact binomial p-value of ``left`` left choices out of ``left + right``."""
    n = left + right
    if n == 0:
        return None
    return float(binomtest(left, n, p, alternative="two-sided").pvalue)


def krippendorff_alpha_nominal(units: Iterable[Sequence[Hashable]]) -> float | None:
    """Krippendorff's alpha for nominal data.

    ``units``: for each unit (a pair of outputs), the values the coders gave it
    (any number of coders; units with fewer than two values carry no
    information and are skipped). None when undefined: fewer than two paired
    values, or every value the same (no expected disagreement).
    """
    coincidence: Counter[tuple[Hashable, Hashable]] = Counter()
    for values in units:
        m = len(values)
        if m < 2:
            continue
        counts = Counter(values)
        for c, n_c in counts.items():
            for k, n_k in counts.items():
                pairs = n_c * (n_k - 1) if c == k else n_c * n_k
                if pairs:
                    coincidence[(c, k)] += pairs / (m - 1)
    totals: Counter[Hashable] = Counter()
    for (c, _k), o in coincidence.items():
        totals[c] += o
    n = sum(totals.values())
    if n < 2:
        return None
    observed = sum(o for (c, k), o in coincidence.items() if c != k)
    expected = sum(totals[c] * totals[k] for c in totals for k in totals if c != k)
    if expected == 0:
        return None
    return 1.0 - (n - 1) * observed / expected


def cohen_kappa(first: Sequence[Hashable], second: Sequence[Hashable]) -> float | None:
    """Cohen's kappa of two raters over the same units; None when undefined."""
    if len(first) != len(second):
        raise ValueError("both raters need a value for every unit")
    n = len(first)
    if n == 0:
        return None
    observed = sum(a == b for a, b in zip(first, second)) / n
    a_counts, b_counts = Counter(first), Counter(second)
    expected = sum(a_counts[c] * b_counts[c] for c in a_counts) / (n * n)
    if expected >= 1:
        return None
    return (observed - expected) / (1 - expected)


def mean_pairwise_kappa(ratings: Mapping[Hashable, Mapping[Hashable, Hashable]], *,
                        min_shared: int = 3) -> float | None:
    """Mean Cohen's kappa over the pairs of raters sharing at least ``min_shared`` units.

    ``ratings[rater][unit]`` is the value a rater gave a unit.
    """
    raters = sorted(ratings, key=repr)
    kappas = []
    for i, a in enumerate(raters):
        for b in raters[i + 1:]:
            shared = sorted(set(ratings[a]) & set(ratings[b]), key=repr)
            if len(shared) < min_shared:
                continue
            kappa = cohen_kappa([ratings[a][u] for u in shared], [ratings[b][u] for u in shared])
            if kappa is not None:
                kappas.append(kappa)
    return sum(kappas) / len(kappas) if kappas else None


_SPACES = re.compile(r"\s+")
_EDGE_PUNCTUATION = re.compile(r"^[\W_]+|[\W_]+$")


def normalise_rationale(text: str) -> str:
    """Case, spacing and surrounding punctuation do not make a rationale new."""
    return _EDGE_PUNCTUATION.sub("", _SPACES.sub(" ", text.strip().lower()))


def repeat_share(rationales: Sequence[str]) -> tuple[int, float | None]:
    """How many rationales repeat an earlier one (after normalising), and their share."""
    seen: set[str] = set()
    repeats = 0
    for text in rationales:
        key = normalise_rationale(text)
        if key in seen:
            repeats += 1
        seen.add(key)
    return repeats, (repeats / len(rationales) if rationales else None)


def median(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return float(ordered[mid]) if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
