"""The clock of the service: APScheduler runs periodic sweeps over the database.

The scheduler holds no state of its own. Each sweep finds due work in the domain tables
and claims it there, so a restart loses nothing and several processes can run the
same sweeps without doing any piece of work twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sweep:
    name: str
    interval_seconds: float
    run: Callable[[], Awaitable[object]]


def build_scheduler(sweeps: list[Sweep]) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=timezone.utc)
    for sweep in sweeps:
        scheduler.add_job(
            _guarded(sweep),
            "interval",
            seconds=sweep.interval_seconds,
            id=sweep.name,
            name=sweep.name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(sweep.interval_seconds)),
        )
    return scheduler


def _guarded(sweep: Sweep) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        try:
            await sweep.run()
        except Exception:
            logger.exception("sweep failed sweep=%s", sweep.name)

    run.__name__ = f"sweep_{sweep.name}"
    return run
