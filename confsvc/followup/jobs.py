"""Scheduler sweeps of follow-up: due reminders and escalations, then weekly digests."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from confsvc.followup.reminders import ReminderSweep, SweepReport
from confsvc.scheduler import Sweep
from confsvc.settings import Settings

__all__ = ["followup_sweeps"]


def followup_sweeps(settings: Settings, session_maker: async_sessionmaker[AsyncSession]) -> list[Sweep]:
    sweep = ReminderSweep(settings, session_maker)

    async def remind() -> SweepReport:
        # Bounded so that one run of the job cannot outlast many intervals after long downtime.
        return await sweep.run_until_idle(max_rounds=50)

    return [Sweep(name="followup_reminders", interval_seconds=settings.followup.sweep_interval_seconds, run=remind)]
