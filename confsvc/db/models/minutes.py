"""Minutes of meetings: versions, numbering counters, the resolution register, action
items, uploaded .docx templates and distribution receipts."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from advanced_alchemy.types import DateTimeUTC, JsonB
from sqlalchemy import Date, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from confsvc.db.models.base import Base

MINUTES_STATUSES = ("draft", "submitted", "approved", "distributed")
"""Life of one minutes version: draft → submitted → approved → distributed; a return sends
a submitted version back to draft. Approved and distributed versions never change."""


class Minutes(Base):
    """One version of the minutes of a meeting, or of one occurrence of a series.

    ``occurrence_key`` is ``""`` for a single meeting and the occurrence's recurrence id
    (ISO 8601, UTC) for a series, so that the unique constraint also works for single
    meetings (NULLs never collide in a unique index). The content columns hold the
    validated draft as JSON; their shapes are the ``*In`` structs of
    ``confsvc.minutes.schemas``.
    """

    __tablename__ = "minutes"
    __table_args__ = (
        UniqueConstraint("meeting_id", "occurrence_key", "version"),
        UniqueConstraint("number_key", "number_seq"),
    )

    meeting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    occurrence: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    """Recurrence id of the occurrence (UTC), or None for a single meeting."""
    occurrence_key: Mapped[str] = mapped_column(String(40), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    template: Mapped[str | None] = mapped_column(String(200))
    """Shipped template name or the name of an uploaded template; None means the default."""
    actual_start: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    actual_end: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    attendance: Mapped[list[dict[str, Any]]] = mapped_column(JsonB, default=list)
    notes: Mapped[list[dict[str, Any]]] = mapped_column(JsonB, default=list)
    resolutions: Mapped[list[dict[str, Any]]] = mapped_column(JsonB, default=list)
    action_items: Mapped[list[dict[str, Any]]] = mapped_column(JsonB, default=list)
    cosigners: Mapped[list[str]] = mapped_column(JsonB, default=list)
    """E-mail addresses named at submission who must co-sign (会签) before approval."""
    cosignatures: Mapped[list[dict[str, Any]]] = mapped_column(JsonB, default=list)
    """``{"email", "signed_at"}`` per co-signer who has signed this submission."""
    history: Mapped[list[dict[str, Any]]] = mapped_column(JsonB, default=list)
    """Review events ``{"action", "by", "at", "comment"}`` in order."""
    return_comment: Mapped[str | None] = mapped_column(Text)
    number: Mapped[str | None] = mapped_column(String(100))
    """Document number from the configured pattern, set at the first approval and kept by
    later versions."""
    number_key: Mapped[str | None] = mapped_column(String(200))
    """Counter that issued ``number_seq``; only the version that consumed the number has it."""
    number_seq: Mapped[int | None] = mapped_column(Integer)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    approved_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    approved_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("person.id"))
    distributed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    document: Mapped[bytes | None] = mapped_column(LargeBinary)
    """The .docx rendered at approval with the chosen template; never changed afterwards."""


class MinutesCounter(Base):
    """Last number issued per counter key (organisation or series, and year when the
    pattern shows one). Approvals lock the row while they take the next number."""

    __tablename__ = "minutes_counter"

    key: Mapped[str] = mapped_column(String(200), unique=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class MinutesResolution(Base):
    """A resolution (议定事项) of approved minutes, as the cross-meeting register lists it.

    ``state`` is ``open`` while it has action items, ``adopted`` without any, and
    ``superseded`` once a later approved version of the same minutes replaced it.
    """

    __tablename__ = "minutes_resolution"
    __table_args__ = (
        UniqueConstraint("minutes_id", "number"),
        # Trigram indexes for the register's ILIKE '%...%' search (PostgreSQL only, migration 0007).
        Index("ix_minutes_resolution_text_trgm", "text", postgresql_using="gin", postgresql_ops={"text": "gin_trgm_ops"})
        .ddl_if(dialect="postgresql"),
        Index(
            "ix_minutes_resolution_responsible_trgm", "responsible", postgresql_using="gin",
            postgresql_ops={"responsible": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    minutes_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("minutes.id", ondelete="CASCADE"), index=True)
    meeting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    decision_method: Mapped[str] = mapped_column(String(32))
    votes_for: Mapped[int | None] = mapped_column(Integer)
    votes_against: Mapped[int | None] = mapped_column(Integer)
    votes_abstain: Mapped[int | None] = mapped_column(Integer)
    responsible: Mapped[str] = mapped_column(String(500), default="")
    """Responsible unit or person, as written or taken from the action items' owners."""
    owner_emails: Mapped[list[str]] = mapped_column(JsonB, default=list)
    deadline: Mapped[date | None] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16), default="open", index=True)


class ActionItem(Base):
    """An action item of approved minutes, tracked by the follow-up domain.

    Rows are created when minutes are approved, never before. ``resolution_number`` is the
    number of the resolution it serves within those minutes. ``status`` starts as
    ``open``; the follow-up tracker owns its further values. When a corrected version of
    the minutes is approved, the previous version's items still ``open`` become
    ``superseded`` and the new version's items are created.
    """

    __tablename__ = "action_item"
    __table_args__ = (
        Index("ix_action_item_owner_status", "owner_email", "status"),
        Index(
            "ix_action_item_active_due", "due_date",
            postgresql_where=text("status IN ('open', 'in_progress')"),
            sqlite_where=text("status IN ('open', 'in_progress')"),
        ),
    )

    meeting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    minutes_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("minutes.id", ondelete="CASCADE"), index=True)
    resolution_number: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(Text)
    owner_email: Mapped[str] = mapped_column(String(320))
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    co_owner_emails: Mapped[list[str]] = mapped_column(JsonB, default=list)
    due_date: Mapped[date] = mapped_column(Date)
    """Calendar day in the meeting's time zone."""
    status: Mapped[str] = mapped_column(String(16), default="open")
    result: Mapped[str | None] = mapped_column(Text)


class MinutesTemplate(Base):
    """A .docx minutes template uploaded by an administrator, validated before storing."""

    __tablename__ = "minutes_template"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    filename: Mapped[str] = mapped_column(String(300))
    locale: Mapped[str] = mapped_column(String(8), default="zh-CN")
    """Language of the template's fixed text; picks the labels filled in (zh-CN or en)."""
    data: Mapped[bytes] = mapped_column(LargeBinary)
    placeholders: Mapped[list[str]] = mapped_column(JsonB, default=list)
    uploaded_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))


class MinutesReceipt(Base):
    """One recipient of distributed minutes and when they acknowledged receipt (签收)."""

    __tablename__ = "minutes_receipt"
    __table_args__ = (UniqueConstraint("minutes_id", "email"),)

    minutes_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("minutes.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="")
    sent_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
