"""Graceful shutdown of the scheduler sweeps.

APScheduler 3.11 cancels a running coroutine job when the scheduler shuts down instead
of waiting for it, which would cut an outbox delivery between the remote server's
acceptance and the recorded outcome. :func:`track_sweeps` therefore runs every sweep as
its own task, shielded from that cancellation, and :meth:`SweepTracker.drain` (called by
the application's lifespan before the scheduler stops) refuses new runs and waits for
the running ones.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from confsvc.ops.metrics import OpsMetrics
from confsvc.scheduler import Sweep

__all__ = ["SweepTracker", "track_sweeps"]

logger = logging.getLogger(__name__)


class SweepTracker:
    """The sweep tasks running in this process, and whether new runs may start."""

    def __init__(self, metrics: OpsMetrics | None = None) -> None:
        self.metrics = metrics
        self.tasks: set[asyncio.Task[object]] = set()
        self.stopping = False

    def wrap(self, sweep: Sweep) -> Sweep:
        """Return ``sweep`` with a ``run`` that is tracked, shielded and skipped while stopping."""
        inner = sweep.run

        async def run() -> object:
            if self.stopping:
                return None
            task: asyncio.Task[object] = asyncio.ensure_future(self._measured(sweep.name, inner))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            # The shield keeps the task alive when APScheduler cancels this coroutine at shutdown.
            return await asyncio.shield(task)

        return replace(sweep, run=run)

    async def _measured(self, name: str, inner: Callable[[], Awaitable[object]]) -> object:
        if self.metrics is not None:
            self.metrics.sweeps_running.inc()
        outcome = "failed"
        try:
            result = await inner()
            outcome = "ok"
            return result
        finally:
            if self.metrics is not None:
                self.metrics.sweeps_running.dec()
                self.metrics.sweep_runs.labels(name, outcome).inc()

    async def drain(self, *, timeout_s: float) -> bool:
        """Stop new runs and wait up to ``timeout_s`` seconds for the running ones.

        Returns True when all finished in time. Runs still going after the timeout are
        cancelled; rows they had claimed stay leased and another process takes them over
        when the lease ends.
        """
        self.stopping = True
        running = [task for task in self.tasks if not task.done()]
        if not running:
            return True
        logger.info("waiting for running sweeps count=%d timeout_s=%.1f", len(running), timeout_s)
        started = time.monotonic()
        done, pending = await asyncio.wait(running, timeout=timeout_s)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
            logger.warning("sweeps cancelled at shutdown count=%d", len(pending))
            return False
        logger.info("running sweeps finished count=%d waited_s=%.2f", len(done), time.monotonic() - started)
        return True


def track_sweeps(sweeps: list[Sweep], tracker: SweepTracker) -> list[Sweep]:
    """Return ``sweeps`` with each run tracked by ``tracker``."""
    return [tracker.wrap(sweep) for sweep in sweeps]
