"""Rater quality, pure: statistics (``stats``) and per-expert figures with flags (``flags``).

No Flask, no SQL: the operations in :mod:`pairwise.experts` read the judgments
and hand plain records to :func:`assess`.
"""

from __future__ import annotations

from .flags import ALPHA, ExpertFigures, Flag, PoolAgreement, Rated, agreement, assess
from .stats import cohen_kappa, krippendorff_alpha_nominal, left_rate_test, repeat_share, wilson

__all__ = ["ALPHA", "ExpertFigures", "Flag", "PoolAgreement", "Rated", "agreement", "assess",
           "cohen_kappa", "krippendorff_alpha_nominal", "left_rate_test", "repeat_share", "wilson"]
