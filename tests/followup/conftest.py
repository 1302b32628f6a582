"""Fixtures of the follow-up tests: a scratch database built from the ORM metadata.

These tests build their schema with ``metadata.create_all`` on a fresh SQLite file and a
fresh PostgreSQL database (``CONFSVC_TEST_DATABASE_URL``), so they do not depend on the
other domains' migrations. ``test_followup_migration_matches_models`` checks the follow-up
migration against the models. Each test starts from empty tables, and ``fu_db_url`` runs
it on both databases.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from confsvc.app import create_app
from confsvc.db.engine import create_engine, create_session_factory
from confsvc.db.models import ActionItem, Base, Department, Meeting, Minutes, Person
from confsvc.settings import Settings
from tests.conftest import make_settings

PG_ENV = "CONFSVC_TEST_DATABASE_URL"


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _create_all(url: str) -> None:
    engine = create_engine(Settings.from_env({"CONFSVC_DATABASE_URL": url}).database)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def fu_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("followup-sqlite") / "template.sqlite3"
    asyncio.run(_create_all(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def fu_postgres_database() -> Iterator[str]:
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set: PostgreSQL cases skipped")
    name = f"confsvc_followup_{uuid.uuid4().hex[:10]}"

    async def run(statement: str) -> None:
        connection = await asyncpg.connect(_asyncpg_dsn(base))
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_create_all(url))
    try:
        yield url
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate(url: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
        await connection.execute(f"TRUNCATE {tables} CASCADE")
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fu_db_url(request: pytest.FixtureRequest, tmp_path: Path, fu_sqlite_template: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "followup.sqlite3"
        shutil.copy(fu_sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    url = request.getfixturevalue("fu_postgres_database")
    asyncio.run(_truncate(url))
    return url


@pytest.fixture
def fu_settings(fu_db_url: str, tmp_path: Path) -> Settings:
    return make_settings(fu_db_url, tmp_path)


@pytest.fixture
async def fu_sessions(fu_settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(fu_settings.database)
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def fu_client(fu_settings: Settings) -> AsyncIterator[AsyncTestClient]:
    app = create_app(fu_settings, start_scheduler=False)
    async with AsyncTestClient(app=app) as client:
        yield client


# -- data builders ------------------------------------------------------------------------


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


@pytest.fixture
def mail_sink() -> Iterator[MailSink]:
    sink = MailSink()
    sink.start()
    yield sink
    sink.stop()
