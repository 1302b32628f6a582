"""Run the outbox dispatcher in a loop until killed; configured by CONFSVC_* variables."""

from __future__ import annotations

import asyncio

from confsvc.db.engine import create_engine, create_session_factory
from confsvc.notify.sweeps import build_dispatcher
from confsvc.settings import Settings


async def main() -> None:
    settings = Settings.from_env()
    engine = create_engine(settings.database)
    dispatcher = build_dispatcher(settings, create_session_factory(engine))
    while True:
        report = await dispatcher.run_once()
        if report.claimed == 0:
            await asyncio.sleep(0.05)


if __name__ == "__main__":
    asyncio.run(main())
