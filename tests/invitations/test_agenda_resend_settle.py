"""Same-SEQUENCE resends wait a settle time, and a later change drops the ones still waiting."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from confsvc.booking import invitations
from confsvc.booking.services import MeetingService, Viewer
from confsvc.db.engine import create_engine, create_session_factory
from confsvc.db.models import OutboxMessage
from confsvc.directory.services import DirectoryService
from confsvc.settings import Settings
from tests.conftest import Account
from tests.invitations.support import book_meeting

SETTLE = timedelta(minutes=2)


async def _resend(settings: Settings, organiser: Account, meeting_id: uuid.UUID, now: datetime) -> int:
    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            person = await DirectoryService(session).find_by_email(organiser.email)
            assert person is not None
            meeting = await MeetingService(session, settings).get(meeting_id, Viewer.of(person))
            queued = await invitations.enqueue_resend_same_sequence(session, settings, meeting, now=now, settle=SETTLE)
            await session.commit()
            return queued
    finally:
        await engine.dispose()


async def _resend_rows(settings: Settings, meeting_id: uuid.UUID) -> list[OutboxMessage]:
    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            rows = await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.meeting_id == meeting_id, OutboxMessage.idempotency_key.startswith("resend:"))
                .order_by(OutboxMessage.created_at)
            )
            return list(rows)
    finally:
        await engine.dispose()


async def test_resend_burst_leaves_one_batch(client: AsyncTestClient, settings: Settings, admin: Account, organiser: Account) -> None:
    meeting = await book_meeting(client, settings, admin, organiser)
    meeting_id = uuid.UUID(meeting["id"])
    start = datetime.now(UTC)

    queued = [await _resend(settings, organiser, meeting_id, start + timedelta(seconds=10 * step)) for step in range(3)]

    rows = await _resend_rows(settings, meeting_id)
    pending = [row for row in rows if row.status == "pending"]
    dropped = [row for row in rows if row.status == "dropped"]
    emails = [row for row in pending if row.channel == "email"]
    assert queued == [3, 3, 3]
    assert len(emails) == 3
    assert len(dropped) == 2 * len(pending)
    assert all(row.next_attempt_at >= start + timedelta(seconds=20) + SETTLE - timedelta(seconds=1) for row in pending)
    assert all(row.last_error == "superseded by a later change of the meeting" for row in dropped)


async def test_time_change_drops_waiting_resend(client: AsyncTestClient, settings: Settings, admin: Account, organiser: Account) -> None:
    meeting = await book_meeting(client, settings, admin, organiser)
    meeting_id = uuid.UUID(meeting["id"])
    await _resend(settings, organiser, meeting_id, datetime.now(UTC))

    moved = await client.patch(
        f"/api/v1/meetings/{meeting_id}",
        json={"starts_at": "2027-03-01T14:00:00+08:00", "ends_at": "2027-03-01T15:00:00+08:00"},
        headers=organiser.headers,
    )

    assert moved.status_code == 200, moved.text
    rows = await _resend_rows(settings, meeting_id)
    assert rows
    assert {row.status for row in rows} == {"dropped"}
