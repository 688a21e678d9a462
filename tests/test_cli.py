"""The `pairwise` command group: set-up, seeding, leaderboards, exports, offline ranking."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from .conftest import PASSWORD, png_bytes
from .test_manifest import write_item


def write_manifest(root: Path, items: int = 2, pool: str = "spring", **extra: object) -> Path:
    entries = []
    for k in range(items):
        item_id = f"dress-{k}"
        write_item(root, item_id, ("model-a", "model-b", "model-c"))
        # distinct pixels per item so images are not all one content hash
        (root / item_id / "source.png").write_bytes(png_bytes(100 + k))
        entries.append({"id": item_id, "category": "apparel", "instruction": "remove the background",
                        "source": f"{item_id}/source.png",
                        "outputs": {m: f"{item_id}/{m}.png" for m in ("model-a", "model-b", "model-c")}})
    path = root / "manifest.json"
    path.write_text(json.dumps({"pool": pool, "items": entries, **extra}))
    return path


def test_users_and_tokens(runner, app) -> None:
    result = runner.invoke(args=["users", "add", "Ann@Example.com", "--role", "expert",
                                 "--categories", "food, apparel"], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "ann@example.com" in result.output and "apparel,food" in result.output
    again = runner.invoke(args=["users", "add", "ann@example.com", "--role", "expert"], input=PASSWORD + "\n")
    assert again.exit_code == 1 and "already exists" in again.output
    short = runner.invoke(args=["users", "add", "bob@example.com", "--role", "admin"], input="short\n")
    assert short.exit_code == 1 and "at least 8" in short.output
    bad_role = runner.invoke(args=["users", "add", "bob@example.com", "--role", "boss"], input=PASSWORD + "\n")
    assert bad_role.exit_code == 2
    bad_email = runner.invoke(args=["users", "add", "bob", "--role", "admin"], input=PASSWORD + "\n")
    assert bad_email.exit_code == 1 and "not an email" in bad_email.output

    token = runner.invoke(args=["tokens", "create", "ann@example.com"])
    assert token.exit_code == 0
    value = token.output.strip().splitlines()[-1]
    assert value.startswith("pw_") and " " not in value
    client = app.test_client()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {value}"}).json["categories"] == ["apparel", "food"]
    missing = runner.invoke(args=["tokens", "create", "nobody@example.com"])
    assert missing.exit_code == 1 and "no user" in missing.output
    listed = runner.invoke(args=["users", "list"])
    assert "ann@example.com\texpert\tapparel,food" in listed.output


def test_seed_manifest_then_again(runner, tmp_path, table_counts) -> None:
    path = write_manifest(tmp_path, settings={"rationale_min_chars": 30})
    result = runner.invoke(args=["pools", "seed", str(path)])
    assert result.exit_code == 0, result.output
    assert "2 new items" in result.output
    counts = table_counts()
    assert counts["item"] == 2 and counts["output"] == 6 and counts["model"] == 3
    again = runner.invoke(args=["pools", "seed", str(path)])
    assert again.exit_code == 0 and "0 new items, 2 already present" in again.output
    assert table_counts() == counts
    listed = runner.invoke(args=["pools", "list"])
    assert "spring\topen\t2 items\t3 models\t0 judgments" in listed.output


def test_seed_folder(runner, tmp_path, table_counts) -> None:
    tmp_path = tmp_path / "tree"  # the app's image folder lives in tmp_path itself
    for category, item in (("apparel", "dress-1"), ("real-estate", "kitchen-1")):
        write_item(tmp_path, f"{category}/{item}", ("alpha", "beta"))
        (tmp_path / category / item / "instruction.txt").write_text("straighten the verticals")
        (tmp_path / category / item / "source.png").write_bytes(png_bytes(hash(item) % 97))
    result = runner.invoke(args=["pools", "seed", str(tmp_path), "--pool", "folder-pool"])
    assert result.exit_code == 0, result.output
    assert table_counts()["item"] == 2
    no_name = runner.invoke(args=["pools", "seed", str(tmp_path)])
    assert no_name.exit_code == 1 and "--pool" in no_name.output


@pytest.mark.parametrize("breakage, message", [
    (lambda root: (root / "dress-1" / "model-b.png").write_bytes(b"GIF89a but not really"), "model-b.png"),
    (lambda root: (root / "dress-1" / "model-c.png").write_bytes(png_bytes(4)[:60]), "model-c.png"),
    (lambda root: (root / "dress-1" / "source.png").write_text("hello"), "source.png"),
])
def test_a_bad_image_anywhere_imports_nothing(runner, tmp_path, table_counts, breakage, message) -> None:
    path = write_manifest(tmp_path, items=2)
    breakage(tmp_path)  # the *second* item is bad: the first must not stay behind
    before = table_counts()
    result = runner.invoke(args=["pools", "seed", str(path)])
    assert result.exit_code == 1
    assert message in result.output and "dress-1" in result.output
    assert len(result.output.strip().splitlines()[-1]) < 300
    assert table_counts() == before


def test_bad_manifests_change_nothing(runner, tmp_path, table_counts) -> None:
    before = table_counts()
    escaping = write_manifest(tmp_path / "a")
    data = json.loads(escaping.read_text())
    data["items"][0]["source"] = "../../etc/passwd"
    escaping.write_text(json.dumps(data))
    duplicate = write_manifest(tmp_path / "b")
    data = json.loads(duplicate.read_text())
    data["items"][1]["id"] = data["items"][0]["id"]
    duplicate.write_text(json.dumps(data))
    not_json = tmp_path / "c.json"
    not_json.write_text("{")
    cases = [(escaping, "escapes the manifest folder"), (duplicate, "duplicate item id"),
             (not_json, "invalid JSON")]
    for path, message in cases:
        result = runner.invoke(args=["pools", "seed", str(path)])
        assert result.exit_code == 1 and message in result.output, result.output
    restricted = write_manifest(tmp_path / "d", settings={"categories": ["food"]})
    result = runner.invoke(args=["pools", "seed", str(restricted)])
    assert result.exit_code == 1 and "not one of this pool's" in result.output
    assert table_counts() == before


def test_unknown_category_for_an_existing_restricted_pool(runner, tmp_path, table_counts) -> None:
    runner.invoke(args=["pools", "seed", str(write_manifest(tmp_path / "ok"))])
    client_settings = runner.invoke(args=["pools", "close", "spring"])
    assert client_settings.exit_code == 0 and "closed" in client_settings.output
    before = table_counts()
    path = write_manifest(tmp_path / "x", settings={"categories": ["food"]})
    result = runner.invoke(args=["pools", "seed", str(path)])
    assert result.exit_code == 1 and "not one of this pool's" in result.output
    assert table_counts() == before


def judge_everything(client, token_headers) -> int:
    n = 0
    while (r := client.post("/api/v1/pools/pool-1/assignments", headers=token_headers)).status_code == 201:
        client.post(r.json["submit_url"], headers=token_headers,
                    json={"choice": ["left", "right", "tie"][n % 3], "rationale": "simulated rationale text"})
        n += 1
    return n


def test_leaderboard_export_and_offline_rank_agree(runner, client, make_pool, make_user, token_for, tmp_path) -> None:
    make_pool(categories=("apparel", "food"), items=2)
    n = judge_everything(client, token_for(make_user("expert")))
    assert n == 12
    table = runner.invoke(args=["leaderboard", "pool-1"])
    assert table.exit_code == 0 and "model-a" in table.output and "12 judgments" in table.output
    as_json = json.loads(runner.invoke(args=["leaderboard", "pool-1", "--format", "json", "--category", "food"]).output)
    assert as_json["category"] == "food" and as_json["judgments"] == 6
    bad = runner.invoke(args=["leaderboard", "pool-1", "--category", "cars"])
    assert bad.exit_code == 1 and "no category 'cars'" in bad.output
    assert runner.invoke(args=["leaderboard", "nope"]).exit_code == 1

    exported = tmp_path / "judgments.csv"
    result = runner.invoke(args=["export", "judgments", "pool-1", "--format", "csv", "-o", str(exported)])
    assert result.exit_code == 0
    assert len(list(csv.DictReader(io.StringIO(exported.read_text())))) == 12
    jsonl = runner.invoke(args=["export", "judgments", "pool-1", "--format", "jsonl"]).output
    assert len(jsonl.strip().splitlines()) == 12

    db_csv = runner.invoke(args=["leaderboard", "pool-1", "--format", "csv", "--bootstrap", "500"]).output
    offline = runner.invoke(args=["rank", str(exported), "--format", "csv", "--category", "all", "--bootstrap", "500"])
    assert offline.exit_code == 0, offline.output
    strip = lambda text: [row[:9] for row in csv.reader(io.StringIO(text))]  # noqa: E731
    assert strip(offline.output) == strip(db_csv)  # same engine, same seed, same numbers


def test_rank_needs_no_database_and_reports_bad_files(runner, tmp_path) -> None:
    path = tmp_path / "outside.jsonl"
    rows = [{"model_left": "x", "model_right": "y", "choice": "left"}] * 5 + \
           [{"model_left": "y", "model_right": "x", "choice": "tie"}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    from click.testing import CliRunner

    from pairwise.cli import main
    result = CliRunner().invoke(main, ["rank", str(path), "--format", "json"],
                                env={"PAIRWISE_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    assert result.exit_code == 0, result.output
    board = json.loads(result.output)
    assert [r["model"] for r in board["rows"]] == ["x", "y"]
    bad = tmp_path / "bad.csv"
    bad.write_text("model_left,model_right\nx,y\n")
    result = CliRunner().invoke(main, ["rank", str(bad)])
    assert result.exit_code == 1 and "choice" in result.output


def test_folder_seeding_refuses_what_it_would_otherwise_skip(runner, tmp_path, table_counts) -> None:
    tree = tmp_path / "tree"
    write_item(tree, "apparel/dress-1", ("alpha", "beta"))
    (tree / "apparel/dress-1/instruction.txt").write_text("cut out the dress")
    (tree / "apparel/dress-1/gamma.gif").write_bytes(png_bytes(77, fmt="GIF"))
    (tree / "apparel/dress-1/delta.jfif").write_bytes(png_bytes(78, fmt="JPEG"))
    before = table_counts()
    result = runner.invoke(args=["pools", "seed", str(tree), "--pool", "f"])
    assert result.exit_code == 1 and "delta.jfif: not an image file name" in result.output
    assert table_counts() == before
    (tree / "apparel/dress-1/delta.jfif").unlink()
    result = runner.invoke(args=["pools", "seed", str(tree), "--pool", "f"])
    assert result.exit_code == 0 and "3 outputs added" in result.output  # the GIF model is in


def test_links_out_of_the_folder_are_refused(runner, tmp_path, table_counts) -> None:
    tree = tmp_path / "tree"
    write_item(tree, "apparel/dress-1", ("alpha", "beta"))
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the experts")
    (tree / "apparel/dress-1/instruction.txt").symlink_to(secret)
    before = table_counts()
    result = runner.invoke(args=["pools", "seed", str(tree), "--pool", "f"])
    assert result.exit_code == 1 and "links outside the folder" in result.output
    assert table_counts() == before


def test_nul_in_a_manifest_path_is_one_line(runner, tmp_path, table_counts) -> None:
    path = write_manifest(tmp_path)
    data = json.loads(path.read_text())
    data["items"][0]["source"] = "dress-0/source\u0000.png"
    path.write_text(json.dumps(data))
    result = runner.invoke(args=["pools", "seed", str(path)])
    assert result.exit_code == 1 and "NUL" in result.output and "Traceback" not in result.output


def test_cli_input_errors_are_one_line(runner, tmp_path, make_pool) -> None:
    make_pool()
    result = runner.invoke(args=["export", "judgments", "pool-1", "-o", str(tmp_path / "missing" / "x.csv")])
    assert result.exit_code == 1 and "No such file or directory" in result.output
    assert not list(tmp_path.glob("**/*.part"))
    long_email = "a" * 250 + "@example.com"
    result = runner.invoke(args=["users", "add", long_email, "--role", "expert"], input=PASSWORD + "\n")
    assert result.exit_code == 1 and "at most 254" in result.output
    result = runner.invoke(args=["users", "add", "c@example.com", "--role", "expert", "--categories", "all"],
                           input=PASSWORD + "\n")
    assert result.exit_code == 1 and "not 'all'" in result.output
