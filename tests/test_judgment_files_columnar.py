"""The columnar (pyarrow) CSV path counts exactly what the csv-module path counts."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from pairwise import judgment_files

CONTENT = (
    "\ufeffpool,category,item,model_left,model_right,choice,expert,rationale\n"
    'p,food,i1,alpha,beta,left,e1,"two\nlines, and a comma"\n'
    "p,food,i2, beta ,alpha,RIGHT,e1,plain\n"
    "\n"
    "p,apparel,i3,alpha,gamma,tie,e2,x\n"
    "p,apparel,i4,gamma,beta,both_bad,e2,y\n"
    "p,apparel,i5,gamma,alpha,left,e2,z\n"
)


@pytest.mark.parametrize("compressed", [False, True])
def test_columnar_and_standard_paths_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compressed: bool) -> None:
    path = tmp_path / ("j.csv.gz" if compressed else "j.csv")
    data = CONTENT.encode()
    path.write_bytes(gzip.compress(data) if compressed else data)
    calls = []
    original = judgment_files._read_csv_columnar
    monkeypatch.setattr(judgment_files, "_read_csv_columnar",
                        lambda *a: calls.append(1) or original(*a))
    fast = judgment_files.read_judgments(path)
    assert calls and original(path, compressed, "j") is not None  # the columnar path was taken
    monkeypatch.setattr(judgment_files, "_read_csv_columnar", lambda *a: None)
    slow = judgment_files.read_judgments(path)
    assert [(c.category, c.models) for c in fast] == [(c.category, c.models) for c in slow]
    for a, b in zip(fast, slow):
        np.testing.assert_array_equal(a.counts, b.counts)
    assert fast[0].models == ("alpha", "beta", "gamma") and fast[0].judgments == 5


def test_bad_rows_still_name_their_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("model_left,model_right,choice\nalpha,beta,left\nalpha,beta\n")
    with pytest.raises(judgment_files.JudgmentFileError, match=r"bad.csv:3: expected at least 3 columns"):
        judgment_files.read_judgments(path)
    path.write_text("model_left,model_right,choice\nalpha,beta,left\nalpha,alpha,left\n")
    with pytest.raises(judgment_files.JudgmentFileError, match=r"bad.csv:3: the same model 'alpha'"):
        judgment_files.read_judgments(path)


def test_a_rationale_with_line_breaks_cannot_forge_rows(tmp_path: Path) -> None:
    """A quoted rationale whose second line looks like a judgment row is one field, not a row."""
    path = tmp_path / "forged.csv"
    path.write_text('model_left,model_right,choice,rationale\n'
                    'alpha,beta,left,"fine\nbeta,alpha,left,forged"\n'
                    'beta,alpha,right,ok\n')
    (table,) = judgment_files.read_judgments(path)
    assert table.judgments == 2 and table.counts[0, 1, 0] == 1 and table.counts[1, 0, 1] == 1
    assert table.counts[1, 0, 0] == 0
