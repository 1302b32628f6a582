"""Fixtures for the CalDAV writer: a real Radicale server and a scripted CalDAV server.

Radicale runs once per session on 127.0.0.1 with htpasswd (plain) authentication. The
service account ``confsvc`` may write every collection; ``outsider`` may only read, to
produce real 403 replies. Each test gets its own calendar, created with MKCOL and
MKCALENDAR. ``scripted_server`` starts ScriptedServer instances (see caldav_fakes).
"""

from __future__ import annotations

import itertools
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from caldav_fakes import Handler, RadicaleServer, ScriptedServer, free_port

# Radicale


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Radicale exited with {process.returncode}: {log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"Radicale did not listen on port {port} within 15 s: {log.read_text()}")


@pytest.fixture(scope="session")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RadicaleServer]:
    folder = tmp_path_factory.mktemp("radicale")
    port = free_port()

    users = folder / "users"
    server = RadicaleServer(base_url=f"http://127.0.0.1:{port}/", storage=folder / "storage")
    users.write_text(
        f"{server.username}:{server.password}\n"
        f"{server.outsider_username}:{server.outsider_password}\n"
    )
    rights = folder / "rights"
    rights.write_text(
        "[service-account]\n"
        f"user: {server.username}\n"
        "collection: .*\n"
        "permissions: RrWw\n"
        "\n"
        "[everyone-reads]\n"
        "user: .+\n"
        "collection: .*\n"
        "permissions: Rr\n"
    )
    config = folder / "config"
    config.write_text(
        "[server]\n"
        f"hosts = 127.0.0.1:{port}\n"
        "[auth]\n"
        "type = htpasswd\n"
        f"htpasswd_filename = {users}\n"
        "htpasswd_encryption = plain\n"
        "[rights]\n"
        "type = from_file\n"
        f"file = {rights}\n"
        "[storage]\n"
        f"filesystem_folder = {folder / 'storage'}\n"
        "[logging]\n"
        "level = warning\n"
    )

    log = folder / "radicale.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", str(config)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_port(port, process, log)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


_calendar_numbers = itertools.count(1)


@pytest.fixture
async def radicale_calendar(radicale: RadicaleServer) -> AsyncIterator[str]:
    """Create ``/person-N/calendar/`` for one test and return its absolute URL."""
    number = next(_calendar_numbers)
    principal = f"{radicale.base_url}person-{number}/"
    calendar = f"{principal}calendar/"
    async with httpx.AsyncClient(auth=(radicale.username, radicale.password)) as client:
        made_principal = await client.request("MKCOL", principal)
        assert made_principal.status_code == 201, made_principal.text
        made_calendar = await client.request("MKCALENDAR", calendar)
        assert made_calendar.status_code == 201, made_calendar.text
    yield calendar


@pytest.fixture
async def scripted_server() -> AsyncIterator[Callable[[Handler], Awaitable[ScriptedServer]]]:
    """Return a factory that starts a ScriptedServer. All of them stop after the test."""
    started: list[ScriptedServer] = []

    async def start(handler: Handler) -> ScriptedServer:
        server = ScriptedServer(handler)
        await server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.stop()
