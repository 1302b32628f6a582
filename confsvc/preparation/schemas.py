"""Request and response bodies of the preparation API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

import msgspec

from confsvc.booking.schemas import Email, Title

EquipmentStatus = Literal["ok", "faulty", "out_of_order"]
CheckStatus = Literal["pass", "warn", "fail"]
ItemName = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]


class AgendaItemWrite(msgspec.Struct, forbid_unknown_fields=True):
    """One item of a replaced agenda; ``id`` names an existing item, a new item has none."""

    title: Title
    id: uuid.UUID | None = None
    presenter: Email | None = None
    duration_minutes: Annotated[int, msgspec.Meta(ge=1, le=1440)] | None = None
    needs_materials: bool = False


class AgendaWrite(msgspec.Struct, forbid_unknown_fields=True):
    items: list[AgendaItemWrite]


class AgendaItemView(msgspec.Struct):
    id: uuid.UUID
    """Stays the same while the item is edited or moved; materials refer to it."""
    position: int
    title: str
    presenter: str | None
    duration_minutes: int | None
    needs_materials: bool


class AgendaRead(msgspec.Struct):
    meeting_id: uuid.UUID
    items: list[AgendaItemView]
    total_minutes: int
    meeting_minutes: int
    warnings: list[str]
    invitations_queued: int = 0
    """Updated invitations queued by this change (0 on GET)."""


class MaterialRead(msgspec.Struct):
    id: uuid.UUID
    meeting_id: uuid.UUID
    agenda_item_id: uuid.UUID | None
    """The agenda item the file belongs to; None for the whole meeting."""
    agenda_position: int | None
    """Current position of that item."""
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_at: datetime
    uploaded_by: str | None


class EquipmentIn(msgspec.Struct, forbid_unknown_fields=True):
    item: ItemName
    status: EquipmentStatus = "ok"
    inspected_on: date | None = None
    note: Annotated[str, msgspec.Meta(max_length=1000)] | None = None


class EquipmentRead(msgspec.Struct):
    item: str
    status: EquipmentStatus
    inspected_on: date | None
    note: str | None


class RoomCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    location: Annotated[str, msgspec.Meta(max_length=300)] | None = None
    capacity: Annotated[int, msgspec.Meta(ge=0, le=100_000)] = 0
    equipment: list[EquipmentIn] = msgspec.field(default_factory=list)


class RoomUpdate(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | msgspec.UnsetType = msgspec.UNSET
    location: Annotated[str, msgspec.Meta(max_length=300)] | None | msgspec.UnsetType = msgspec.UNSET
    capacity: Annotated[int, msgspec.Meta(ge=0, le=100_000)] | msgspec.UnsetType = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET
    equipment: list[EquipmentIn] | msgspec.UnsetType = msgspec.UNSET
    """The full equipment list; items left out are removed."""


class RoomRead(msgspec.Struct):
    id: uuid.UUID
    name: str
    location: str | None
    capacity: int
    active: bool
    equipment: list[EquipmentRead]


class FaultReport(msgspec.Struct, forbid_unknown_fields=True):
    note: Annotated[str, msgspec.Meta(max_length=1000)] | None = None


class RepairReport(msgspec.Struct, forbid_unknown_fields=True):
    inspected_on: date | None = None
    """Day of the inspection after the repair; default today in the organisation's zone."""


class CheckResultRead(msgspec.Struct):
    name: str
    status: CheckStatus
    detail: str
    data: dict[str, Any]


class CheckRunRead(msgspec.Struct):
    id: uuid.UUID
    meeting_id: uuid.UUID
    occurrence_starts_at: datetime
    trigger: str
    started_at: datetime
    status: CheckStatus
    notified: bool
    checks: list[CheckResultRead]


class ChannelIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
    config: dict[str, Any]
    active: bool = True


class ChannelsWrite(msgspec.Struct, forbid_unknown_fields=True):
    channels: list[ChannelIn]
    """The full list; kinds left out are removed."""


class ChannelRead(msgspec.Struct):
    kind: str
    config: dict[str, Any]
    """The stored settings with secrets (keys, tokens, secrets) shown as ``***``."""
    active: bool


class ChannelsRead(msgspec.Struct):
    channels: list[ChannelRead]
