"""Distribution of approved minutes: outbox e-mails with the .docx (and PDF), signed
receipt links, the receipt list, and confidential meetings."""

from __future__ import annotations

import base64
import dataclasses
import io
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import docx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from confsvc.app import create_app
from confsvc.db.engine import create_engine, create_session_factory
from confsvc.db.models import OutboxMessage
from confsvc.notify.delivery import build_handlers
from confsvc.notify.outbox import OutboxDispatcher
from confsvc.settings import MailSettings, MinutesSettings, Settings
from tests.conftest import create_account, make_settings
from tests.minutes_api.conftest import MeetingSetup, book_meeting, create_bridge, draft_body, make_people
from tests.outbox.sink import SmtpSink


ACK_LINK = re.compile(r"http://127\.0\.0\.1:8000(/ack/[A-Za-z0-9._-]+)")


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


async def _approve(client: AsyncTestClient, url: str, setup: MeetingSetup) -> None:
    assert (await client.put(url, json=draft_body(setup.starts_at), headers=setup.secretary.headers)).status_code == 200
    assert (await client.post(f"{url}/submit", headers=setup.secretary.headers)).status_code == 200
    assert (await client.post(f"{url}/approve", headers=setup.chair.headers)).status_code == 200


async def _deliver(settings: Settings, sink: SmtpSink) -> list[EmailMessage]:
    mail_settings = dataclasses.replace(settings, mail=MailSettings(smtp_url=sink.url, mail_from=settings.mail.mail_from))
    engine = create_engine(settings.database)
    try:
        dispatcher = OutboxDispatcher(create_session_factory(engine), settings.outbox, build_handlers(mail_settings))
        report = await dispatcher.run_until_idle(max_rounds=5)
    finally:
        await engine.dispose()
    assert report.errors == []
    # The sink also receives the meeting's invitations; keep the minutes.
    return [m for m in sink.handler.messages if "纪要" in str(m["Subject"])]


async def _outbox(settings: Settings) -> list[OutboxMessage]:
    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.recipient)))
    finally:
        await engine.dispose()


@pytest.mark.usefixtures("db_url")
async def test_distribution_mails_docx_and_records_receipts(
    client: AsyncTestClient, setup: MeetingSetup, settings: Settings, smtp_sink: SmtpSink
) -> None:
    await _approve(client, setup.url(), setup)
    early = await client.get(setup.url("/receipts"), headers=setup.organiser.headers)
    assert early.status_code == 404

    response = await client.post(setup.url("/distribute"), json={"extra_recipients": ["board@example.com"]}, headers=setup.organiser.headers)

    assert response.status_code == 200, response.text
    pending = {r["email"] for r in response.json()["pending"]}
    assert pending == {
        "li.na@example.com", "zhao.qiang@example.com", "liu.yang@example.com", "wang.fang@example.com",
        "zhang.wei@example.com", "chen.jing@example.com", "emily@deloitte.example", "board@example.com",
    }
    assert (await client.get(setup.url(), headers=setup.li_na.headers)).json()["status"] == "distributed"
    again = await client.post(setup.url("/distribute"), headers=setup.organiser.headers)
    assert again.status_code == 409

    messages = await _deliver(settings, smtp_sink)
    assert len(messages) == len(pending)
    to_li_na = next(m for m in messages if "li.na@example.com" in str(m["To"]))
    assert "会议纪要" in str(to_li_na["Subject"])
    attachments = list(to_li_na.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["2026年第4季度经营分析会-v1.docx"]
    attached = docx.Document(io.BytesIO(attachments[0].get_content()))
    attached_text = [p.text for p in attached.paragraphs]
    attached_text += [cell.text for table in attached.tables for row in table.rows for cell in row.cells]
    assert any("同意华东区 Q1 预算上调 15%" in text for text in attached_text)
    body = to_li_na.get_body(preferencelist=("plain",)).get_content()
    link = ACK_LINK.search(body)
    assert link is not None, body

    acknowledged = await client.get(link.group(1))
    assert acknowledged.status_code == 200
    assert "已签收" in acknowledged.text or "Receipt confirmed" in acknowledged.text
    url = link.group(1)
    forged = await client.get(url[:-3] + ("abc" if not url.endswith("abc") else "xyz"))
    assert forged.status_code == 404

    receipts = (await client.get(setup.url("/receipts"), headers=setup.organiser.headers)).json()
    assert [r["email"] for r in receipts["acknowledged"]] == ["li.na@example.com"]
    assert "li.na@example.com" not in {r["email"] for r in receipts["pending"]}
    by_attendee = await client.get(setup.url("/receipts"), headers=setup.li_na.headers)
    assert by_attendee.status_code == 403


@pytest.mark.usefixtures("db_url")
async def test_confidential_minutes_go_only_to_attendees(
    client: AsyncTestClient, setup: MeetingSetup, settings: Settings, smtp_sink: SmtpSink
) -> None:
    meeting = await book_meeting(client, setup.organiser, starts_at=setup.starts_at + timedelta(hours=2),
                                 title="人事调整专题会", confidentiality="confidential")
    url = f"/api/v1/meetings/{meeting['id']}/minutes"
    await _approve(client, url, setup)

    rejected = await client.post(f"{url}/distribute", json={"extra_recipients": ["board@example.com"]}, headers=setup.organiser.headers)
    response = await client.post(f"{url}/distribute", headers=setup.organiser.headers)

    assert rejected.status_code == 400
    assert rejected.json()["invalid_params"][0]["name"] == "extra_recipients"
    assert response.status_code == 200, response.text
    recipients = {r["email"] for r in response.json()["pending"]}
    assert "emily@deloitte.example" not in recipients
    assert "li.na@example.com" in recipients
    messages = await _deliver(settings, smtp_sink)
    assert all(str(m["Subject"]).startswith("【内部资料 注意保密】") for m in messages)
    attached = docx.Document(io.BytesIO(next(messages[0].iter_attachments()).get_content()))
    assert any("内部资料 注意保密" in p.text for p in attached.paragraphs)


async def test_distribution_attaches_pdf_with_libreoffice(sqlite_template: Path, tmp_path: Path) -> None:
    """Runs once, on SQLite: the conversion does not touch the database and takes seconds."""
    if not shutil.which("soffice"):
        pytest.skip("LibreOffice (soffice) is not installed")
    database = tmp_path / "pdf.sqlite3"
    shutil.copy(sqlite_template, database)
    settings = dataclasses.replace(
        make_settings(f"sqlite+aiosqlite:///{database}", tmp_path), minutes=MinutesSettings(soffice_path="soffice")
    )
    admin = await create_account(settings, "admin@example.com", "管理员", ["admin"])
    organiser = await create_account(settings, "zhang.wei@example.com", "张伟", ["organiser"])
    people = await make_people(settings, admin, organiser)
    async with AsyncTestClient(app=create_app(settings, start_scheduler=False)) as client:
        await create_bridge(client, admin)
        starts_at = (datetime.now(UTC) + timedelta(hours=3)).replace(second=0, microsecond=0)
        meeting = await book_meeting(client, organiser, starts_at=starts_at)
        setup = MeetingSetup(meeting_id=meeting["id"], starts_at=starts_at, organiser=organiser, admin=admin, **people)
        await _approve(client, setup.url(), setup)
        response = await client.post(setup.url("/distribute"), headers=setup.organiser.headers)
    assert response.status_code == 200, response.text

    rows = [row for row in await _outbox(settings) if "attachments" in row.payload]
    attachments = rows[0].payload["attachments"]
    assert [a["content_type"] for a in attachments] == [
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "application/pdf",
    ]
    assert base64.b64decode(attachments[1]["data"]).startswith(b"%PDF-")
