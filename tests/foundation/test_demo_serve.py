"""``confsvc serve --demo`` as a newcomer runs it: demo data, mail sink and CalDAV sandbox."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from confsvc.sandbox import free_port


@pytest.mark.slow
def test_serve_demo_delivers_invitations(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **{key: value for key, value in os.environ.items() if key != "CONFSVC_BASE_URL"},
        "CONFSVC_DATA_DIR": str(tmp_path / "var"),
        "CONFSVC_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'demo.sqlite3'}",
        "CONFSVC_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "confsvc.cli", "serve", "--demo", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        banner = ""
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and "calendar:" not in banner:
            line = process.stdout.readline() if process.stdout else ""
            if not line and process.poll() is not None:
                pytest.fail(f"serve --demo exited: {process.stderr.read() if process.stderr else ''}")
            banner += line
        token = re.search(r"admin\s+\S+\s+(cfs_\S+)", banner)
        assert token, banner

        messages: list[str] = []
        while time.monotonic() < deadline:
            try:
                page = httpx.get(f"{base}/demo/mailbox", timeout=5).text
            except httpx.TransportError:
                time.sleep(0.5)
                continue
            messages = re.findall(r"<td>REQUEST</td>", page)
            if len(messages) >= 20:
                break
            time.sleep(1)
        assert len(messages) >= 20

        headers = {"Authorization": f"Bearer {token.group(1)}"}
        meetings = httpx.get(f"{base}/api/v1/meetings", headers=headers, timeout=10).json()
        assert len(meetings) >= 6
        assert any(m["title"] == "周一经营例会" and len(m["occurrences"]) == 4 for m in meetings)
        # Without CONFSVC_BASE_URL, links point at the port served here.
        feed = httpx.get(f"{base}/api/v1/me/feed", headers=headers, timeout=10)
        assert feed.status_code == 200, feed.text
        assert f"127.0.0.1:{port}/" in feed.text
        stored = list((tmp_path / "var" / "demo-caldav").rglob("*.ics"))
        assert stored, "no event reached the demo CalDAV server"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
