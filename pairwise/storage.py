"""Content-addressed image store on a folder: ``root/ab/cd/<sha256>[.<variant>].png``.

Files are immutable once written, so they can be served under their hash
with long cache lifetimes, and several workers may ``put`` the same image at
once: each writes a private temporary file and renames it into place.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from pairwise.imaging import DISPLAY_SIZES, NormalisedImage, make_variant

__all__ = ["VARIANTS", "ImageStore", "ensure_variant"]

VARIANTS: tuple[str, ...] = ("full", *DISPLAY_SIZES)
"""Names accepted by :meth:`ImageStore.path`."""

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CACHE_NAME = re.compile(r"[a-z0-9_]+(/[a-z0-9_]+)*\.png")


class ImageStore:
    """Normalised images on a local folder, addressed by the sha256 of their PNG."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"ImageStore({str(self.root)!r})"

    def put(self, image: NormalisedImage) -> str:
        """Store the full image; return its sha256.

        Idempotent: an image already present is not rewritten. Display
        variants are made on first request (:func:`ensure_variant`), which
        keeps imports fast and costs one resize per image, once.
        """
        # The address must really be the content's, or one upload could
        # shadow another's URL.
        if hashlib.sha256(image.png).hexdigest() != image.sha256:
            raise ValueError(f"image {image.sha256}: sha256 does not match its PNG bytes")
        self._write_once(self.path(image.sha256), image.png)
        return image.sha256

    def ensure_variant(self, sha256: str, variant: str) -> Path:
        """The path of a display variant, made from the full image if missing.

        Raises KeyError for a malformed address or unknown variant and
        FileNotFoundError when the full image is not stored. Safe when
        several workers ask at once: each writes the same bytes atomically.
        """
        target = self.path(sha256, variant)
        if variant == "full" or target.is_file():
            return target
        full = self.path(sha256).read_bytes()  # FileNotFoundError when absent
        self._write_once(target, make_variant(full, variant))
        return target

    def path(self, sha256: str, variant: str = "full") -> Path:
        """Where an image (or one of its display variants) lives.

        Raises KeyError unless ``sha256`` is 64 lowercase hex digits and
        ``variant`` is known: these strings come from URLs, and nothing else
        may reach the file system (``../``, absolute paths, odd case).
        """
        if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
            raise KeyError(f"not an image address: {sha256!r:.80}")
        if variant not in VARIANTS:
            raise KeyError(f"unknown image variant: {variant!r:.40}")
        suffix = ".png" if variant == "full" else f".{variant}.png"
        return self.root / sha256[:2] / sha256[2:4] / f"{sha256}{suffix}"

    def cache_path(self, sha256: str, name: str) -> Path:
        """Where derived data of an image (e.g. a tile) is cached, beside the image.

        ``name`` is a relative path of plain segments such as ``tiles/0/3_2.png``.
        """
        if not _CACHE_NAME.fullmatch(name):
            raise KeyError(f"not a cache name: {name!r:.80}")
        return self.path(sha256).with_suffix(".d") / name

    def write_cached(self, target: Path, data: bytes) -> None:
        """Write derived bytes once, atomically (see :meth:`put`)."""
        self._write_once(target, data)

    def exists(self, sha256: str) -> bool:
        """Whether the image is stored; False for malformed addresses too."""
        try:
            return self.path(sha256).is_file()
        except KeyError:
            return False

    def _write_once(self, target: Path, data: bytes) -> None:
        if target.is_file():
            return  # same address, same bytes: nothing to do
        target.parent.mkdir(parents=True, exist_ok=True)
        # Same folder as the target, so os.replace is an atomic rename and a
        # reader never sees a half-written file.
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".png")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            # mkstemp makes files private; images are served, perhaps by
            # another user's web server.
            os.chmod(temp, 0o644)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


def ensure_variant(store: ImageStore, sha256: str, variant: str) -> Path:
    """See :meth:`ImageStore.ensure_variant` (the serving side calls this)."""
    return store.ensure_variant(sha256, variant)
