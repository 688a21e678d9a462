"""The JSON API: pools, items, assignments, judgments, leaderboards, exports."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from .conftest import png_bytes

GOOD = {"choice": "left", "rationale": "A keeps the fabric texture, B is smeared"}


def item_form(item_id: str = "dress-1", models: tuple[str, ...] = ("alpha", "beta"), seed: int = 0,
              **fields: object) -> dict:
    form = {"id": item_id, "category": "apparel", "instruction": "remove the background",
            "source": (io.BytesIO(png_bytes(seed + 1)), "source.png")}
    for k, m in enumerate(models):
        form[f"outputs[{m}]"] = (io.BytesIO(png_bytes(seed + 10 + k)), f"{m}.png")
    form.update(fields)
    return form


@pytest.fixture()
def admin(make_user, token_for):
    return token_for(make_user("admin"))


def test_create_pool_and_settings(client, admin, table_counts) -> None:
    response = client.post("/api/v1/pools", headers=admin,
                           json={"name": "spring", "settings": {"rationale_min_chars": 5, "categories": ["food"]}})
    assert response.status_code == 201
    assert response.json["settings"]["rationale_min_chars"] == 5
    assert client.post("/api/v1/pools", headers=admin, json={"name": "spring"}).status_code == 409
    before = table_counts()
    for body, field in [({"name": "Bad Name"}, "name"), ({"name": "ok", "settings": {"colour": 1}}, "unknown setting"),
                        ({"name": "ok", "settings": {"rationale_min_chars": -1}}, "rationale_min_chars"),
                        ({"name": "ok", "settings": {"scheduler": "elo"}}, "scheduler"),
                        ({"name": "ok", "settings": {"gold_share": 2}}, "gold_share"), ("[]", "body")]:
        kwargs = {"data": body, "content_type": "application/json"} if isinstance(body, str) else {"json": body}
        response = client.post("/api/v1/pools", headers=admin, **kwargs)
        assert response.status_code == 422, body
        assert field in response.json["error"]
    assert table_counts() == before
    closed = client.patch("/api/v1/pools/spring", headers=admin, json={"settings": {"open": False}})
    assert closed.json["settings"]["open"] is False


def test_add_items_idempotently(client, admin, table_counts) -> None:
    client.post("/api/v1/pools", headers=admin, json={"name": "p"})
    response = client.post("/api/v1/pools/p/items", headers=admin, data=item_form())
    assert response.status_code == 201 and response.json == {"id": "dress-1", "created": True, "outputs_added": 2}
    before = table_counts()
    again = client.post("/api/v1/pools/p/items", headers=admin, data=item_form())
    assert again.status_code == 200 and again.json["created"] is False
    assert table_counts() == before
    # A model joining later: its output is added to the existing item.
    joined = client.post("/api/v1/pools/p/items", headers=admin, data=item_form(models=("alpha", "beta", "gamma")))
    assert joined.status_code == 200 and joined.json["outputs_added"] == 1


def test_item_conflicts_and_bad_uploads_change_nothing(client, admin, table_counts, app) -> None:
    client.post("/api/v1/pools", headers=admin, json={"name": "p", "settings": {"categories": ["apparel"]}})
    assert client.post("/api/v1/pools/p/items", headers=admin, data=item_form()).status_code == 201
    before = table_counts()
    truncated = png_bytes(3)[:40]
    cases = [
        (item_form(instruction="something else"), 409, "different source, instruction or category"),
        (item_form(seed=50), 409, "different"),
        (item_form("x-1", category="food"), 422, "not one of this pool's"),
        (item_form("x-1", category="Food Stuff"), 422, "category"),
        (item_form("x-2", source=(io.BytesIO(b"not an image at all"), "source.png")), 422, "source.png"),
        (item_form("x-3", **{"outputs[beta]": (io.BytesIO(truncated), "beta.png")}), 422, "beta.png"),
        (item_form("x-4", models=("alpha",)), 422, "at least two"),
        (item_form("x-5", models=()), 422, "outputs"),
        (item_form("", models=("a", "b")), 422, "id"),
        (item_form("x-6", instruction="  "), 422, "instruction"),
        (item_form("x-7", **{"extra": (io.BytesIO(b"x"), "x.png")}), 422, "unknown file field"),
    ]
    for form, status, message in cases:
        response = client.post("/api/v1/pools/p/items", headers=admin, data=form)
        assert response.status_code == status, (form.get("id"), response.json)
        assert message in response.json["error"]
        assert "\n" not in response.json["error"]
    assert client.post("/api/v1/pools/nope/items", headers=admin, data=item_form()).status_code == 404
    assert table_counts() == before


def test_decompression_bomb_is_refused(client, admin, app, table_counts) -> None:
    app.config["MAX_IMAGE_PIXELS"] = 1000
    client.post("/api/v1/pools", headers=admin, json={"name": "p"})
    before = table_counts()
    big = io.BytesIO()
    Image.new("RGB", (200, 200)).save(big, format="PNG")
    response = client.post("/api/v1/pools/p/items", headers=admin,
                           data=item_form(source=(io.BytesIO(big.getvalue()), "huge.png")))
    assert response.status_code == 422 and "huge.png" in response.json["error"]
    assert table_counts() == before


def test_judging_flow(client, make_pool, make_user, token_for, app) -> None:
    make_pool(items=1, models=("m1", "m2", "m3"))  # 3 pairs in all
    expert = token_for(make_user("expert"))
    seen = set()
    for _ in range(3):
        issued = client.post("/api/v1/pools/pool-1/assignments", headers=expert)
        assert issued.status_code == 201
        body = issued.json
        # A reload before answering gives the same pair back.
        assert client.post("/api/v1/pools/pool-1/assignments", headers=expert).json["id"] == body["id"]
        assert body["category"] == "apparel" and body["instruction"]
        seen.add(frozenset((body["left"]["url"], body["right"]["url"])))
        done = client.post(body["submit_url"], headers=expert,
                           json={**GOOD, "tags": {"left": ["halo"], "right": []}})
        assert done.status_code == 201
        replay = client.post(body["submit_url"], headers=expert, json=GOOD)
        assert replay.status_code == 409
    assert len(seen) == 3
    assert client.post("/api/v1/pools/pool-1/assignments", headers=expert).status_code == 204


def test_model_names_never_reach_the_expert(client, make_pool, make_user, token_for, login, app) -> None:
    make_pool(models=("secret-model-x", "hidden-model-y"))
    expert = make_user("expert")
    body = client.post("/api/v1/pools/pool-1/assignments", headers=token_for(expert)).get_data(as_text=True)
    assert "secret-model" not in body and "hidden-model" not in body
    data = json.loads(body)
    for side in ("left", "right", "source"):
        for key in ("url", "preview_url"):
            image = client.get(data[side][key], headers=token_for(expert))
            assert image.status_code == 200 and image.mimetype == "image/png"
            assert b"secret-model" not in image.data and b"hidden-model" not in image.data
            assert "immutable" in image.headers["Cache-Control"]
            image.close()
    login(expert)
    page = client.get("/pools/pool-1/judge").get_data(as_text=True)
    assert "secret-model" not in page and "hidden-model" not in page


def test_bad_judgments(client, make_pool, make_user, token_for, app, table_counts) -> None:
    make_pool(rationale_min_chars=20)
    expert = token_for(make_user("expert"))
    issued = client.post("/api/v1/pools/pool-1/assignments", headers=expert).json
    before = table_counts()
    cases = [
        ({"choice": "left"}, "rationale"),
        ({"choice": "left", "rationale": "   short      "}, "at least 20"),
        ({"choice": "left", "rationale": " " * 30}, "at least 20"),
        ({"choice": "maybe", "rationale": GOOD["rationale"]}, "choice"),
        ({**GOOD, "tags": {"left": ["sparkles"]}}, "unknown tag"),
        ({**GOOD, "tags": {"middle": []}}, "tags"),
        ({**GOOD, "tags": {"left": "halo"}}, "tags.left"),
        ({**GOOD, "model": "x"}, "unknown field"),
        ([1, 2], "body"),
        (None, "body"),
    ]
    for body, message in cases:
        response = client.post(issued["submit_url"], headers=expert, json=body)
        assert response.status_code == 422, body
        assert message in response.json["error"]
    assert client.post("/api/v1/assignments/99999/judgment", headers=expert, json=GOOD).status_code == 404
    assert table_counts() == before


def test_expired_assignment_is_gone(client, make_pool, make_user, token_for, app) -> None:
    from pairwise.db import get_db
    from pairwise.schema import Assignment, utcnow
    make_pool()
    expert = token_for(make_user("expert"))
    issued = client.post("/api/v1/pools/pool-1/assignments", headers=expert).json
    with app.app_context():
        db = get_db()
        db.execute(update(Assignment).values(expires_at=utcnow() - timedelta(minutes=1)))
        db.commit()
    response = client.post(issued["submit_url"], headers=expert, json=GOOD)
    assert response.status_code == 410 and "expired" in response.json["error"]
    fresh = client.post("/api/v1/pools/pool-1/assignments", headers=expert).json
    assert fresh["id"] != issued["id"]


def test_closed_pool_issues_nothing(client, make_pool, make_user, token_for, admin) -> None:
    make_pool()
    client.patch("/api/v1/pools/pool-1", headers=admin, json={"settings": {"open": False}})
    response = client.post("/api/v1/pools/pool-1/assignments", headers=token_for(make_user("expert")))
    assert response.status_code == 409 and "closed" in response.json["error"]


def test_experts_get_only_their_categories(client, make_pool, make_user, token_for) -> None:
    make_pool(categories=("apparel", "food"), items=2)
    expert = token_for(make_user("expert", categories=["food"]))
    for _ in range(6):
        issued = client.post("/api/v1/pools/pool-1/assignments", headers=expert).json
        assert issued["category"] == "food"
        client.post(issued["submit_url"], headers=expert, json=GOOD)
    assert client.post("/api/v1/pools/pool-1/assignments", headers=expert).status_code == 204


def judge_all(client, headers, choose) -> int:
    n = 0
    while (r := client.post("/api/v1/pools/pool-1/assignments", headers=headers)).status_code == 201:
        body = r.json
        client.post(body["submit_url"], headers=headers, json={**GOOD, "choice": choose(body)})
        n += 1
    return n


def test_leaderboard_and_exports(client, make_pool, make_user, token_for, app) -> None:
    make_pool(categories=("apparel", "food"), items=2, models=("m1", "m2", "m3"))
    expert = token_for(make_user("expert"))
    n = judge_all(client, expert, lambda body: "left")
    assert n == 12
    researcher = token_for(make_user("researcher"))
    board = client.get("/api/v1/pools/pool-1/leaderboard", headers=researcher).json
    assert board["judgments"] == 12 and board["category"] == "all"
    assert {r["model"] for r in board["rows"]} == {"m1", "m2", "m3"}
    assert board["provenance"]["seed"] is not None and board["provenance"]["data_digest"]
    assert sum(r["judgments"] for r in board["rows"]) == 24  # each judgment involves two models
    food = client.get("/api/v1/pools/pool-1/leaderboard?category=food&format=csv", headers=researcher)
    assert food.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(food.get_data(as_text=True))))
    assert list(rows[0])[:9] == ["rank", "model", "score", "ci_low", "ci_high", "wins", "losses", "ties", "judgments"]
    assert sum(int(r["wins"]) for r in rows) == 6 and all(r["category"] == "food" for r in rows)
    bad = client.get("/api/v1/pools/pool-1/leaderboard?category=cars", headers=researcher)
    assert bad.status_code == 422
    assert client.get("/api/v1/pools/pool-1/leaderboard?ties=sometimes", headers=researcher).status_code == 422
    assert client.get("/api/v1/pools/pool-1/leaderboard?format=xml", headers=researcher).status_code == 422

    with client.get("/api/v1/pools/pool-1/judgments?format=jsonl", headers=researcher) as response:
        jsonl = response.get_data(as_text=True)
    records = [json.loads(line) for line in jsonl.splitlines()]
    assert len(records) == 12
    for key in ("pool", "category", "item", "model_left", "model_right", "choice", "expert", "rationale", "created_at"):
        assert key in records[0]
    assert all(r["choice"] == "left" for r in records)
    with client.get("/api/v1/pools/pool-1/judgments?format=csv", headers=researcher) as response:
        exported = response.get_data(as_text=True)
    assert len(list(csv.DictReader(io.StringIO(exported)))) == 12
    assert "@" not in exported  # experts appear as pseudonyms


def test_openapi_document(client) -> None:
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    for path in ("/api/v1/pools", "/api/v1/pools/{pool}/items", "/api/v1/pools/{pool}/assignments",
                 "/api/v1/assignments/{id}/judgment", "/api/v1/pools/{pool}/leaderboard",
                 "/api/v1/pools/{pool}/judgments"):
        assert path in spec["paths"]


def test_the_database_keeps_one_judgment_per_assignment(client, make_pool, make_user, token_for, app) -> None:
    """The last line of defence against a replay racing past the 409 check."""
    from pairwise.db import get_db
    from pairwise.schema import Judgment
    make_pool()
    expert = token_for(make_user("expert"))
    issued = client.post("/api/v1/pools/pool-1/assignments", headers=expert).json
    assert client.post(issued["submit_url"], headers=expert, json=GOOD).status_code == 201
    with app.app_context():
        db = get_db()
        stored = db.scalar(select(Judgment))
        columns = ("assignment_id", "pool_id", "category", "expert_id", "left_model_id", "right_model_id",
                   "choice", "rationale", "seconds")
        db.add(Judgment(**{c: getattr(stored, c) for c in columns}))
        with pytest.raises(IntegrityError):
            db.commit()
        db.rollback()
        assert len(db.scalars(select(Judgment)).all()) == 1


def test_metadata_naming_a_model_is_stripped_on_import(client, admin, make_user, token_for) -> None:
    from PIL import PngImagePlugin
    client.post("/api/v1/pools", headers=admin, json={"name": "p"})
    tagged = io.BytesIO()
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "made-by-secret-model-v2")
    Image.new("RGB", (40, 30), (10, 120, 200)).save(tagged, format="PNG", pnginfo=info)
    jpeg = io.BytesIO()
    exif = Image.Exif()
    exif[0x0131] = "secret-model-v2 exporter"  # EXIF Software
    Image.new("RGB", (40, 30), (200, 120, 10)).save(jpeg, format="JPEG", exif=exif)
    assert b"secret-model" in tagged.getvalue() and b"secret-model" in jpeg.getvalue()
    form = item_form(**{"outputs[alpha]": (io.BytesIO(tagged.getvalue()), "secret-model-v2.png"),
                        "outputs[beta]": (io.BytesIO(jpeg.getvalue()), "secret-model-v2.jpg")})
    assert client.post("/api/v1/pools/p/items", headers=admin, data=form).status_code == 201
    expert = token_for(make_user("expert"))
    body = client.post("/api/v1/pools/p/assignments", headers=expert).json
    for side in ("left", "right"):
        for key in ("url", "preview_url"):
            with client.get(body[side][key], headers=expert) as image:
                assert image.status_code == 200 and b"secret-model" not in image.data
                assert Image.open(io.BytesIO(image.data)).format == "PNG"


def test_oversized_upload_is_refused(client, admin, app, table_counts) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 2000
    client.post("/api/v1/pools", headers=admin, json={"name": "p"})
    before = table_counts()
    form = item_form(source=(io.BytesIO(b"\0" * 5000), "source.png"))
    response = client.post("/api/v1/pools/p/items", headers=admin, data=form)
    assert response.status_code == 413 and "error" in response.json
    assert table_counts() == before


def test_image_headers_carry_no_upload_times(client, make_pool, make_user, token_for) -> None:
    make_pool()
    expert = token_for(make_user("expert"))
    body = client.post("/api/v1/pools/pool-1/assignments", headers=expert).json
    sha = body["left"]["url"].split("/")[-1][:-4]
    with client.get(body["left"]["url"], headers=expert) as image:
        assert "Last-Modified" not in image.headers
        assert image.headers["ETag"] == f'"{sha}-full"'
    with client.get(body["left"]["url"], headers={**expert, "If-None-Match": f'"{sha}-full"'}) as again:
        assert again.status_code == 304
    # No 304 answers to date probes either: those would reveal file times bit by bit.
    probe = {**expert, "If-Modified-Since": "Tue, 01 Jan 2030 00:00:00 GMT"}
    with client.get(body["left"]["url"], headers=probe) as dated:
        assert dated.status_code == 200


def test_a_racing_second_submission_is_a_conflict(client, make_pool, make_user, token_for, app, monkeypatch) -> None:
    """The racer commits between our 'already judged?' check and our insert."""
    from pairwise import judging
    from pairwise.schema import User
    make_pool()
    expert = make_user("expert")
    headers = token_for(expert)
    issued = client.post("/api/v1/pools/pool-1/assignments", headers=headers).json
    real_parse = judging.parse_answer

    def parse_then_lose_the_race(body, **options):
        answer = real_parse(body, **options)
        racer = app.extensions["pairwise.sessionmaker"]()
        monkeypatch.setattr(judging, "parse_answer", real_parse)
        judging.record_judgment(racer, issued["id"], racer.get(User, expert.id), GOOD)
        racer.commit()
        racer.close()
        return answer

    monkeypatch.setattr(judging, "parse_answer", parse_then_lose_the_race)
    response = client.post(issued["submit_url"], headers=headers, json=GOOD)
    assert response.status_code == 409 and "already judged" in response.json["error"]
    from .test_leaderboards import cells, group_by_judgments
    assert sum(group_by_judgments(app).values()) == 1 and cells(app) == group_by_judgments(app)


def test_control_characters_are_refused(client, admin, make_pool, make_user, token_for, table_counts) -> None:
    make_pool()
    expert = token_for(make_user("expert"))
    issued = client.post("/api/v1/pools/pool-1/assignments", headers=expert).json
    before = table_counts()
    response = client.post(issued["submit_url"], headers=expert,
                           json={"choice": "left", "rationale": "fine texture\u0000 but halos everywhere"})
    assert response.status_code == 422 and "control character" in response.json["error"]
    multiline = client.post(issued["submit_url"], headers=expert,
                            json={"choice": "left", "rationale": "A keeps texture.\n\tB smears it."})
    assert multiline.status_code == 201
    before = table_counts()
    bad_item = client.post("/api/v1/pools/pool-1/items", headers=admin,
                           data=item_form("x-9", instruction="remove\u0000 background"))
    assert bad_item.status_code == 422 and "control character" in bad_item.json["error"]
    assert table_counts() == before


def test_sloppy_bodies_are_refused_not_ignored(client, admin, make_pool, make_user, token_for, table_counts) -> None:
    make_pool()
    before = table_counts()
    cases = [
        ("patch", "/api/v1/pools/pool-1", {"open": False}, "open: unknown field"),
        ("patch", "/api/v1/pools/pool-1", {}, "settings: required"),
        ("patch", "/api/v1/pools/pool-1", {"settings": 0}, "settings: must be an object"),
        ("post", "/api/v1/pools", {"name": "p2", "rationale_min_chars": 5}, "rationale_min_chars: unknown field"),
        ("post", "/api/v1/pools", {"name": "p2", "setings": {}}, "setings: unknown field"),
        ("post", "/api/v1/pools", {"name": "p2", "settings": 0}, "settings: must be an object"),
        ("post", "/api/v1/pools", {"name": "p2", "settings": {"categories": ["all"]}}, "not 'all'"),
    ]
    for method, url, body, message in cases:
        response = getattr(client, method)(url, headers=admin, json=body)
        assert response.status_code == 422, (url, body)
        assert message in response.json["error"], response.json
    expert = token_for(make_user("expert"))
    issued = client.post("/api/v1/pools/pool-1/assignments", headers=expert).json
    before = table_counts()
    for tags in ([], "", 0):
        response = client.post(issued["submit_url"], headers=expert, json={**GOOD, "tags": tags})
        assert response.status_code == 422 and "tags" in response.json["error"]
    assert table_counts() == before
    reserved = client.post("/api/v1/pools/pool-1/items", headers=admin, data=item_form("x-1", category="all"))
    assert reserved.status_code == 422 and "reserved" in reserved.json["error"]


def test_unknown_api_urls_answer_in_json(client, admin) -> None:
    for method, url, status in [("get", "/api/v1/nope", 404), ("get", "/api/v1/pools/x/assignments", 405),
                                ("post", "/api/v1/assignments/abc/judgment", 404)]:
        response = getattr(client, method)(url, headers=admin)
        assert response.status_code == status and response.is_json and response.json["error"]
    assert client.get("/api/v1/pools/nope", headers=admin).json == {"error": "no pool 'nope'"}
