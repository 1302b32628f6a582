"""Recording, review, approval, revision and rendering of minutes through the API."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import docx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from confsvc.db.engine import create_engine, create_session_factory
from confsvc.db.models import ActionItem
from confsvc.settings import Settings
from tests.minutes_api.conftest import MeetingSetup, draft_body

pytestmark = pytest.mark.usefixtures("db_url")


async def _action_items(settings: Settings) -> list[ActionItem]:
    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            return list(await session.scalars(select(ActionItem).order_by(ActionItem.due_date)))
    finally:
        await engine.dispose()


async def _submit_and_approve(client: AsyncTestClient, setup: MeetingSetup) -> dict:
    response = await client.post(setup.url("/submit"), headers=setup.secretary.headers)
    assert response.status_code == 200, response.text
    response = await client.post(setup.url("/approve"), headers=setup.chair.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_empty_minutes_list_invitees(client: AsyncTestClient, setup: MeetingSetup) -> None:
    response = await client.get(setup.url(), headers=setup.li_na.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["stored"] is False
    assert body["status"] == "draft"
    assert [a["email"] for a in body["attendance"]] == [
        "li.na@example.com", "zhao.qiang@example.com", "liu.yang@example.com", "wang.fang@example.com",
    ]
    assert all(a["status"] is None for a in body["attendance"])


async def test_secretary_records_and_attendee_reads(client: AsyncTestClient, setup: MeetingSetup) -> None:
    response = await client.put(setup.url(), json=draft_body(setup.starts_at), headers=setup.secretary.headers)
    assert response.status_code == 200, response.text

    read = await client.get(setup.url(), headers=setup.li_na.headers)
    body = read.json()
    assert body["stored"] is True
    statuses = {a["email"]: a["status"] for a in body["attendance"]}
    assert statuses["zhao.qiang@example.com"] == "late"
    assert statuses["emily@deloitte.example"] == "guest"
    assert [r["number"] for r in body["resolutions"]] == [1, 2]
    assert body["resolutions"][0]["votes_for"] == 5
    assert body["action_items"][0]["co_owners"] == ["zhao.qiang@example.com"]

    denied = await client.put(setup.url(), json=draft_body(setup.starts_at), headers=setup.li_na.headers)
    assert denied.status_code == 403
    hidden = await client.get(setup.url(), headers=setup.outsider.headers)
    assert hidden.status_code == 404


async def test_invalid_draft_names_every_field(client: AsyncTestClient, setup: MeetingSetup) -> None:
    body = draft_body(setup.starts_at)
    body["attendance"][1] = {"email": "zhao.qiang@example.com", "status": "present", "minutes_late": 5}
    body["attendance"][2] = {"email": "liu.yang@example.com", "status": "absent", "proxy": "冯雪"}
    body["attendance"].append({"email": "stranger@example.com", "status": "present"})
    body["resolutions"][1]["votes_for"] = 3
    body["action_items"][0]["resolution"] = 7
    body["action_items"][1]["owner"] = "not-an-address"
    body["actual_end"] = body["actual_start"]

    response = await client.put(setup.url(), json=body, headers=setup.secretary.headers)

    assert response.status_code == 400, response.text
    names = {p["name"] for p in response.json()["invalid_params"]}
    assert {
        "attendance[1].minutes_late",
        "attendance[2].proxy",
        "attendance[5].email",
        "resolutions[1].decided_by",
        "action_items[0].resolution",
        "action_items[1].owner",
        "actual_end",
    } <= names
    unchanged = await client.get(setup.url(), headers=setup.secretary.headers)
    assert unchanged.json()["stored"] is False


async def test_incomplete_draft_saved_with_warnings(client: AsyncTestClient, setup: MeetingSetup) -> None:
    body = draft_body(setup.starts_at)
    body["attendance"][1] = {"email": "zhao.qiang@example.com", "status": "late"}
    body["attendance"][2] = {"email": "liu.yang@example.com", "status": "represented"}
    body["attendance"][3] = {"email": "wang.fang@example.com", "status": "left_early"}
    body["action_items"] = [{"title": "整理客户名单"}]

    saved = await client.put(setup.url(), json=body, headers=setup.secretary.headers)

    assert saved.status_code == 200, saved.text
    warnings = {w["name"] for w in saved.json()["warnings"]}
    assert warnings == {
        "attendance[1].minutes_late",
        "attendance[2].proxy",
        "attendance[3].left_at",
        "action_items[0].owner",
        "action_items[0].due",
    }
    stored = (await client.get(setup.url(), headers=setup.secretary.headers)).json()
    assert stored["action_items"][0]["title"] == "整理客户名单"
    assert stored["action_items"][0]["owner"] == ""
    assert stored["action_items"][0]["due"] is None
    assert stored["attendance"][1]["status"] == "late"
    assert len(stored["warnings"]) == 5

    rejected = await client.post(setup.url("/submit"), headers=setup.secretary.headers)

    assert rejected.status_code == 400, rejected.text
    assert {p["name"] for p in rejected.json()["invalid_params"]} == warnings
    still_draft = (await client.get(setup.url(), headers=setup.secretary.headers)).json()
    assert still_draft["status"] == "draft"

    completed = draft_body(setup.starts_at)
    assert (await client.put(setup.url(), json=completed, headers=setup.secretary.headers)).json()["warnings"] == []
    submitted = await client.post(setup.url("/submit"), headers=setup.secretary.headers)
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["warnings"] == []


async def test_submit_rejects_missing_attendance(client: AsyncTestClient, setup: MeetingSetup) -> None:
    body = draft_body(setup.starts_at)
    body["attendance"] = body["attendance"][:2]
    await client.put(setup.url(), json=body, headers=setup.secretary.headers)

    response = await client.post(setup.url("/submit"), headers=setup.secretary.headers)

    assert response.status_code == 400
    reasons = " ".join(p["reason"] for p in response.json()["invalid_params"])
    assert "liu.yang@example.com" in reasons
    assert "wang.fang@example.com" in reasons


async def test_review_return_cosign_approve(client: AsyncTestClient, setup: MeetingSetup, settings: Settings) -> None:
    await client.put(setup.url(), json=draft_body(setup.starts_at), headers=setup.secretary.headers)
    submitted = await client.post(setup.url("/submit"), json={"cosigners": ["li.na@example.com"]}, headers=setup.secretary.headers)
    assert submitted.json()["status"] == "submitted"

    locked = await client.put(setup.url(), json=draft_body(setup.starts_at), headers=setup.secretary.headers)
    assert locked.status_code == 409
    returned = await client.post(setup.url("/return"), json={"comment": "请补充第2项的讨论要点"}, headers=setup.chair.headers)
    assert returned.status_code == 200, returned.text
    assert returned.json()["status"] == "draft"
    assert returned.json()["return_comment"] == "请补充第2项的讨论要点"

    await client.post(setup.url("/submit"), json={"cosigners": ["li.na@example.com"]}, headers=setup.secretary.headers)
    early = await client.post(setup.url("/approve"), headers=setup.chair.headers)
    assert early.status_code == 409
    assert early.json()["missing_cosigners"] == ["li.na@example.com"]
    assert await _action_items(settings) == []

    not_named = await client.post(setup.url("/cosign"), headers=setup.zhao_qiang.headers)
    assert not_named.status_code == 403
    cosigned = await client.post(setup.url("/cosign"), headers=setup.li_na.headers)
    assert cosigned.json()["cosignatures"][0]["signed_at"] is not None
    by_secretary = await client.post(setup.url("/approve"), headers=setup.secretary.headers)
    assert by_secretary.status_code == 403

    approved = await client.post(setup.url("/approve"), headers=setup.chair.headers)
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["status"] == "approved"
    assert body["number"] == f"〔{datetime.now(ZoneInfo('Asia/Shanghai')).year}〕1号"
    assert body["approved_by"] == "wang.fang@example.com"
    assert [h["action"] for h in body["history"]] == ["submitted", "returned", "submitted", "cosigned", "approved"]

    items = await _action_items(settings)
    assert [(i.title, i.owner_email, i.resolution_number, i.status) for i in items] == [
        ("提交华东区续约清单", "li.na@example.com", "1", "open"),
        ("更新 Q1 招聘计划", "liu.yang@example.com", "2", "open"),
    ]
    assert items[0].co_owner_emails == ["zhao.qiang@example.com"]
    assert items[0].owner_id == setup.li_na.id
    assert items[1].owner_id is None
    assert items[0].due_date == (setup.starts_at + timedelta(days=10)).date()


async def test_approved_minutes_are_immutable_and_revised(client: AsyncTestClient, setup: MeetingSetup, settings: Settings) -> None:
    await client.put(setup.url(), json=draft_body(setup.starts_at), headers=setup.secretary.headers)
    first = await _submit_and_approve(client, setup)
    document_v1 = (await client.get(f"/api/v1/meetings/{setup.meeting_id}/minutes.docx", headers=setup.li_na.headers)).content

    changed = draft_body(setup.starts_at)
    changed["resolutions"][1]["text"] = "原则通过2027年招聘计划（修订）"
    rejected = await client.put(setup.url(), json=changed, headers=setup.secretary.headers)
    assert rejected.status_code == 409
    assert "revise" in rejected.json()["detail"]

    revised = await client.post(setup.url("/revise"), headers=setup.secretary.headers)
    assert revised.status_code == 201, revised.text
    assert revised.json()["version"] == 2
    assert revised.json()["status"] == "draft"
    saved = await client.put(setup.url(), json=changed, headers=setup.secretary.headers)
    assert saved.status_code == 200, saved.text
    second = await _submit_and_approve(client, setup)

    assert second["version"] == 2
    assert second["number"] == first["number"]
    versions = (await client.get(setup.url("/versions"), headers=setup.li_na.headers)).json()
    assert [(v["version"], v["status"]) for v in versions] == [(1, "approved"), (2, "approved")]
    old = (await client.get(setup.url("/versions/1"), headers=setup.li_na.headers)).json()
    assert old["resolutions"][1]["text"] == "原则通过2027年招聘计划"
    old_document = await client.get(f"/api/v1/meetings/{setup.meeting_id}/minutes.docx?version=1", headers=setup.li_na.headers)
    assert old_document.content == document_v1
    new_text = "\n".join(p.text for p in docx.Document(io.BytesIO(
        (await client.get(f"/api/v1/meetings/{setup.meeting_id}/minutes.docx", headers=setup.li_na.headers)).content
    )).paragraphs)
    assert "（修订）" in new_text

    items = await _action_items(settings)
    assert sorted(i.status for i in items) == ["open", "open", "superseded", "superseded"]

    register = (await client.get("/api/v1/resolutions", params={"meeting": setup.meeting_id}, headers=setup.li_na.headers)).json()
    assert [r["text"] for r in register] == ["同意华东区 Q1 预算上调 15%", "原则通过2027年招聘计划（修订）"]
    assert all(r["minutes_version"] == 2 for r in register)


async def test_approval_is_in_audit_log(client: AsyncTestClient, setup: MeetingSetup) -> None:
    saved = await client.put(setup.url(), json=draft_body(setup.starts_at), headers=setup.secretary.headers)
    assert saved.status_code == 200, saved.text
    await _submit_and_approve(client, setup)
    audit = await client.get("/api/v1/audit", params={"action": "minutes.approve"}, headers=setup.admin.headers)
    assert audit.status_code == 200, audit.text
    entries = audit.json()
    assert len(entries) == 1
    assert entries[0]["object_id"] == setup.meeting_id
    assert entries[0]["actor_email"] == setup.chair.email
