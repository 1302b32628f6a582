from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec

from confsvc import validation

BridgeKind = Annotated[str, msgspec.Meta(max_length=32)]
Pin = Annotated[str, msgspec.Meta(max_length=16), validation.pin_check]
BridgeName = Annotated[str, msgspec.Meta(max_length=200), validation.text_check(200)]


class DialIn(msgspec.Struct, forbid_unknown_fields=True):
    number: Annotated[str, msgspec.Meta(max_length=32), validation.e164_check]
    label: Annotated[str, msgspec.Meta(max_length=100), validation.text_check(100, required=False)] = ""


class BridgeCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: BridgeName
    capacity: Annotated[int, msgspec.Meta(ge=1, le=100_000)]
    kind: BridgeKind = "static"
    dial_in: list[DialIn] = msgspec.field(default_factory=list)
    access_code: Pin | None = None
    host_pin: Pin | None = None
    participant_pin: Pin | None = None
    settings: dict[str, Any] = msgspec.field(default_factory=dict)
    active: bool = True


class BridgeUpdate(msgspec.Struct, forbid_unknown_fields=True):
    name: BridgeName | msgspec.UnsetType = msgspec.UNSET
    capacity: Annotated[int, msgspec.Meta(ge=1, le=100_000)] | msgspec.UnsetType = msgspec.UNSET
    kind: BridgeKind | msgspec.UnsetType = msgspec.UNSET
    dial_in: list[DialIn] | msgspec.UnsetType = msgspec.UNSET
    access_code: Pin | None | msgspec.UnsetType = msgspec.UNSET
    host_pin: Pin | None | msgspec.UnsetType = msgspec.UNSET
    participant_pin: Pin | None | msgspec.UnsetType = msgspec.UNSET
    settings: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET


class BridgeRead(msgspec.Struct):
    id: uuid.UUID
    name: str
    kind: str
    capacity: int
    dial_in: list[DialIn]
    access_code: str | None
    active: bool
    settings: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    """Adapter options; shown to administrators only, with secrets masked."""
    host_pin: str | None | msgspec.UnsetType = msgspec.UNSET
    participant_pin: str | None | msgspec.UnsetType = msgspec.UNSET


class BusySlot(msgspec.Struct):
    starts_at: datetime
    ends_at: datetime


class BridgeAvailability(msgspec.Struct):
    id: uuid.UUID
    name: str
    kind: str
    capacity: int
    free: bool
    fits: bool
    """True when the bridge has enough ports for the requested attendee count."""
    busy: list[BusySlot]


class AvailabilityRead(msgspec.Struct):
    starts_at: datetime
    ends_at: datetime
    attendees: int
    bridges: list[BridgeAvailability]
