"""Per-expert figures and flags, exclusions (API and CLI), provenance, exports,
and who may read which figures."""

from __future__ import annotations

import csv
import io
import json

import pytest

GOOD = {"choice": "left", "rationale": "A keeps the fabric texture, B is smeared"}


@pytest.fixture()
def admin(make_user, token_for):
    return token_for(make_user("admin", email="admin@example.com"))


def judge_all(client, headers, n: int, pool: str = "pool-1", choice: str = "left",
              rationale: str = "A keeps the fabric texture, B is smeared") -> int:
    done = 0
    for _ in range(n):
        response = client.post(f"/api/v1/pools/{pool}/assignments", headers=headers)
        if response.status_code == 204:
            break
        body = {"choice": choice, "rationale": rationale}
        assert client.post(response.json["submit_url"], headers=headers, json=body).status_code == 201
        done += 1
    return done


@pytest.fixture()
def judged_pool(client, make_pool, make_user, token_for):
    """Two experts, one judging 'left' with the same rationale every time."""
    make_pool(items=4, models=("model-a", "model-b", "model-c"))
    alice, bob = make_user("expert", email="alice@example.com"), make_user("expert", email="bob@example.com")
    ta, tb = token_for(alice), token_for(bob)
    judge_all(client, ta, 12, choice="left", rationale="Left one looks better overall.")
    judge_all(client, tb, 12, choice="right", rationale="B keeps the fabric texture, A is smeared")
    return {"alice": ta, "bob": tb}


def test_experts_report_json_and_csv(client, admin, judged_pool, make_user, token_for) -> None:
    report = client.get("/api/v1/pools/pool-1/experts", headers=admin).json
    rows = {r["email"]: r for r in report["experts"]}
    assert set(rows) == {"alice@example.com", "bob@example.com"}
    alice = rows["alice@example.com"]
    assert alice["judgments"] == 12 and alice["left_rate"] == 1.0 and alice["excluded"] is False
    assert [f["kind"] for f in alice["flags"]] == ["copy_paste"]
    assert "11 of 12 rationales" in alice["flags"][0]["evidence"]
    assert rows["bob@example.com"]["repeated_rationales"] == 11 and "copy_paste" in [f["kind"] for f in rows["bob@example.com"]["flags"]]
    assert set(report["agreement"]) == {"overlap_pairs", "krippendorff_alpha", "mean_cohen_kappa"}
    researcher = token_for(make_user("researcher"))
    response = client.get("/api/v1/pools/pool-1/experts?format=csv", headers=researcher)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    table = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    # Researchers see pseudonyms only, as in the exports.
    assert [r["email"] for r in table] == ["", ""] and [r["expert"] for r in table] == sorted(
        (alice["expert"], rows["bob@example.com"]["expert"]), key=lambda e: int(e.split("-")[1]))
    assert "@" not in response.get_data(as_text=True)
    assert table[0]["flags"].startswith("copy_paste: ") and table[0]["excluded"] == "False"
    admin_csv = client.get("/api/v1/pools/pool-1/experts?format=csv", headers=admin).get_data(as_text=True)
    assert [r["email"] for r in csv.DictReader(io.StringIO(admin_csv))] == ["alice@example.com", "bob@example.com"]
    assert client.get("/api/v1/pools/pool-1/experts?format=xml", headers=admin).status_code == 422


def test_own_figures_match_the_admin_report_and_read_only_shared_pairs(client, admin, make_pool, make_user,
                                                                      token_for, app) -> None:
    """The expert's own overlap agreement equals the admin report's, computed from their pairs only."""
    make_pool(items=4, models=("model-a", "model-b", "model-c"))
    people = {name: make_user("expert", email=f"{name}@example.com") for name in ("ann", "ben", "cat")}
    tokens = {name: token_for(user) for name, user in people.items()}
    judge_all(client, tokens["ann"], 12, choice="left")
    judge_all(client, tokens["ben"], 6, choice="right")  # half of ann's pairs
    judge_all(client, tokens["cat"], 12, choice="left")
    report = {r["email"]: r for r in client.get("/api/v1/pools/pool-1/experts", headers=admin).json["experts"]}
    for name in people:
        [mine] = client.get("/api/v1/me/quality", headers=tokens[name]).json["pools"]
        theirs = report[f"{name}@example.com"]
        for key in ("judgments", "overlap_judged", "overlap_agreement", "fit_agreement", "fit_expected",
                    "median_seconds", "gold_judged"):
            assert mine[key] == theirs[key], (name, key)
    assert report["ben@example.com"]["overlap_judged"] == 6 and report["ann@example.com"]["overlap_judged"] == 12
    from pairwise import experts
    from pairwise.db import get_db
    from pairwise.pools import get_pool

    with app.app_context():
        db = get_db()
        rows = experts.rated(db, get_pool(db, "pool-1"), around=people["ben"].id)
        # ben's 6, and ann's and cat's answers on those 6 pairs: nothing else.
        assert len(rows) == 18
        assert sorted(r.expert for r in rows).count(people["ben"].id) == 6


def test_an_expert_cannot_read_other_experts_figures(client, judged_pool, login, make_user) -> None:
    alice = judged_pool["alice"]
    assert client.get("/api/v1/pools/pool-1/experts", headers=alice).status_code == 403
    assert client.get("/api/v1/pools/pool-1/experts?format=csv", headers=alice).status_code == 403
    assert client.post("/api/v1/pools/pool-1/experts/bob@example.com/exclusion", headers=alice,
                       json={"reason": "x"}).status_code == 403
    mine = client.get("/api/v1/me/quality", headers=alice).json
    assert mine["email"] == "alice@example.com" and [p["pool"] for p in mine["pools"]] == ["pool-1"]
    assert mine["pools"][0]["judgments"] == 12
    text = json.dumps(mine)
    assert "bob" not in text and "flags" not in text
    # The home page shows the expert's own figures, nobody else's.
    from pairwise.db import get_db
    from pairwise.schema import User
    with client.application.app_context():
        user = get_db().query(User).filter_by(email="alice@example.com").one()
    login(user)
    page = client.get("/").get_data(as_text=True)
    assert 'id="my-figures"' in page and "bob@example.com" not in page and "copy_paste" not in page
    assert client.get("/admin/pools/pool-1/experts").status_code == 403


def board(client, headers, fmt: str = "json"):
    response = client.get(f"/api/v1/pools/pool-1/leaderboard?bootstrap=0&format={fmt}", headers=headers)
    assert response.status_code == 200
    return response.json if fmt == "json" else response.get_data(as_text=True)


def test_exclusion_changes_the_fit_and_the_provenance_and_can_be_undone(client, admin, judged_pool, runner) -> None:
    before = board(client, admin)
    assert before["judgments"] == 24 and before["provenance"]["excluded"] == {"judgments": 0, "experts": []}
    response = client.post("/api/v1/pools/pool-1/experts/Alice@Example.com/exclusion", headers=admin,
                           json={"reason": "always picks the left side"})
    assert response.status_code == 201 and response.json["excluded"] is True
    after = board(client, admin)
    assert after["judgments"] == 12
    assert after["provenance"]["excluded"]["judgments"] == 12
    [entry] = after["provenance"]["excluded"]["experts"]
    assert entry["reason"] == "always picks the left side" and entry["judgments"] == 12
    assert entry["expert"].startswith("expert-") and "alice" not in json.dumps(after)
    assert after["provenance"]["data_digest"] != before["provenance"]["data_digest"]
    assert [r["score"] for r in after["rows"]] != [r["score"] for r in before["rows"]]
    text = board(client, admin, "csv")
    first = next(csv.DictReader(io.StringIO(text)))
    assert first["excluded_judgments"] == "12"
    assert first["exclusions"] == f"12 judgments of {entry['expert']}: always picks the left side"
    shown = runner.invoke(["leaderboard", "pool-1", "--bootstrap", "0"]).output
    assert f"excluded: 12 judgments of {entry['expert']}: always picks the left side" in shown
    table = runner.invoke(["leaderboard", "pool-1", "--format", "json", "--bootstrap", "0"])
    assert json.loads(table.output)["provenance"]["excluded"]["judgments"] == 12
    # Exports keep every judgment, marked.
    rows = [json.loads(line) for line in client.get("/api/v1/pools/pool-1/judgments", headers=admin)
            .get_data(as_text=True).splitlines()]
    assert len(rows) == 24 and sum(r["excluded"] for r in rows) == 12
    report = client.get("/api/v1/pools/pool-1/experts", headers=admin).json
    alice = next(r for r in report["experts"] if r["email"] == "alice@example.com")
    assert alice["excluded"] is True and alice["exclusion_reason"] == "always picks the left side"
    # Include again: the fit and its key come back.
    assert client.delete("/api/v1/pools/pool-1/experts/alice@example.com/exclusion", headers=admin).status_code == 200
    again = board(client, admin)
    assert again["judgments"] == 24 and again["provenance"]["excluded"]["judgments"] == 0
    assert [r["score"] for r in again["rows"]] == [r["score"] for r in before["rows"]]
    history = client.get("/api/v1/pools/pool-1/experts", headers=admin).json["exclusion_history"]
    assert [(h["action"], h["by"], h["expert"]) for h in history] == [
        ("exclude", "admin@example.com", "alice@example.com"), ("include", "admin@example.com", "alice@example.com")]
    assert history[0]["reason"] == "always picks the left side" and history[0]["at"].endswith("Z")


def test_bad_exclusions_are_refused_and_change_nothing(client, admin, judged_pool, table_counts) -> None:
    before = table_counts()
    url = "/api/v1/pools/pool-1/experts/{}/exclusion"
    for method, target, body, status, start in [
        ("post", "nobody@example.com", {"reason": "x"}, 404, "no expert 'nobody@example.com'"),
        ("post", "alice@example.com", {"reason": "   "}, 422, "reason: required"),
        ("post", "alice@example.com", {}, 422, "reason: required"),
        ("post", "alice@example.com", {"reason": "x", "extra": 1}, 422, "extra: unknown field"),
        ("delete", "alice@example.com", None, 409, "alice@example.com is not excluded"),
        ("delete", "nobody@example.com", None, 404, "no expert"),
    ]:
        response = getattr(client, method)(url.format(target), headers=admin, json=body)
        assert response.status_code == status and response.json["error"].startswith(start), response.json
        assert "\n" not in response.json["error"]
    response = client.post("/api/v1/pools/nope/experts/alice@example.com/exclusion", headers=admin, json={"reason": "x"})
    assert response.status_code == 404 and response.json["error"] == "no pool 'nope'"
    assert client.get("/api/v1/pools/nope/experts", headers=admin).status_code == 404
    assert table_counts() == before
    assert client.post(url.format("alice@example.com"), headers=admin, json={"reason": "x"}).status_code == 201
    response = client.post(url.format("alice@example.com"), headers=admin, json={"reason": "y"})
    assert response.status_code == 409 and "already excluded" in response.json["error"]


def test_experts_cli(runner, judged_pool, table_counts) -> None:
    table = runner.invoke(["experts", "pool-1"])
    assert table.exit_code == 0, table.output
    assert "alice@example.com" in table.output and "copy_paste" in table.output and "Krippendorff" in table.output
    as_json = json.loads(runner.invoke(["experts", "pool-1", "--format", "json"]).output)
    assert {r["email"] for r in as_json["experts"]} == {"alice@example.com", "bob@example.com"}
    as_csv = runner.invoke(["experts", "pool-1", "--format", "csv"]).output
    assert as_csv.startswith("email,expert,judgments,")
    before = table_counts()
    for args, message in [
        (["experts", "nope"], "Error: no pool 'nope'"),
        (["experts", "exclude", "pool-1", "nobody@example.com", "--reason", "x"], "Error: no expert 'nobody@example.com'"),
        (["experts", "exclude", "pool-1", "alice@example.com", "--reason", " "], "Error: reason: required"),
        (["experts", "exclude", "nope", "alice@example.com", "--reason", "x"], "Error: no pool 'nope'"),
        (["experts", "include", "pool-1", "alice@example.com"], "Error: alice@example.com is not excluded"),
    ]:
        result = runner.invoke(args)
        assert result.exit_code != 0 and result.output.strip().splitlines() == [result.output.strip()], result.output
        assert result.output.startswith(message), result.output
    missing = runner.invoke(["experts", "exclude", "pool-1", "alice@example.com"])
    assert missing.exit_code == 2 and "--reason" in missing.output
    assert table_counts() == before
    done = runner.invoke(["experts", "exclude", "pool-1", "alice@example.com", "--reason", "left every time"])
    assert done.exit_code == 0 and "excluded" in done.output
    shown = json.loads(runner.invoke(["experts", "pool-1", "--format", "json"]).output)
    assert shown["exclusion_history"][0]["by"] == "cli"
    assert runner.invoke(["experts", "include", "pool-1", "alice@example.com"]).exit_code == 0
    assert "exclude" in runner.invoke(["experts", "--help"]).output


def test_openapi_lists_the_quality_routes(client) -> None:
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert {"get"} <= set(paths["/api/v1/pools/{pool}/experts"])
    assert {"post", "delete"} <= set(paths["/api/v1/pools/{pool}/experts/{email}/exclusion"])
    assert {"get", "post"} <= set(paths["/api/v1/pools/{pool}/gold"])


def test_admin_pages_sort_exclude_and_include_with_csrf(client, judged_pool, login, make_user) -> None:
    csrf = login(make_user("admin", email="root@example.com"))
    home = client.get("/").get_data(as_text=True)
    assert 'href="/admin/"' in home and 'href="/admin/pools/pool-1/experts"' in home
    assert 'href="/admin/pools/pool-1/experts"' in client.get("/admin/").get_data(as_text=True)
    page = client.get("/admin/pools/pool-1/experts?sort=email").get_data(as_text=True)
    assert page.index("alice@example.com") < page.index("bob@example.com")
    assert 'id="agreement"' in page and "Krippendorff" in page and "copy_paste" in page
    page = client.get("/admin/pools/pool-1/experts?sort=email&desc=1").get_data(as_text=True)
    assert page.index("bob@example.com") < page.index("alice@example.com")
    assert client.get("/admin/pools/pool-1/experts?sort=nope").status_code == 400
    assert client.get("/admin/pools/nope/experts").status_code == 404
    url = "/admin/pools/pool-1/experts/alice@example.com/exclusion"
    assert client.post(url, data={"action": "exclude", "reason": "left every time"}).status_code == 400  # no CSRF
    response = client.post(url, data={"action": "exclude", "reason": "", "csrf_token": csrf}, follow_redirects=True)
    assert "reason: required" in response.get_data(as_text=True)
    response = client.post(url, data={"action": "exclude", "reason": "left every time", "csrf_token": csrf},
                           follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "excluded from every fit" in page and 'value="include"' in page and "root@example.com" in page
    board = client.get("/pools/pool-1/leaderboard").get_data(as_text=True)
    assert 'id="excluded"' in board and "left every time" in board
    response = client.post(url, data={"action": "include", "csrf_token": csrf}, follow_redirects=True)
    assert "included again" in response.get_data(as_text=True)
    assert 'id="excluded"' not in client.get("/pools/pool-1/leaderboard").get_data(as_text=True)
