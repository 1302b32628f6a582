"""A Radicale CalDAV server on 127.0.0.1 for the tests that write invitations to calendars.

The service account may write every collection; calendars are created per test with MKCOL
and MKCALENDAR, so tests sharing one server never share a calendar.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import icalendar

from confsvc.notify.caldav import resource_name
from tests.outbox.sink import free_port


@dataclass(frozen=True)
class RadicaleServer:
    base_url: str
    username: str = "confsvc"
    password: str = "service-secret"

    async def make_calendar(self, user: str) -> str:
        """Create ``{base}/{user}/calendar/`` and return its URL."""
        calendar = f"{self.base_url}{user}/calendar/"
        async with httpx.AsyncClient(auth=(self.username, self.password)) as client:
            home = await client.request("MKCOL", f"{self.base_url}{user}/")
            assert home.status_code == 201, home.text
            created = await client.request("MKCALENDAR", calendar)
            assert created.status_code == 201, created.text
        return calendar

    async def stored_event(self, calendar: str, uid: str) -> icalendar.Event:
        """Return the master VEVENT stored under ``uid`` in ``calendar``."""
        async with httpx.AsyncClient(auth=(self.username, self.password)) as client:
            response = await client.get(calendar + resource_name(uid))
        assert response.status_code == 200, response.text
        events = [event for event in icalendar.Calendar.from_ical(response.content).walk("VEVENT") if "RECURRENCE-ID" not in event]
        assert len(events) == 1, response.text
        return events[0]


@contextmanager
def running_radicale(folder: Path) -> Iterator[RadicaleServer]:
    """Start Radicale with its files under ``folder``; stop it on exit."""
    port = free_port()
    server = RadicaleServer(base_url=f"http://127.0.0.1:{port}/")
    (folder / "users").write_text(f"{server.username}:{server.password}\n")
    (folder / "rights").write_text(f"[service]\nuser: {server.username}\ncollection: .*\npermissions: RrWw\n")
    (folder / "config").write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n"
        f"[auth]\ntype = htpasswd\nhtpasswd_filename = {folder / 'users'}\nhtpasswd_encryption = plain\n"
        f"[rights]\ntype = from_file\nfile = {folder / 'rights'}\n"
        f"[storage]\nfilesystem_folder = {folder / 'storage'}\n[logging]\nlevel = warning\n"
    )
    log_path = folder / "radicale.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", str(folder / "config")], stdout=log, stderr=subprocess.STDOUT
        )
        try:
            _wait_for_port(port, process, log_path)
            yield server
        finally:
            process.terminate()
            process.wait(timeout=10)


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Radicale exited with {process.returncode}: {log_path.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"Radicale did not listen on port {port} within 15 s: {log_path.read_text()}")
