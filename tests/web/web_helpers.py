"""Helpers for the web page tests: people with passwords, bridges, signing in."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from dataclasses import dataclass

from litestar.testing import AsyncTestClient

from confsvc.booking.schemas import AgendaItemIn, AttendeeIn, MeetingCreate
from confsvc.booking.services import MeetingService
from confsvc.bridges.schemas import BridgeCreate, DialIn
from confsvc.bridges.services import BridgeService
from confsvc.db.engine import create_engine, create_session_factory
from confsvc.directory.schemas import PersonCreate
from confsvc.directory.services import DirectoryService, hash_password
from confsvc.settings import Settings

PASSWORD = "correct horse battery"
_HASH: list[str] = []
CSRF_PATTERN = re.compile(r'name="csrf_token" value="([^"]+)"')


def password_hash() -> str:
    """The argon2 hash of :data:`PASSWORD`, computed once per test run (hashing is slow on purpose)."""
    if not _HASH:
        _HASH.append(hash_password(PASSWORD))
    return _HASH[0]


@dataclass
class WebUser:
    id: uuid.UUID
    email: str
    name: str
    roles: list[str]


async def add_person(settings: Settings, email: str, name: str, roles: list[str], *, locale: str | None = None, department: str | None = None) -> WebUser:
    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            person = await DirectoryService(session).create(
                PersonCreate(email=email, name=name, roles=roles, locale=locale, department=department)
            )
            person.password_hash = password_hash()
            await session.commit()
            return WebUser(id=person.id, email=person.email, name=person.name, roles=roles)
    finally:
        await engine.dispose()


async def add_bridge(settings: Settings, name: str, capacity: int, number: str, code: str) -> uuid.UUID:
    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            bridge = await BridgeService(session, settings.booking).create(
                BridgeCreate(name=name, capacity=capacity, dial_in=[DialIn(number=number, label="中国大陆")],
                             access_code=code, host_pin="9" + code, participant_pin=code + "0")
            )
            await session.commit()
            return bridge.id
    finally:
        await engine.dispose()


@dataclass
class People:
    admin: WebUser
    organiser: WebUser
    secretary: WebUser
    member: WebUser
    other: WebUser


async def make_people(settings: Settings) -> People:
    return People(
        admin=await add_person(settings, "admin@example.cn", "管理员", ["admin"], department="总经理办公室"),
        organiser=await add_person(settings, "zhao.min@example.cn", "赵敏", ["organiser"], department="市场部"),
        secretary=await add_person(settings, "qian.mi@example.cn", "钱秘书", ["secretary"], department="总经理办公室"),
        member=await add_person(settings, "li.na@example.cn", "李娜", ["member"], department="财务部"),
        other=await add_person(settings, "wang.wei@example.cn", "王伟", ["member"], locale="en", department="技术研发部"),
    )


def csrf_of(html: str) -> str:
    match = CSRF_PATTERN.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


async def sign_in(client: AsyncTestClient, email: str) -> str:
    """Sign in through the login page; return the CSRF token of the new session."""
    form = await client.get("/login")
    assert form.status_code == 200
    answer = await client.post(
        "/login", data={"email": email, "password": PASSWORD, "next": "/meetings", "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    page = await client.get("/meetings")
    assert page.status_code == 200
    return csrf_of(page.text)


async def add_meeting(settings: Settings, *, organiser: str, chair: str, secretary: str, attendees: list[str], title: str, starts_in: timedelta) -> uuid.UUID:
    """Book a meeting through the service with a three-item agenda; return its id."""
    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            caller = await DirectoryService(session).find_by_email(organiser)
            assert caller is not None
            meeting = await MeetingService(session, settings).create(
                MeetingCreate(
                    title=title, starts_at=datetime.now(UTC) + starts_in, duration_minutes=60, time_zone="Asia/Shanghai",
                    chair=chair, secretary=secretary, attendees=[AttendeeIn(email=email) for email in attendees],
                    agenda=[AgendaItemIn(title="上次决议落实", duration_minutes=10), AgendaItemIn(title="预算讨论", duration_minutes=40)],
                ),
                caller=caller,
            )
            await session.commit()
            return meeting.id
    finally:
        await engine.dispose()
