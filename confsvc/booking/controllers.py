from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.di import Provide
from litestar.params import Parameter
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.api import idempotency
from confsvc.api.auth import current_person, require_roles
from confsvc.booking.listing import list_meeting_reads
from confsvc.booking.schemas import CancelRequest, MeetingCreate, MeetingRead, MeetingUpdate, OccurrenceUpdate
from confsvc.booking.services import MeetingFilters, MeetingService, Viewer, meeting_read
from confsvc.db.models import Person
from confsvc.errors import BookingConflict, ValidationFailed
from confsvc.i18n import gettext as _
from confsvc.security.audit import record_audit, sent_fields
from confsvc.settings import Settings


class MeetingController(Controller):
    path = "/meetings"
    tags = ["meetings"]
    dependencies = {"caller": Provide(current_person)}

    @get(operation_id="listMeetings")
    async def list_meetings(
        self,
        db_session: AsyncSession,
        caller: Person,
        settings: Settings,
        starts_from: datetime | None = Parameter(query="from", default=None),
        starts_to: datetime | None = Parameter(query="to", default=None),
        organiser: str | None = Parameter(default=None, max_length=320),
        attendee: str | None = Parameter(default=None, max_length=320),
        bridge: uuid.UUID | None = Parameter(default=None),
        status: str | None = Parameter(default=None, max_length=16),
        limit: int = Parameter(default=100, ge=1, le=500),
        offset: int = Parameter(default=0, ge=0),
    ) -> list[MeetingRead]:
        filters = MeetingFilters(
            starts_from=starts_from, starts_to=starts_to, organiser=organiser, attendee=attendee,
            bridge_id=bridge, status=status, limit=limit, offset=offset,
        )
        return await list_meeting_reads(MeetingService(db_session, settings), filters, Viewer.of(caller))

    @post(operation_id="createMeeting", status_code=201, guards=[require_roles("organiser")])
    async def create_meeting(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, caller: Person, settings: Settings, data: MeetingCreate
    ) -> Response[Any]:
        key = request.headers.get("idempotency-key")
        fingerprint = ""
        if key is not None:
            key = idempotency.check_key(key)
            fingerprint = idempotency.request_hash(request.method, request.url.path, await request.body())
            stored = await idempotency.replay(db_session, person_id=caller.id, key=key, fingerprint=fingerprint)
            if stored is not None:
                return Response(stored.response, status_code=stored.status_code, headers={"Idempotent-Replayed": "true"})

        service = MeetingService(db_session, settings)
        try:
            meeting = await service.create(data, caller=caller)
            body = msgspec.to_builtins(meeting_read(meeting, Viewer.of(caller)))
            record_audit(
                db_session, actor=caller, action="meeting.create", object_type="meeting", object_id=meeting.id,
                details={"confidentiality": meeting.confidentiality, "attendees": [a.email for a in meeting.attendees]},
                client_address=request.client.host if request.client else None,
            )
            if key is not None:
                idempotency.remember(db_session, person_id=caller.id, key=key, fingerprint=fingerprint, status_code=201, response=body)
            await db_session.commit()
        except (BookingConflict, IntegrityError):
            # A concurrent request with the same key may have won; answer as it did.
            await db_session.rollback()
            if key is not None:
                stored = await idempotency.replay(db_session, person_id=caller.id, key=key, fingerprint=fingerprint)
                if stored is not None:
                    return Response(stored.response, status_code=stored.status_code, headers={"Idempotent-Replayed": "true"})
            raise
        return Response(body, status_code=201, headers={"Location": f"/api/v1/meetings/{meeting.id}"})

    @get("/{meeting_id:uuid}", operation_id="getMeeting")
    async def get_meeting(self, db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID) -> MeetingRead:
        viewer = Viewer.of(caller)
        return meeting_read(await MeetingService(db_session, settings).get(meeting_id, viewer), viewer)

    @patch("/{meeting_id:uuid}", operation_id="updateMeeting")
    async def update_meeting(
        self, db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID, data: MeetingUpdate
    ) -> MeetingRead:
        service = MeetingService(db_session, settings)
        attendees_before = {a.email for a in (await service.get(meeting_id, Viewer.of(caller))).attendees}
        meeting = await service.update(meeting_id, data, caller=caller)
        attendees_after = {a.email for a in meeting.attendees}
        record_audit(
            db_session, actor=caller, action="meeting.update", object_type="meeting", object_id=meeting.id,
            details={
                "fields": sent_fields(data), "sequence": meeting.sequence,
                "attendees_added": sorted(attendees_after - attendees_before),
                "attendees_removed": sorted(attendees_before - attendees_after),
            },
        )
        await db_session.commit()
        return meeting_read(meeting, Viewer.of(caller))

    @post("/{meeting_id:uuid}/cancel", operation_id="cancelMeeting", status_code=200)
    async def cancel_meeting(
        self, db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID, data: CancelRequest | None = None
    ) -> MeetingRead:
        reason = data.reason if data else None
        meeting = await MeetingService(db_session, settings).cancel(meeting_id, caller=caller, reason=reason)
        record_audit(db_session, actor=caller, action="meeting.cancel", object_type="meeting", object_id=meeting.id, details={"reason": reason})
        await db_session.commit()
        return meeting_read(meeting, Viewer.of(caller))

    @patch("/{meeting_id:uuid}/occurrences/{recurrence_id:str}", operation_id="updateOccurrence")
    async def update_occurrence(
        self, db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID, recurrence_id: str, data: OccurrenceUpdate
    ) -> MeetingRead:
        meeting = await MeetingService(db_session, settings).update_occurrence(
            meeting_id, _parse_recurrence_id(recurrence_id), data, caller=caller
        )
        record_audit(
            db_session, actor=caller, action="meeting.occurrence.update", object_type="meeting", object_id=meeting.id,
            details={"recurrence_id": recurrence_id, "fields": sent_fields(data)},
        )
        await db_session.commit()
        return meeting_read(meeting, Viewer.of(caller))

    @post("/{meeting_id:uuid}/occurrences/{recurrence_id:str}/cancel", operation_id="cancelOccurrence", status_code=200)
    async def cancel_occurrence(
        self, db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID, recurrence_id: str
    ) -> MeetingRead:
        meeting = await MeetingService(db_session, settings).cancel(
            meeting_id, caller=caller, recurrence_id=_parse_recurrence_id(recurrence_id)
        )
        record_audit(
            db_session, actor=caller, action="meeting.occurrence.cancel", object_type="meeting", object_id=meeting.id,
            details={"recurrence_id": recurrence_id},
        )
        await db_session.commit()
        return meeting_read(meeting, Viewer.of(caller))


def _parse_recurrence_id(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValidationFailed.field("recurrence_id", _("not an ISO 8601 time with offset, e.g. 2027-03-01T01:30:00Z")) from exc
    if parsed.tzinfo is None:
        raise ValidationFailed.field("recurrence_id", _("not an ISO 8601 time with offset, e.g. 2027-03-01T01:30:00Z"))
    return parsed
