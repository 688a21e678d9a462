"""Gold pairs (designated and generated sentinels) and overlap pairs: issued at
their shares, indistinguishable to the expert, kept out of every leaderboard."""

from __future__ import annotations

import io
import json
import re

import pytest
from PIL import Image
from sqlalchemy import func, select

from pairwise.sentinels import DEGRADATIONS, degrade

from .conftest import png_bytes

GOOD = {"choice": "left", "rationale": "A keeps the fabric texture, B is smeared"}


@pytest.fixture()
def admin(make_user, token_for):
    return token_for(make_user("admin"))


def db_scalar(app, statement):
    from pairwise.db import get_db
    with app.app_context():
        return get_db().scalar(statement)


@pytest.mark.parametrize("kind", DEGRADATIONS)
def test_sentinels_keep_size_and_mode_and_are_visibly_worse(kind: str) -> None:
    for mode in ("RGB", "RGBA", "L"):
        import numpy as np
        yy, xx = np.mgrid[0:60, 0:90]
        texture = np.stack([(xx * 3) % 256, ((xx // 6 + yy // 6) % 2) * 200 + 20, (yy * 4) % 256], -1)
        original = Image.fromarray(texture.astype("uint8"), "RGB").convert(mode)
        out = degrade(original, kind)
        assert (out.size, out.mode) == (original.size, original.mode)
        diff = np.abs(np.asarray(original.convert("L"), dtype=float) - np.asarray(out.convert("L"), dtype=float)).mean()
        assert diff > 2, f"{kind} on {mode} barely changes the image"
    with pytest.raises(ValueError):
        degrade(original, "sepia")


def test_seeding_makes_one_sentinel_per_item_with_the_original_format(app, make_pool) -> None:
    from pairwise.context import current_store
    from pairwise.schema import GoldPair, Image as ImageRow, Output

    make_pool(items=3, gold_share=0.05)
    with app.app_context():
        from pairwise.db import get_db
        db = get_db()
        golds = db.scalars(select(GoldPair)).all()
        assert len(golds) == 3 and {g.kind for g in golds} == {"sentinel"}
        for g in golds:
            original = db.get(Output, g.better_output_id).image
            worse = db.get(ImageRow, g.worse_image_id)
            assert (worse.width, worse.height) == (original.width, original.height) and worse.sha256 != original.sha256
            with Image.open(current_store().path(worse.sha256)) as a, Image.open(current_store().path(original.sha256)) as b:
                assert (a.format, a.mode, a.size, a.info.keys() - {"dpi"}) == (b.format, b.mode, b.size, b.info.keys() - {"dpi"})
    make_pool(name="pool-0", items=2)  # the test factory's pools have no gold
    assert db_scalar(app, select(func.count()).select_from(GoldPair)) == 3


def test_new_pools_default_to_five_percent_gold_and_ten_percent_overlap(client, admin) -> None:
    settings = client.post("/api/v1/pools", headers=admin, json={"name": "fresh"}).json["settings"]
    assert (settings["gold_share"], settings["overlap_share"]) == (0.05, 0.1)


def issue(client, headers, pool="pool-1"):
    response = client.post(f"/api/v1/pools/{pool}/assignments", headers=headers)
    assert response.status_code in (201, 204), response.get_data(as_text=True)
    return response.json if response.status_code == 201 else None


def test_gold_and_sentinel_pairs_look_like_any_other(app, client, make_pool, make_user, token_for, admin) -> None:
    from pairwise.schema import Assignment

    make_pool(items=2, gold_share=1.0)  # every draw asks for gold while gold is left
    assert client.post("/api/v1/pools/pool-1/gold", headers=admin,
                       json={"item": "apparel-0", "better": "model-a", "worse": "model-c"}).status_code == 201
    make_pool(name="plain", items=2)
    user = make_user("expert")
    expert = token_for(user)
    gold_seen, regular = [], issue(client, expert, "plain")
    for _ in range(3):  # 2 sentinels + 1 designated, then regular pairs
        a = issue(client, expert)
        gold_seen.append(a)
        assert client.post(a["submit_url"], headers=expert, json=GOOD).status_code == 201
    with app.app_context():
        from pairwise.db import get_db
        kinds = [get_db().get(Assignment, a["id"]).gold_pair.kind for a in gold_seen]
    assert sorted(kinds) == ["designated", "sentinel", "sentinel"]
    shape = re.compile(r"^/images/[0-9a-f]{64}\.png$")
    # small images: the display size is the full image's one URL
    preview = re.compile(r"^/images/[0-9a-f]{64}(/preview)?\.png$")
    for a in gold_seen:
        assert set(a) == set(regular) and set(a["left"]) == set(regular["left"])
        assert a["expires_at"] and a["submit_url"] == f"/api/v1/assignments/{a['id']}/judgment"
        for side in ("left", "right"):
            assert shape.match(a[side]["url"]) and preview.match(a[side]["preview_url"])
            full = client.get(a[side]["url"], headers=expert)
            small = client.get(a[side]["preview_url"], headers=expert)
            data = full.get_data()
            full.close(), small.close()
            assert full.status_code == small.status_code == 200 and full.mimetype == "image/png"
            with Image.open(io.BytesIO(data)) as im:
                assert im.format == "PNG" and im.size == (a[side]["width"], a[side]["height"]) == (48, 32)
                assert not (set(im.info) - {"dpi"})  # no text chunks, no names
            other = client.get(regular["left"]["url"], headers=expert)
            other.close()
            assert set(full.headers.keys()) == set(other.headers.keys())
        assert a["left"]["url"] != a["right"]["url"]
    # The page the expert works in is the same shell for any pool.
    def page(pool: str) -> str:  # the CSRF token is signed with the time: not part of the comparison
        html = client.get(f"/pools/{pool}/judge", headers=expert).get_data(as_text=True)
        return re.sub(r'(name="csrf-token" content|name="csrf_token" value)="[^"]*"', r'\1=""', html)

    assert page("pool-1").replace("pool-1", "plain") == page("plain")
    # Gold answers are in no count cell and no leaderboard.
    assert client.get("/api/v1/pools/pool-1", headers=admin).json["judgments"] == 0
    board = client.get("/api/v1/pools/pool-1/leaderboard?bootstrap=0", headers=admin).json
    assert board["judgments"] == 0 and {r["model"] for r in board["rows"]} == {"model-a", "model-b", "model-c"}
    export = client.get("/api/v1/pools/pool-1/judgments?format=jsonl", headers=admin).get_data(as_text=True)
    assert export == ""
    # Each gold pair at most once per expert; then only regular pairs.
    nxt = issue(client, expert)
    with app.app_context():
        from pairwise.db import get_db
        assert get_db().get(Assignment, nxt["id"]).gold_pair_id is None


def test_no_gold_once_the_real_pairs_are_done(client, make_pool, make_user, token_for) -> None:
    make_pool(items=1, models=("model-a", "model-b"), gold_share=0.0)
    expert = token_for(make_user("expert"))
    a = issue(client, expert)
    client.post(a["submit_url"], headers=expert, json=GOOD)
    assert issue(client, expert) is None


def test_work_left_is_counted_across_pages_of_items(app, client, make_pool, make_user, token_for,
                                                    monkeypatch) -> None:
    from pairwise import gold, pools
    from pairwise.db import get_db
    from pairwise.schema import User

    monkeypatch.setattr(gold, "WORK_PAGE", 1)  # one item per page: 1, 4, 16, ... items
    make_pool(items=3, categories=("apparel", "food"), models=("model-a", "model-b"))  # 6 pairs
    user = make_user("expert")
    expert = token_for(user)

    def work_left() -> bool:
        with app.app_context():
            db = get_db()
            return gold._regular_work_left(db, pools.get_pool(db, "pool-1"), db.get(User, user.id))

    for _ in range(6):
        assert work_left()
        a = issue(client, expert)
        assert client.post(a["submit_url"], headers=expert, json=GOOD).status_code == 201
    assert not work_left() and issue(client, expert) is None


def test_gold_answers_leave_the_scheduler_alone_and_the_recount_too(app, client, make_pool, make_user, token_for,
                                                                    runner) -> None:
    make_pool(items=1, models=("model-a", "model-b"), gold_share=1.0)
    expert = token_for(make_user("expert"))
    first = issue(client, expert)  # the sentinel
    client.post(first["submit_url"], headers=expert, json=GOOD)
    second = issue(client, expert)  # the one real pair is still there
    assert second is not None and second["id"] != first["id"]
    client.post(second["submit_url"], headers=expert, json=GOOD)
    assert issue(client, expert) is None
    assert runner.invoke(["db", "recount"]).output.startswith("count cells rebuilt from 1 judgments")


def test_overlap_reissues_a_pair_another_expert_judged_never_ones_own(app, client, make_pool, make_user,
                                                                     token_for) -> None:
    from pairwise.scheduling import pair_key
    from pairwise.schema import Assignment

    make_pool(items=3, overlap_share=1.0)
    first, second = token_for(make_user("expert")), token_for(make_user("expert"))
    judged_by_first = set()
    for _ in range(2):
        a = issue(client, first)
        client.post(a["submit_url"], headers=first, json=GOOD)
        judged_by_first.add(a["id"])
    with app.app_context():
        from pairwise.db import get_db
        db = get_db()
        pairs = {(x.item_id, pair_key(x.left_output_id, x.right_output_id))
                 for x in db.scalars(select(Assignment).where(Assignment.id.in_(judged_by_first)))}
    seen = set()
    for _ in range(2):
        a = issue(client, second)
        client.post(a["submit_url"], headers=second, json=GOOD)
        with app.app_context():
            from pairwise.db import get_db
            x = get_db().get(Assignment, a["id"])
            key = (x.item_id, pair_key(x.left_output_id, x.right_output_id))
        assert key in pairs and key not in seen  # another's pair, never one already judged
        seen.add(key)
    # Both overlap pairs taken: the next is a fresh one from the scheduler.
    a = issue(client, second)
    with app.app_context():
        from pairwise.db import get_db
        x = get_db().get(Assignment, a["id"])
        assert (x.item_id, pair_key(x.left_output_id, x.right_output_id)) not in pairs


def test_bad_gold_is_refused_and_changes_nothing(client, make_pool, admin, table_counts, tmp_path, runner) -> None:
    make_pool(items=1)
    before = table_counts()
    for body, field in [({"item": "nope", "better": "model-a", "worse": "model-b"}, "gold.item"),
                        ({"item": "apparel-0", "better": "model-z", "worse": "model-b"}, "gold.better"),
                        ({"item": "apparel-0", "better": "model-a", "worse": "model-a"}, "gold"),
                        ({"item": "apparel-0", "better": "model-a"}, "gold.worse"),
                        ({"item": "apparel-0", "better": "model-a", "worse": "model-b", "x": 1}, "x")]:
        response = client.post("/api/v1/pools/pool-1/gold", headers=admin, json=body)
        assert response.status_code == 422 and response.json["error"].startswith(field), response.json
        assert "\n" not in response.json["error"]
    assert client.post("/api/v1/pools/nope/gold", headers=admin, json={}).status_code == 404
    assert table_counts() == before
    # A manifest naming an unknown model imports nothing.
    (tmp_path / "s.png").write_bytes(png_bytes(1))
    (tmp_path / "a.png").write_bytes(png_bytes(2))
    (tmp_path / "b.png").write_bytes(png_bytes(3))
    manifest = {"pool": "gold-pool", "items": [{"id": "i1", "category": "food", "instruction": "crop",
                                                "source": "s.png", "outputs": {"a": "a.png", "b": "b.png"}}],
                "gold": [{"item": "i1", "better": "a", "worse": "zzz"}]}
    (tmp_path / "m.json").write_text(json.dumps(manifest))
    result = runner.invoke(["pools", "seed", str(tmp_path / "m.json")])
    assert result.exit_code != 0 and [l for l in result.output.splitlines() if l.startswith("Error:")] == [
        "Error: gold[0].worse: item 'i1' has no output of model 'zzz'"]
    assert table_counts() == before
    manifest["gold"][0]["worse"] = "b"
    (tmp_path / "m.json").write_text(json.dumps(manifest))
    assert runner.invoke(["pools", "seed", str(tmp_path / "m.json")]).exit_code == 0
    listed = client.get("/api/v1/pools/gold-pool/gold", headers=admin).json["gold"]
    assert sorted(g["kind"] for g in listed) == ["designated", "sentinel"]
    assert {"item": "i1", "better": "a", "worse": "b"}.items() <= next(g for g in listed if g["kind"] == "designated").items()


def test_cli_makes_sentinels_for_a_pool_that_raised_its_gold_share(runner, make_pool, client, admin) -> None:
    make_pool(items=2)
    assert client.get("/api/v1/pools/pool-1/gold", headers=admin).json["gold"] == []
    result = runner.invoke(["gold", "sentinels", "pool-1"])
    assert result.exit_code == 0 and result.output == "2 sentinel pairs made in pool-1\n"
    assert runner.invoke(["gold", "sentinels", "pool-1"]).output == "0 sentinel pairs made in pool-1\n"
    gold = client.get("/api/v1/pools/pool-1/gold", headers=admin).json["gold"]
    assert [g["kind"] for g in gold] == ["sentinel", "sentinel"] and all(g["degradation"] for g in gold)
    bad = runner.invoke(["gold", "sentinels", "nope"])
    assert bad.exit_code == 1 and bad.output == "Error: no pool 'nope'\n"
