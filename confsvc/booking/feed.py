"""Per-person calendar subscription feed.

The feed token is the person id plus an HMAC-SHA256 of it under CONFSVC_SECRET_KEY, so
nothing is stored and rotating the key revokes every feed URL at once.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import UTC, datetime

import icalendar
from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.booking.ical import build_calendar
from confsvc.booking.invitations import snapshot_of
from confsvc.db.models import Attendee, Meeting, Person
from confsvc.settings import Settings

__all__ = ["feed_calendar", "feed_token", "feed_urls", "person_id_from_token"]

_CONTEXT = b"confsvc-feed:"


def _signature(secret_key: str, person_id: uuid.UUID) -> str:
    return hmac.new(secret_key.encode(), _CONTEXT + person_id.bytes, hashlib.sha256).hexdigest()[:40]


def feed_token(secret_key: str, person_id: uuid.UUID) -> str:
    """Return ``<person id hex>-<40 hex digits of HMAC>``; no side effects."""
    return f"{person_id.hex}-{_signature(secret_key, person_id)}"


def person_id_from_token(secret_key: str, token: str) -> uuid.UUID | None:
    """Return the person id of a genuine token, or None for any malformed or forged one."""
    raw, sep, signature = token.partition("-")
    if not sep or len(raw) != 32:
        return None
    try:
        person_id = uuid.UUID(hex=raw)
    except ValueError:
        return None
    if not hmac.compare_digest(signature, _signature(secret_key, person_id)):
        return None
    return person_id


def feed_urls(settings: Settings, person_id: uuid.UUID) -> tuple[str, str]:
    """Return (webcal URL, https URL) of the person's feed, on the host of CONFSVC_BASE_URL."""
    token = feed_token(settings.secret_key, person_id)
    host = settings.base_url.split("://", 1)[-1].rstrip("/")
    return f"webcal://{host}/feed/{token}.ics", f"https://{host}/feed/{token}.ics"


async def feed_calendar(session: AsyncSession, settings: Settings, person: Person, *, now: datetime | None = None) -> bytes:
    """Return a VCALENDAR without METHOD holding every non-cancelled meeting of ``person``.

    Includes meetings the person organises, chairs, takes minutes of or attends. Lines are
    folded at 75 octets. Reads only.
    """
    now = now or datetime.now(UTC)
    statement = (
        select(Meeting)
        .where(
            Meeting.status != "cancelled",
            or_(
                Meeting.organiser_id == person.id,
                Meeting.chair_id == person.id,
                Meeting.secretary_id == person.id,
                exists().where(Attendee.meeting_id == Meeting.id, Attendee.email == person.email),
            ),
        )
        .order_by(Meeting.starts_at, Meeting.id)
    )
    result = icalendar.Calendar()
    result.add("prodid", "-//confsvc//feed//EN")
    result.add("version", "2.0")
    result.add("calscale", "GREGORIAN")
    result.add("x-wr-calname", f"confsvc {person.name or person.email}")
    zones: set[str] = set()
    for meeting in await session.scalars(statement):
        ics = build_calendar(
            snapshot_of(meeting, dtstamp=now),
            method=None,
            organiser_address=settings.mail.mail_from,
            organiser_cn=meeting.organiser.name,
            recipient=person.email,
            etiquette=settings.meeting_etiquette or None,
        )
        for component in icalendar.Calendar.from_ical(ics).subcomponents:
            if component.name == "VTIMEZONE":
                tzid = str(component.get("TZID"))
                if tzid in zones:
                    continue
                zones.add(tzid)
            result.add_component(component)
    return result.to_ical()
