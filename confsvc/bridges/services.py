"""Bridge inventory and availability."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc import validation
from confsvc.bridges.allocation import Slot, active_bridges, busy_ranges, group_by_bridge
from confsvc.bridges.schemas import (
    AvailabilityRead,
    BridgeAvailability,
    BridgeCreate,
    BridgeRead,
    BridgeUpdate,
    BusySlot,
    DialIn,
)
from confsvc.db.models import Booking, Bridge
from confsvc.errors import Conflict, NotFound, ValidationFailed
from confsvc.i18n import gettext as _
from confsvc.settings import BookingSettings

logger = logging.getLogger(__name__)

BRIDGE_KINDS = ("static", "asterisk", "bigbluebutton", "jitsi")
_SECRET_SETTING_PARTS = ("secret", "password", "token", "key")


def mask_settings(settings: dict[str, Any]) -> dict[str, Any]:
    return {
        key: ("***" if any(part in key.lower() for part in _SECRET_SETTING_PARTS) and value else value)
        for key, value in settings.items()
    }


def bridge_read(bridge: Bridge, *, admin: bool = False) -> BridgeRead:
    read = BridgeRead(
        id=bridge.id,
        name=bridge.name,
        kind=bridge.kind,
        capacity=bridge.capacity,
        dial_in=[DialIn(**item) for item in bridge.dial_in or []],
        access_code=bridge.access_code,
        active=bridge.active,
    )
    if admin:
        read.settings = mask_settings(bridge.settings or {})
        read.host_pin = bridge.host_pin
        read.participant_pin = bridge.participant_pin
    return read


def _clean_dial_in(items: list[DialIn], errors: validation.FieldErrors) -> list[dict[str, str]]:
    """Return the dial-in numbers in E.164 form, and record each fault in ``errors``."""
    cleaned = []
    for index, item in enumerate(items):
        number = errors.check(validation.e164, item.number, field=f"dial_in[{index}].number")
        label = errors.check(validation.text, item.label, field=f"dial_in[{index}].label", max_length=100, required=False)
        if number is not None and label is not None:
            cleaned.append({"number": number, "label": label})
    return cleaned


class BridgeService:
    def __init__(self, session: AsyncSession, rules: BookingSettings) -> None:
        self.session = session
        self.rules = rules

    async def get(self, bridge_id: uuid.UUID) -> Bridge:
        bridge = await self.session.get(Bridge, bridge_id)
        if bridge is None:
            raise NotFound("bridge", bridge_id)
        return bridge

    async def list(self, *, include_inactive: bool = False) -> list[Bridge]:
        statement = select(Bridge).order_by(Bridge.name)
        if not include_inactive:
            statement = statement.where(Bridge.active.is_(True))
        return list(await self.session.scalars(statement))

    async def _check_name_free(self, name: str, *, bridge_id: uuid.UUID | None = None) -> None:
        existing = await self.session.scalar(select(Bridge).where(Bridge.name == name))
        if existing is not None and existing.id != bridge_id:
            raise ValidationFailed.field("name", _("a bridge named {name!r} already exists", name=name))

    def _check_kind(self, kind: str) -> str:
        if kind not in BRIDGE_KINDS:
            raise ValidationFailed.field("kind", _("unknown bridge kind {value!r}; use one of {kinds}", value=kind[:32], kinds=", ".join(BRIDGE_KINDS)))
        return kind

    async def create(self, data: BridgeCreate) -> Bridge:
        errors = validation.FieldErrors()
        name = errors.check(validation.text, data.name, field="name", max_length=200)
        if name is not None:
            with errors.collect():
                await self._check_name_free(name)
        bridge = Bridge(
            name=name,
            kind=errors.check(self._check_kind, data.kind),
            capacity=data.capacity,
            dial_in=_clean_dial_in(data.dial_in, errors),
            access_code=errors.check(validation.pin, data.access_code, field="access_code"),
            host_pin=errors.check(validation.pin, data.host_pin, field="host_pin"),
            participant_pin=errors.check(validation.pin, data.participant_pin, field="participant_pin"),
            settings=dict(data.settings),
            active=data.active,
        )
        errors.raise_if_any()
        self.session.add(bridge)
        await self.session.flush()
        logger.info("bridge created bridge_id=%s kind=%s capacity=%d", bridge.id, bridge.kind, bridge.capacity)
        return bridge

    async def update(self, bridge_id: uuid.UUID, data: BridgeUpdate) -> Bridge:
        bridge = await self.get(bridge_id)
        # Faults are collected so that one error response names them all. A raise rolls back the changes.
        errors = validation.FieldErrors()
        if data.name is not msgspec.UNSET:
            with errors.collect():
                name = validation.text(data.name, field="name", max_length=200)
                await self._check_name_free(name, bridge_id=bridge.id)
                bridge.name = name
        if data.kind is not msgspec.UNSET:
            with errors.collect():
                bridge.kind = self._check_kind(data.kind)
        if data.capacity is not msgspec.UNSET:
            bridge.capacity = data.capacity
        if data.dial_in is not msgspec.UNSET:
            bridge.dial_in = _clean_dial_in(data.dial_in, errors)
        for field in ("access_code", "host_pin", "participant_pin"):
            value = getattr(data, field)
            if value is not msgspec.UNSET:
                with errors.collect():
                    setattr(bridge, field, validation.pin(value, field=field))
        errors.raise_if_any()
        if data.settings is not msgspec.UNSET:
            # Masked values sent back unchanged keep the stored secret.
            merged = dict(bridge.settings or {})
            merged.update({k: v for k, v in data.settings.items() if v != "***"})
            bridge.settings = merged
        if data.active is not msgspec.UNSET:
            bridge.active = data.active
        await self.session.flush()
        logger.info("bridge updated bridge_id=%s", bridge.id)
        return bridge

    async def delete(self, bridge_id: uuid.UUID, *, now: datetime) -> None:
        """Delete a bridge without future bookings; one with history is deactivated instead."""
        bridge = await self.get(bridge_id)
        future = await self.session.scalar(
            select(Booking.id).where(Booking.bridge_id == bridge.id, Booking.active.is_(True), Booking.ends_at > now).limit(1)
        )
        if future is not None:
            raise Conflict(_("the bridge has future bookings; move or cancel them first"))
        used = await self.session.scalar(select(Booking.id).where(Booking.bridge_id == bridge.id).limit(1))
        if used is None:
            await self.session.delete(bridge)
        else:
            bridge.active = False
        await self.session.flush()
        logger.info("bridge removed bridge_id=%s deactivated=%s", bridge_id, used is not None)

    async def availability(self, *, starts_at: datetime, ends_at: datetime, attendees: int) -> AvailabilityRead:
        validation.aware(starts_at, field="starts_at")
        validation.aware(ends_at, field="ends_at")
        if ends_at <= starts_at:
            raise ValidationFailed.field("ends_at", _("must be after starts_at"))
        if ends_at - starts_at > timedelta(days=7):
            raise ValidationFailed.field("ends_at", _("the window may span at most 7 days"))
        if attendees < 0:
            raise ValidationFailed.field("attendees", _("must be zero or more"))
        bridges = await active_bridges(self.session)
        slot = Slot(starts_at=starts_at, ends_at=ends_at)
        grouped = group_by_bridge(await busy_ranges(self.session, [slot], rules=self.rules, bridge_ids=[b.id for b in bridges]))
        result = []
        for bridge in bridges:
            busy = sorted(grouped.get(bridge.id, []), key=lambda item: item.starts_at)
            result.append(
                BridgeAvailability(
                    id=bridge.id,
                    name=bridge.name,
                    kind=bridge.kind,
                    capacity=bridge.capacity,
                    free=not busy,
                    fits=bridge.capacity >= attendees,
                    busy=[BusySlot(starts_at=item.starts_at, ends_at=item.ends_at) for item in busy],
                )
            )
        return AvailabilityRead(starts_at=starts_at, ends_at=ends_at, attendees=attendees, bridges=result)
