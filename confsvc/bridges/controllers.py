from __future__ import annotations

import uuid
from datetime import UTC, datetime

from litestar import Controller, delete, get, patch, post
from litestar.di import Provide
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.api.auth import admin_only, current_person
from confsvc.bridges.schemas import AvailabilityRead, BridgeCreate, BridgeRead, BridgeUpdate
from confsvc.bridges.services import BridgeService, bridge_read
from confsvc.db.models import Person
from confsvc.settings import Settings


def _is_admin(person: Person) -> bool:
    return "admin" in (person.roles or [])


class BridgeController(Controller):
    path = "/bridges"
    tags = ["bridges"]
    dependencies = {"caller": Provide(current_person)}

    @get(operation_id="listBridges")
    async def list_bridges(
        self, db_session: AsyncSession, caller: Person, settings: Settings,
        include_inactive: bool = Parameter(default=False),
    ) -> list[BridgeRead]:
        bridges = await BridgeService(db_session, settings.booking).list(include_inactive=include_inactive)
        return [bridge_read(b, admin=_is_admin(caller)) for b in bridges]

    @post(operation_id="createBridge", guards=[admin_only])
    async def create_bridge(self, db_session: AsyncSession, settings: Settings, data: BridgeCreate) -> BridgeRead:
        bridge = await BridgeService(db_session, settings.booking).create(data)
        await db_session.commit()
        return bridge_read(bridge, admin=True)

    @get("/availability", operation_id="bridgeAvailability")
    async def availability(
        self,
        db_session: AsyncSession,
        caller: Person,
        settings: Settings,
        starts_at: datetime,
        ends_at: datetime,
        attendees: int = Parameter(default=0, ge=0, le=100_000),
    ) -> AvailabilityRead:
        return await BridgeService(db_session, settings.booking).availability(starts_at=starts_at, ends_at=ends_at, attendees=attendees)

    @get("/{bridge_id:uuid}", operation_id="getBridge")
    async def get_bridge(self, db_session: AsyncSession, caller: Person, settings: Settings, bridge_id: uuid.UUID) -> BridgeRead:
        return bridge_read(await BridgeService(db_session, settings.booking).get(bridge_id), admin=_is_admin(caller))

    @patch("/{bridge_id:uuid}", operation_id="updateBridge", guards=[admin_only])
    async def update_bridge(self, db_session: AsyncSession, settings: Settings, bridge_id: uuid.UUID, data: BridgeUpdate) -> BridgeRead:
        bridge = await BridgeService(db_session, settings.booking).update(bridge_id, data)
        await db_session.commit()
        return bridge_read(bridge, admin=True)

    @delete("/{bridge_id:uuid}", operation_id="deleteBridge", guards=[admin_only])
    async def delete_bridge(self, db_session: AsyncSession, settings: Settings, bridge_id: uuid.UUID) -> None:
        await BridgeService(db_session, settings.booking).delete(bridge_id, now=datetime.now(UTC))
        await db_session.commit()
