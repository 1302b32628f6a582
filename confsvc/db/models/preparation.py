"""Tables of meeting preparation: room equipment, materials, check runs, notification channels."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from advanced_alchemy.types import DateTimeUTC, JsonB
from sqlalchemy import BigInteger, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from confsvc.db.models.base import Base

EQUIPMENT_STATUSES = ("ok", "faulty", "out_of_order")
CHECK_STATUSES = ("pass", "warn", "fail")


class RoomEquipment(Base):
    """One piece of equipment in a room (speakerphone, camera, display, ...)."""

    __tablename__ = "room_equipment"
    __table_args__ = (UniqueConstraint("room_id", "item"),)

    room_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("room.id", ondelete="CASCADE"), index=True)
    item: Mapped[str] = mapped_column(String(64))
    """Short name of the item, unique within the room, e.g. ``speakerphone``."""
    status: Mapped[str] = mapped_column(String(16), default="ok")
    """``ok``, ``faulty`` or ``out_of_order``."""
    inspected_on: Mapped[date | None] = mapped_column(Date)
    """Day of the last inspection, in the organisation's time zone."""
    note: Mapped[str | None] = mapped_column(Text)
    """Fault description while the item is not ``ok``."""


class Material(Base):
    """An uploaded file for a meeting or one of its agenda items."""

    __tablename__ = "material"

    meeting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    agenda_item_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agenda_item.id", ondelete="SET NULL"), index=True)
    """The agenda item the file belongs to; None for the whole meeting.

    The item's id stays the same when the agenda is reordered or edited. When the item
    is removed, the file stays as a material of the whole meeting.
    """
    filename: Mapped[str] = mapped_column(String(255))
    extension: Mapped[str] = mapped_column(String(16))
    content_type: Mapped[str] = mapped_column(String(120))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(300), unique=True)
    """Key of the file in the material store."""
    uploaded_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))


class CheckRun(Base):
    """One run of the pre-meeting checks for one occurrence of a meeting."""

    __tablename__ = "check_run"
    __table_args__ = (Index("ix_check_run_meeting_started", "meeting_id", "started_at"),)

    meeting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"))
    occurrence_starts_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    """Start of the checked occurrence, UTC."""
    trigger: Mapped[str] = mapped_column(String(32))
    """``offset:<minutes>`` for a scheduled run, ``manual`` for one started through the API."""
    started_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    status: Mapped[str] = mapped_column(String(8))
    """Worst status of the results: ``pass``, ``warn`` or ``fail``."""
    notified: Mapped[bool] = mapped_column(default=False)
    """True when the run queued notices to the organiser and secretary."""

    results: Mapped[list[CheckResult]] = relationship(
        back_populates="run", cascade="all, delete-orphan", lazy="selectin", order_by="CheckResult.position"
    )


class CheckResult(Base):
    __tablename__ = "check_result"

    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("check_run.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(32))
    """``agenda``, ``materials``, ``quorum``, ``bridge`` or ``room``."""
    status: Mapped[str] = mapped_column(String(8))
    detail: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    """Facts behind the status, e.g. the declined required attendees."""

    run: Mapped[CheckRun] = relationship(back_populates="results")


class CheckOffsetRun(Base):
    """Marks that the scheduled checks at one offset before one occurrence have run.

    The unique constraint lets exactly one sweep, in any process, claim the offset. A
    restarted process finds the row, so it repeats neither the run nor its notices.
    """

    __tablename__ = "check_offset_run"
    __table_args__ = (UniqueConstraint("meeting_id", "occurrence_starts_at", "offset_minutes"),)

    meeting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"))
    occurrence_starts_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    offset_minutes: Mapped[int]
    run_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("check_run.id", ondelete="SET NULL"))
    """The run made for this offset; shared by offsets that fell due together."""


class PersonChannel(Base):
    """An instant-messaging channel on which a person receives notices besides e-mail."""

    __tablename__ = "person_channel"
    __table_args__ = (UniqueConstraint("person_id", "kind"),)

    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    """A kind of ``confsvc.notify.channels`` (wecom, dingtalk, feishu, webhook, sms_webhook)."""
    config: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    """Channel settings as ``channel_for`` reads them; contains robot keys and secrets."""
    active: Mapped[bool] = mapped_column(default=True)


class MeetingChannel(Base):
    """A group robot or webhook that receives the notices of one meeting."""

    __tablename__ = "meeting_channel"
    __table_args__ = (UniqueConstraint("meeting_id", "kind"),)

    meeting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    config: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    active: Mapped[bool] = mapped_column(default=True)
