"""`pairwise rank` starts lean: no Flask, SQLAlchemy, scipy or pandas for a closed-form ranking."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys
sys.argv = ["pairwise", "rank", sys.argv[1], "--format", "csv"]
from pairwise.rank_cli import entry
try:
    entry()
except SystemExit as exc:
    assert not exc.code, exc.code
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"flask", "sqlalchemy", "scipy", "pandas", "choix"})
print("HEAVY", heavy, file=sys.stderr)
"""


def test_rank_loads_no_web_stack_and_no_scipy(tmp_path: Path) -> None:
    path = tmp_path / "j.csv"
    rows = ["model_left,model_right,choice,category"]
    for i in range(60):
        rows.append(f"m{i % 3},m{(i + 1) % 3},{('left', 'right', 'tie')[(i // 3) % 3]},{('food', 'cars')[(i // 9) % 2]}")
    path.write_text("\n".join(rows) + "\n")
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(path)], capture_output=True, text=True, check=True)
    assert "HEAVY []" in result.stderr, result.stderr
    assert result.stdout.splitlines()[0].startswith("rank,model,score,ci_low,ci_high")
    import csv
    import io
    categories = {row["category"] for row in csv.DictReader(io.StringIO(result.stdout))}
    assert categories == {"all", "cars", "food"}
