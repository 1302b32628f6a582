from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec


class LoginRequest(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(max_length=320)]
    """E-mail address, or the LDAP user name when LDAP login is configured."""
    password: Annotated[str, msgspec.Meta(max_length=4096)]
    next: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    """Local path to redirect to (303) after a successful form login."""


class MeRead(msgspec.Struct):
    id: uuid.UUID
    email: str
    name: str
    roles: list[str]
    locale: str | None
    time_zone: str | None
    authenticated_by: Literal["token", "session"]


class LoginRead(msgspec.Struct):
    person: MeRead
    csrf_token: str
    """Echo in the X-CSRF-Token header of every POST/PATCH/PUT/DELETE made with the session cookie."""
    expires_at: datetime
    method: str


class TokenCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class TokenRead(msgspec.Struct):
    id: uuid.UUID
    person_id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(msgspec.Struct):
    id: uuid.UUID
    person_id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    token: str
    """The token itself; shown only in this response."""


class AuditRead(msgspec.Struct):
    id: uuid.UUID
    occurred_at: datetime
    actor_id: uuid.UUID | None
    actor_email: str | None
    action: str
    object_type: str
    object_id: str | None
    client_address: str | None
    details: dict[str, Any]
