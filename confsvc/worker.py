"""``confsvc worker``: the scheduler sweeps without the HTTP service."""

from __future__ import annotations

import asyncio
import logging
import signal

from confsvc.app import create_app
from confsvc.settings import Settings

logger = logging.getLogger(__name__)


async def run_worker(settings: Settings) -> None:
    """Run the sweeps until SIGINT or SIGTERM."""
    app = create_app(settings, start_scheduler=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with app.lifespan():
        logger.info("worker started")
        await stop.wait()
    logger.info("worker stopped")
