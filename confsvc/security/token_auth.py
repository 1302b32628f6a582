"""Bearer-token authentication with a short per-process cache of verified tokens.

Without the cache every API request reads ``api_token`` and ``person`` before its own
work. :class:`TokenAuthenticator` keeps, per token hash, a copy of the owner's columns for
``ttl_s`` seconds (``CONFSVC_TOKEN_CACHE_SECONDS``, default 5) and builds a fresh detached
``Person`` from it for each request, so requests never share an ORM instance.

Revocation and account changes:

- In the process that makes the change, the cache is void at once. Any flush or commit
  that changes or deletes an ``ApiToken``, ``Person`` or ``Department`` through the ORM
  advances a process-wide generation counter, and entries of an older generation are not used.
- In other processes, a revoked token, a deactivated account or changed roles take
  effect after at most ``ttl_s`` seconds, when the entry expires and the database is read.
  The same bound holds for changes made in this process by bulk SQL (``update()`` or
  ``delete()`` statements), which the ORM flush events do not see.

Only successful lookups are cached, so an unknown or revoked token reads the database
every time. ``api_token.last_used_at`` is written only on a cache miss that finds it older
than ``LAST_USED_INTERVAL``. So a token in steady use costs each process one read per
``ttl_s``, and the database about one write per interval, because only two processes that
miss at the same moment can both write.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, make_transient_to_detached

from confsvc.db.models import ApiToken, Department, Person
from confsvc.directory.services import hash_token

LAST_USED_INTERVAL = timedelta(minutes=10)
"""``last_used_at`` is rewritten only when it is older than this."""

MAX_CACHED_TOKENS = 10_000
"""Least recently used entries are dropped beyond this many tokens to bound memory."""

_WATCHED_MODELS = (ApiToken, Person, Department)
_CHANGED_FLAG = "confsvc_token_cache_void"


class _Generation:
    """Process-wide counter: advancing it voids every cached token of every authenticator."""

    value = 0

    @classmethod
    def advance(cls) -> None:
        cls.value += 1


def _touches_watched(session: Session) -> bool:
    return any(isinstance(instance, _WATCHED_MODELS) for instance in (*session.dirty, *session.deleted))


@event.listens_for(Session, "after_flush")
def _void_on_flush(session: Session, _flush_context: Any) -> None:
    # The new, dirty and deleted sets still contain the pre-flush state here.
    if _touches_watched(session):
        session.info[_CHANGED_FLAG] = True
        _Generation.advance()


@event.listens_for(Session, "after_commit")
def _void_on_commit(session: Session) -> None:
    # Again after the commit: a concurrent miss may have read the old row between the
    # flush and the commit and cached it under the generation set at the flush.
    if session.info.pop(_CHANGED_FLAG, False):
        _Generation.advance()


@event.listens_for(Session, "after_rollback")
def _forget_on_rollback(session: Session) -> None:
    session.info.pop(_CHANGED_FLAG, None)


def _column_values(instance: Any) -> dict[str, Any]:
    return {attribute.key: getattr(instance, attribute.key) for attribute in inspect(type(instance)).column_attrs}


def _detached(model: type[Any], values: dict[str, Any], **relationships: Any) -> Any:
    """Build an instance that behaves like one loaded by a closed session."""
    # JSON columns (``roles``) contain flat lists and dicts, so a shallow copy keeps one
    # request's changes out of the cache. A deep copy would cost more than the lookup.
    own = {key: (value.copy() if isinstance(value, (list, dict)) else value) for key, value in values.items()}
    instance = model(**own, **relationships)
    make_transient_to_detached(instance)
    return instance


@dataclass(frozen=True)
class _Entry:
    person: dict[str, Any]
    department: dict[str, Any] | None
    generation: int
    expires_at: float

    def build_person(self) -> Person:
        department = _detached(Department, self.department) if self.department is not None else None
        return _detached(Person, self.person, department=department)


class TokenAuthenticator:
    """Resolve API tokens to people, caching verified tokens for ``ttl_s`` seconds.

    ``clock`` (monotonic seconds) and ``wall_clock`` (aware UTC datetimes) are
    replaceable so tests can move time.
    """

    def __init__(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        *,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.session_maker = session_maker
        self.ttl_s = ttl_s
        self.clock = clock
        self.wall_clock = wall_clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    async def authenticate(self, token: str) -> Person | None:
        """Return the active owner of ``token``, or None when it is unknown or revoked."""
        token_hash = hash_token(token)
        entry = self._entries.get(token_hash)
        if entry is not None:
            if entry.generation == _Generation.value and self.clock() < entry.expires_at:
                self._entries.move_to_end(token_hash)
                return entry.build_person()
            del self._entries[token_hash]

        generation = _Generation.value
        entry = await self._load(token_hash, generation)
        if entry is None:
            return None
        if self.ttl_s > 0:
            self._entries[token_hash] = entry
            while len(self._entries) > MAX_CACHED_TOKENS:
                self._entries.popitem(last=False)
        return entry.build_person()

    async def _load(self, token_hash: str, generation: int) -> _Entry | None:
        async with self.session_maker() as session:
            record = await session.scalar(
                select(ApiToken).where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None))
            )
            if record is None or not record.person.active:
                return None
            person = record.person
            entry = _Entry(
                person=_column_values(person),
                department=_column_values(person.department) if person.department is not None else None,
                generation=generation,
                expires_at=self.clock() + self.ttl_s,
            )
            now = self.wall_clock()
            if record.last_used_at is None or now - record.last_used_at > LAST_USED_INTERVAL:
                # A Core UPDATE leaves the ORM flush events (and so the cache) alone.
                await session.execute(
                    update(ApiToken).where(ApiToken.id == record.id).values(last_used_at=now).execution_options(synchronize_session=False)
                )
                await session.commit()
        return entry
