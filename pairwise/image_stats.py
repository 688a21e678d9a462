"""Per-output image statistics for style control, and the covariates of each judgment.

``measure`` is pure (Pillow + numpy); the rest are operations that take a
session and flush (never commit). Statistics are computed once per stored
image (images are immutable) and kept in the ``image_stat`` table: lazily
when a style-controlled leaderboard needs them, or ahead of time with
``pairwise image-stats POOL``. This module reads the image store; it does
not touch the import pipeline (:mod:`pairwise.imaging`).

The statistics, on the full image (size) or a thumbnail whose longest side is
:data:`THUMBNAIL` pixels (the rest, so they compare across resolutions):

* ``luminance``: mean Rec. 709 luma, 0 (black) to 1 (white);
* ``saturation``: mean HSV saturation ``(max - min) / max``, 0 to 1;
* ``sharpness``: log10 of 1 + the variance of the 4-neighbour Laplacian of
  the luma (0-255 scale), a standard focus measure;
* ``megapixels``: width x height / 1e6 of the stored output.

A judgment's covariates are the left output's statistics minus the right's.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

STATS: tuple[str, ...] = ("luminance", "saturation", "sharpness", "megapixels")
THUMBNAIL = 512


def measure(path: Path) -> dict[str, float]:
    """The style statistics of one image file."""
    from PIL import Image as PILImage

    with PILImage.open(path) as image:
        width, height = image.size
        rgb = image.convert("RGB")
        rgb.thumbnail((THUMBNAIL, THUMBNAIL))
        pixels = np.asarray(rgb, dtype=np.float64) / 255.0
    luma = pixels @ np.array([0.2126, 0.7152, 0.0722])
    high, low = pixels.max(axis=2), pixels.min(axis=2)
    saturation = np.divide(high - low, high, out=np.zeros_like(high), where=high > 0)
    y = luma * 255.0
    laplacian = (-4 * y[1:-1, 1:-1] + y[:-2, 1:-1] + y[2:, 1:-1] + y[1:-1, :-2] + y[1:-1, 2:]) \
        if min(y.shape) >= 3 else np.zeros(1)
    return {"luminance": float(luma.mean()), "saturation": float(saturation.mean()),
            "sharpness": float(np.log10(1.0 + laplacian.var())), "megapixels": width * height / 1e6}


def ensure(db: Session, store: object, image_ids: Iterable[int]) -> int:
    """Compute and store the statistics of the given images that have none; returns how many."""
    from .schema import Image, ImageStat

    wanted = set(image_ids)
    if not wanted:
        return 0
    have = set(db.scalars(select(ImageStat.image_id).where(ImageStat.image_id.in_(wanted))))
    missing = sorted(wanted - have)
    measured = 0
    for image in db.scalars(select(Image).where(Image.id.in_(missing))):
        try:
            stats = measure(store.path(image.sha256))  # type: ignore[attr-defined]
        except (OSError, ValueError):  # a missing or unreadable file: its judgments go without covariates
            continue
        db.add(ImageStat(image_id=image.id, **stats))
        measured += 1
    db.flush()
    return measured


def judged_images(db: Session, pool_id: int) -> set[int]:
    """Ids of every output image shown in a judged pair of this pool."""
    from .schema import Assignment, Judgment, Output

    out: set[int] = set()
    for side in (Assignment.left_output_id, Assignment.right_output_id):
        out.update(db.scalars(
            select(Output.image_id).join(Assignment, side == Output.id)
            .join(Judgment, Judgment.assignment_id == Assignment.id)
            .where(Judgment.pool_id == pool_id).distinct()))
    return out


def covariate_rows(
    db: Session, pool_id: int, category: str | None, model_index: dict[int, int]
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp], NDArray[np.float64]]:
    """(left, right, choice, covariates) per judgment: model indices, choice index, left minus right stats.

    Judgments whose images have no statistics yet are skipped; call
    :func:`ensure` first. ``category`` None means every category.
    """
    from .ranking import CHOICES
    from .schema import Assignment, ExpertExclusion, ImageStat, Judgment, Output

    lo, ro = aliased(Output), aliased(Output)
    ls, rs = aliased(ImageStat), aliased(ImageStat)
    columns = [getattr(ls, s) for s in STATS] + [getattr(rs, s) for s in STATS]
    query = (select(Judgment.left_model_id, Judgment.right_model_id, Judgment.choice, *columns)
             .join(Assignment, Assignment.id == Judgment.assignment_id)
             .join(lo, lo.id == Assignment.left_output_id).join(ro, ro.id == Assignment.right_output_id)
             .join(ls, ls.image_id == lo.image_id).join(rs, rs.image_id == ro.image_id)
             .where(Judgment.pool_id == pool_id,
                    # gold answers compare no two models; excluded experts leave every fit
                    Judgment.gold_pair_id.is_(None),
                    Judgment.expert_id.not_in(select(ExpertExclusion.expert_id)
                                              .where(ExpertExclusion.pool_id == pool_id))))
    if category is not None:
        query = query.where(Judgment.category == category)
    choice_index = {c: i for i, c in enumerate(CHOICES)}
    left, right, choice, values = [], [], [], []
    for row in db.execute(query):
        if row[0] in model_index and row[1] in model_index:
            left.append(model_index[row[0]])
            right.append(model_index[row[1]])
            choice.append(choice_index[row[2].value])
            values.append(row[3:])
    n = len(STATS)
    stats = np.array(values, dtype=np.float64).reshape(-1, 2 * n)
    return (np.array(left, dtype=np.intp), np.array(right, dtype=np.intp), np.array(choice, dtype=np.intp),
            stats[:, :n] - stats[:, n:])
