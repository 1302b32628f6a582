"""Agenda editing, material upload and the calendar feed link through the pages."""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from litestar.testing import AsyncTestClient
from web_helpers import People, add_meeting, sign_in

from confsvc.app import create_app
from confsvc.settings import Settings

HTMX = {"HX-Request": "true"}
TITLE_FIELD = re.compile(r'name="item-(\d+)-title" value="([^"]*)"')
MATERIAL_LIMIT = 2000


def agenda_titles(html: str) -> list[str]:
    return [title for _index, title in TITLE_FIELD.findall(html)]


def agenda_form(csrf: str, rows: list[tuple[str, str, str, bool]], **extra: str) -> dict[str, str]:
    """The editor form for ``rows`` of (title, presenter, minutes, needs materials)."""
    form = {"csrf_token": csrf}
    for index, (title, presenter, minutes, materials) in enumerate(rows):
        form[f"item-{index}-title"] = title
        form[f"item-{index}-presenter"] = presenter
        form[f"item-{index}-duration"] = minutes
        if materials:
            form[f"item-{index}-materials"] = "1"
    form.update({"new-title": "", "new-presenter": "", "new-duration": ""})
    form.update(extra)
    return form


@pytest.fixture
def small_upload_settings(settings: Settings) -> Settings:
    """The test settings with a material limit of 2000 bytes, so a too-large file stays small."""
    return dataclasses.replace(settings, preparation=dataclasses.replace(settings.preparation, material_max_bytes=MATERIAL_LIMIT))


@pytest.fixture
async def upload_client(small_upload_settings: Settings) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app=create_app(small_upload_settings, start_scheduler=False)) as test_client:
        yield test_client


async def meeting_for(settings: Settings, people: People) -> uuid.UUID:
    return await add_meeting(
        settings, organiser=people.organiser.email, chair=people.member.email, secretary=people.secretary.email,
        attendees=[people.member.email, people.other.email], title="经营例会", starts_in=timedelta(days=1),
    )


async def test_web_agenda_add_reorder_edit_remove(web_client: AsyncTestClient, settings: Settings, people: People, bridge_id: uuid.UUID) -> None:
    meeting_id = await meeting_for(settings, people)
    csrf = await sign_in(web_client, people.organiser.email)
    page = await web_client.get(f"/meetings/{meeting_id}")
    assert 'id="agenda-editor"' in page.text
    assert agenda_titles(page.text) == ["上次决议落实", "预算讨论"]
    rows = [("上次决议落实", "", "10", False), ("预算讨论", "", "40", True)]

    added = await web_client.post(
        f"/meetings/{meeting_id}/agenda", headers=HTMX,
        data=agenda_form(csrf, rows, **{"new-title": "风险评估", "new-presenter": people.other.email, "new-duration": "30", "op": "add"}),
    )
    assert added.status_code == 200, added.text
    assert added.text.lstrip().startswith('<section id="agenda-editor"')
    assert 'id="agenda-saved"' in added.text
    assert agenda_titles(added.text) == ["上次决议落实", "预算讨论", "风险评估"]
    assert 'id="agenda-warnings"' in added.text
    assert "议程共需 80 分钟，但会议只有 60 分钟" in added.text

    rows.append(("风险评估", people.other.email, "30", False))
    moved = await web_client.post(f"/meetings/{meeting_id}/agenda", headers=HTMX, data=agenda_form(csrf, rows, op="up-2"))
    assert agenda_titles(moved.text) == ["上次决议落实", "风险评估", "预算讨论"]

    rows = [("上次决议落实（更新）", "", "5", False), ("风险评估", people.other.email, "30", False), ("预算讨论", "", "40", True)]
    edited = await web_client.post(f"/meetings/{meeting_id}/agenda", headers=HTMX, data=agenda_form(csrf, rows, op="save"))
    assert agenda_titles(edited.text) == ["上次决议落实（更新）", "风险评估", "预算讨论"]

    removed = await web_client.post(f"/meetings/{meeting_id}/agenda", headers=HTMX, data=agenda_form(csrf, rows, op="remove-0"))
    assert agenda_titles(removed.text) == ["风险评估", "预算讨论"]
    assert 'id="agenda-warnings"' in removed.text  # 70 minutes in a 60-minute meeting

    # Without htmx the page redirects back to the meeting.
    plain = await web_client.post(f"/meetings/{meeting_id}/agenda", data=agenda_form(csrf, rows[1:], op="save"), follow_redirects=False)
    assert plain.status_code == 303
    assert plain.headers["location"] == f"/meetings/{meeting_id}?agenda=saved#agenda"
    final = await web_client.get(f"/meetings/{meeting_id}")
    assert agenda_titles(final.text) == ["风险评估", "预算讨论"]
    assert 'id="agenda-warnings"' in final.text


async def test_web_agenda_bad_input_changes_nothing(web_client: AsyncTestClient, settings: Settings, people: People, bridge_id: uuid.UUID) -> None:
    meeting_id = await meeting_for(settings, people)
    csrf = await sign_in(web_client, people.organiser.email)
    rows = [("上次决议落实", "not-an-address", "abc", False), ("", "", "40", False)]
    answer = await web_client.post(f"/meetings/{meeting_id}/agenda", headers=HTMX, data=agenda_form(csrf, rows, op="up-1"))
    assert answer.status_code == 400
    assert 'id="agenda-errors"' in answer.text
    for field in ("item-0-title", "item-1-presenter", "item-1-duration"):  # rows swapped by the move
        assert f'id="err-{field}"' in answer.text, field
    assert 'aria-invalid="true"' in answer.text

    missing_title = await web_client.post(f"/meetings/{meeting_id}/agenda", headers=HTMX, data=agenda_form(csrf, [], op="add"))
    assert missing_title.status_code == 400
    assert 'id="err-new-title"' in missing_title.text

    page = await web_client.get(f"/meetings/{meeting_id}")
    assert agenda_titles(page.text) == ["上次决议落实", "预算讨论"]
    assert 'id="agenda-errors"' not in page.text


async def test_web_agenda_read_only_for_attendees(web_client: AsyncTestClient, settings: Settings, people: People, bridge_id: uuid.UUID) -> None:
    meeting_id = await meeting_for(settings, people)
    csrf = await sign_in(web_client, people.other.email)
    page = await web_client.get(f"/meetings/{meeting_id}")
    assert 'id="agenda-editor"' in page.text
    assert "预算讨论" in page.text
    assert agenda_titles(page.text) == []
    refused = await web_client.post(f"/meetings/{meeting_id}/agenda", data=agenda_form(csrf, [("改掉", "", "", False)], op="save"))
    assert refused.status_code == 403
    assert agenda_titles(await sign_in_and_get(web_client, people.organiser.email, f"/meetings/{meeting_id}")) == ["上次决议落实", "预算讨论"]


async def sign_in_and_get(client: AsyncTestClient, email: str, path: str) -> str:
    await sign_in(client, email)
    return (await client.get(path)).text


async def test_web_material_upload_list_and_download(
    upload_client: AsyncTestClient, small_upload_settings: Settings, people: People, bridge_id: uuid.UUID
) -> None:
    meeting_id = await meeting_for(small_upload_settings, people)
    csrf = await sign_in(upload_client, people.organiser.email)
    body = "# 预算材料\n\n- 第二季度\n".encode()
    uploaded = await upload_client.post(
        f"/meetings/{meeting_id}/materials", headers={**HTMX, "X-CSRF-Token": csrf},
        files={"file": ("预算材料.md", body, "text/markdown")}, data={"agenda_position": "2"},
    )
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.text.lstrip().startswith('<section id="materials"')
    assert 'id="material-uploaded"' in uploaded.text
    link = re.search(r'href="(/meetings/[0-9a-f-]{36}/materials/[0-9a-f-]{36})"', uploaded.text)
    assert link, uploaded.text
    assert "2. 预算讨论" in uploaded.text

    # Without JavaScript: the token travels in the form and the page redirects.
    plain = await upload_client.post(
        f"/meetings/{meeting_id}/materials", files={"file": ("notes.txt", b"plain text notes\n", "text/plain")},
        data={"csrf_token": csrf, "agenda_position": ""}, follow_redirects=False,
    )
    assert plain.status_code == 303, plain.text
    assert plain.headers["location"] == f"/meetings/{meeting_id}?uploaded=1#materials"

    await sign_in(upload_client, people.other.email)  # an attendee, not chair or presenter
    page = await upload_client.get(f"/meetings/{meeting_id}")
    assert "预算材料.md" in page.text
    assert "notes.txt" in page.text
    assert 'id="material-form"' not in page.text
    download = await upload_client.get(link.group(1))
    assert download.status_code == 200
    assert download.content == body


async def test_web_material_bad_uploads_change_nothing(
    upload_client: AsyncTestClient, small_upload_settings: Settings, people: People, bridge_id: uuid.UUID
) -> None:
    meeting_id = await meeting_for(small_upload_settings, people)
    csrf = await sign_in(upload_client, people.organiser.email)
    headers = {**HTMX, "X-CSRF-Token": csrf}
    cases = [
        ("wrong type", {"file": ("setup.exe", b"MZ\x90\x00", "application/octet-stream")}, {}, 415, "file"),
        ("content not pdf", {"file": ("report.pdf", b"not a pdf at all", "application/pdf")}, {}, 415, "file"),
        ("too large", {"file": ("big.txt", b"x" * (MATERIAL_LIMIT + 1), "text/plain")}, {}, 413, "file"),
        ("empty", {"file": ("empty.txt", b"", "text/plain")}, {}, 400, "file"),
        ("no agenda item", {"file": ("notes.txt", b"notes", "text/plain")}, {"agenda_position": "9"}, 400, "agenda_position"),
    ]
    for name, files, data, status, field in cases:
        answer = await upload_client.post(f"/meetings/{meeting_id}/materials", headers=headers, files=files, data=data)
        assert answer.status_code == status, (name, answer.text)
        assert f'id="err-{field}"' in answer.text, name
        assert 'id="no-materials"' in answer.text, name

    # A form post without JavaScript announcing a body above the limit is refused before parsing.
    big = await upload_client.post(
        f"/meetings/{meeting_id}/materials", files={"file": ("big.txt", b"x" * (MATERIAL_LIMIT + 70_000), "text/plain")},
        data={"csrf_token": csrf}, follow_redirects=False,
    )
    assert big.status_code == 413

    csrf = await sign_in(upload_client, people.other.email)  # attendee, not a presenter
    refused = await upload_client.post(
        f"/meetings/{meeting_id}/materials", files={"file": ("notes.txt", b"notes", "text/plain")}, data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    assert 'id="no-materials"' in (await upload_client.get(f"/meetings/{meeting_id}")).text
    stored = [path for path in (Path(small_upload_settings.data_dir) / "materials").rglob("*") if path.is_file()]
    assert stored == []


async def test_web_material_delete_by_organiser(
    upload_client: AsyncTestClient, small_upload_settings: Settings, people: People, bridge_id: uuid.UUID
) -> None:
    meeting_id = await meeting_for(small_upload_settings, people)
    csrf = await sign_in(upload_client, people.organiser.email)
    uploaded = await upload_client.post(
        f"/meetings/{meeting_id}/materials", headers={**HTMX, "X-CSRF-Token": csrf}, files={"file": ("notes.txt", b"notes", "text/plain")},
    )
    link = re.search(r'action="(/meetings/[0-9a-f-]{36}/materials/[0-9a-f-]{36})/delete"', uploaded.text)
    assert link, uploaded.text
    deleted = await upload_client.post(f"{link.group(1)}/delete", headers={**HTMX, "X-CSRF-Token": csrf})
    assert deleted.status_code == 200
    assert 'id="no-materials"' in deleted.text
    assert (await upload_client.get(link.group(1))).status_code == 404


async def test_web_calendar_feed_link(web_client: AsyncTestClient, settings: Settings, people: People, bridge_id: uuid.UUID) -> None:
    await meeting_for(settings, people)
    await sign_in(web_client, people.member.email)
    page = await web_client.get("/meetings")
    assert 'id="calendar-feed"' in page.text
    assert "Thunderbird" in page.text
    url = re.search(r'id="feed-url" type="url" readonly value="([^"]+)"', page.text)
    assert url, page.text
    assert re.search(r'href="webcal://[^"]+/feed/[0-9a-f]{32}-[0-9a-f]{40}\.ics"', page.text)
    feed = await web_client.get(urlsplit(url.group(1)).path)
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    assert "经营例会" in feed.text
