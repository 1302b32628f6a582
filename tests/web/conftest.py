"""Fixtures for the web page tests: people with passwords, a bridge and a test client."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient
from web_helpers import People, add_bridge, make_people

from confsvc.app import create_app
from confsvc.settings import Settings


@pytest.fixture
async def people(settings: Settings) -> People:
    return await make_people(settings)


@pytest.fixture
async def bridge_id(settings: Settings) -> uuid.UUID:
    return await add_bridge(settings, "总部电话会议桥 1", 20, "+861065550101", "1001")


@pytest.fixture
async def web_client(settings: Settings) -> AsyncIterator[AsyncTestClient]:
    app = create_app(settings, start_scheduler=False)
    async with AsyncTestClient(app=app) as test_client:
        yield test_client
