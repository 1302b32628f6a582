from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import select

from confsvc.db.engine import create_engine, create_session_factory
from confsvc.db.models import OutboxMessage
from confsvc.notify.outbox import OutboxDispatcher, enqueue
from confsvc.notify.sweeps import build_dispatcher
from confsvc.settings import MailSettings, OutboxSettings, Settings
from tests.conftest import make_settings


def outbox_settings(db_url: str, tmp_path: Path, smtp_url: str | None, **outbox: int) -> Settings:
    base = make_settings(db_url, tmp_path)
    values = {"base_delay_seconds": 0, "lease_seconds": 30, **outbox}
    return dataclasses.replace(
        base,
        mail=MailSettings(smtp_url=smtp_url, mail_from="meetings@example.com"),
        outbox=OutboxSettings(**values),
    )


async def enqueue_plain(settings: Settings, count: int, *, prefix: str = "test") -> list[str]:
    """Queue ``count`` plain e-mails in one transaction and return their keys."""
    engine = create_engine(settings.database)
    keys = [f"{prefix}:{index}" for index in range(count)]
    try:
        async with create_session_factory(engine)() as session:
            for index, key in enumerate(keys):
                await enqueue(
                    session,
                    key=key,
                    channel="email",
                    recipient=f"user{index}@example.com",
                    payload={"subject": f"消息 {index}", "text": f"正文 {index}\n", "language": "zh-CN"},
                )
            await session.commit()
    finally:
        await engine.dispose()
    return keys


async def rows(settings: Settings) -> list[OutboxMessage]:
    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.idempotency_key)))
    finally:
        await engine.dispose()


@asynccontextmanager
async def dispatcher_for(settings: Settings) -> AsyncIterator[OutboxDispatcher]:
    """A dispatcher on its own engine: asyncpg connections must stay in the loop that made them."""
    engine = create_engine(settings.database)
    try:
        yield build_dispatcher(settings, create_session_factory(engine))
    finally:
        await engine.dispose()
