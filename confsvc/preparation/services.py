"""Running the pre-meeting checks: on demand for one meeting, and by the scheduler sweep.

The sweep finds occurrences whose check offsets (``CONFSVC_PREP_CHECK_OFFSETS_MINUTES``)
have come and have no ``check_offset_run`` row yet. It records the run, the offset rows
and the notices in one transaction. The unique constraint on the offset rows lets only
one process win, and a restarted process finds the rows, so a notice is neither lost nor
repeated. When several offsets of one occurrence are due together (the service was down,
or the meeting was booked at short notice), one run covers them all.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from confsvc.booking.services import MeetingService, Viewer
from confsvc.bridges.adapters import adapter_for
from confsvc.db.models import Booking, CheckOffsetRun, CheckRun, Meeting, Person
from confsvc.errors import NotFound, PermissionDenied
from confsvc.i18n import gettext as _
from confsvc.preparation.agenda import can_prepare
from confsvc.preparation.checks import AdapterFactory, collect_facts, evaluate, probe_bridge, record_run
from confsvc.preparation.notices import enqueue_check_notices
from confsvc.settings import Settings

__all__ = ["CheckService", "CheckSweep", "SweepReport"]

logger = logging.getLogger(__name__)

_SWEEP_BATCH = 100
"""Most occurrences one sweep checks per offset; the rest wait for the next sweep."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class CheckService:
    """Request-scoped access to check runs."""

    def __init__(self, session: AsyncSession, settings: Settings, *, adapter_factory: AdapterFactory = adapter_for) -> None:
        self.session = session
        self.settings = settings
        self.adapter_factory = adapter_factory

    async def latest(self, meeting_id: uuid.UUID, *, caller: Person) -> CheckRun:
        """Return the newest run of a meeting the caller can see; ``NotFound`` when none ran yet."""
        meeting = await MeetingService(self.session, self.settings).get(meeting_id, Viewer.of(caller))
        run = await self.newest_run(meeting.id)
        if run is None:
            raise NotFound("check run", meeting_id)
        return run

    async def newest_run(self, meeting_id: uuid.UUID) -> CheckRun | None:
        """Return the newest run of the meeting, without checking who may see it."""
        return await self.session.scalar(
            select(CheckRun)
            .where(CheckRun.meeting_id == meeting_id)
            .order_by(CheckRun.started_at.desc(), CheckRun.id.desc())
            .limit(1)
        )

    async def run_now(self, meeting_id: uuid.UUID, *, caller: Person, now: datetime | None = None) -> CheckRun:
        """Run the checks for the next active occurrence and queue notices when any fails or warns.

        Commits the read part before calling the bridge, so that no transaction stays open
        across the network call; the caller commits the run.

        Raises:
            NotFound: the meeting does not exist or the caller may not see it.
            PermissionDenied: the caller is not organiser, chair, secretary or admin.
        """
        now = now or _utc_now()
        viewer = Viewer.of(caller)
        meeting = await MeetingService(self.session, self.settings).get(meeting_id, viewer)
        if not can_prepare(meeting, viewer):
            raise PermissionDenied(_("only the organiser, chair, secretary or an administrator may run the checks"))
        active = sorted(b.starts_at for b in meeting.bookings if b.active)
        upcoming = [start for start in active if start > now]
        if upcoming:
            occurrence = upcoming[0]
        elif active:
            occurrence = active[-1]
        else:
            occurrence = meeting.starts_at
        facts = await collect_facts(self.session, meeting, occurrence_starts_at=occurrence)
        await self.session.commit()

        probe = await probe_bridge(facts, adapter_factory=self.adapter_factory)
        outcomes = evaluate(facts, probe, self.settings.preparation)
        run = record_run(self.session, facts, outcomes, trigger="manual", now=now, locale=self.settings.default_locale)
        await enqueue_check_notices(self.session, self.settings, facts, run, outcomes, offset_label="manual", now=now)
        await self.session.flush()
        logger.info("checks run on demand meeting_id=%s run_id=%s status=%s", meeting.id, run.id, run.status)
        return run


@dataclass
class SweepReport:
    due: int = 0
    runs: int = 0
    skipped: int = 0
    """Occurrences another process had claimed first, or whose meeting changed meanwhile."""
    failed: int = 0
    run_ids: list[uuid.UUID] = field(default_factory=list)


class CheckSweep:
    """Finds due check offsets and runs the checks; one instance per process."""

    def __init__(
        self,
        settings: Settings,
        session_maker: async_sessionmaker[AsyncSession],
        *,
        adapter_factory: AdapterFactory = adapter_for,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.settings = settings
        self.session_maker = session_maker
        self.adapter_factory = adapter_factory
        self.clock = clock

    async def run_once(self, *, now: datetime | None = None) -> SweepReport:
        now = now or self.clock()
        report = SweepReport()
        due = await self._due(now)
        report.due = len(due)
        for (meeting_id, starts_at), offsets in sorted(due.items(), key=lambda item: item[0][1]):
            try:
                run_id = await self._run(meeting_id, starts_at, sorted(offsets), now=now)
            except Exception:  # one broken meeting must not stop the sweep
                report.failed += 1
                logger.exception("scheduled checks failed meeting_id=%s", meeting_id)
                continue
            if run_id is None:
                report.skipped += 1
            else:
                report.runs += 1
                report.run_ids.append(run_id)
        if due:
            logger.info("check sweep finished due=%d runs=%d skipped=%d failed=%d", report.due, report.runs, report.skipped, report.failed)
        return report

    async def _due(self, now: datetime) -> dict[tuple[uuid.UUID, datetime], set[int]]:
        """Map each due occurrence (meeting id, start) to its offsets that have not run."""
        due: dict[tuple[uuid.UUID, datetime], set[int]] = {}
        async with self.session_maker() as session:
            for offset in self.settings.preparation.check_offsets_minutes:
                done = exists().where(
                    and_(
                        CheckOffsetRun.meeting_id == Booking.meeting_id,
                        CheckOffsetRun.occurrence_starts_at == Booking.starts_at,
                        CheckOffsetRun.offset_minutes == offset,
                    )
                )
                statement = (
                    select(Booking.meeting_id, Booking.starts_at)
                    .join(Meeting, Meeting.id == Booking.meeting_id)
                    .where(
                        Meeting.status == "scheduled",
                        Booking.active.is_(True),
                        Booking.starts_at > now,
                        Booking.starts_at <= now + timedelta(minutes=offset),
                        ~done,
                    )
                    .order_by(Booking.starts_at)
                    .limit(_SWEEP_BATCH)
                )
                for meeting_id, starts_at in (await session.execute(statement)).all():
                    due.setdefault((meeting_id, starts_at.astimezone(UTC)), set()).add(offset)
            await session.rollback()
        return due

    async def _run(self, meeting_id: uuid.UUID, starts_at: datetime, offsets: list[int], *, now: datetime) -> uuid.UUID | None:
        async with self.session_maker() as session:
            meeting = await session.get(Meeting, meeting_id)
            if meeting is None or meeting.status != "scheduled":
                return None
            facts = await collect_facts(session, meeting, occurrence_starts_at=starts_at)
            await session.rollback()

        probe = await probe_bridge(facts, adapter_factory=self.adapter_factory)
        outcomes = evaluate(facts, probe, self.settings.preparation)
        label = str(offsets[0])

        async with self.session_maker() as session:
            run = record_run(
                session, facts, outcomes, trigger=f"offset:{label}", now=now, locale=self.settings.default_locale
            )
            await session.flush()
            session.add_all(
                CheckOffsetRun(meeting_id=meeting_id, occurrence_starts_at=starts_at, offset_minutes=offset, run_id=run.id)
                for offset in offsets
            )
            try:
                await session.flush()
            except IntegrityError:
                # Another process recorded this offset first, so its run is the one kept.
                await session.rollback()
                logger.info("scheduled checks already claimed meeting_id=%s offsets=%s", meeting_id, offsets)
                return None
            await enqueue_check_notices(session, self.settings, facts, run, outcomes, offset_label=label, now=now)
            await session.commit()
        logger.info(
            "scheduled checks recorded meeting_id=%s run_id=%s offsets=%s status=%s", meeting_id, run.id, offsets, run.status
        )
        return run.id
