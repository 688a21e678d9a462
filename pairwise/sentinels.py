"""Sentinel images: visibly degraded copies of an output, for generated gold pairs.

Pillow only, no Flask or SQL. A sentinel keeps the original's size and mode, so
once normalised and stored it is served exactly like any output (same URL
shape, same PNG encoding, same display sizes): only its content gives it away,
which is the point.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageChops, ImageFilter, ImageOps

DEGRADATIONS = ("blur", "banding", "colour_cast", "halo")


def choose(key: str, options: int) -> int:
    """A stable choice from a text key (an item id): the same seeding gives the same sentinels."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % options


def plan(item_id: str, models: Sequence[str]) -> tuple[int, str]:
    """Which output (index into ``models``, in the order they were added) and which degradation.

    Chosen from the item's id alone, so that the worker process that encodes
    an item's images and the database side agree, and seeding twice gives
    the same sentinel.
    """
    return choose(item_id, len(models)), DEGRADATIONS[choose(f"{item_id}/degradation", len(DEGRADATIONS))]


def degrade(image: Image.Image, kind: str) -> Image.Image:
    """A visibly worse copy of ``image``, same size and mode."""
    if kind not in DEGRADATIONS:
        raise ValueError(f"unknown degradation {kind!r} (known: {', '.join(DEGRADATIONS)})")
    mode = image.mode
    alpha = image.getchannel("A") if "A" in image.getbands() else None
    rgb = image.convert("RGB")
    short = max(min(rgb.size), 1)
    if kind == "blur":
        out = rgb.filter(ImageFilter.GaussianBlur(radius=max(2.0, short / 20)))
    elif kind == "banding":
        out = ImageOps.posterize(rgb, 2)  # 4 levels per channel: hard bands in every gradient
    elif kind == "colour_cast":
        r, g, b = rgb.split()
        out = Image.merge("RGB", (r.point(lambda v: min(255, int(v * 1.25 + 30))), g.point(lambda v: int(v * 0.9)),
                                  b.point(lambda v: int(v * 0.55))))
    else:  # halo: bright glows around every edge, as an over-sharpened or badly matted cut-out
        edges = max_filter(rgb.convert("L").filter(ImageFilter.FIND_EDGES), 5)
        glow = edges.filter(ImageFilter.GaussianBlur(radius=max(2.0, short / 60))).point(lambda v: min(255, v * 4))
        out = ImageChops.screen(rgb, Image.merge("RGB", (glow, glow, glow)))
    if alpha is not None:
        out.putalpha(alpha)
    return out.convert(mode) if out.mode != mode else out


def degrade_png(data: bytes, kind: str) -> bytes:
    """PNG bytes in, degraded PNG bytes out."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        out = degrade(image, kind)
    buffer = io.BytesIO()
    out.save(buffer, format="PNG", compress_level=0)  # re-encoded by the store anyway: no time on deflate
    return buffer.getvalue()


def max_filter(image: Image.Image, size: int) -> Image.Image:
    """Pillow's ``MaxFilter(size)`` on an L image (edges replicated), in numpy.

    The same pixels, ~100 times faster: Pillow's rank filter sorts every
    window (0.75 s for 1024x1024), while a square's maximum is the maximum
    of its rows' maxima (two passes of ``size`` shifted maxima).
    """
    if image.mode != "L" or size % 2 != 1:
        raise ValueError("max_filter: an L image and an odd size")
    half = size // 2
    padded = np.pad(np.asarray(image), half, mode="edge")
    height, width = image.height, image.width
    rows = padded[:, :width].copy()
    for k in range(1, size):
        np.maximum(rows, padded[:, k:k + width], out=rows)
    out = rows[:height].copy()
    for k in range(1, size):
        np.maximum(out, rows[k:k + height], out=out)
    return Image.fromarray(out)  # uint8, two dimensions: mode L
