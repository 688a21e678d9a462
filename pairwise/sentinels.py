"""Sentinel images: visibly degraded copies of an output, for generated gold pairs.

Pillow only, no Flask or SQL. A sentinel keeps the original's size and mode, so
once normalised and stored it is served exactly like any output (same URL
shape, same PNG encoding, same display sizes): only its content gives it away,
which is the point.
"""

from __future__ import annotations

import hashlib
import io

from PIL import Image, ImageChops, ImageFilter, ImageOps

DEGRADATIONS = ("blur", "banding", "colour_cast", "halo")


def choose(key: str, options: int) -> int:
    """A stable choice from a text key (an item id): the same seeding gives the same sentinels."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % options


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
        edges = rgb.convert("L").filter(ImageFilter.FIND_EDGES).filter(ImageFilter.MaxFilter(5))
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
