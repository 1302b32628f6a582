from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from confsvc.settings import MailSettings, OutboxSettings, Settings
from tests.conftest import make_settings
from tests.invitations.radicale_support import RadicaleServer, running_radicale
from tests.outbox.sink import SmtpSink

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


@pytest.fixture(scope="session")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RadicaleServer]:
    """A Radicale server on 127.0.0.1 where the service account may write every calendar."""
    with running_radicale(tmp_path_factory.mktemp("radicale-invitations")) as server:
        yield server
