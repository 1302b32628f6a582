"""A dispatcher process killed with SIGKILL mid-delivery loses nothing."""

from __future__ import annotations

import collections
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from confsvc.notify.outbox import message_id_for
from tests.outbox.helpers import enqueue_plain, outbox_settings, rows
from tests.outbox.sink import SmtpSink

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 5


def _start_worker(db_url: str, sink: SmtpSink, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CONFSVC_DATABASE_URL": db_url,
        "CONFSVC_SMTP_URL": sink.url,
        "CONFSVC_MAIL_FROM": "meetings@example.com",
        "CONFSVC_DATA_DIR": str(tmp_path / "data"),
        "CONFSVC_OUTBOX_LEASE_SECONDS": str(LEASE_SECONDS),
        "CONFSVC_OUTBOX_BASE_DELAY_SECONDS": "0",
        "CONFSVC_OUTBOX_BATCH_SIZE": "5",
        "CONFSVC_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen([sys.executable, "-m", "tests.outbox.crash_worker"], cwd=ROOT, env=env)


def _unsent_rows(database: Path) -> int:
    with sqlite3.connect(database, timeout=10) as connection:
        return int(connection.execute("SELECT count(*) FROM outbox_message WHERE status != 'sent'").fetchone()[0])


def _wait(condition, timeout_s: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


async def test_sigkill_mid_run_loses_nothing(tmp_path: Path, sqlite_template: Path) -> None:
    database = tmp_path / "outbox.sqlite3"
    shutil.copy(sqlite_template, database)
    db_url = f"sqlite+aiosqlite:///{database}"
    sink = SmtpSink(delay_s=0.02)
    sink.start()
    settings = outbox_settings(db_url, tmp_path, sink.url)
    keys = await enqueue_plain(settings, 80, prefix="crash")
    expected = {message_id_for(key, domain="example.com") for key in keys}

    try:
        first = _start_worker(db_url, sink, tmp_path)
        assert _wait(lambda: len(sink.messages) >= 20, 30), "the first dispatcher delivered too little"
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        delivered_before_kill = len(sink.messages)

        second = _start_worker(db_url, sink, tmp_path)
        try:
            done = _wait(lambda: expected <= {str(m["Message-ID"]) for m in sink.messages}, 30 + LEASE_SECONDS)
            # The last outcome is committed just after the sink accepted the message.
            recorded = _wait(lambda: _unsent_rows(database) == 0, 10)
        finally:
            second.terminate()
            second.wait(timeout=10)
    finally:
        sink.stop()

    received = [str(m["Message-ID"]) for m in sink.messages]
    counts = collections.Counter(received)
    repeated = {message_id: n for message_id, n in counts.items() if n > 1}
    stored = await rows(settings)

    assert done, f"missing after restart: {sorted(expected - set(received))[:5]}"
    assert recorded, "some rows were never marked sent"
    assert 20 <= delivered_before_kill < 80
    assert set(received) == expected
    # Only the message in flight when the process died can arrive twice.
    assert len(repeated) <= 1, repeated
    assert all(n == 2 for n in repeated.values())
    assert {row.status for row in stored} == {"sent"}
