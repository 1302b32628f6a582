"""ORM models of every domain, on one metadata so that migrations see all tables."""

from confsvc.db.models.base import Base
from confsvc.db.models.bridges import Bridge, Room
from confsvc.db.models.directory import ApiToken, Department, Person
from confsvc.db.models.meetings import AgendaItem, Attendee, Booking, IdempotencyRecord, Meeting

__all__ = [
    "AgendaItem",
    "ApiToken",
    "Attendee",
    "Base",
    "Booking",
    "Bridge",
    "Department",
    "IdempotencyRecord",
    "Meeting",
    "Person",
    "Room",
]
