"""Rooms and equipment pages, and the check-failure chart of the administrator dashboard."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, timedelta

from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from web_helpers import People, add_meeting, sign_in

from confsvc.db.engine import create_engine, create_session_factory
from confsvc.db.models import Room
from confsvc.directory.services import DirectoryService
from confsvc.preparation.services import CheckService
from confsvc.settings import Settings

HTMX = {"HX-Request": "true"}


async def room_count(settings: Settings) -> int:
    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            return int(await session.scalar(select(func.count(Room.id))) or 0)
    finally:
        await engine.dispose()


async def create_room(client: AsyncTestClient, csrf: str, **values: str) -> uuid.UUID:
    answer = await client.post("/admin/rooms", data={"csrf_token": csrf, **values}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    match = re.fullmatch(r"/admin/rooms/([0-9a-f-]{36})\?created=1", answer.headers["location"])
    assert match, answer.headers["location"]
    return uuid.UUID(match.group(1))


async def test_web_room_create_and_edit(web_client: AsyncTestClient, settings: Settings, people: People) -> None:
    csrf = await sign_in(web_client, people.admin.email)
    room_id = await create_room(web_client, csrf, name="第三会议室", capacity="16", location="总部 6 层")
    listing = await web_client.get("/admin/rooms")
    assert f'id="room-{room_id}"' in listing.text
    assert "总部 6 层" in listing.text

    edited = await web_client.post(
        f"/admin/rooms/{room_id}", data={"csrf_token": csrf, "name": "第三会议室（大）", "capacity": "18", "location": "总部 6 层", "active": "true"},
        follow_redirects=False,
    )
    assert edited.status_code == 303
    page = await web_client.get(f"/admin/rooms/{room_id}")
    assert 'value="第三会议室（大）"' in page.text
    assert 'value="18"' in page.text


async def test_web_room_bad_input_changes_nothing(web_client: AsyncTestClient, settings: Settings, people: People) -> None:
    csrf = await sign_in(web_client, people.admin.email)
    room_id = await create_room(web_client, csrf, name="第三会议室", capacity="16", location="")
    cases = [
        ({"name": "第四会议室", "capacity": "-3"}, 400, "capacity"),
        ({"name": "第四会议室", "capacity": "many"}, 400, "capacity"),
        ({"name": "", "capacity": "8"}, 400, "name"),
        ({"name": "第三会议室", "capacity": "8"}, 409, "name"),
    ]
    for values, status, field in cases:
        answer = await web_client.post("/admin/rooms", data={"csrf_token": csrf, "location": "", **values})
        assert answer.status_code == status, (values, answer.text)
        assert f'id="err-{field}"' in answer.text, values
    assert await room_count(settings) == 1

    refused = await web_client.post(f"/admin/rooms/{room_id}", data={"csrf_token": csrf, "name": "", "capacity": "20", "location": ""})
    assert refused.status_code == 400
    assert 'id="err-name"' in refused.text
    assert 'value="第三会议室"' in (await web_client.get(f"/admin/rooms/{room_id}")).text


async def test_web_equipment_add_fault_and_repair(web_client: AsyncTestClient, settings: Settings, people: People) -> None:
    csrf = await sign_in(web_client, people.admin.email)
    room_id = await create_room(web_client, csrf, name="第三会议室", capacity="16", location="")
    headers = {**HTMX, "X-CSRF-Token": csrf}
    added = await web_client.post(
        f"/admin/rooms/{room_id}/equipment", headers=headers,
        data={"item": "speakerphone", "status": "ok", "inspected_on": "2026-01-05", "note": ""},
    )
    assert added.status_code == 200, added.text
    assert added.text.lstrip().startswith('<section id="equipment"')
    assert 'id="item-speakerphone" data-status="ok"' in added.text

    for values, field in (({"item": "Speaker Phone", "status": "ok"}, "item"), ({"item": "speakerphone", "status": "ok"}, "item"),
                          ({"item": "camera", "status": "broken"}, "status"), ({"item": "camera", "status": "ok", "inspected_on": "5.1.2026"}, "inspected_on")):
        bad = await web_client.post(f"/admin/rooms/{room_id}/equipment", headers=headers, data={"note": "", "inspected_on": "", **values})
        assert bad.status_code == 400, (values, bad.text)
        assert f'id="err-{field}"' in bad.text, values
        assert bad.text.count('<tr id="item-') == 1, values

    fault = await web_client.post(f"/admin/rooms/{room_id}/equipment/speakerphone/fault", headers=headers, data={"note": "无声音"})
    assert 'data-status="out_of_order"' in fault.text
    assert "无声音" in fault.text

    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    future = await web_client.post(f"/admin/rooms/{room_id}/equipment/speakerphone/repair", headers=headers, data={"inspected_on": tomorrow})
    assert future.status_code == 400
    assert 'id="err-speakerphone-inspected_on"' in future.text
    assert 'data-status="out_of_order"' in future.text

    repaired = await web_client.post(f"/admin/rooms/{room_id}/equipment/speakerphone/repair", headers=headers, data={"inspected_on": ""})
    assert repaired.status_code == 200
    assert 'data-status="ok"' in repaired.text
    assert "无声音" not in repaired.text
    listing = await web_client.get("/admin/rooms")
    assert "speakerphone" in listing.text


async def test_web_rooms_admin_only(web_client: AsyncTestClient, settings: Settings, people: People) -> None:
    csrf = await sign_in(web_client, people.organiser.email)
    assert (await web_client.get("/admin/rooms", follow_redirects=False)).status_code == 403
    refused = await web_client.post("/admin/rooms", data={"csrf_token": csrf, "name": "偷建会议室", "capacity": "4"}, follow_redirects=False)
    assert refused.status_code == 403
    assert await room_count(settings) == 0


async def test_web_dashboard_check_failures(web_client: AsyncTestClient, settings: Settings, people: People, bridge_id: uuid.UUID) -> None:
    meeting_id = await add_meeting(
        settings, organiser=people.organiser.email, chair=people.member.email, secretary=people.secretary.email,
        attendees=[people.member.email], title="材料未备齐的会议", starts_in=timedelta(days=1),
    )
    csrf = await sign_in(web_client, people.organiser.email)
    marked = await web_client.post(
        f"/meetings/{meeting_id}/agenda", headers={**HTMX, "X-CSRF-Token": csrf},
        data={"item-0-title": "上次决议落实", "item-0-duration": "10", "item-1-title": "预算讨论", "item-1-duration": "40",
              "item-1-materials": "1", "op": "save"},
    )
    assert marked.status_code == 200, marked.text
    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            caller = await DirectoryService(session).find_by_email(people.organiser.email)
            assert caller is not None
            run = await CheckService(session, settings).run_now(meeting_id, caller=caller)
            await session.commit()
            assert run.status == "fail"
    finally:
        await engine.dispose()

    await sign_in(web_client, people.admin.email)
    dashboard = await web_client.get("/admin")
    assert 'id="chart-checks"' in dashboard.text
    table = dashboard.text.split('id="checks-table"', 1)[1].split("</table>", 1)[0]
    assert "<td>市场部</td><td>1</td>" in table
    payload = json.loads(re.search(r'<script type="application/json" id="dashboard-data">(.*?)</script>', dashboard.text, re.DOTALL).group(1))  # type: ignore[union-attr]
    checks = payload["data"]["extra"]["checks"]
    assert checks["departments"] == ["市场部"]
    assert checks["by_check"]["materials"] == [1]
    assert payload["labels"]["check_materials"] == "会议材料"
