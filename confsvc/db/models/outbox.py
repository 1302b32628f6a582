from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from advanced_alchemy.types import DateTimeUTC, JsonB
from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from confsvc.db.models.base import Base

OUTBOX_STATUSES = ("pending", "sending", "sent", "dead", "dropped")
"""Life of an outbox message: pending → sending (claimed under a lease) → sent, or back to
pending for a retry, or dead after the last allowed attempt or a permanent error, or
dropped when its delivery check found it stale (a reminder for an item closed since)."""


class OutboxMessage(Base):
    """One outgoing message (e-mail, CalDAV write, IM robot, webhook) waiting for delivery.

    Rows are written in the transaction of the change that causes them. ``payload`` holds
    everything the channel needs, rendered at that moment, so delivery never depends on
    later changes of the meeting.
    """

    __tablename__ = "outbox_message"
    __table_args__ = (
        Index("ix_outbox_message_due", "status", "next_attempt_at"),
        Index("ix_outbox_message_created_at", "created_at"),
    )

    idempotency_key: Mapped[str] = mapped_column(String(400), unique=True)
    """Identity of the message; enqueuing the same key twice stores it once."""
    channel: Mapped[str] = mapped_column(String(32))
    """Delivery handler name: ``email``, ``caldav``, or an IM/webhook channel kind."""
    recipient: Mapped[str] = mapped_column(String(320))
    meeting_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("meeting.id", ondelete="SET NULL"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    """Attempts started so far, counted when a dispatcher claims the row."""
    next_attempt_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    """End of the current claim's lease (UTC); after it another dispatcher may claim the row."""
    claim_token: Mapped[str | None] = mapped_column(String(64))
    """Random token of the current claim; only its holder may record the outcome."""
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
