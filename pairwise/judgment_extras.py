"""What `pairwise rank` reads beyond the choice: unacceptable marks and rubric answers. Pure.

A judgments file (CSV or JSONL, optionally gzipped; our export or anyone's)
may carry ``unacceptable_left`` / ``unacceptable_right`` (1/0, true/false) and
rubric answers: a ``criterion_<name>`` column (CSV or JSONL) or a JSONL
``criteria`` object, each ``left | right | same`` or empty when unanswered.
Errors are :class:`JudgmentFileError` naming the file and line.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections import Counter
from contextlib import closing
from operator import itemgetter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from .artifacts import Rate, rates
from .judgment_files import (
    ALL_CATEGORIES,
    CHOICES,
    MAX_MODELS,
    REQUIRED_COLUMNS,
    CategoryCounts,
    JudgmentFileError,
    read_judgments,
)

UNACCEPTABLE_COLUMNS = ("unacceptable_left", "unacceptable_right")
CRITERION_PREFIX = "criterion_"
ANSWER_CHOICE = {"left": "left", "right": "right", "same": "tie"}
_TRUE = {"1", "true", "yes"}
_FALSE = {"0", "false", "no", ""}


def _open(path: Path) -> IO[str]:
    compressed = path.suffix.lower() == ".gz"
    binary = gzip.open(path, "rb") if compressed else open(path, "rb")  # noqa: SIM115
    return io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")


def _is_csv(path: Path) -> bool:
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    return bool(suffixes) and suffixes[-1] == ".csv"


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, record) per judgment; CSV values are strings, JSONL values as parsed."""
    label = path.name
    try:
        with _open(path) as text:
            if _is_csv(path):
                reader = csv.DictReader(text)
                for record in reader:
                    if any(v for v in record.values() if isinstance(v, str) and v.strip()):
                        yield reader.line_num, record
                return
            for number, line in enumerate(text, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise JudgmentFileError(f"{label}:{number}: malformed JSON ({exc.msg})") from None
                if not isinstance(record, dict):
                    raise JudgmentFileError(f"{label}:{number}: not a JSON object")
                yield number, record
    except (OSError, UnicodeDecodeError, EOFError, csv.Error) as exc:
        raise JudgmentFileError(f"{label}: cannot read the file ({' '.join(str(exc).split())[:200]})") from None


def _first_keys(path: Path) -> set[str]:
    with closing(_records(path)) as records:  # closes the file at once, not when collected
        for _line, record in records:
            return set(record)
    return set()


def _name(record: dict[str, Any], column: str, label: str, line: int) -> str:
    value = record.get(column)
    if not isinstance(value, str) or not value.strip():
        raise JudgmentFileError(f"{label}:{line}: empty or missing {column}")
    return value.strip()


def _category(record: dict[str, Any]) -> str | None:
    value = record.get("category")
    return value.strip() if isinstance(value, str) and value.strip() else None


Unacceptable = dict[str, dict[str, Rate]]


def read_with_unacceptable(path: Path) -> tuple[list[CategoryCounts], Unacceptable | None]:
    """``read_judgments(path)`` and ``read_unacceptable(path)`` in one pass over the file.

    Our exports carry the unacceptable columns, and parsing a million CSV rows
    is most of `pairwise rank`'s time, so they are tallied together: distinct
    (left, right, choice, marks, category) tuples, each checked once. Anything
    odd falls back to the two readers, whose errors name the line.
    """
    path = Path(path)
    keys = _first_keys(path)
    if not set(UNACCEPTABLE_COLUMNS) <= keys or not set(REQUIRED_COLUMNS) <= keys:
        return read_judgments(path), read_unacceptable(path)
    try:
        tally = _fast_tally(path, with_choice=True)
        has_category = "category" in keys if _is_csv(path) else any(key[5] is not None for key in tally)
        choices: Counter[tuple[str, str, int, str | None]] = Counter()
        shown: dict[str, Counter[str]] = {}
        marked: dict[str, Counter[tuple[str, str]]] = {}
        for (left, right, choice, flag_left, flag_right, category), n in tally.items():
            left, right = _checked_name(left), _checked_name(right)
            category = _category({"category": category})
            if left == right or (category is None) == has_category or category == ALL_CATEGORIES:
                raise _BadName
            index = CHOICES.index(choice.strip().lower())
            choices[left, right, index, category] += n
            _count(shown, marked, left, right, _flag(flag_left, ""), _flag(flag_right, ""), category, n)
        if len({m for key in choices for m in key[:2]}) > MAX_MODELS:
            raise _BadName
    except (JudgmentFileError, _BadName, IndexError, KeyError, TypeError, ValueError, AttributeError):
        return read_judgments(path), read_unacceptable(path)  # the slow readers name the bad line
    views: dict[str, Counter[tuple[str, str, int, str | None]]] = {ALL_CATEGORIES: choices}
    for key, n in choices.items():
        if key[3] is not None:
            views.setdefault(key[3], Counter())[key] += n
    order = [ALL_CATEGORIES, *sorted(v for v in views if v != ALL_CATEGORIES)]
    return [_counts(view, views[view]) for view in order], _rates(shown, marked)


def _rates(shown: dict[str, Counter[str]], marked: dict[str, Counter[tuple[str, str]]]) -> Unacceptable:
    return {view: {r.model: r for r in rates(sorted(counts), ["unacceptable"], counts, marked.get(view, {}))}
            for view, counts in shown.items()}


def read_unacceptable(path: Path) -> Unacceptable | None:
    """category (and "all") -> model -> unacceptable rate; None when the file has no such columns.

    Like ``judgment_files``, a fast pass tallies the distinct (left, right,
    marks, category) tuples in C and checks each distinct tuple once; only a
    bad file is read again row by row, to name the first bad line.
    """
    path = Path(path)
    if not set(UNACCEPTABLE_COLUMNS) <= _first_keys(path):
        return None
    shown: dict[str, Counter[str]] = {}
    marked: dict[str, Counter[tuple[str, str]]] = {}
    try:
        tally = _fast_tally(path)
        for (left, right, flag_left, flag_right, category), n in tally.items():
            _count(shown, marked, _checked_name(left), _checked_name(right), _flag(flag_left, ""),
                   _flag(flag_right, ""), _category({"category": category}), n)
    except (JudgmentFileError, _BadName, IndexError, KeyError, TypeError, ValueError, AttributeError):
        shown, marked = {}, {}
        with closing(_records(path)) as records:
            _tally_unacceptable(path, records, shown, marked)
    return _rates(shown, marked)


class _BadName(Exception):
    pass


def _checked_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _BadName
    return value.strip()


def _fast_tally(path: Path, with_choice: bool = False) -> Counter[tuple[Any, ...]]:
    """Distinct (left, right[, choice], unacceptable left, right, category) tuples and their counts."""
    columns = ("model_left", "model_right", *(("choice",) if with_choice else ()), *UNACCEPTABLE_COLUMNS)
    with _open(path) as text:
        if _is_csv(path):
            rows = csv.reader(text)
            header = [name.strip() for name in next(rows)]
            index = [header.index(c) for c in columns]
            index.append(header.index("category") if "category" in header else len(header))
            width = len(header)
            # The extra field stands in for a missing category column.
            padded = (row[:width] + [""] for row in rows if row)
            return Counter(map(itemgetter(*index), padded))
        records = map(json.loads, filter(str.strip, text))
        return Counter((*(r[c] for c in columns), r.get("category")) for r in records)


def _count(shown: dict[str, Counter[str]], marked: dict[str, Counter[tuple[str, str]]], left: str, right: str,
           flag_left: bool, flag_right: bool, category: str | None, n: int = 1) -> None:
    views = [ALL_CATEGORIES] + ([category] if category else [])
    for model, flag in ((left, flag_left), (right, flag_right)):
        for view in views:
            shown.setdefault(view, Counter())[model] += n
            if flag:
                marked.setdefault(view, Counter())[model, "unacceptable"] += n


def _tally_unacceptable(path: Path, records: Iterator[tuple[int, dict[str, Any]]],
                        shown: dict[str, Counter[str]], marked: dict[str, Counter[tuple[str, str]]]) -> None:
    for line, record in records:
        left = _name(record, "model_left", path.name, line)
        right = _name(record, "model_right", path.name, line)
        flags = [_flag(record.get(column), f"{path.name}:{line}: {column}") for column in UNACCEPTABLE_COLUMNS]
        _count(shown, marked, left, right, flags[0], flags[1], _category(record))


def _flag(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise JudgmentFileError(f"{where}: expected 1/0 or true/false (got {str(value)[:20]!r})")


def read_criterion(path: Path, criterion: str) -> list[CategoryCounts]:
    """Counts of one criterion's answers, shaped like ``judgment_files.read_judgments``.

    "same" counts as a tie; unanswered rows are left out.
    """
    path = Path(path)
    column = CRITERION_PREFIX + criterion
    tally: Counter[tuple[str, str, int, str | None]] = Counter()
    with closing(_records(path)) as records:
        seen_column = _tally_criterion(path, records, criterion, tally)
    if not seen_column:
        raise JudgmentFileError(f"{path.name}: no answers to criterion {criterion!r} "
                                f"(expected a {column} column or a 'criteria' object)")
    if not tally:
        raise JudgmentFileError(f"{path.name}: criterion {criterion!r} was never answered")
    views: dict[str, Counter[tuple[str, str, int, str | None]]] = {ALL_CATEGORIES: tally}
    for key, n in tally.items():
        if key[3] is not None:
            views.setdefault(key[3], Counter())[key] += n
    order = [ALL_CATEGORIES, *sorted(v for v in views if v != ALL_CATEGORIES)]
    return [_counts(view, views[view]) for view in order]


def _tally_criterion(path: Path, records: Iterator[tuple[int, dict[str, Any]]], criterion: str,
                     tally: Counter[tuple[str, str, int, str | None]]) -> bool:
    """Count one criterion's answers into ``tally``; True if the file has the criterion at all."""
    column = CRITERION_PREFIX + criterion
    seen_column = False
    for line, record in records:
        answers = record.get("criteria")
        if column in record:
            answer, seen_column = record[column], True
        elif isinstance(answers, dict):
            answer, seen_column = answers.get(criterion), seen_column or criterion in answers
        else:
            answer = None
        if answer is None or (isinstance(answer, str) and not answer.strip()):
            continue
        if not isinstance(answer, str) or answer.strip() not in ANSWER_CHOICE:
            raise JudgmentFileError(f"{path.name}:{line}: {column}: left, right or same (got {str(answer)[:20]!r})")
        left = _name(record, "model_left", path.name, line)
        right = _name(record, "model_right", path.name, line)
        if left == right:
            raise JudgmentFileError(f"{path.name}:{line}: the same model {left!r} is on both sides")
        choice = CHOICES.index(ANSWER_CHOICE[answer.strip()])
        tally[left, right, choice, _category(record)] += 1
    return seen_column


def _counts(category: str, tally: Counter[tuple[str, str, int, str | None]]) -> CategoryCounts:
    models = tuple(sorted({m for key in tally for m in key[:2]}))
    index = {m: i for i, m in enumerate(models)}
    counts = np.zeros((len(models), len(models), len(CHOICES)), dtype=np.int64)
    for (left, right, choice, _), n in tally.items():
        counts[index[left], index[right], choice] += n
    return CategoryCounts(category=category, models=models, counts=counts)
