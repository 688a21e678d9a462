"""scripts/load_test.py, in miniature: real gunicorn on SQLite, then the reconciliation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_short_sqlite_run_reconciles(tmp_path) -> None:
    out = tmp_path / "results.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "load_test.py"), "--phases", "sqlite", "--duration", "3",
         "--sqlite-experts", "2", "--workers", "2", "--items", "3", "--models", "3", "--double-click", "0",
         "--json", str(out), "--logs", str(tmp_path / "logs")],
        capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    [result] = json.loads(out.read_text())
    assert result["phase"] == "sqlite" and result["acknowledged"] > 0
    assert result["judgments_stored"] == result["acknowledged"]
    for check in ("lost", "duplicated", "stored_though_failed", "five_xx_outside_outage", "tracebacks_in_log",
                  "pairs_judged_twice_by_one_expert", "experts_who_ever_held_two_open_pairs"):
        assert result[check] == 0, check
    assert "| sqlite (sqlite) | 2 |" in run.stdout
    assert "Booting worker" in (tmp_path / "logs" / "sqlite-gunicorn.log").read_text()
