"""Tile pyramids (pure): the store's PNGs decoded exactly, every tile of every
level cut alone equal to the same tile of a whole pyramid, one decode per image."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pairwise import tiles
from pairwise.imaging import encode_pixels, make_variant, normalise


def stored(tmp_path: Path, size: tuple[int, int], *, alpha: bool = False, seed: int = 1) -> Path:
    """An image as the store keeps it (normalised), with odd sizes and noise."""
    w, h = size
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(h, w, 4 if alpha else 3), dtype=np.uint8)
    y, x = np.mgrid[0:h, 0:w]
    pixels[..., 0] = (x + y) % 256  # structure too, so halving is not averaging noise only
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG", compress_level=0)
    image = normalise(out.getvalue(), name="t.png", max_bytes=2**30)
    path = tmp_path / f"{image.sha256}.png"
    path.write_bytes(image.png)
    return path


@pytest.mark.parametrize("alpha", [False, True])
def test_decode_gives_pillows_pixels(tmp_path: Path, alpha: bool) -> None:
    path = stored(tmp_path, (301, 203), alpha=alpha)
    with Image.open(path) as im:
        expected = np.asarray(im)
    got = tiles.decode(path)
    assert got.dtype == np.uint8 and np.array_equal(got, expected)


def test_decode_falls_back_to_pillow_for_other_pngs(tmp_path: Path) -> None:
    pixels = np.random.default_rng(2).integers(0, 256, size=(64, 80, 3), dtype=np.uint8)
    path = tmp_path / "pillow.png"
    Image.fromarray(pixels).save(path, format="PNG", compress_level=6)  # adaptive filters
    assert np.array_equal(tiles.decode(path), pixels)
    grey = tmp_path / "grey.png"
    Image.fromarray(pixels[..., 0]).save(grey, format="PNG")
    assert tiles.decode(grey).shape == (64, 80, 4)  # like the old level cache: RGBA


def test_a_corrupt_stored_png_is_refused(tmp_path: Path) -> None:
    path = stored(tmp_path, (64, 48))
    data = bytearray(path.read_bytes())
    data[60] ^= 0xFF  # inside IDAT: the chunk's CRC no longer matches
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError):
        tiles.decode(path)


@pytest.mark.parametrize("alpha", [False, True])
def test_every_tile_cut_alone_equals_the_whole_pyramids(tmp_path: Path, alpha: bool) -> None:
    # 2601 x 1333: odd sizes at every level, so partial tiles and partial 2x2 boxes.
    path = stored(tmp_path, (2601, 1333), alpha=alpha)
    pixels = tiles.decode(path)
    level = Image.open(path)
    level.load()
    for k in range(3):  # two tiled levels, and one more to test the halving chain
        if k:
            level = level.reduce(2)
        assert level.size == tiles.level_size(2601, 1333, k)
        reference = np.asarray(level)
        cols, rows = tiles.tile_grid(2601, 1333, k)
        for col in range(cols):
            for row in range(rows):
                want = reference[row * 512:(row + 1) * 512, col * 512:(col + 1) * 512]
                data = tiles.tile_png(pixels, k, col, row)
                assert data == encode_pixels(np.ascontiguousarray(want)), (k, col, row)
                assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), want)


def test_cutting_is_deterministic_and_cut_all_writes_every_tile_once(tmp_path: Path) -> None:
    path = stored(tmp_path, (1500, 1100))
    written: dict[str, bytes] = {}
    n = tiles.cut_all(path, written.__contains__, written.__setitem__)
    # level 0: 3 x 3 tiles; level 1 (750 x 550) is below the preview: not tiled.
    assert n == 9 and sorted(written) == [f"tiles/0/{c}_{r}.png" for c in range(3) for r in range(3)]
    assert tiles.cut_all(path, written.__contains__, written.__setitem__) == 0
    pixels = tiles.decode(path)
    assert all(tiles.tile_png(pixels, 0, c, r) == written[f"tiles/0/{c}_{r}.png"]
               for c in range(3) for r in range(3))


def test_a_display_size_from_decoded_pixels_has_the_same_bytes(tmp_path: Path) -> None:
    path = stored(tmp_path, (1500, 1100))
    png = path.read_bytes()
    decoded = Image.fromarray(tiles.decode(path))
    for variant in ("preview", "thumb"):
        assert make_variant(png, variant, decoded=decoded) == make_variant(png, variant)


def test_parallel_requests_for_one_image_decode_it_once(tmp_path: Path) -> None:
    calls: list[Path] = []
    started = threading.Event()

    def slow_decode(path: Path) -> np.ndarray:
        calls.append(path)
        started.set()
        time.sleep(0.2)  # the others arrive while this one decodes
        return np.zeros((4, 4, 3), dtype=np.uint8)

    cache = tiles.PixelCache(max_images=2, decoder=slow_decode)
    got: list[np.ndarray] = []
    threads = [threading.Thread(target=lambda: got.append(cache.pixels("a" * 64, tmp_path / "a.png")))
               for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(got) == 6 and all(g is got[0] for g in got)
    assert not got[0].flags.writeable
    cache.pixels("b" * 64, tmp_path / "b.png")
    cache.pixels("c" * 64, tmp_path / "c.png")  # evicts "a" (two images kept)
    cache.pixels("a" * 64, tmp_path / "a.png")
    assert len(calls) == 4
