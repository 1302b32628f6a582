"""Autosave of incomplete minutes drafts in the console, and submission that keeps typed text."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from litestar.testing import AsyncTestClient
from web_helpers import People, add_meeting, sign_in

from confsvc.settings import Settings

HTMX = {"HX-Request": "true"}


def _clock(hours: int) -> str:
    return (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(hours=hours)).strftime("%H:%M")


def _note_of(page: str, field: str) -> str:
    """Return the text shown next to ``field`` on the console page."""
    found = re.search(rf'<span class="field-error field-note" id="hint-{field}"[^>]*>([^<]*)</span>', page)
    assert found is not None, f"no note slot for {field}"
    return found.group(1)


async def _meeting(settings: Settings, people: People) -> uuid.UUID:
    return await add_meeting(
        settings, organiser=people.organiser.email, chair=people.member.email, secretary=people.secretary.email,
        attendees=[people.member.email, people.other.email], title="经营例会", starts_in=timedelta(hours=2),
    )


def _form(csrf: str, people: People, **values: str) -> dict[str, str]:
    form = {
        "csrf_token": csrf, "actual_start": _clock(2), "actual_end": _clock(3),
        "att-0-email": people.member.email, "att-0-name": "李娜", "att-0-status": "present",
        "att-1-email": people.other.email, "att-1-name": "王伟", "att-1-status": "present",
        "note-1": "", "note-2": "", "resolutions": "",
        "act-0-title": "", "act-0-owner": "", "act-0-due": "",
        "act-1-title": "", "act-1-owner": "", "act-1-due": "",
    }
    form.update(values)
    return form


async def test_draft_keeps_action_item_without_owner(
    web_client: AsyncTestClient, settings: Settings, people: People, bridge_id: uuid.UUID
) -> None:
    meeting_id = await _meeting(settings, people)
    csrf = await sign_in(web_client, people.secretary.email)

    first = await web_client.post(
        f"/minutes/{meeting_id}/draft", data=_form(csrf, people, **{"note-1": "上次决议已落实。", "act-0-title": "整理客户名单"}), headers=HTMX
    )
    assert first.status_code == 200
    assert 'data-saved="true"' in first.text, first.text
    assert 'data-field="act-0-owner"' in first.text
    assert 'data-field="act-0-due"' in first.text

    later = _form(csrf, people, **{"note-1": "上次决议已落实。", "note-2": "预算讨论后续记录", "act-0-title": "整理客户名单"})
    second = await web_client.post(f"/minutes/{meeting_id}/draft", data=later, headers=HTMX)
    assert 'data-saved="true"' in second.text, second.text

    reloaded = await web_client.get(f"/minutes/{meeting_id}")
    assert "预算讨论后续记录" in reloaded.text
    assert 'value="整理客户名单"' in reloaded.text
    assert _note_of(reloaded.text, "act-0-owner") != ""
    assert _note_of(reloaded.text, "act-0-due") != ""
    assert _note_of(reloaded.text, "act-0-title") == ""

    rejected = await web_client.post(f"/minutes/{meeting_id}/submit", data=later, follow_redirects=False)
    assert rejected.status_code == 400
    assert 'data-status="draft"' in rejected.text
    assert "预算讨论后续记录" in rejected.text
    assert _note_of(rejected.text, "act-0-owner") != ""

    complete = {**later, "act-0-owner": people.other.email, "act-0-due": "2031-01-10"}
    submitted = await web_client.post(f"/minutes/{meeting_id}/submit", data=complete, follow_redirects=False)
    assert submitted.status_code == 303, submitted.text
    assert 'data-status="submitted"' in (await web_client.get(f"/minutes/{meeting_id}")).text


async def test_draft_keeps_attendance_without_detail(
    web_client: AsyncTestClient, settings: Settings, people: People, bridge_id: uuid.UUID
) -> None:
    meeting_id = await _meeting(settings, people)
    csrf = await sign_in(web_client, people.secretary.email)
    console = await web_client.get(f"/minutes/{meeting_id}")
    assert 'for="att-0-minutes_late"' in console.text
    assert 'for="att-0-left_at"' in console.text
    assert 'for="att-0-proxy"' in console.text
    assert "迟到分钟数" in console.text
    english = await web_client.get(f"/minutes/{meeting_id}?lang=en", headers={"Accept-Language": "en"})
    assert "Minutes late" in english.text
    assert "Time left" in english.text
    assert "Proxy name" in english.text

    for status, field in (("late", "minutes_late"), ("left_early", "left_at"), ("represented", "proxy")):
        form = _form(csrf, people, **{"att-0-status": status, "note-1": f"状态 {status} 之后的记录"})
        saved = await web_client.post(f"/minutes/{meeting_id}/draft", data=form, headers=HTMX)
        assert 'data-saved="true"' in saved.text, saved.text
        assert f'data-field="att-0-{field}"' in saved.text

        reloaded = await web_client.get(f"/minutes/{meeting_id}")
        assert f"状态 {status} 之后的记录" in reloaded.text
        assert f'<option value="{status}" selected>' in reloaded.text
        assert _note_of(reloaded.text, f"att-0-{field}") != ""

        rejected = await web_client.post(f"/minutes/{meeting_id}/submit", data=form, follow_redirects=False)
        assert rejected.status_code == 400
        assert _note_of(rejected.text, f"att-0-{field}") != ""

    details = _form(csrf, people, **{
        "att-0-status": "late", "att-0-minutes_late": "12", "att-1-status": "represented", "att-1-proxy": "冯雪",
        # A detail of a status that is not chosen is ignored rather than rejected.
        "att-0-proxy": "无关的名字",
    })
    saved = await web_client.post(f"/minutes/{meeting_id}/draft", data=details, headers=HTMX)
    assert 'data-saved="true"' in saved.text, saved.text
    assert "data-field=" not in saved.text
    reloaded = await web_client.get(f"/minutes/{meeting_id}")
    assert 'value="12"' in reloaded.text
    assert 'value="冯雪"' in reloaded.text
    assert "无关的名字" not in reloaded.text

    left = _form(csrf, people, **{"att-0-status": "left_early", "att-0-left_at": "10:45"})
    assert 'data-saved="true"' in (await web_client.post(f"/minutes/{meeting_id}/draft", data=left, headers=HTMX)).text
    assert 'value="10:45"' in (await web_client.get(f"/minutes/{meeting_id}")).text
    submitted = await web_client.post(f"/minutes/{meeting_id}/submit", data=left, follow_redirects=False)
    assert submitted.status_code == 303, submitted.text


async def test_failed_submit_keeps_typed_form(
    web_client: AsyncTestClient, settings: Settings, people: People, bridge_id: uuid.UUID
) -> None:
    meeting_id = await _meeting(settings, people)
    csrf = await sign_in(web_client, people.secretary.email)

    # Never autosaved: the text reaches the server only with the submission.
    typed = _form(csrf, people, **{
        "actual_end": "", "note-1": "只在提交时发送的记录", "resolutions": "同意预算方案", "act-0-title": "提交预算明细",
        "cosigner": people.member.email,
    })
    rejected = await web_client.post(f"/minutes/{meeting_id}/submit", data=typed, follow_redirects=False)
    assert rejected.status_code == 400
    assert 'id="console-problems"' in rejected.text
    assert "只在提交时发送的记录" in rejected.text
    assert "同意预算方案" in rejected.text
    assert 'value="提交预算明细"' in rejected.text
    assert f'value="{people.member.email}" checked' in rejected.text
    assert _note_of(rejected.text, "actual_end") != ""
    assert _note_of(rejected.text, "act-0-owner") != ""

    reloaded = await web_client.get(f"/minutes/{meeting_id}")
    assert 'data-status="draft"' in reloaded.text
    assert "只在提交时发送的记录" in reloaded.text
    assert 'value="提交预算明细"' in reloaded.text

    # A draft that cannot be stored at all is still drawn again as typed.
    invalid = _form(csrf, people, **{"note-1": "邮箱写错时的记录", "act-0-title": "联系客户", "act-0-owner": "not-an-address"})
    refused = await web_client.post(f"/minutes/{meeting_id}/submit", data=invalid, follow_redirects=False)
    assert refused.status_code == 400
    assert "邮箱写错时的记录" in refused.text
    assert 'value="not-an-address"' in refused.text
    assert _note_of(refused.text, "act-0-owner") != ""
    assert "只在提交时发送的记录" in (await web_client.get(f"/minutes/{meeting_id}")).text
