"""The follow-up HTTP API: lifecycle and its guards, feedback, reports, exports, links, holidays."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta

from followup_support import World, add_item, build_world, token_for
from litestar.testing import AsyncTestClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from confsvc.db.models import ActionItem, AuditEvent
from confsvc.followup.links import make_action_token
from confsvc.followup.services import action_item_states_by_resolution
from confsvc.settings import Settings


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept-Language": "en"}


async def _world(sessions: async_sessionmaker[AsyncSession]) -> tuple[World, dict[str, str], list[ActionItem]]:
    async with sessions() as session:
        world = await build_world(session)
        today = datetime.now(UTC).date()
        items = [
            await add_item(session, world, due=today + timedelta(days=30), title="=HYPERLINK(\"http://x\")"),
            await add_item(session, world, due=today - timedelta(days=10), title="逾期事项", resolution="2"),
        ]
        tokens = {
            "organiser": await token_for(session, world.organiser),
            "owner": await token_for(session, world.owner),
            "co": await token_for(session, world.co_owner),
            "outsider": await token_for(session, world.outsider),
        }
        await session.commit()
    return world, tokens, items


async def test_followup_lifecycle_and_guards(fu_client: AsyncTestClient, fu_sessions: async_sessionmaker[AsyncSession]) -> None:
    _world_data, tokens, (item, _late) = await _world(fu_sessions)
    base = f"/api/v1/action-items/{item.id}"

    # Outsiders see nothing, exactly like a missing item.
    assert (await fu_client.get(base, headers=_auth(tokens["outsider"]))).status_code == 404
    assert (await fu_client.get(f"/api/v1/action-items/{uuid.uuid4()}", headers=_auth(tokens["owner"]))).status_code == 404

    # Progress: owner and co-owners only, with a multipart attachment.
    response = await fu_client.post(
        f"{base}/updates", headers=_auth(tokens["co"]),
        data={"text": "已收集各部门数据", "progress": "40"},
        files={"attachment": ("进度.txt", b"numbers", "text/plain")},
    )
    assert response.status_code == 201, response.text
    assert response.json()["attachment_name"] == "进度.txt"
    assert response.json()["attachment_size"] == 7
    denied = await fu_client.post(f"{base}/updates", headers=_auth(tokens["organiser"]), json={"text": "x", "progress": 10})
    assert denied.status_code == 403
    bad = await fu_client.post(f"{base}/updates", headers=_auth(tokens["owner"]), json={"text": "x", "progress": 120})
    assert bad.status_code == 400

    # Done: owner only, with a result; then close by the organiser, reopen, done, close again.
    assert (await fu_client.post(f"{base}/done", headers=_auth(tokens["co"]), json={"result": "完成"})).status_code == 403
    done = await fu_client.post(f"{base}/done", headers=_auth(tokens["owner"]), json={"result": "预算已复核"})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "done"
    assert done.json()["next_reminder_at"] is None
    assert (await fu_client.post(f"{base}/close", headers=_auth(tokens["owner"]))).status_code == 403
    closed = await fu_client.post(f"{base}/close", headers=_auth(tokens["organiser"]), json={"note": "核实无误"})
    assert closed.json()["status"] == "closed"
    async with fu_sessions() as session:
        audit = list(await session.scalars(select(AuditEvent).where(AuditEvent.action == "action_item.close")))
    assert [event.object_id for event in audit] == [str(item.id)]
    assert (await fu_client.post(f"{base}/reopen", headers=_auth(tokens["organiser"]), json={"reason": ""})).status_code == 400
    reopened = await fu_client.post(f"{base}/reopen", headers=_auth(tokens["organiser"]), json={"reason": "数据有误"})
    assert reopened.json()["status"] == "in_progress"
    assert reopened.json()["next_reminder_at"] is not None

    # Due date change needs a reason and keeps its history.
    new_due = (date.fromisoformat(reopened.json()["due_date"]) + timedelta(days=7)).isoformat()
    missing = await fu_client.patch(base, headers=_auth(tokens["organiser"]), json={"due_date": new_due})
    assert missing.status_code == 400
    assert missing.json()["invalid_params"][0]["name"] == "due_date_reason"
    patched = await fu_client.patch(
        base, headers=_auth(tokens["organiser"]),
        json={"due_date": new_due, "due_date_reason": "等待审计", "approver_email": "co@example.com",
              "reminder_lead_days": 3, "escalation_days": [2, 4, 0]},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["escalation_days"] == [2, 4, 0]
    assert (await fu_client.patch(base, headers=_auth(tokens["owner"]), json={"title": "x"})).status_code == 403

    # The named approver may close.
    await fu_client.post(f"{base}/done", headers=_auth(tokens["owner"]), json={"result": "重新复核"})
    assert (await fu_client.post(f"{base}/close", headers=_auth(tokens["co"]))).json()["status"] == "closed"

    detail = (await fu_client.get(base, headers=_auth(tokens["owner"]))).json()
    assert [u["kind"] for u in detail["updates"]] == ["progress", "done", "closed", "reopened", "edited", "done", "closed"]
    assert detail["due_date_changes"][0]["reason"] == "等待审计"
    assert detail["due_date_changes"][0]["new_due_date"] == new_due

    # Cancel needs a reason; a closed item cannot be cancelled.
    assert (await fu_client.post(f"{base}/cancel", headers=_auth(tokens["organiser"]), json={"reason": "不再需要"})).status_code == 409


async def test_followup_list_filters_and_reports(fu_client: AsyncTestClient, fu_sessions: async_sessionmaker[AsyncSession]) -> None:
    world, tokens, (future, late) = await _world(fu_sessions)

    listed = (await fu_client.get("/api/v1/action-items", headers=_auth(tokens["owner"]))).json()
    assert {i["id"] for i in listed} == {str(future.id), str(late.id)}
    overdue = (await fu_client.get("/api/v1/action-items?overdue=true", headers=_auth(tokens["co"]))).json()
    assert [i["id"] for i in overdue] == [str(late.id)]
    assert overdue[0]["overdue_working_days"] > 0
    by_department = (await fu_client.get("/api/v1/action-items?department=财务部", headers=_auth(tokens["organiser"]))).json()
    assert len(by_department) == 2
    assert (await fu_client.get("/api/v1/action-items?department=IT", headers=_auth(tokens["organiser"]))).json() == []
    by_meeting = await fu_client.get(f"/api/v1/action-items?meeting={world.meeting_id}&status=open", headers=_auth(tokens["organiser"]))
    assert len(by_meeting.json()) == 2
    assert (await fu_client.get("/api/v1/action-items", headers=_auth(tokens["outsider"]))).json() == []

    report = (await fu_client.get("/api/v1/action-items/report?group_by=department", headers=_auth(tokens["organiser"]))).json()
    assert report == [{"key": report[0]["key"], "label": "财务部", "open": 1, "overdue": 1, "closed_on_time": 0, "closed_late": 0}]
    by_person = (await fu_client.get("/api/v1/action-items/report?group_by=person", headers=_auth(tokens["organiser"]))).json()
    assert by_person[0]["key"] == "owner@example.com"
    assert (await fu_client.get("/api/v1/action-items/report?group_by=planet", headers=_auth(tokens["organiser"]))).status_code == 400

    exported = await fu_client.get("/api/v1/action-items/export.csv", headers=_auth(tokens["organiser"]))
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    titles = [row[3] for row in rows[1:]]
    assert "'=HYPERLINK(\"http://x\")" in titles
    assert "逾期事项" in titles

    workbook = load_workbook(io.BytesIO((await fu_client.get(
        "/api/v1/action-items/export.xlsx", headers=_auth(tokens["organiser"])
    )).content))
    cells = [row[3] for row in workbook.active.iter_rows(min_row=2, values_only=True)]
    assert "'=HYPERLINK(\"http://x\")" in cells
    assert all(not str(c).startswith("=") for c in cells)


async def test_followup_action_links(
    fu_client: AsyncTestClient, fu_settings: Settings, fu_sessions: async_sessionmaker[AsyncSession]
) -> None:
    _world_data, _tokens, (item, _late) = await _world(fu_sessions)
    expires = datetime.now(UTC) + timedelta(days=1)
    done = make_action_token(fu_settings.secret_key, action="done", action_item_id=item.id, email="owner@example.com", expires_at=expires)
    progress = make_action_token(fu_settings.secret_key, action="progress", action_item_id=item.id, email="co@example.com", expires_at=expires)

    # GET only confirms: mail scanners that fetch the link change nothing.
    page = await fu_client.get(f"/act/{done}")
    assert page.status_code == 200
    assert "<form" in page.text
    assert (await fu_client.get(f"/act/{done}", headers={"Accept": "application/json"})).json()["performed"] is False
    recorded = await fu_client.post(f"/act/{progress}", data={"text": "草稿已完成", "progress": "60"})
    assert recorded.status_code == 200, recorded.text
    performed = await fu_client.post(f"/act/{done}", json={"result": "已提交"}, headers={"Accept": "application/json"})
    assert performed.json()["performed"] is True
    assert performed.json()["status"] == "done"

    tampered = done[:-2] + ("AA" if not done.endswith("AA") else "BB")
    assert (await fu_client.get(f"/act/{tampered}")).status_code == 403
    expired = make_action_token(fu_settings.secret_key, action="done", action_item_id=item.id, email="owner@example.com",
                                expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert (await fu_client.post(f"/act/{expired}", json={"result": "x"})).status_code == 403
    # A link for someone who is not the owner cannot mark done.
    foreign = make_action_token(fu_settings.secret_key, action="done", action_item_id=_late.id, email="co@example.com", expires_at=expires)
    assert (await fu_client.post(f"/act/{foreign}", json={"result": "x"})).status_code == 403


async def test_followup_admin_holidays(fu_client: AsyncTestClient, fu_sessions: async_sessionmaker[AsyncSession]) -> None:
    from confsvc.db.models import Person

    async with fu_sessions() as session:
        admin = Person(email="admin@example.com", name="管理员", roles=["admin"])
        member = Person(email="m@example.com", name="M", roles=["member"])
        session.add_all([admin, member])
        await session.flush()
        admin_token, member_token = await token_for(session, admin), await token_for(session, member)
        await session.commit()

    assert (await fu_client.get("/api/v1/admin/holidays?year=2027", headers=_auth(member_token))).status_code == 403
    empty = (await fu_client.get("/api/v1/admin/holidays?year=2027", headers=_auth(admin_token))).json()
    assert empty["official"] is False
    assert "2027" in empty["message"]
    assert (await fu_client.get("/api/v1/admin/holidays?year=2026", headers=_auth(admin_token))).json()["official"] is True

    body = {"year": 2027, "days": [
        {"day": "2027-02-06", "working": False, "name": "春节"},
        {"day": "2027-02-20", "working": True, "name": "春节调休"},
    ]}
    stored = await fu_client.put("/api/v1/admin/holidays", json=body, headers=_auth(admin_token))
    assert stored.status_code == 200, stored.text
    assert stored.json()["source"] == "override"
    assert [d["day"] for d in stored.json()["days"]] == ["2027-02-06", "2027-02-20"]
    wrong_year = {"year": 2027, "days": [{"day": "2028-01-03", "working": False}]}
    assert (await fu_client.put("/api/v1/admin/holidays", json=wrong_year, headers=_auth(admin_token))).status_code == 400

    from confsvc.followup.calendar import load_calendar

    async with fu_sessions() as session:
        calendar = await load_calendar(session, "CN")
    assert calendar.is_working_day(date(2027, 2, 20)) is True  # a Saturday made a working day
    assert calendar.is_working_day(date(2027, 2, 6)) is False


async def test_followup_resolution_states(fu_sessions: async_sessionmaker[AsyncSession]) -> None:
    async with fu_sessions() as session:
        world = await build_world(session)
        due = date(2026, 10, 8)
        await add_item(session, world, due=due, resolution="1", status="closed")
        await add_item(session, world, due=due, resolution="1", status="cancelled")
        await add_item(session, world, due=due, resolution="2", status="closed")
        await add_item(session, world, due=due, resolution="2", status="in_progress")
        await add_item(session, world, due=due, resolution=None)
        await session.commit()
        states = await action_item_states_by_resolution(session, world.meeting_id)
    assert states["1"]["state"] == "closed"
    assert states["2"]["state"] == "open"
    assert states["2"]["in_progress"] == 1
    assert set(states) == {"1", "2"}
