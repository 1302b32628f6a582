from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator
from zoneinfo import ZoneInfo

import pytest
from fake_ami_server import FakeAmiServer
from fake_bbb_server import FakeBigBlueButton

from confsvc.bridges.adapters import BookingInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def booking() -> BookingInfo:
    return BookingInfo(
        booking_id="bk-1",
        meeting_uid="20250310T020000Z-7f3a@confsvc.example.com",
        title="季度经营分析会 Q1 review",
        starts_at=dt.datetime(2025, 3, 10, 10, 0, tzinfo=SHANGHAI),
        ends_at=dt.datetime(2025, 3, 10, 11, 30, tzinfo=SHANGHAI),
        organizer_name="王芳",
        organizer_email="wang.fang@example.com",
    )


@pytest.fixture
async def ami_server() -> AsyncIterator[FakeAmiServer]:
    server = FakeAmiServer(username="confsvc", secret="s3cret-ami")
    await server.start()
    yield server
    await server.stop()


from fake_bbb_server import BBB_SECRET


@pytest.fixture
def bbb_server() -> Iterator[FakeBigBlueButton]:
    server = FakeBigBlueButton(BBB_SECRET)
    server.start()
    yield server
    server.stop()
