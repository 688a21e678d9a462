"""Images by content hash: immutable, so browsers may cache them for a year."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, send_file

from ..auth import login_required
from ..context import current_store
from ..imaging import DISPLAY_SIZES
from ..storage import ensure_variant

bp = Blueprint("media", __name__, url_prefix="/images")


def _send(sha: str, variant: str) -> Any:
    try:
        # Display sizes are made on first request (imports store full images only).
        path = ensure_variant(current_store(), sha, variant)
    except (KeyError, FileNotFoundError):
        abort(404)
    if not path.is_file():
        abort(404)
    # Sent from an open file, so no file time reaches the client in any form
    # (Last-Modified, If-Modified-Since answers): file times tell which output
    # was uploaded first, i.e. hint at the model. The ETag names the content.
    response = send_file(path.open("rb"), mimetype="image/png", conditional=True,
                         etag=f"{sha}-{variant}", download_name=f"{sha}.png")
    # private: images need a login, so shared caches must not keep them.
    response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    return response


@bp.get("/<sha>.png")
@login_required
def image(sha: str) -> Any:
    return _send(sha, "full")


@bp.get("/<sha>/<variant>.png")
@login_required
def variant(sha: str, variant: str) -> Any:
    if variant not in DISPLAY_SIZES:
        abort(404)
    return _send(sha, variant)
