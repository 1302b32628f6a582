from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

import httpx
from litestar.testing import AsyncTestClient

from confsvc.app import create_app
from confsvc.notify.caldav import resource_name
from confsvc.settings import CalDAVSettings, Settings
from tests.conftest import create_account
from tests.invitations.radicale_support import RadicaleServer
from tests.invitations.support import HOST_PIN, add_person, deliver
from tests.foundation.helpers import add_bridge


async def _make_calendar(server: RadicaleServer, user: str) -> str:
    calendar = f"{server.base_url}{user}/calendar/"
    async with httpx.AsyncClient(auth=(server.username, server.password)) as client:
        assert (await client.request("MKCOL", f"{server.base_url}{user}/")).status_code == 201
        assert (await client.request("MKCALENDAR", calendar)).status_code == 201
    return calendar


async def _stored(server: RadicaleServer, calendar: str, uid: str) -> str:
    async with httpx.AsyncClient(auth=(server.username, server.password)) as client:
        response = await client.get(calendar + resource_name(uid))
    assert response.status_code == 200, response.text
    return response.text.replace("\r\n ", "")


async def test_meeting_written_to_organiser_and_chair_calendars(settings: Settings, tmp_path: Path, radicale: RadicaleServer) -> None:
    suffix = uuid.uuid4().hex[:8]
    organiser_email, chair_email = f"org{suffix}@example.com", f"chair{suffix}@example.com"
    organiser_calendar = await _make_calendar(radicale, f"org{suffix}")
    chair_calendar = await _make_calendar(radicale, f"chair{suffix}")
    settings = dataclasses.replace(
        settings,
        caldav=CalDAVSettings(
            url=radicale.base_url, username=radicale.username, password=radicale.password, calendar_template="{base}/{user}/calendar/"
        ),
    )
    admin = await create_account(settings, "admin@example.com", "管理员", ["admin"])
    organiser = await create_account(settings, organiser_email, "张伟", ["organiser"])
    await add_person(settings, chair_email, "王芳")
    app = create_app(settings, start_scheduler=False)
    async with AsyncTestClient(app=app) as client:
        await add_bridge(client, admin, "北京会议桥", 20, host_pin=HOST_PIN, participant_pin="4455")
        booked = await client.post(
            "/api/v1/meetings",
            json={
                "title": "季度经营分析会",
                "starts_at": "2027-03-01T09:30:00+08:00",
                "ends_at": "2027-03-01T10:30:00+08:00",
                "chair": chair_email,
                "attendees": [{"email": "guest@partner.example", "name": "访客"}],
            },
            headers=organiser.headers,
        )
        assert booked.status_code == 201, booked.text
        meeting = booked.json()
        await deliver(settings)
        created_organiser = await _stored(radicale, organiser_calendar, meeting["uid"])
        created_chair = await _stored(radicale, chair_calendar, meeting["uid"])

        moved = await client.patch(
            f"/api/v1/meetings/{meeting['id']}",
            json={"starts_at": "2027-03-01T14:00:00+08:00", "ends_at": "2027-03-01T15:00:00+08:00"},
            headers=organiser.headers,
        )
        await deliver(settings)
        updated = await _stored(radicale, organiser_calendar, meeting["uid"])

        cancelled = await client.post(f"/api/v1/meetings/{meeting['id']}/cancel", json={}, headers=organiser.headers)
        await deliver(settings)
        after_cancel = await _stored(radicale, chair_calendar, meeting["uid"])

    assert f"UID:{meeting['uid']}" in created_organiser
    assert "SEQUENCE:0" in created_organiser
    assert "METHOD:" not in created_organiser
    assert HOST_PIN not in created_organiser
    assert HOST_PIN in created_chair
    assert moved.status_code == 200
    assert "SEQUENCE:1" in updated
    assert "DTSTART;TZID=Asia/Shanghai:20270301T140000" in updated
    assert cancelled.status_code == 200
    assert "STATUS:CANCELLED" in after_cancel
    assert "SEQUENCE:2" in after_cancel
