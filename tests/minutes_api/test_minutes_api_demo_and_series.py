"""The minutes demo data, and minutes per occurrence of a recurring meeting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from confsvc.db.engine import create_engine, create_session_factory
from confsvc.db.models import ActionItem
from confsvc.minutes.demo import load_minutes_demo
from confsvc.settings import Settings
from tests.conftest import Account
from tests.minutes_api.conftest import MeetingSetup, book_meeting, draft_body

pytestmark = pytest.mark.usefixtures("db_url")


async def test_demo_loads_approved_minutes_once(client: AsyncTestClient, settings: Settings, admin: Account) -> None:
    now = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            meeting = await load_minutes_demo(session, settings, now=now)
            await session.commit()
            again = await load_minutes_demo(session, settings, now=now)
            items = await session.scalar(select(func.count()).select_from(ActionItem))
    finally:
        await engine.dispose()

    assert again.id == meeting.id
    assert meeting.starts_at < now
    assert items == 2
    minutes = (await client.get(f"/api/v1/meetings/{meeting.id}/minutes", headers=admin.headers)).json()
    assert minutes["status"] == "approved"
    assert minutes["number"] == "〔2026〕1号"
    document = await client.get(f"/api/v1/meetings/{meeting.id}/minutes.docx", headers=admin.headers)
    assert document.status_code == 200
    assert document.content[:2] == b"PK"


async def test_minutes_per_occurrence_of_series(client: AsyncTestClient, setup: MeetingSetup) -> None:
    series = await book_meeting(client, setup.organiser, starts_at=setup.starts_at + timedelta(hours=2),
                                title="周例会", rrule="FREQ=WEEKLY;COUNT=3")
    url = f"/api/v1/meetings/{series['id']}/minutes"
    second = series["occurrences"][1]["recurrence_id"]
    second_start = datetime.fromisoformat(series["occurrences"][1]["starts_at"].replace("Z", "+00:00"))

    missing = await client.get(url, headers=setup.li_na.headers)
    unknown = await client.get(url, params={"occurrence": "2020-01-01T00:00:00Z"}, headers=setup.li_na.headers)
    saved = await client.put(url, params={"occurrence": second}, json=draft_body(second_start), headers=setup.secretary.headers)
    first = await client.get(url, params={"occurrence": series["occurrences"][0]["recurrence_id"]}, headers=setup.li_na.headers)

    assert missing.status_code == 400
    assert missing.json()["invalid_params"][0]["name"] == "occurrence"
    assert unknown.status_code == 404
    assert saved.status_code == 200, saved.text
    assert saved.json()["occurrence"] is not None
    assert first.json()["stored"] is False
