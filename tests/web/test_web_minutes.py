"""The minutes console: autosaved draft, submit, return, approve and the .docx download."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from litestar.testing import AsyncTestClient
from web_helpers import People, add_meeting, sign_in

from confsvc.settings import Settings


async def test_web_minutes_draft_submit_return_approve(
    web_client: AsyncTestClient, settings: Settings, people: People, bridge_id: uuid.UUID
) -> None:
    meeting_id = await add_meeting(
        settings, organiser=people.organiser.email, chair=people.member.email, secretary=people.secretary.email,
        attendees=[people.member.email, people.other.email], title="经营例会", starts_in=timedelta(hours=2),
    )
    start = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(hours=2)).strftime("%H:%M")
    csrf = await sign_in(web_client, people.secretary.email)
    console = await web_client.get(f"/minutes/{meeting_id}")
    assert console.status_code == 200
    assert "预算讨论" in console.text
    form = {
        "csrf_token": csrf, "actual_start": start, "actual_end": "",
        "att-0-email": people.member.email, "att-0-name": "李娜", "att-0-status": "present",
        "att-1-email": people.other.email, "att-1-name": "王伟", "att-1-status": "absent",
        "note-1": "上次决议均已落实。", "note-2": "", "resolutions": "同意第二季度预算方案",
        "act-0-title": "提交预算明细", "act-0-owner": people.other.email, "act-0-due": "2031-01-10",
        "act-1-title": "", "act-1-owner": "", "act-1-due": "",
    }
    saved = await web_client.post(f"/minutes/{meeting_id}/draft", data=form, headers={"HX-Request": "true"})
    assert saved.status_code == 200
    assert 'data-saved="true"' in saved.text, saved.text
    reloaded = await web_client.get(f"/minutes/{meeting_id}")
    assert "上次决议均已落实。" in reloaded.text
    assert "提交预算明细" in reloaded.text

    incomplete = await web_client.post(f"/minutes/{meeting_id}/submit", data=form)
    assert incomplete.status_code == 400
    assert 'id="console-problems"' in incomplete.text
    end = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(hours=3)).strftime("%H:%M")
    submitted = await web_client.post(f"/minutes/{meeting_id}/submit", data={**form, "actual_end": end}, follow_redirects=False)
    assert submitted.status_code == 303, submitted.text
    assert 'data-status="submitted"' in (await web_client.get(f"/minutes/{meeting_id}")).text

    csrf = await sign_in(web_client, people.member.email)  # the chair
    returned = await web_client.post(f"/minutes/{meeting_id}/return", data={"csrf_token": csrf, "comment": "请补充发言要点"}, follow_redirects=False)
    assert returned.status_code == 303
    page = await web_client.get(f"/minutes/{meeting_id}")
    assert 'data-status="draft"' in page.text
    assert "请补充发言要点" in page.text

    csrf = await sign_in(web_client, people.secretary.email)
    assert (await web_client.post(f"/minutes/{meeting_id}/submit", data={**form, "csrf_token": csrf, "actual_end": end},
                                  follow_redirects=False)).status_code == 303
    csrf = await sign_in(web_client, people.member.email)
    assert (await web_client.post(f"/minutes/{meeting_id}/approve", data={"csrf_token": csrf}, follow_redirects=False)).status_code == 303
    assert 'data-status="approved"' in (await web_client.get(f"/minutes/{meeting_id}")).text
    document = await web_client.get(f"/minutes/{meeting_id}/minutes.docx")
    assert document.status_code == 200
    assert document.content[:2] == b"PK"

    # The approved minutes' action item reaches its owner's list.
    csrf = await sign_in(web_client, people.other.email)
    mine = await web_client.get("/actions/")
    assert "提交预算明细" in mine.text
    item_id = re.search(r'id="action-([0-9a-f-]{36})"', mine.text).group(1)  # type: ignore[union-attr]
    bad = await web_client.post(f"/actions/{item_id}/progress", data={"csrf_token": csrf, "progress": "150", "text": "x"})
    assert bad.status_code == 400
    assert 'role="alert"' in bad.text
    posted = await web_client.post(f"/actions/{item_id}/progress", data={"csrf_token": csrf, "progress": "50", "text": "已完成一半"}, follow_redirects=False)
    assert posted.status_code == 303
    assert "50%" in (await web_client.get("/actions/")).text
    done = await web_client.post(f"/actions/{item_id}/done", data={"csrf_token": csrf, "result": "明细已提交"}, follow_redirects=False)
    assert done.status_code == 303
    assert "提交预算明细" not in (await web_client.get("/actions/")).text
    assert 'data-status="done"' in (await web_client.get("/actions/?show=all")).text


async def test_web_minutes_console_hidden_from_strangers(web_client: AsyncTestClient, settings: Settings, people: People, bridge_id: uuid.UUID) -> None:
    meeting_id = await add_meeting(
        settings, organiser=people.organiser.email, chair=people.member.email, secretary=people.secretary.email,
        attendees=[people.member.email], title="保密会议", starts_in=timedelta(hours=2),
    )
    await sign_in(web_client, people.other.email)
    assert (await web_client.get(f"/minutes/{meeting_id}")).status_code == 404
    assert (await web_client.get("/minutes/")).status_code == 200
