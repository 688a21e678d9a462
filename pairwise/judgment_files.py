"""Read judgment exports (CSV or JSONL, optionally gzipped) into count arrays.

This feeds ``pairwise rank FILE``: ranking offline, without a database, from
our own exports or comparisons collected elsewhere. Only ``model_left``,
``model_right`` and ``choice`` are needed; ``category``, when present, ranks
each category apart. Other columns are ignored.

Files can hold millions of rows, so the first pass runs in C. For CSV,
pyarrow's multithreaded reader parses only the needed columns as dictionary
(category) arrays and numpy counts the distinct (left, right, choice,
category) codes; when pyarrow is missing or refuses the file, csv/json
parse, ``operator.itemgetter`` picks the fields and ``collections.Counter``
tallies the distinct tuples. Validation then looks at each *distinct* tuple once. Only
when something is wrong does a second, row-by-row pass find the first bad
line, so errors still name their line.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray

from . import csv_safe

__all__ = [
    "ALL_CATEGORIES",
    "CHOICES",
    "MAX_MODELS",
    "REQUIRED_COLUMNS",
    "CategoryCounts",
    "JudgmentFileError",
    "read_judgments",
]

CHOICES: tuple[str, ...] = ("left", "right", "tie", "both_bad")
REQUIRED_COLUMNS: tuple[str, ...] = ("model_left", "model_right", "choice")
ALL_CATEGORIES = "all"
"""Name of the all-categories view, so no file category may be called that."""

MAX_MODELS = 1000
"""Counts are dense K x K x 4 arrays: 1000 models already take 32 MB."""

_CHOICE_INDEX = {choice: index for index, choice in enumerate(CHOICES)}
_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}

# (model_left, model_right, choice, category) as read, before any checking;
# category is None when the file has none.
_RawKey = tuple[Any, Any, Any, Any]
# (model_left, model_right, choice index, category) after checking.
_Key = tuple[str, str, int, str | None]


class JudgmentFileError(ValueError):
    """A judgments file that cannot be ranked; the message is one line.

    ``"<file>:<line>: <reason>"``, or ``"<file>: <reason>"`` when the problem
    belongs to the whole file.
    """


@dataclass(frozen=True)
class CategoryCounts:
    """Judgment counts for one category (or ``"all"``).

    ``counts[i, j, c]`` is how many judgments had ``models[i]`` on the left,
    ``models[j]`` on the right and choice ``CHOICES[c]``.
    """

    category: str
    models: tuple[str, ...]
    counts: NDArray[np.int64]

    @property
    def judgments(self) -> int:
        return int(self.counts.sum())


def read_judgments(path: Path) -> list[CategoryCounts]:
    """Count the judgments in a ``.csv`` / ``.jsonl`` / ``.ndjson`` file (or ``.gz``).

    Returns the all-categories view first, then one entry per category in
    sorted order (none when the file has no ``category``). Each entry lists
    only the models judged in it, sorted by name.

    Raises
    ------
    JudgmentFileError
        Unknown extension, unreadable or empty file, missing column, bad
        encoding, malformed JSON, unknown choice, empty model name, the same
        model on both sides, and similar; line-specific problems name the
        first offending line.
    """
    path = Path(path)
    label = _one_line(str(path))
    kind, compressed = _kind_of(path, label)
    if kind == "csv":
        fast = _read_csv_columnar(path, compressed, label)
        if fast is not None:
            return fast
    try:
        if kind == "csv":
            raw, has_category = _tally_csv(path, compressed, label)
        else:
            raw, has_category = _tally_jsonl(path, compressed, label)
        tally = _check_distinct(raw, has_category)
    except JudgmentFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - the slow pass explains it with a line
        _find_first_error(path, kind, compressed, label, has_category=None)
        raise JudgmentFileError(f"{label}: cannot read the file ({_describe(exc)})") from None
    if tally is None:
        _find_first_error(path, kind, compressed, label, has_category)
        raise JudgmentFileError(f"{label}: the file has invalid rows")  # pragma: no cover
    return _aggregate(tally, has_category, label)


# --- the fast pass ------------------------------------------------------------


def _kind_of(path: Path, label: str) -> tuple[str, bool]:
    suffixes = [s.lower() for s in path.suffixes]
    compressed = bool(suffixes) and suffixes[-1] == ".gz"
    if compressed:
        suffixes.pop()
    kind = _SUFFIXES.get(suffixes[-1]) if suffixes else None
    if kind is None:
        shown = "".join(path.suffixes) or "no extension"
        raise JudgmentFileError(
            f"{label}: unknown file type ({shown}); expected .csv, .jsonl or .ndjson, "
            "optionally gzipped (.csv.gz)"
        )
    return kind, compressed


def _open_binary(path: Path, compressed: bool, label: str) -> IO[bytes]:
    try:
        return gzip.open(path, "rb") if compressed else open(path, "rb")  # noqa: SIM115
    except OSError as exc:
        raise JudgmentFileError(f"{label}: cannot open the file ({_describe(exc)})") from None


def _open_text(path: Path, compressed: bool, label: str) -> IO[str]:
    # utf-8-sig: spreadsheet programs start their CSV exports with a BOM.
    # newline="": the csv module handles line endings inside quoted fields.
    return io.TextIOWrapper(
        _open_binary(path, compressed, label), encoding="utf-8-sig", newline=""
    )


def _read_csv_columnar(path: Path, compressed: bool, label: str) -> list[CategoryCounts] | None:
    """The count tables via pyarrow and numpy, or None to take the standard-library path.

    Each distinct value of a column (a dictionary entry) is checked once;
    rows are only ever touched by numpy. Anything unusual (pyarrow missing,
    ragged rows, bad UTF-8, an empty file, an invalid value, the same model on
    both sides) returns None: the csv-module path then reads the file and, if
    it is bad, names the line.
    """
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv
    except ImportError:  # pragma: no cover - pyarrow is a dependency; keep working without it
        return None
    try:
        with _open_text(path, compressed, label) as text:
            header = next((row for row in filter(None, csv.reader(text)) if not _blank(row)), None)
    except (UnicodeDecodeError, OSError, EOFError, csv.Error):
        return None  # the standard path says what is wrong, and where
    if header is None:
        return None
    columns = _columns(header, label)  # raises for a missing required column
    names = [header[i] for i in columns]
    if any(name != name.strip() for name in names) or len(set(header)) != len(header):
        return None
    has_category = len(names) == 4
    dictionary = pa.dictionary(pa.int32(), pa.string())
    try:
        source = pa.input_stream(str(path), compression="gzip" if compressed else None)
        # newlines_in_values: rationales may hold quoted line breaks; without it a
        # crafted rationale could split into rows that parse (and count) wrongly.
        table = pacsv.read_csv(
            source,
            read_options=pacsv.ReadOptions(block_size=8 << 20),  # few chunks: cheap to stitch
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(include_columns=names,
                                                 column_types={name: dictionary for name in names}),
        ).unify_dictionaries()
    except (pa.ArrowException, OSError, ValueError):
        return None
    if table.num_rows == 0 or any(table.column(name).null_count for name in names):
        return None

    def column(name: str) -> tuple[list[str], NDArray[np.int64]]:
        chunks = table.column(name).chunks
        values = chunks[0].dictionary.to_pylist()
        indices = pa.concat_arrays([chunk.indices for chunk in chunks])
        # straight from the buffer (no nulls, checked above): Array.to_numpy imports pandas
        index = np.frombuffer(indices.buffers()[1], dtype=np.int32, count=len(indices), offset=4 * indices.offset)
        return values, index.astype(np.int64)

    # models: one id per stripped name, shared by both sides
    left_values, left = column(names[0])
    right_values, right = column(names[1])
    # csv_safe.unescape: our exports put an apostrophe before formula-like text.
    stripped = [csv_safe.unescape(v).strip() for v in left_values + right_values]
    if not all(stripped):
        return None
    models = sorted(set(stripped))
    if len(models) > MAX_MODELS:
        raise JudgmentFileError(f"{label}: too many models ({len(models):,}); at most {MAX_MODELS:,} are supported")
    model_id = {m: i for i, m in enumerate(models)}
    left = np.array([model_id[v] for v in stripped[: len(left_values)]], dtype=np.int64)[left]
    right = np.array([model_id[v] for v in stripped[len(left_values):]], dtype=np.int64)[right]
    if np.any(left == right):
        return None
    choice_values, choice = column(names[2])
    choice_id = [_CHOICE_INDEX.get(csv_safe.unescape(v).strip().lower(), -1) for v in choice_values]
    if min(choice_id, default=-1) < 0:
        return None
    choice = np.array(choice_id, dtype=np.int64)[choice]
    k, c = len(models), len(CHOICES)
    cell = (left * k + right) * c + choice
    views = [(ALL_CATEGORIES, np.bincount(cell, minlength=k * k * c))]
    if has_category:
        category_values, category = column(names[3])
        stripped_categories = [csv_safe.unescape(v).strip() for v in category_values]
        if not all(stripped_categories) or ALL_CATEGORIES in stripped_categories:
            return None
        categories = sorted(set(stripped_categories))
        category_id = np.array([categories.index(v) for v in stripped_categories], dtype=np.int64)[category]
        per_category = np.bincount(category_id * (k * k * c) + cell, minlength=len(categories) * k * k * c)
        views += [(name, per_category[i * k * k * c:(i + 1) * k * k * c]) for i, name in enumerate(categories)]
    out = []
    for name, flat in views:
        counts = flat.reshape(k, k, c).astype(np.int64)
        judged = np.flatnonzero(counts.sum(axis=(1, 2)) + counts.sum(axis=(0, 2)))
        out.append(CategoryCounts(category=name, models=tuple(models[i] for i in judged),
                                  counts=np.ascontiguousarray(counts[np.ix_(judged, judged)])))
    return out


def _tally_csv(path: Path, compressed: bool, label: str) -> tuple[Counter[_RawKey], bool]:
    with _open_text(path, compressed, label) as text:
        rows = filter(None, csv.reader(text))  # filter(None) drops blank lines
        header = next((row for row in rows if not _blank(row)), None)
        if header is None:
            raise JudgmentFileError(f"{label}: the file is empty")
        columns = _columns(header, label)
        has_category = len(columns) == 4
        if not has_category:
            columns.append(columns[0])  # a placeholder, replaced by None below
        pick = itemgetter(*columns)
        raw: Counter[_RawKey] = Counter(map(pick, rows))
    if not raw:
        raise JudgmentFileError(f"{label}: no judgments (the file has only a header)")
    raw = _unescape_cells(raw)
    if not has_category:
        raw = _drop_category(raw)
    return raw, has_category


def _unescape_cells(raw: Counter[_RawKey]) -> Counter[_RawKey]:
    # Our CSV exports put an apostrophe before text a spreadsheet would read
    # as a formula ("-v2" -> "'-v2"); take it off again, per distinct key.
    out: Counter[_RawKey] = Counter()
    for key, count in raw.items():
        out[tuple(csv_safe.unescape(v) if isinstance(v, str) else v for v in key)] += count  # type: ignore[index]
    return out


def _blank(row: list[str]) -> bool:
    return not any(field.strip() for field in row)


def _columns(header: list[str], label: str) -> list[int]:
    """Indices of the required columns, then of ``category`` if present."""
    names = [name.strip() for name in header]
    indices = []
    for column in REQUIRED_COLUMNS:
        if column not in names:
            raise JudgmentFileError(f"{label}: missing column {column!r}")
        indices.append(names.index(column))
    if "category" in names:
        indices.append(names.index("category"))
    return indices


def _drop_category(raw: Counter[_RawKey]) -> Counter[_RawKey]:
    dropped: Counter[_RawKey] = Counter()
    for (left, right, choice, _), count in raw.items():
        dropped[left, right, choice, None] += count
    return dropped


def _json_key(record: dict[str, Any]) -> _RawKey:
    return (
        record["model_left"],
        record["model_right"],
        record["choice"],
        record.get("category"),
    )


def _tally_jsonl(path: Path, compressed: bool, label: str) -> tuple[Counter[_RawKey], bool]:
    with _open_text(path, compressed, label) as text:
        records = map(json.loads, filter(str.strip, text))  # str.strip skips blank lines
        # A non-object line or a missing key raises here; the slow pass says which.
        raw: Counter[_RawKey] = Counter(map(_json_key, records))
    if not raw:
        raise JudgmentFileError(f"{label}: the file is empty")
    has_category = any(key[3] is not None for key in raw)
    return raw, has_category


def _check_distinct(raw: Counter[_RawKey], has_category: bool) -> Counter[_Key] | None:
    """Checked and tidied tallies, or None when any distinct key is invalid."""
    tally: Counter[_Key] = Counter()
    for key, count in raw.items():
        try:
            tally[_checked(key, has_category)] += count
        except _Invalid:
            return None
    return tally


# --- checks shared by both passes --------------------------------------------


class _Invalid(Exception):
    """A row-level reason, given its line number by the caller."""


def _checked(key: _RawKey, has_category: bool) -> _Key:
    left, right, choice, category = key
    for column, value in (("model_left", left), ("model_right", right), ("choice", choice)):
        if not isinstance(value, str):
            raise _Invalid(f"{column} must be a string, not {_json_type(value)}")
    # Stray spaces around names are an artefact of hand-made files, not a
    # different model.
    left, right, choice = left.strip(), right.strip(), choice.strip()
    if not left:
        raise _Invalid("empty model_left")
    if not right:
        raise _Invalid("empty model_right")
    if left == right:
        raise _Invalid(f"the same model {_show(left)} is on both sides")
    index = _CHOICE_INDEX.get(choice.lower())
    if index is None:
        raise _Invalid(f"unknown choice {_show(choice)} (expected left, right, tie or both_bad)")
    if not has_category:
        return left, right, index, None
    if category is None:
        raise _Invalid("missing category (other lines have one)")
    if not isinstance(category, str):
        raise _Invalid(f"category must be a string, not {_json_type(category)}")
    category = category.strip()
    if not category:
        raise _Invalid("empty category")
    if category == ALL_CATEGORIES:
        raise _Invalid(f"category {ALL_CATEGORIES!r} is reserved for the all-categories view")
    return left, right, index, category


# --- the slow pass: find the first bad line -----------------------------------


def _find_first_error(
    path: Path, kind: str, compressed: bool, label: str, has_category: bool | None
) -> None:
    """Re-read row by row and raise JudgmentFileError at the first bad line.

    ``has_category`` is None when the fast pass did not get far enough to
    know; then the first row decides (only JSONL rows can differ).
    """
    try:
        with _open_binary(path, compressed, label) as binary:
            lines = _decoded_lines(binary, label)
            if kind == "csv":
                _check_csv_rows(lines, label)
            else:
                _check_jsonl_rows(lines, label, has_category)
    except (OSError, EOFError) as exc:  # gzip damage, a vanished file
        raise JudgmentFileError(f"{label}: cannot read the file ({_describe(exc)})") from None


def _decoded_lines(binary: IO[bytes], label: str) -> Iterator[tuple[int, str]]:
    """(line number, text) per physical line, decoding each line apart.

    Decoding line by line pins a bad byte to its line, which a buffered
    text reader cannot do.
    """
    decode = codecs.getincrementaldecoder("utf-8")().decode
    for number, raw in enumerate(binary, 1):
        try:
            text = decode(raw, final=True)
        except UnicodeDecodeError as exc:
            raise JudgmentFileError(
                f"{label}:{number}: not UTF-8 text (byte 0x{raw[exc.start]:02x} "
                f"at column {exc.start + 1})"
            ) from None
        if number == 1:
            text = text.removeprefix("\ufeff")
        yield number, text


def _check_csv_rows(lines: Iterator[tuple[int, str]], label: str) -> None:
    current = 0

    def texts() -> Iterator[str]:
        nonlocal current
        for current, text in lines:  # noqa: B007 - read by the loop below
            yield text

    reader = csv.reader(texts())
    columns: list[int] | None = None
    while True:
        # A quoted field may span lines; name the line the row starts on.
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise JudgmentFileError(f"{label}:{current}: bad CSV ({_describe(exc)})") from None
        if not row or (columns is None and _blank(row)):
            continue
        if columns is None:
            columns = _columns(row, label)
            continue
        if len(row) <= max(columns):
            raise JudgmentFileError(
                f"{label}:{start}: expected at least {max(columns) + 1} columns, "
                f"found {len(row)}"
            )
        category = row[columns[3]] if len(columns) == 4 else None
        key = (row[columns[0]], row[columns[1]], row[columns[2]], category)
        try:
            _checked(key, has_category=len(columns) == 4)
        except _Invalid as exc:
            raise JudgmentFileError(f"{label}:{start}: {exc}") from None


def _check_jsonl_rows(
    lines: Iterable[tuple[int, str]], label: str, has_category: bool | None
) -> None:
    for number, text in lines:
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            raise JudgmentFileError(
                f"{label}:{number}: malformed JSON ({exc.msg} at column {exc.colno})"
            ) from None
        except RecursionError:
            raise JudgmentFileError(f"{label}:{number}: malformed JSON (nested too deeply)") from None
        if not isinstance(record, dict):
            raise JudgmentFileError(
                f"{label}:{number}: not a JSON object (found {_json_type(record)})"
            )
        for column in REQUIRED_COLUMNS:
            if column not in record:
                raise JudgmentFileError(f"{label}:{number}: missing key {column!r}")
        key = _json_key(record)
        if has_category is None:
            has_category = key[3] is not None
        try:
            _checked(key, has_category)
        except _Invalid as exc:
            raise JudgmentFileError(f"{label}:{number}: {exc}") from None


# --- the result ---------------------------------------------------------------


def _aggregate(
    tally: Counter[_Key], has_category: bool, label: str
) -> list[CategoryCounts]:
    names = sorted({model for key in tally for model in key[:2]})
    if len(names) > MAX_MODELS:
        raise JudgmentFileError(
            f"{label}: too many models ({len(names):,}); at most {MAX_MODELS:,} are supported"
        )
    views: dict[str, Counter[_Key]] = {ALL_CATEGORIES: Counter()}
    for key, count in tally.items():
        views[ALL_CATEGORIES][key] += count
        if has_category:
            assert key[3] is not None
            views.setdefault(key[3], Counter())[key] += count
    order = [ALL_CATEGORIES, *sorted(c for c in views if c != ALL_CATEGORIES)]
    return [_counts(category, views[category]) for category in order]


def _counts(category: str, tally: Counter[_Key]) -> CategoryCounts:
    models = tuple(sorted({model for key in tally for model in key[:2]}))
    index = {model: i for i, model in enumerate(models)}
    counts = np.zeros((len(models), len(models), len(CHOICES)), dtype=np.int64)
    for (left, right, choice, _), count in tally.items():
        counts[index[left], index[right], choice] += count
    return CategoryCounts(category=category, models=models, counts=counts)


# --- messages -----------------------------------------------------------------


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _show(value: str) -> str:
    """A value quoted for a one-line message (repr escapes newlines)."""
    return repr(value if len(value) <= 60 else value[:57] + "...")


def _describe(exc: BaseException) -> str:
    return _one_line(str(exc) or type(exc).__name__)[:200]


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --- style covariates (pairwise rank --style) ----------------------------------


@dataclass(frozen=True, eq=False)
class StyleRows:
    """Judgment rows with per-side image statistics, for style control."""

    model_left: NDArray[np.object_]
    model_right: NDArray[np.object_]
    choice: NDArray[np.intp]
    category: NDArray[np.object_] | None
    differences: NDArray[np.float64]  # (N, C): left minus right
    names: tuple[str, ...]
    skipped: int  # rows without statistics

    def for_view(self, category: str, models: tuple[str, ...]) -> tuple[NDArray, NDArray, NDArray, NDArray]:
        """(left, right, choice, differences) of one view, model indices into ``models``."""
        index = {m: i for i, m in enumerate(models)}
        keep = np.ones(self.choice.size, bool)
        if category != ALL_CATEGORIES and self.category is not None:
            keep &= self.category == category
        left = np.array([index.get(m, -1) for m in self.model_left[keep]], dtype=np.intp)
        right = np.array([index.get(m, -1) for m in self.model_right[keep]], dtype=np.intp)
        known = (left >= 0) & (right >= 0)
        return left[known], right[known], self.choice[keep][known], self.differences[keep][known]


def read_style_rows(path: Path, stats: tuple[str, ...]) -> StyleRows:
    """The rows of a judgments file that carry ``left_<stat>`` and ``right_<stat>`` for every stat.

    Read after :func:`read_judgments` has validated the file, so only the
    statistics columns can still be wrong here.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    path = Path(path)
    label = _one_line(str(path))
    kind, compressed = _kind_of(path, label)
    wanted = [f"{side}_{stat}" for side in ("left", "right") for stat in stats]
    source = pa.input_stream(str(path), compression="gzip" if compressed else None)
    try:
        if kind == "csv":
            import pyarrow.csv as pacsv
            table = pacsv.read_csv(source, parse_options=pacsv.ParseOptions(newlines_in_values=True))
        else:
            import pyarrow.json as pajson
            table = pajson.read_json(source)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise JudgmentFileError(f"{label}: cannot read the style columns ({_describe(exc)})") from None
    missing = [c for c in wanted if c not in table.column_names]
    if missing:
        raise JudgmentFileError(
            f"{label}: --style needs the columns {', '.join(wanted)} (missing {missing[0]}); "
            "export judgments after `pairwise image-stats POOL`")
    values = []
    for name in wanted:
        column = table.column(name)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            column = pc.cast(pc.if_else(pc.equal(column, ""), None, column), pa.float64())
        try:
            values.append(column.cast(pa.float64()).to_numpy(zero_copy_only=False))
        except (pa.ArrowException, ValueError):
            raise JudgmentFileError(f"{label}: column {name} must hold numbers") from None
    matrix = np.column_stack(values) if values else np.zeros((table.num_rows, 0))
    complete = np.isfinite(matrix).all(axis=1)
    n = len(stats)

    def strings(name: str) -> NDArray[np.object_]:
        return np.array([str(v).strip() for v in table.column(name).to_pylist()], dtype=object)[complete]

    choice_values = [str(v).strip().lower() for v in table.column("choice").to_pylist()]
    choice = np.array([_CHOICE_INDEX.get(v, -1) for v in choice_values], dtype=np.intp)[complete]
    category = strings("category") if "category" in table.column_names else None
    return StyleRows(strings("model_left"), strings("model_right"), choice, category,
                     matrix[complete, :n] - matrix[complete, n:], tuple(stats), int((~complete).sum()))
