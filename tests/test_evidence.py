"""Tags, unacceptable marks and rubric criteria: from pool settings through judgments
to artifact rates, leaderboard columns, exports and `pairwise rank`."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from pairwise import artifacts

RATIONALE = "a rationale long enough to be accepted"
CRITERIA = [{"name": "texture", "label": "Texture", "required": True}, {"name": "edges"}]


@pytest.fixture()
def admin(make_user, token_for):
    return token_for(make_user("admin"))


@pytest.fixture()
def researcher(make_user, token_for):
    return token_for(make_user("researcher"))


def sides(app: Any, assignment_id: int) -> tuple[str, str]:
    """The model names behind an assignment's left and right outputs."""
    from pairwise.db import get_db
    from pairwise.schema import Assignment
    with app.app_context():
        a = get_db().get(Assignment, assignment_id)
        return a.left_output.model.name, a.right_output.model.name


def judge_all(client: Any, app: Any, headers: dict[str, str], answer: Callable[[str, str], dict[str, Any]],
              pool: str = "pool-1", limit: int = 100) -> int:
    """Judge every pair this expert can get, answering answer(left model, right model)."""
    made = 0
    while made < limit:
        issued = client.post(f"/api/v1/pools/{pool}/assignments", headers=headers)
        if issued.status_code == 204:
            break
        left, right = sides(app, issued.json["id"])
        response = client.post(issued.json["submit_url"], headers=headers,
                               json={"rationale": RATIONALE, **answer(left, right)})
        assert response.status_code == 201, response.json
        made += 1
    return made


def test_pool_vocabulary_and_criteria_in_settings_and_assignment(client, admin, make_user, token_for,
                                                                 make_pool, table_counts) -> None:
    response = client.post("/api/v1/pools", headers=admin, json={"name": "p", "settings": {
        "tags": ["halo", "plastic-skin"], "criteria": ["texture", {"name": "edges", "required": True}]}})
    assert response.status_code == 201
    settings = response.json["settings"]
    assert settings["tags"] == {"halo": "Halos", "plastic-skin": "plastic skin"}
    assert settings["criteria"] == [{"name": "texture", "label": "Texture", "required": False},
                                    {"name": "edges", "label": "Edges", "required": True}]
    default = client.post("/api/v1/pools", headers=admin, json={"name": "q"}).json["settings"]
    from pairwise.vocabulary import TAGS
    assert default["tags"] == TAGS and default["criteria"] == []
    patched = client.patch("/api/v1/pools/q", headers=admin,
                           json={"settings": {"tags": {"halo": "Glow around edges"}}})
    assert patched.json["settings"]["tags"] == {"halo": "Glow around edges"}

    make_pool(tags={"halo": "Halos", "smear": "Smeared"}, criteria=CRITERIA)
    expert = token_for(make_user("expert"))
    issued = client.post("/api/v1/pools/pool-1/assignments", headers=expert).json
    assert issued["tags"] == {"halo": "Halos", "smear": "Smeared"}
    assert issued["criteria"] == [{"name": "texture", "label": "Texture", "required": True},
                                  {"name": "edges", "label": "Edges", "required": False}]

    before = table_counts()
    for settings, reason in [
        ({"tags": []}, "settings.tags"), ({"tags": ["Bad Tag"]}, "not a tag slug"),
        ({"tags": ["unacceptable"]}, "reserved"), ({"tags": {"halo": ""}}, "settings.tags.halo"),
        ({"tags": 3}, "settings.tags"), ({"criteria": "texture"}, "settings.criteria"),
        ({"criteria": [{"name": "Texture!"}]}, "settings.criteria[0].name"),
        ({"criteria": ["edges", "edges"]}, "listed twice"),
        ({"criteria": [{"name": "edges", "required": "yes"}]}, "required"),
        ({"criteria": [{"name": "edges", "weight": 2}]}, "unknown key 'weight'")]:
        response = client.post("/api/v1/pools", headers=admin, json={"name": "bad", "settings": settings})
        assert response.status_code == 422 and reason in response.json["error"], (settings, response.json)
        assert "\n" not in response.json["error"]
    assert table_counts() == before


def test_judgment_body_fields_are_stored_and_bad_ones_refused(client, app, make_pool, make_user, token_for,
                                                              table_counts) -> None:
    make_pool(tags={"halo": "Halos", "smear": "Smeared"}, criteria=CRITERIA)
    expert = token_for(make_user("expert"))
    issued = client.post("/api/v1/pools/pool-1/assignments", headers=expert).json
    before = table_counts()
    good = {"choice": "left", "rationale": RATIONALE, "tags": {"left": [], "right": ["smear"]},
            "criteria": {"texture": "left"}}
    for change, reason in [
        ({"tags": {"left": ["banding"]}}, "unknown tag 'banding'"),  # built-in, but not this pool's
        ({"criteria": {}}, "criteria.texture: required"),
        ({"criteria": {"texture": "A"}}, "criteria.texture: left, right or same"),
        ({"criteria": {"texture": "left", "colour": "left"}}, "unknown criterion 'colour'"),
        ({"criteria": ["texture"]}, "criteria: expected"),
        ({"unacceptable": {"left": "yes"}}, "unacceptable: expected"),
        ({"unacceptable": {"middle": True}}, "unacceptable: expected"),
        ({"unacceptable": True}, "unacceptable: expected")]:
        response = client.post(issued["submit_url"], headers=expert, json={**good, **change})
        assert response.status_code == 422 and reason in response.json["error"], (change, response.json)
    assert table_counts() == before

    response = client.post(issued["submit_url"], headers=expert,
                           json={**good, "unacceptable": {"right": True}, "criteria": {"texture": "left", "edges": "same"}})
    assert response.status_code == 201
    from pairwise.db import get_db
    from pairwise.schema import Judgment, JudgmentCriterion, JudgmentMark
    with app.app_context():
        db = get_db()
        j = db.scalar(select(Judgment))
        assert (j.unacceptable_left, j.unacceptable_right, j.criteria) == (False, True, {"edges": "same", "texture": "left"})
        marks = {(m.side, m.mark, m.model_id) for m in db.scalars(select(JudgmentMark))}
        assert marks == {("right", "smear", j.right_model_id), ("right", "unacceptable", j.right_model_id)}
        assert {(c.criterion, c.answer) for c in db.scalars(select(JudgmentCriterion))} == {("texture", "left"), ("edges", "same")}

    # "Both unacceptable" marks both sides, whatever the body says.
    issued = client.post("/api/v1/pools/pool-1/assignments", headers=expert).json
    response = client.post(issued["submit_url"], headers=expert, json={
        "choice": "both_bad", "rationale": RATIONALE, "criteria": {"texture": "same"},
        "unacceptable": {"left": False}})
    assert response.status_code == 201
    with app.app_context():
        j = get_db().get(Judgment, response.json["id"])
        assert (j.unacceptable_left, j.unacceptable_right) == (True, True)


def flaw_answers(left: str, right: str) -> dict[str, Any]:
    """model-a always has halos and is unacceptable; model-b is better on texture."""
    return {"choice": "right" if left == "model-a" else "left",
            "tags": {"left": ["halo"] if left == "model-a" else [], "right": ["halo"] if right == "model-a" else []},
            "unacceptable": {"left": left == "model-a", "right": right == "model-a"},
            "criteria": {"texture": "left" if left == "model-b" else ("right" if right == "model-b" else "same")}}


def test_artifact_rates_api_cli_and_unacceptable_column(client, app, runner, make_pool, make_user, token_for,
                                                        researcher) -> None:
    make_pool(categories=("apparel", "food"), items=2, tags={"halo": "Halos", "smear": "Smeared"},
              criteria=CRITERIA)
    made = judge_all(client, app, token_for(make_user("expert")), flaw_answers)
    assert made == 12  # 2 categories x 2 items x 3 pairs
    # Each model is in 2 of each item's 3 pairs: shown 8 times; model-a flagged every time.
    response = client.get("/api/v1/pools/pool-1/artifacts", headers=researcher)
    assert response.status_code == 200
    rows = {(r["model"], r["tag"]): r for r in response.json["rows"]}
    low, high = artifacts.wilson(8, 8)
    assert rows["model-a", "halo"] == {"model": "model-a", "tag": "halo", "flagged": 8, "shown": 8, "rate": 1.0,
                                       "ci_low": round(low, 4), "ci_high": 1.0}
    assert rows["model-b", "halo"]["flagged"] == 0 and rows["model-c", "smear"]["shown"] == 8
    assert len(rows) == 6
    assert [s["model"] for s in response.json["separating"]] == ["model-a"]
    assert "model-a: Halos flagged more often" in response.json["separating"][0]["words"]

    food = client.get("/api/v1/pools/pool-1/artifacts?category=food&format=csv", headers=researcher)
    table = list(csv.DictReader(io.StringIO(food.get_data(as_text=True))))
    assert list(table[0]) == ["model", "tag", "flagged", "shown", "rate", "ci_low", "ci_high"]
    assert {(r["model"], r["tag"]): (r["flagged"], r["shown"]) for r in table}[("model-a", "halo")] == ("4", "4")

    result = runner.invoke(["artifacts", "pool-1", "--category", "apparel"])
    assert result.exit_code == 0, result.output
    assert "model-a" in result.output and "Halos flagged more often" in result.output
    as_json = json.loads(runner.invoke(["artifacts", "pool-1", "--format", "json"]).output)
    assert as_json["rows"] == response.json["rows"]

    board = client.get("/api/v1/pools/pool-1/leaderboard?bootstrap=0", headers=researcher).json
    by_model = {r["model"]: r for r in board["rows"]}
    assert by_model["model-a"]["unacceptable"] == 8 and by_model["model-a"]["unacceptable_rate"] == 1.0
    assert by_model["model-b"]["unacceptable"] == 0 and by_model["model-b"]["unacceptable_ci_low"] == 0.0
    assert by_model["model-b"]["unacceptable_ci_high"] == round(artifacts.wilson(0, 8)[1], 4)
    # Twice: the second answer comes from the cache and still carries the columns.
    csv_text = client.get("/api/v1/pools/pool-1/leaderboard?format=csv&bootstrap=0",
                          headers=researcher).get_data(as_text=True)
    csv_rows = {r["model"]: r for r in csv.DictReader(io.StringIO(csv_text))}
    assert csv_rows["model-a"]["unacceptable_rate"] == "1.0" and csv_rows["model-c"]["unacceptable"] == "0"
    cli = runner.invoke(["leaderboard", "pool-1", "--bootstrap", "0"])
    assert "unacceptable 100% [68-100%]" in cli.output


def test_excluded_experts_leave_the_artifact_and_unacceptable_rates(client, app, make_pool, make_user,
                                                                   token_for, admin, researcher) -> None:
    """An excluded expert's marks leave the rates as their choices leave the fit, and come back on inclusion."""
    make_pool(categories=("apparel", "food"), items=2, tags={"halo": "Halos", "smear": "Smeared"},
              criteria=CRITERIA)
    flagger = make_user("expert", email="flagger@example.com")
    judge_all(client, app, token_for(flagger), flaw_answers)
    judge_all(client, app, token_for(make_user("expert", email="calm@example.com")),
              lambda left, right: {"choice": "left", "criteria": {"texture": "same"}})

    def halo_and_unacceptable() -> tuple[tuple[int, int], tuple[int, int]]:
        rows = {(r["model"], r["tag"]): r for r in
                client.get("/api/v1/pools/pool-1/artifacts", headers=researcher).json["rows"]}
        board = {r["model"]: r for r in
                 client.get("/api/v1/pools/pool-1/leaderboard?bootstrap=0", headers=researcher).json["rows"]}
        return ((rows["model-a", "halo"]["flagged"], rows["model-a", "halo"]["shown"]),
                (board["model-a"]["unacceptable"], board["model-a"]["judgments"]))

    assert halo_and_unacceptable() == ((8, 16), (8, 16))
    response = client.post("/api/v1/pools/pool-1/experts/flagger@example.com/exclusion", headers=admin,
                           json={"reason": "flags everything"})
    assert response.status_code == 201
    assert halo_and_unacceptable() == ((0, 8), (0, 8))
    food = {(r["model"], r["tag"]): r for r in client.get(
        "/api/v1/pools/pool-1/artifacts?category=food", headers=researcher).json["rows"]}
    assert (food["model-a", "halo"]["flagged"], food["model-a", "halo"]["shown"]) == (0, 4)
    assert client.delete("/api/v1/pools/pool-1/experts/flagger@example.com/exclusion",
                         headers=admin).status_code == 200
    assert halo_and_unacceptable() == ((8, 16), (8, 16))


def test_bad_artifact_requests(client, runner, make_pool, researcher, make_user, token_for) -> None:
    make_pool()
    for url, status, reason in [
        ("/api/v1/pools/pool-1/artifacts?format=xml", 422, "format"),
        ("/api/v1/pools/pool-1/artifacts?category=food", 422, "no category 'food'"),
        ("/api/v1/pools/nope/artifacts", 404, "no pool"),
        ("/api/v1/pools/pool-1/leaderboard?criterion=texture", 422, "no criterion 'texture'")]:
        response = client.get(url, headers=researcher)
        assert response.status_code == status and reason in response.json["error"], url
    assert client.get("/api/v1/pools/pool-1/artifacts", headers=token_for(make_user("expert"))).status_code == 403
    for args, reason in [(["artifacts", "pool-1", "--format", "xml"], "Invalid value"),
                         (["artifacts", "pool-1", "--category", "food"], "no category 'food'"),
                         (["artifacts", "nope"], "no pool 'nope'"),
                         (["leaderboard", "pool-1", "--criterion", "texture"], "no criterion 'texture'")]:
        result = runner.invoke(args)
        assert result.exit_code != 0 and reason in result.output, (args, result.output)


def test_criteria_round_trip_manifest_judgment_export_rank(client, app, runner, make_user, token_for, researcher,
                                                           tmp_path) -> None:
    from .conftest import png_bytes
    folder = tmp_path / "m"
    folder.mkdir()
    items = []
    for k in range(3):
        (folder / f"s{k}.png").write_bytes(png_bytes(100 + k))
        outputs = {}
        for n, model in enumerate(("model-a", "model-b", "model-c")):
            (folder / f"{model}-{k}.png").write_bytes(png_bytes(200 + 10 * k + n))
            outputs[model] = f"{model}-{k}.png"
        items.append({"id": f"item-{k}", "category": "apparel", "instruction": "clean it up",
                      "source": f"s{k}.png", "outputs": outputs})
    manifest = {"pool": "pool-1", "settings": {"tags": ["halo", "smear"], "criteria": CRITERIA}, "items": items}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    result = runner.invoke(["pools", "seed", str(folder / "manifest.json")])
    assert result.exit_code == 0, result.output

    judge_all(client, app, token_for(make_user("expert")), flaw_answers)
    board = client.get("/api/v1/pools/pool-1/leaderboard?criterion=texture&bootstrap=0", headers=researcher).json
    assert board["criterion"] == "texture" and board["provenance"]["criterion"] == "texture"
    assert board["rows"][0]["model"] == "model-b"  # wins every texture comparison it is in
    overall = client.get("/api/v1/pools/pool-1/leaderboard?bootstrap=0", headers=researcher).json
    assert overall["criterion"] is None

    export = tmp_path / "judgments.csv"
    assert runner.invoke(["export", "judgments", "pool-1", "--format", "csv", "-o", str(export)]).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(export.read_text())))
    assert {"unacceptable_left", "unacceptable_right", "criterion_texture", "criterion_edges"} <= set(rows[0])
    assert all(r["criterion_edges"] == "" for r in rows)  # optional and never answered
    assert {r["unacceptable_left"] for r in rows if r["model_left"] == "model-a"} == {"1"}
    jsonl = client.get("/api/v1/pools/pool-1/judgments?format=jsonl", headers=researcher).get_data(as_text=True)
    first = json.loads(jsonl.splitlines()[0])
    assert set(first["criteria"]) == {"texture"} and isinstance(first["unacceptable_left"], bool)
    (tmp_path / "judgments.jsonl").write_text(jsonl)

    for path in (export, tmp_path / "judgments.jsonl"):
        offline = runner.invoke(["rank", str(path), "--criterion", "texture", "--bootstrap", "0", "--format", "json"])
        assert offline.exit_code == 0, offline.output
        fitted = json.loads(offline.output)["leaderboards"][0]
        assert fitted["criterion"] == "texture"
        assert [r["model"] for r in fitted["rows"]] == [r["model"] for r in board["rows"]]
        assert [r["score"] for r in fitted["rows"]] == pytest.approx([r["score"] for r in board["rows"]], abs=1e-3)
        by_model = {r["model"]: r for r in fitted["rows"]}
        assert by_model["model-a"]["unacceptable_rate"] == 1.0 and by_model["model-b"]["unacceptable"] == 0
    from pairwise import judgment_extras, judgment_files
    for path in (export, tmp_path / "judgments.jsonl"):  # the one-pass reader agrees with the two readers
        tables, marks = judgment_extras.read_with_unacceptable(path)
        expected = judgment_files.read_judgments(path)
        assert [(t.category, t.models, t.counts.tolist()) for t in tables] == \
            [(t.category, t.models, t.counts.tolist()) for t in expected]
        assert marks == judgment_extras.read_unacceptable(path) and marks["apparel"]["model-a"].flagged == 6
    table = runner.invoke(["rank", str(export), "--bootstrap", "0"])
    assert "unacceptable 100%" in table.output and "unacceptable 0%" in table.output

    for args, reason in [(["rank", str(export), "--criterion", "colour"], "no answers to criterion 'colour'"),
                         (["rank", str(export), "--criterion", "edges"], "never answered")]:
        result = runner.invoke(args)
        assert result.exit_code != 0 and reason in result.output, result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("model_left,model_right,choice,criterion_texture,unacceptable_left,unacceptable_right\n"
                   "a,b,left,left,1,0\na,b,left,maybe,1,0\n")
    result = runner.invoke(["rank", str(bad), "--criterion", "texture"])
    assert result.exit_code != 0 and "bad.csv:3: criterion_texture: left, right or same" in result.output
    bad.write_text("model_left,model_right,choice,unacceptable_left,unacceptable_right\na,b,left,2,0\n")
    result = runner.invoke(["rank", str(bad)])
    assert result.exit_code != 0 and "bad.csv:2: unacceptable_left: expected 1/0" in result.output
    bad.write_text("model_left,model_right,choice,unacceptable_left,unacceptable_right\na,b,left,1,0\na,b,best,0,0\n")
    result = runner.invoke(["rank", str(bad)])
    assert result.exit_code != 0 and "bad.csv:3: unknown choice 'best'" in result.output


def test_recount_rebuilds_marks_and_answers(client, app, runner, make_pool, make_user, token_for) -> None:
    from sqlalchemy import delete

    from pairwise.db import get_db
    from pairwise.schema import CriterionCell, JudgmentCriterion, JudgmentMark, MarkCell
    make_pool(items=1, tags={"halo": "Halos"}, criteria=CRITERIA)
    judge_all(client, app, token_for(make_user("expert")), flaw_answers)

    def rows() -> tuple[set[tuple], set[tuple]]:
        with app.app_context():
            db = get_db()
            return ({(m.judgment_id, m.side, m.mark, m.model_id, m.category) for m in db.scalars(select(JudgmentMark))},
                    {(c.judgment_id, c.criterion, c.answer, c.left_model_id) for c in db.scalars(select(JudgmentCriterion))},
                    {(c.model_id, c.mark, c.n) for c in db.scalars(select(MarkCell))},
                    {(c.left_model_id, c.right_model_id, c.answer, c.n) for c in db.scalars(select(CriterionCell))})

    before = rows()
    assert len(before[0]) == 4 and len(before[1]) == 3  # 2 halos + 2 unacceptable; 3 texture answers
    model_a_marks = {(mark, n) for (_m, mark, n) in before[2]}
    assert model_a_marks == {("halo", 2), ("unacceptable", 2)} and sum(c[3] for c in before[3]) == 3
    with app.app_context():
        db = get_db()
        for table in (JudgmentMark, JudgmentCriterion, MarkCell, CriterionCell):
            db.execute(delete(table))
        db.commit()
    assert runner.invoke(args=["db", "recount"]).exit_code == 0
    assert rows() == before


def test_judge_page_offers_the_pools_own_tags(client, make_pool, make_user, token_for) -> None:
    # The judge page draws its tag palette from the assignment JSON.
    make_pool(tags={"halo": "Halos", "plastic-skin": "Plastic skin"})
    headers = token_for(make_user("expert"))
    assignment = client.post("/api/v1/pools/pool-1/assignments", headers=headers).json
    assert assignment["tags"] == {"halo": "Halos", "plastic-skin": "Plastic skin"}


def test_bad_manifest_settings_import_nothing(runner, tmp_path, table_counts) -> None:
    from .conftest import png_bytes
    for n, name in enumerate(("s.png", "a.png", "b.png")):
        (tmp_path / name).write_bytes(png_bytes(n + 1))
    item = {"id": "i-1", "category": "apparel", "instruction": "clean", "source": "s.png",
            "outputs": {"model-a": "a.png", "model-b": "b.png"}}
    before = table_counts()
    for settings, reason in [({"criteria": [{"name": "texture", "required": "always"}]}, "required"),
                             ({"tags": ["Halo!"]}, "not a tag slug")]:
        path = tmp_path / "manifest.json"
        path.write_text(json.dumps({"pool": "p", "settings": settings, "items": [item]}))
        result = runner.invoke(["pools", "seed", str(path)])
        errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
        assert result.exit_code != 0 and len(errors) == 1 and reason in errors[0], result.output
    assert table_counts() == before


def test_openapi_documents_the_new_fields_and_routes(client) -> None:
    spec = client.get("/api/v1/openapi.json").json
    schemas = spec["components"]["schemas"]
    assert {"tags", "criteria"} <= set(schemas["PoolSettings"]["properties"])
    assert {"unacceptable", "criteria"} <= set(schemas["Judgment"]["properties"])
    assert "criteria" in schemas["Assignment"]["properties"]
    assert "/api/v1/pools/{pool}/artifacts" in spec["paths"]
    names = {p["name"] for p in spec["paths"]["/api/v1/pools/{pool}/judgments"]["parameters"]}
    assert {"tag", "model", "versus", "criterion", "answer", "expert", "q"} <= names
    assert "criterion" in {p["name"] for p in spec["paths"]["/api/v1/pools/{pool}/leaderboard"]["parameters"]}
