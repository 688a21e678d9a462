"""The judge page's server side: pins, unsure, skips, renewal, progress, tiles."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select, update

GOOD = {"choice": "left", "rationale": "A keeps the fabric texture, B is smeared"}


@pytest.fixture()
def expert(make_user, token_for):
    return token_for(make_user("expert"))


@pytest.fixture()
def researcher(make_user, token_for):
    return token_for(make_user("researcher"))


def issue(client, headers, pool="pool-1"):
    response = client.post(f"/api/v1/pools/{pool}/assignments", headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json


def judgment_rows(app):
    from pairwise.db import get_db
    from pairwise.schema import Judgment
    with app.app_context():
        return list(get_db().scalars(select(Judgment).order_by(Judgment.id)))


def test_assignment_advertises_fields_and_urls(client, make_pool, expert) -> None:
    make_pool()
    a = issue(client, expert)
    assert a["accepts"] == ["unsure", "pins", "unacceptable", "criteria"]
    assert a["skip_url"].endswith(f"/assignments/{a['id']}/skip")
    assert a["renew_url"].endswith(f"/assignments/{a['id']}/renew")
    assert "clipped_highlights" in a["tags"] and "changes_outside" in a["tags"]
    # Small images: the preview is the very same bytes, so it is the same URL.
    assert a["left"]["preview_url"] == a["left"]["url"] and a["left"]["tile_levels"] == 0


def test_unsure_and_pins_are_stored_and_exported(client, make_pool, expert, researcher, app) -> None:
    make_pool()
    a = issue(client, expert)
    body = {**GOOD, "tags": {"left": ["halo"], "right": ["dust_spots"]}, "unsure": True,
            "pins": [{"side": "right", "tag": "dust_spots", "x": 0.25, "y": 0.75},
                     {"side": "left", "tag": "halo", "x": 1, "y": 0}]}
    assert client.post(a["submit_url"], headers=expert, json=body).status_code == 201
    [j] = judgment_rows(app)
    assert j.unsure is True and j.pins[0] == {"side": "right", "tag": "dust_spots", "x": 0.25, "y": 0.75}
    with client.get("/api/v1/pools/pool-1/judgments?format=jsonl", headers=researcher) as response:
        row = json.loads(response.get_data(as_text=True).splitlines()[0])
    assert row["unsure"] is True and row["pins"][1] == {"side": "left", "tag": "halo", "x": 1.0, "y": 0.0}
    with client.get("/api/v1/pools/pool-1/judgments?format=csv", headers=researcher) as response:
        [csv_row] = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert csv_row["unsure"] == "1" and csv_row["pins"] == "right:dust_spots@0.25,0.75;left:halo@1,0"
    # Without the new fields: unsure is false, no pins.
    b = issue(client, expert)
    assert client.post(b["submit_url"], headers=expert, json=GOOD).status_code == 201
    assert judgment_rows(app)[1].unsure is False and judgment_rows(app)[1].pins is None


@pytest.mark.parametrize("extra, message", [
    ({"unsure": "yes"}, "unsure: true or false"),
    ({"pins": {}}, "pins: expected a list"),
    ({"pins": [{"side": "left", "tag": "halo", "x": 0.5}]}, "pins[0]: expected exactly"),
    ({"pins": [{"side": "top", "tag": "halo", "x": 0.5, "y": 0.5}]}, "pins[0].side"),
    ({"pins": [{"side": "right", "tag": "halo", "x": 0.5, "y": 0.5}]}, "must also be listed in tags.right"),
    ({"pins": [{"side": "left", "tag": "halo", "x": 1.5, "y": 0.5}]}, "pins[0].x: a number from 0 to 1"),
    ({"pins": [{"side": "left", "tag": "halo", "x": 0.5, "y": True}]}, "pins[0].y"),
    ({"pins": [{"side": "left", "tag": "halo", "x": 0.5, "y": 0.5}] * 51}, "pins: at most 50"),
])
def test_bad_pins_and_unsure_are_refused(client, make_pool, expert, table_counts, extra, message) -> None:
    make_pool()
    a = issue(client, expert)
    before = table_counts()
    response = client.post(a["submit_url"], headers=expert,
                           json={**GOOD, "tags": {"left": ["halo"], "right": []}, **extra})
    assert response.status_code == 422
    assert message in response.json["error"]
    assert table_counts() == before


def test_skip_flags_the_item_and_gives_another_pair(client, make_pool, make_user, token_for, expert,
                                                    researcher, app, table_counts, runner) -> None:
    make_pool(items=3)
    a = issue(client, expert)
    other = token_for(make_user("expert"))
    before = table_counts()
    for bad in ({}, {"reason": ""}, {"reason": 3}, {"reason": "x\x00"}, {"reason": "x" * 501}, {"reason": "a", "b": 1}):
        response = client.post(a["skip_url"], headers=expert, json=bad)
        assert response.status_code == 422, bad
    assert client.post(a["skip_url"], headers=other, json={"reason": "image broken"}).status_code == 403
    assert table_counts() == before
    response = client.post(a["skip_url"], headers=expert, json={"reason": "image broken"})
    assert response.status_code == 201 and response.json["reason"] == "image broken"
    assert client.post(a["skip_url"], headers=expert, json={"reason": "again"}).status_code == 409
    assert client.post(a["submit_url"], headers=expert, json=GOOD).status_code in (409, 410)
    assert client.post(a["renew_url"], headers=expert).status_code == 409
    b = issue(client, expert)
    assert b["id"] != a["id"]  # a skip is not a judgment, and the expert gets another pair
    assert judgment_rows(app) == []
    report = client.get("/api/v1/pools/pool-1/skips", headers=researcher).json
    assert report["flagged_items"][0]["skips"] == 1 and report["skips"][0]["reason"] == "image broken"
    assert "expert-" in report["skips"][0]["expert"]
    text = client.get("/api/v1/pools/pool-1/skips?format=csv", headers=researcher).get_data(as_text=True)
    assert text.splitlines()[0] == "pool,category,item,expert,reason,created_at,skip_id" and "image broken" in text
    assert client.get("/api/v1/pools/pool-1/skips", headers=expert).status_code == 403
    assert client.get("/api/v1/pools/pool-1/skips?format=xml", headers=researcher).status_code == 422
    result = runner.invoke(["export", "skips", "pool-1", "--format", "jsonl"])
    assert result.exit_code == 0 and json.loads(result.output.splitlines()[0])["reason"] == "image broken"


@pytest.mark.parametrize("scheduler", ["active", "uniform"])
def test_a_skipped_pair_is_not_offered_again(client, make_pool, expert, app, scheduler) -> None:
    make_pool(items=2, models=("m1", "m2"), scheduler=scheduler)  # two pairs in all
    a = issue(client, expert)
    assert client.post(a["skip_url"], headers=expert, json={"reason": "image broken"}).status_code == 201
    b = issue(client, expert)
    assert b["instruction"] != a["instruction"]  # the other item
    assert client.post(b["submit_url"], headers=expert, json=GOOD).status_code == 201
    assert client.post("/api/v1/pools/pool-1/assignments", headers=expert).status_code == 204


def expire(app, assignment_id):
    from pairwise.db import get_db
    from pairwise.schema import Assignment, utcnow
    with app.app_context():
        db = get_db()
        db.execute(update(Assignment).where(Assignment.id == assignment_id)
                   .values(expires_at=utcnow() - timedelta(minutes=1), issued_at=utcnow() - timedelta(hours=3)))
        db.commit()


def test_an_expired_pair_is_renewed_while_still_valid(client, make_pool, expert, app, admin_token) -> None:
    make_pool(items=2)
    a = issue(client, expert)
    expire(app, a["id"])
    assert client.post(a["submit_url"], headers=expert, json=GOOD).status_code == 410
    response = client.post(a["renew_url"], headers=expert)
    assert response.status_code == 200 and response.json["expires_at"] > a["expires_at"][:10]
    assert client.post(a["submit_url"], headers=expert, json=GOOD).status_code == 201
    assert client.post(a["renew_url"], headers=expert).status_code == 409  # judged: nothing to renew
    # Expired and another pair issued since: renewing would give the expert two open pairs.
    b = issue(client, expert)
    expire(app, b["id"])
    c = issue(client, expert)
    assert c["id"] != b["id"]
    response = client.post(b["renew_url"], headers=expert)
    assert response.status_code == 410 and "another pair" in response.json["error"]
    # A closed pool renews nothing.
    client.patch("/api/v1/pools/pool-1", headers=admin_token, json={"settings": {"open": False}})
    expire(app, c["id"])
    assert client.post(c["renew_url"], headers=expert).status_code == 410


@pytest.fixture()
def admin_token(make_user, token_for):
    return token_for(make_user("admin"))


def test_progress(client, make_pool, expert) -> None:
    make_pool(items=2)  # 2 items x 3 outputs: 6 pairs
    a = issue(client, expert)
    client.post(a["submit_url"], headers=expert, json=GOOD)
    p = client.get("/api/v1/pools/pool-1/my-progress", headers=expert).json
    assert p["today_judgments"] == 1 and p["pool_judged_by_you"] == 1 and p["pool_pairs_for_you"] == 6
    assert p["pool_judgments"] == 1 and p["today_seconds"] >= 0
    assert client.get("/api/v1/pools/pool-1/my-progress?since=2020-01-01T00:00:00Z", headers=expert).status_code == 422
    assert client.get("/api/v1/pools/pool-1/my-progress?since=nonsense", headers=expert).status_code == 422


# ----- images: one URL per content, tiles ----------------------------------------------

def big_pool(app, size=(2500, 1700)):
    from pairwise import pools
    from pairwise.context import current_store
    from pairwise.db import get_db
    rng = np.random.default_rng(3)

    def png(seed):
        pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
        pixels[:, :, 0] = seed  # distinct images
        out = io.BytesIO()
        Image.fromarray(pixels).save(out, format="PNG", compress_level=0)
        return out.getvalue()

    with app.app_context():
        db = get_db()
        pool = pools.create_pool(db, "big", {})
        pools.add_item(db, current_store(), pool, item_id="x", category="apparel", instruction="clean it",
                       source=pools.Upload("s.png", png(1)),
                       outputs={"m1": pools.Upload("a.png", png(2)), "m2": pools.Upload("b.png", png(3))})
        db.commit()


def get(client, url, headers):
    """A closed response (image responses hold an open file until closed)."""
    with client.get(url, headers=headers) as response:
        response.get_data()
        return response


def test_tiles_are_lossless_sized_and_cached(client, app, expert) -> None:
    big_pool(app)
    a = issue(client, expert, "big")
    info = a["left"]
    assert info["tile_levels"] == 2 and info["tile_size"] == 512  # 2500 -> 1250 -> (625: the preview covers it)
    assert info["preview_url"] != info["url"]
    full = get(client, info["url"], expert)
    assert full.status_code == 200 and int(full.headers["Content-Length"]) == len(full.data)
    pixels = np.asarray(Image.open(io.BytesIO(full.data)))
    tile_url = info["tile_url"].format(level=0, col=4, row=3)
    tile = get(client, tile_url, expert)
    assert tile.status_code == 200 and tile.mimetype == "image/png"
    assert int(tile.headers["Content-Length"]) == len(tile.data)
    assert "immutable" in tile.headers["Cache-Control"] and "Last-Modified" not in tile.headers
    got = np.asarray(Image.open(io.BytesIO(tile.data)))
    assert got.shape == (1700 - 3 * 512, 2500 - 4 * 512, 3)  # the last, partial tile
    assert np.array_equal(got, pixels[3 * 512:, 4 * 512:])  # exact pixels
    level1 = np.asarray(Image.open(io.BytesIO(get(client, info["tile_url"].format(level=1, col=0, row=0),
                                                  expert).data)))
    assert level1.shape == (512, 512, 3)
    again = get(client, tile_url, expert)
    assert again.data == tile.data  # served from the store's cache now
    assert get(client, tile_url, {**expert, "If-None-Match": tile.headers["ETag"]}).status_code == 304
    for bad in (info["tile_url"].format(level=2, col=0, row=0), info["tile_url"].format(level=0, col=5, row=0),
                info["tile_url"].format(level=0, col=0, row=4), info["tile_url"].format(level=10**30, col=0, row=0),
                "/images/zz/tiles/0/0_0.png"):
        assert get(client, bad, expert).status_code == 404, bad
    assert get(client, tile_url, {}).status_code in (302, 401)  # images need a login


def test_a_display_size_holding_the_full_bytes_redirects(client, make_pool, expert) -> None:
    make_pool()
    a = issue(client, expert)
    sha = a["left"]["url"].rsplit("/", 1)[1][:-4]
    response = get(client, f"/images/{sha}/preview.png", expert)
    assert response.status_code == 308 and response.headers["Location"].endswith(f"/images/{sha}.png")


def forget_derived(app) -> int:
    """Delete every display size and tile: the store of an import made before they were cut at import."""
    import shutil

    from pairwise.context import current_store

    with app.app_context():
        root = current_store().root
    gone = [p for p in root.rglob("*.d") if p.is_dir()] + list(root.rglob("*.preview.png")) + list(
        root.rglob("*.thumb.png"))
    for path in gone:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return len(gone)


def test_large_images_get_display_sizes_and_tiles_at_import(app, client, expert, monkeypatch, runner) -> None:
    """The first view and first zoom of a large image need no decode: import cut everything,
    byte for byte what the on-demand path makes."""
    from pairwise import tiles
    from pairwise.context import current_store
    from pairwise.imaging import make_variant
    from pairwise.media import views as media
    decodes: list[str] = []
    monkeypatch.setattr(media, "_pixels", tiles.PixelCache(decoder=lambda path: decodes.append(path) or tiles.decode(path)))
    big_pool(app)
    assert "0 tiles cut for 4 large images" in runner.invoke(["pools", "tiles", "big"]).output
    info = issue(client, expert, "big")["left"]
    sha = info["url"].rsplit("/", 1)[1][:-4]
    for level, cols, rows in ((0, 5, 4), (1, 3, 2)):
        for col in range(cols):
            for row in range(rows):
                assert get(client, info["tile_url"].format(level=level, col=col, row=row), expert).status_code == 200
    for kind in ("thumb_url", "preview_url"):
        assert get(client, info[kind], expert).status_code == 200
    assert decodes == []
    with app.app_context():
        store = current_store()
        precut: dict[str, bytes] = {}
        tiles.cut_all(store.path(sha), precut.__contains__, precut.__setitem__)
        assert len(precut) == 26
        assert all(store.cache_path(sha, name).read_bytes() == data for name, data in precut.items())
        full = store.path(sha).read_bytes()
        for variant in ("thumb", "preview"):
            assert store.path(sha, variant).read_bytes() == make_variant(full, variant)


def test_small_images_get_nothing_at_import(app, make_pool) -> None:
    from pairwise.context import current_store

    make_pool(items=1, models=("m1", "m2"))
    with app.app_context():
        root = current_store().root
    assert list(root.rglob("*.d")) == [] and list(root.rglob("*.preview.png")) == []


def test_tiles_can_be_cut_ahead(app, runner, client, expert) -> None:
    big_pool(app)
    # Four large images: the source, two outputs and the gold sentinel's degraded copy
    # (this item is the pool's sentinel); two display sizes and a tile folder each.
    assert forget_derived(app) == 4 * 3
    result = runner.invoke(["pools", "tiles", "big"])
    # 2500 x 1700: level 0 has 5 x 4 tiles, level 1 (1250 x 850) 3 x 2.
    assert result.exit_code == 0 and "104 tiles cut for 4 large images" in result.output, result.output
    assert "0 tiles cut" in runner.invoke(["pools", "tiles", "big"]).output
    assert runner.invoke(["pools", "tiles", "nope"]).exit_code != 0
    a = issue(client, expert, "big")
    tile = get(client, a["right"]["tile_url"].format(level=1, col=2, row=1), expert)
    assert tile.status_code == 200 and Image.open(io.BytesIO(tile.data)).size == (1250 - 1024, 850 - 512)


def test_tiles_cut_on_first_view_are_the_precut_bytes_from_one_decode(app, client, expert, monkeypatch) -> None:
    from pairwise import tiles
    from pairwise.context import current_store
    from pairwise.media import views as media
    decodes: list[str] = []

    def counting(path):
        decodes.append(path.name)
        return tiles.decode(path)

    monkeypatch.setattr(media, "_pixels", tiles.PixelCache(decoder=counting))
    big_pool(app)
    forget_derived(app)  # as imported before import cut them
    info = issue(client, expert, "big")["left"]
    sha = info["url"].rsplit("/", 1)[1][:-4]
    served = {}
    for level, cols, rows in ((0, 5, 4), (1, 3, 2)):
        for col in range(cols):
            for row in range(rows):
                response = get(client, info["tile_url"].format(level=level, col=col, row=row), expert)
                assert response.status_code == 200
                assert int(response.headers["Content-Length"]) == len(response.data)
                served[f"tiles/{level}/{col}_{row}.png"] = response.data
    for kind in ("thumb_url", "preview_url"):
        assert get(client, info[kind], expert).status_code == 200
    assert decodes == [f"{sha}.png"]  # thumb, preview and 26 tiles: one decode
    with app.app_context():
        store = current_store()
        precut: dict[str, bytes] = {}
        tiles.cut_all(store.path(sha), precut.__contains__, precut.__setitem__)
        assert precut == served  # the same bytes whoever cuts them, whenever
        from pairwise.imaging import make_variant
        full = store.path(sha).read_bytes()
        for variant in ("thumb", "preview"):  # display sizes made from the shared decode
            assert store.path(sha, variant).read_bytes() == make_variant(full, variant)


def test_a_lapsed_pair_closed_by_the_scheduler_can_be_renewed_and_judged(client, make_pool, expert, app) -> None:
    from pairwise.db import get_db
    from pairwise.judging import close_lapsed
    from pairwise.schema import Assignment, utcnow
    make_pool(items=1, models=("m1", "m2"))
    a = issue(client, expert)
    expire(app, a["id"])
    with app.app_context():  # what the expert's next request for a pair does first
        db = get_db()
        row = db.get(Assignment, a["id"])
        close_lapsed(db, row.pool_id, row.expert_id, utcnow())
        db.commit()
    assert client.post(a["renew_url"], headers=expert).status_code == 200
    with app.app_context():
        assert get_db().get(Assignment, a["id"]).is_open  # open again, so its answer is taken
    assert client.post(a["submit_url"], headers=expert, json=GOOD).status_code == 201


# ----- the pair after this one, reserved ahead ---------------------------------------------

def ahead(client, headers, pool="pool-1"):
    return client.post(f"/api/v1/pools/{pool}/assignments/ahead", headers=headers)


def pair_of(a):
    return {a["left"]["url"], a["right"]["url"]}, a["instruction"]


@pytest.mark.parametrize("scheduler", ["uniform", "active"])
def test_the_next_pair_is_queued_ahead_and_opened_when_asked_for(client, make_pool, expert, app, scheduler) -> None:
    from pairwise.db import get_db
    from pairwise.schema import Assignment
    make_pool(items=2, scheduler=scheduler)  # 2 items x 3 pairs
    assert ahead(client, expert).status_code == 204  # nothing open to queue behind
    first = issue(client, expert)
    queued = ahead(client, expert)
    assert queued.status_code == 201 and queued.json["id"] != first["id"]
    assert pair_of(queued.json) != pair_of(first)  # never the pair being judged
    assert ahead(client, expert).json["id"] == queued.json["id"]  # idempotent, like issuing
    assert issue(client, expert)["id"] == first["id"]  # a reload still gets the open pair
    with app.app_context():
        row = get_db().get(Assignment, queued.json["id"])
        assert row.queued and not row.is_open
    response = client.post(first["submit_url"], json=GOOD, headers=expert)
    assert response.status_code == 201
    second = issue(client, expert)
    assert second["id"] == queued.json["id"]  # the queued pair is opened, its clock reset
    with app.app_context():
        row = get_db().get(Assignment, second["id"])
        assert row.is_open and not row.queued and row.expires_at > row.issued_at
    assert client.post(second["submit_url"], json=GOOD, headers=expert).status_code == 201
    # Every pair once: issuing ahead neither repeats nor loses a pair.
    seen = [pair_of(first), pair_of(second)]
    while (a := client.post("/api/v1/pools/pool-1/assignments", headers=expert)).status_code == 201:
        q = ahead(client, expert)
        assert q.status_code == 204 or pair_of(q.json) not in seen + [pair_of(a.json)]
        seen.append(pair_of(a.json))
        assert client.post(a.json["submit_url"], json=GOOD, headers=expert).status_code == 201
    assert ahead(client, expert).status_code == 204
    assert len(seen) == 6 and len({(frozenset(u), i) for u, i in seen}) == 6


def test_a_queued_pair_follows_a_skip_and_is_dropped_when_withdrawn(client, make_pool, expert, app) -> None:
    from pairwise.auth import set_categories
    from pairwise.db import get_db
    from pairwise.schema import Assignment, User
    make_pool(items=2, categories=("apparel", "food"))
    first = issue(client, expert)
    queued = ahead(client, expert).json
    assert client.post(first["skip_url"], json={"reason": "cannot judge"}, headers=expert).status_code == 201
    assert issue(client, expert)["id"] == queued["id"]
    # The expert's categories change while a pair waits outside them: it is never opened.
    nxt = ahead(client, expert).json
    with app.app_context():
        db = get_db()
        user = db.scalar(select(User).where(User.role == "expert"))
        keep = "food" if nxt["category"] == "apparel" else "apparel"
        set_categories(db, user, [keep])
        db.commit()
    client.post(queued["submit_url"], json=GOOD, headers=expert)
    after = client.post("/api/v1/pools/pool-1/assignments", headers=expert)
    assert after.status_code == 201 and after.json["id"] != nxt["id"] and after.json["category"] == keep
    with app.app_context():
        row = get_db().get(Assignment, nxt["id"])
        assert not row.queued and not row.is_open
