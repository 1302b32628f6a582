"""Follow-up (督办) state: reminder bookkeeping on ``action_item`` plus the history tables.

The minutes domain owns ``action_item`` and writes its rows when minutes are approved.
This module adds the follow-up columns to that table. It also defines the tables of
progress updates, due date changes, sent reminders and the administrator's holiday table.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from advanced_alchemy.types import DateTimeUTC, JsonB
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from confsvc.db.models.base import Base
from confsvc.db.models.minutes import ActionItem

ACTION_ITEM_STATUSES = ("open", "in_progress", "done", "closed", "cancelled", "superseded")
"""open → in_progress (first progress update) → done (owner, with a result) → closed (销号,
verified by organiser, chair or the named approver, who may also reopen done and closed
items). ``cancelled`` needs a reason; ``superseded`` is set by the minutes domain when a
corrected version replaces the minutes."""

ACTIVE_STATUSES = ("open", "in_progress")
"""Statuses that still get reminders."""


def _utc_now() -> datetime:
    return datetime.now(UTC)

# --- follow-up columns on the minutes domain's action_item table ----------------------
# Assigning Column objects to a mapped class adds them to its table and mapper.
# NOTE: type checkers do not see attributes added this way; declaring them as Mapped[...]
# in a mixin that ActionItem inherits would give the same table with static types.
_FOLLOWUP_COLUMNS: dict[str, Column[Any]] = {
    # Instant (UTC) the reminder sweep next looks at the item; NULL when nothing is due. A new
    # row (written by the minutes approval) is due at once, so the next sweep schedules it.
    "next_reminder_at": Column(DateTimeUTC(timezone=True), nullable=True, default=_utc_now),
    # Local date and kind (before_due, due, overdue, notice) of the owner's last reminder.
    "last_reminder_on": Column(Date, nullable=True),
    "last_reminder_kind": Column(String(16), nullable=True),
    # Highest escalation step sent for the current due date: 0 none, 1 notice, 2 head, 3 SMS.
    "escalation_level": Column(Integer, nullable=False, default=0, server_default="0"),
    # Latest reported progress in percent (0-100).
    "progress": Column(Integer, nullable=False, default=0, server_default="0"),
    # Person who may close (销号) the item besides the organiser and the chair.
    "approver_email": Column(String(320), nullable=True),
    # Per-item overrides of the reminder policy; NULL takes the setting.
    "reminder_lead_days": Column(Integer, nullable=True),
    "reminder_local_time": Column(String(5), nullable=True),
    "escalation_days": Column(JsonB, nullable=True),
    "reminders_muted": Column(Boolean, nullable=False, default=False, server_default=text("false")),
    "done_at": Column(DateTimeUTC(timezone=True), nullable=True),
    "closed_at": Column(DateTimeUTC(timezone=True), nullable=True),
    "closed_by_email": Column(String(320), nullable=True),
    "cancel_reason": Column(Text, nullable=True),
}
for _name, _column in _FOLLOWUP_COLUMNS.items():
    if _name not in ActionItem.__table__.c:
        setattr(ActionItem, _name, _column)

Index("ix_action_item_next_reminder_at", ActionItem.__table__.c.next_reminder_at)


class ActionItemUpdate(Base):
    """One entry of an action item's history: a progress report or a change of status."""

    __tablename__ = "action_item_update"

    action_item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("action_item.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    """progress, done, closed, reopened, cancelled or edited."""
    author_email: Mapped[str] = mapped_column(String(320))
    text: Mapped[str] = mapped_column(Text, default="")
    progress: Mapped[int | None] = mapped_column()
    attachment_name: Mapped[str | None] = mapped_column(String(255))
    attachment_type: Mapped[str | None] = mapped_column(String(127))
    attachment_size: Mapped[int | None] = mapped_column()
    """Bytes."""
    attachment_path: Mapped[str | None] = mapped_column(String(500))
    """Path relative to the data folder."""


class DueDateChange(Base):
    __tablename__ = "due_date_change"

    action_item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("action_item.id", ondelete="CASCADE"), index=True)
    old_due_date: Mapped[date] = mapped_column(Date)
    new_due_date: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    changed_by_email: Mapped[str] = mapped_column(String(320))


class ReminderLog(Base):
    """One reminder, escalation or digest sent; ``key`` makes each one happen once."""

    __tablename__ = "reminder_log"
    __table_args__ = (UniqueConstraint("key", name="uq_reminder_log_key"),)

    key: Mapped[str] = mapped_column(String(200))
    """``<item id>:<kind>:<local date>`` for items, ``digest:<email>:<ISO week>`` for digests."""
    action_item_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("action_item.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    """before_due, due, overdue, notice, escalate_head, escalate_sms or digest."""
    local_date: Mapped[date] = mapped_column(Date)
    recipients: Mapped[list[str]] = mapped_column(JsonB, default=list)
    overdue_days: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


class HolidayOverride(Base):
    """A day of the administrator's holiday table: a holiday or an adjusted working day (调休)."""

    __tablename__ = "holiday_override"
    __table_args__ = (UniqueConstraint("country", "day", name="uq_holiday_override_country_day"),)

    country: Mapped[str] = mapped_column(String(2))
    day: Mapped[date] = mapped_column(Date)
    working: Mapped[bool] = mapped_column()
    name: Mapped[str] = mapped_column(String(100), default="")
