"""Leaderboards from count cells: consistency, caching, options, costs, pwcmp."""

from __future__ import annotations

import csv
import io

import numpy as np
from sqlalchemy import func, select

from .test_api import GOOD, judge_all


def group_by_judgments(app) -> dict:
    from pairwise.db import get_db
    from pairwise.schema import Judgment
    with app.app_context():
        columns = (Judgment.pool_id, Judgment.category, Judgment.left_model_id, Judgment.right_model_id,
                   Judgment.choice)
        return {tuple(r[:-1]): r[-1] for r in get_db().execute(select(*columns, func.count()).group_by(*columns))}


def cells(app) -> dict:
    from pairwise.db import get_db
    from pairwise.schema import JudgmentCell as C
    with app.app_context():
        return {(r.pool_id, r.category, r.left_model_id, r.right_model_id, r.choice): r.n
                for r in get_db().scalars(select(C))}


def test_cells_match_the_judgments_and_recount_rebuilds_them(app, client, make_pool, make_user, token_for, runner) -> None:
    make_pool(categories=("apparel", "food"), items=2)
    expert = token_for(make_user("expert"))
    choices = iter(["left", "right", "tie", "both_bad"] * 10)
    judge_all(client, expert, lambda body: next(choices))
    truth = group_by_judgments(app)
    assert sum(truth.values()) == 12 and cells(app) == truth
    from pairwise.db import get_db
    from pairwise.schema import JudgmentCell
    with app.app_context():
        db = get_db()
        db.query(JudgmentCell).delete()
        db.commit()
    result = runner.invoke(args=["db", "recount"])
    assert result.exit_code == 0 and "12 judgments" in result.output
    assert cells(app) == truth


def test_leaderboard_is_cached_but_never_stale(app, client, make_pool, make_user, token_for) -> None:
    from pairwise.db import get_db
    from pairwise.schema import LeaderboardCache
    make_pool(items=3)
    expert = token_for(make_user("expert"))
    researcher = token_for(make_user("researcher"))
    issued = client.post("/api/v1/pools/pool-1/assignments", headers=expert).json
    client.post(issued["submit_url"], headers=expert, json=GOOD)
    url = "/api/v1/pools/pool-1/leaderboard?bootstrap=100"
    first = client.get(url, headers=researcher).json
    again = client.get(url, headers=researcher).json
    assert first == again and first["judgments"] == 1  # identical, fit time included: from the cache
    with app.app_context():
        assert get_db().scalar(select(func.count()).select_from(LeaderboardCache)) == 1
    issued = client.post("/api/v1/pools/pool-1/assignments", headers=expert).json
    client.post(issued["submit_url"], headers=expert, json=GOOD)
    after = client.get(url, headers=researcher).json
    assert after["judgments"] == 2  # one new judgment is enough to refit


def test_options_reach_the_engine(app, client, make_pool, make_user, token_for) -> None:
    make_pool(items=3, scheduler="uniform")  # the answers below were chosen for uniform's stream
    expert = token_for(make_user("expert"))
    choices = iter(["left", "tie", "right", "left", "tie", "left", "both_bad", "left", "right"])
    judge_all(client, expert, lambda body: next(choices))
    researcher = token_for(make_user("researcher"))
    get = lambda q: client.get(f"/api/v1/pools/pool-1/leaderboard?{q}", headers=researcher).json  # noqa: E731
    half, drop, davidson = get("ties=half"), get("ties=drop"), get("ties=davidson&bootstrap=0")
    assert half["provenance"]["settings"]["ties"] == "half" and half["interval_method"] == "sandwich"  # the default
    assert get("ties=half&bootstrap=200")["interval_method"] == "bootstrap"
    assert drop["provenance"]["settings"]["ties"] == "drop"
    assert davidson["tie_parameter"] is not None and davidson["interval_method"] == "fisher"
    assert [r["score"] for r in half["rows"]] != [r["score"] for r in drop["rows"]]
    positioned = get("position=true&bootstrap=0")
    assert set(positioned["position_effect"]) == {"estimate", "ci_low", "ci_high"}
    assert get("position=maybe") == {"error": "position: true or false"}
    assert client.get("/api/v1/pools/pool-1/leaderboard?bootstrap=-1", headers=researcher).status_code == 422
    assert client.get("/api/v1/pools/pool-1/leaderboard?bootstrap=x", headers=researcher).status_code == 422
    # a short list of round counts, so nobody can make the server fit (and cache) 10,001 variants
    refused = client.get("/api/v1/pools/pool-1/leaderboard?bootstrap=301", headers=researcher)
    assert refused.status_code == 422 and "bootstrap: one of 0, 100, 200" in refused.json["error"]


def test_separation_costs_use_the_pools_pace(app, client, make_pool, make_user, token_for) -> None:
    from pairwise.db import get_db
    from pairwise.schema import Judgment
    make_pool(items=4)
    expert = token_for(make_user("expert"))
    judge_all(client, expert, lambda body: "tie")  # all ties: nobody separable
    with app.app_context():
        db = get_db()
        for judgment in db.scalars(select(Judgment)):
            judgment.seconds = 90.0
        db.commit()
    board = client.get("/api/v1/pools/pool-1/leaderboard?bootstrap=0", headers=token_for(make_user("researcher"))).json
    assert board["cost_model"]["median_seconds_per_judgment"] == 90.0
    assert board["cost_model"]["hourly_rate"] == app.config["HOURLY_RATE"]
    tied = [s for s in board["separation"] if not s["distinguishable"] and s["extra_judgments"]]
    for s in tied:
        assert np.isclose(s["extra_hours"], s["extra_judgments"] * 90 / 3600, atol=0.01)
        assert np.isclose(s["extra_cost"], s["extra_hours"] * app.config["HOURLY_RATE"], atol=0.05)


def test_pwcmp_export(app, client, make_pool, make_user, token_for, runner) -> None:
    make_pool(items=1)  # 3 pairs
    expert = token_for(make_user("expert"))
    choices = iter(["left", "right", "tie"])
    judge_all(client, expert, lambda body: next(choices))
    with client.get("/api/v1/pools/pool-1/judgments?format=pwcmp",
                    headers=token_for(make_user("researcher"))) as response:
        rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert list(rows[0])[:5] == ["observer", "scene", "condition_A", "condition_B", "selected_A"]
    assert [(r["choice"], r["selected_A"]) for r in rows] == [("left", "1"), ("right", "0"), ("tie", "1"), ("tie", "0")]
    assert all(r["scene"] == "apparel" and r["observer"].startswith("expert-") for r in rows)
    cli = runner.invoke(args=["export", "judgments", "pool-1", "--format", "pwcmp"])
    assert cli.exit_code == 0 and len(cli.output.strip().splitlines()) == 5


def test_leaderboard_page_live_and_bootstrap(app, client, make_pool, make_user, token_for, login) -> None:
    make_pool(items=2)
    judge_all(client, token_for(make_user("expert")), lambda body: "left")
    login(make_user("researcher"))
    live = client.get("/pools/pool-1/leaderboard").get_data(as_text=True)
    assert "closed form (default)" in live and "intervals: sandwich" in live
    assert client.get("/pools/pool-1/leaderboard?intervals=bootstrap&ties=davidson").status_code == 200
    import json

    from pairwise.db import get_db
    from pairwise.schema import LeaderboardCache
    with app.app_context():
        fitted = [json.loads(p)["provenance"]["settings"] for p in get_db().scalars(select(LeaderboardCache.payload))]
    assert {(f["ties"], f["bootstrap"]) for f in fitted} == {("half", 0), ("davidson", app.config["BOOTSTRAP_ROUNDS"])}
    assert client.get("/pools/pool-1/leaderboard?intervals=sometimes").status_code == 400
    assert client.get("/pools/pool-1/leaderboard?category=cars").status_code == 404
    assert client.get("/pools/nope/leaderboard").status_code == 404


def test_csv_carries_the_separation(app, client, make_pool, make_user, token_for) -> None:
    make_pool(items=3)
    choices = iter(["left", "right", "tie", "right", "left", "left", "tie", "right", "left"])
    judge_all(client, token_for(make_user("expert")), lambda body: next(choices))
    researcher = token_for(make_user("researcher"))
    with client.get("/api/v1/pools/pool-1/leaderboard?format=csv&bootstrap=0", headers=researcher) as response:
        rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    board = client.get("/api/v1/pools/pool-1/leaderboard?bootstrap=0", headers=researcher).json
    # 9 mixed judgments cannot separate anyone; each row says so, as "separation" does
    assert [r["separated_from_next"] for r in rows] == ["False", "False", ""]
    assert [r["extra_judgments_to_next"] for r in rows[:-1]] == \
        [str(s["extra_judgments"]) if s["extra_judgments"] is not None else "" for s in board["separation"]]
