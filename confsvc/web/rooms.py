"""Administrator pages for meeting rooms and their equipment.

Every change goes through ``confsvc.preparation.rooms.RoomService`` with the request
bodies of the rooms API (``RoomCreate``, ``RoomUpdate``, ``EquipmentIn``), so the pages
and the API apply the same rules. The equipment table of a room is an htmx fragment:
adding an item, reporting a fault and marking a repair redraw only that table.
"""

from __future__ import annotations

import logging
import uuid
from datetime import date
from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import Provide
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.db.models import Room, RoomEquipment
from confsvc.errors import Conflict, ValidationFailed
from confsvc.i18n import gettext as _
from confsvc.preparation.rooms import RoomService
from confsvc.preparation.schemas import EquipmentIn, RoomCreate, RoomUpdate
from confsvc.web.forms import FormErrors, errors_from_validation, from_msgspec
from confsvc.web.pages import Page, provide_page

logger = logging.getLogger(__name__)

EQUIPMENT_STATUSES = ("ok", "faulty", "out_of_order")
EQUIPMENT_SUGGESTIONS = ("speakerphone", "camera", "display", "projector", "microphone", "whiteboard")
ROOM_FIELDS = ("name", "location", "capacity")
EQUIPMENT_FIELDS = ("item", "status", "inspected_on", "note")
MAX_SEATS = 100_000


def _values(form: Any, names: tuple[str, ...]) -> dict[str, str]:
    values = {}
    for name in names:
        value = form.get(name)
        values[name] = value.strip() if isinstance(value, str) else ""
    return values


def _capacity(raw: str) -> int:
    try:
        seats = int(raw or "0")
    except ValueError:
        seats = -1
    if not 0 <= seats <= MAX_SEATS:
        raise ValidationFailed.field("capacity", _("give the number of seats as a whole number from 0 to {limit}", limit=MAX_SEATS))
    return seats


def _day(raw: str, field: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise ValidationFailed.field(field, _("give a date such as 2026-03-02")) from exc


def _convert(payload: dict[str, Any], kind: type[Any]) -> Any:
    try:
        return msgspec.convert(payload, kind)
    except msgspec.ValidationError as exc:
        raise from_msgspec(exc) from exc


def equipment_in(row: RoomEquipment) -> EquipmentIn:
    return EquipmentIn(item=row.item, status=row.status, inspected_on=row.inspected_on, note=row.note)  # type: ignore[arg-type]


def _equipment_errors(exc: ValidationFailed) -> FormErrors:
    """Map ``equipment[3].item`` style names to the fields of the add-equipment form."""
    errors = FormErrors()
    for param in exc.invalid_params or [{"name": "form", "reason": str(exc)}]:
        name = param.get("name", "form")
        base = name.rsplit(".", 1)[-1] if name.startswith("equipment") else name
        errors.add(base if base in EQUIPMENT_FIELDS else "form", param.get("reason", str(exc)))
    return errors


class RoomPages(Controller):
    path = "/admin/rooms"
    include_in_schema = False
    dependencies = {"page": Provide(provide_page)}

    # -- list and create ---------------------------------------------------------------

    @get("/", operation_id="webAdminRooms")
    async def rooms(self, page: Page, db_session: AsyncSession) -> Template:
        page.require("admin")
        return await self._list(page, db_session, values={}, errors=FormErrors())

    @post("/", operation_id="webAdminRoomCreate")
    async def create(self, page: Page, request: Request[Any, Any, Any], db_session: AsyncSession) -> Template | Redirect:
        person = page.require("admin")
        values = _values(await request.form(), ROOM_FIELDS)
        try:
            data = _convert(
                {"name": values["name"], "location": values["location"] or None, "capacity": _capacity(values["capacity"])}, RoomCreate
            )
            room, _equipment = await RoomService(db_session, page.settings).create(data)
            await db_session.commit()
        except (ValidationFailed, Conflict) as exc:
            await db_session.rollback()
            logger.info("web room rejected person_id=%s error=%s", person.id, exc)
            return await self._list(page, db_session, values=values, errors=_room_errors(exc), status_code=exc.status_code)
        logger.info("web room created room_id=%s person_id=%s", room.id, person.id)
        return page.redirect(f"/admin/rooms/{room.id}?created=1")

    # -- one room ------------------------------------------------------------------------

    @get("/{room_id:uuid}", operation_id="webAdminRoom")
    async def room(self, page: Page, db_session: AsyncSession, room_id: uuid.UUID) -> Template:
        page.require("admin")
        return page.render("admin/room.html", **await self._room_context(page, db_session, room_id))

    @post("/{room_id:uuid}", operation_id="webAdminRoomUpdate")
    async def update(self, page: Page, request: Request[Any, Any, Any], db_session: AsyncSession, room_id: uuid.UUID) -> Template | Redirect:
        person = page.require("admin")
        form = await request.form()
        values = _values(form, ROOM_FIELDS)
        active = form.get("active") == "true"
        try:
            data = _convert(
                {"name": values["name"], "location": values["location"] or None, "capacity": _capacity(values["capacity"]), "active": active},
                RoomUpdate,
            )
            await RoomService(db_session, page.settings).update(room_id, data)
            await db_session.commit()
        except (ValidationFailed, Conflict) as exc:
            await db_session.rollback()
            logger.info("web room update rejected room_id=%s person_id=%s error=%s", room_id, person.id, exc)
            context = await self._room_context(page, db_session, room_id, room_values={**values, "active": active}, room_errors=_room_errors(exc))
            return page.render("admin/room.html", status_code=exc.status_code, **context)
        logger.info("web room updated room_id=%s person_id=%s", room_id, person.id)
        return page.redirect(f"/admin/rooms/{room_id}?saved=1")

    # -- equipment -----------------------------------------------------------------------

    @post("/{room_id:uuid}/equipment", operation_id="webAdminEquipmentAdd")
    async def add_equipment(self, page: Page, request: Request[Any, Any, Any], db_session: AsyncSession, room_id: uuid.UUID) -> Template | Redirect:
        """Add one item; the room's stored list is sent along unchanged, as the API's PATCH requires."""
        person = page.require("admin")
        values = _values(await request.form(), EQUIPMENT_FIELDS)
        service = RoomService(db_session, page.settings)
        try:
            _room, current = await service.get(room_id)
            new_item = _convert(
                {"item": values["item"], "status": values["status"] or "ok",
                 "inspected_on": _day(values["inspected_on"], "inspected_on"), "note": values["note"] or None},
                EquipmentIn,
            )
            await service.update(room_id, RoomUpdate(equipment=[*(equipment_in(row) for row in current), new_item]))
            await db_session.commit()
        except ValidationFailed as exc:
            await db_session.rollback()
            logger.info("web equipment rejected room_id=%s person_id=%s error=%s", room_id, person.id, exc)
            return await self._equipment(page, db_session, room_id, status_code=400, equip_values=values, equip_errors=_equipment_errors(exc))
        logger.info("web equipment added room_id=%s item=%s person_id=%s", room_id, values["item"], person.id)
        return await self._equipment(page, db_session, room_id, message=_("{item} was added.", item=values["item"]))

    @post("/{room_id:uuid}/equipment/{item:str}/fault", operation_id="webAdminEquipmentFault")
    async def report_fault(self, page: Page, request: Request[Any, Any, Any], db_session: AsyncSession, room_id: uuid.UUID, item: str) -> Template | Redirect:
        person = page.require("admin")
        note = _values(await request.form(), ("note",))["note"]
        try:
            await RoomService(db_session, page.settings).report_fault(room_id, item, note=note or None)
            await db_session.commit()
        except ValidationFailed as exc:
            await db_session.rollback()
            logger.info("web equipment fault rejected room_id=%s item=%s error=%s", room_id, item, exc)
            errors = FormErrors()
            for message in errors_from_validation(exc, known={"note"}).fields.values():
                for text in message:
                    errors.add(f"{item}-note", text)
            return await self._equipment(page, db_session, room_id, status_code=400, item_errors=errors)
        logger.info("web equipment fault room_id=%s item=%s person_id=%s", room_id, item, person.id)
        return await self._equipment(page, db_session, room_id, message=_("The fault of {item} was recorded.", item=item))

    @post("/{room_id:uuid}/equipment/{item:str}/repair", operation_id="webAdminEquipmentRepair")
    async def repair(self, page: Page, request: Request[Any, Any, Any], db_session: AsyncSession, room_id: uuid.UUID, item: str) -> Template | Redirect:
        person = page.require("admin")
        raw = _values(await request.form(), ("inspected_on",))["inspected_on"]
        try:
            await RoomService(db_session, page.settings).repair(room_id, item, inspected_on=_day(raw, "inspected_on"))
            await db_session.commit()
        except ValidationFailed as exc:
            await db_session.rollback()
            logger.info("web equipment repair rejected room_id=%s item=%s error=%s", room_id, item, exc)
            errors = FormErrors()
            for message in errors_from_validation(exc, known={"inspected_on"}).fields.values():
                for text in message:
                    errors.add(f"{item}-inspected_on", text)
            return await self._equipment(page, db_session, room_id, status_code=400, item_errors=errors, item_values={f"{item}-inspected_on": raw})
        logger.info("web equipment repaired room_id=%s item=%s person_id=%s", room_id, item, person.id)
        return await self._equipment(page, db_session, room_id, message=_("{item} is in order again.", item=item))

    # -- rendering -----------------------------------------------------------------------

    async def _list(self, page: Page, db_session: AsyncSession, *, values: dict[str, str], errors: FormErrors, status_code: int = 200) -> Template:
        rooms = await RoomService(db_session, page.settings).list(include_inactive=True)
        return page.render("admin/rooms.html", rooms=rooms, values=values, errors=errors, status_code=status_code)

    async def _room_context(self, page: Page, db_session: AsyncSession, room_id: uuid.UUID, **overrides: Any) -> dict[str, Any]:
        room, equipment = await RoomService(db_session, page.settings).get(room_id)
        context: dict[str, Any] = {
            "room": room,
            "equipment": sorted(equipment, key=lambda row: row.item),
            "room_values": _room_values(room),
            "room_errors": FormErrors(),
            "equip_values": {},
            "equip_errors": FormErrors(),
            "item_errors": FormErrors(),
            "item_values": {},
            "statuses": EQUIPMENT_STATUSES,
            "suggestions": EQUIPMENT_SUGGESTIONS,
            "message": None,
            "today": RoomService(db_session, page.settings).today().isoformat(),
        }
        context.update(overrides)
        return context

    async def _equipment(self, page: Page, db_session: AsyncSession, room_id: uuid.UUID, *, status_code: int = 200, **overrides: Any) -> Template | Redirect:
        """Return the equipment fragment for htmx; a plain post gets the room page (or a redirect)."""
        if not page.is_htmx and status_code < 400:
            return page.redirect(f"/admin/rooms/{room_id}#equipment")
        context = await self._room_context(page, db_session, room_id, **overrides)
        template = "admin/_equipment.html" if page.is_htmx else "admin/room.html"
        return page.render(template, status_code=status_code, **context)


def _room_values(room: Room) -> dict[str, Any]:
    return {"name": room.name, "location": room.location or "", "capacity": str(room.capacity), "active": room.active}


def _room_errors(exc: ValidationFailed | Conflict) -> FormErrors:
    if isinstance(exc, Conflict):
        errors = FormErrors()
        errors.add("name", str(exc))
        return errors
    return errors_from_validation(exc, known=set(ROOM_FIELDS))
