from __future__ import annotations

import dataclasses
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from confsvc.settings import MailSettings, OutboxSettings, Settings
from tests.conftest import make_settings
from tests.outbox.sink import SmtpSink, free_port

MAIL_FROM = "meetings@example.com"


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def settings(db_url: str, tmp_path: Path, smtp_sink: SmtpSink) -> Settings:
    """The shared settings plus the SMTP sink, the scheduling address and instant retries."""
    return dataclasses.replace(
        make_settings(db_url, tmp_path),
        mail=MailSettings(smtp_url=smtp_sink.url, mail_from=MAIL_FROM),
        outbox=OutboxSettings(base_delay_seconds=0),
        base_url="http://confsvc.test",
    )


@dataclasses.dataclass(frozen=True)
class Radicale:
    base_url: str
    username: str = "confsvc"
    password: str = "service-secret"


@pytest.fixture(scope="session")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    """A Radicale server on 127.0.0.1 where the service account may write every calendar."""
    folder = tmp_path_factory.mktemp("radicale-invitations")
    port = free_port()
    server = Radicale(base_url=f"http://127.0.0.1:{port}/")
    (folder / "users").write_text(f"{server.username}:{server.password}\n")
    (folder / "rights").write_text(f"[service]\nuser: {server.username}\ncollection: .*\npermissions: RrWw\n")
    (folder / "config").write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n"
        f"[auth]\ntype = htpasswd\nhtpasswd_filename = {folder / 'users'}\nhtpasswd_encryption = plain\n"
        f"[rights]\ntype = from_file\nfile = {folder / 'rights'}\n"
        f"[storage]\nfilesystem_folder = {folder / 'storage'}\n[logging]\nlevel = warning\n"
    )
    log = (folder / "radicale.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "radicale", "--config", str(folder / "config")], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"Radicale did not start: {(folder / 'radicale.log').read_text()}") from None
                time.sleep(0.05)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
