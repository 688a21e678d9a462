"""Nothing an expert can read tells models apart beyond the pixels (#12 item 2).

Each model here delivers its outputs in its own way (format, colour mode, bit
depth, size, metadata), as real systems do. After seeding with
``resample_outputs``, an expert fetching pairs, the judge page and every image
URL must see the same shapes, headers and PNG structure for every model:
only pixel values (and the byte counts that follow from them) may differ.
"""

from __future__ import annotations

import io
import json
import re
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, PngImagePlugin

SOURCE_SIZE = (64, 48)
SECRET = "RetouchBot-7"


def _picture(seed: int, size: tuple[int, int]) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)  # smooth: resamples well
    return Image.fromarray(base).resize(size, Image.Resampling.BILINEAR)


def _encode(im: Image.Image, fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **options)
    return out.getvalue()


def _outputs(seed: int) -> dict[str, tuple[str, bytes]]:
    """model -> (file name, bytes): every model with its own habits."""
    w, h = SOURCE_SIZE
    exif = Image.Exif()
    exif[0x0131] = SECRET  # Software
    text = PngImagePlugin.PngInfo()
    text.add_text("Software", SECRET)
    grey16 = (np.asarray(_picture(seed + 4, SOURCE_SIZE).convert("L")).astype(np.uint16) * 257)
    return {
        # opaque RGBA with text chunks, a pHYs and an EXIF block
        "rgba-tool": ("a.png", _encode(_picture(seed + 1, SOURCE_SIZE).convert("RGBA"), "PNG",
                                       pnginfo=text, dpi=(300, 300), exif=exif.tobytes())),
        # JPEG at twice the size, with EXIF
        "jpeg-tool": ("b.jpg", _encode(_picture(seed + 2, (2 * w, 2 * h)), "JPEG", quality=90,
                                       exif=exif.tobytes())),
        # palette PNG at half the size
        "palette-tool": ("c.png", _encode(_picture(seed + 3, (w // 2, h // 2)).convert("P"), "PNG")),
        # 16-bit grey (an 8-bit image saved at 16 bits)
        "grey16-tool": ("d.png", _encode(Image.fromarray(grey16), "PNG")),
        # TIFF with a software tag
        "tiff-tool": ("e.tif", _encode(_picture(seed + 5, SOURCE_SIZE), "TIFF",
                                       tiffinfo={305: SECRET})),
        # lossless WebP with an ICC sRGB profile-free header
        "webp-tool": ("f.webp", _encode(_picture(seed + 6, SOURCE_SIZE), "WEBP", lossless=True)),
    }


def _write_manifest(root: Path, items: int, resample: bool) -> Path:
    entries = []
    for k in range(items):
        folder = root / f"item-{k}"
        folder.mkdir(parents=True)
        (folder / "source.png").write_bytes(_encode(_picture(100 + k, SOURCE_SIZE), "PNG"))
        outputs = {}
        for model, (name, data) in _outputs(10 * k).items():
            (folder / name).write_bytes(data)
            outputs[model] = f"item-{k}/{name}"
        entries.append({"id": f"item-{k}", "category": "apparel", "instruction": "brighten it",
                        "source": f"item-{k}/source.png", "outputs": outputs})
    path = root / "manifest.json"
    path.write_text(json.dumps({"pool": "identity", "settings": {"resample_outputs": resample,
                                                                 "rationale_min_chars": 1,
                                                                 # gold pairs have their own
                                                                 # indistinguishability test
                                                                 "gold_share": 0, "overlap_share": 0},
                                "items": entries}))
    return path


def png_structure(data: bytes) -> dict[str, Any]:
    """Everything about a PNG file except its pixel values."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks: list[tuple[bytes, bytes]] = []
    at = 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at:at + 4])
        chunks.append((data[at + 4:at + 8], data[at + 8:at + 8 + length]))
        at += 12 + length
    kinds = [kind for kind, _ in chunks]
    idat = [body for kind, body in chunks if kind == b"IDAT"]
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    raw = zlib.decompress(b"".join(idat))
    row = len(raw) // height
    return {
        "chunks": sorted(set(kinds)), "first": kinds[0], "last": kinds[-1],
        "size": (width, height), "depth": depth, "colour": colour,
        "methods": (compression, filtering, interlace),
        "zlib_header": b"".join(idat)[:2],  # names the compression level
        "idat_lengths_but_last": sorted({len(body) for body in idat[:-1]}),
        "row_bytes": row,
    }


def _expert_sees(client: Any, headers: dict[str, str], pool: str) -> list[dict[str, Any]]:
    """Every assignment the expert gets until the pool is exhausted."""
    seen = []
    while True:
        response = client.post(f"/api/v1/pools/{pool}/assignments", headers=headers)
        if response.status_code == 204:
            return seen
        assert response.status_code == 201, response.get_data(as_text=True)
        body = response.json
        seen.append(body)
        done = client.post(body["submit_url"], headers=headers,
                           json={"choice": "tie", "rationale": "same"})
        assert done.status_code == 201


def _model_of(app: Any, sha: str) -> str:
    """Which model an image URL belongs to (what the expert must not learn)."""
    from sqlalchemy import select

    from pairwise.db import get_db
    from pairwise.schema import Image as ImageRow
    from pairwise.schema import Model, Output

    with app.app_context():
        names = set(get_db().scalars(select(Model.name).join(Output, Output.model_id == Model.id)
                                     .join(ImageRow, ImageRow.id == Output.image_id)
                                     .where(ImageRow.sha256 == sha)))
    assert len(names) == 1
    return names.pop()


def test_nothing_but_pixels_tells_models_apart(runner, client, app, make_user, token_for,
                                               tmp_path) -> None:
    result = runner.invoke(args=["pools", "seed", str(_write_manifest(tmp_path, 2, resample=True))])
    assert result.exit_code == 0, result.output
    expert = make_user("expert")
    headers = token_for(expert)
    assignments = _expert_sees(client, headers, "identity")
    assert len(assignments) == 2 * 15  # every pair of six models, two items

    # JSON: the same keys and shapes on both sides, the source's dimensions,
    # URLs that are nothing but a content hash.
    url = re.compile(r"^/images/[0-9a-f]{64}\.png$")
    # a display size that would hold the very bytes of the full image is the full URL itself
    preview = re.compile(r"^/images/[0-9a-f]{64}(/preview)?\.png$")
    per_model: dict[str, list[dict[str, Any]]] = {}
    shapes = set()
    for body in assignments:
        shapes.add(json.dumps({k: sorted(v) if isinstance(v, dict) else type(v).__name__
                               for k, v in body.items()}, sort_keys=True))
        for side in ("left", "right"):
            image = body[side]
            assert sorted(image) == sorted(body["source"])
            assert (image["width"], image["height"]) == SOURCE_SIZE
            assert url.match(image["url"]) and preview.match(image["preview_url"])
            sha = image["url"][len("/images/"):-len(".png")]
            per_model.setdefault(_model_of(app, sha), []).append(image)
    assert len(shapes) == 1
    assert len(per_model) == 6

    # Images: the same headers (bar the content's own ETag and length) and
    # the same PNG structure for every model, at every display size.
    def fetch(path: str) -> tuple[dict[str, str], bytes]:
        response = client.get(path, headers=headers)
        if response.status_code == 308:  # a display size holding the full image's bytes: its one URL
            response.close()
            response = client.get(response.headers["Location"], headers=headers)
        data = response.data
        response.close()
        assert response.status_code == 200
        got = {k.lower(): v for k, v in response.headers.items()}
        assert "last-modified" not in got
        assert SECRET.encode() not in data
        return got, data

    for suffix in ("", "/preview", "/thumb"):
        header_sets, structures = set(), set()
        for images in per_model.values():
            for image in images:
                path = image["url"] if not suffix else image["url"][:-len(".png")] + suffix + ".png"
                got, data = fetch(path)
                sha = image["url"][len("/images/"):-len(".png")]
                # The content's own address and length may differ, and the clock.
                header_sets.add(json.dumps({k: v.replace(sha, "<sha256>") for k, v in got.items()
                                            if k not in ("etag", "content-length", "date")},
                                           sort_keys=True))
                structures.add(json.dumps(png_structure(data), sort_keys=True, default=repr))
        assert len(header_sets) == 1, header_sets
        assert len(structures) == 1, structures

    # The judge page is one shell whatever the pair.
    pages = {client.get("/pools/identity/judge", headers=headers).get_data(as_text=True)
             for _ in range(2)}
    assert len({re.sub(r'content="[^"]*"', "", p) for p in pages}) == 1
    assert all(name not in "".join(pages) for name in per_model)


def test_without_resampling_sizes_are_only_what_the_pixels_show(runner, client, app, make_user,
                                                                 token_for, tmp_path) -> None:
    result = runner.invoke(args=["pools", "seed", str(_write_manifest(tmp_path, 1, resample=False))])
    assert result.exit_code == 0, result.output
    headers = token_for(make_user("expert"))
    sizes = set()
    for body in _expert_sees(client, headers, "identity"):
        for side in ("left", "right"):
            response = client.get(body[side]["url"], headers=headers)
            data = response.data
            response.close()
            with Image.open(io.BytesIO(data)) as im:
                # The JSON says no more than the pixels: the decoded size.
                assert (body[side]["width"], body[side]["height"]) == im.size
                sizes.add(im.size)
            assert png_structure(data)["colour"] == 2
    assert sizes == {SOURCE_SIZE, (128, 96), (32, 24)}


def test_resample_option_on_the_cli_is_the_pool_setting(runner, client, app, tmp_path) -> None:
    path = _write_manifest(tmp_path, 1, resample=False)
    result = runner.invoke(args=["pools", "seed", str(path), "--resample-outputs"])
    assert result.exit_code == 0, result.output
    from pairwise import pools
    from pairwise.db import get_db
    with app.app_context():
        assert pools.get_pool(get_db(), "identity").resample_outputs is True


def test_an_output_of_another_aspect_ratio_is_refused_by_name(runner, tmp_path, table_counts) -> None:
    path = _write_manifest(tmp_path, 1, resample=True)
    (tmp_path / "item-0" / "c.png").write_bytes(_encode(_picture(1, (40, 40)), "PNG"))
    before = table_counts()
    result = runner.invoke(args=["pools", "seed", str(path)])
    assert result.exit_code == 1
    assert "c.png" in result.output and "aspect ratios differ" in result.output
    assert len(result.output.strip().splitlines()[-1]) > 0
    assert table_counts() == before
