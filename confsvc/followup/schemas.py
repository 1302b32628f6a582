"""Request and response bodies of the follow-up API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

import msgspec

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=320)]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
Text = Annotated[str, msgspec.Meta(max_length=10_000)]


class ActionItemRead(msgspec.Struct):
    id: uuid.UUID
    meeting_id: uuid.UUID
    minutes_id: uuid.UUID | None
    resolution_number: str | None
    title: str
    owner_email: str
    co_owner_emails: list[str]
    approver_email: str | None
    due_date: date
    status: str
    progress: int
    result: str | None
    overdue: bool
    overdue_working_days: int
    next_reminder_at: datetime | None
    escalation_level: int
    reminder_lead_days: int | None
    reminder_local_time: str | None
    escalation_days: list[int] | None
    reminders_muted: bool
    done_at: datetime | None
    closed_at: datetime | None
    closed_by_email: str | None
    cancel_reason: str | None
    link: str


class ActionItemPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Fields left out stay unchanged; ``null`` clears a per-item override."""

    title: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)] | msgspec.UnsetType = msgspec.UNSET
    owner_email: Email | msgspec.UnsetType = msgspec.UNSET
    co_owner_emails: list[Email] | msgspec.UnsetType = msgspec.UNSET
    approver_email: Email | None | msgspec.UnsetType = msgspec.UNSET
    due_date: date | msgspec.UnsetType = msgspec.UNSET
    due_date_reason: Reason | msgspec.UnsetType = msgspec.UNSET
    """Required with ``due_date``; kept in the due date history."""
    reminder_lead_days: Annotated[int, msgspec.Meta(ge=0, le=60)] | None | msgspec.UnsetType = msgspec.UNSET
    reminder_local_time: str | None | msgspec.UnsetType = msgspec.UNSET
    escalation_days: list[int] | None | msgspec.UnsetType = msgspec.UNSET
    reminders_muted: bool | msgspec.UnsetType = msgspec.UNSET


class DoneRequest(msgspec.Struct, forbid_unknown_fields=True):
    result: Annotated[str, msgspec.Meta(min_length=1, max_length=10_000)]


class CloseRequest(msgspec.Struct, forbid_unknown_fields=True):
    note: Text = ""


class ReasonRequest(msgspec.Struct, forbid_unknown_fields=True):
    reason: Reason


class ItemUpdateRead(msgspec.Struct):
    id: uuid.UUID
    kind: str
    author_email: str
    text: str
    progress: int | None
    attachment_name: str | None
    attachment_size: int | None
    created_at: datetime


class DueDateChangeRead(msgspec.Struct):
    old_due_date: date
    new_due_date: date
    reason: str
    changed_by_email: str
    created_at: datetime


class ReminderRead(msgspec.Struct):
    kind: str
    local_date: date
    recipients: list[str]
    overdue_days: int
    sent_at: datetime


class ActionItemDetail(msgspec.Struct):
    item: ActionItemRead
    updates: list[ItemUpdateRead]
    due_date_changes: list[DueDateChangeRead]
    reminders: list[ReminderRead]


class ReportRow(msgspec.Struct):
    key: str
    """Owner e-mail, department name or meeting id, by ``group_by``."""
    label: str
    open: int
    overdue: int
    closed_on_time: int
    closed_late: int


class HolidayDay(msgspec.Struct, forbid_unknown_fields=True):
    day: date
    working: bool
    """True for an adjusted working day (调休), False for a holiday."""
    name: Annotated[str, msgspec.Meta(max_length=100)] = ""


class HolidayYearWrite(msgspec.Struct, forbid_unknown_fields=True):
    year: Annotated[int, msgspec.Meta(ge=1990, le=2200)]
    days: Annotated[list[HolidayDay], msgspec.Meta(max_length=366)]
    country: Annotated[str, msgspec.Meta(min_length=2, max_length=2)] | None = None


class HolidayYearRead(msgspec.Struct):
    country: str
    year: int
    source: str
    """official, override, rules or weekdays."""
    official: bool
    message: str
    days: list[HolidayDay]


class ActResult(msgspec.Struct):
    action: str
    action_item_id: uuid.UUID
    title: str
    status: str
    performed: bool
    message: str
