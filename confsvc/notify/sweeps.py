"""Scheduler sweeps of the notify domain: outbox delivery and the reply mailbox."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from confsvc.errors import ConfsvcError
from confsvc.notify.delivery import build_handlers
from confsvc.notify.outbox import DispatchReport, OutboxDispatcher
from confsvc.scheduler import Sweep
from confsvc.settings import Settings

__all__ = ["ReplyMailboxPoller", "build_dispatcher", "notify_sweeps"]

logger = logging.getLogger(__name__)


def build_dispatcher(settings: Settings, session_maker: async_sessionmaker[AsyncSession]) -> OutboxDispatcher:
    """Return a dispatcher with every handler that the settings allow."""
    return OutboxDispatcher(session_maker, settings.outbox, build_handlers(settings))


class ReplyMailboxPoller:
    """Reads iTIP answers from ``CONFSVC_IMAP_URL`` and applies each in its own transaction.

    A message that cannot be used (unknown meeting, unreadable or unsupported calendar) is
    logged and still marked processed, because reading it again cannot succeed.
    """

    def __init__(self, settings: Settings, session_maker: async_sessionmaker[AsyncSession]) -> None:
        from confsvc.notify.imap import ImapSettings

        if not settings.mail.imap_url:
            raise ValueError("ReplyMailboxPoller needs CONFSVC_IMAP_URL")
        self.settings = settings
        self.imap = ImapSettings.from_url(settings.mail.imap_url)
        self.session_maker = session_maker

    async def run_once(self) -> int:
        """Process one batch of messages; return how many calendars were applied."""
        from confsvc.booking.replies import ReplyService
        from confsvc.notify.imap import fetch_calendar_messages, mark_processed

        calendars = await fetch_calendar_messages(self.imap)
        applied = 0
        for calendar in calendars:
            if calendar.method not in ("REPLY", "COUNTER"):
                logger.info("reply mailbox message ignored message_id=%s method=%s", calendar.message_id, calendar.method)
                continue
            async with self.session_maker() as session:
                try:
                    await ReplyService(session, self.settings).receive_itip(
                        calendar.ics_bytes, source="imap", sender=calendar.sender
                    )
                    await session.commit()
                    applied += 1
                except ConfsvcError as exc:
                    await session.rollback()
                    logger.warning(
                        "reply mailbox message rejected message_id=%s error=%s", calendar.message_id, type(exc).__name__
                    )
        await mark_processed(self.imap, calendars)
        return applied


def notify_sweeps(settings: Settings, session_maker: async_sessionmaker[AsyncSession]) -> list[Sweep]:
    dispatcher = build_dispatcher(settings, session_maker)

    async def deliver() -> DispatchReport:
        return await dispatcher.run_once()

    sweeps = [Sweep(name="outbox", interval_seconds=settings.outbox.interval_seconds, run=deliver)]
    if settings.mail.imap_url:
        poller = ReplyMailboxPoller(settings, session_maker)
        sweeps.append(Sweep(name="reply_mailbox", interval_seconds=settings.outbox.imap_interval_seconds, run=poller.run_once))
    return sweeps
