"""Seeding with worker processes gives exactly what seeding in one process gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, select

from .test_cli import write_manifest


def _outputs(app, pool_name: str) -> dict[tuple[str, str], str]:
    from pairwise.db import get_db
    from pairwise.schema import Image, Item, Model, Output, Pool

    with app.app_context():
        rows = get_db().execute(
            select(Item.external_id, Model.name, Image.sha256)
            .join(Output, Output.item_id == Item.id).join(Model, Model.id == Output.model_id)
            .join(Image, Image.id == Output.image_id).join(Pool, Pool.id == Item.pool_id)
            .where(Pool.name == pool_name))
        return {(item, model): sha for item, model, sha in rows}


def test_workers_change_nothing_but_speed(app, tmp_path: Path) -> None:
    from pairwise import manifest, pools
    from pairwise.context import current_store
    from pairwise.db import get_db

    loaded = manifest.load(write_manifest(tmp_path, items=5))
    with app.app_context():
        for name, workers in (("one", 1), ("two", 2)):
            report = pools.seed(get_db(), current_store(), loaded, pool_name=name, workers=workers)
            get_db().commit()
            assert report.items_created == 5
    one, two = _outputs(app, "one"), _outputs(app, "two")
    assert len(one) == 15 and one == two


def test_a_bad_item_stops_the_workers_and_imports_nothing(app, tmp_path: Path, table_counts) -> None:
    from pairwise import manifest, pools
    from pairwise.context import current_store
    from pairwise.db import get_db
    from pairwise.errors import Invalid

    path = write_manifest(tmp_path, items=6)
    (tmp_path / "dress-4" / "model-b.png").write_bytes(b"GIF89a but not really")
    before = table_counts()
    with app.app_context():
        with pytest.raises(Invalid, match=r"apparel/dress-4: model-b.png: "):
            pools.seed(get_db(), current_store(), manifest.load(path), workers=2)
        get_db().rollback()
    assert table_counts() == before


def _sentinels(app, pool_name: str) -> dict[str, tuple[str, str, str]]:
    from pairwise.db import get_db
    from pairwise.schema import GoldPair, Image, Item, Output, Pool

    with app.app_context():
        rows = get_db().execute(
            select(Item.external_id, GoldPair.degradation, Output.image_id, Image.sha256)
            .join(GoldPair, GoldPair.item_id == Item.id).join(Output, Output.id == GoldPair.better_output_id)
            .join(Image, Image.id == GoldPair.worse_image_id).join(Pool, Pool.id == Item.pool_id)
            .where(Pool.name == pool_name, GoldPair.kind == "sentinel"))
        better = dict(get_db().execute(select(Image.id, Image.sha256)).all())
        return {item: (kind, better[output_image], sha) for item, kind, output_image, sha in rows}


def test_sentinels_made_by_the_workers_are_the_ones_made_afterwards(app, tmp_path: Path) -> None:
    """Workers degrade pixels they already decoded; the database side would degrade the stored file."""
    from pairwise import gold, manifest, pools
    from pairwise.context import current_store
    from pairwise.db import get_db
    from pairwise.schema import GoldPair, Item

    loaded = manifest.load(write_manifest(tmp_path, items=8))
    with app.app_context():
        for name, workers in (("one", 1), ("two", 2)):
            pools.seed(get_db(), current_store(), loaded, pool_name=name, workers=workers)
            get_db().commit()
    one, two = _sentinels(app, "one"), _sentinels(app, "two")
    assert len(one) == 8 and one == two
    # The same sentinels as the database side makes from the stored outputs
    # (its path when no prepared copy fits): drop pool one's and make them again.
    with app.app_context():
        db, store = get_db(), current_store()
        pool = pools.get_pool(db, "one")
        db.execute(delete(GoldPair).where(GoldPair.pool_id == pool.id))
        for item in db.scalars(select(Item).where(Item.pool_id == pool.id)):
            assert gold.make_sentinel(db, store, item) is not None
        db.commit()
    assert _sentinels(app, "one") == two


@pytest.mark.parametrize("kind", ["blur", "banding", "colour_cast", "halo"])
@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_a_degraded_copy_has_the_bytes_of_its_png_round_trip(kind: str, mode: str) -> None:
    """imaging.encode on degraded pixels gives what normalising them as a PNG file gives."""
    import io

    import numpy as np
    from PIL import Image

    from pairwise import imaging, sentinels

    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (90, 120, 4 if mode == "RGBA" else 3), dtype=np.uint8)
    if mode == "RGBA":
        pixels[..., 3] = np.where(pixels[..., 3] > 40, 255, pixels[..., 3])  # some transparency
    source = imaging.normalise(_png(Image.fromarray(pixels)), name="x.png")
    stored, decoded = imaging.normalise_keeping_pixels(source.png, name="x.png")
    assert stored.png == source.png
    with Image.open(io.BytesIO(source.png)) as reopened:
        reopened.load()
        assert np.array_equal(np.asarray(reopened), np.asarray(decoded))
    reference = imaging.normalise(sentinels.degrade_png(source.png, kind), name="s.png")
    assert imaging.encode(sentinels.degrade(decoded, kind), name="s.png") == reference


def _png(image) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_max_filter_is_pillows() -> None:
    import numpy as np
    from PIL import Image, ImageFilter

    from pairwise.sentinels import max_filter

    rng = np.random.default_rng(1)
    for shape in ((1, 1), (7, 9), (3, 40), (64, 50)):
        image = Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8))
        assert np.array_equal(np.asarray(max_filter(image, 5)), np.asarray(image.filter(ImageFilter.MaxFilter(5))))


def test_a_category_the_pool_refuses_stops_the_run_before_any_image_work(app, tmp_path: Path) -> None:
    from pairwise import manifest, pools
    from pairwise.context import current_store
    from pairwise.db import get_db
    from pairwise.errors import Invalid

    path = write_manifest(tmp_path, items=4, settings={"categories": ["food"]})
    with app.app_context():
        store = current_store()
        with pytest.raises(Invalid, match=r"apparel/dress-0: category 'apparel' is not one of this pool's"):
            pools.seed(get_db(), store, manifest.load(path), workers=2)
        get_db().rollback()
        assert not any(store.root.rglob("*.png"))
