"""A pool's tag vocabulary and rubric criteria, and the expert's answers to them. Pure.

Settings (``settings.tags``, ``settings.criteria``) and judgment fields
(``unacceptable``, ``criteria``) are checked here, so the API, the manifest and
the CLI refuse the same things with the same one-line reasons (raised as
:class:`pairwise.errors.Invalid`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import Invalid
from .vocabulary import TAGS

TAG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
CRITERION = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
ANSWERS = ("left", "right", "same")
UNACCEPTABLE = "unacceptable"  # the mark stored beside tags; so no tag may be called that
MAX_TAGS = 60
MAX_CRITERIA = 20
MAX_LABEL = 120


def _label(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_LABEL or any(
            ord(c) < 32 for c in value):
        raise Invalid(f"{where}: a label of 1-{MAX_LABEL} printable characters")
    return value.strip()


def check_tags(value: Any) -> dict[str, str] | None:
    """``settings.tags``: a list of slugs or a {slug: label} object; null for the built-in list.

    Slugs of the built-in list keep their labels when given as a list; new
    slugs get their slug, spaced, as the label.
    """
    if value is None:
        return None
    if isinstance(value, list):
        if not all(isinstance(v, str) for v in value):
            raise Invalid("settings.tags: a list of tag slugs, or an object {slug: label}")
        value = {v: TAGS.get(v, v.replace("_", " ").replace("-", " ")) for v in value}
    if not isinstance(value, dict) or not value:
        raise Invalid("settings.tags: a non-empty list of tag slugs, an object {slug: label}, or null")
    if len(value) > MAX_TAGS:
        raise Invalid(f"settings.tags: at most {MAX_TAGS} tags")
    clean = {}
    for slug, label in value.items():
        if not TAG.match(slug):
            raise Invalid(f"settings.tags: {slug[:70]!r} is not a tag slug (lowercase letters, digits, '_', '-')")
        if slug == UNACCEPTABLE:
            raise Invalid(f"settings.tags: {UNACCEPTABLE!r} is reserved (use the unacceptable mark)")
        clean[slug] = _label(label, f"settings.tags.{slug}")
    return clean


def check_criteria(value: Any) -> list[dict[str, Any]] | None:
    """``settings.criteria``: a list of names or of {name, label, required}; [] or null for none."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise Invalid("settings.criteria: a list of criteria, e.g. [{\"name\": \"texture\", \"required\": true}]")
    if len(value) > MAX_CRITERIA:
        raise Invalid(f"settings.criteria: at most {MAX_CRITERIA} criteria")
    clean: list[dict[str, Any]] = []
    for n, raw in enumerate(value):
        where = f"settings.criteria[{n}]"
        if isinstance(raw, str):
            raw = {"name": raw}
        if not isinstance(raw, dict):
            raise Invalid(f"{where}: a name or an object {{name, label, required}}")
        unknown = sorted(set(raw) - {"name", "label", "required"})
        if unknown:
            raise Invalid(f"{where}: unknown key {unknown[0]!r} (known: name, label, required)")
        name = raw.get("name")
        if not isinstance(name, str) or not CRITERION.match(name):
            raise Invalid(f"{where}.name: a lowercase slug of up to 40 letters, digits, '_', '-' (got {name!r})")
        if any(c["name"] == name for c in clean):
            raise Invalid(f"{where}.name: {name!r} is listed twice")
        label = _label(raw["label"], f"{where}.label") if "label" in raw else \
            name.replace("_", " ").replace("-", " ").capitalize()
        required = raw.get("required", False)
        if not isinstance(required, bool):
            raise Invalid(f"{where}.required: true or false")
        clean.append({"name": name, "label": label, "required": required})
    return clean or None


@dataclass(frozen=True)
class Extras:
    """The per-side unacceptable marks and the rubric answers of one judgment."""

    unacceptable_left: bool = False
    unacceptable_right: bool = False
    criteria: dict[str, str] = field(default_factory=dict)


def check_tag_names(side: str, values: Sequence[str], vocabulary: Mapping[str, str]) -> None:
    for v in values:
        if v not in vocabulary:
            raise Invalid(f"tags.{side}: unknown tag {v[:70]!r} (this pool's: {', '.join(vocabulary)})")


def parse_extras(body: Mapping[str, Any], *, both_bad: bool,
                 criteria: Sequence[Mapping[str, Any]]) -> Extras:
    """``unacceptable`` and ``criteria`` of a judgment body; Invalid names the first bad field.

    "Both unacceptable" (``both_bad``) marks both sides unacceptable, whatever
    the body says.
    """
    marks = body.get("unacceptable", {})
    if not isinstance(marks, dict) or set(marks) - {"left", "right"} or not all(
            isinstance(v, bool) for v in marks.values()):
        raise Invalid("unacceptable: expected {\"left\": true|false, \"right\": true|false}")
    answers = body.get("criteria", {})
    if not isinstance(answers, dict):
        raise Invalid("criteria: expected {\"<criterion>\": \"left\"|\"right\"|\"same\"}")
    known = {c["name"]: c for c in criteria}
    for name, answer in answers.items():
        if name not in known:
            listed = ", ".join(known) or "none"
            raise Invalid(f"criteria: unknown criterion {str(name)[:40]!r} (this pool's: {listed})")
        if answer not in ANSWERS:
            raise Invalid(f"criteria.{name}: left, right or same (got {str(answer)[:20]!r})")
    for c in criteria:
        if c.get("required") and c["name"] not in answers:
            raise Invalid(f"criteria.{c['name']}: required in this pool (left, right or same)")
    return Extras(unacceptable_left=both_bad or marks.get("left", False),
                  unacceptable_right=both_bad or marks.get("right", False),
                  criteria={c["name"]: answers[c["name"]] for c in criteria if c["name"] in answers})
