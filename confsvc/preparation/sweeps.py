"""Scheduler sweep of the preparation domain: pre-meeting checks at their offsets."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from confsvc.preparation.services import CheckSweep
from confsvc.scheduler import Sweep
from confsvc.settings import Settings

__all__ = ["preparation_sweeps"]


def preparation_sweeps(settings: Settings, session_maker: async_sessionmaker[AsyncSession]) -> list[Sweep]:
    sweep = CheckSweep(settings, session_maker)
    return [Sweep(name="preparation_checks", interval_seconds=settings.preparation.sweep_interval_seconds, run=sweep.run_once)]
