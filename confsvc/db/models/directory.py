from __future__ import annotations

import uuid
from datetime import datetime

from advanced_alchemy.types import DateTimeUTC, JsonB
from sqlalchemy import DDL, ForeignKey, Index, String, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from confsvc.db.models.base import Base


# The trigram indexes of this module and of ``minutes_resolution`` need pg_trgm, which
# migration 0007 installs; metadata.create_all (used by some tests) installs it here.
event.listen(
    Base.metadata, "before_create", DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql")
)


class Department(Base):
    __tablename__ = "department"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    head_email: Mapped[str | None] = mapped_column(String(320))
    """Address of the department head, who receives escalations for the department."""


class Person(Base):
    __tablename__ = "person"
    # Trigram index for the LIKE '%...%' search, PostgreSQL only (migration 0007).
    # NOTE: migration 0007 also creates ix_person_name_trgm on lower(name). It is not declared
    # here because Alembic cannot compare expression indexes on SQLite and warns instead.
    __table_args__ = (
        Index("ix_person_email_trgm", "email", postgresql_using="gin", postgresql_ops={"email": "gin_trgm_ops"}).ddl_if(
            dialect="postgresql"
        ),
    )

    email: Mapped[str] = mapped_column(String(320), unique=True, index=True)
    """Lower-cased address; the identity of a person across invitations and replies."""
    name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("department.id", ondelete="SET NULL"), index=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    locale: Mapped[str | None] = mapped_column(String(16))
    time_zone: Mapped[str | None] = mapped_column(String(64))
    roles: Mapped[list[str]] = mapped_column(JsonB, default=list)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)

    department: Mapped[Department | None] = relationship(foreign_keys=[department_id], lazy="selectin")


class ApiToken(Base):
    __tablename__ = "api_token"
    __table_args__ = (UniqueConstraint("token_hash"),)

    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="cli")
    token_hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 hex of the token; the token itself is shown once and never stored."""
    prefix: Mapped[str] = mapped_column(String(12))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))

    person: Mapped[Person] = relationship(lazy="joined")
