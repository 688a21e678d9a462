"""Images by content hash: immutable, so browsers may cache them for a year.

Three kinds of URL, one per distinct byte content:

- ``/images/<sha>.png``: the stored full image;
- ``/images/<sha>/<variant>.png``: a stored display size; when it holds the
  very bytes of the full image (small images), it redirects there;
- ``/images/<sha>/tiles/<level>/<col>_<row>.png``: a tile of a pyramid level
  (see :mod:`pairwise.tiles`), made on first request and cached in the store.

A large image is decoded once per process for all of these (its display
sizes and its tiles): :class:`pairwise.tiles.PixelCache`.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image as PILImage
from flask import Blueprint, abort, current_app, redirect, send_file, url_for

from .. import tiles
from ..auth import login_required
from ..context import current_store
from ..imaging import DISPLAY_SIZES, make_variant
from ..schema import Image
from ..storage import ensure_variant

bp = Blueprint("media", __name__, url_prefix="/images")

_pixels = tiles.PixelCache()


def _decoded(sha: str, full: Path) -> Any:
    _pixels.max_images = current_app.config.get("TILE_CACHE_IMAGES", 4)
    return _pixels.pixels(sha, full)


def _file(sha: str, variant: str = "full") -> Path:
    store = current_store()
    try:
        if variant != "full" and not store.path(sha, variant).is_file():
            full = store.path(sha)
            width, height = tiles.png_size(full)  # FileNotFoundError when absent
            if tiles.tiled_levels(width, height):
                # A large image: its tiles will want the same decode, so make the
                # display size from the shared one (same bytes as ensure_variant's).
                data = make_variant(full.read_bytes(), variant,
                                    decoded=PILImage.fromarray(_decoded(sha, full)))
                store.write_cached(store.path(sha, variant), data)
        # Display sizes are made on first request (imports store full images only).
        path = ensure_variant(store, sha, variant)
    except (KeyError, FileNotFoundError):
        abort(404)
    if not path.is_file():
        abort(404)
    return path


# Up to this size an image is sent from memory: no file stays open when a
# browser drops a tile request half-way (it often does when the zoom changes).
_IN_MEMORY = 16 * 2**20


def _send(path: Path, etag: str) -> Any:
    # Sent from bytes or an open file, never a path, so no file time reaches the
    # client in any form (Last-Modified, If-Modified-Since answers): file times
    # tell which output was uploaded first, i.e. hint at the model. The ETag
    # names the content.
    size = path.stat().st_size
    body: Any = io.BytesIO(path.read_bytes()) if size <= _IN_MEMORY else path.open("rb")
    response = send_file(body, mimetype="image/png", conditional=True, etag=etag,
                         download_name=path.name)
    if response.status_code == 200:
        # Werkzeug knows no size for an open file; browsers need it for progress.
        response.content_length = size
    # private: images need a login, so shared caches must not keep them.
    response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    return response


@bp.get("/<sha>.png")
@login_required
def image(sha: str) -> Any:
    return _send(_file(sha), f"{sha}-full")


@bp.get("/<sha>/<variant>.png")
@login_required
def variant(sha: str, variant: str) -> Any:
    if variant not in DISPLAY_SIZES:
        abort(404)
    path, full = _file(sha, variant), _file(sha)
    if path.stat().st_size == full.stat().st_size and path.read_bytes() == full.read_bytes():
        # The image is no larger than this display size: one URL for one content.
        return redirect(url_for("media.image", sha=sha), code=308)
    return _send(path, f"{sha}-{variant}")


@bp.get("/<sha>/tiles/<int:level>/<int:col>_<int:row>.png")
@login_required
def tile(sha: str, level: int, col: int, row: int) -> Any:
    full = _file(sha)
    width, height = tiles.png_size(full)
    if level >= tiles.tiled_levels(width, height):  # before 1 << level: URLs may hold any number
        abort(404)
    cols, rows = tiles.tile_grid(width, height, level)
    if col >= cols or row >= rows:
        abort(404)
    store = current_store()
    cached = store.cache_path(sha, f"tiles/{level}/{col}_{row}.png")
    if not cached.is_file():
        # Only this tile is cut (a few ms once the image is decoded).
        store.write_cached(cached, tiles.tile_png(_decoded(sha, full), level, col, row))
    return _send(cached, f"{sha}-t{level}-{col}-{row}")


def image_json(image: Image) -> dict[str, Any]:
    """An image as the judge page needs it: the URLs and the pyramid's shape."""
    url = url_for("media.image", sha=image.sha256)
    fits = max(image.width, image.height) <= DISPLAY_SIZES["preview"]
    return {"url": url,
            "preview_url": url if fits else url_for("media.variant", sha=image.sha256, variant="preview"),
            # The stored thumbnail: shown first, while a sharper picture loads.
            "thumb_url": url if max(image.width, image.height) <= DISPLAY_SIZES["thumb"]
            else url_for("media.variant", sha=image.sha256, variant="thumb"),
            "thumb_scale": round(min(1.0, DISPLAY_SIZES["thumb"] / max(image.width, image.height)), 6),
            "width": image.width, "height": image.height,
            "tile_size": tiles.TILE, "tile_levels": tiles.tiled_levels(image.width, image.height),
            # url ends in ".png": the tiles live under the same name as a folder
            "tile_url": url[:-len(".png")] + "/tiles/{level}/{col}_{row}.png"}
