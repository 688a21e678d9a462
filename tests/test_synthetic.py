from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image, ImageFilter

from pairwise.synthetic import CATEGORIES, MODELS, TRUE_QUALITY, make_instruction, make_source

INDICES = (0, 1, 2)


def luma(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=np.float64)


def high_frequency(image: Image.Image) -> float:
    """Mean squared Laplacian of the luminance: texture, grain and edge ringing."""
    y = luma(image)
    lap = 4 * y[1:-1, 1:-1] - y[:-2, 1:-1] - y[2:, 1:-1] - y[1:-1, :-2] - y[1:-1, 2:]
    return float(np.mean(lap**2))


def overshoot(image: Image.Image, reference: Image.Image) -> float:
    """How far pixels leave the range of their neighbourhood in ``reference``.

    Sharpening halos push pixels beside an edge darker than the dark side
    and brighter than the bright side; a good edit stays within.
    """
    grey = reference.convert("L")
    low = np.asarray(grey.filter(ImageFilter.MinFilter(3)), dtype=np.float64)
    high = np.asarray(grey.filter(ImageFilter.MaxFilter(3)), dtype=np.float64)
    y = luma(image)
    return float(np.mean(np.maximum(low - y, 0) + np.maximum(y - high, 0)))


def specks(image: Image.Image, *, frame: float | None = None) -> int:
    """Pixels far from their 3x3 median (dust, glints), optionally only in the
    outer ``frame`` share of the picture, where there is only backdrop."""
    grey = image.convert("L")
    y = np.asarray(grey, dtype=np.float64)
    far = np.abs(y - np.asarray(grey.filter(ImageFilter.MedianFilter(3)), dtype=np.float64)) > 25
    if frame is not None:
        height, width = far.shape
        border = int(min(height, width) * frame)
        far[border : height - border, border : width - border] = False
    return int(far.sum())


def channel_means(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float64).reshape(-1, 3).mean(axis=0)


@pytest.fixture(scope="module")
def outputs() -> dict[tuple[str, int], dict[str, Image.Image]]:
    result = {}
    for category in CATEGORIES:
        for index in INDICES:
            source = make_source(category, index)
            result[category, index] = {"source": source} | {
                name: model(source) for name, model in MODELS.items()
            }
    return result


# --- sources ------------------------------------------------------------------


@pytest.mark.parametrize("category", CATEGORIES)
def test_sources_are_deterministic(category: str) -> None:
    first = make_source(category, 7)
    assert first.tobytes() == make_source(category, 7).tobytes()
    assert first.tobytes() != make_source(category, 8).tobytes()


def test_categories_look_different() -> None:
    means = [channel_means(make_source(c, 0)) for c in CATEGORIES]
    for i in range(len(means)):
        for j in range(i + 1, len(means)):
            assert np.abs(means[i] - means[j]).max() > 10


@pytest.mark.parametrize("size", [(640, 480), (320, 200), (200, 300), (16, 16)])
def test_sizes(size: tuple[int, int]) -> None:
    for category in CATEGORIES:
        source = make_source(category, 3, size)
        assert source.size == size
        assert source.mode == "RGB"
        for model in MODELS.values():
            out = model(source)
            assert out.size == size and out.mode == "RGB"


def test_default_size() -> None:
    assert make_source("food", 0).size == (640, 480)


def test_sources_are_photo_like(outputs) -> None:
    for (category, index), images in outputs.items():
        source = images["source"]
        values = np.asarray(source)
        # Gradients, grain and texture: lots of distinct values, no flat fills.
        assert len(np.unique(values[..., 1])) > 100, (category, index)
        assert values.std() > 10
        assert specks(source) > 5  # dust for the clean-up to remove


def test_unknown_category_and_tiny_size_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown category 'cars'"):
        make_source("cars", 0)
    with pytest.raises(ValueError, match="too small"):
        make_source("food", 0, (8, 8))
    with pytest.raises(ValueError, match="unknown category"):
        make_instruction("cars", 0)


# --- instructions ---------------------------------------------------------------


@pytest.mark.parametrize("category", CATEGORIES)
def test_instructions(category: str) -> None:
    texts = [make_instruction(category, i) for i in range(16)]
    assert texts == [make_instruction(category, i) for i in range(16)]
    assert len(set(texts)) == 16
    for text in texts:
        assert 20 < len(text) < 160
        assert "\n" not in text
        assert "keep" in text or "do not" in text


# --- models ---------------------------------------------------------------------


def test_model_names_and_quality() -> None:
    assert set(MODELS) == {"careful", "halo-sharpen", "posterize", "colour-cast", "over-smooth"}
    assert set(TRUE_QUALITY) == set(MODELS)
    assert max(TRUE_QUALITY, key=TRUE_QUALITY.__getitem__) == "careful"
    assert abs(sum(TRUE_QUALITY.values())) < 1e-9  # centred, like leaderboard scores


def test_models_are_deterministic() -> None:
    source = make_source("jewelry", 4)
    for model in MODELS.values():
        assert model(source).tobytes() == model(source.copy()).tobytes()


def test_every_output_differs_from_the_source_and_the_others(outputs) -> None:
    for key, images in outputs.items():
        arrays = {name: np.asarray(image, dtype=np.int16) for name, image in images.items()}
        names = list(arrays)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                difference = np.abs(arrays[a] - arrays[b]).mean()
                assert difference > 0.5, (key, a, b, difference)


def test_careful_lifts_cleans_and_keeps_texture(outputs) -> None:
    for key, images in outputs.items():
        source, careful = images["source"], images["careful"]
        assert luma(careful).mean() > luma(source).mean() + 3, key
        assert specks(careful, frame=0.12) <= specks(source, frame=0.12), key
        ratio = high_frequency(careful) / high_frequency(source)
        assert 0.4 < ratio < 1.6, (key, ratio)
    # Dust on the backdrop (the frame of each picture) mostly goes.
    before = sum(specks(images["source"], frame=0.12) for images in outputs.values())
    after = sum(specks(images["careful"], frame=0.12) for images in outputs.values())
    assert after < 0.3 * before, (before, after)


def test_halo_sharpen_rings_at_edges(outputs) -> None:
    for key, images in outputs.items():
        careful, halo = images["careful"], images["halo-sharpen"]
        assert high_frequency(halo) > 3 * high_frequency(careful), key
        assert overshoot(halo, careful) > 3 * overshoot(careful, careful) + 1, key


def test_posterize_bands_tones(outputs) -> None:
    for key, images in outputs.items():
        for channel in range(3):
            careful = np.asarray(images["careful"])[..., channel]
            banded = np.asarray(images["posterize"])[..., channel]
            assert len(np.unique(banded)) <= 16, key
            assert len(np.unique(careful)) > 48, key


def test_colour_cast_shifts_the_channel_balance(outputs) -> None:
    for key, images in outputs.items():
        r0, g0, b0 = channel_means(images["careful"])
        r1, g1, b1 = channel_means(images["colour-cast"])
        # Magenta: green falls against red and blue.
        assert (r1 + b1) / 2 - g1 > (r0 + b0) / 2 - g0 + 10, key
        assert g1 < 0.95 * g0, key


def test_over_smooth_wipes_texture_but_keeps_outlines(outputs) -> None:
    for key, images in outputs.items():
        careful, smooth = images["careful"], images["over-smooth"]
        assert high_frequency(smooth) < 0.5 * high_frequency(careful), key
        # The silhouette survives: the strongest edges stay strong.
        edges = [np.percentile(np.abs(np.diff(luma(im), axis=1)), 99.9) for im in (careful, smooth)]
        assert edges[1] > 0.4 * edges[0], key


def test_model_results_are_independent_of_earlier_calls() -> None:
    # The shared edit is cached; a caller drawing on one output must not
    # change the next.
    source = make_source("cosmetics", 5)
    first = MODELS["careful"](source)
    expected = first.tobytes()
    first.paste((255, 0, 0), (0, 0, 50, 50))
    assert MODELS["careful"](source).tobytes() == expected
    changed = source.copy()
    changed.putpixel((10, 10), (0, 0, 0))
    assert MODELS["careful"](changed).tobytes() != expected


def test_a_demo_item_is_quick() -> None:
    # The full demo (4 categories x 8 items x 5 models) takes ~4 s here;
    # this loose bound only catches an accidental slow path.
    start = time.perf_counter()
    for category in CATEGORIES:
        source = make_source(category, 11)
        for model in MODELS.values():
            model(source)
    assert time.perf_counter() - start < 5
