"""Durable outbox: enqueue in the caller's transaction, deliver later with retries.

A change that must tell someone (an invitation, a CalDAV write, a robot message) calls
:func:`enqueue` inside its own transaction, so the message exists exactly when the change
is committed. :class:`OutboxDispatcher` (run by the scheduler sweep) then:

1. claims due rows in a short transaction: ``pending`` rows whose ``next_attempt_at`` has
   come, and ``sending`` rows whose lease (``locked_until``) expired because their
   dispatcher died. PostgreSQL claims with ``SELECT ... FOR UPDATE SKIP LOCKED``; SQLite
   claims inside the ``BEGIN IMMEDIATE`` write transaction that the engine opens, so two
   processes never claim one row;
2. delivers each claimed row through the handler named by its ``channel``;
3. records the outcome in another short transaction, guarded by the claim token, so a
   dispatcher whose lease expired cannot overwrite the newer claim's result.

Rows are delivered in lanes, one per channel (and per IM kind), side by side. Within a
lane, a failure of the whole endpoint (:class:`EndpointUnavailable`: refused, timed out,
5xx, 429) postpones the lane's remaining rows to the next sweep without counting an
attempt, and a lane stops starting deliveries once half the lease has passed. A dead or
slow endpoint therefore costs a sweep one timeout, not one per row, and no row outlives
its lease while it waits in a lane.

Guarantees: one row per idempotency key (the unique index; a second enqueue is a no-op).
A row is never lost: it stays ``pending`` or ``sending`` until a dispatcher records
``sent`` or ``dead``. A row may be delivered twice only when a dispatcher dies after the
remote side accepted the message and before step 3 committed; e-mails then carry the same
Message-ID (derived from the key), so receivers and tests can recognise the repeat.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from confsvc.db.models import OutboxMessage
from confsvc.errors import DeliveryError, PermanentDeliveryError
from confsvc.notify.unavailable import EndpointUnavailable
from confsvc.settings import OutboxSettings

__all__ = [
    "DeliveryHandler",
    "DispatchReport",
    "OutboxDispatcher",
    "OutgoingMessage",
    "backoff_delay",
    "enqueue",
    "enqueue_many",
    "message_id_for",
    "register_delivery_check",
]

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


DeliveryCheck = Callable[[AsyncSession, OutboxMessage], Awaitable[str | None]]
"""Called right before delivery of a row whose payload names it under ``"check"``; returns
a reason to drop the row (status ``dropped``) instead of delivering it, or None."""

_delivery_checks: dict[str, DeliveryCheck] = {}


def register_delivery_check(name: str, check: DeliveryCheck) -> None:
    """Register ``check`` under ``name``; a domain whose messages may go stale (a reminder for
    an item closed since) calls this once at import."""
    _delivery_checks[name] = check


class DeliveryHandler(Protocol):
    """Delivers one outbox row of one channel.

    Raises ``PermanentDeliveryError`` when no retry can help and ``DeliveryError`` when a
    later retry may succeed; any other exception counts as a retryable failure.
    """

    async def deliver(self, message: OutboxMessage) -> None: ...


async def enqueue(
    session: AsyncSession,
    *,
    key: str,
    channel: str,
    recipient: str,
    payload: Mapping[str, Any],
    meeting_id: uuid.UUID | None = None,
    not_before: datetime | None = None,
) -> bool:
    """Add a message to the outbox in the session's current transaction.

    The row becomes visible to dispatchers when the caller commits. A key that already
    exists leaves the stored row unchanged (INSERT ... ON CONFLICT DO NOTHING on both
    databases). Returns True when a new row was written.
    """
    now = _utc_now()
    values = {
        "id": uuid.uuid4(),
        "idempotency_key": key,
        "channel": channel,
        "recipient": recipient,
        "payload": dict(payload),
        "meeting_id": meeting_id,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": not_before or now,
        "created_at": now,
        "updated_at": now,
    }
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(OutboxMessage).values(**values).on_conflict_do_nothing(index_elements=["idempotency_key"])
    result = await session.execute(statement)
    created = bool(getattr(result, "rowcount", 0))
    if not created:
        logger.info("outbox message already queued channel=%s key_hash=%s", channel, _key_hash(key))
    return created


@dataclass(frozen=True)
class OutgoingMessage:
    """One message for :func:`enqueue_many`; the fields mean what :func:`enqueue`'s do."""

    key: str
    channel: str
    recipient: str
    payload: Mapping[str, Any]
    meeting_id: uuid.UUID | None = None
    not_before: datetime | None = None


async def enqueue_many(session: AsyncSession, messages: list[OutgoingMessage]) -> int:
    """Add many messages in the session's current transaction, as :func:`enqueue` does for one.

    Runs INSERT ... ON CONFLICT DO NOTHING as one executemany, which SQLAlchemy batches
    into multi-row statements, so a sweep that queues thousands of reminders does not pay
    one round trip each. Returns the number of new rows; existing keys stay unchanged.
    """
    if not messages:
        return 0
    now = _utc_now()
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    rows = [
        {
            "id": uuid.uuid4(), "idempotency_key": m.key, "channel": m.channel, "recipient": m.recipient,
            "payload": dict(m.payload), "meeting_id": m.meeting_id, "status": "pending", "attempts": 0,
            "next_attempt_at": m.not_before or now, "created_at": now, "updated_at": now,
        }
        for m in messages
    ]
    table = OutboxMessage.__table__
    statement = (
        insert(table).on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(table.c.idempotency_key)
    )
    result = await session.execute(statement, rows)
    return len(result.all())


def message_id_for(key: str, *, domain: str) -> str:
    """Return the RFC 5322 Message-ID of an outbox row: the same for every attempt."""
    return f"<outbox.{_key_hash(key)}@{domain}>"


def backoff_delay(attempts: int, settings: OutboxSettings) -> timedelta:
    """Return the wait after the ``attempts``-th failed attempt: base × 2^(attempts-1), capped."""
    exponent = max(attempts - 1, 0)
    seconds = min(settings.base_delay_seconds * (2 ** min(exponent, 30)), settings.max_delay_seconds)
    return timedelta(seconds=seconds)


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


@dataclass
class DispatchReport:
    """Counts of one sweep, by outcome."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    lost_claims: int = 0
    """Outcomes not recorded because another dispatcher had taken the row over."""
    dropped: int = 0
    """Rows not delivered because their delivery check found them stale."""
    postponed: int = 0
    """Claimed rows handed back undelivered, without counting the attempt (see the module doc)."""
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Claim:
    id: uuid.UUID
    token: str
    attempts: int
    channel: str = ""
    lane: str = ""
    """Channel, or ``im:<kind>`` for an IM row; rows of one lane are delivered in order."""


class OutboxDispatcher:
    """Claims due outbox rows and delivers them through the handlers by channel name.

    ``handlers`` maps a channel name (``email``, ``caldav``, an IM channel kind, ...) to a
    :class:`DeliveryHandler`. A row whose channel has no handler is retried later, so a
    process without, say, SMTP settings leaves e-mail for one that has them.
    """

    def __init__(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        settings: OutboxSettings,
        handlers: Mapping[str, DeliveryHandler],
        *,
        clock: Clock = _utc_now,
    ) -> None:
        self.session_maker = session_maker
        self.settings = settings
        self.handlers = dict(handlers)
        self.clock = clock

    async def run_once(self, *, limit: int | None = None) -> DispatchReport:
        """Claim up to ``limit`` (default: the batch size) due rows and deliver them: in order within a
        channel, the channels side by side."""
        report = DispatchReport()
        started = time.monotonic()
        claims = await self._claim(limit or self.settings.batch_size, report)
        report.claimed = len(claims)
        # One lane per endpoint kind: a slow SMTP server holds up only e-mail, not CalDAV or IM.
        lanes: dict[str, list[_Claim]] = {}
        for claim in claims:
            lanes.setdefault(claim.lane, []).append(claim)
        await asyncio.gather(*(self._deliver_lane(lane, report, started) for lane in lanes.values()))
        if claims:
            logger.info(
                "outbox sweep finished claimed=%d sent=%d retried=%d dead=%d postponed=%d",
                report.claimed, report.sent, report.retried, report.dead, report.postponed,
            )
        return report

    async def run_until_idle(self, *, max_rounds: int = 100) -> DispatchReport:
        """Sweep until nothing is due (rows waiting for a backoff stay); for tools and tests."""
        total = DispatchReport()
        for _round in range(max_rounds):
            report = await self.run_once()
            total.claimed += report.claimed
            total.sent += report.sent
            total.retried += report.retried
            total.dead += report.dead
            total.lost_claims += report.lost_claims
            total.dropped += report.dropped
            total.postponed += report.postponed
            total.errors.extend(report.errors)
            if report.claimed == 0 or report.claimed == report.postponed:
                break
        return total

    # -- claiming ------------------------------------------------------------------

    async def _claim(self, limit: int, report: DispatchReport) -> list[_Claim]:
        now = self.clock()
        lease_end = now + timedelta(seconds=self.settings.lease_seconds)
        claims: list[_Claim] = []
        async with self.session_maker() as session, session.begin():
            due = (
                select(
                    OutboxMessage.id, OutboxMessage.attempts, OutboxMessage.status, OutboxMessage.channel,
                    OutboxMessage.payload["kind"].as_string(),
                )
                .where(
                    or_(
                        and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now),
                        and_(OutboxMessage.status == "sending", OutboxMessage.locked_until < now),
                    )
                )
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(limit)
                # SKIP LOCKED on PostgreSQL; SQLite ignores it and already holds the write lock.
                .with_for_update(skip_locked=True)
            )
            for row_id, attempts, status, channel, kind in (await session.execute(due)).all():
                if channel not in self.handlers:
                    continue
                if status == "sending" and attempts >= self.settings.max_attempts:
                    # The last allowed attempt died with its dispatcher.
                    await session.execute(
                        update(OutboxMessage)
                        .where(OutboxMessage.id == row_id)
                        .values(
                            status="dead", locked_until=None, claim_token=None, updated_at=now,
                            last_error="the dispatcher stopped during the last allowed attempt",
                        )
                    )
                    report.dead += 1
                    logger.warning("outbox message dead delivery_id=%s attempts=%d reason=lease_expired", row_id, attempts)
                    continue
                if status == "sending":
                    logger.warning("outbox lease expired, claiming again delivery_id=%s attempts=%d", row_id, attempts)
                token = secrets.token_hex(16)
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == row_id)
                    .values(status="sending", locked_until=lease_end, claim_token=token, attempts=attempts + 1, updated_at=now)
                )
                lane = f"{channel}:{kind}" if channel == "im" and kind else channel
                claims.append(_Claim(id=row_id, token=token, attempts=attempts + 1, channel=channel, lane=lane))
        return claims

    # -- delivering ----------------------------------------------------------------

    async def _deliver_lane(self, claims: list[_Claim], report: DispatchReport, started: float) -> None:
        budget = self.settings.lease_seconds / 2
        for index, claim in enumerate(claims):
            elapsed = time.monotonic() - started
            if elapsed > budget:
                reason = f"the sweep has run {elapsed:.0f} s, half the {self.settings.lease_seconds} s lease"
                await self._postpone(claims[index:], report, reason=reason)
                return
            unavailable = await self._deliver(claim, report)
            if unavailable is not None:
                await self._postpone(claims[index + 1 :], report, reason=unavailable)
                return

    async def _postpone(self, claims: list[_Claim], report: DispatchReport, *, reason: str) -> None:
        """Hand ``claims`` back as due, undelivered, and give back the attempt their claim counted."""
        if not claims:
            return
        now = self.clock()
        postponed: list[str] = []
        async with self.session_maker() as session, session.begin():
            for claim in claims:
                result = await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == claim.id, OutboxMessage.claim_token == claim.token)
                    .values(
                        status="pending", attempts=claim.attempts - 1, locked_until=None, claim_token=None, updated_at=now
                    )
                )
                if getattr(result, "rowcount", 0):
                    postponed.append(str(claim.id))
                else:
                    report.lost_claims += 1
        report.postponed += len(postponed)
        logger.warning(
            "outbox deliveries postponed to the next sweep lane=%s count=%d delivery_ids=%s reason=%s",
            claims[0].lane, len(postponed), ",".join(postponed), reason,
        )

    async def _deliver(self, claim: _Claim, report: DispatchReport) -> str | None:
        """Deliver one claimed row and record the outcome.

        Returns the error text when the endpoint as a whole failed (the lane then stops), else None.
        """
        async with self.session_maker() as session:
            message = await session.get(OutboxMessage, claim.id)
            drop_reason = None
            if message is not None and message.claim_token == claim.token:
                drop_reason = await _check_before_delivery(session, message)
        if message is None or message.claim_token != claim.token:
            report.lost_claims += 1
            return None
        if drop_reason is not None:
            await self._record(claim, report, status="dropped", error=drop_reason)
            return None
        handler = self.handlers[message.channel]

        error: Exception | None = None
        try:
            await handler.deliver(message)
        except Exception as exc:  # every failure is recorded on the row, then retried or dead-lettered
            error = exc

        if error is None:
            await self._record(claim, report, status="sent")
            return None
        permanent = isinstance(error, PermanentDeliveryError)
        if not isinstance(error, DeliveryError):
            logger.exception(
                "outbox handler failed unexpectedly delivery_id=%s channel=%s", claim.id, message.channel, exc_info=error
            )
        text = f"{type(error).__name__}: {error}"[:2000]
        report.errors.append(text)
        unavailable = text if isinstance(error, EndpointUnavailable) else None
        if permanent or claim.attempts >= self.settings.max_attempts:
            await self._record(claim, report, status="dead", error=text)
            return unavailable
        delay = backoff_delay(claim.attempts, self.settings)
        retry_after = getattr(error, "retry_after", None)
        if isinstance(retry_after, (int, float)) and retry_after > delay.total_seconds():
            # A Retry-After beyond the maximum delay is capped like any other wait.
            delay = timedelta(seconds=min(float(retry_after), self.settings.max_delay_seconds))
        await self._record(claim, report, status="pending", error=text, delay=delay)
        return unavailable

    async def _record(
        self, claim: _Claim, report: DispatchReport, *, status: str, error: str | None = None, delay: timedelta | None = None
    ) -> None:
        now = self.clock()
        values: dict[str, Any] = {"status": status, "locked_until": None, "claim_token": None, "updated_at": now}
        if status == "sent":
            values["sent_at"] = now
        else:
            values["last_error"] = error
        if delay is not None:
            values["next_attempt_at"] = now + delay
        async with self.session_maker() as session, session.begin():
            result = await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == claim.id, OutboxMessage.claim_token == claim.token)
                .values(**values)
            )
        if not getattr(result, "rowcount", 0):
            report.lost_claims += 1
            logger.warning("outbox claim lost before recording delivery_id=%s outcome=%s", claim.id, status)
            return
        if status == "sent":
            report.sent += 1
            logger.info("outbox message sent delivery_id=%s attempts=%d", claim.id, claim.attempts)
        elif status == "dropped":
            report.dropped += 1
            logger.info("outbox message dropped before delivery delivery_id=%s reason=%s", claim.id, error)
        elif status == "dead":
            report.dead += 1
            logger.warning(
                "outbox message dead delivery_id=%s channel=%s attempts=%d error=%s",
                claim.id, claim.channel, claim.attempts, error,
            )
        else:
            report.retried += 1
            logger.info(
                "outbox delivery failed, retry scheduled delivery_id=%s channel=%s attempts=%d delay_s=%d error=%s",
                claim.id, claim.channel, claim.attempts, int(delay.total_seconds()) if delay else 0, error,
            )


async def _check_before_delivery(session: AsyncSession, message: OutboxMessage) -> str | None:
    name = (message.payload or {}).get("check")
    if not name:
        return None
    check = _delivery_checks.get(str(name))
    if check is None:
        logger.warning("outbox delivery check not registered, delivering delivery_id=%s check=%s", message.id, name)
        return None
    return await check(session, message)
