from __future__ import annotations

from typing import Any

import icalendar
from litestar.testing import AsyncTestClient

from confsvc.directory.schemas import PersonCreate
from confsvc.directory.services import DirectoryService
from confsvc.db.engine import create_engine, create_session_factory
from confsvc.settings import Settings
from tests.conftest import Account
from tests.foundation.helpers import add_bridge
from tests.outbox.helpers import dispatcher_for
from tests.outbox.sink import SmtpSink, calendar_part

CHAIR = "wang.fang@example.com"
ZH_ATTENDEE = "li.na@example.com"
EN_ATTENDEE = "john.smith@example.com"
HOST_PIN = "918273"
PARTICIPANT_PIN = "4455"


async def add_person(settings: Settings, email: str, name: str, *, locale: str | None = None) -> None:
    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            await DirectoryService(session).create(PersonCreate(email=email, name=name, locale=locale))
            await session.commit()
    finally:
        await engine.dispose()


async def deliver(settings: Settings) -> int:
    async with dispatcher_for(settings) as dispatcher:
        report = await dispatcher.run_until_idle()
    assert report.dead == 0, report.errors
    return report.sent


async def book_meeting(client: AsyncTestClient, settings: Settings, admin: Account, organiser: Account, **extra: Any) -> dict[str, Any]:
    await add_bridge(client, admin, "北京会议桥", 20, access_code="600100", host_pin=HOST_PIN, participant_pin=PARTICIPANT_PIN)
    await add_person(settings, CHAIR, "王芳")
    await add_person(settings, EN_ATTENDEE, "John Smith", locale="en")
    body: dict[str, Any] = {
        "title": "季度经营分析会",
        "starts_at": "2027-03-01T09:30:00+08:00",
        "ends_at": "2027-03-01T10:30:00+08:00",
        "chair": CHAIR,
        "attendees": [{"email": ZH_ATTENDEE, "name": "李娜"}, {"email": EN_ATTENDEE, "name": "John Smith"}],
    }
    body.update(extra)
    response = await client.post("/api/v1/meetings", json=body, headers=organiser.headers)
    assert response.status_code == 201, response.text
    return response.json()


def event_of(sink: SmtpSink, address: str, index: int = -1) -> tuple[str, icalendar.Calendar, icalendar.Event]:
    """Return method, calendar and first VEVENT of the ``index``-th mail to ``address``."""
    mails = sink.to(address)
    assert mails, f"no mail to {address}"
    method, data = calendar_part(mails[index])
    calendar = icalendar.Calendar.from_ical(data)
    events = list(calendar.walk("VEVENT"))
    return method, calendar, events[0]

