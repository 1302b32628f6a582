"""The token cache, the ``last_used_at`` throttle and the column-query meeting list."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from confsvc.app import create_app
from confsvc.booking.listing import list_meeting_reads
from confsvc.booking.services import MeetingFilters, MeetingService, Viewer, meeting_read
from confsvc.db.engine import create_engine, create_session_factory
from confsvc.db.models import ApiToken, Person
from confsvc.directory.schemas import PersonCreate
from confsvc.directory.services import DirectoryService, hash_token
from confsvc.minutes.schemas import MinutesDraft, NoteIn
from confsvc.minutes.services import MinutesService
from confsvc.security.token_auth import LAST_USED_INTERVAL, TokenAuthenticator
from confsvc.settings import Settings
from tests.conftest import Account, create_account
from tests.foundation.helpers import add_bridge, meeting_body

TTL_S = 5.0


class FakeClock:
    """Monotonic seconds and wall time that move only when a test advances them."""

    def __init__(self) -> None:
        self.seconds = 1000.0
        self.wall = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)

    def monotonic(self) -> float:
        return self.seconds

    def now(self) -> datetime:
        return self.wall

    def advance(self, seconds: float) -> None:
        self.seconds += seconds
        self.wall += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(settings: Settings, clock: FakeClock) -> Litestar:
    application = create_app(settings, start_scheduler=False)
    application.state.token_authenticator = TokenAuthenticator(
        application.state.session_maker, ttl_s=TTL_S, clock=clock.monotonic, wall_clock=clock.now
    )
    return application


@pytest.fixture
async def api(app: Litestar) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


async def run_sql(settings: Settings, statement: Any) -> None:
    """Change rows the way another process would: no ORM flush in this process."""
    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            await session.execute(statement.execution_options(synchronize_session=False))
            await session.commit()
    finally:
        await engine.dispose()


async def last_used_at(settings: Settings, token: str) -> datetime | None:
    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            return await session.scalar(select(ApiToken.last_used_at).where(ApiToken.token_hash == hash_token(token)))
    finally:
        await engine.dispose()


async def me_status(api: AsyncTestClient, account: Account) -> int:
    return (await api.get("/api/v1/me", headers=account.headers)).status_code


async def test_revoked_token_rejected_at_once(api: AsyncTestClient, organiser: Account) -> None:
    created = await api.post("/api/v1/tokens", json={"name": "laptop"}, headers=organiser.headers)
    assert created.status_code == 201, created.text
    second = Account(id=organiser.id, email=organiser.email, token=created.json()["token"])
    assert await me_status(api, second) == 200

    revoked = await api.delete(f"/api/v1/tokens/{created.json()['id']}", headers=organiser.headers)

    assert revoked.status_code == 204
    assert await me_status(api, second) == 401
    assert await me_status(api, organiser) == 200


async def test_revocation_elsewhere_applies_within_ttl(
    api: AsyncTestClient, settings: Settings, organiser: Account, clock: FakeClock
) -> None:
    assert await me_status(api, organiser) == 200
    await run_sql(settings, update(ApiToken).where(ApiToken.token_hash == hash_token(organiser.token)).values(revoked_at=clock.now()))

    clock.advance(TTL_S - 1)
    still_cached = await me_status(api, organiser)
    clock.advance(1)
    after_ttl = await me_status(api, organiser)

    assert still_cached == 200
    assert after_ttl == 401


async def test_deactivated_person_rejected_at_once(api: AsyncTestClient, admin: Account, organiser: Account) -> None:
    assert await me_status(api, organiser) == 200

    changed = await api.patch(f"/api/v1/people/{organiser.id}", json={"active": False}, headers=admin.headers)

    assert changed.status_code == 200, changed.text
    assert await me_status(api, organiser) == 401


async def test_role_change_applies_at_once(api: AsyncTestClient, admin: Account, organiser: Account) -> None:
    await add_bridge(api, admin, "A", 10)
    assert (await api.get("/api/v1/me", headers=organiser.headers)).json()["roles"] == ["organiser"]

    changed = await api.patch(f"/api/v1/people/{organiser.id}", json={"roles": ["member"]}, headers=admin.headers)
    booking = await api.post(
        "/api/v1/meetings", json=meeting_body("2027-03-01T10:00:00+08:00", "2027-03-01T11:00:00+08:00"), headers=organiser.headers
    )

    assert changed.status_code == 200, changed.text
    assert booking.status_code == 403


async def test_cache_off_rejects_revoked_token(app: Litestar, api: AsyncTestClient, settings: Settings, organiser: Account) -> None:
    app.state.token_authenticator = TokenAuthenticator(app.state.session_maker, ttl_s=0)
    assert await me_status(api, organiser) == 200
    await run_sql(settings, update(ApiToken).where(ApiToken.token_hash == hash_token(organiser.token)).values(revoked_at=datetime.now(UTC)))

    assert await me_status(api, organiser) == 401


async def test_last_used_at_written_once_per_interval(
    api: AsyncTestClient, settings: Settings, organiser: Account, clock: FakeClock
) -> None:
    first_use = clock.now()
    assert await me_status(api, organiser) == 200
    assert await last_used_at(settings, organiser.token) == first_use

    # Cache misses inside the interval read the token but do not write.
    for _ in range(3):
        clock.advance(TTL_S + 1)
        assert await me_status(api, organiser) == 200
    assert await last_used_at(settings, organiser.token) == first_use

    clock.advance(LAST_USED_INTERVAL.total_seconds())
    later_use = clock.now()
    assert await me_status(api, organiser) == 200
    assert await last_used_at(settings, organiser.token) == later_use


async def test_cache_hit_skips_database(api: AsyncTestClient, settings: Settings, organiser: Account, clock: FakeClock) -> None:
    assert await me_status(api, organiser) == 200
    first_use = clock.now()
    # Inside the time to live, a request neither reads nor writes the token row,
    # even though last_used_at is stale by the wall clock.
    clock.wall += LAST_USED_INTERVAL * 2

    assert await me_status(api, organiser) == 200
    assert await last_used_at(settings, organiser.token) == first_use


async def test_cache_hits_return_separate_people(settings: Settings, organiser: Account, clock: FakeClock) -> None:
    engine = create_engine(settings.database)
    authenticator = TokenAuthenticator(create_session_factory(engine), ttl_s=TTL_S, clock=clock.monotonic, wall_clock=clock.now)
    try:
        first = await authenticator.authenticate(organiser.token)
        second = await authenticator.authenticate(organiser.token)
        assert first is not None
        assert second is not None
        first.roles.append("admin")
        third = await authenticator.authenticate(organiser.token)
    finally:
        await engine.dispose()

    # Each request gets its own instance, so one request's session cannot claim another's.
    assert first is not second
    assert second.id == organiser.id
    assert second.roles == ["organiser"]
    assert third is not None
    assert third.roles == ["organiser"]


async def test_meeting_list_matches_orm_reads(api: AsyncTestClient, settings: Settings, admin: Account, organiser: Account) -> None:
    member = await create_account(settings, "li.na@example.com", "李娜", ["member"])
    outsider = await create_account(settings, "wang.fang@example.com", "王芳", ["member"])
    bridge = await add_bridge(api, admin, "A", 10, access_code="123456", host_pin="9999", participant_pin="1111")
    booked = [
        await api.post("/api/v1/meetings", headers=organiser.headers, json=meeting_body(
            "2027-03-01T10:00:00+08:00", "2027-03-01T11:00:00+08:00", bridge_id=bridge["id"], chair=admin.email,
            secretary=outsider.email,
            agenda=[{"title": "预算", "duration_minutes": 20}, {"title": "招聘", "presenter": member.email}],
        )),
        await api.post("/api/v1/meetings", headers=organiser.headers, json=meeting_body(
            "2027-03-02T10:00:00+08:00", "2027-03-02T11:00:00+08:00", rrule="FREQ=WEEKLY;COUNT=3",
            attendees=[{"email": "li.na@example.com", "name": "李娜"}, {"email": "zhao.lei@example.com", "name": "赵磊"}],
        )),
        await api.post("/api/v1/meetings", headers=admin.headers, json=meeting_body(
            "2027-03-05T10:00:00+08:00", "2027-03-05T11:00:00+08:00", attendees=[],
        )),
    ]
    assert [response.status_code for response in booked] == [201, 201, 201], [r.text for r in booked]

    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            for account in (admin, organiser, member, outsider):
                person = await session.get(Person, account.id)
                assert person is not None
                viewer = Viewer.of(person)
                for filters in (MeetingFilters(), MeetingFilters(limit=1, offset=1), MeetingFilters(attendee="zhao.lei@example.com")):
                    service = MeetingService(session, settings)
                    expected = [meeting_read(meeting, viewer) for meeting in await service.list(filters, viewer)]
                    actual = await list_meeting_reads(service, filters, viewer)
                    assert msgspec.json.encode(actual) == msgspec.json.encode(expected), (account.email, filters)
    finally:
        await engine.dispose()

    listed = await api.get("/api/v1/meetings", headers=member.headers)
    assert listed.status_code == 200
    assert [meeting["title"] for meeting in listed.json()] == ["季度经营分析会", "季度经营分析会"]



async def test_concurrent_first_minutes_saves(api: AsyncTestClient, settings: Settings, admin: Account, organiser: Account) -> None:
    await add_bridge(api, admin, "A", 10)
    booked = await api.post(
        "/api/v1/meetings", json=meeting_body("2027-03-01T10:00:00+08:00", "2027-03-01T11:00:00+08:00"), headers=organiser.headers
    )
    assert booked.status_code == 201, booked.text
    meeting_id = uuid.UUID(booked.json()["id"])
    engine = create_engine(settings.database)
    session_maker = create_session_factory(engine)

    async def save(index: int) -> int:
        # Separate sessions in one event loop interleave like requests in one process.
        async with session_maker() as session:
            caller = await session.get(Person, organiser.id)
            assert caller is not None
            draft = MinutesDraft(notes=[NoteIn(title="预算", text=f"第 {index} 稿")])
            saved = await MinutesService(session, settings).save_draft(meeting_id, draft, caller=caller)
            await session.commit()
            return saved.version

    try:
        versions = await asyncio.gather(*(save(index) for index in range(6)))
    finally:
        await engine.dispose()

    assert versions == [1] * 6
    stored = await api.get(f"/api/v1/meetings/{meeting_id}/minutes", headers=organiser.headers)
    assert stored.status_code == 200
    assert stored.json()["notes"][0]["text"] in {f"第 {index} 稿" for index in range(6)}


async def test_booking_with_colleague_of_cached_caller(api: AsyncTestClient, settings: Settings, admin: Account) -> None:
    # The cached caller carries a detached copy of its department. Booking with a chair
    # and a secretary of the same department loads that department into the session too.
    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            directory = DirectoryService(session)
            caller = await directory.create(
                PersonCreate(email="li.na@example.com", name="李娜", department="财务部", roles=["organiser"])
            )
            await directory.create(PersonCreate(email="wang.fang@example.com", name="王芳", department="财务部"))
            await directory.create(PersonCreate(email="zhao.lei@example.com", name="赵磊", department="财务部"))
            token = await directory.create_token(caller)
            await session.commit()
    finally:
        await engine.dispose()
    headers = {"Authorization": f"Bearer {token}"}
    await add_bridge(api, admin, "A", 10)
    assert (await api.get("/api/v1/me", headers=headers)).status_code == 200

    body = meeting_body(
        "2027-03-01T10:00:00+08:00", "2027-03-01T11:00:00+08:00", chair="wang.fang@example.com", secretary="zhao.lei@example.com"
    )
    booked = await api.post("/api/v1/meetings", json=body, headers=headers)

    assert booked.status_code == 201, booked.text
    assert booked.json()["chair"] == "wang.fang@example.com"
    assert booked.json()["secretary"] == "zhao.lei@example.com"
