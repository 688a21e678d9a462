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
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from .imaging import DISPLAY_SIZES

__all__ = ["TILE", "LevelCache", "cut_all", "level_size", "png_size", "tile_png", "tiled_levels"]

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


def cut_all(full_path: Path, exists: Callable[[str], bool], write: Callable[[str, bytes], None]) -> int:
    """Cut every tile of an image ahead of time; return how many were written.

    ``exists`` and ``write`` take a cache name such as ``tiles/0/3_2.png``.
    """
    width, height = png_size(full_path)
    levels = tiled_levels(width, height)
    names = [(k, c, r) for k in range(levels)
             for c in range(tile_grid(width, height, k)[0]) for r in range(tile_grid(width, height, k)[1])]
    missing = [(k, c, r) for k, c, r in names if not exists(f"tiles/{k}/{c}_{r}.png")]
    if not missing:
        return 0
    picture = Image.open(full_path)
    picture.load()
    level_images = {0: picture}
    for k in range(1, levels):
        level_images[k] = level_images[k - 1].reduce(2)
    for k, c, r in missing:
        write(f"tiles/{k}/{c}_{r}.png", tile_png(level_images[k], c, r))
    return len(missing)


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
