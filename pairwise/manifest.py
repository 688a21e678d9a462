"""Seeding manifests: a JSON file or a category/item folder tree, read and checked.

Plain data out; nothing is imported until every entry has been checked, so a
manifest with one bad entry imports nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".gif"}
# "all" names the all-categories leaderboard, so no category may be called that.
RESERVED_CATEGORIES = {"all"}
# Text may hold line breaks and tabs, never other control characters (NUL
# cannot even be stored by PostgreSQL).
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
ITEM_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$")
CATEGORY = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/+@-]{0,199}$")
POOL_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")


class ManifestError(ValueError):
    """One line naming the file or entry and what is wrong with it."""


@dataclass(frozen=True)
class ManifestItem:
    id: str
    category: str
    instruction: str
    source: Path
    outputs: dict[str, Path]


@dataclass(frozen=True)
class Manifest:
    pool: str | None
    settings: dict[str, Any] = field(default_factory=dict)
    items: list[ManifestItem] = field(default_factory=list)
    # Admin-designated gold pairs: [{"item", "better", "worse"}], checked against the pool at seeding.
    gold: list[dict[str, Any]] = field(default_factory=list)


def check_item_fields(where: str, item_id: Any, category: Any, instruction: Any,
                      model_names: list[Any]) -> None:
    """The checks an item gets whether it arrives by manifest or by HTTP."""
    if not isinstance(item_id, str) or not ITEM_ID.fullmatch(item_id):
        raise ManifestError(f"{where}: id must be 1-200 letters, digits or ._:/- (got {item_id!r})")
    if not isinstance(category, str) or not CATEGORY.fullmatch(category):
        raise ManifestError(f"{where}: category must be a lowercase slug like 'real-estate' (got {category!r})")
    if category in RESERVED_CATEGORIES:
        raise ManifestError(f"{where}: category {category!r} is reserved for the all-categories view")
    if not isinstance(instruction, str) or not instruction.strip():
        raise ManifestError(f"{where}: instruction is empty")
    if CONTROL.search(instruction):
        raise ManifestError(f"{where}: instruction contains a control character")
    if len(instruction) > 5000:
        raise ManifestError(f"{where}: instruction is longer than 5000 characters")
    for name in model_names:
        if not isinstance(name, str) or not MODEL_NAME.fullmatch(name):
            raise ManifestError(f"{where}: model name {name!r} must be 1-200 letters, digits or ._:/+@-")


def _inside(root: Path, relative: Any, where: str) -> Path:
    if not isinstance(relative, str) or not relative:
        raise ManifestError(f"{where}: expected a relative file path, got {relative!r}")
    if "\x00" in relative:
        raise ManifestError(f"{where}: path contains a NUL character")
    if Path(relative).is_absolute():
        raise ManifestError(f"{where}: {relative!r} is absolute; paths are relative to the manifest")
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise ManifestError(f"{where}: {relative!r} escapes the manifest folder")
    if not path.is_file():
        raise ManifestError(f"{where}: file {relative!r} not found")
    return path


def load_file(path: Path) -> Manifest:
    root = path.resolve().parent
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ManifestError(f"{path.name}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path.name}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{path.name}: expected a JSON object with 'items'")
    unknown = set(data) - {"pool", "settings", "items", "gold"}
    if unknown:
        raise ManifestError(f"{path.name}: unknown key {sorted(unknown)[0]!r}")
    pool = data.get("pool")
    if pool is not None and (not isinstance(pool, str) or not POOL_NAME.fullmatch(pool)):
        raise ManifestError(f"{path.name}: pool must be a lowercase slug (got {pool!r})")
    settings = data.get("settings") or {}
    if not isinstance(settings, dict):
        raise ManifestError(f"{path.name}: settings must be an object")
    raw_items = data.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        raise ManifestError(f"{path.name}: 'items' must be a non-empty list")
    items = []
    for n, raw in enumerate(raw_items):
        where = f"{path.name}: items[{n}]"
        if not isinstance(raw, dict):
            raise ManifestError(f"{where}: expected an object")
        missing = [k for k in ("id", "category", "instruction", "source", "outputs") if k not in raw]
        if missing:
            raise ManifestError(f"{where}: missing {missing[0]!r}")
        if isinstance(raw["id"], str):
            where = f"{path.name}: item {raw['id']!r}"
        outputs = raw["outputs"]
        if not isinstance(outputs, dict) or len(outputs) < 2:
            raise ManifestError(f"{where}: 'outputs' must map at least two model names to files")
        check_item_fields(where, raw["id"], raw["category"], raw["instruction"], list(outputs))
        items.append(ManifestItem(
            id=raw["id"], category=raw["category"], instruction=raw["instruction"].strip(),
            source=_inside(root, raw["source"], f"{where} source"),
            outputs={m: _inside(root, p, f"{where} output {m!r}") for m, p in outputs.items()},
        ))
    _no_duplicates(path.name, items)
    gold = data.get("gold") or []
    if not isinstance(gold, list) or not all(isinstance(g, dict) and set(g) == {"item", "better", "worse"}
                                             for g in gold):
        raise ManifestError(f"{path.name}: gold must be a list of {{\"item\", \"better\", \"worse\"}} objects")
    return Manifest(pool=pool, settings=settings, items=items, gold=gold)


def load_folder(root: Path) -> Manifest:
    """``ROOT/<category>/<item-id>/source.<ext>, instruction.txt, <model>.<ext>``."""
    root = root.resolve()
    items = []
    for category_dir in _subfolders(root, root):
        for item_dir in _subfolders(category_dir, root):
            where = f"{category_dir.name}/{item_dir.name}"
            files = sorted(p for p in item_dir.iterdir() if not p.name.startswith("."))
            for p in files:
                if not p.resolve().is_relative_to(root):
                    raise ManifestError(f"{where}/{p.name}: links outside the folder")
                if not p.is_file():
                    raise ManifestError(f"{where}/{p.name}: unexpected folder inside an item")
                if p.name != "instruction.txt" and p.suffix.lower() not in IMAGE_SUFFIXES:
                    # Never skip silently: a model whose output is skipped vanishes from the pool.
                    raise ManifestError(f"{where}/{p.name}: not an image file name "
                                        f"({', '.join(sorted(IMAGE_SUFFIXES))}) nor instruction.txt")
            images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
            sources = [p for p in images if p.stem == "source"]
            if len(sources) != 1:
                raise ManifestError(f"{where}: needs exactly one source.<png|jpg|...> (found {len(sources)})")
            instruction_file = item_dir / "instruction.txt"
            if instruction_file not in files:
                raise ManifestError(f"{where}: instruction.txt is missing")
            try:
                instruction = instruction_file.read_text(encoding="utf-8").strip()
            except UnicodeDecodeError:
                raise ManifestError(f"{where}/instruction.txt: not UTF-8 text") from None
            outputs: dict[str, Path] = {}
            for image in images:
                if image is sources[0]:
                    continue
                if image.stem in outputs:
                    raise ManifestError(f"{where}: two outputs for model {image.stem!r}")
                outputs[image.stem] = image.resolve()
            if len(outputs) < 2:
                raise ManifestError(f"{where}: needs at least two model outputs (found {len(outputs)})")
            check_item_fields(where, item_dir.name, category_dir.name, instruction, list(outputs))
            items.append(ManifestItem(id=item_dir.name, category=category_dir.name,
                                      instruction=instruction, source=sources[0].resolve(),
                                      outputs=outputs))
    if not items:
        raise ManifestError(f"{root.name}: no items found (expected <category>/<item-id>/source.png ...)")
    _no_duplicates(root.name, items)
    return Manifest(pool=None, items=items)


def _subfolders(folder: Path, root: Path) -> list[Path]:
    found = []
    for p in sorted(folder.iterdir()):
        if p.name.startswith(".") or not p.is_dir():
            continue
        if not p.resolve().is_relative_to(root):
            raise ManifestError(f"{p.relative_to(root)}: links outside the folder")
        found.append(p)
    return found


def load(path: Path) -> Manifest:
    if path.is_dir():
        manifest_json = path / "manifest.json"
        return load_file(manifest_json) if manifest_json.is_file() else load_folder(path)
    return load_file(path)


def _no_duplicates(where: str, items: list[ManifestItem]) -> None:
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise ManifestError(f"{where}: duplicate item id {item.id!r}")
        seen.add(item.id)
