"""Settings from PAIRWISE_* variables: every documented one is read, typed like its default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pairwise.config import DEFAULTS, from_environment

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_variable_in_the_readme_is_read() -> None:
    documented = set(re.findall(r"^\| `PAIRWISE_([A-Z_]+)` \|", README.read_text(), flags=re.M))
    assert documented and documented <= set(DEFAULTS), documented - set(DEFAULTS)


def test_values_are_typed_like_their_defaults() -> None:
    found = from_environment({"PAIRWISE_TILE_CACHE_IMAGES": "7", "PAIRWISE_SQLITE_BUSY_SECONDS": "0.5",
                              "PAIRWISE_HOURLY_RATE": "40", "PAIRWISE_SESSION_COOKIE_SECURE": "true",
                              "PAIRWISE_MAX_ARCHIVE_MB": ""})
    assert found == {"TILE_CACHE_IMAGES": 7, "SQLITE_BUSY_SECONDS": 0.5, "HOURLY_RATE": 40.0,
                     "SESSION_COOKIE_SECURE": True}


def test_a_bad_number_is_a_one_line_exit() -> None:
    with pytest.raises(SystemExit, match="PAIRWISE_TILE_CACHE_IMAGES: not a valid value"):
        from_environment({"PAIRWISE_TILE_CACHE_IMAGES": "many"})
