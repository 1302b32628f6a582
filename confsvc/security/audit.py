"""Append-only audit log: who changed what, and when.

``record_audit`` adds one row to the caller's session, so the entry commits (or rolls
back) together with the change it describes. Nothing in confsvc updates or deletes
audit rows; on PostgreSQL a trigger (migration 0003) rejects both.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc import validation
from confsvc.db.models import AuditEvent, Person
from confsvc.security.export import safe_row

logger = logging.getLogger(__name__)

_SECRET_KEYS = ("password", "token", "secret", "pin", "key")
"""A details key containing one of these parts is stored as ``***``."""

CSV_COLUMNS = ("occurred_at", "actor_email", "actor_id", "action", "object_type", "object_id", "client_address", "details")


class Actor:
    """Who acted, when the actor is not a stored person (e.g. the scheduler)."""

    def __init__(self, *, person_id: uuid.UUID | None = None, email: str | None = None) -> None:
        self.id = person_id
        self.email = email


def _clean_details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, value in (details or {}).items():
        name = str(key)
        if any(part in name.lower() for part in _SECRET_KEYS):
            cleaned[name] = "***"
        elif isinstance(value, datetime):
            cleaned[name] = value.astimezone(UTC).isoformat()
        elif isinstance(value, uuid.UUID):
            cleaned[name] = str(value)
        elif isinstance(value, Mapping):
            cleaned[name] = _clean_details(value)
        elif isinstance(value, list | tuple | set | frozenset):
            cleaned[name] = [str(item) if isinstance(item, uuid.UUID | datetime) else item for item in value]
        else:
            cleaned[name] = value
    return cleaned


def record_audit(
    session: AsyncSession,
    *,
    actor: Person | Actor | Any | None,
    action: str,
    object_type: str,
    object_id: uuid.UUID | str | None,
    details: Mapping[str, Any] | None = None,
    client_address: str | None = None,
    occurred_at: datetime | None = None,
) -> AuditEvent:
    """Add an audit entry to ``session`` (no flush, no commit).

    ``actor`` is a ``Person``, an ``Actor``, a ``Viewer``-like object with ``person_id``
    and ``email``, or None for an anonymous event. Keys of ``details`` that look like a
    secret (password, token, secret, pin, key) are stored as ``***``; UUIDs and datetimes
    become strings (datetimes in UTC). ``occurred_at`` defaults to now (UTC).
    """
    actor_id = (getattr(actor, "person_id", None) or getattr(actor, "id", None)) if actor is not None else None
    actor_email = getattr(actor, "email", None) if actor is not None else None
    event = AuditEvent(
        occurred_at=(occurred_at or datetime.now(UTC)).astimezone(UTC),
        actor_id=actor_id,
        actor_email=actor_email,
        action=action[:64],
        object_type=object_type[:64],
        object_id=str(object_id)[:64] if object_id is not None else None,
        client_address=client_address[:64] if client_address else None,
        details=_clean_details(details),
    )
    session.add(event)
    return event


@dataclass(frozen=True)
class AuditFilters:
    actor: str | None = None
    """E-mail address of the actor."""
    action: str | None = None
    """Exact action, or a prefix ending in a dot (``meeting.`` matches every meeting action)."""
    object_type: str | None = None
    object_id: str | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None
    limit: int = 100
    offset: int = 0


def _statement(filters: AuditFilters) -> Select[tuple[AuditEvent]]:
    statement = select(AuditEvent).order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    if filters.actor:
        statement = statement.where(AuditEvent.actor_email == filters.actor.strip().lower())
    if filters.action:
        if filters.action.endswith("."):
            statement = statement.where(AuditEvent.action.startswith(filters.action, autoescape=True))
        else:
            statement = statement.where(AuditEvent.action == filters.action)
    if filters.object_type:
        statement = statement.where(AuditEvent.object_type == filters.object_type)
    if filters.object_id:
        statement = statement.where(AuditEvent.object_id == filters.object_id)
    if filters.occurred_from is not None:
        statement = statement.where(AuditEvent.occurred_at >= validation.aware(filters.occurred_from, field="from"))
    if filters.occurred_to is not None:
        statement = statement.where(AuditEvent.occurred_at < validation.aware(filters.occurred_to, field="to"))
    return statement


async def list_audit(session: AsyncSession, filters: AuditFilters) -> list[AuditEvent]:
    """Return matching entries, newest first, at most ``filters.limit`` of them."""
    statement = _statement(filters).limit(max(filters.limit, 1)).offset(max(filters.offset, 0))
    return list(await session.scalars(statement))


def audit_csv(events: list[AuditEvent]) -> str:
    """Render entries as CSV text (header row first) with every cell made formula-safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for event in events:
        writer.writerow(
            safe_row(
                [
                    event.occurred_at,
                    event.actor_email,
                    str(event.actor_id) if event.actor_id else None,
                    event.action,
                    event.object_type,
                    event.object_id,
                    event.client_address,
                    json.dumps(event.details or {}, ensure_ascii=False, sort_keys=True),
                ]
            )
        )
    return buffer.getvalue()


def sent_fields(data: Any) -> list[str]:
    """Return the field names of a msgspec Struct that the client sent (not ``UNSET``)."""
    import msgspec

    if data is None:
        return []
    return [name for name in data.__struct_fields__ if getattr(data, name) is not msgspec.UNSET]
