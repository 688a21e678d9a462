"""What views and CLI commands take from the running app."""

from __future__ import annotations

import numpy as np
from flask import current_app

from .leaderboards import FitOptions
from .storage import ImageStore


def current_store() -> ImageStore:
    return current_app.extensions["pairwise.store"]


def scheduler_rng() -> np.random.Generator:
    # Fresh OS entropy per request in production; tests pin a seed.
    return np.random.default_rng(current_app.config.get("SCHEDULER_SEED"))


def fit_options(ties: str = "half", position: bool = False, bootstrap: int | None = None) -> FitOptions:
    rounds = current_app.config["BOOTSTRAP_ROUNDS"] if bootstrap is None else bootstrap
    return FitOptions(ties=ties, position=position, bootstrap=rounds,
                      seed=current_app.config["BOOTSTRAP_SEED"]).check()
