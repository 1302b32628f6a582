"""Meeting rooms and their equipment: inventory, faults, repairs and inspections."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc import validation
from confsvc.db.models import Room, RoomEquipment
from confsvc.errors import Conflict, NotFound, ValidationFailed
from confsvc.i18n import gettext as _
from confsvc.preparation.schemas import EquipmentIn, EquipmentRead, RoomCreate, RoomRead, RoomUpdate
from confsvc.settings import Settings

__all__ = ["RoomService", "room_read"]

logger = logging.getLogger(__name__)


def room_read(room: Room, equipment: Sequence[RoomEquipment]) -> RoomRead:
    return RoomRead(
        id=room.id,
        name=room.name,
        location=room.location,
        capacity=room.capacity,
        active=room.active,
        equipment=[
            EquipmentRead(item=e.item, status=e.status, inspected_on=e.inspected_on, note=e.note)  # type: ignore[arg-type]
            for e in sorted(equipment, key=lambda e: e.item)
        ],
    )


class RoomService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings

    def today(self, now: datetime | None = None) -> date:
        """Return the current day in the organisation's time zone (``CONFSVC_TIME_ZONE``)."""
        return (now or datetime.now(UTC)).astimezone(ZoneInfo(self.settings.time_zone)).date()

    async def list(self, *, include_inactive: bool = False) -> list[tuple[Room, list[RoomEquipment]]]:
        statement = select(Room).order_by(Room.name)
        if not include_inactive:
            statement = statement.where(Room.active.is_(True))
        rooms = list(await self.session.scalars(statement))
        equipment = await self.equipment_of([room.id for room in rooms])
        return [(room, equipment.get(room.id, [])) for room in rooms]

    async def equipment_of(self, room_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[RoomEquipment]]:
        found: dict[uuid.UUID, list[RoomEquipment]] = {}
        if not room_ids:
            return found
        for row in await self.session.scalars(select(RoomEquipment).where(RoomEquipment.room_id.in_(list(room_ids)))):
            found.setdefault(row.room_id, []).append(row)
        return found

    async def get(self, room_id: uuid.UUID) -> tuple[Room, list[RoomEquipment]]:
        room = await self.session.get(Room, room_id)
        if room is None:
            raise NotFound("room", room_id)
        return room, (await self.equipment_of([room.id])).get(room.id, [])

    async def create(self, data: RoomCreate) -> tuple[Room, list[RoomEquipment]]:
        """Add a room with its equipment (the caller commits); a taken name raises ``Conflict``."""
        errors = validation.FieldErrors()
        name = errors.check(validation.text, data.name, field="name", max_length=200)
        location = errors.check(validation.text, data.location, field="location", max_length=300, required=False) if data.location else None
        errors.raise_if_any()
        room = Room(name=name, location=location, capacity=data.capacity, equipment=[], active=True)
        self.session.add(room)
        await self._flush_name(name)
        rows = self._equipment_rows(room.id, data.equipment, {})
        self.session.add_all(rows)
        await self.session.flush()
        logger.info("room created room_id=%s items=%d", room.id, len(rows))
        return room, rows

    async def update(self, room_id: uuid.UUID, data: RoomUpdate) -> tuple[Room, list[RoomEquipment]]:
        """Change a room; a sent ``equipment`` list replaces the stored one (the caller commits)."""
        room, equipment = await self.get(room_id)
        errors = validation.FieldErrors()
        if data.name is not msgspec.UNSET:
            with errors.collect():
                room.name = validation.text(data.name, field="name", max_length=200)
        if data.location is not msgspec.UNSET:
            with errors.collect():
                room.location = (
                    validation.text(data.location, field="location", max_length=300, required=False) if data.location else None
                )
        errors.raise_if_any()
        if data.capacity is not msgspec.UNSET:
            room.capacity = data.capacity
        if data.active is not msgspec.UNSET:
            room.active = data.active
        await self._flush_name(room.name)
        if data.equipment is not msgspec.UNSET:
            existing = {row.item: row for row in equipment}
            rows = self._equipment_rows(room.id, data.equipment, existing)
            for row in equipment:
                if row not in rows:
                    await self.session.delete(row)
            self.session.add_all(rows)
            await self.session.flush()
            equipment = rows
        logger.info("room updated room_id=%s", room.id)
        return room, equipment

    async def _flush_name(self, name: str) -> None:
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            raise Conflict(_("a room named {name!r} exists already", name=name)) from exc

    def _equipment_rows(
        self, room_id: uuid.UUID, items: Sequence[EquipmentIn], existing: dict[str, RoomEquipment]
    ) -> list[RoomEquipment]:
        seen: set[str] = set()
        rows = []
        today = self.today()
        for index, item in enumerate(items):
            if item.item in seen:
                raise ValidationFailed.field(f"equipment[{index}].item", _("{item} is listed twice", item=item.item))
            if item.inspected_on is not None and item.inspected_on > today:
                raise ValidationFailed.field(f"equipment[{index}].inspected_on", _("the inspection day lies in the future"))
            seen.add(item.item)
            row = existing.get(item.item) or RoomEquipment(room_id=room_id, item=item.item)
            row.status = item.status
            row.inspected_on = item.inspected_on
            row.note = item.note if item.status != "ok" else None
            rows.append(row)
        return rows

    async def _item(self, room_id: uuid.UUID, item: str) -> RoomEquipment:
        await self.get(room_id)
        row = await self.session.scalar(
            select(RoomEquipment).where(RoomEquipment.room_id == room_id, RoomEquipment.item == item)
        )
        if row is None:
            raise NotFound("equipment", item)
        return row

    async def report_fault(self, room_id: uuid.UUID, item: str, *, note: str | None) -> tuple[Room, list[RoomEquipment]]:
        """Mark ``item`` out of order until it is repaired (the caller commits)."""
        row = await self._item(room_id, item)
        if not (note or "").strip():
            raise ValidationFailed.field("note", _("describe the fault, for example what does not work"))
        row.status = "out_of_order"
        row.note = validation.text(note, field="note", max_length=1000, required=True, multiline=True)
        await self.session.flush()
        logger.info("equipment fault reported room_id=%s item=%s", room_id, item)
        return await self.get(room_id)

    async def repair(
        self, room_id: uuid.UUID, item: str, *, inspected_on: date | None, now: datetime | None = None
    ) -> tuple[Room, list[RoomEquipment]]:
        """Put ``item`` back in order; the repair counts as an inspection on ``inspected_on`` (default today)."""
        row = await self._item(room_id, item)
        today = self.today(now)
        if inspected_on is not None and inspected_on > today:
            raise ValidationFailed.field("inspected_on", _("the inspection day lies in the future"))
        row.status = "ok"
        row.note = None
        row.inspected_on = inspected_on or today
        await self.session.flush()
        logger.info("equipment repaired room_id=%s item=%s", room_id, item)
        return await self.get(room_id)
