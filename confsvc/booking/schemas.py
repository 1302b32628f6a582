from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from confsvc import validation

# The validation.*_check markers let the error response to a body that fails to decode
# also report these rule checks. The services run the same checks on every decoded body.
Title = Annotated[str, msgspec.Meta(max_length=300), validation.text_check(300)]
Description = Annotated[str, msgspec.Meta(max_length=20_000), validation.text_check(20_000, required=False, multiline=True)]
Email = Annotated[str, msgspec.Meta(max_length=320), validation.email_check]
Instant = Annotated[datetime, validation.aware_check]
TimeZone = Annotated[str, msgspec.Meta(max_length=64), validation.time_zone_check]
AttendeeRole = Literal["required", "optional", "chair"]
Confidentiality = Literal["normal", "confidential"]
Partstat = Literal["NEEDS-ACTION", "ACCEPTED", "DECLINED", "TENTATIVE", "DELEGATED"]


class AttendeeIn(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    name: Annotated[str, msgspec.Meta(max_length=200), validation.text_check(200, required=False)] = ""
    role: AttendeeRole = "required"


class AgendaItemIn(msgspec.Struct, forbid_unknown_fields=True):
    title: Title
    presenter: Email | None = None
    duration_minutes: Annotated[int, msgspec.Meta(ge=1, le=1440)] | None = None
    needs_materials: bool = False


class MeetingCreate(msgspec.Struct, forbid_unknown_fields=True):
    title: Title
    starts_at: Instant
    ends_at: Instant | None = None
    duration_minutes: Annotated[int, msgspec.Meta(ge=1, le=100_000)] | None = None
    description: Description = ""
    time_zone: TimeZone | None = None
    organiser: Email | None = None
    chair: Email | None = None
    secretary: Email | None = None
    attendees: list[AttendeeIn] = msgspec.field(default_factory=list)
    bridge_id: uuid.UUID | None = None
    room_id: uuid.UUID | None = None
    confidentiality: Confidentiality = "normal"
    rrule: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    agenda: list[AgendaItemIn] | None = None
    urgent: bool = False
    urgent_reason: Annotated[str, msgspec.Meta(max_length=1000)] | None = None


class MeetingUpdate(msgspec.Struct, forbid_unknown_fields=True):
    title: Title | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType = msgspec.UNSET
    starts_at: Instant | msgspec.UnsetType = msgspec.UNSET
    ends_at: Instant | msgspec.UnsetType = msgspec.UNSET
    duration_minutes: Annotated[int, msgspec.Meta(ge=1, le=100_000)] | msgspec.UnsetType = msgspec.UNSET
    time_zone: TimeZone | msgspec.UnsetType = msgspec.UNSET
    chair: Email | None | msgspec.UnsetType = msgspec.UNSET
    secretary: Email | None | msgspec.UnsetType = msgspec.UNSET
    attendees: list[AttendeeIn] | msgspec.UnsetType = msgspec.UNSET
    bridge_id: uuid.UUID | msgspec.UnsetType = msgspec.UNSET
    room_id: uuid.UUID | None | msgspec.UnsetType = msgspec.UNSET
    confidentiality: Confidentiality | msgspec.UnsetType = msgspec.UNSET
    rrule: Annotated[str, msgspec.Meta(max_length=500)] | None | msgspec.UnsetType = msgspec.UNSET
    urgent: bool | msgspec.UnsetType = msgspec.UNSET
    urgent_reason: Annotated[str, msgspec.Meta(max_length=1000)] | None | msgspec.UnsetType = msgspec.UNSET


class OccurrenceUpdate(msgspec.Struct, forbid_unknown_fields=True):
    starts_at: Instant | msgspec.UnsetType = msgspec.UNSET
    ends_at: Instant | msgspec.UnsetType = msgspec.UNSET
    bridge_id: uuid.UUID | msgspec.UnsetType = msgspec.UNSET


class CancelRequest(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=1000)] | None = None


class AttendeeRead(msgspec.Struct):
    email: str
    name: str
    role: str
    partstat: Partstat
    comment: str | None = None


class BridgeInfo(msgspec.Struct, omit_defaults=True):
    id: uuid.UUID
    name: str
    dial_in: list[dict[str, str]]
    access_code: str | None
    participant_pin: str | None | msgspec.UnsetType = msgspec.UNSET
    host_pin: str | None | msgspec.UnsetType = msgspec.UNSET


class OccurrenceRead(msgspec.Struct):
    recurrence_id: datetime
    starts_at: datetime
    ends_at: datetime
    bridge_id: uuid.UUID | None
    status: Literal["scheduled", "cancelled"]
    overridden: bool


class AgendaItemRead(msgspec.Struct):
    position: int
    title: str
    presenter: str | None
    duration_minutes: int | None
    needs_materials: bool


class MeetingRead(msgspec.Struct):
    id: uuid.UUID
    uid: str
    title: str
    description: str
    starts_at: datetime
    ends_at: datetime
    time_zone: str
    organiser: str
    chair: str | None
    secretary: str | None
    attendees: list[AttendeeRead]
    bridge_id: uuid.UUID | None
    bridge: BridgeInfo | None
    room_id: uuid.UUID | None
    confidentiality: Confidentiality
    rrule: str | None
    status: Literal["scheduled", "cancelled", "completed"]
    sequence: int
    urgent: bool
    urgent_reason: str | None
    occurrences: list[OccurrenceRead]
    agenda: list[AgendaItemRead]
    duration_minutes: int


class ConflictRead(msgspec.Struct):
    bridge_id: uuid.UUID | None
    starts_at: datetime
    ends_at: datetime
    reason: str
    occurrence: datetime | None = None


class AlternativeRead(msgspec.Struct):
    bridge_id: uuid.UUID
    bridge_name: str
    capacity: int
    starts_at: datetime
    ends_at: datetime
    kind: Literal["other_bridge", "other_time"]
