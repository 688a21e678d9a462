from __future__ import annotations

import json
from pathlib import Path

import pytest

from pairwise.manifest import ManifestError, load

from .conftest import png_bytes


def write_item(root: Path, rel: str, models: tuple[str, ...] = ("m1", "m2")) -> None:
    folder = root / rel
    folder.mkdir(parents=True)
    (folder / "source.png").write_bytes(png_bytes(1))
    for k, m in enumerate(models):
        (folder / f"{m}.png").write_bytes(png_bytes(k + 2))


def manifest(tmp_path: Path, items: list[dict], **extra: object) -> Path:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"pool": "p", "items": items, **extra}))
    return path


def good_item(tmp_path: Path, item_id: str = "a-1") -> dict:
    write_item(tmp_path, item_id)
    return {"id": item_id, "category": "apparel", "instruction": "clean the background",
            "source": f"{item_id}/source.png",
            "outputs": {"m1": f"{item_id}/m1.png", "m2": f"{item_id}/m2.png"}}


def test_reads_a_manifest(tmp_path: Path) -> None:
    loaded = load(manifest(tmp_path, [good_item(tmp_path)], settings={"rationale_min_chars": 5}))
    assert loaded.pool == "p" and loaded.settings == {"rationale_min_chars": 5}
    (item,) = loaded.items
    assert item.id == "a-1" and set(item.outputs) == {"m1", "m2"} and item.source.is_file()


def test_reads_a_folder(tmp_path: Path) -> None:
    write_item(tmp_path, "apparel/dress-1", ("alpha", "beta", "gamma"))
    (tmp_path / "apparel/dress-1/instruction.txt").write_text("  remove the background \n")
    write_item(tmp_path, "food/soup-1")
    (tmp_path / "food/soup-1/instruction.txt").write_text("warmer light")
    loaded = load(tmp_path)
    assert [(i.category, i.id) for i in loaded.items] == [("apparel", "dress-1"), ("food", "soup-1")]
    assert loaded.items[0].instruction == "remove the background"
    assert set(loaded.items[0].outputs) == {"alpha", "beta", "gamma"}


@pytest.mark.parametrize("mutate, message", [
    (lambda i: i.update(source="../outside.png"), "escapes the manifest folder"),
    (lambda i: i.update(source="/etc/passwd"), "absolute"),
    (lambda i: i.update(source="a-1/missing.png"), "not found"),
    (lambda i: i.update(category="Real Estate"), "category"),
    (lambda i: i.update(instruction="   "), "instruction is empty"),
    (lambda i: i.update(outputs={"m1": "a-1/m1.png"}), "at least two"),
    (lambda i: i.update(id=""), "id must be"),
    (lambda i: i.pop("source"), "missing 'source'"),
    (lambda i: i["outputs"].update({"bad name!": "a-1/m1.png"}), "model name"),
])
def test_bad_entries_are_refused_with_a_reason(tmp_path: Path, mutate, message: str) -> None:
    (tmp_path / "outside.png").write_bytes(png_bytes(9))
    sub = tmp_path / "sub"
    sub.mkdir()
    item = good_item(sub)
    mutate(item)
    with pytest.raises(ManifestError, match=message) as info:
        load(manifest(sub, [item]))
    assert "\n" not in str(info.value)


def test_duplicate_ids(tmp_path: Path) -> None:
    item = good_item(tmp_path)
    with pytest.raises(ManifestError, match="duplicate item id 'a-1'"):
        load(manifest(tmp_path, [item, dict(item)]))


def test_not_json(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text("{not json")
    with pytest.raises(ManifestError, match="invalid JSON at line 1"):
        load(path)


def test_empty_and_odd_manifests(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="non-empty list"):
        load(manifest(tmp_path, []))
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"items": [], "colour": 1}))
    with pytest.raises(ManifestError, match="unknown key 'colour'"):
        load(path)


def test_folder_problems(tmp_path: Path) -> None:
    write_item(tmp_path, "apparel/dress-1")
    with pytest.raises(ManifestError, match="instruction.txt is missing"):
        load(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ManifestError, match="no items found"):
        load(empty)
