"""Style control end to end: image statistics, covariates per judgment, style=1 on API, page and CLI."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
from PIL import Image
from sqlalchemy import func, select

from pairwise.image_stats import STATS, measure

from .test_api import judge_all

CHOICES = ["left", "right", "tie", "left", "right", "left", "both_bad", "right", "left", "left", "right", "tie"]


def save(path: Path, pixels: np.ndarray) -> Path:
    Image.fromarray(pixels.astype(np.uint8)).save(path)
    return path


def test_measure_orders_brightness_saturation_and_sharpness(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    dark = measure(save(tmp_path / "dark.png", np.full((40, 60, 3), 30)))
    bright = measure(save(tmp_path / "bright.png", np.full((40, 60, 3), 220)))
    red = measure(save(tmp_path / "red.png", np.tile([200, 20, 20], (40, 60, 1))))
    noisy = measure(save(tmp_path / "noisy.png", rng.integers(0, 256, size=(40, 60, 3))))
    assert set(dark) == set(STATS)
    assert bright["luminance"] > dark["luminance"] and abs(bright["luminance"] - 220 / 255) < 1e-6
    assert dark["saturation"] == 0.0 and red["saturation"] > 0.85
    assert dark["sharpness"] == 0.0 and noisy["sharpness"] > 3
    assert dark["megapixels"] == 40 * 60 / 1e6


def judged(client, make_pool, make_user, token_for) -> dict:
    make_pool(categories=("apparel", "food"), items=3)
    choices = iter(CHOICES * 10)
    judge_all(client, token_for(make_user("expert")), lambda body: next(choices))
    return token_for(make_user("researcher"))


def test_style_on_the_api_measures_images_once_and_reports_effects(app, client, make_pool, make_user,
                                                                  token_for) -> None:
    from pairwise.db import get_db
    from pairwise.schema import ImageStat
    researcher = judged(client, make_pool, make_user, token_for)
    board = client.get("/api/v1/pools/pool-1/leaderboard?style=1", headers=researcher).json
    style = board["style"]
    assert [c["name"] for c in style["covariates"]] == list(STATS)
    assert style["judgments"] == board["judgments"]
    assert {r["model"] for r in style["rows"]} == set(board["models"])
    assert all("style_score" in r for r in board["rows"])
    with app.app_context():
        measured = get_db().scalar(select(func.count()).select_from(ImageStat))
    assert measured > 0
    plain = client.get("/api/v1/pools/pool-1/leaderboard", headers=researcher).json
    assert plain["style"] is None and "style_score" not in plain["rows"][0]
    with client.get("/api/v1/pools/pool-1/leaderboard?style=1&format=csv", headers=researcher) as response:
        header = next(csv.reader(io.StringIO(response.get_data(as_text=True))))
        assert "_style_" in response.headers["Content-Disposition"]
    assert header[-3:] == ["style_score", "style_ci_low", "style_ci_high"]
    refused = client.get("/api/v1/pools/pool-1/leaderboard?style=1&ties=davidson", headers=researcher)
    assert refused.status_code == 422 and refused.json["error"].startswith("style:")


def test_exports_carry_the_covariates_and_rank_reads_them_back(app, client, make_pool, make_user, token_for,
                                                               runner, tmp_path) -> None:
    researcher = judged(client, make_pool, make_user, token_for)
    backfill = runner.invoke(args=["image-stats", "pool-1"])
    assert backfill.exit_code == 0 and "image(s) measured" in backfill.output
    with client.get("/api/v1/pools/pool-1/judgments?format=csv", headers=researcher) as response:
        text = response.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    for stat in STATS:
        assert all(r[f"left_{stat}"] != "" and r[f"right_{stat}"] != "" for r in rows)
    exported = tmp_path / "judgments.csv"
    exported.write_text(text)
    offline = runner.invoke(args=["rank", str(exported), "--style", "--format", "json", "--category", "all"])
    assert offline.exit_code == 0, offline.output
    import json
    offline_style = json.loads(offline.output)["style"]
    online_style = client.get("/api/v1/pools/pool-1/leaderboard?style=1", headers=researcher).json["style"]
    for a, b in zip(offline_style["covariates"], online_style["covariates"]):
        assert a["name"] == b["name"]
        assert (a["estimate"] is None and b["estimate"] is None) or abs(a["estimate"] - b["estimate"]) < 1e-3
    bare = tmp_path / "bare.csv"
    bare.write_text("model_left,model_right,choice\na,b,left\nb,a,left\n")
    refused = runner.invoke(args=["rank", str(bare), "--style"])
    assert refused.exit_code == 1 and "--style needs the columns left_luminance" in refused.output


def test_the_page_shows_style_control(client, make_pool, make_user, token_for, login) -> None:
    judged(client, make_pool, make_user, token_for)
    login(make_user("researcher"))
    page = client.get("/pools/pool-1/leaderboard?style=1").get_data(as_text=True)
    assert 'id="style-control"' in page and "Style-controlled score" in page and "luminance" in page
    assert 'id="style-control"' not in client.get("/pools/pool-1/leaderboard").get_data(as_text=True)


def test_style_collinear_with_models_is_called_out() -> None:
    from pairwise.leaderboard_fit import FitOptions, fit_counts, fit_style
    from pairwise.leaderboard_formats import as_dict
    from pairwise.ranking import tally

    rng = np.random.default_rng(5)
    n, k = 600, 3
    left = rng.integers(k, size=n)
    right = (left + rng.integers(1, k, size=n)) % k
    brightness = np.array([0.7, 0.5, 0.3])  # each model's outputs always this bright: style = identity
    z = (brightness[left] - brightness[right])[:, None] + rng.normal(0, 1e-4, size=(n, 1))
    choice = (rng.random(n) >= 1 / (1 + np.exp(-(brightness[left] - brightness[right]) * 4))).astype(int)
    style = fit_style(left, right, choice, z, ("luminance",), k, "half")
    board = as_dict(fit_counts(None, "all", ("a", "b", "c"), tally(left, right, choice, k), FitOptions(),
                               style=style))
    assert board["style"]["warning"] and "cannot be told apart" in board["style"]["warning"]


def test_style_on_an_empty_pool_and_with_a_lost_image(app, client, make_pool, make_user, token_for) -> None:
    make_pool(items=1)
    researcher = token_for(make_user("researcher"))
    empty = client.get("/api/v1/pools/pool-1/leaderboard?style=1", headers=researcher)
    assert empty.status_code == 200 and empty.json["style"]["judgments"] == 0
    judge_all(client, token_for(make_user("expert")), lambda body: "left")
    from pairwise.context import current_store
    from pairwise.db import get_db
    from pairwise.schema import Image, ImageStat, Output
    with app.app_context():
        db = get_db()
        lost = db.scalar(select(Image).join(Output, Output.image_id == Image.id).limit(1))
        current_store().path(lost.sha256).unlink()
        lost_id = lost.id
    board = client.get("/api/v1/pools/pool-1/leaderboard?style=1", headers=researcher)
    assert board.status_code == 200
    with app.app_context():
        assert get_db().get(ImageStat, lost_id) is None
    assert board.json["style"]["judgments"] < board.json["judgments"]  # judgments with the lost image left out
