"""Bradley-Terry leaderboards from a table of pairwise judgment counts.

Pure numpy/scipy (no Flask, no SQL). The modules call one way::

    counts -> model -> estimate -> intervals -> bootstrap -> fitting

* :mod:`.counts`: judgment rows to a (K, K, 4) count table, its digest, records;
* :mod:`.model`: likelihoods on the table's cells, information, sandwich, Newton;
* :mod:`.estimate`: existence of the MLE (beat graph), groups, the estimate (MLE or MAP);
* :mod:`.intervals`: closed-form intervals, rank intervals, P(best), separations;
* :mod:`.bootstrap`: vectorised Poisson-cell bootstrap refits;
* :mod:`.fitting`: :func:`fit`, the one entry point the web app, the CLI and the
  benchmark call.

The names below are the package's public interface; other parts of the
project import only these.
"""

from __future__ import annotations

from pairwise.ranking.counts import CHOICES, TIES_MODES, digest, tally
from pairwise.ranking.estimate import DEFAULT_PRIOR
from pairwise.ranking.fitting import Fit, fit
from pairwise.ranking.intervals import Interval, Separation

__all__ = [
    "CHOICES",
    "DEFAULT_PRIOR",
    "TIES_MODES",
    "Fit",
    "Interval",
    "Separation",
    "digest",
    "fit",
    "tally",
]
