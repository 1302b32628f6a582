"""Fixtures for the security tests: one account per role, a bridge and a confidential meeting."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from confsvc.app import create_app
from confsvc.db.engine import create_engine, create_session_factory
from confsvc.directory.schemas import PersonCreate
from confsvc.directory.services import DirectoryService
from confsvc.settings import Settings
from tests.conftest import Account

SECRET_TITLE = "机密并购项目 Falcon-7731"
SECRET_DESCRIPTION = "Board-only description 5520-QX"
HOST_PIN = "918273"
PARTICIPANT_PIN = "564738"


@dataclass
class Roles:
    admin: Account
    organiser: Account
    secretary: Account
    member: Account
    """Invited to the confidential meeting as an attendee."""
    stranger: Account
    """A member who is not invited to anything."""

    def by_name(self) -> dict[str, Account]:
        return {
            "admin": self.admin, "organiser": self.organiser, "secretary": self.secretary,
            "member": self.member, "stranger": self.stranger,
        }


@dataclass
class World:
    roles: Roles
    bridge: dict[str, Any]
    meeting: dict[str, Any]
    """The confidential meeting as its organiser reads it."""


async def create_accounts(settings: Settings, people: list[tuple[str, str, list[str]]]) -> list[Account]:
    """Create several people with a token each in one transaction (one engine, fast)."""
    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            service = DirectoryService(session)
            accounts = []
            for email, name, person_roles in people:
                person = await service.create(PersonCreate(email=email, name=name, roles=person_roles))
                accounts.append(Account(id=person.id, email=person.email, token=await service.create_token(person)))
            await session.commit()
            return accounts
    finally:
        await engine.dispose()


@pytest.fixture
async def roles(settings: Settings) -> Roles:
    admin, organiser, secretary, member, stranger = await create_accounts(
        settings,
        [
            ("root@example.com", "Root Admin", ["admin"]),
            ("wang.fang@example.com", "王芳", ["organiser"]),
            ("zhao.lei@example.com", "赵磊", ["secretary"]),
            ("li.na@example.com", "李娜", ["member"]),
            ("outsider@example.com", "Outsider", ["member"]),
        ],
    )
    return Roles(admin=admin, organiser=organiser, secretary=secretary, member=member, stranger=stranger)


async def book_confidential(client: AsyncTestClient, roles: Roles) -> tuple[dict[str, Any], dict[str, Any]]:
    bridge_response = await client.post(
        "/api/v1/bridges",
        json={
            "name": "Board bridge", "capacity": 20, "dial_in": [{"number": "+861012345678", "label": "北京"}],
            "host_pin": HOST_PIN, "participant_pin": PARTICIPANT_PIN,
        },
        headers=roles.admin.headers,
    )
    assert bridge_response.status_code == 201, bridge_response.text
    bridge = bridge_response.json()
    meeting_response = await client.post(
        "/api/v1/meetings",
        json={
            "title": SECRET_TITLE,
            "description": SECRET_DESCRIPTION,
            "starts_at": "2027-03-01T09:30:00+08:00",
            "ends_at": "2027-03-01T10:30:00+08:00",
            "confidentiality": "confidential",
            "secretary": roles.secretary.email,
            "attendees": [{"email": roles.member.email, "name": "李娜"}],
            "bridge_id": bridge["id"],
        },
        headers=roles.organiser.headers,
    )
    assert meeting_response.status_code == 201, meeting_response.text
    return bridge, meeting_response.json()


@pytest.fixture
async def world(client: AsyncTestClient, roles: Roles) -> World:
    bridge, meeting = await book_confidential(client, roles)
    return World(roles=roles, bridge=bridge, meeting=meeting)


@pytest.fixture
async def https_client(db_url: str, tmp_path: Path) -> AsyncIterator[AsyncTestClient]:
    from tests.conftest import make_settings

    base = make_settings(db_url, tmp_path)
    settings = Settings(**{**base.__dict__, "base_url": "https://meet.example.com"})
    async with AsyncTestClient(app=create_app(settings, start_scheduler=False)) as client:
        yield client


@pytest.fixture(autouse=True)
def _empty_security_tables(request: pytest.FixtureRequest) -> None:
    """Empty the tables that the shared PostgreSQL clean-up does not know about.

    TRUNCATE is not a row-level UPDATE/DELETE, so the append-only trigger allows it.
    """
    if "db_url" not in request.fixturenames:
        return
    url = request.getfixturevalue("db_url")
    if not url.startswith("postgresql"):
        return
    import asyncio

    import asyncpg
    from sqlalchemy.engine import make_url

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

    async def truncate() -> None:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute("TRUNCATE audit_event, login_throttle, web_session")
        finally:
            await connection.close()

    asyncio.run(truncate())
