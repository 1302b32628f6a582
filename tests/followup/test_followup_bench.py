"""The sweep benchmark script runs end to end at a small size (the real run loads 1,000,000 rows)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_followup_bench_small_sqlite(tmp_path: Path) -> None:
    output = tmp_path / "bench.md"
    database = tmp_path / "bench.sqlite3"
    completed = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "followup_sweep.py"), "--items", "3000", "--due", "120",
         "--batch-size", "50", "--database-url", f"sqlite+aiosqlite:///{database}", "--output", str(output)],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = output.read_text(encoding="utf-8")
    assert "| action items | 3,000 |" in report
    assert "| reminders / escalations / outbox rows written | 120 / 120 / 360 |" in report
    assert "ix_action_item_next_reminder_at" in report  # the due query uses the index
