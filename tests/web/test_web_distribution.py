"""Co-signers chosen at submission, co-signing, and distributing approved minutes from the console."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from web_helpers import People, add_meeting, sign_in

from confsvc.app import create_app
from confsvc.db.engine import create_engine, create_session_factory
from confsvc.db.models import OutboxMessage
from confsvc.settings import Settings

ZONE = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def pdf_free_settings(settings: Settings) -> Settings:
    """The test settings without LibreOffice, so distribution sends the .docx only (the documented
    fallback) and each case stays fast."""
    return dataclasses.replace(settings, minutes=dataclasses.replace(settings.minutes, soffice_path="/nonexistent/soffice"))


@pytest.fixture
async def minutes_client(pdf_free_settings: Settings) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app=create_app(pdf_free_settings, start_scheduler=False)) as test_client:
        yield test_client


async def email_count(settings: Settings) -> int:
    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            statement = select(func.count(OutboxMessage.id)).where(OutboxMessage.channel == "email", OutboxMessage.idempotency_key.like("minutes:%:distribute:%"))
            return int(await session.scalar(statement) or 0)
    finally:
        await engine.dispose()


def console_form(csrf: str, people: People, **extra: object) -> dict[str, object]:
    local = datetime.now(ZONE) + timedelta(hours=2)
    form: dict[str, object] = {
        "csrf_token": csrf, "actual_start": local.strftime("%H:%M"), "actual_end": (local + timedelta(minutes=50)).strftime("%H:%M"),
        "att-0-email": people.member.email, "att-0-name": "李娜", "att-0-status": "present",
        "att-1-email": people.other.email, "att-1-name": "王伟", "att-1-status": "present",
        "note-1": "上次决议均已落实。", "note-2": "讨论了预算。", "resolutions": "同意第二季度预算方案",
        "act-0-title": "", "act-0-owner": "", "act-0-due": "",
    }
    form.update(extra)
    return form


async def test_web_returned_minutes_keep_cosigners(
    minutes_client: AsyncTestClient, pdf_free_settings: Settings, people: People, bridge_id: uuid.UUID
) -> None:
    meeting_id = await add_meeting(
        pdf_free_settings, organiser=people.organiser.email, chair=people.member.email, secretary=people.secretary.email,
        attendees=[people.member.email, people.other.email], title="经营例会", starts_in=timedelta(hours=2),
    )
    console = f"/minutes/{meeting_id}"
    csrf = await sign_in(minutes_client, people.secretary.email)
    submitted = await minutes_client.post(f"{console}/submit", data=console_form(csrf, people, cosigner=people.other.email), follow_redirects=False)
    assert submitted.status_code == 303, submitted.text

    csrf = await sign_in(minutes_client, people.member.email)  # the chair
    returned = await minutes_client.post(f"{console}/return", data={"csrf_token": csrf, "comment": "请补充决议"}, follow_redirects=False)
    assert returned.status_code in (200, 303), returned.text

    await sign_in(minutes_client, people.secretary.email)
    page = await minutes_client.get(console)
    assert 'data-status="draft"' in page.text
    assert f'name="cosigner" value="{people.other.email}" checked' in page.text


async def test_web_cosign_approve_and_distribute(
    minutes_client: AsyncTestClient, pdf_free_settings: Settings, people: People, bridge_id: uuid.UUID
) -> None:
    meeting_id = await add_meeting(
        pdf_free_settings, organiser=people.organiser.email, chair=people.member.email, secretary=people.secretary.email,
        attendees=[people.member.email, people.other.email], title="经营例会", starts_in=timedelta(hours=2),
    )
    console = f"/minutes/{meeting_id}"
    csrf = await sign_in(minutes_client, people.secretary.email)
    page = await minutes_client.get(console)
    assert f'name="cosigner" value="{people.other.email}"' in page.text

    stranger = await minutes_client.post(f"{console}/submit", data=console_form(csrf, people, cosigner="boss@example.cn"))
    assert stranger.status_code == 400
    assert "boss@example.cn" in stranger.text
    assert 'data-status="draft"' in (await minutes_client.get(console)).text

    submitted = await minutes_client.post(f"{console}/submit", data=console_form(csrf, people, cosigner=people.other.email), follow_redirects=False)
    assert submitted.status_code == 303, submitted.text
    page = await minutes_client.get(console)
    assert f'data-cosigner="{people.other.email}" data-signed="false"' in page.text

    csrf = await sign_in(minutes_client, people.member.email)  # the chair
    early = await minutes_client.post(f"{console}/approve", data={"csrf_token": csrf})
    assert early.status_code == 409
    assert 'id="console-problems"' in early.text
    assert people.other.email in early.text
    assert 'data-status="submitted"' in early.text

    csrf = await sign_in(minutes_client, people.other.email)  # the co-signer
    listing = await minutes_client.get("/minutes/")
    assert f'href="/minutes/{meeting_id}"' in listing.text
    cosigned = await minutes_client.post(f"{console}/cosign", data={"csrf_token": csrf, "comment": "同意"}, follow_redirects=False)
    assert cosigned.status_code == 303
    assert f'data-cosigner="{people.other.email}" data-signed="true"' in (await minutes_client.get(console)).text

    csrf = await sign_in(minutes_client, people.member.email)
    approved = await minutes_client.post(f"{console}/approve", data={"csrf_token": csrf}, follow_redirects=False)
    assert approved.status_code == 303
    page = await minutes_client.get(console)
    assert 'id="distribute-form"' in page.text

    headers = {"HX-Request": "true", "X-CSRF-Token": csrf}
    bad = await minutes_client.post(f"{console}/distribute", headers=headers, data={"extra_recipients": "guest@example.cn, not-an-address"})
    assert bad.status_code == 400
    assert bad.text.lstrip().startswith('<section aria-labelledby="distribution-h"')
    assert 'id="err-extra_recipients"' in bad.text
    assert "not-an-address" in bad.text
    assert await email_count(pdf_free_settings) == 0
    assert 'data-status="approved"' in (await minutes_client.get(console)).text

    sent = await minutes_client.post(f"{console}/distribute", headers=headers, data={"extra_recipients": "guest@example.cn"})
    assert sent.status_code == 200, sent.text
    assert 'id="distribution-result"' in sent.text
    assert sent.text.count('data-receipt="pending"') == 5  # two attendees, organiser, secretary, one guest
    assert "guest@example.cn" in sent.text
    assert await email_count(pdf_free_settings) == 5
    page = await minutes_client.get(console)
    assert 'data-status="distributed"' in page.text
    assert 'id="receipts"' in page.text
    assert 'id="distribute-form"' not in page.text

    again = await minutes_client.post(f"{console}/distribute", headers=headers, data={"extra_recipients": ""})
    assert again.status_code == 409
    assert 'id="distribution-errors"' in again.text
    assert await email_count(pdf_free_settings) == 5


async def test_web_distribute_hidden_from_attendees(
    minutes_client: AsyncTestClient, pdf_free_settings: Settings, people: People, bridge_id: uuid.UUID
) -> None:
    meeting_id = await add_meeting(
        pdf_free_settings, organiser=people.organiser.email, chair=people.member.email, secretary=people.secretary.email,
        attendees=[people.member.email, people.other.email], title="经营例会", starts_in=timedelta(hours=2),
    )
    csrf = await sign_in(minutes_client, people.other.email)
    page = await minutes_client.get(f"/minutes/{meeting_id}")
    assert 'id="distribute-form"' not in page.text
    refused = await minutes_client.post(f"/minutes/{meeting_id}/distribute", data={"csrf_token": csrf}, follow_redirects=False)
    assert refused.status_code == 403
    assert await email_count(pdf_free_settings) == 0
