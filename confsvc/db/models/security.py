"""Audit log, web sessions and login throttling."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from advanced_alchemy.base import UUIDv7Base
from advanced_alchemy.types import DateTimeUTC, JsonB
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from confsvc.db.models.base import Base
from confsvc.db.models.directory import Person


class AuditEvent(UUIDv7Base):
    """One recorded change or login; rows are only ever inserted.

    The actor is copied (id and e-mail) rather than referenced, so the entry outlives the
    person. On PostgreSQL a trigger rejects UPDATE and DELETE on this table.
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_occurred_at", "occurred_at"),
        Index("ix_audit_event_object", "object_type", "object_id"),
        Index("ix_audit_event_actor_email", "actor_email", "occurred_at"),
    )

    occurred_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    """Person who acted; None for anonymous events such as a failed login of an unknown address."""
    actor_email: Mapped[str | None] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64), index=True)
    """Dotted verb, e.g. ``meeting.create`` or ``login.failed``."""
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(64))
    client_address: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    """Changed field names and non-secret values; never a password, token or PIN."""


class WebSession(Base):
    """A browser login; the cookie holds a random token, the table only its SHA-256."""

    __tablename__ = "web_session"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    method: Mapped[str] = mapped_column(String(16), default="password")
    """How the person logged in: ``password``, ``ldap`` or ``oidc``."""
    client_address: Mapped[str | None] = mapped_column(String(64))

    person: Mapped[Person] = relationship(lazy="joined")


class LoginThrottle(Base):
    """Failed-login counter for one account or one client address.

    ``key`` is ``account:<e-mail>`` or ``address:<ip>``. Failures count from
    ``window_started_at``; reaching the limit sets ``locked_until``.
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(400), unique=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_started_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
