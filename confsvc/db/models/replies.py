from __future__ import annotations

import uuid
from datetime import datetime

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from confsvc.db.models.base import Base


class ReplyRecord(Base):
    """One attendee answer as received (iTIP REPLY by API or e-mail, or the RSVP page).

    Every answer to a known meeting is kept, including those that changed nothing;
    ``decision`` tells which (``apply``, ``stale``, ``old_version``, ``not_invited``,
    ``occurrence``).
    """

    __tablename__ = "reply_record"

    meeting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    attendee_email: Mapped[str] = mapped_column(String(320))
    sender: Mapped[str | None] = mapped_column(String(320))
    source: Mapped[str] = mapped_column(String(16))
    """Where the reply came from: ``api``, ``imap`` or ``rsvp``."""
    partstat: Mapped[str] = mapped_column(String(16))
    sequence: Mapped[int]
    dtstamp: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    recurrence_id: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    comment: Mapped[str | None] = mapped_column(Text)
    delegated_to: Mapped[str | None] = mapped_column(String(1000))
    decision: Mapped[str] = mapped_column(String(16))


class Proposal(Base):
    """An attendee's proposal of another time (iTIP COUNTER), waiting for the organiser."""

    __tablename__ = "counter_proposal"

    meeting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    proposer: Mapped[str] = mapped_column(String(320))
    recurrence_id: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    proposed_start: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    proposed_end: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    comment: Mapped[str | None] = mapped_column(Text)
    sequence: Mapped[int]
    """Meeting SEQUENCE the proposal answered."""
    status: Mapped[str] = mapped_column(String(16), default="open")
    """``open``, ``accepted`` or ``declined``."""
    decided_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
