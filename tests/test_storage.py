from __future__ import annotations

import dataclasses
import io
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pairwise.imaging import DISPLAY_SIZES, NormalisedImage, make_variant, normalise
from pairwise.storage import VARIANTS, ImageStore


def make_image(width: int = 1200, height: int = 800, seed: int = 0) -> NormalisedImage:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return normalise(out.getvalue(), name="test.png")


@pytest.fixture(scope="module")
def image() -> NormalisedImage:
    return make_image()


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_root_is_created(tmp_path: Path) -> None:
    root = tmp_path / "a" / "b" / "images"
    ImageStore(root)
    assert root.is_dir()


def test_round_trip(tmp_path: Path, image: NormalisedImage) -> None:
    store = ImageStore(tmp_path)
    assert not store.exists(image.sha256)
    assert store.put(image) == image.sha256
    assert store.exists(image.sha256)
    assert store.path(image.sha256).read_bytes() == image.png
    for variant in DISPLAY_SIZES:
        assert not store.path(image.sha256, variant).exists()  # made lazily, on first request
        path = store.ensure_variant(image.sha256, variant)
        assert path == store.path(image.sha256, variant)
        assert path.read_bytes() == make_variant(image.png, variant)


def test_variant_of_a_missing_image(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        ImageStore(tmp_path).ensure_variant("a" * 64, "thumb")
    assert all_files(tmp_path) == []


def test_layout(tmp_path: Path, image: NormalisedImage) -> None:
    store = ImageStore(tmp_path)
    store.put(image)
    sha = image.sha256
    for variant in DISPLAY_SIZES:
        store.ensure_variant(sha, variant)
    folder = tmp_path / sha[:2] / sha[2:4]
    assert store.path(sha) == folder / f"{sha}.png"
    assert store.path(sha, "thumb") == folder / f"{sha}.thumb.png"
    assert all_files(tmp_path) == sorted(
        [folder / f"{sha}.png", folder / f"{sha}.preview.png", folder / f"{sha}.thumb.png"]
    )


def test_files_are_world_readable(tmp_path: Path, image: NormalisedImage) -> None:
    store = ImageStore(tmp_path)
    store.put(image)
    assert stat.S_IMODE(store.path(image.sha256).stat().st_mode) & 0o444 == 0o444


def test_put_is_idempotent(tmp_path: Path, image: NormalisedImage) -> None:
    store = ImageStore(tmp_path)
    store.put(image)
    before = {p: p.stat().st_mtime_ns for p in all_files(tmp_path)}
    os.utime(store.path(image.sha256), ns=(1, 1))  # a rewrite would reset this
    assert store.put(image) == image.sha256
    assert set(all_files(tmp_path)) == set(before)
    assert store.path(image.sha256).stat().st_mtime_ns == 1


def test_two_images_live_apart(tmp_path: Path, image: NormalisedImage) -> None:
    store = ImageStore(tmp_path)
    other = make_image(300, 200, seed=1)
    store.put(image)
    store.put(other)
    assert store.path(other.sha256).read_bytes() == other.png
    assert store.path(image.sha256).read_bytes() == image.png
    assert len(all_files(tmp_path)) == 2  # full images only; variants come on request


def test_no_temporary_files_are_left(tmp_path: Path, image: NormalisedImage) -> None:
    store = ImageStore(tmp_path)
    store.put(image)
    assert not [p for p in all_files(tmp_path) if p.name.startswith(".tmp-")]


def test_failed_write_leaves_nothing_behind(
    tmp_path: Path, image: NormalisedImage, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ImageStore(tmp_path)

    def disk_full(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError, match="No space"):
        store.put(image)
    monkeypatch.undo()
    assert all_files(tmp_path) == []
    assert not store.exists(image.sha256)
    store.put(image)  # and a retry works
    assert store.exists(image.sha256)


def test_put_writes_the_full_file_only(
    tmp_path: Path, image: NormalisedImage, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Imports write one file per image; display sizes wait for a request.
    store = ImageStore(tmp_path)
    written: list[str] = []
    real_replace = os.replace

    def recording_replace(src: str, dst: str) -> None:
        written.append(Path(dst).name)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", recording_replace)
    store.put(image)
    assert written == [f"{image.sha256}.png"]


def test_forged_address_is_refused(tmp_path: Path, image: NormalisedImage) -> None:
    store = ImageStore(tmp_path)
    forged = dataclasses.replace(image, sha256="0" * 64)
    with pytest.raises(ValueError, match="does not match"):
        store.put(forged)
    assert all_files(tmp_path) == []


@pytest.mark.parametrize(
    "bad",
    [
        "../x",
        "../" + "a" * 61,
        "/etc/passwd",
        "A" * 64,
        "a" * 63,
        "a" * 65,
        "g" * 64,
        "",
        "a" * 62 + "/.",
        "a" * 64 + "\n",
        " " + "a" * 63,
    ],
)
def test_bad_addresses_are_refused(tmp_path: Path, bad: str) -> None:
    store = ImageStore(tmp_path)
    with pytest.raises(KeyError):
        store.path(bad)
    assert store.exists(bad) is False


def test_non_string_address_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        ImageStore(tmp_path).path(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("variant", ["", "huge", "../thumb", "THUMB", "full.png"])
def test_unknown_variant_is_refused(tmp_path: Path, variant: str) -> None:
    with pytest.raises(KeyError):
        ImageStore(tmp_path).path("a" * 64, variant)


def test_known_variants() -> None:
    assert VARIANTS == ("full", "preview", "thumb")


def test_paths_stay_under_root(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    for variant in VARIANTS:
        resolved = store.path("0123456789abcdef" * 4, variant).resolve()
        assert resolved.is_relative_to(tmp_path.resolve())
