"""What views and CLI commands take from the running app."""

from __future__ import annotations

import itertools

import numpy as np
from flask import current_app

from .leaderboard_fit import FitOptions
from .storage import ImageStore


def current_store() -> ImageStore:
    return current_app.extensions["pairwise.store"]


def scheduler_rng() -> np.random.Generator:
    """Fresh OS entropy per request; with SCHEDULER_SEED set (tests), a
    reproducible stream that still differs from request to request."""
    seed = current_app.config.get("SCHEDULER_SEED")
    if seed is None:
        return np.random.default_rng()
    counter = current_app.extensions.setdefault("pairwise.scheduler_requests", itertools.count())
    return np.random.default_rng([seed, next(counter)])


def fit_options(ties: str = "half", position: bool = False, bootstrap: int | None = None,
                style: bool = False) -> FitOptions:
    """The fit options of a request; closed-form intervals unless bootstrap rounds are asked for."""
    return FitOptions(ties=ties, position=position, bootstrap=bootstrap or 0,
                      seed=current_app.config["BOOTSTRAP_SEED"], style=style).check()
