"""Check and normalise uploaded images: decode fully, orient, strip metadata.

Experts judge compression artefacts, so pixels are re-encoded losslessly (PNG)
exactly as decoded; metadata is dropped because EXIF software tags, text
chunks and file names can reveal which model made an output.

Every stored image has one format, whatever arrived: an 8-bit PNG of colour
type 2 (RGB), or type 6 (RGBA) only when some pixel is not fully opaque
(transparency is content an expert sees; an opaque alpha channel is not, and
would tell a model whose tool always writes RGBA from one that writes RGB).
Only the chunks IHDR, IDAT and IEND, written by one encoder at one level.
Input with more than 8 bits per sample is refused unless it converts exactly
(an 8-bit image saved as 16-bit): rounding a model's pixels is not ours to do.
"""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
import zlib
from dataclasses import dataclass

import numpy as np
from isal import isal_zlib
from PIL import Image, ImageOps

try:
    from PIL import ImageCms
except ImportError:  # Pillow built without LittleCMS: profiles are refused
    ImageCms = None  # type: ignore[assignment]

__all__ = ["DISPLAY_SIZES", "ImageError", "NormalisedImage", "encode", "encode_pixels", "make_variant", "normalise",
           "normalise_keeping_pixels"]

DISPLAY_SIZES: dict[str, int] = {"preview": 1024, "thumb": 256}
"""Display variants: name -> longest side in pixels."""

# Only plain raster formats: Pillow plugins such as EPS call external programs
# (Ghostscript) on untrusted input, and nobody uploads retouches as PSD or ICO.
# The JPEG opener also yields MPO: camera JPEGs carrying extra pictures (depth
# maps, previews); still a JPEG, whose first frame is the photo.
_FORMATS = ("PNG", "JPEG", "WEBP", "TIFF", "BMP", "GIF")
_FORMAT_NAMES = "PNG, JPEG, WebP, TIFF, BMP or GIF"

# Our own PNG writer, not Pillow's: Pillow tries five row filters on every
# row and deflates with zlib, which took most of an import (a noisy
# 1024x1024 photo: ~350 ms at any zlib level). One fixed filter ("Up",
# vectorised) deflated by ISA-L at its level 1 takes ~10 ms, for slightly
# fewer bytes than Pillow at zlib level 3 (1.79 vs 1.91 MB on that photo).
# It also fixes the format once for all: one IDAT chunk, no ancillary
# chunks, the same bytes whatever Pillow version decoded the upload. The
# bytes, hence every content address, depend on this filter, this level and
# the ISA-L version: change them only deliberately.
_PNG_FILTER_UP = 2
_DEFLATE_LEVEL = 1
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Resampling to the source's size stretches; a different aspect ratio means
# a crop or a border, which is what the expert should see, so it is refused.
_ASPECT_TOLERANCE = 0.01


class ImageError(ValueError):
    """An upload that is not an acceptable image; ``str(e)`` is ``"<name>: <reason>"``."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = _one_line(name)
        self.reason = _one_line(reason)
        super().__init__(f"{self.name}: {self.reason}")


@dataclass(frozen=True)
class NormalisedImage:
    """A decoded, upright, metadata-free image as lossless PNG bytes."""

    png: bytes
    width: int
    height: int
    sha256: str


def normalise(
    data: bytes,
    *,
    name: str,
    max_pixels: int = 40_000_000,
    max_bytes: int = 50 * 2**20,
    size: tuple[int, int] | None = None,
) -> NormalisedImage:
    """Decode ``data`` completely and return it as a clean, upright sRGB PNG.

    Parameters
    ----------
    data
        The uploaded file's bytes.
    name
        How to name the upload in error messages (a file or form field name).
    max_pixels
        Largest accepted ``width * height``; checked from the header, before
        any pixels are decoded, so decompression bombs cost nothing.
    max_bytes
        Largest accepted upload size.
    size
        ``(width, height)`` to resample to (LANCZOS), e.g. the item's source
        size, so that outputs' dimensions cannot tell models apart; None keeps
        the decoded size. An aspect ratio more than 1 % off is refused.

    Display variants are not made here (see :func:`make_variant`): the
    serving side makes them on first request.

    Raises
    ------
    ImageError
        Empty, too large, not an image, truncated, animated, zero-size,
        unsupported colour data, or a colour profile that cannot be applied.
    """
    return normalise_keeping_pixels(data, name=name, max_pixels=max_pixels, max_bytes=max_bytes, size=size)[0]


def normalise_keeping_pixels(
    data: bytes,
    *,
    name: str,
    max_pixels: int = 40_000_000,
    max_bytes: int = 50 * 2**20,
    size: tuple[int, int] | None = None,
) -> tuple[NormalisedImage, Image.Image]:
    """:func:`normalise`, and the decoded pixels its PNG holds (to derive more from them).

    The pixels are exactly what decoding the PNG gives back, so a caller
    that makes a second image from them (a gold sentinel) saves a decode.
    """
    if not data:
        raise ImageError(name, "the file is empty")
    if len(data) > max_bytes:
        raise ImageError(
            name, f"the file is {len(data):,} bytes; the limit is {max_bytes:,} bytes"
        )

    # Pillow reports bombs and harmless oddities (corrupt EXIF, palette
    # transparency) as warnings. Record them instead of leaking them to the
    # caller's warning filters, and turn only the bomb warning into a refusal.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # A plain PNG's pixel stream is inflated by ISA-L first (2.5x zlib's
        # speed); Pillow then unfilters the same bytes (see _with_stored_pixels).
        fast = _with_stored_pixels(data, max_pixels) if data.startswith(_PNG_SIGNATURE) else None
        with _open(fast or data, name, max_pixels) as opened:
            _refuse_bomb_warnings(caught, name)
            im = _decode(opened, name)
            if opened.format == "PNG":
                _verify_png(data, name)
            _refuse_bomb_warnings(caught, name)
        im = _to_srgb(im, name)
        im = _to_rgb_or_rgba(im, name)
        if size is not None and im.size != tuple(size):
            im = _resample(im, size, name)
        # Only pixels reach the encoder: no ICC profile, EXIF, XMP or text.
        png = _encode_png(im)
    return NormalisedImage(png=png, width=im.width, height=im.height,
                           sha256=hashlib.sha256(png).hexdigest()), im


def encode(im: Image.Image, *, name: str) -> NormalisedImage:
    """Pixels made here (8-bit RGB or RGBA, no profile) in the stored format.

    The same bytes as :func:`normalise` gives for a PNG of these pixels,
    without the round trip through a PNG.
    """
    if im.mode not in ("RGB", "RGBA"):
        raise ImageError(name, f"cannot store pixels of mode {im.mode} directly")
    im = im.copy()
    im.info = {}  # as decoded from a stored PNG: no transparency key, no profile
    clean = _to_rgb_or_rgba(im, name)
    png = _encode_png(clean)
    return NormalisedImage(png=png, width=clean.width, height=clean.height,
                           sha256=hashlib.sha256(png).hexdigest())


def make_variant(png: bytes, variant: str, *, decoded: Image.Image | None = None) -> bytes:
    """A stored PNG scaled to the display size ``variant`` (in the same format).

    Deterministic: the same full image always gives the same bytes, so a
    variant made by two workers at once is the same file. ``decoded``, when
    given, is ``png``'s pixels already decoded (the tile cache has them), so
    the PNG is not decoded again; the bytes are the same either way.
    """
    longest = DISPLAY_SIZES[variant]
    if decoded is not None:
        return _variant(decoded, longest, png)
    with Image.open(io.BytesIO(png), formats=("PNG",)) as im:
        im.load()
        return _variant(im, longest, png)


def _resample(im: Image.Image, size: tuple[int, int], name: str) -> Image.Image:
    width, height = size
    if width <= 0 or height <= 0:
        raise ImageError(name, f"cannot resample to {width}x{height}")
    have, want = im.width / im.height, width / height
    if abs(have / want - 1) > _ASPECT_TOLERANCE:
        raise ImageError(
            name,
            f"is {im.width}x{im.height} and cannot be resampled to the source's "
            f"{width}x{height} without distortion (aspect ratios differ)",
        )
    # Pillow resamples RGBA premultiplied, so transparent pixels' colours
    # do not bleed into their neighbours.
    return im.resize((width, height), Image.Resampling.LANCZOS)


def _open(data: bytes, name: str, max_pixels: int) -> Image.Image:
    """Read the header only and refuse what should not be decoded at all."""
    try:
        im = Image.open(io.BytesIO(data), formats=_FORMATS)
    except Image.DecompressionBombError:
        raise ImageError(name, "too many pixels (a possible decompression bomb)") from None
    except Image.UnidentifiedImageError:
        raise ImageError(name, f"not a recognised image ({_FORMAT_NAMES})") from None
    except Exception as exc:  # noqa: BLE001 - any parser failure on untrusted bytes
        raise ImageError(name, f"cannot read the image header ({_describe(exc)})") from None

    width, height = im.size
    if width <= 0 or height <= 0:
        im.close()
        raise ImageError(name, f"the image has zero size ({width}x{height})")
    if width * height > max_pixels:
        im.close()
        raise ImageError(
            name,
            f"too many pixels ({width}x{height} = {width * height:,}; "
            f"the limit is {max_pixels:,})",
        )
    if im.format != "MPO":
        try:
            frames = getattr(im, "n_frames", 1)
        except Exception as exc:  # noqa: BLE001 - counting frames parses the file
            im.close()
            raise ImageError(name, f"cannot read the image frames ({_describe(exc)})") from None
        if frames > 1:
            im.close()
            raise ImageError(
                name, f"animated or multi-page images are not accepted ({frames} frames)"
            )
    return im


def _refuse_deep_colour(im: Image.Image, name: str) -> None:
    """Refuse colour data of more than 8 bits per sample before decoding.

    Pillow decodes 16-bit RGB(A) PNGs and TIFFs by dropping the low byte,
    silently; so such files are refused, naming what to do instead.
    """
    rawmodes = [t.args[0] if isinstance(t.args, tuple) else t.args for t in im.tile]
    if any(isinstance(r, str) and (";16" in r or ";32" in r or ";48" in r or ";64" in r)
           for r in rawmodes) and im.mode not in (*_SIXTEEN_BIT, "F"):
        raise ImageError(name, "has 16 bits per colour sample; images are stored at 8 bits "
                               "and converting would round the model's pixels: export 8-bit")


def _decode(im: Image.Image, name: str) -> Image.Image:
    """Decode every pixel (so truncation shows) and apply EXIF orientation."""
    _refuse_deep_colour(im, name)
    try:
        # load() raises on truncated data while LOAD_TRUNCATED_IMAGES is
        # False, Pillow's default, which this module never changes.
        im.load()
    except Image.DecompressionBombError:
        raise ImageError(name, "too many pixels (a possible decompression bomb)") from None
    except Exception as exc:  # noqa: BLE001 - decoder failures on untrusted bytes
        raise ImageError(name, f"the image data is truncated or corrupt ({_describe(exc)})") from None
    try:
        upright = ImageOps.exif_transpose(im)
    except Exception as exc:  # noqa: BLE001 - EXIF parsing of untrusted bytes
        raise ImageError(name, f"cannot read the EXIF orientation ({_describe(exc)})") from None
    # exif_transpose copies ``info``; the ICC profile is still needed below.
    upright.info.setdefault("icc_profile", im.info.get("icc_profile"))
    return upright


def _verify_png(data: bytes, name: str) -> None:
    """Refuse a PNG cut short after its pixels or with a bad chunk checksum.

    Pillow's decoder stops once it has the pixels, so a PNG missing its last
    bytes (an interrupted upload) still loads; verify() walks every chunk to
    IEND and checks each CRC, without decoding pixels again.
    """
    try:
        with Image.open(io.BytesIO(data), formats=("PNG",)) as again:
            again.verify()
    except Exception as exc:  # noqa: BLE001 - chunk parser failures
        raise ImageError(name, f"the image data is truncated or corrupt ({_describe(exc)})") from None


_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # PNG colour type -> samples per pixel
_STORED_BLOCK = 65535


def _with_stored_pixels(data: bytes, max_pixels: int) -> bytes | None:
    """The same PNG with its pixel data inflated and stored uncompressed, or
    None to decode the upload as it is.

    Decoding a PNG is inflating its pixel stream (zlib: 60 % of the time)
    and unfiltering the rows. ISA-L inflates 2.5 times faster than the zlib
    inside Pillow, so the stream is inflated here and put back as stored
    (uncompressed) deflate blocks, which Pillow copies through while it
    unfilters: the same bytes reach the same decoder, so the pixels, the
    metadata Pillow reads and every refusal are those of the upload itself
    (its chunk checksums are verified on the original, :func:`_verify_png`).
    Only for the plain case: one run of IDAT chunks, not interlaced, within
    ``max_pixels``, a stream that inflates to exactly the rows the header
    promises and ends there. Anything else (a bomb, truncation, corruption,
    animation) takes the ordinary path and its ordinary error.
    """
    chunks: list[bytes | None] = []
    idat: list[bytes] = []
    pos, end = len(_PNG_SIGNATURE), len(data)
    try:
        while pos + 12 <= end:
            length = int.from_bytes(data[pos:pos + 4], "big")
            kind = data[pos + 4:pos + 8]
            if pos + 12 + length > end:
                return None
            if kind == b"IDAT":
                if idat and chunks[-1] is not None:
                    return None  # IDAT chunks must be consecutive
                if not idat:
                    chunks.append(None)
                idat.append(data[pos + 8:pos + 8 + length])
            elif kind in (b"acTL", b"fdAT"):
                return None  # animated: refused on the ordinary path
            else:
                chunks.append(data[pos:pos + 12 + length])
            pos += 12 + length
            if kind == b"IEND":
                break
        if not idat or not chunks or not chunks[0] or chunks[0][4:8] != b"IHDR" or len(chunks[0]) != 25:
            return None
        width, height, depth, colour, _method, _filter, interlace = struct.unpack(">IIBBBBB", chunks[0][8:21])
        if interlace or colour not in _CHANNELS or depth not in (1, 2, 4, 8, 16) or width * height > max_pixels:
            return None
        expected = height * (1 + (width * depth * _CHANNELS[colour] + 7) // 8)
        stream = isal_zlib.decompressobj()
        raw = stream.decompress(idat[0] if len(idat) == 1 else b"".join(idat), expected + 1)
        if len(raw) != expected or not stream.eof or stream.unused_data:
            return None
    except (isal_zlib.error, ValueError, struct.error):
        return None
    # The new IDAT chunk, written in one join (a copy of 3 MB costs).
    view = memoryview(raw)
    body: list[bytes | memoryview] = [b"\x78\x01"]
    for start in range(0, len(raw), _STORED_BLOCK):
        piece = view[start:start + _STORED_BLOCK]
        body += [struct.pack("<BHH", start + _STORED_BLOCK >= len(raw), len(piece), 0xFFFF ^ len(piece)), piece]
    body.append(struct.pack(">I", zlib.adler32(raw)))
    crc = zlib.crc32(b"IDAT")
    for part in body:
        crc = zlib.crc32(part, crc)
    size = sum(len(part) for part in body)
    at = chunks.index(None)
    return b"".join([_PNG_SIGNATURE, *chunks[:at], struct.pack(">I", size), b"IDAT", *body,  # type: ignore[list-item]
                     struct.pack(">I", crc), *chunks[at + 1:]])


def _refuse_bomb_warnings(caught: list[warnings.WarningMessage], name: str) -> None:
    if any(issubclass(w.category, Image.DecompressionBombWarning) for w in caught):
        raise ImageError(name, "too many pixels (a possible decompression bomb)")


def _to_srgb(im: Image.Image, name: str) -> Image.Image:
    """Convert pixels to sRGB when an embedded profile says they are not.

    Dropping a non-sRGB profile without converting would silently change the
    colours experts see, so failure to convert is a refusal, not a shrug.
    """
    icc = im.info.get("icc_profile")
    if not icc:
        return im
    if ImageCms is None:
        raise ImageError(
            name, "has a colour profile but colour management (LittleCMS) is not available"
        )
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        description = (ImageCms.getProfileDescription(profile) or "").strip()
        space = profile.profile.xcolor_space.strip()
    except Exception as exc:  # noqa: BLE001 - untrusted profile bytes
        raise ImageError(name, f"has an unreadable colour profile ({_describe(exc)})") from None
    # Every sRGB variant (IEC 61966-2.1, "sRGB built-in", ...) names itself so;
    # converting between them would only add rounding noise to exact pixels.
    if "srgb" in description.lower():
        return im

    base, alpha = _split_alpha(im, name)
    wanted = {"RGB": "RGB", "GRAY": "L", "CMYK": "CMYK", "Lab": "LAB"}.get(space)
    if base.mode == "L" and wanted == "RGB":
        base = base.convert("RGB")
    if base.mode != wanted:
        raise ImageError(
            name,
            f"its colour profile {description!r} is for {space or 'unknown'} "
            f"data but the image is {im.mode}",
        )
    try:
        converted = ImageCms.profileToProfile(
            base, profile, ImageCms.createProfile("sRGB"), outputMode="RGB"
        )
    except Exception as exc:  # noqa: BLE001 - LittleCMS rejects many odd profiles
        raise ImageError(
            name,
            f"cannot convert its colour profile {description!r} to sRGB ({_describe(exc)})",
        ) from None
    assert converted is not None  # inPlace=False always returns an image
    if alpha is not None:
        converted.putalpha(alpha)
    return converted


def _to_rgb_or_rgba(im: Image.Image, name: str) -> Image.Image:
    """8-bit RGB, or RGBA when some pixel is not fully opaque."""
    if im.mode == "RGB" and not im.has_transparency_data:
        return im
    if im.mode == "RGBA":
        return im if im.getchannel("A").getextrema()[0] < 255 else im.convert("RGB")
    base, alpha = _split_alpha(im, name)
    if alpha is not None and alpha.getextrema()[0] == 255:
        alpha = None  # opaque: the alpha band carries nothing an expert sees
    if base.mode == "LAB":
        rgb = _lab_to_srgb(base, name)
    else:
        rgb = base if base.mode == "RGB" else base.convert("RGB")
    if alpha is not None:
        rgb.putalpha(alpha)
    return rgb


def _lab_to_srgb(im: Image.Image, name: str) -> Image.Image:
    """CIELAB pixels (a TIFF option) as sRGB; Pillow alone cannot convert them."""
    if ImageCms is None:
        raise ImageError(name, "LAB colour needs colour management (LittleCMS), not available")
    try:
        lab, srgb = ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB")
        converted = ImageCms.profileToProfile(im, lab, srgb, outputMode="RGB")
    except Exception as exc:  # noqa: BLE001 - LittleCMS failures
        raise ImageError(name, f"cannot convert LAB colour to sRGB ({_describe(exc)})") from None
    assert converted is not None
    return converted


_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def _split_alpha(im: Image.Image, name: str) -> tuple[Image.Image, Image.Image | None]:
    """The colour part as 8-bit L, RGB, CMYK or LAB, and the alpha band if any."""
    if im.mode in _SIXTEEN_BIT or im.mode == "F":
        return _exact_eight_bit_grey(im, name), None
    try:
        if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or im.has_transparency_data:
            rgba = im.convert("RGBA")  # also applies a palette or tRNS colour key
            colour = im.convert("L") if im.mode in ("L", "LA", "La") else rgba.convert("RGB")
            return colour, rgba.getchannel("A")
        if im.mode in ("L", "RGB", "CMYK", "LAB"):
            return im, None
        if im.mode == "1":
            return im.convert("L"), None
        return im.convert("RGB"), None
    except Exception as exc:  # noqa: BLE001 - e.g. LAB has no plain conversion
        raise ImageError(name, f"unsupported colour mode {im.mode} ({_describe(exc)})") from None


def _exact_eight_bit_grey(im: Image.Image, name: str) -> Image.Image:
    """Deep grey (16-bit, 32-bit or float) as 8-bit, when that loses nothing.

    An 8-bit image saved at 16 bits has every sample a multiple of 257
    (0x0101); such a file converts exactly. Anything finer is refused: the
    rounding would be ours, not the model's. (Pillow's own conversion clips
    16-bit grey to 0..255, turning most of an image white.)
    """
    values = np.asarray(im)
    if im.mode == "F":  # float samples: exact only when whole numbers 0..255
        if np.all(np.isfinite(values)) and np.all(values == np.rint(values)) \
                and values.min(initial=0) >= 0 and values.max(initial=0) <= 255:
            return Image.fromarray(values.astype(np.uint8))
    else:
        grey = values.astype(np.int64)
        if grey.min(initial=0) >= 0 and grey.max(initial=0) <= 65535 and not np.any(grey % 257):
            return Image.fromarray((grey // 257).astype(np.uint8))
    raise ImageError(name, f"has {im.mode} grey samples finer than 8 bits; images are stored at "
                           "8 bits and converting would round the model's pixels: export 8-bit")


def _encode_png(im: Image.Image) -> bytes:
    """8-bit RGB or RGBA pixels as a minimal PNG (see ``_PNG_FILTER_UP``)."""
    {"RGB": 2, "RGBA": 6}[im.mode]  # KeyError for any other mode
    return encode_pixels(np.asarray(im, dtype=np.uint8))


def encode_pixels(pixels: np.ndarray) -> bytes:
    """An ``H x W x 3`` (RGB) or ``H x W x 4`` (RGBA) uint8 array as a minimal PNG.

    The store's own encoder (see ``_PNG_FILTER_UP``), also used for zoom tiles:
    lossless, deterministic, several times faster than Pillow's.
    """
    colour_type = {3: 2, 4: 6}[pixels.shape[2]]
    height, width = pixels.shape[0], pixels.shape[1]
    rows = np.empty((height, 1 + pixels.shape[1] * pixels.shape[2]), dtype=np.uint8)
    rows[:, 0] = _PNG_FILTER_UP
    flat = pixels.reshape(height, -1)
    rows[0, 1:] = flat[0]
    # "Up": each byte minus the byte above it, modulo 256 (uint8 wraps).
    np.subtract(flat[1:], flat[:-1], out=rows[1:, 1:])
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"".join((_PNG_SIGNATURE, _chunk(b"IHDR", header),
                     _chunk(b"IDAT", isal_zlib.compress(rows.data, _DEFLATE_LEVEL)), _chunk(b"IEND", b"")))


def _chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(body, zlib.crc32(kind))
    return b"".join((struct.pack(">I", len(body)), kind, body, struct.pack(">I", crc)))


def _variant(im: Image.Image, longest: int, full_png: bytes) -> bytes:
    """The image scaled (LANCZOS) to fit ``longest``, or the full PNG if it fits."""
    if max(im.size) <= longest:
        return full_png
    scale = longest / max(im.size)
    size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
    # reducing_gap shrinks by whole factors first: many times faster on large
    # images and visually indistinguishable at display sizes.
    return _encode_png(im.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0))


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return _one_line(text)[:200]


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
