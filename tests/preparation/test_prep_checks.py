from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from confsvc.app import create_app
from confsvc.bridges.adapters import BridgeAdapter, HealthReport
from confsvc.db.engine import create_engine, create_session_factory
from confsvc.db.models import CheckOffsetRun, CheckRun
from confsvc.preparation.services import CheckSweep
from confsvc.settings import Settings
from tests.preparation.conftest import (
    Cast,
    add_static_bridge,
    book_meeting,
    future_start,
    outbox_rows,
    set_partstat,
)

PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


async def prepare_fully(client: AsyncTestClient, settings: Settings, cast: Cast, meeting: dict[str, Any]) -> None:
    """Give the meeting a timed agenda, the needed material and accepted replies."""
    mid = meeting["id"]
    agenda = {
        "items": [
            {"title": "经营数据回顾", "presenter": cast.attendee.email, "duration_minutes": 30, "needs_materials": True},
            {"title": "下季度计划", "duration_minutes": 20},
        ]
    }
    response = await client.put(f"/api/v1/meetings/{mid}/agenda", json=agenda, headers=cast.organiser.headers)
    assert response.status_code == 200, response.text
    upload = await client.post(
        f"/api/v1/meetings/{mid}/materials",
        files={"file": ("数据.pdf", PDF, "application/pdf")},
        data={"agenda_position": "1"},
        headers=cast.secretary.headers,
    )
    assert upload.status_code == 201, upload.text
    for email in (cast.chair.email, cast.attendee.email, "guest.one@example.com"):
        await set_partstat(settings, mid, email, "ACCEPTED")


def by_name(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in run["checks"]}


async def test_unprepared_meeting_fails_and_notifies(client: AsyncTestClient, settings: Settings, cast: Cast) -> None:
    await add_static_bridge(client, cast.admin, capacity=10)
    meeting = await book_meeting(client, cast, starts_at=future_start())
    await set_partstat(settings, meeting["id"], "guest.one@example.com", "DECLINED")

    response = await client.post(f"/api/v1/meetings/{meeting['id']}/checks/run", headers=cast.organiser.headers)
    assert response.status_code == 200, response.text
    run = response.json()
    checks = by_name(run)
    assert run["status"] == "fail"
    assert [c["name"] for c in run["checks"]] == ["agenda", "materials", "quorum", "bridge", "room"]
    assert checks["agenda"]["status"] == "fail"
    assert checks["materials"]["status"] == "pass"
    assert checks["quorum"]["status"] == "fail"
    assert checks["quorum"]["data"]["declined"] == ["guest.one@example.com"]
    assert checks["quorum"]["data"]["chair_partstat"] == "NEEDS-ACTION"
    assert checks["bridge"]["status"] == "pass", checks["bridge"]
    assert checks["room"]["status"] == "pass"
    assert run["notified"] is True

    latest = await client.get(f"/api/v1/meetings/{meeting['id']}/checks", headers=cast.attendee.headers)
    assert latest.status_code == 200
    assert latest.json()["id"] == run["id"]

    notices = await outbox_rows(settings, prefix=f"prep-check:{meeting['id']}:manual:{run['id']}")
    assert sorted(row.recipient for row in notices) == sorted([cast.organiser.email, cast.secretary.email])
    assert all(row.channel == "email" for row in notices)
    text = notices[0].payload["text"]
    assert "guest.one@example.com" in text
    assert f"/meetings/{meeting['id']}#checks" in text
    assert meeting["title"] in notices[0].payload["subject"]


async def test_checks_hidden_from_outsiders(client: AsyncTestClient, cast: Cast) -> None:
    await add_static_bridge(client, cast.admin)
    meeting = await book_meeting(client, cast, starts_at=future_start())
    missing = await client.get(f"/api/v1/meetings/{meeting['id']}/checks", headers=cast.organiser.headers)
    assert missing.status_code == 404
    hidden = await client.post(f"/api/v1/meetings/{meeting['id']}/checks/run", headers=cast.outsider.headers)
    assert hidden.status_code == 404
    denied = await client.post(f"/api/v1/meetings/{meeting['id']}/checks/run", headers=cast.attendee.headers)
    assert denied.status_code == 403


async def test_prepared_meeting_passes_without_notice(client: AsyncTestClient, settings: Settings, cast: Cast) -> None:
    await add_static_bridge(client, cast.admin)
    room = await client.post(
        "/api/v1/rooms",
        json={"name": "第一会议室", "capacity": 12, "equipment": [{"item": "speakerphone", "inspected_on": str(future_start().date() - timedelta(days=10))}]},
        headers=cast.admin.headers,
    )
    assert room.status_code == 201, room.text
    meeting = await book_meeting(client, cast, starts_at=future_start(), room_id=room.json()["id"])
    await prepare_fully(client, settings, cast, meeting)

    response = await client.post(f"/api/v1/meetings/{meeting['id']}/checks/run", headers=cast.secretary.headers)
    run = response.json()
    assert response.status_code == 200
    assert {c["name"]: c["status"] for c in run["checks"]} == {
        "agenda": "pass", "materials": "pass", "quorum": "pass", "bridge": "pass", "room": "pass",
    }
    assert run["notified"] is False
    assert await outbox_rows(settings, prefix="prep-check:") == []


async def test_out_of_order_equipment_fails_room(client: AsyncTestClient, settings: Settings, cast: Cast) -> None:
    await add_static_bridge(client, cast.admin)
    stale_day = str(future_start().date() - timedelta(days=200))
    room = (
        await client.post(
            "/api/v1/rooms",
            json={"name": "第二会议室", "equipment": [{"item": "camera", "inspected_on": stale_day}, {"item": "display"}]},
            headers=cast.admin.headers,
        )
    ).json()
    fault = await client.post(f"/api/v1/rooms/{room['id']}/equipment/display/fault", json={"note": "无信号"}, headers=cast.admin.headers)
    assert fault.status_code == 200
    meeting = await book_meeting(client, cast, starts_at=future_start(), room_id=room["id"])

    run = (await client.post(f"/api/v1/meetings/{meeting['id']}/checks/run", headers=cast.organiser.headers)).json()
    room_check = by_name(run)["room"]
    assert room_check["status"] == "fail"
    assert room_check["data"]["out_of_order"] == ["display"]
    assert room_check["data"]["not_inspected"] == ["camera", "display"]


class _FewPortsAdapter(BridgeAdapter):
    kind = "static"

    @classmethod
    def check_settings(cls, settings: Any) -> list[dict[str, str]]:
        return []

    async def provision(self, booking: Any) -> Any:
        raise NotImplementedError

    async def release(self, conference_id: str) -> None:
        return None

    async def health(self) -> HealthReport:
        return HealthReport(ok=True, detail="2 ports free", free_ports=2)


async def test_bridge_free_ports_short(client: AsyncTestClient, settings: Settings, cast: Cast, session_maker: Any) -> None:
    await add_static_bridge(client, cast.admin)
    meeting = await book_meeting(client, cast, starts_at=future_start())
    start = datetime.fromisoformat(meeting["starts_at"])

    sweep = CheckSweep(settings, session_maker, adapter_factory=lambda kind, *, settings, bridge: _FewPortsAdapter(bridge))
    report = await sweep.run_once(now=start - timedelta(minutes=30))
    assert report.runs == 1

    run = (await client.get(f"/api/v1/meetings/{meeting['id']}/checks", headers=cast.organiser.headers)).json()
    bridge = by_name(run)["bridge"]
    assert bridge["status"] == "warn"
    assert bridge["data"]["free_ports"] == 2
    assert bridge["data"]["participants"] == 4


async def count_runs(settings: Settings, meeting_id: str) -> tuple[int, int]:
    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            runs = await session.scalar(select(func.count()).select_from(CheckRun).where(CheckRun.meeting_id == uuid.UUID(meeting_id)))
            marks = await session.scalar(
                select(func.count()).select_from(CheckOffsetRun).where(CheckOffsetRun.meeting_id == uuid.UUID(meeting_id))
            )
            return int(runs or 0), int(marks or 0)
    finally:
        await engine.dispose()


async def test_sweep_runs_each_offset_once(client: AsyncTestClient, settings: Settings, cast: Cast, session_maker: Any) -> None:
    await add_static_bridge(client, cast.admin)
    meeting = await book_meeting(client, cast, starts_at=future_start(days=4))
    start = datetime.fromisoformat(meeting["starts_at"])

    # Too early for any offset.
    first = CheckSweep(settings, session_maker)
    assert (await first.run_once(now=start - timedelta(hours=30))).runs == 0

    day_before = start - timedelta(hours=23)
    report = await first.run_once(now=day_before)
    assert report.runs == 1
    assert (await first.run_once(now=day_before + timedelta(minutes=1))).runs == 0
    notices = await outbox_rows(settings, prefix=f"prep-check:{meeting['id']}:1440:")
    assert len(notices) == 2

    # A "restart": a new app instance (its own engine, never used by the client's loop)
    # on the same database runs nothing twice.
    restarted = create_app(settings, start_scheduler=False)
    second = CheckSweep(settings, restarted.state.session_maker)
    assert (await second.run_once(now=day_before + timedelta(minutes=2))).runs == 0
    assert len(await outbox_rows(settings, prefix=f"prep-check:{meeting['id']}:")) == 2

    hour_before = start - timedelta(minutes=45)
    assert (await second.run_once(now=hour_before)).runs == 1
    assert (await first.run_once(now=hour_before)).runs == 0
    await restarted.state.engine.dispose()

    assert await count_runs(settings, meeting["id"]) == (2, 2)
    assert len(await outbox_rows(settings, prefix=f"prep-check:{meeting['id']}:60:")) == 2
    # After the start nothing is due any more.
    assert (await first.run_once(now=start + timedelta(minutes=1))).due == 0


async def test_overdue_offsets_share_one_run(client: AsyncTestClient, settings: Settings, cast: Cast, session_maker: Any) -> None:
    await add_static_bridge(client, cast.admin)
    meeting = await book_meeting(client, cast, starts_at=future_start(days=2))
    start = datetime.fromisoformat(meeting["starts_at"])

    sweep = CheckSweep(settings, session_maker)
    report = await sweep.run_once(now=start - timedelta(minutes=20))
    assert report.runs == 1
    assert await count_runs(settings, meeting["id"]) == (1, 2)
    notices = await outbox_rows(settings, prefix=f"prep-check:{meeting['id']}:")
    assert {row.idempotency_key.split(":")[2] for row in notices} == {"60"}


async def test_cancelled_meeting_not_checked(client: AsyncTestClient, settings: Settings, cast: Cast, session_maker: Any) -> None:
    await add_static_bridge(client, cast.admin)
    meeting = await book_meeting(client, cast, starts_at=future_start(days=2))
    cancel = await client.post(f"/api/v1/meetings/{meeting['id']}/cancel", json={}, headers=cast.organiser.headers)
    assert cancel.status_code == 200, cancel.text
    start = datetime.fromisoformat(meeting["starts_at"])
    report = await CheckSweep(settings, session_maker).run_once(now=start - timedelta(minutes=20))
    assert report.due == 0


async def test_check_details_follow_reader_language(client: AsyncTestClient, cast: Cast) -> None:
    await add_static_bridge(client, cast.admin)
    meeting = await book_meeting(client, cast, starts_at=future_start())
    ran = await client.post(f"/api/v1/meetings/{meeting['id']}/checks/run", headers=cast.organiser.headers)
    assert ran.status_code == 200, ran.text

    english = await client.get(
        f"/api/v1/meetings/{meeting['id']}/checks", headers={**cast.organiser.headers, "Accept-Language": "en"}
    )
    chinese = await client.get(
        f"/api/v1/meetings/{meeting['id']}/checks", headers={**cast.organiser.headers, "Accept-Language": "zh-CN"}
    )

    assert by_name(english.json())["agenda"]["detail"] == "the meeting has no agenda"
    chinese_detail = by_name(chinese.json())["agenda"]["detail"]
    assert any("\u4e00" <= character <= "\u9fff" for character in chinese_detail), chinese_detail
    assert "messages" in by_name(english.json())["agenda"]["data"]
