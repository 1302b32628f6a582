"""``Idempotency-Key`` support for POST requests that create things.

The first successful answer is stored with a hash of the request body in the same
transaction as the change, so a retry with the same key and body gets that answer back
and changes nothing, and a retry with another body is rejected.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.db.models import IdempotencyRecord
from confsvc.errors import IdempotencyMismatch, ValidationFailed
from confsvc.i18n import gettext as _

MAX_KEY_LENGTH = 200


def request_hash(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), b"\0", path.encode(), b"\0", body):
        digest.update(part)
    return digest.hexdigest()


def check_key(key: str) -> str:
    cleaned = key.strip()
    if not cleaned or len(cleaned) > MAX_KEY_LENGTH or not cleaned.isprintable():
        raise ValidationFailed.field("Idempotency-Key", _("must be 1 to {limit} printable characters", limit=MAX_KEY_LENGTH))
    return cleaned


async def replay(session: AsyncSession, *, person_id: uuid.UUID, key: str, fingerprint: str) -> IdempotencyRecord | None:
    """Return the stored answer for ``key``, or None when the key is new."""
    record = await session.scalar(
        select(IdempotencyRecord).where(IdempotencyRecord.person_id == person_id, IdempotencyRecord.key == key)
    )
    if record is not None and record.request_hash != fingerprint:
        raise IdempotencyMismatch(_("this Idempotency-Key was used with a different request; use a new key"))
    return record


def remember(session: AsyncSession, *, person_id: uuid.UUID, key: str, fingerprint: str, status_code: int, response: dict[str, Any]) -> None:
    session.add(
        IdempotencyRecord(person_id=person_id, key=key, request_hash=fingerprint, status_code=status_code, response=response)
    )
