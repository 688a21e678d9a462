"""One truth on every leaderboard: page, API, CSV, JSON and CLI show the same fit (issue 8)."""

from __future__ import annotations

import csv
import io
import json
import re

from sqlalchemy import func, select

from pairwise.leaderboard_formats import COLUMNS, PROVENANCE_COLUMNS

from .test_api import judge_all

MIXED = ["left", "right", "tie", "left", "left", "right", "both_bad", "left", "right", "left", "tie", "left"]


def judged_pool(client, make_pool, make_user, token_for, **kwargs) -> None:
    make_pool(categories=("apparel", "food"), items=2, **kwargs)
    choices = iter(MIXED * 10)
    judge_all(client, token_for(make_user("expert")), lambda body: next(choices))


def test_page_api_csv_json_and_cli_carry_the_same_verdicts(app, client, make_pool, make_user, token_for, login,
                                                           runner) -> None:
    judged_pool(client, make_pool, make_user, token_for)
    researcher = token_for(make_user("researcher"))
    for query in ("", "&bootstrap=200&ties=davidson&position=1"):
        board = client.get(f"/api/v1/pools/pool-1/leaderboard?format=json{query}", headers=researcher)
        as_json = json.loads(board.get_data(as_text=True))
        with client.get(f"/api/v1/pools/pool-1/leaderboard?format=csv{query}", headers=researcher) as response:
            rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
        assert [r["model"] for r in rows] == [r["model"] for r in as_json["rows"]]
        verdicts = [s["verdict"] for s in as_json["separation"]]
        assert [r["verdict_next"] for r in rows] == [*verdicts, ""]
        assert [r["separated_from_next"] for r in rows[:-1]] == [str(s["distinguishable"]) for s in as_json["separation"]]
        assert [r["rank_ci_low"] for r in rows] == [str(r["rank_ci_low"]) for r in as_json["rows"]]
        for row in rows:  # provenance on every CSV row
            assert row["interval_method"] == as_json["interval_method"]
            assert row["data_digest"] == as_json["provenance"]["data_digest"]
            assert row["seed"] == str(app.config["BOOTSTRAP_SEED"])
            assert row["total_judgments"] == str(as_json["judgments"])
    # the CLI prints the same fit as the API (closed form by default on both)
    api = client.get("/api/v1/pools/pool-1/leaderboard?format=csv", headers=researcher).get_data(as_text=True)
    cli = runner.invoke(args=["leaderboard", "pool-1", "--format", "csv"])
    assert cli.exit_code == 0 and cli.output == api
    # and the page shows the API's verdicts and interval method
    login(make_user("researcher"))
    page = client.get("/pools/pool-1/leaderboard").get_data(as_text=True)
    default = client.get("/api/v1/pools/pool-1/leaderboard", headers=researcher).json
    assert f"intervals: {default['interval_method']}" in page
    for s in default["separation"]:
        assert f"<strong>{s['upper']}</strong> vs <strong>{s['lower']}</strong>" in page
        assert f"verdict-{s['verdict'].replace(' ', '-')}" in page


def test_csv_header_names_every_provenance_column(client, make_pool, make_user, token_for) -> None:
    judged_pool(client, make_pool, make_user, token_for)
    researcher = token_for(make_user("researcher"))
    with client.get("/api/v1/pools/pool-1/leaderboard?format=csv", headers=researcher) as response:
        header = next(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert tuple(header) == COLUMNS
    assert header[:9] == ["rank", "model", "score", "ci_low", "ci_high", "wins", "losses", "ties", "judgments"]
    assert set(PROVENANCE_COLUMNS) <= set(header)


def test_downloads_are_attachments_named_after_the_fit(client, make_pool, make_user, token_for) -> None:
    judged_pool(client, make_pool, make_user, token_for)
    researcher = token_for(make_user("researcher"))
    names = {}
    for query in ("format=json", "format=csv", "format=json&ties=drop", "format=json&position=1",
                  "format=json&bootstrap=200", "format=json&category=food"):
        response = client.get(f"/api/v1/pools/pool-1/leaderboard?{query}", headers=researcher)
        disposition = response.headers["Content-Disposition"]
        assert disposition.startswith("attachment; "), disposition  # JSON downloads download
        names[query] = re.search(r'filename="([^"]+)"', disposition).group(1)
    digest = client.get("/api/v1/pools/pool-1/leaderboard", headers=researcher).json["provenance"]["data_digest"]
    assert names["format=json"] == f"pool-1_all_ties-half_pos-0_closed_seed-20240601_{digest[:12]}.json"
    assert names["format=csv"].endswith(".csv")
    assert "ties-drop" in names["format=json&ties=drop"] and "pos-1" in names["format=json&position=1"]
    assert "bootstrap200" in names["format=json&bootstrap=200"] and "_food_" in names["format=json&category=food"]
    assert len(set(names.values())) == len(names)


def test_the_cache_is_bounded_per_pool(app, client, make_pool, make_user, token_for, monkeypatch) -> None:
    from pairwise import leaderboards
    from pairwise.db import get_db
    from pairwise.schema import LeaderboardCache
    judged_pool(client, make_pool, make_user, token_for)
    monkeypatch.setattr(leaderboards, "CACHE_PER_POOL", 4)
    researcher = token_for(make_user("researcher"))
    for ties in ("half", "drop", "davidson"):
        for position in ("0", "1"):
            assert client.get(f"/api/v1/pools/pool-1/leaderboard?ties={ties}&position={position}",
                              headers=researcher).status_code == 200
    with app.app_context():
        assert get_db().scalar(select(func.count()).select_from(LeaderboardCache)) == 4


def test_page_is_csp_ready_with_an_axis_and_a_shared_scale(client, make_pool, make_user, token_for, login) -> None:
    judged_pool(client, make_pool, make_user, token_for)
    login(make_user("researcher"))
    pages = {c: client.get(f"/pools/pool-1/leaderboard?category={c}").get_data(as_text=True)
             for c in ("all", "apparel", "food")}
    for html in pages.values():
        assert not re.search(r"\son[a-z]+\s*=", html)  # no inline event handlers
        assert "<script>" not in html and "board.js" in html
        assert 'class="axis"' in html and html.count("text-anchor=\"middle\"") >= 3  # tick labels
        assert "n=" in html  # counts in the heat map's cells
        assert "Left-position effect" in html and "Tie parameter" in html
    axes = {c: re.search(r"The axis runs from (\S+) to (\S+) on every", html).groups() for c, html in pages.items()}
    assert len(set(axes.values())) == 1  # one scale across the tabs
    # colours as data attributes, applied by page.js (no style attributes under the CSP)
    assert "rgba(" not in pages["all"] and re.search(r'data-bg="#[0-9a-f]{6}" data-fg="#', pages["all"])
    davidson = client.get("/pools/pool-1/leaderboard?ties=davidson&position=1").get_data(as_text=True)
    assert "Davidson tie parameter ν" in davidson and "Left-position effect (log-odds" in davidson


def test_plot_scales_ticks_and_colours() -> None:
    from pairwise.board import plots
    boards = [{"rows": [{"score": 0.5, "ci_low": 0.2, "ci_high": 0.9}]},
              {"rows": [{"score": -1.0, "ci_low": -1.6, "ci_high": -0.4}, {"score": None, "ci_low": None,
                                                                             "ci_high": None}]}]
    lo, hi = plots.scale_range(boards)
    assert lo < -1.6 and hi > 0.9  # every tab's intervals fit on the one axis
    ticks = plots.nice_ticks(lo, hi)
    assert ticks == sorted(ticks) and 0.0 in ticks and all(lo <= t <= hi for t in ticks)
    assert plots.nice_ticks(-1, 1) == [-1.0, -0.5, 0.0, 0.5, 1.0]
    # blue for losing, near-white for even, orange for winning; never red against green
    assert plots.heat_colour(0.0)["background"] == "#2166ac" and plots.heat_colour(1.0)["background"] == "#b35806"
    assert plots.heat_colour(0.5)["background"] == "#f7f7f7" and plots.heat_colour(0.5)["text"] == "#111111"
    assert plots.heat_colour(0.0)["text"] == "#ffffff" and plots.heat_colour(None)["background"] == "#eeeeee"
    geometry = plots.forest([{"model": "a", "score": 0.0, "ci_low": -0.5, "ci_high": 0.5}], -1.0, 1.0)
    line = geometry["lines"][0]
    assert line["x_low"] < line["x_score"] == geometry["zero"] < line["x_high"]


def test_terminal_table_names_the_fit(client, make_pool, make_user, token_for, runner) -> None:
    judged_pool(client, make_pool, make_user, token_for)
    researcher = token_for(make_user("researcher"))
    board = client.get("/api/v1/pools/pool-1/leaderboard?ties=davidson", headers=researcher).json
    out = runner.invoke(args=["leaderboard", "pool-1", "--ties", "davidson"])
    assert out.exit_code == 0
    assert (f"ties=davidson position=0 intervals={board['interval_method']} bootstrap=0 "
            f"seed=20240601 judgments={board['judgments']} scheduler={board['provenance']['scheduler']} "
            f"digest={board['provenance']['data_digest'][:12]}") in out.output
    assert "Davidson tie parameter:" in out.output
    for s in board["separation"]:
        if not s["distinguishable"]:
            assert f"tied: {s['upper']} ~ {s['lower']}: " in out.output


def test_cli_refuses_rounds_the_server_does_not_fit(client, make_pool, make_user, token_for, runner) -> None:
    judged_pool(client, make_pool, make_user, token_for)
    refused = runner.invoke(args=["leaderboard", "pool-1", "--bootstrap", "300"])
    assert refused.exit_code == 1 and "bootstrap: one of 0, 100, 200, 500, 1000, 2000" in refused.output
    assert runner.invoke(args=["leaderboard", "pool-1", "--bootstrap", "100"]).exit_code == 0
