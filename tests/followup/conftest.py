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
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from followup_support import MailSink  # noqa: E402
from litestar.testing import AsyncTestClient
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from confsvc.app import create_app
from confsvc.db.engine import create_engine, create_session_factory
from confsvc.db.models import Base
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


@pytest.fixture
def mail_sink() -> Iterator[MailSink]:
    sink = MailSink()
    sink.start()
    yield sink
    sink.stop()
