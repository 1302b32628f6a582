"""ORM models of every domain, on one metadata so that migrations see all tables."""

from confsvc.db.models.base import Base
from confsvc.db.models.bridges import Bridge, Room
from confsvc.db.models.directory import ApiToken, Department, Person
from confsvc.db.models.followup import ActionItemUpdate, DueDateChange, HolidayOverride, ReminderLog
from confsvc.db.models.meetings import AgendaItem, Attendee, Booking, IdempotencyRecord, Meeting
from confsvc.db.models.minutes import (
    ActionItem,
    Minutes,
    MinutesCounter,
    MinutesReceipt,
    MinutesResolution,
    MinutesTemplate,
)
from confsvc.db.models.outbox import OutboxMessage
from confsvc.db.models.preparation import (
    CheckOffsetRun,
    CheckResult,
    CheckRun,
    Material,
    MeetingChannel,
    PersonChannel,
    RoomEquipment,
)
from confsvc.db.models.replies import Proposal, ReplyRecord
from confsvc.db.models.security import AuditEvent, LoginThrottle, WebSession

__all__ = [
    "ActionItem",
    "ActionItemUpdate",
    "AgendaItem",
    "ApiToken",
    "AuditEvent",
    "Attendee",
    "Base",
    "Booking",
    "Bridge",
    "CheckOffsetRun",
    "CheckResult",
    "CheckRun",
    "Department",
    "DueDateChange",
    "HolidayOverride",
    "IdempotencyRecord",
    "LoginThrottle",
    "Material",
    "Meeting",
    "Minutes",
    "MinutesCounter",
    "MinutesReceipt",
    "MinutesResolution",
    "MinutesTemplate",
    "MeetingChannel",
    "OutboxMessage",
    "Person",
    "PersonChannel",
    "Proposal",
    "ReminderLog",
    "ReplyRecord",
    "Room",
    "RoomEquipment",
    "WebSession",
]
