"""Documents from the API: .docx in both shipped templates (content and East Asian fonts),
HTML, Markdown, confidentiality marks, and uploaded templates."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from typing import Any

import docx
import pytest
from docx.document import Document
from docx.oxml.ns import qn
from docx.text.paragraph import Paragraph
from litestar.testing import AsyncTestClient

from tests.conftest import Account
from tests.minutes_api.conftest import DATA, MeetingSetup, book_meeting, draft_body

pytestmark = pytest.mark.usefixtures("db_url")

CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")
DOCX_URL = "/api/v1/meetings/{id}/minutes.docx"


def _text(document: Document) -> str:
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    return "\n".join(parts)


def _style_east_asia(style: Any) -> str | None:
    while style is not None:
        rpr = style.element.rPr
        if rpr is not None and rpr.rFonts is not None and rpr.rFonts.get(qn("w:eastAsia")):
            return rpr.rFonts.get(qn("w:eastAsia"))
        style = style.base_style
    return None


def _paragraphs(document: Document) -> list[Paragraph]:
    found = list(document.paragraphs)
    for table in document.tables:
        for row in table.rows:
            for cell in row.cells:
                found.extend(cell.paragraphs)
    return found


def _runs_without_east_asian_font(document: Document) -> list[str]:
    """CJK runs whose East Asian font is neither on the run nor on its paragraph style."""
    missing = []
    for paragraph in _paragraphs(document):
        style_font = _style_east_asia(paragraph.style)
        for run in paragraph.runs:
            if not CJK.search(run.text):
                continue
            rpr = run.element.rPr
            own = rpr.rFonts.get(qn("w:eastAsia")) if rpr is not None and rpr.rFonts is not None else None
            if not (own or style_font):
                missing.append(run.text)
    return missing


async def _approved(client: AsyncTestClient, setup: MeetingSetup) -> None:
    response = await client.put(setup.url(), json=draft_body(setup.starts_at), headers=setup.secretary.headers)
    assert response.status_code == 200, response.text
    assert (await client.post(setup.url("/submit"), headers=setup.secretary.headers)).status_code == 200
    assert (await client.post(setup.url("/approve"), headers=setup.organiser.headers)).status_code == 200


async def test_default_template_content_and_fonts(client: AsyncTestClient, setup: MeetingSetup) -> None:
    await _approved(client, setup)

    response = await client.get(DOCX_URL.format(id=setup.meeting_id), headers=setup.li_na.headers)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument")
    document = docx.Document(io.BytesIO(response.content))
    text = _text(document)
    for expected in ("2026年第4季度经营分析会", "〕1号", "同意华东区 Q1 预算上调 15%", "提交华东区续约清单",
                     "冯雪", "Emily Carter", "全年收入完成预算的 102%", "陈静", "王芳", "赵强", "表决通过"):
        assert expected in text, expected
    assert _runs_without_east_asian_font(document) == []
    defaults = document.styles.element.find(qn("w:docDefaults"))
    lang = defaults.find(f"{qn('w:rPrDefault')}/{qn('w:rPr')}/{qn('w:lang')}")
    assert lang is not None
    assert lang.get(qn("w:eastAsia")) == "zh-CN"


async def test_business_template_in_english(client: AsyncTestClient, setup: MeetingSetup) -> None:
    await _approved(client, setup)

    response = await client.get(DOCX_URL.format(id=setup.meeting_id), params={"template": "business-en"}, headers=setup.li_na.headers)

    assert response.status_code == 200, response.text
    document = docx.Document(io.BytesIO(response.content))
    text = _text(document)
    assert "adopted by vote" in text
    assert "提交华东区续约清单" in text
    assert _runs_without_east_asian_font(document) == []
    unknown = await client.get(DOCX_URL.format(id=setup.meeting_id), params={"template": "no-such"}, headers=setup.li_na.headers)
    assert unknown.status_code == 400
    assert unknown.json()["invalid_params"][0]["name"] == "template"


async def test_draft_renders_html_and_markdown(client: AsyncTestClient, setup: MeetingSetup) -> None:
    body = draft_body(setup.starts_at)
    body["notes"][0]["text"] = "<script>alert(1)</script> 收入 *增长*"
    await client.put(setup.url(), json=body, headers=setup.secretary.headers)

    page = await client.get(f"/api/v1/meetings/{setup.meeting_id}/minutes.html", headers=setup.li_na.headers)
    markdown = await client.get(f"/api/v1/meetings/{setup.meeting_id}/minutes.md", params={"locale": "en"}, headers=setup.li_na.headers)

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "&lt;script&gt;" in page.text
    assert "<script>" not in page.text
    assert "迟到" in page.text
    assert markdown.status_code == 200
    assert "\\*增长\\*" in markdown.text
    assert "Late" in markdown.text
    assert "adopted by vote" in markdown.text


async def test_confidential_documents_are_marked(client: AsyncTestClient, setup: MeetingSetup) -> None:
    meeting = await book_meeting(client, setup.organiser, starts_at=setup.starts_at + timedelta(hours=2),
                                 title="人事调整专题会", confidentiality="confidential")
    url = f"/api/v1/meetings/{meeting['id']}/minutes"
    await client.put(url, json=draft_body(setup.starts_at), headers=setup.secretary.headers)

    document = docx.Document(io.BytesIO((await client.get(f"{url}.docx", headers=setup.li_na.headers)).content))
    page = await client.get(f"{url}.html", headers=setup.li_na.headers)

    assert "内部资料 注意保密" in _text(document)
    assert "内部资料 注意保密" in page.text


async def _upload(client: AsyncTestClient, account: Account, name: str, data: bytes, locale: str = "zh-CN") -> Any:
    return await client.post(
        "/api/v1/minutes-templates",
        files={"file": ("template.docx", data, "application/vnd.openxmlformats-officedocument.wordprocessingml.document")},
        data={"name": name, "locale": locale},
        headers=account.headers,
    )


async def test_upload_rejects_unknown_placeholders(client: AsyncTestClient, setup: MeetingSetup) -> None:
    data = (DATA / "23-docx-chinese-font-eastasia" / "minutes-template-font.docx").read_bytes()

    response = await _upload(client, setup.admin, "旧版纪要模板", data)

    assert response.status_code == 400, response.text
    names = {p["name"] for p in response.json()["invalid_params"]}
    assert names == {"title", "r_decision", "recorder", "amount"}
    listed = (await client.get("/api/v1/minutes-templates", headers=setup.admin.headers)).json()
    assert [t["name"] for t in listed] == ["default-zh", "business-en"]


async def test_upload_rejects_non_docx_and_non_admin(client: AsyncTestClient, setup: MeetingSetup) -> None:
    data = (DATA / "24-docxtpl-tags-split-across-runs" / "minutes-template-split.docx").read_bytes()

    not_docx = await _upload(client, setup.admin, "坏文件", b"PK-not-a-zip")
    by_member = await _upload(client, setup.li_na, "拆分标签模板", data)

    assert not_docx.status_code == 400
    assert not_docx.json()["invalid_params"]
    assert by_member.status_code == 403


async def test_uploaded_template_renders_meeting(client: AsyncTestClient, setup: MeetingSetup) -> None:
    data = (DATA / "24-docxtpl-tags-split-across-runs" / "minutes-template-split.docx").read_bytes()
    uploaded = await _upload(client, setup.admin, "拆分标签模板", data)
    assert uploaded.status_code == 201, uploaded.text
    assert "item.owner" in uploaded.json()["placeholders"]
    duplicate = await _upload(client, setup.admin, "拆分标签模板", data)
    assert duplicate.status_code == 409

    body = draft_body(setup.starts_at, template="拆分标签模板")
    saved = await client.put(setup.url(), json=body, headers=setup.secretary.headers)
    assert saved.status_code == 200, saved.text
    bad = await client.put(setup.url(), json=draft_body(setup.starts_at, template="不存在"), headers=setup.secretary.headers)
    assert bad.status_code == 400

    document = docx.Document(io.BytesIO((await client.get(DOCX_URL.format(id=setup.meeting_id), headers=setup.li_na.headers)).content))
    text = _text(document)
    assert "2026年第4季度经营分析会" in text
    assert "提交华东区续约清单" in text
    assert "{{" not in text
    assert _runs_without_east_asian_font(document) == []
