"""Helpers of the scale tests: fresh PostgreSQL databases, service subprocesses, an SMTP
sink and a TCP proxy that can cut the service off from PostgreSQL."""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.message import EmailMessage
from pathlib import Path

import asyncpg
import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy.engine import make_url

from confsvc.db.migrate import upgrade
from confsvc.settings import DatabaseSettings

ROOT = Path(__file__).resolve().parents[2]
PG_ENV = "CONFSVC_TEST_DATABASE_URL"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def fresh_postgres(base_url: str, *, migrate: bool = True) -> AsyncIterator[str]:
    """Create an empty database next to ``base_url``, migrate it, yield its URL, drop it."""
    name = f"confsvc_scale_{uuid.uuid4().hex[:10]}"

    async def run(statement: str) -> None:
        connection = await asyncpg.connect(asyncpg_dsn(base_url))
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    await run(f'CREATE DATABASE "{name}"')
    url = make_url(base_url).set(database=name).render_as_string(hide_password=False)
    try:
        if migrate:
            # Alembic's async environment runs its own event loop, so it needs a thread.
            await asyncio.to_thread(upgrade, DatabaseSettings(url=url))
        yield url
    finally:
        await run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class _SinkHandler:
    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        parsed = email.message_from_bytes(envelope.original_content or b"", policy=email.policy.default)
        with self.lock:
            self.messages.append(parsed)  # type: ignore[arg-type]
        return "250 OK"


class SmtpSink:
    """An aiosmtpd server on 127.0.0.1 that keeps every accepted message."""

    def __init__(self, *, delay_s: float = 0.0) -> None:
        self.port = free_port()
        self.handler = _SinkHandler(delay_s)
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def message_ids(self) -> list[str]:
        with self.handler.lock:
            return [str(message["Message-ID"]) for message in self.handler.messages]


def service_env(db_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "CONFSVC_DATABASE_URL": db_url,
        "CONFSVC_DATA_DIR": str(tmp_path / "data"),
        "CONFSVC_SECRET_KEY": "scale-test-secret",
        "CONFSVC_MAIL_FROM": "meetings@example.com",
        "CONFSVC_LOG_LEVEL": "WARNING",
        "CONFSVC_RATE_LIMIT_PUBLIC_PER_MINUTE": "0",
        "CONFSVC_BOOKING_MIN_NOTICE_MINUTES": "0",
        "CONFSVC_OUTBOX_INTERVAL_SECONDS": "1",
        "CONFSVC_OUTBOX_BASE_DELAY_SECONDS": "1",
        "CONFSVC_OUTBOX_MAX_DELAY_SECONDS": "2",
        "CONFSVC_DATABASE_POOL_SIZE": "5",
    }
    env.pop(PG_ENV, None)
    env.update(extra)
    return env


class ServiceProcess:
    """One ``confsvc serve`` subprocess on a free port of 127.0.0.1."""

    def __init__(self, env: dict[str, str], *, log_path: Path, scheduler: bool = True) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        args = [sys.executable, "-m", "confsvc.cli", "serve", "--port", str(self.port)]
        if not scheduler:
            args.append("--no-scheduler")
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"service exited with {self.process.returncode}: {self.log()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"service not ready in {timeout_s}s: {self.log()[-2000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self, timeout_s: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()
        return int(self.process.returncode)


class TcpProxy:
    """A TCP relay on 127.0.0.1 to ``target``, run in its own thread and event loop.

    ``cut()`` closes every relayed connection and refuses new ones (like a database that
    went away); ``restore()`` accepts connections again. ``delay_s`` holds back each chunk
    of the server's replies by that many seconds (a slow server).
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.delay_s = 0.0

    def start(self) -> None:
        self._thread.start()
        self._call(self._listen())

    def cut(self) -> None:
        self._call(self._cut())

    def restore(self) -> None:
        self._call(self._listen())

    def stop(self) -> None:
        self._call(self._cut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def _call(self, coroutine) -> None:  # type: ignore[no-untyped-def]
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port, reuse_address=True)

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers.update({client_writer, server_writer})

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, replies: bool) -> None:
            try:
                while data := await reader.read(65536):
                    if replies and self.delay_s:
                        await asyncio.sleep(self.delay_s)
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                writer.transport.abort()
                self._writers.discard(writer)

        await asyncio.gather(
            pipe(client_reader, server_writer, replies=False), pipe(server_reader, client_writer, replies=True)
        )


class RadicaleProcess:
    """A Radicale CalDAV server on 127.0.0.1 with one service account that may write everything."""

    username = "confsvc"
    password = "scale-caldav-secret"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        users = self.folder / "users"
        users.write_text(f"{self.username}:{self.password}\n")
        config = self.folder / "config"
        config.write_text(
            f"[server]\nhosts = 127.0.0.1:{self.port}\n"
            f"[auth]\ntype = htpasswd\nhtpasswd_filename = {users}\nhtpasswd_encryption = plain\n"
            "[rights]\ntype = owner_write\n"
            f"[storage]\nfilesystem_folder = {self.folder / 'storage'}\n"
            "[logging]\nlevel = warning\n"
        )
        log = (self.folder / "radicale.log").open("wb")
        self.process = subprocess.Popen([sys.executable, "-m", "radicale", "--config", str(config)], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"Radicale did not listen on {self.port}: {(self.folder / 'radicale.log').read_text()}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
