from __future__ import annotations

import hashlib
import io
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image, ImageCms, PngImagePlugin

from pairwise import imaging
from pairwise.imaging import DISPLAY_SIZES, ImageError, NormalisedImage, make_variant, normalise

MODEL_NAME = "SuperRetouch-9000"


# --- helpers -----------------------------------------------------------------


def noise(width: int, height: int, mode: str = "RGB", seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    bands = len(mode)
    shape = (height, width, bands) if bands > 1 else (height, width)
    return Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode)


def encode(im: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **options)
    return out.getvalue()


def pixels(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as im:
        assert im.format == "PNG"
        return np.asarray(im)


def decoded(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims ``width`` x ``height`` but holds one tiny IDAT."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def s15f16(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def rgb_icc_profile(description: str) -> bytes:
    """A minimal ICC v2 matrix/TRC profile with Adobe RGB (1998) colorants."""
    desc_ascii = description.encode("ascii") + b"\0"
    desc = (
        b"desc\0\0\0\0"
        + struct.pack(">I", len(desc_ascii))
        + desc_ascii
        + b"\0" * 8  # no Unicode description
        + b"\0" * 3
        + b"\0" * 67  # no ScriptCode description
    )

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ \0\0\0\0" + s15f16(x) + s15f16(y) + s15f16(z)

    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, 563) + b"\0\0"  # gamma 2.2
    tags = [
        (b"desc", desc),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.6097, 0.3111, 0.0195)),
        (b"gXYZ", xyz(0.2053, 0.6257, 0.0609)),
        (b"bXYZ", xyz(0.1492, 0.0632, 0.7446)),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
        (b"cprt", b"text\0\0\0\0no copyright\0"),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags:
        data += b"\0" * (-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = (
        struct.pack(">I", size)
        + b"none"
        + bytes([2, 0x10, 0, 0])
        + b"mntrRGB XYZ "
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
        + b"acsp"
        + b"\0" * 24
        + struct.pack(">I", 0)
        + s15f16(0.9642)
        + s15f16(1.0)
        + s15f16(0.8249)
        + b"\0" * 48
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


def assert_one_line(error: ImageError, name: str) -> None:
    text = str(error)
    assert "\n" not in text
    assert text.startswith(f"{name}: ")
    assert len(text) > len(name) + 5


# --- accepted images ---------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "options"),
    [
        ("PNG", {}),
        ("WEBP", {"lossless": True}),
        ("TIFF", {}),
        ("TIFF", {"compression": "tiff_lzw"}),
        ("BMP", {}),
    ],
)
def test_lossless_formats_keep_pixels_exactly(fmt: str, options: dict[str, object]) -> None:
    source = noise(64, 48)
    result = normalise(encode(source, fmt, **options), name="upload")
    assert isinstance(result, NormalisedImage)
    assert (result.width, result.height) == (64, 48)
    assert np.array_equal(pixels(result.png), np.asarray(source))


def test_jpeg_becomes_png_with_the_jpegs_decoded_pixels() -> None:
    data = encode(noise(120, 80), "JPEG", quality=35)
    result = normalise(data, name="a.jpg")
    assert result.png.startswith(b"\x89PNG")
    # The artefacts of quality 35 are kept, not smoothed or compressed twice.
    assert np.array_equal(pixels(result.png), decoded(data))


def test_lossy_webp_keeps_its_decoded_pixels() -> None:
    data = encode(noise(64, 64), "WEBP", quality=20)
    assert np.array_equal(pixels(normalise(data, name="w").png), decoded(data))


def test_single_frame_gif_is_accepted() -> None:
    data = encode(noise(32, 32).convert("P"), "GIF")
    assert np.array_equal(pixels(normalise(data, name="g").png), decoded(data))


def test_sha256_is_of_the_png_and_output_is_deterministic() -> None:
    data = encode(noise(300, 200), "JPEG", quality=80)
    first, second = normalise(data, name="a"), normalise(data, name="b")
    assert first.png == second.png
    assert first.sha256 == second.sha256 == hashlib.sha256(first.png).hexdigest()


def test_same_pixels_in_different_containers_get_the_same_address() -> None:
    source = noise(50, 40)
    addresses = {
        normalise(encode(source, fmt), name=fmt).sha256 for fmt in ("PNG", "BMP", "TIFF")
    }
    assert len(addresses) == 1


# --- metadata ----------------------------------------------------------------


def test_exif_software_and_model_tags_are_dropped_from_jpeg() -> None:
    exif = Image.Exif()
    exif[0x0131] = MODEL_NAME  # Software
    exif[0x0110] = MODEL_NAME + "-camera"  # Model
    exif[0x010E] = f"retouched by {MODEL_NAME}"  # ImageDescription
    xmp = f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description tool="{MODEL_NAME}"/></x:xmpmeta>'
    data = encode(
        noise(64, 64),
        "JPEG",
        exif=exif.tobytes(),
        comment=MODEL_NAME.encode(),
        xmp=xmp.encode(),
    )
    assert MODEL_NAME.encode() in data
    result = normalise(data, name="a.jpg")
    assert MODEL_NAME.encode() not in result.png
    assert b"eXIf" not in result.png and b"Exif" not in result.png
    for variant in DISPLAY_SIZES:
        assert MODEL_NAME.encode() not in make_variant(result.png, variant)


def test_png_text_chunks_and_exif_are_dropped() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", MODEL_NAME)
    info.add_text("parameters", f"model: {MODEL_NAME}", zip=True)
    info.add_itxt("Comment", f"made with {MODEL_NAME}")
    exif = Image.Exif()
    exif[0x0131] = MODEL_NAME
    data = encode(noise(64, 64, "RGBA"), "PNG", pnginfo=info, exif=exif.tobytes(), dpi=(300, 300))
    assert MODEL_NAME.encode() in data
    result = normalise(data, name="a.png")
    assert MODEL_NAME.encode() not in result.png
    for chunk in (b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"pHYs", b"iCCP"):
        assert chunk not in result.png
    with Image.open(io.BytesIO(result.png)) as im:
        assert im.mode == "RGBA"
        assert not im.text
        assert not im.getexif()


def test_tiff_software_tag_is_dropped() -> None:
    data = encode(noise(40, 30), "TIFF", tiffinfo={305: MODEL_NAME})
    assert MODEL_NAME.encode() in data
    assert MODEL_NAME.encode() not in normalise(data, name="a.tif").png


def test_exif_orientation_is_applied_then_dropped() -> None:
    # A wide image, marked "rotate 90 degrees clockwise to display" (6).
    source = Image.new("RGB", (40, 20), (0, 0, 255))
    source.putpixel((0, 0), (255, 0, 0))  # top-left marker
    exif = Image.Exif()
    exif[0x0112] = 6
    result = normalise(encode(source, "PNG", exif=exif.tobytes()), name="phone.png")
    assert (result.width, result.height) == (20, 40)
    upright = pixels(result.png)
    # Rotating clockwise carries the top-left corner to the top-right.
    assert tuple(upright[0, -1]) == (255, 0, 0)
    assert tuple(upright[0, 0]) == (0, 0, 255)
    with Image.open(io.BytesIO(result.png)) as im:
        assert 0x0112 not in im.getexif()


def test_srgb_profile_is_dropped_without_touching_pixels() -> None:
    source = noise(32, 32)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    result = normalise(encode(source, "PNG", icc_profile=srgb), name="srgb.png")
    assert np.array_equal(pixels(result.png), np.asarray(source))
    assert b"iCCP" not in result.png


def test_other_profile_is_converted_to_srgb() -> None:
    adobe = rgb_icc_profile("Adobe RGB (1998) test")
    source = Image.new("RGB", (8, 8), (40, 180, 60))
    result = normalise(encode(source, "PNG", icc_profile=adobe), name="wide.png")
    expected = ImageCms.profileToProfile(
        source,
        ImageCms.ImageCmsProfile(io.BytesIO(adobe)),
        ImageCms.createProfile("sRGB"),
        outputMode="RGB",
    )
    out = pixels(result.png)
    assert np.array_equal(out, np.asarray(expected))
    # A wide-gamut green is more saturated once expressed in sRGB.
    assert out[0, 0, 1] - out[0, 0, 0] > 180 - 40
    assert b"iCCP" not in result.png
    assert b"Adobe" not in result.png


def test_other_profile_keeps_alpha() -> None:
    source = noise(16, 16, "RGBA")
    data = encode(source, "PNG", icc_profile=rgb_icc_profile("Wide"))
    out = pixels(normalise(data, name="a.png").png)
    assert out.shape == (16, 16, 4)
    assert np.array_equal(out[..., 3], np.asarray(source)[..., 3])


def test_profile_without_colour_management_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    data = encode(noise(8, 8), "PNG", icc_profile=rgb_icc_profile("Wide"))
    monkeypatch.setattr(imaging, "ImageCms", None)  # as when Pillow lacks LittleCMS
    with pytest.raises(ImageError, match="colour management") as info:
        normalise(data, name="wide.png")
    assert_one_line(info.value, "wide.png")


def test_unreadable_profile_is_refused() -> None:
    data = encode(noise(8, 8), "JPEG", icc_profile=b"not an icc profile at all" * 8)
    with pytest.raises(ImageError, match="colour profile") as info:
        normalise(data, name="bad-icc.jpg")
    assert_one_line(info.value, "bad-icc.jpg")


# --- modes -------------------------------------------------------------------


def test_rgba_is_kept() -> None:
    source = noise(20, 10, "RGBA")
    out = pixels(normalise(encode(source, "PNG"), name="a").png)
    assert np.array_equal(out, np.asarray(source))


@pytest.mark.parametrize("mode", ["L", "1", "CMYK", "P"])
def test_opaque_modes_become_rgb(mode: str) -> None:
    source = noise(20, 10).convert(mode)
    fmt = "TIFF" if mode == "CMYK" else "PNG"
    result = normalise(encode(source, fmt), name="a")
    out = pixels(result.png)
    assert out.shape == (10, 20, 3)
    assert np.array_equal(out, np.asarray(source.convert("RGB")))


def test_grey_with_alpha_becomes_rgba() -> None:
    source = noise(20, 10, "LA")
    out = pixels(normalise(encode(source, "PNG"), name="a").png)
    assert out.shape == (10, 20, 4)
    assert np.array_equal(out, np.asarray(source.convert("RGBA")))


def test_palette_with_transparency_becomes_rgba() -> None:
    source = Image.new("P", (4, 4), 1)
    source.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    source.putpixel((0, 0), 0)
    data = encode(source, "PNG", transparency=0)
    out = pixels(normalise(data, name="a").png)
    assert out.shape == (4, 4, 4)
    assert out[0, 0, 3] == 0 and tuple(out[1, 1]) == (255, 0, 0, 255)


def test_sixteen_bit_grey_is_scaled_not_clipped() -> None:
    grey = np.array([[0, 257 * 100, 65535]], dtype=np.uint16)
    out = pixels(normalise(encode(Image.fromarray(grey), "PNG"), name="a").png)
    assert out.shape == (1, 3, 3)
    assert list(out[0, :, 0]) == [0, 100, 255]


# --- display sizes -----------------------------------------------------------


def test_variants_fit_the_longest_side() -> None:
    result = normalise(encode(noise(2000, 1000), "PNG"), name="big")
    for variant, longest in DISPLAY_SIZES.items():
        blob = make_variant(result.png, variant)
        assert blob == make_variant(result.png, variant)  # deterministic: one address, one file
        with Image.open(io.BytesIO(blob)) as im:
            assert im.format == "PNG"
            assert im.size == (longest, longest // 2)


def test_portrait_variants() -> None:
    result = normalise(encode(noise(300, 900), "PNG"), name="tall")
    with Image.open(io.BytesIO(make_variant(result.png, "thumb"))) as im:
        assert im.size == (85, 256)
    assert make_variant(result.png, "preview") == result.png  # already small enough


def test_small_image_variants_are_the_full_png() -> None:
    result = normalise(encode(noise(200, 100), "PNG"), name="small")
    assert all(make_variant(result.png, v) == result.png for v in DISPLAY_SIZES)


# --- refusals ----------------------------------------------------------------


def test_empty_data_is_refused() -> None:
    with pytest.raises(ImageError, match="empty") as info:
        normalise(b"", name="source")
    assert_one_line(info.value, "source")


@pytest.mark.parametrize(
    "data",
    [b"hello, this is text", b"%PDF-1.4\n" + b"0" * 200, b"\x89PNG\r\n\x1a\n" + b"\0" * 40],
)
def test_non_images_are_refused(data: bytes) -> None:
    with pytest.raises(ImageError) as info:
        normalise(data, name="outputs[model-a]")
    assert_one_line(info.value, "outputs[model-a]")


def test_eps_is_not_handed_to_ghostscript() -> None:
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    with pytest.raises(ImageError, match="not a recognised image"):
        normalise(eps, name="x.eps")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "TIFF", "BMP"])
@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9, 0.999])
def test_truncated_files_are_refused(fmt: str, keep: float) -> None:
    data = encode(noise(200, 150), fmt)
    with pytest.raises(ImageError) as info:
        normalise(data[: int(len(data) * keep)], name="cut")
    assert_one_line(info.value, "cut")


def test_png_missing_its_end_is_refused() -> None:
    # All pixel data present, IEND (and the zlib checksum) cut off: Pillow
    # alone would accept it.
    data = encode(noise(100, 100), "PNG")
    with pytest.raises(ImageError, match="truncated or corrupt"):
        normalise(data[:-16], name="cut.png")


def test_png_with_a_bad_checksum_is_refused() -> None:
    data = bytearray(encode(noise(100, 100), "PNG"))
    data[-20] ^= 0xFF  # inside the last IDAT chunk
    with pytest.raises(ImageError, match="truncated or corrupt"):
        normalise(bytes(data), name="flipped.png")


def test_truncation_is_not_tolerated_by_a_global_flag() -> None:
    from PIL import ImageFile

    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    with pytest.raises(ImageError):
        normalise(encode(noise(100, 100), "JPEG")[:-200], name="cut.jpg")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_too_many_bytes_is_refused() -> None:
    data = encode(noise(64, 64), "PNG")
    with pytest.raises(ImageError, match="limit") as info:
        normalise(data, name="huge.png", max_bytes=len(data) - 1)
    assert_one_line(info.value, "huge.png")
    normalise(data, name="huge.png", max_bytes=len(data))


def test_too_many_pixels_is_refused_before_decoding() -> None:
    bomb = png_header_only(30_000, 30_000)  # 900 Mpx claimed in 60 bytes
    start = time.perf_counter()
    with pytest.raises(ImageError, match="too many pixels") as info:
        normalise(bomb, name="bomb.png")
    assert time.perf_counter() - start < 0.5
    assert_one_line(info.value, "bomb.png")


def test_max_pixels_is_the_callers_limit() -> None:
    data = encode(noise(100, 100), "PNG")
    with pytest.raises(ImageError, match="10,000"):
        normalise(data, name="a", max_pixels=9_999)
    assert normalise(data, name="a", max_pixels=10_000).width == 100


@pytest.mark.parametrize("side", [10_000, 14_000])  # Pillow's warning, then its error
def test_pillows_own_bomb_guard_becomes_an_image_error(side: int) -> None:
    # With the caller's limit raised beyond Pillow's, Pillow's guard fires:
    # neither its DecompressionBombWarning (an error under this suite's
    # filterwarnings) nor its DecompressionBombError may escape.
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageError, match="too many pixels"):
        normalise(png_header_only(side, side), name="bomb.png", max_pixels=10**12)
    assert Image.MAX_IMAGE_PIXELS == before


def test_zero_size_is_refused() -> None:
    with pytest.raises(ImageError) as info:
        normalise(png_header_only(0, 10), name="empty.png")
    assert_one_line(info.value, "empty.png")


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (10, 10), (i * 80, 0, 0)) for i in range(3)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)


def animated_png() -> bytes:
    frames = [Image.new("RGB", (10, 10), (i * 80, 0, 0)) for i in range(3)]
    return encode(frames[0], "PNG", save_all=True, append_images=frames[1:])


def animated_webp() -> bytes:
    frames = [Image.new("RGB", (10, 10), (i * 80, 0, 0)) for i in range(3)]
    return encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True)


def multipage_tiff() -> bytes:
    frames = [Image.new("RGB", (10, 10), (i * 80, 0, 0)) for i in range(2)]
    return encode(frames[0], "TIFF", save_all=True, append_images=frames[1:])


@pytest.mark.parametrize("make", [animated_gif, animated_png, animated_webp, multipage_tiff])
def test_animated_and_multipage_images_are_refused(make) -> None:
    with pytest.raises(ImageError, match="frames") as info:
        normalise(make(), name="anim")
    assert_one_line(info.value, "anim")


def test_name_with_newlines_stays_one_line() -> None:
    with pytest.raises(ImageError) as info:
        normalise(b"", name="evil\nname.png")
    assert "\n" not in str(info.value)


def test_camera_mpo_jpeg_is_read_as_its_first_picture() -> None:
    # Phones and cameras store depth maps or previews as extra MPO pictures;
    # that is not animation, and the first picture is the photo.
    first, extra = noise(40, 30, seed=1), noise(40, 30, seed=2)
    data = encode(first, "MPO", save_all=True, append_images=[extra])
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "MPO" and im.n_frames == 2
        expected = np.asarray(im.convert("RGB"))
    assert np.array_equal(pixels(normalise(data, name="cam.jpg").png), expected)


def test_lab_tiff_becomes_srgb() -> None:
    red = Image.new("RGB", (8, 8), (200, 30, 40))
    lab = ImageCms.profileToProfile(
        red, ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB"), outputMode="LAB"
    )
    assert lab is not None and lab.mode == "LAB"
    out = pixels(normalise(encode(lab, "TIFF"), name="lab.tif").png)
    assert out.shape == (8, 8, 3)
    assert np.abs(out[0, 0].astype(int) - (200, 30, 40)).max() <= 3


# --- one format for every stored image (#12: models must not be recognisable) --


def png_header(png: bytes) -> tuple[int, int]:
    """(bit depth, colour type) from a PNG's IHDR."""
    return png[24], png[25]


def test_opaque_rgba_is_stored_as_rgb() -> None:
    # A tool that always writes RGBA must not be told apart from one writing RGB.
    source = noise(20, 10)
    rgba = normalise(encode(source.convert("RGBA"), "PNG"), name="a.png")
    rgb = normalise(encode(source, "PNG"), name="b.png")
    assert png_header(rgba.png) == png_header(rgb.png) == (8, 2)
    assert rgba.png == rgb.png


def test_opaque_grey_alpha_and_palette_alpha_are_stored_as_rgb() -> None:
    source = noise(20, 10)
    la = normalise(encode(source.convert("LA"), "PNG"), name="la.png")
    assert png_header(la.png) == (8, 2)
    assert np.array_equal(pixels(la.png), np.asarray(source.convert("L").convert("RGB")))


def test_real_transparency_keeps_rgba() -> None:
    source = noise(20, 10, "RGBA")
    result = normalise(encode(source, "PNG"), name="a.png")
    assert png_header(result.png) == (8, 6)


def sixteen_bit_rgb_png(samples: list[int]) -> bytes:
    """A 1-pixel-high 16-bit RGB PNG, written by hand (Pillow cannot)."""
    raw = b"\0" + b"".join(struct.pack(">H", v) for v in samples)
    width = len(samples) // 3

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, 1, 16, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_sixteen_bit_colour_is_refused_not_rounded() -> None:
    # Pillow would keep only the high byte of each sample, silently.
    with pytest.raises(ImageError, match="16 bits per colour sample") as info:
        normalise(sixteen_bit_rgb_png([0x1234, 0x5678, 0x9ABC, 0, 0, 0]), name="deep.png")
    assert_one_line(info.value, "deep.png")


def test_sixteen_bit_grey_finer_than_eight_bits_is_refused() -> None:
    grey = np.array([[0, 1000, 65535]], dtype=np.uint16)
    with pytest.raises(ImageError, match="finer than 8 bits") as info:
        normalise(encode(Image.fromarray(grey), "PNG"), name="grey16.png")
    assert_one_line(info.value, "grey16.png")


def test_float_grey_is_accepted_only_when_exact() -> None:
    exact = Image.fromarray(np.array([[0.0, 17.0, 255.0]], dtype=np.float32))
    out = pixels(normalise(encode(exact, "TIFF"), name="f.tif").png)
    assert list(out[0, :, 0]) == [0, 17, 255]
    fine = Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32))
    with pytest.raises(ImageError, match="finer than 8 bits"):
        normalise(encode(fine, "TIFF"), name="f.tif")


def test_resampling_to_the_source_size() -> None:
    big = noise(64, 48)
    result = normalise(encode(big, "PNG"), name="big.png", size=(32, 24))
    assert (result.width, result.height) == (32, 24)
    assert pixels(result.png).shape == (24, 32, 3)
    same = normalise(encode(big, "PNG"), name="same.png", size=(64, 48))
    assert np.array_equal(pixels(same.png), np.asarray(big))  # already that size: untouched


def test_resampling_refuses_another_aspect_ratio() -> None:
    with pytest.raises(ImageError, match="aspect ratios differ") as info:
        normalise(encode(noise(64, 64), "PNG"), name="square.png", size=(64, 48))
    assert_one_line(info.value, "square.png")


# --- the fast PNG path (pixel stream inflated by ISA-L, Pillow unfilters) -------


def _png_kinds() -> list[tuple[str, bytes]]:
    grey16 = Image.fromarray((np.arange(64 * 48, dtype=np.uint16).reshape(48, 64) % 256) * 257)
    palette = noise(60, 40).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "model-x v2")
    return [
        ("rgb", encode(noise(120, 80), "PNG")),
        ("rgba", encode(noise(50, 70, "RGBA", seed=1), "PNG")),
        ("grey", encode(noise(33, 17, "L", seed=2), "PNG")),
        ("grey-alpha", encode(noise(20, 30, "LA", seed=3), "PNG")),
        ("palette", encode(palette, "PNG")),
        ("palette-transparent", encode(palette, "PNG", transparency=3)),
        ("one-bit", encode(noise(37, 9, "L", seed=4).convert("1"), "PNG")),
        ("grey-16", encode(grey16, "PNG")),
        ("text-and-profile", encode(noise(40, 40, seed=5), "PNG", pnginfo=info,
                                    icc_profile=rgb_icc_profile("wide"))),
        ("small-idat-chunks", _split_idat(encode(noise(90, 90, seed=6), "PNG", compress_level=9), 1000)),
        ("one-pixel", encode(noise(1, 1, seed=7), "PNG")),
    ]


def _split_idat(data: bytes, size: int) -> bytes:
    """The same PNG with its pixel stream cut into IDAT chunks of ``size`` bytes."""
    stream, rest, pos = b"", [], 8
    while pos < len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IDAT":
            stream += body
        else:
            rest.append((kind, body))
        pos += 12 + length
    idat = b"".join(png_chunk(b"IDAT", stream[k:k + size]) for k in range(0, len(stream), size))
    return data[:8] + b"".join(png_chunk(k, b) for k, b in rest[:-1]) + idat + png_chunk(*rest[-1])


@pytest.mark.parametrize(("kind", "data"), _png_kinds(), ids=[k for k, _ in _png_kinds()])
def test_the_fast_png_path_gives_the_same_image_as_pillow_alone(kind: str, data: bytes,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    assert imaging._with_stored_pixels(data, 10**8) is not None  # the fast path is taken ...
    fast = normalise(data, name=kind)
    monkeypatch.setattr(imaging, "_with_stored_pixels", lambda data, max_pixels: None)
    assert normalise(data, name=kind) == fast  # ... and changes nothing: same bytes, same address


def test_the_fast_png_path_steps_aside_for_what_it_does_not_handle() -> None:
    plain = encode(noise(64, 64), "PNG")
    assert imaging._with_stored_pixels(plain, 10**8) is not None
    interlaced = encode(noise(64, 64), "PNG")  # Pillow cannot write Adam7: set the flag, keep the stream
    ihdr = bytearray(interlaced[8:33])
    ihdr[-5] = 1  # interlace method (last IHDR byte before the CRC)
    ihdr[-4:] = struct.pack(">I", zlib.crc32(bytes(ihdr[4:-4])))
    assert imaging._with_stored_pixels(interlaced[:8] + bytes(ihdr) + interlaced[33:], 10**8) is None
    assert imaging._with_stored_pixels(plain, 64 * 64 - 1) is None  # over the pixel limit: refused later
    assert imaging._with_stored_pixels(plain[: len(plain) // 2], 10**8) is None  # truncated
    assert imaging._with_stored_pixels(png_header_only(500, 500), 10**8) is None  # stream shorter than the rows
    longer = png_header_only(1, 1)[:33] + png_chunk(b"IDAT", zlib.compress(b"\x00" * 40)) + png_chunk(b"IEND", b"")
    assert imaging._with_stored_pixels(longer, 10**8) is None  # stream longer than the rows
    garbage = bytearray(plain)
    garbage[60:80] = b"\xff" * 20  # inside the deflate stream
    assert imaging._with_stored_pixels(bytes(garbage), 10**8) is None
    assert imaging._with_stored_pixels(animated_png(), 10**8) is None


@pytest.mark.parametrize("case", ["bad-crc", "missing-end", "garbage-stream", "bomb-header"])
def test_the_fast_png_path_keeps_every_refusal(case: str) -> None:
    data = encode(noise(100, 100), "PNG")
    if case == "bad-crc":  # the stream inflates fine; only the chunk's checksum is wrong
        data = data[:-16] + bytes([data[-16] ^ 0xFF]) + data[-15:]
        assert imaging._with_stored_pixels(data, 10**8) is not None
    elif case == "missing-end":
        data = data[:-12]
    elif case == "garbage-stream":
        data = data[:60] + b"\x00" * 40 + data[100:]
    else:
        data = png_header_only(100_000, 100_000)
    with pytest.raises(ImageError) as info:
        normalise(data, name="case.png")
    assert_one_line(info.value, "case.png")
