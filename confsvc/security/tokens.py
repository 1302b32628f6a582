"""API tokens: created (shown once), listed and revoked.

Tokens are ``TOKEN_PREFIX`` plus 43 URL-safe characters; only their SHA-256 is stored, with the
first 10 characters kept as a prefix so people can tell tokens apart.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc import validation
from confsvc.db.models import ApiToken, Person
from confsvc.directory.services import TOKEN_PREFIX, hash_token
from confsvc.errors import NotFound

logger = logging.getLogger(__name__)


def _is_admin(person: Person) -> bool:
    return "admin" in (person.roles or [])


class TokenService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(self, owner: Person, *, name: str) -> tuple[ApiToken, str]:
        """Store a new token for ``owner``; return the row and the token (not committed)."""
        clean_name = validation.text(name, field="name", max_length=100)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = ApiToken(person_id=owner.id, name=clean_name, token_hash=hash_token(token), prefix=token[:10])
        self.session.add(row)
        await self.session.flush()
        await self.session.refresh(row)
        logger.info("api token created person_id=%s token_id=%s", owner.id, row.id)
        return row, token

    async def list(self, caller: Person, *, person_id: uuid.UUID | None = None, include_revoked: bool = False) -> list[ApiToken]:
        """Return the caller's tokens, or another person's when the caller is an admin.

        A non-admin asking for someone else's tokens gets an empty list.
        """
        owner_id = person_id or caller.id
        if owner_id != caller.id and not _is_admin(caller):
            return []
        statement = select(ApiToken).where(ApiToken.person_id == owner_id).order_by(ApiToken.created_at, ApiToken.id)
        if not include_revoked:
            statement = statement.where(ApiToken.revoked_at.is_(None))
        return list(await self.session.scalars(statement))

    async def revoke(self, caller: Person, token_id: uuid.UUID, *, now: datetime | None = None) -> ApiToken:
        """Revoke one token of the caller (admins: anyone's); revoking twice is harmless.

        Raises ``NotFound`` for a missing token and for another person's token when the
        caller is not an admin, so token ids of others cannot be probed.
        """
        row = await self.session.get(ApiToken, token_id)
        if row is None or (row.person_id != caller.id and not _is_admin(caller)):
            raise NotFound("token", token_id)
        if row.revoked_at is None:
            row.revoked_at = now or datetime.now(UTC)
            await self.session.flush()
            logger.info("api token revoked token_id=%s person_id=%s by=%s", row.id, row.person_id, caller.id)
        return row
