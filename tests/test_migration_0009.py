"""Migration 0009 gives judgments recorded before it their tag marks and mark cells."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import MetaData, insert, select

from pairwise.db import make_engine
from pairwise.migrate import upgrade


def test_existing_tags_become_marks_and_cells(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0002")
    old = MetaData()
    old.reflect(engine)
    t = old.tables
    now = datetime(2026, 1, 1)
    with engine.begin() as conn:
        conn.execute(insert(t["pool"]), [{"id": 1, "name": "p", "rationale_min_chars": 1, "scheduler": "uniform",
                                          "overlap_share": 0, "gold_share": 0, "is_open": True, "created_at": now}])
        conn.execute(insert(t["user_account"]), [{"id": 1, "email": "e@x.org", "password_hash": "!",
                                                  "role": "expert", "is_active": True, "created_at": now}])
        conn.execute(insert(t["image"]), [{"id": i, "sha256": f"{i:064d}", "width": 1, "height": 1, "byte_size": 1}
                                          for i in (1, 2, 3)])
        conn.execute(insert(t["item"]), [{"id": 1, "pool_id": 1, "external_id": "i", "category": "food",
                                          "instruction": "x", "source_image_id": 1, "created_at": now}])
        conn.execute(insert(t["model"]), [{"id": 1, "pool_id": 1, "name": "a"}, {"id": 2, "pool_id": 1, "name": "b"}])
        conn.execute(insert(t["output"]), [{"id": 1, "item_id": 1, "model_id": 1, "image_id": 2},
                                           {"id": 2, "item_id": 1, "model_id": 2, "image_id": 3}])
        conn.execute(insert(t["assignment"]), [{"id": 1, "pool_id": 1, "item_id": 1, "expert_id": 1,
                                                "left_output_id": 1, "right_output_id": 2, "issued_at": now,
                                                "expires_at": now}])
        conn.execute(insert(t["judgment"]), [{"id": 1, "assignment_id": 1, "pool_id": 1, "category": "food",
                                              "expert_id": 1, "left_model_id": 1, "right_model_id": 2,
                                              "choice": "right", "rationale": "halo", "tags_left": ["halo", "noise"],
                                              "tags_right": [], "seconds": 3.0, "created_at": now}])
    upgrade(engine)
    new = MetaData()
    new.reflect(engine)
    with engine.connect() as conn:
        marks = conn.execute(select(new.tables["judgment_mark"].c["judgment_id", "side", "mark", "model_id"])).all()
        cells = conn.execute(select(new.tables["mark_cell"].c["model_id", "mark", "n"])).all()
        flags = conn.execute(select(new.tables["judgment"].c["unacceptable_left", "unacceptable_right"])).all()
    engine.dispose()
    assert sorted(marks) == [(1, "left", "halo", 1), (1, "left", "noise", 1)]
    assert sorted(cells) == [(1, "halo", 1), (1, "noise", 1)]
    assert [tuple(f) for f in flags] == [(False, False)]
