"""Helpers shared by the follow-up tests: people, items, tokens and an SMTP sink."""

from __future__ import annotations

import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.db.models import ActionItem, Department, Meeting, Minutes, Person


@dataclass
class World:
    """A department, its head, an organiser, an owner, a co-owner and one meeting with approved minutes."""

    meeting_id: uuid.UUID
    minutes_id: uuid.UUID
    organiser: Person
    owner: Person
    co_owner: Person
    outsider: Person
    ids: dict[str, uuid.UUID] = field(default_factory=dict)


async def build_world(session: AsyncSession, *, owner_zone: str | None = None, owner_locale: str = "zh-CN") -> World:
    department = Department(name="财务部", head_email="head@example.com")
    session.add(department)
    await session.flush()
    organiser = Person(email="organiser@example.com", name="组织者", roles=["organiser"], locale="en")
    owner = Person(
        email="owner@example.com", name="责任人", roles=["member"], department_id=department.id,
        phone="+8613800138000", locale=owner_locale, time_zone=owner_zone,
    )
    co_owner = Person(email="co@example.com", name="协办人", roles=["member"])
    outsider = Person(email="outsider@example.com", name="Outsider", roles=["member"])
    session.add_all([organiser, owner, co_owner, outsider])
    await session.flush()
    start = datetime(2026, 9, 14, 2, 0, tzinfo=UTC)
    meeting = Meeting(
        uid=f"{uuid.uuid4()}@test", title="季度经营会", starts_at=start, ends_at=start + timedelta(hours=1),
        series_ends_at=start + timedelta(hours=1), time_zone="Asia/Shanghai", organiser_id=organiser.id,
    )
    session.add(meeting)
    await session.flush()
    minutes = Minutes(meeting_id=meeting.id, status="approved", version=1)
    session.add(minutes)
    await session.flush()
    return World(meeting.id, minutes.id, organiser, owner, co_owner, outsider)


async def add_item(
    session: AsyncSession, world: World, *, due: date, title: str = "完成预算复核", status: str = "open",
    resolution: str | None = "1", **extra: Any,
) -> ActionItem:
    item = ActionItem(
        meeting_id=world.meeting_id, minutes_id=world.minutes_id, resolution_number=resolution, title=title,
        owner_email=world.owner.email, owner_id=world.owner.id, co_owner_emails=[world.co_owner.email],
        due_date=due, status=status, **extra,
    )
    session.add(item)
    await session.flush()
    return item


async def token_for(session: AsyncSession, person: Person) -> str:
    from confsvc.directory.services import DirectoryService

    stored = (await session.execute(select(Person).where(Person.id == person.id))).scalar_one()
    return await DirectoryService(session).create_token(stored)


# -- SMTP sink ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MailSink:
    """An aiosmtpd server on 127.0.0.1 that keeps every message it accepts."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[EmailMessage] = []
        self._lock = threading.Lock()
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                import email
                import email.policy

                parsed = email.message_from_bytes(envelope.original_content or b"", policy=email.policy.default)
                with sink._lock:
                    sink.messages.append(parsed)  # type: ignore[arg-type]
                return "250 OK"

        self.port = free_port()
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()
