"""Editing the agenda on the meeting page keeps each material with its agenda item."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import select
from web_helpers import People, add_meeting, sign_in

from confsvc.db.engine import create_engine, create_session_factory
from confsvc.db.models import CheckRun
from confsvc.settings import Settings

HTMX = {"HX-Request": "true"}
ROW = re.compile(r'<tr class="agenda-row"[^>]*>(.*?)</tr>', re.DOTALL)


def field(row_html: str, name: str) -> str | None:
    found = re.search(rf'name="item-\d+-{name}" value="([^"]*)"', row_html)
    return found.group(1) if found else None


def editor_form(html: str, csrf: str, **extra: str) -> dict[str, str]:
    """The editor form as a browser would submit it from ``html``."""
    form = {"csrf_token": csrf, "new-title": "", "new-presenter": "", "new-duration": ""}
    for index, row in enumerate(ROW.findall(html)):
        for name in ("id", "title", "presenter", "duration"):
            value = field(row, name)
            if value is not None:
                form[f"item-{index}-{name}"] = value
        if re.search(rf'name="item-{index}-materials"[^>]* checked', row):
            form[f"item-{index}-materials"] = "1"
    form.update(extra)
    return form


def rows(html: str) -> list[tuple[str | None, str | None]]:
    return [(field(row, "id"), field(row, "title")) for row in ROW.findall(html)]


def material_row(html: str, filename: str) -> str:
    found = re.search(rf'<tr id="material-[0-9a-f-]+">(?:(?!</tr>).)*{re.escape(filename)}.*?</tr>', html, re.DOTALL)
    assert found, html
    return found.group(0)


async def submit(client: AsyncTestClient, meeting_id: uuid.UUID, form: dict[str, str]) -> str:
    response = await client.post(f"/meetings/{meeting_id}/agenda", data=form, headers=HTMX)
    assert response.status_code == 200, response.text
    assert 'id="agenda-saved"' in response.text
    return response.text


async def upload(client: AsyncTestClient, meeting_id: uuid.UUID, csrf: str, name: str, item_id: str) -> None:
    response = await client.post(
        f"/meetings/{meeting_id}/materials", headers={**HTMX, "X-CSRF-Token": csrf},
        files={"file": (name, f"# {name}\n".encode(), "text/markdown")}, data={"agenda_item_id": item_id},
    )
    assert response.status_code == 200, response.text
    assert 'id="material-uploaded"' in response.text


async def latest_materials_check(settings: Settings, meeting_id: uuid.UUID) -> Any:
    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            run = await session.scalar(
                select(CheckRun).where(CheckRun.meeting_id == meeting_id).order_by(CheckRun.started_at.desc()).limit(1)
            )
            assert run is not None
            return next(result for result in run.results if result.name == "materials")
    finally:
        await engine.dispose()


async def test_editor_keeps_materials_with_item(
    web_client: AsyncTestClient, settings: Settings, people: People, bridge_id: uuid.UUID
) -> None:
    meeting_id = await add_meeting(
        settings, organiser=people.organiser.email, chair=people.member.email, secretary=people.secretary.email,
        attendees=[people.other.email], title="经营例会", starts_in=timedelta(days=3),
    )
    csrf = await sign_in(web_client, people.organiser.email)
    page = (await web_client.get(f"/meetings/{meeting_id}")).text
    (first_id, _first), (topic_id, _title) = rows(page)
    assert first_id and topic_id

    # Rename item 2 to the topic that needs materials, then attach a file to each item.
    form = editor_form(page, csrf, op="save")
    form["item-1-title"] = "本期议题讨论"
    form["item-1-materials"] = "1"
    html = await submit(web_client, meeting_id, form)
    assert rows(html) == [(first_id, "上次决议落实"), (topic_id, "本期议题讨论")]
    await upload(web_client, meeting_id, csrf, "决议清单.md", first_id)
    await upload(web_client, meeting_id, csrf, "本期议题材料.md", topic_id)

    # Add an item, move it up above the topic, remove item 1: one request per button.
    html = await submit(web_client, meeting_id, editor_form(html, csrf, op="add", **{"new-title": "预算审批"}))
    budget_id = rows(html)[2][0]
    assert budget_id and budget_id not in (first_id, topic_id)
    html = await submit(web_client, meeting_id, editor_form(html, csrf, op="up-2"))
    html = await submit(web_client, meeting_id, editor_form(html, csrf, op="remove-0"))
    assert rows(html) == [(budget_id, "预算审批"), (topic_id, "本期议题讨论")]
    # The materials section comes along out of band, so its item labels are current at once.
    assert '<section id="materials" aria-labelledby="materials-h" hx-swap-oob="true">' in html
    assert "2. 本期议题讨论" in material_row(html, "本期议题材料.md")

    page = (await web_client.get(f"/meetings/{meeting_id}")).text
    topic_row = material_row(page, "本期议题材料.md")
    assert "2. 本期议题讨论" in topic_row
    assert "预算审批" not in topic_row
    removed_row = material_row(page, "决议清单.md")
    assert "整个会议" in removed_row
    link = re.search(r'href="(/meetings/[0-9a-f-]{36}/materials/[0-9a-f-]{36})"', removed_row)
    assert link
    download = await web_client.get(link.group(1))
    assert download.status_code == 200
    assert download.content == "# 决议清单.md\n".encode()
    assert f'<option value="{topic_id}">2. 本期议题讨论</option>' in page

    ran = await web_client.post(f"/meetings/{meeting_id}/checks/run", data={"csrf_token": csrf}, headers=HTMX)
    assert ran.status_code == 200, ran.text
    check = await latest_materials_check(settings, meeting_id)
    assert check.status == "pass", check.detail
    assert check.data["needed"] == [2]
    assert check.data["meeting_materials"] == 1


async def test_editor_bad_item_id_saves_nothing(
    web_client: AsyncTestClient, settings: Settings, people: People, bridge_id: uuid.UUID
) -> None:
    meeting_id = await add_meeting(
        settings, organiser=people.organiser.email, chair=people.member.email, secretary=people.secretary.email,
        attendees=[people.other.email], title="经营例会", starts_in=timedelta(days=3),
    )
    csrf = await sign_in(web_client, people.organiser.email)
    page = (await web_client.get(f"/meetings/{meeting_id}")).text
    before = rows(page)
    for bad in (str(uuid.uuid4()), "not-an-id"):
        form = editor_form(page, csrf, op="save")
        form["item-0-id"] = bad
        form["item-0-title"] = "改过的标题"
        response = await web_client.post(f"/meetings/{meeting_id}/agenda", data=form, headers=HTMX)
        assert response.status_code == 400, response.text
        assert 'id="err-item-0-title"' in response.text
    after = (await web_client.get(f"/meetings/{meeting_id}")).text
    assert rows(after) == before
