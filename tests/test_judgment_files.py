from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from pairwise.judgment_files import (
    CHOICES,
    MAX_MODELS,
    CategoryCounts,
    JudgmentFileError,
    read_judgments,
)

HEADER = "pool,category,item,model_left,model_right,choice,expert,rationale,created_at\n"


def csv_row(category: str, left: str, right: str, choice: str, rationale: str = "ok") -> str:
    return f"p,{category},item-1,{left},{right},{choice},e@x.org,{rationale},2024-05-01\n"


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    data = text.encode() if isinstance(text, str) else text
    if name.endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def jsonl(records: list[object]) -> str:
    return "".join(json.dumps(record) + "\n" for record in records)


def judgment(left: str, right: str, choice: str, category: str | None = None) -> dict:
    record = {"model_left": left, "model_right": right, "choice": choice, "rationale": "r"}
    if category is not None:
        record["category"] = category
    return record


def by_category(result: list[CategoryCounts]) -> dict[str, CategoryCounts]:
    return {view.category: view for view in result}


def cell(view: CategoryCounts, left: str, right: str, choice: str) -> int:
    i, j = view.models.index(left), view.models.index(right)
    return int(view.counts[i, j, CHOICES.index(choice)])


def refusal(path: Path) -> str:
    with pytest.raises(JudgmentFileError) as info:
        read_judgments(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path) + ":")
    return message


# --- counts ------------------------------------------------------------------

SAMPLE = [
    ("food", "b", "a", "left"),
    ("food", "b", "a", "left"),
    ("food", "a", "b", "tie"),
    ("food", "a", "c", "both_bad"),
    ("apparel", "a", "b", "right"),
    ("apparel", "c", "a", "left"),
]


def check_sample(result: list[CategoryCounts]) -> None:
    assert [view.category for view in result] == ["all", "apparel", "food"]
    views = by_category(result)
    everything = views["all"]
    assert everything.models == ("a", "b", "c")
    assert everything.counts.shape == (3, 3, 4)
    assert everything.counts.dtype == np.int64
    assert everything.judgments == 6
    assert cell(everything, "b", "a", "left") == 2
    assert cell(everything, "a", "b", "tie") == 1
    assert cell(everything, "a", "b", "right") == 1
    assert cell(everything, "a", "c", "both_bad") == 1
    assert cell(everything, "c", "a", "left") == 1
    food = views["food"]
    assert food.models == ("a", "b", "c") and food.judgments == 4
    apparel = views["apparel"]
    assert apparel.models == ("a", "b", "c") and apparel.judgments == 2
    assert cell(apparel, "a", "b", "right") == 1
    assert cell(apparel, "a", "b", "left") == 0
    # The views add up to the whole.
    assert np.array_equal(food.counts + apparel.counts, everything.counts)


@pytest.mark.parametrize("name", ["j.csv", "j.CSV", "j.csv.gz"])
def test_csv_counts(tmp_path: Path, name: str) -> None:
    text = HEADER + "".join(csv_row(*row) for row in SAMPLE)
    check_sample(read_judgments(write(tmp_path, name, text)))


@pytest.mark.parametrize("name", ["j.jsonl", "j.ndjson", "j.jsonl.gz"])
def test_jsonl_counts(tmp_path: Path, name: str) -> None:
    text = jsonl([judgment(left, right, choice, category) for category, left, right, choice in SAMPLE])
    check_sample(read_judgments(write(tmp_path, name, text)))


def test_minimal_csv_without_category(tmp_path: Path) -> None:
    text = "choice,model_right,model_left\nleft,y,x\nright,y,x\nright,x,z\n"
    result = read_judgments(write(tmp_path, "j.csv", text))
    assert [view.category for view in result] == ["all"]
    (view,) = result
    assert view.models == ("x", "y", "z")
    assert cell(view, "x", "y", "left") == 1
    assert cell(view, "x", "y", "right") == 1
    assert cell(view, "z", "x", "right") == 1
    assert view.judgments == 3


def test_each_category_lists_only_its_models(tmp_path: Path) -> None:
    text = jsonl([judgment("a", "b", "left", "food"), judgment("c", "d", "tie", "jewelry")])
    views = by_category(read_judgments(write(tmp_path, "j.jsonl", text)))
    assert views["all"].models == ("a", "b", "c", "d")
    assert views["food"].models == ("a", "b")
    assert views["jewelry"].models == ("c", "d")
    assert views["jewelry"].counts.shape == (2, 2, 4)


def test_categories_are_sorted_after_all(tmp_path: Path) -> None:
    categories = ["real-estate", "apparel", "zoo", "food"]
    text = jsonl([judgment("a", "b", "left", c) for c in categories])
    result = read_judgments(write(tmp_path, "j.jsonl", text))
    assert [view.category for view in result] == ["all", *sorted(categories)]


def test_csv_niceties(tmp_path: Path) -> None:
    # A spreadsheet BOM, CRLF line ends, padded header names and values,
    # upper-case choices, a quoted multi-line rationale, blank lines.
    text = (
        "\ufeffmodel_left , model_right,choice,rationale\r\n"
        "a,b,LEFT,\"line one\r\nline two, with a comma\"\r\n"
        "\r\n"
        " a , b , tie ,x\r\n"
        "\r\n"
    )
    (view,) = read_judgments(write(tmp_path, "j.csv", text))
    assert view.models == ("a", "b")
    assert cell(view, "a", "b", "left") == 1
    assert cell(view, "a", "b", "tie") == 1


def test_jsonl_niceties(tmp_path: Path) -> None:
    # Blank lines are skipped, unknown keys ignored, CRLF accepted.
    text = (
        "\n"
        + json.dumps(judgment("a", "b", "right") | {"tags": {"left": ["halo"]}})
        + "\r\n   \n\n"
        + json.dumps(judgment("b", "a", "both_bad"))
        + "\n\n"
    )
    (view,) = read_judgments(write(tmp_path, "j.jsonl", text))
    assert cell(view, "a", "b", "right") == 1
    assert cell(view, "b", "a", "both_bad") == 1


def test_null_category_everywhere_means_no_categories(tmp_path: Path) -> None:
    text = jsonl([judgment("a", "b", "left") | {"category": None}] * 2)
    result = read_judgments(write(tmp_path, "j.jsonl", text))
    assert [view.category for view in result] == ["all"]
    assert result[0].judgments == 2


def test_counts_match_a_simple_count(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    models = ["m0", "m1", "m2", "m3", "m4"]
    expected = np.zeros((5, 5, 4), dtype=np.int64)
    lines = [HEADER]
    for _ in range(2000):
        i, j = rng.choice(5, size=2, replace=False)
        c = int(rng.integers(4))
        expected[i, j, c] += 1
        lines.append(csv_row("food", models[i], models[j], CHOICES[c]))
    (everything, food) = read_judgments(write(tmp_path, "j.csv", "".join(lines)))
    assert np.array_equal(everything.counts, expected)
    assert np.array_equal(food.counts, expected)


# --- refusals ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["j.txt", "j.json", "j", "j.gz", "j.csv.zip", "j.tsv"])
def test_unknown_extension(tmp_path: Path, name: str) -> None:
    message = refusal(write(tmp_path, name, HEADER))
    assert "unknown file type" in message


def test_missing_file(tmp_path: Path) -> None:
    assert "cannot open" in refusal(tmp_path / "nope.csv")


@pytest.mark.parametrize("name", ["j.csv", "j.jsonl", "j.csv.gz", "j.jsonl.gz"])
@pytest.mark.parametrize("text", ["", "\n\n", "\r\n  \n"])
def test_empty_file(tmp_path: Path, name: str, text: str) -> None:
    assert refusal(write(tmp_path, name, text)).endswith(": the file is empty")


def test_header_only(tmp_path: Path) -> None:
    assert "no judgments" in refusal(write(tmp_path, "j.csv", HEADER))


@pytest.mark.parametrize("column", ["model_left", "model_right", "choice"])
def test_missing_column(tmp_path: Path, column: str) -> None:
    header = HEADER.replace(column, "something_else")
    path = write(tmp_path, "j.csv", header + csv_row("food", "a", "b", "left"))
    assert refusal(path) == f"{path}: missing column {column!r}"


@pytest.mark.parametrize("column", ["model_left", "model_right", "choice"])
def test_missing_key(tmp_path: Path, column: str) -> None:
    bad = judgment("a", "b", "left")
    del bad[column]
    path = write(tmp_path, "j.jsonl", jsonl([judgment("a", "b", "left"), bad]))
    assert refusal(path) == f"{path}:2: missing key {column!r}"


def test_unknown_choice_csv(tmp_path: Path) -> None:
    rows = [csv_row("food", "a", "b", "left"), csv_row("food", "a", "b", "draw")]
    path = write(tmp_path, "j.csv", HEADER + "".join(rows))
    message = refusal(path)
    assert message.startswith(f"{path}:3: unknown choice 'draw'")
    assert "left, right, tie or both_bad" in message


def test_unknown_choice_jsonl(tmp_path: Path) -> None:
    records = [judgment("a", "b", "left")] * 3 + [judgment("a", "b", "A")]
    path = write(tmp_path, "j.jsonl", "\n" + jsonl(records))
    assert refusal(path).startswith(f"{path}:5: unknown choice 'A'")


def test_first_bad_line_is_named(tmp_path: Path) -> None:
    rows = [csv_row("food", "a", "b", "left")] * 5
    rows[2] = csv_row("food", "a", "b", "nope")
    rows[4] = csv_row("food", "a", "a", "left")
    path = write(tmp_path, "j.csv", HEADER + "".join(rows))
    assert refusal(path).startswith(f"{path}:4: unknown choice")


def test_line_numbers_count_multiline_fields(tmp_path: Path) -> None:
    rows = csv_row("food", "a", "b", "left", rationale='"two\nlines"') + csv_row(
        "food", "", "b", "left"
    )
    path = write(tmp_path, "j.csv", HEADER + rows)
    assert refusal(path) == f"{path}:4: empty model_left"


@pytest.mark.parametrize(
    ("left", "right", "reason"),
    [("", "b", "empty model_left"), ("a", "  ", "empty model_right")],
)
def test_empty_model_name(tmp_path: Path, left: str, right: str, reason: str) -> None:
    path = write(tmp_path, "j.csv", HEADER + csv_row("food", left, right, "left"))
    assert refusal(path) == f"{path}:2: {reason}"
    path = write(tmp_path, "j.jsonl", jsonl([judgment(left, right, "left")]))
    assert refusal(path) == f"{path}:1: {reason}"


def test_same_model_on_both_sides(tmp_path: Path) -> None:
    path = write(tmp_path, "j.csv", HEADER + csv_row("food", "a", " a", "tie"))
    assert refusal(path) == f"{path}:2: the same model 'a' is on both sides"
    path = write(tmp_path, "j.jsonl", jsonl([judgment("x", "y", "left"), judgment("b", "b", "left")]))
    assert refusal(path) == f"{path}:2: the same model 'b' is on both sides"


@pytest.mark.parametrize("line", ['{"model_left": "a",', "{'model_left': 'a'}", "nan nan", "{"])
def test_malformed_json_line(tmp_path: Path, line: str) -> None:
    path = write(tmp_path, "j.jsonl", jsonl([judgment("a", "b", "left")]) + line + "\n")
    assert refusal(path).startswith(f"{path}:2: malformed JSON")


@pytest.mark.parametrize(
    ("line", "found"),
    [("[1, 2]", "an array"), ("42", "a number"), ('"left"', "a string"), ("null", "null")],
)
def test_non_object_line(tmp_path: Path, line: str, found: str) -> None:
    path = write(tmp_path, "j.jsonl", line + "\n")
    assert refusal(path) == f"{path}:1: not a JSON object (found {found})"


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("model_left", 7, "model_left must be a string, not a number"),
        ("model_right", ["b"], "model_right must be a string, not an array"),
        ("choice", None, "choice must be a string, not null"),
        ("category", {"x": 1}, "category must be a string, not an object"),
        ("category", "", "empty category"),
    ],
)
def test_wrong_json_types(tmp_path: Path, field: str, value: object, reason: str) -> None:
    bad = judgment("a", "b", "left", "food") | {field: value}
    path = write(tmp_path, "j.jsonl", jsonl([judgment("a", "b", "left", "food"), bad]))
    assert refusal(path) == f"{path}:2: {reason}"


def test_category_on_some_lines_only(tmp_path: Path) -> None:
    records = [judgment("a", "b", "left"), judgment("a", "b", "left", "food")]
    path = write(tmp_path, "j.jsonl", jsonl(records))
    assert refusal(path) == f"{path}:1: missing category (other lines have one)"


def test_empty_category_csv(tmp_path: Path) -> None:
    path = write(tmp_path, "j.csv", HEADER + csv_row("", "a", "b", "left"))
    assert refusal(path) == f"{path}:2: empty category"


def test_category_named_all_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "j.csv", HEADER + csv_row("all", "a", "b", "left"))
    assert "reserved" in refusal(path)


def test_short_csv_row(tmp_path: Path) -> None:
    path = write(tmp_path, "j.csv", HEADER + csv_row("food", "a", "b", "left") + "p,food,item\n")
    assert refusal(path) == f"{path}:3: expected at least 6 columns, found 3"


@pytest.mark.parametrize("name", ["j.csv", "j.jsonl", "j.csv.gz"])
def test_bad_encoding(tmp_path: Path, name: str) -> None:
    good = judgment("a", "b", "left")
    if name.startswith("j.csv"):
        body = (HEADER + csv_row("food", "a", "b", "left") * 3).encode()
        bad = csv_row("food", "caf\xe9", "b", "left").encode("latin-1")
        line = 5
    else:
        body = jsonl([good] * 3).encode()
        bad = b'{"model_left": "caf\xe9", "model_right": "b", "choice": "left"}\n'
        line = 4
    # Enough good lines first that the bad byte sits beyond a read buffer.
    path = write(tmp_path, name, body + bad + body)
    message = refusal(path)
    assert message.startswith(f"{path}:{line}: not UTF-8 text (byte 0xe9")


def test_bad_encoding_far_into_the_file(tmp_path: Path) -> None:
    rows = csv_row("food", "a", "b", "left") * 20_000
    data = (HEADER + rows).encode() + b"x,food,i,\xff,b,left,e,r,t\n"
    path = write(tmp_path, "j.csv", data)
    assert refusal(path).startswith(f"{path}:20002: not UTF-8 text (byte 0xff")


def test_broken_gzip(tmp_path: Path) -> None:
    path = tmp_path / "j.csv.gz"
    data = gzip.compress((HEADER + csv_row("food", "a", "b", "left") * 1000).encode())
    path.write_bytes(data[: len(data) // 2])
    assert "cannot read the file" in refusal(path)
    path.write_bytes(b"this is not gzip")
    assert "cannot read the file" in refusal(path)


def test_nul_byte_in_csv(tmp_path: Path) -> None:
    path = write(tmp_path, "j.csv", HEADER + csv_row("food", "a", "b", "left") + "a,\0\n")
    message = refusal(path)
    assert message.startswith(f"{path}:3:")


def test_too_many_models(tmp_path: Path) -> None:
    rows = "".join(f"m{i},n{i},left\n" for i in range(MAX_MODELS // 2 + 1))
    path = write(tmp_path, "j.csv", "model_left,model_right,choice\n" + rows)
    assert "too many models" in refusal(path)


def test_path_as_string_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, "j.csv", HEADER + csv_row("food", "a", "b", "left"))
    assert read_judgments(str(path))[0].judgments == 1  # type: ignore[arg-type]
