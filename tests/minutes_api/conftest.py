"""Fixtures of the minutes API tests: a booked meeting with its people and a complete draft."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from confsvc.settings import MinutesSettings, Settings
from tests.conftest import Account, _asyncpg_dsn, create_account, make_settings

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(autouse=True)
def _empty_minutes_counters(request: pytest.FixtureRequest) -> None:
    """Clear the counters, which no foreign key ties to the truncated tables on PostgreSQL."""
    if "db_url" not in request.fixturenames:
        return
    url = request.getfixturevalue("db_url")
    if not url.startswith("postgresql"):
        return

    async def run() -> None:
        connection = await asyncpg.connect(_asyncpg_dsn(url))
        try:
            await connection.execute("TRUNCATE minutes_counter, minutes_template CASCADE")
        finally:
            await connection.close()

    asyncio.run(run())


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Test settings with PDF conversion off; the one PDF test turns it on."""
    return dataclasses.replace(make_settings(db_url, tmp_path), minutes=MinutesSettings(soffice_path="confsvc-test-no-soffice"))


@dataclass
class MeetingSetup:
    meeting_id: str
    starts_at: datetime
    organiser: Account
    secretary: Account
    chair: Account
    li_na: Account
    zhao_qiang: Account
    admin: Account
    outsider: Account

    def url(self, suffix: str = "") -> str:
        return f"/api/v1/meetings/{self.meeting_id}/minutes{suffix}"


async def create_bridge(client: AsyncTestClient, admin: Account, name: str = "总部电话会议桥", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "capacity": 50, "dial_in": [{"number": "+861012345678", "label": "北京"}], "access_code": "123456"}
    body.update(extra)
    response = await client.post("/api/v1/bridges", json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def book_meeting(
    client: AsyncTestClient, organiser: Account, *, starts_at: datetime, title: str = "2026年第4季度经营分析会", **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": title,
        "starts_at": starts_at.isoformat(),
        "ends_at": (starts_at + timedelta(hours=1)).isoformat(),
        "time_zone": "Asia/Shanghai",
        "chair": "wang.fang@example.com",
        "secretary": "chen.jing@example.com",
        "attendees": [
            {"email": "li.na@example.com", "name": "李娜"},
            {"email": "zhao.qiang@example.com", "name": "赵强"},
            {"email": "liu.yang@example.com", "name": "刘洋"},
            {"email": "wang.fang@example.com", "name": "王芳", "role": "chair"},
        ],
        "agenda": [{"title": "第4季度经营情况通报"}, {"title": "华东区 Q1 预算调整"}],
    }
    body.update(extra)
    response = await client.post("/api/v1/meetings", json=body, headers=organiser.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def make_people(settings: Settings, admin: Account, organiser: Account) -> dict[str, Account]:
    return {
        "secretary": await create_account(settings, "chen.jing@example.com", "陈静", ["secretary"]),
        "chair": await create_account(settings, "wang.fang@example.com", "王芳", ["member"]),
        "li_na": await create_account(settings, "li.na@example.com", "李娜", ["member"]),
        "zhao_qiang": await create_account(settings, "zhao.qiang@example.com", "赵强", ["member"]),
        "outsider": await create_account(settings, "outsider@example.com", "局外人", ["member"]),
    }


@pytest.fixture
async def setup(client: AsyncTestClient, settings: Settings, admin: Account, organiser: Account) -> MeetingSetup:
    people = await make_people(settings, admin, organiser)
    await create_bridge(client, admin)
    starts_at = (datetime.now(UTC) + timedelta(hours=3)).replace(second=0, microsecond=0)
    meeting = await book_meeting(client, organiser, starts_at=starts_at)
    return MeetingSetup(meeting_id=meeting["id"], starts_at=starts_at, organiser=organiser, admin=admin, **people)


def draft_body(starts_at: datetime, **changes: Any) -> dict[str, Any]:
    """A complete draft for the meeting of ``setup``: every invitee recorded."""
    body: dict[str, Any] = {
        "actual_start": (starts_at + timedelta(minutes=3)).isoformat(),
        "actual_end": (starts_at + timedelta(minutes=58)).isoformat(),
        "attendance": [
            {"email": "li.na@example.com", "status": "present", "organisation": "华东区"},
            {"email": "zhao.qiang@example.com", "status": "late", "minutes_late": 15},
            {"email": "liu.yang@example.com", "status": "represented", "proxy": "冯雪"},
            {"email": "wang.fang@example.com", "status": "present"},
            {"status": "guest", "name": "Emily Carter", "organisation": "德勤咨询", "email": "emily@deloitte.example"},
        ],
        "notes": [
            {"item": 1, "text": "全年收入完成预算的 102%，华东区增长最快。"},
            {"item": 2, "text": "建议上调 15%。"},
        ],
        "resolutions": [
            {"text": "同意华东区 Q1 预算上调 15%", "decided_by": "vote", "votes_for": 5, "votes_against": 0, "votes_abstain": 1},
            {"text": "原则通过2027年招聘计划", "decided_by": "consensus"},
        ],
        "action_items": [
            {"title": "提交华东区续约清单", "owner": "li.na@example.com", "co_owners": ["zhao.qiang@example.com"],
             "due": (starts_at + timedelta(days=10)).date().isoformat(), "resolution": 1},
            {"title": "更新 Q1 招聘计划", "owner": "liu.yang@example.com", "owner_name": "刘洋",
             "due": (starts_at + timedelta(days=14)).date().isoformat(), "resolution": 2},
        ],
    }
    body.update(changes)
    return body
