"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, the app and clients.

Database-facing tests take the ``db_url`` fixture, which runs each test once on a fresh
SQLite file and once on PostgreSQL. The PostgreSQL URL comes from
``CONFSVC_TEST_DATABASE_URL``; each test run creates its own database there and drops it
at the end. Without that variable the PostgreSQL cases are skipped with the reason shown.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.engine import make_url

from confsvc.app import create_app
from confsvc.db.engine import create_engine, create_session_factory
from confsvc.db.migrate import upgrade
from confsvc.db.models import Base
from confsvc.directory.schemas import PersonCreate
from confsvc.directory.services import DirectoryService
from confsvc.settings import DatabaseSettings, Settings

PG_ENV = "CONFSVC_TEST_DATABASE_URL"


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test so every test starts empty."""
    path = tmp_path_factory.mktemp("sqlite") / "template.sqlite3"
    upgrade(DatabaseSettings(url=f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """Create a fresh PostgreSQL database for this test run and drop it afterwards."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set: PostgreSQL cases skipped (set it to postgresql+asyncpg://USER@HOST/DB)")
    name = f"confsvc_test_{uuid.uuid4().hex[:10]}"
    admin_dsn = _asyncpg_dsn(base)

    async def run(statement: str) -> None:
        connection = await asyncpg.connect(admin_dsn)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    upgrade(DatabaseSettings(url=url))
    try:
        yield url
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _empty_postgres(url: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
        await connection.execute(f"TRUNCATE {tables} CASCADE")
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "confsvc.sqlite3"
        shutil.copy(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    url = request.getfixturevalue("postgres_database")
    asyncio.run(_empty_postgres(url))
    return url


def make_settings(db_url: str, tmp_path: Path, **booking: int) -> Settings:
    from confsvc.settings import BookingSettings

    return Settings.from_env(
        {
            "CONFSVC_DATABASE_URL": db_url,
            "CONFSVC_DATA_DIR": str(tmp_path / "data"),
            "CONFSVC_SECRET_KEY": "test-secret-key",
            "CONFSVC_SCHEDULER_ENABLED": "false",
            # Agenda updates go out at once, so that tests can deliver them right away.
            "CONFSVC_PREP_AGENDA_RESEND_SETTLE_SECONDS": "0",
        },
        booking=BookingSettings(**booking),
    )


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return make_settings(db_url, tmp_path)


@dataclass
class Account:
    id: uuid.UUID
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def create_account(settings: Settings, email: str, name: str, roles: list[str]) -> Account:
    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            service = DirectoryService(session)
            person = await service.create(PersonCreate(email=email, name=name, roles=roles))
            token = await service.create_token(person)
            await session.commit()
            return Account(id=person.id, email=person.email, token=token)
    finally:
        await engine.dispose()


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient]:
    app = create_app(settings, start_scheduler=False)
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


@pytest.fixture
async def admin(settings: Settings) -> Account:
    return await create_account(settings, "admin@example.com", "管理员", ["admin"])


@pytest.fixture
async def organiser(settings: Settings) -> Account:
    return await create_account(settings, "zhang.wei@example.com", "张伟", ["organiser"])


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("CONFSVC_REQUIRE_POSTGRES") == "1" and not os.environ.get(PG_ENV):
        raise pytest.UsageError(f"CONFSVC_REQUIRE_POSTGRES=1 but {PG_ENV} is not set")


_skipped_postgres: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and "postgres" in report.keywords:
        _skipped_postgres.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when PostgreSQL is required and any PostgreSQL case was skipped."""
    if os.environ.get("CONFSVC_REQUIRE_POSTGRES") == "1" and _skipped_postgres:
        session.config.get_terminal_writer().line(
            f"{len(_skipped_postgres)} PostgreSQL case(s) skipped although CONFSVC_REQUIRE_POSTGRES=1, "
            f"e.g. {_skipped_postgres[0]}",
            red=True,
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
