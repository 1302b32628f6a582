"""Administrators' view of the outbox: ``/api/v1/deliveries``."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

import msgspec
from litestar import Controller, get, post
from litestar.di import Provide
from litestar.params import Parameter
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.api.auth import admin_only, current_person
from confsvc.db.models import OutboxMessage, Person
from confsvc.db.models.outbox import OUTBOX_STATUSES
from confsvc.errors import Conflict, NotFound, ValidationFailed
from confsvc.i18n import gettext as _

logger = logging.getLogger(__name__)


class DeliveryRead(msgspec.Struct):
    id: uuid.UUID
    idempotency_key: str
    channel: str
    recipient: str
    meeting_id: uuid.UUID | None
    status: str
    attempts: int
    next_attempt_at: datetime
    locked_until: datetime | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    method: str | None = None


def delivery_read(row: OutboxMessage) -> DeliveryRead:
    return DeliveryRead(
        id=row.id, idempotency_key=row.idempotency_key, channel=row.channel, recipient=row.recipient,
        meeting_id=row.meeting_id, status=row.status, attempts=row.attempts, next_attempt_at=row.next_attempt_at,
        locked_until=row.locked_until, last_error=row.last_error, created_at=row.created_at, sent_at=row.sent_at,
        method=(row.payload or {}).get("method") or (row.payload or {}).get("action"),
    )


class DeliveryController(Controller):
    path = "/deliveries"
    tags = ["deliveries"]
    guards = [admin_only]
    dependencies = {"caller": Provide(current_person)}

    @get(operation_id="listDeliveries")
    async def list_deliveries(
        self,
        db_session: AsyncSession,
        status: str | None = Parameter(default=None, max_length=16),
        meeting_id: uuid.UUID | None = Parameter(query="meeting", default=None),
        limit: int = Parameter(default=100, ge=1, le=500),
        offset: int = Parameter(default=0, ge=0),
    ) -> list[DeliveryRead]:
        """List outbox messages, newest first; ``status`` is pending, sending, sent or dead."""
        statement = select(OutboxMessage).order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        if status is not None:
            if status not in OUTBOX_STATUSES:
                raise ValidationFailed.field("status", _("use one of: {values}", values=", ".join(OUTBOX_STATUSES)))
            statement = statement.where(OutboxMessage.status == status)
        if meeting_id is not None:
            statement = statement.where(OutboxMessage.meeting_id == meeting_id)
        rows = await db_session.scalars(statement.limit(limit).offset(offset))
        return [delivery_read(row) for row in rows]

    @post("/{delivery_id:uuid}/retry", operation_id="retryDelivery", status_code=200)
    async def retry(self, db_session: AsyncSession, caller: Person, delivery_id: uuid.UUID) -> DeliveryRead:
        """Make a dead or waiting message due now, with a fresh count of attempts.

        A sent message, or one that a dispatcher holds right now, answers 409: retrying it
        could deliver it twice.
        """
        now = datetime.now(UTC)
        row = await db_session.get(OutboxMessage, delivery_id)
        if row is None:
            raise NotFound("delivery", delivery_id)
        status = row.status
        result = await db_session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == delivery_id, OutboxMessage.status.in_(("pending", "dead")))
            .values(status="pending", attempts=0, next_attempt_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if not getattr(result, "rowcount", 0):
            await db_session.rollback()
            raise Conflict(_("delivery {id} is {status}; only pending or dead deliveries can be retried", id=delivery_id, status=status))
        await db_session.commit()
        await db_session.refresh(row)
        logger.info("delivery retry requested delivery_id=%s person_id=%s", delivery_id, caller.id)
        return delivery_read(row)
