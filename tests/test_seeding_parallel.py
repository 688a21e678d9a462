"""Seeding with worker processes gives exactly what seeding in one process gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

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
