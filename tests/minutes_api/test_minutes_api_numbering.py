"""Numbering of approved minutes under concurrent approvals, and the resolution register."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest
from litestar.testing import AsyncTestClient

from tests.minutes_api.conftest import MeetingSetup, book_meeting, draft_body

pytestmark = pytest.mark.usefixtures("db_url")

CONCURRENT_APPROVALS = 10


async def test_concurrent_approvals_number_without_gaps(client: AsyncTestClient, setup: MeetingSetup) -> None:
    urls = [setup.url()]
    for index in range(1, CONCURRENT_APPROVALS):
        meeting = await book_meeting(client, setup.organiser, starts_at=setup.starts_at + timedelta(hours=2 * index), title=f"周例会 {index}")
        urls.append(f"/api/v1/meetings/{meeting['id']}/minutes")
    for url in urls:
        saved = await client.put(url, json=draft_body(setup.starts_at), headers=setup.secretary.headers)
        assert saved.status_code == 200, saved.text
        submitted = await client.post(f"{url}/submit", headers=setup.secretary.headers)
        assert submitted.status_code == 200, submitted.text

    responses = await asyncio.gather(*(client.post(f"{url}/approve", headers=setup.organiser.headers) for url in urls))

    assert [r.status_code for r in responses] == [200] * CONCURRENT_APPROVALS, [r.text for r in responses if r.status_code != 200]
    numbers = [r.json()["number"] for r in responses]
    sequence = sorted(int(re.fullmatch(r"〔\d{4}〕(\d+)号", number).group(1)) for number in numbers)
    assert sequence == list(range(1, CONCURRENT_APPROVALS + 1))
    again = await client.post(f"{urls[0]}/approve", headers=setup.organiser.headers)
    assert again.status_code == 409


async def test_register_search_and_visibility(client: AsyncTestClient, setup: MeetingSetup) -> None:
    await client.put(setup.url(), json=draft_body(setup.starts_at), headers=setup.secretary.headers)
    await client.post(setup.url("/submit"), headers=setup.secretary.headers)
    before = await client.get("/api/v1/resolutions", headers=setup.li_na.headers)
    assert before.json() == []
    await client.post(setup.url("/approve"), headers=setup.organiser.headers)

    everything = (await client.get("/api/v1/resolutions", headers=setup.li_na.headers)).json()
    by_text = (await client.get("/api/v1/resolutions", params={"q": "q1 预算"}, headers=setup.li_na.headers)).json()
    by_owner = (await client.get("/api/v1/resolutions", params={"owner": "liu.yang@example.com"}, headers=setup.li_na.headers)).json()
    outsider = (await client.get("/api/v1/resolutions", headers=setup.outsider.headers)).json()
    bad_state = await client.get("/api/v1/resolutions", params={"state": "finished"}, headers=setup.li_na.headers)

    assert [(r["number"], r["state"]) for r in everything] == [(1, "open"), (2, "open")]
    first = everything[0]
    assert first["responsible"] == "李娜"
    assert first["deadline"] == (setup.starts_at + timedelta(days=10)).date().isoformat()
    assert first["decided_by"] == "表决通过"
    assert re.fullmatch(r"〔\d{4}〕1号", first["minutes_number"])
    assert [r["text"] for r in by_text] == ["同意华东区 Q1 预算上调 15%"]
    assert [r["number"] for r in by_owner] == [2]
    assert outsider == []
    assert bad_state.status_code == 400
