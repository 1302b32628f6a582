"""Fixtures of the preparation tests: the people of one meeting, a bridge and helpers."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from confsvc.db.engine import create_engine, create_session_factory
from confsvc.db.models import Attendee, OutboxMessage
from confsvc.settings import Settings
from tests.conftest import Account, create_account
from tests.invitations.radicale_support import RadicaleServer, running_radicale
from tests.preparation.s3_support import S3Server, running_s3_server


@dataclass
class Cast:
    admin: Account
    organiser: Account
    chair: Account
    secretary: Account
    attendee: Account
    outsider: Account


@pytest.fixture
async def cast(settings: Settings, admin: Account, organiser: Account) -> Cast:
    return Cast(
        admin=admin,
        organiser=organiser,
        chair=await create_account(settings, "chen.jing@example.com", "陈静", ["member"]),
        secretary=await create_account(settings, "wang.fang@example.com", "王芳", ["secretary"]),
        attendee=await create_account(settings, "li.na@example.com", "李娜", ["member"]),
        outsider=await create_account(settings, "zhao.lei@example.com", "赵磊", ["member"]),
    )


def future_start(days: int = 3) -> datetime:
    """A whole hour ``days`` ahead, so bookings pass the minimum notice."""
    return (datetime.now(UTC) + timedelta(days=days)).replace(minute=0, second=0, microsecond=0)


async def add_static_bridge(client: AsyncTestClient, admin: Account, *, capacity: int = 10, name: str | None = None) -> dict[str, Any]:
    body = {
        "name": name or f"Bridge {uuid.uuid4().hex[:6]}",
        "capacity": capacity,
        "dial_in": [{"number": "+861065550101", "label": "北京"}],
        "access_code": "1001",
    }
    response = await client.post("/api/v1/bridges", json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def book_meeting(
    client: AsyncTestClient, cast: Cast, *, starts_at: datetime, minutes: int = 60, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "季度经营分析会",
        "starts_at": starts_at.isoformat(),
        "ends_at": (starts_at + timedelta(minutes=minutes)).isoformat(),
        "chair": cast.chair.email,
        "secretary": cast.secretary.email,
        "attendees": [
            {"email": cast.chair.email, "name": "陈静", "role": "chair"},
            {"email": cast.attendee.email, "name": "李娜"},
            {"email": "guest.one@example.com", "name": "Guest One"},
        ],
    }
    body.update(extra)
    response = await client.post("/api/v1/meetings", json=body, headers=cast.organiser.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def set_partstat(settings: Settings, meeting_id: str, email: str, partstat: str) -> None:
    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            await session.execute(
                update(Attendee)
                .where(Attendee.meeting_id == uuid.UUID(meeting_id), Attendee.email == email)
                .values(partstat=partstat)
            )
            await session.commit()
    finally:
        await engine.dispose()


async def outbox_rows(settings: Settings, *, prefix: str = "") -> list[OutboxMessage]:
    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            statement = select(OutboxMessage).order_by(OutboxMessage.created_at, OutboxMessage.idempotency_key)
            if prefix:
                statement = statement.where(OutboxMessage.idempotency_key.startswith(prefix))
            return list(await session.scalars(statement))
    finally:
        await engine.dispose()


def with_preparation(settings: Settings, **changes: Any) -> Settings:
    return dataclasses.replace(settings, preparation=dataclasses.replace(settings.preparation, **changes))


@pytest.fixture
async def session_maker(settings: Settings) -> AsyncIterator[Any]:
    engine = create_engine(settings.database)
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """One S3-protocol server (moto) on 127.0.0.1 for the whole test run."""
    with running_s3_server() as server:
        yield server


@pytest.fixture(scope="session")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RadicaleServer]:
    """One Radicale server on 127.0.0.1 for the whole test run."""
    with running_radicale(tmp_path_factory.mktemp("radicale-preparation")) as server:
        yield server
