"""Removal of old, finished outbox rows.

A row is finished when it is ``sent``, ``dead`` or ``dropped``; rows that are still
``pending`` or ``sending`` are never removed. Deletion runs in batches, each its own
short transaction, so a large backlog neither holds long locks nor one huge transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from confsvc.scheduler import Sweep
from confsvc.settings import Settings

__all__ = ["FINISHED_STATUSES", "OutboxPruner", "ops_sweeps"]

logger = logging.getLogger(__name__)

FINISHED_STATUSES = ("sent", "dead", "dropped")


class OutboxPruner:
    """Deletes finished outbox rows whose ``updated_at`` is older than ``retention_days``."""

    def __init__(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        *,
        retention_days: int,
        batch_size: int = 1000,
        max_batches: int = 100,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.session_maker = session_maker
        self.retention = timedelta(days=retention_days)
        self.batch_size = batch_size
        self.max_batches = max_batches
        self.clock = clock

    async def run_once(self) -> int:
        """Delete up to ``batch_size × max_batches`` rows; return how many were deleted."""
        from confsvc.db.models import OutboxMessage

        cutoff = self.clock() - self.retention
        deleted = 0
        for _batch in range(self.max_batches):
            async with self.session_maker() as session, session.begin():
                ids = select(OutboxMessage.id).where(
                    OutboxMessage.status.in_(FINISHED_STATUSES), OutboxMessage.updated_at < cutoff
                ).limit(self.batch_size)
                result = await session.execute(
                    delete(OutboxMessage).where(OutboxMessage.id.in_(ids)).execution_options(synchronize_session=False)
                )
            count = int(getattr(result, "rowcount", 0) or 0)
            deleted += count
            if count < self.batch_size:
                break
        if deleted:
            logger.info("outbox rows pruned count=%d cutoff=%s", deleted, cutoff.isoformat())
        return deleted


def ops_sweeps(settings: Settings, session_maker: async_sessionmaker[AsyncSession]) -> list[Sweep]:
    """Return the pruning sweep, or nothing when ``CONFSVC_OUTBOX_RETENTION_DAYS`` is 0."""
    if settings.ops.outbox_retention_days <= 0:
        return []
    pruner = OutboxPruner(session_maker, retention_days=settings.ops.outbox_retention_days)
    return [Sweep(name="outbox_pruning", interval_seconds=settings.ops.prune_interval_seconds, run=pruner.run_once)]
