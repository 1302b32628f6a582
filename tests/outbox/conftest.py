from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.outbox.sink import SmtpSink


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A running sink; tests that need SMTP down call ``stop()`` and ``start()``."""
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()
