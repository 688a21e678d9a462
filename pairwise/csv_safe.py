"""The one CSV writer of the service: every text cell neutralised for spreadsheets.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a line break is
read as a formula by Excel, LibreOffice and Google Sheets (CSV injection:
``=HYPERLINK(...)`` in a rationale runs when a researcher opens the export).
Such a cell gets a leading apostrophe, which spreadsheets show as "text" and
hide. A cell that already starts with an apostrophe gets one more, so
:func:`unescape` gives back the exact text (``pairwise rank`` reads exports).

Numbers stay numbers: only ``str`` cells are touched. JSON and JSONL keep the
raw text; they are not opened by spreadsheets.

Every module that writes CSV goes through :func:`writer` or
:func:`dict_writer` (``tests/test_csv_safe.py`` fails on any other
``csv.writer``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

# OWASP's list, plus a line feed and the full-width forms some spreadsheets fold.
TRIGGERS = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")
ESCAPE = "'"


def cell(value: Any) -> Any:
    """``value`` as a spreadsheet will show it, never as a formula."""
    if isinstance(value, str) and value and (value[0] in TRIGGERS or value[0] == ESCAPE):
        return ESCAPE + value
    return value


def unescape(value: str) -> str:
    """The inverse of :func:`cell` for text read back from our own CSV."""
    if len(value) > 1 and value[0] == ESCAPE and (value[1] in TRIGGERS or value[1] == ESCAPE):
        return value[1:]
    return value


class _Writer:
    def __init__(self, handle: IO[str], **kwargs: Any) -> None:
        self._writer = csv.writer(handle, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


class _DictWriter:
    def __init__(self, handle: IO[str], fieldnames: Sequence[str], **kwargs: Any) -> None:
        self._writer = csv.DictWriter(handle, fieldnames=fieldnames, **kwargs)

    def writeheader(self) -> Any:
        return self._writer.writeheader()

    def writerow(self, row: Mapping[str, Any]) -> Any:
        return self._writer.writerow({k: cell(v) for k, v in row.items()})

    def writerows(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(handle: IO[str], **kwargs: Any) -> _Writer:
    """``csv.writer`` whose every text cell is neutralised."""
    return _Writer(handle, **kwargs)


def dict_writer(handle: IO[str], fieldnames: Sequence[str], **kwargs: Any) -> _DictWriter:
    """``csv.DictWriter`` whose every text cell is neutralised."""
    return _DictWriter(handle, fieldnames, **kwargs)
