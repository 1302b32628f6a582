"""The agenda in invitations: e-mails through a local SMTP server, copies in a real Radicale."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import timedelta

import icalendar
import pytest
from litestar.testing import AsyncTestClient

from confsvc.app import create_app
from confsvc.settings import CalDAVSettings, MailSettings, OutboxSettings, Settings
from tests.invitations.support import deliver
from tests.outbox.sink import SmtpSink, calendar_part, text_body
from tests.preparation.conftest import Cast, add_static_bridge, book_meeting, future_start, set_partstat
from tests.invitations.radicale_support import RadicaleServer


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


def last_request(sink: SmtpSink, address: str) -> icalendar.Event:
    mails = sink.to(address)
    assert mails, f"no mail to {address}"
    method, data = calendar_part(mails[-1])
    assert method == "REQUEST"
    return next(iter(icalendar.Calendar.from_ical(data).walk("VEVENT")))


async def test_agenda_in_every_request(
    settings: Settings, cast: Cast, radicale: RadicaleServer, smtp_sink: SmtpSink
) -> None:
    # Each run writes to its own calendars on the shared server.
    folder = f"t{uuid.uuid4().hex[:8]}"
    settings = dataclasses.replace(
        settings,
        mail=MailSettings(smtp_url=smtp_sink.url, mail_from="meetings@example.com"),
        outbox=OutboxSettings(base_delay_seconds=0),
        caldav=CalDAVSettings(
            url=radicale.base_url,
            username=radicale.username,
            password=radicale.password,
            calendar_template=f"{{base}}/{folder}-{{user}}/calendar/",
        ),
    )
    owners = {
        email: await radicale.make_calendar(f"{folder}-{email.partition('@')[0]}")
        for email in (cast.organiser.email, cast.chair.email, cast.attendee.email)
    }
    recipients = (cast.chair.email, cast.attendee.email, "guest.one@example.com")
    starts_at = future_start()

    async with AsyncTestClient(app=create_app(settings, start_scheduler=False)) as client:
        await add_static_bridge(client, cast.admin)
        meeting = await book_meeting(
            client, cast, starts_at=starts_at, agenda=[{"title": "经营数据回顾", "duration_minutes": 30}]
        )
        mid, uid = meeting["id"], meeting["uid"]
        await deliver(settings)
        for address in recipients:
            created = last_request(smtp_sink, address)
            assert "议程 / Agenda:" in str(created["DESCRIPTION"]), address
            assert "1. 经营数据回顾 (30 分钟 / min)" in str(created["DESCRIPTION"]), address
        await set_partstat(settings, mid, cast.attendee.email, "ACCEPTED")

        # An agenda change: same SEQUENCE, new DESCRIPTION in every mail and calendar copy.
        agenda = {
            "items": [
                {"title": "预算调整", "presenter": cast.attendee.email, "duration_minutes": 20},
                {"title": "其他事项", "duration_minutes": 10},
            ]
        }
        replaced = await client.put(f"/api/v1/meetings/{mid}/agenda", json=agenda, headers=cast.organiser.headers)
        assert replaced.status_code == 200, replaced.text
        assert replaced.json()["invitations_queued"] == len(recipients)
        await deliver(settings)
        for address in recipients:
            resent = last_request(smtp_sink, address)
            description = str(resent["DESCRIPTION"])
            assert int(resent["SEQUENCE"]) == 0, address
            assert f"1. 预算调整 (20 分钟 / min) — {cast.attendee.email}" in description, address
            assert "2. 其他事项" in description, address
            assert "经营数据回顾" not in description, address
            assert "预算调整" in text_body(smtp_sink.to(address)[-1]), address
        for email, calendar in owners.items():
            copy = await radicale.stored_event(calendar, uid)
            assert int(copy["SEQUENCE"]) == 0, email
            assert "预算调整" in str(copy["DESCRIPTION"]), email
            assert "经营数据回顾" not in str(copy["DESCRIPTION"]), email
        attendee_copy = await radicale.stored_event(owners[cast.attendee.email], uid)
        answers = {str(line).removeprefix("mailto:"): line.params.get("PARTSTAT") for line in attendee_copy["ATTENDEE"]}
        assert answers[cast.attendee.email] == "ACCEPTED"

        # A time change: SEQUENCE goes up, and the agenda is still in DESCRIPTION.
        moved_start = starts_at + timedelta(hours=2)
        moved = await client.patch(
            f"/api/v1/meetings/{mid}",
            json={"starts_at": moved_start.isoformat(), "ends_at": (moved_start + timedelta(hours=1)).isoformat()},
            headers=cast.organiser.headers,
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["sequence"] == 1
        await deliver(settings)
        for address in recipients:
            assert len(smtp_sink.to(address)) == 3, address
            updated = last_request(smtp_sink, address)
            assert int(updated["SEQUENCE"]) == 1, address
            assert updated["DTSTART"].dt == moved_start, address
            assert "1. 预算调整 (20 分钟 / min)" in str(updated["DESCRIPTION"]), address
        for email, calendar in owners.items():
            copy = await radicale.stored_event(calendar, uid)
            assert int(copy["SEQUENCE"]) == 1, email
            assert copy["DTSTART"].dt == moved_start, email
            assert "1. 预算调整 (20 分钟 / min)" in str(copy["DESCRIPTION"]), email
