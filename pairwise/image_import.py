"""The image half of an import: normalise, store, no database (operations: none).

Kept apart from :mod:`pairwise.pools` so that seeding's worker processes
import only this (imaging, numpy, Pillow: ~0.1 s) and not SQLAlchemy and
the schema (~1 s of CPU per worker, which on the 120-image benchmark was a
sixth of the whole import). :mod:`pairwise.pools` re-exports every name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import imaging, sentinels, tiles
from .errors import Invalid
from .storage import ImageStore


@dataclass(frozen=True)
class Upload:
    """Image bytes as they arrived, with the name to quote in errors."""

    name: str
    data: bytes


@dataclass(frozen=True)
class StoredImage:
    """A normalised image already in the store: what its database row needs."""

    sha256: str
    width: int
    height: int
    byte_size: int


@dataclass(frozen=True)
class PreparedSentinel:
    """A gold sentinel's degraded copy, already stored: of which output, how degraded."""

    of_sha256: str
    kind: str
    image: StoredImage


@dataclass(frozen=True)
class PreparedItem:
    source: StoredImage
    outputs: dict[str, StoredImage]
    sentinel: PreparedSentinel | None = None


def prepare_images(store: ImageStore, source: Upload, outputs: Mapping[str, Upload], *,
                   resample: bool = False, max_pixels: int = 40_000_000,
                   sentinel_for: str | None = None) -> PreparedItem:
    """Normalise an item's images and put them in the store; no database.

    The expensive part of an import (decode, encode, write), kept apart from
    the database so that seeding can run it in worker processes. With
    ``resample`` every output is resampled to the source's size. With
    ``sentinel_for`` (the item's id, for a new item of a pool with gold
    pairs) the sentinel's degraded copy is made too, from pixels already
    decoded (see :func:`pairwise.gold.make_sentinel`).
    """
    stored_source = put_image(store, source, max_pixels=max_pixels)
    size = (stored_source.width, stored_source.height) if resample else None
    chosen, kind = sentinels.plan(sentinel_for, list(outputs)) if sentinel_for and outputs else (-1, "")
    stored: dict[str, StoredImage] = {}
    sentinel = None
    for index, (name, upload) in enumerate(outputs.items()):
        if index != chosen:
            stored[name] = put_image(store, upload, max_pixels=max_pixels, size=size)
            continue
        stored[name], pixels = _put(store, upload, max_pixels=max_pixels, size=size)
        degraded = imaging.encode(sentinels.degrade(pixels, kind), name=f"{sentinel_for}-sentinel.png")
        del pixels
        put_normalised(store, degraded)
        sentinel = PreparedSentinel(of_sha256=stored[name].sha256, kind=kind, image=_stored(degraded))
    return PreparedItem(source=stored_source, outputs=stored, sentinel=sentinel)


def put_image(store: ImageStore, upload: Upload, *, max_pixels: int,
              size: tuple[int, int] | None = None) -> StoredImage:
    """Normalise one image (resampled to ``size`` if given) and put it in the store; no database."""
    return _put(store, upload, max_pixels=max_pixels, size=size)[0]


def _put(store: ImageStore, upload: Upload, *, max_pixels: int,
         size: tuple[int, int] | None) -> tuple[StoredImage, Any]:
    try:
        normalised, pixels = imaging.normalise_keeping_pixels(upload.data, name=upload.name,
                                                              max_pixels=max_pixels, size=size)
    except imaging.ImageError as exc:
        raise Invalid(str(exc)) from None
    put_normalised(store, normalised, pixels)
    return _stored(normalised), pixels


def put_normalised(store: ImageStore, image: imaging.NormalisedImage, pixels: Any = None) -> None:
    """Put an image in the store, with a large one's display sizes and tiles.

    ``pixels``: the image decoded (saves decoding its PNG again; only a large
    image needs them).
    """
    # Always put (a no-op when the file exists), so an image folder
    # restored without some files heals on the next upload. A file written
    # for a transaction that later rolls back stays unreferenced:
    # harmless, since content addresses never clash.
    store.put(image)

    def write(variant: str | None, name: str, data: bytes) -> None:
        path = store.path(image.sha256, variant) if variant else store.cache_path(image.sha256, name)
        store.write_cached(path, data)

    levels = tiles.tiled_levels(image.width, image.height)
    if not levels:
        return
    cols, rows = tiles.tile_grid(image.width, image.height, levels - 1)
    last = store.cache_path(image.sha256, f"tiles/{levels - 1}/{cols - 1}_{rows - 1}.png")
    if last.is_file():  # imported before: everything was cut then (the last file written is this one)
        return
    decoded = pixels if pixels is not None else tiles.decode_bytes(image.png)
    tiles.cut_at_import(image.png, decoded, image.width, image.height, write)


def _stored(image: imaging.NormalisedImage) -> StoredImage:
    return StoredImage(image.sha256, image.width, image.height, len(image.png))


@dataclass(frozen=True)
class _PrepareJob:
    """One manifest item's images, as paths: cheap to send to a worker process."""

    store_root: Path
    source: Path
    outputs: dict[str, Path]
    resample: bool
    max_pixels: int
    sentinel_for: str | None = None

    def __call__(self) -> PreparedItem | Invalid:
        # An Invalid is returned, not raised, so that the parent names the
        # item and no worker traceback crosses the process boundary.
        try:
            return prepare_images(
                ImageStore(self.store_root), Upload(self.source.name, self.source.read_bytes()),
                {m: Upload(p.name, p.read_bytes()) for m, p in self.outputs.items()},
                resample=self.resample, max_pixels=self.max_pixels, sentinel_for=self.sentinel_for)
        except Invalid as exc:
            return exc
        except OSError as exc:
            return Invalid(f"{exc.filename or 'file'}: {exc.strerror or exc}")


def _run(job: _PrepareJob) -> PreparedItem | Invalid:
    return job()
