from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from advanced_alchemy.types import DateTimeUTC, JsonB
from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from confsvc.db.models.base import Base
from confsvc.db.models.bridges import Bridge, Room
from confsvc.db.models.directory import Person


class Meeting(Base):
    __tablename__ = "meeting"
    __table_args__ = (
        Index("ix_meeting_starts_at", "starts_at"),
        Index("ix_meeting_organiser_starts", "organiser_id", "starts_at"),
        Index("ix_meeting_bridge_starts", "bridge_id", "starts_at"),
    )

    uid: Mapped[str] = mapped_column(String(255), unique=True)
    """iCalendar UID; stable for the life of the meeting."""
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    """Start of the first occurrence, UTC."""
    ends_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    series_ends_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), index=True)
    """End of the last occurrence, UTC; equals ``ends_at`` for a single meeting."""
    time_zone: Mapped[str] = mapped_column(String(64))
    organiser_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("person.id"))
    chair_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("person.id"), index=True)
    secretary_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("person.id"), index=True)
    bridge_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("bridge.id"))
    room_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("room.id"))
    confidentiality: Mapped[str] = mapped_column(String(16), default="normal")
    rrule: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="scheduled", index=True)
    sequence: Mapped[int] = mapped_column(default=0)
    urgent: Mapped[bool] = mapped_column(default=False)
    urgent_reason: Mapped[str | None] = mapped_column(Text)
    cancel_reason: Mapped[str | None] = mapped_column(Text)

    organiser: Mapped[Person] = relationship(foreign_keys=[organiser_id], lazy="selectin")
    chair: Mapped[Person | None] = relationship(foreign_keys=[chair_id], lazy="selectin")
    secretary: Mapped[Person | None] = relationship(foreign_keys=[secretary_id], lazy="selectin")
    bridge: Mapped[Bridge | None] = relationship(lazy="selectin")
    room: Mapped[Room | None] = relationship(lazy="selectin")
    attendees: Mapped[list[Attendee]] = relationship(
        back_populates="meeting", cascade="all, delete-orphan", lazy="selectin", order_by="Attendee.created_at"
    )
    bookings: Mapped[list[Booking]] = relationship(
        back_populates="meeting", cascade="all, delete-orphan", lazy="selectin", order_by="Booking.recurrence_id"
    )
    agenda_items: Mapped[list[AgendaItem]] = relationship(
        back_populates="meeting", cascade="all, delete-orphan", lazy="selectin", order_by="AgendaItem.position"
    )


class Attendee(Base):
    __tablename__ = "attendee"
    __table_args__ = (UniqueConstraint("meeting_id", "email"),)

    meeting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("person.id"), index=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16), default="required")
    partstat: Mapped[str] = mapped_column(String(16), default="NEEDS-ACTION")
    comment: Mapped[str | None] = mapped_column(Text)
    reply_sequence: Mapped[int | None]
    reply_dtstamp: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    delegated_to: Mapped[str | None] = mapped_column(String(320))

    meeting: Mapped[Meeting] = relationship(back_populates="attendees")


class Booking(Base):
    """One occurrence of a meeting holding a bridge.

    The bridge is blocked on ``[starts_at, blocked_until)``, where ``blocked_until`` is the
    end plus the buffer in force when the booking was made. On PostgreSQL an exclusion
    constraint forbids two active bookings of one bridge whose blocked ranges overlap.
    """

    __tablename__ = "booking"
    __table_args__ = (
        UniqueConstraint("meeting_id", "recurrence_id"),
        Index("ix_booking_bridge_starts", "bridge_id", "starts_at"),
    )

    meeting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"))
    recurrence_id: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    """Original start of the occurrence (the iCalendar RECURRENCE-ID), UTC."""
    bridge_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("bridge.id"))
    starts_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    blocked_until: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    active: Mapped[bool] = mapped_column(default=True)
    overridden: Mapped[bool] = mapped_column(default=False)
    """True when this occurrence was moved or edited on its own."""

    meeting: Mapped[Meeting] = relationship(back_populates="bookings")


class AgendaItem(Base):
    __tablename__ = "agenda_item"

    meeting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    title: Mapped[str] = mapped_column(String(300))
    presenter: Mapped[str | None] = mapped_column(String(320))
    duration_minutes: Mapped[int | None]
    needs_materials: Mapped[bool] = mapped_column(default=False)

    meeting: Mapped[Meeting] = relationship(back_populates="agenda_items")


class IdempotencyRecord(Base):
    """The first answer to a request sent with an ``Idempotency-Key`` header."""

    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("person_id", "key"),)

    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int]
    response: Mapped[dict[str, Any]] = mapped_column(JsonB)
