from __future__ import annotations

import uuid
from typing import Annotated

import msgspec

Email = Annotated[str, msgspec.Meta(max_length=320)]
Name = Annotated[str, msgspec.Meta(max_length=200)]


class PersonCreate(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    name: Name
    department: Name | None = None
    phone: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    locale: Annotated[str, msgspec.Meta(max_length=16)] | None = None
    time_zone: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    roles: list[str] = msgspec.field(default_factory=lambda: ["member"])


class PersonUpdate(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    department: Name | None | msgspec.UnsetType = msgspec.UNSET
    phone: Annotated[str, msgspec.Meta(max_length=32)] | None | msgspec.UnsetType = msgspec.UNSET
    locale: Annotated[str, msgspec.Meta(max_length=16)] | None | msgspec.UnsetType = msgspec.UNSET
    time_zone: Annotated[str, msgspec.Meta(max_length=64)] | None | msgspec.UnsetType = msgspec.UNSET
    roles: list[str] | msgspec.UnsetType = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET


class PersonRead(msgspec.Struct):
    id: uuid.UUID
    email: str
    name: str
    department: str | None
    phone: str | None
    locale: str | None
    time_zone: str | None
    roles: list[str]
    active: bool


class ImportRowError(msgspec.Struct):
    line: int
    field: str
    reason: str


class ImportReport(msgspec.Struct):
    created: int
    updated: int
    unchanged: int
    errors: list[ImportRowError]
