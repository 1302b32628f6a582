"""HTTP API of meeting preparation: agenda, materials, checks, rooms and IM channels."""

from __future__ import annotations

import logging
import uuid
from typing import Any
from urllib.parse import quote

from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.di import Provide
from litestar.params import Parameter
from litestar.response import File, Stream
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.api.auth import admin_only, current_person
from confsvc.api.problems import RETRY_AFTER_SECONDS, problem
from confsvc.db.models import CheckRun, Material, Person
from confsvc.errors import NotFound
from confsvc.i18n import get_locale
from confsvc.preparation.agenda import AgendaService
from confsvc.preparation.checks import result_detail
from confsvc.preparation.channels import ChannelSettingsService, channels_read
from confsvc.preparation.materials import MaterialService, material_read, receive_upload
from confsvc.preparation.rooms import RoomService, room_read
from confsvc.preparation.schemas import (
    AgendaRead,
    AgendaWrite,
    ChannelsRead,
    ChannelsWrite,
    CheckResultRead,
    CheckRunRead,
    FaultReport,
    MaterialRead,
    RepairReport,
    RoomCreate,
    RoomRead,
    RoomUpdate,
)
from confsvc.preparation.services import CheckService
from confsvc.preparation.storage import MaterialStoreError, material_store
from confsvc.settings import Settings

__all__ = ["MeetingPreparationController", "PersonChannelController", "RoomController"]

logger = logging.getLogger(__name__)


async def material_download(service: MaterialService, material: Material, *, headers: dict[str, str]) -> File | Stream:
    """Build the download response of ``material``: a file from local disk, else a stream.

    A remote object is opened before the response starts, so a missing object gets 404
    and a failing store its own status code instead of a broken stream.
    """
    headers = {**headers, "X-Content-Type-Options": "nosniff"}
    path = service.store.local_path(material.storage_key)
    if path is not None:
        return File(path=path, filename=material.filename, media_type=material.content_type, headers=headers)
    try:
        chunks = await service.store.open(material.storage_key)
    except FileNotFoundError:
        logger.error("material file missing material_id=%s key=%s", material.id, material.storage_key)
        raise NotFound("material", material.id) from None
    disposition = f"attachment; filename*=UTF-8''{quote(material.filename, safe='')}"
    return Stream(chunks, media_type=material.content_type, headers={**headers, "Content-Disposition": disposition})


def check_run_read(run: CheckRun) -> CheckRunRead:
    return CheckRunRead(
        id=run.id,
        meeting_id=run.meeting_id,
        occurrence_starts_at=run.occurrence_starts_at,
        trigger=run.trigger,
        started_at=run.started_at,
        status=run.status,  # type: ignore[arg-type]
        notified=run.notified,
        checks=[
            CheckResultRead(name=r.name, status=r.status, detail=result_detail(r, locale=get_locale()), data=dict(r.data or {}))  # type: ignore[arg-type]
            for r in sorted(run.results, key=lambda r: r.position)
        ],
    )


def material_store_problem(request: Request[Any, Any, Any], exc: MaterialStoreError) -> Response[dict[str, Any]]:
    """Return 503 with the store's reason; Retry-After only when waiting can help."""
    logger.warning("material store error path=%s reason=%s", request.url.path, exc.reason)
    response = problem(503, str(exc), reason=exc.reason)
    if exc.reason in ("unavailable", "checksum_mismatch"):
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class MeetingPreparationController(Controller):
    path = "/meetings/{meeting_id:uuid}"
    tags = ["preparation"]
    dependencies = {"caller": Provide(current_person)}
    exception_handlers = {MaterialStoreError: material_store_problem}

    # -- agenda --------------------------------------------------------------------------

    @get("/agenda", operation_id="getAgenda")
    async def get_agenda(self, db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID) -> AgendaRead:
        return await AgendaService(db_session, settings).get(meeting_id, caller=caller)

    @put("/agenda", operation_id="replaceAgenda")
    async def replace_agenda(
        self, db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID, data: AgendaWrite
    ) -> AgendaRead:
        result = await AgendaService(db_session, settings).replace(meeting_id, data, caller=caller)
        await db_session.commit()
        return result

    # -- materials -----------------------------------------------------------------------

    @post("/materials", operation_id="uploadMaterial", status_code=201, request_max_body_size=None)
    async def upload_material(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID
    ) -> Response[MaterialRead]:
        """Accept ``multipart/form-data`` with ``file`` and optionally ``agenda_item_id``.

        ``agenda_position`` is still accepted in place of ``agenda_item_id`` and names the
        item at that position when the upload arrives.

        The size limit (``CONFSVC_PREP_MATERIAL_MAX_BYTES``) is enforced while the body
        streams in, so this route lifts the app-wide JSON body limit.
        """
        store = material_store(settings)
        length_header = request.headers.get("content-length")
        upload = await receive_upload(
            request.stream(),
            content_type=request.headers.get("content-type", ""),
            content_length=int(length_header) if length_header and length_header.isdigit() else None,
            incoming=store.incoming,
            max_bytes=settings.preparation.material_max_bytes,
        )
        service = MaterialService(db_session, settings, store=store)
        material = await service.add(meeting_id, upload, caller=caller)
        position = await service.position_of(material)
        committed = False
        try:
            await db_session.commit()
            committed = True
        finally:
            if not committed:
                await service.discard_stored(material)
        body = material_read(material, uploader=caller.email, agenda_position=position)
        return Response(body, status_code=201, headers={"Location": f"/api/v1/meetings/{meeting_id}/materials/{material.id}"})

    @get("/materials", operation_id="listMaterials")
    async def list_materials(
        self, db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID
    ) -> list[MaterialRead]:
        rows = await MaterialService(db_session, settings).list(meeting_id, caller=caller)
        return [material_read(material, uploader=email, agenda_position=position) for material, email, position in rows]

    @get("/materials/{material_id:uuid}", operation_id="downloadMaterial", media_type="application/octet-stream")
    async def download_material(
        self, db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID, material_id: uuid.UUID
    ) -> Any:
        service = MaterialService(db_session, settings)
        material = await service.get(meeting_id, material_id, caller=caller)
        return await material_download(service, material, headers={"X-Content-SHA256": material.sha256})

    @delete("/materials/{material_id:uuid}", operation_id="deleteMaterial")
    async def delete_material(
        self, db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID, material_id: uuid.UUID
    ) -> None:
        service = MaterialService(db_session, settings)
        material = await service.delete(meeting_id, material_id, caller=caller)
        await db_session.commit()
        await service.discard_stored(material)

    # -- checks --------------------------------------------------------------------------

    @get("/checks", operation_id="getLatestChecks")
    async def latest_checks(self, db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID) -> CheckRunRead:
        return check_run_read(await CheckService(db_session, settings).latest(meeting_id, caller=caller))

    @post("/checks/run", operation_id="runChecks", status_code=200)
    async def run_checks(self, db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID) -> CheckRunRead:
        run = await CheckService(db_session, settings).run_now(meeting_id, caller=caller)
        await db_session.commit()
        return check_run_read(run)

    # -- meeting channels ----------------------------------------------------------------

    @get("/channels", operation_id="getMeetingChannels")
    async def get_channels(self, db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID) -> ChannelsRead:
        return channels_read(await ChannelSettingsService(db_session, settings).meeting_channels(meeting_id, caller=caller))

    @put("/channels", operation_id="setMeetingChannels")
    async def set_channels(
        self, db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID, data: ChannelsWrite
    ) -> ChannelsRead:
        rows = await ChannelSettingsService(db_session, settings).set_meeting_channels(meeting_id, data.channels, caller=caller)
        await db_session.commit()
        return channels_read(rows)


class PersonChannelController(Controller):
    path = "/people/{person_id:uuid}/channels"
    tags = ["preparation"]
    dependencies = {"caller": Provide(current_person)}

    @get(operation_id="getPersonChannels")
    async def get_channels(self, db_session: AsyncSession, caller: Person, settings: Settings, person_id: uuid.UUID) -> ChannelsRead:
        return channels_read(await ChannelSettingsService(db_session, settings).person_channels(person_id, caller=caller))

    @put(operation_id="setPersonChannels")
    async def set_channels(
        self, db_session: AsyncSession, caller: Person, settings: Settings, person_id: uuid.UUID, data: ChannelsWrite
    ) -> ChannelsRead:
        rows = await ChannelSettingsService(db_session, settings).set_person_channels(person_id, data.channels, caller=caller)
        await db_session.commit()
        return channels_read(rows)


class RoomController(Controller):
    path = "/rooms"
    tags = ["rooms"]
    dependencies = {"caller": Provide(current_person)}

    @get(operation_id="listRooms")
    async def list_rooms(
        self, db_session: AsyncSession, caller: Person, settings: Settings, include_inactive: bool = Parameter(default=False)
    ) -> list[RoomRead]:
        return [room_read(room, equipment) for room, equipment in await RoomService(db_session, settings).list(include_inactive=include_inactive)]

    @post(operation_id="createRoom", guards=[admin_only], status_code=201)
    async def create_room(self, db_session: AsyncSession, settings: Settings, data: RoomCreate) -> RoomRead:
        room, equipment = await RoomService(db_session, settings).create(data)
        await db_session.commit()
        return room_read(room, equipment)

    @get("/{room_id:uuid}", operation_id="getRoom")
    async def get_room(self, db_session: AsyncSession, caller: Person, settings: Settings, room_id: uuid.UUID) -> RoomRead:
        return room_read(*await RoomService(db_session, settings).get(room_id))

    @patch("/{room_id:uuid}", operation_id="updateRoom", guards=[admin_only])
    async def update_room(self, db_session: AsyncSession, settings: Settings, room_id: uuid.UUID, data: RoomUpdate) -> RoomRead:
        room, equipment = await RoomService(db_session, settings).update(room_id, data)
        await db_session.commit()
        return room_read(room, equipment)

    @post("/{room_id:uuid}/equipment/{item:str}/fault", operation_id="reportEquipmentFault", guards=[admin_only], status_code=200)
    async def report_fault(
        self, db_session: AsyncSession, settings: Settings, room_id: uuid.UUID, item: str, data: FaultReport | None = None
    ) -> RoomRead:
        room, equipment = await RoomService(db_session, settings).report_fault(room_id, item, note=data.note if data else None)
        await db_session.commit()
        return room_read(room, equipment)

    @post("/{room_id:uuid}/equipment/{item:str}/repair", operation_id="repairEquipment", guards=[admin_only], status_code=200)
    async def repair(
        self, db_session: AsyncSession, settings: Settings, room_id: uuid.UUID, item: str, data: RepairReport | None = None
    ) -> RoomRead:
        room, equipment = await RoomService(db_session, settings).repair(room_id, item, inspected_on=data.inspected_on if data else None)
        await db_session.commit()
        return room_read(room, equipment)
