"""Tile pyramids for large images: what the judge page loads to show one
region at 100 % without downloading the whole file (Pillow only, no Flask).

Level 0 is the stored full image; level k halves level k-1 (box filter,
sizes rounded up). Only levels still larger than the preview variant are
tiled: below that the preview (or, for small images, the full image itself)
is the picture, so no two URLs ever carry the same bytes. Tiles are lossless
PNG, cut on a fixed grid of TILE x TILE pixels.
"""

from __future__ import annotations

import io
import struct
import threading
from collections import OrderedDict
from pathlib import Path

from PIL import Image

from .imaging import DISPLAY_SIZES

__all__ = ["TILE", "LevelCache", "level_size", "png_size", "tile_png", "tiled_levels"]

TILE = 512
BASE_LONGEST = DISPLAY_SIZES["preview"]
"""The preview's longest side: levels at or below it are not tiled."""

# Tiles are a cache that may be rebuilt at any time, so they favour speed:
# zlib level 1 encodes ~3x faster than the store's level 3, still lossless.
_TILE_PNG = {"format": "PNG", "compress_level": 1, "optimize": False}


def tiled_levels(width: int, height: int) -> int:
    """How many levels are tiled: those whose longest side exceeds the preview's."""
    longest, levels = max(width, height), 0
    while -(-longest // (1 << levels)) > BASE_LONGEST:
        levels += 1
    return levels


def level_size(width: int, height: int, level: int) -> tuple[int, int]:
    f = 1 << level
    return -(-width // f), -(-height // f)


def tile_grid(width: int, height: int, level: int) -> tuple[int, int]:
    w, h = level_size(width, height, level)
    return -(-w // TILE), -(-h // TILE)


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk, without decoding pixels."""
    with path.open("rb") as handle:
        head = handle.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise ValueError(f"{path.name}: not a PNG")
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def tile_png(level_image: Image.Image, col: int, row: int) -> bytes:
    box = (col * TILE, row * TILE, min((col + 1) * TILE, level_image.width),
           min((row + 1) * TILE, level_image.height))
    out = io.BytesIO()
    level_image.crop(box).save(out, **_TILE_PNG)
    return out.getvalue()


class LevelCache:
    """Decoded pyramid levels of the last few images, per process.

    Only a cache (tiles also land in the image store): decoding a 24-megapixel
    PNG takes about half a second, and a view asks for several of its tiles at
    once. One lock per image, so parallel tile requests decode it once.
    """

    def __init__(self, max_images: int = 4) -> None:
        self.max_images = max_images
        self._levels: OrderedDict[str, dict[int, Image.Image]] = OrderedDict()
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, sha: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(sha, threading.Lock())

    def level(self, sha: str, full_path: Path, level: int) -> Image.Image:
        with self._lock(sha):
            with self._guard:
                levels = self._levels.get(sha)
                if levels is not None:
                    self._levels.move_to_end(sha)
            if levels is None:
                full = Image.open(full_path)
                full.load()  # reads all pixels; Pillow then closes the file it opened
                levels = {0: full if full.mode in ("RGB", "RGBA") else full.convert("RGBA")}
            for k in range(1, level + 1):
                if k not in levels:
                    levels[k] = levels[k - 1].reduce(2)
            with self._guard:
                self._levels[sha] = levels
                self._levels.move_to_end(sha)
                while len(self._levels) > self.max_images:
                    old, _ = self._levels.popitem(last=False)
                    self._locks.pop(old, None)
            return levels[level]
