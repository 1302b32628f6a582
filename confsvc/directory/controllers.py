from __future__ import annotations

import uuid

import msgspec
from litestar import Controller, get, patch, post
from litestar.di import Provide
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.api.auth import admin_only, current_person
from confsvc.db.models import Person
from confsvc.directory.schemas import PersonCreate, PersonRead, PersonUpdate
from confsvc.directory.services import DirectoryService, person_read
from confsvc.errors import PermissionDenied
from confsvc.i18n import gettext as _


class PeopleController(Controller):
    path = "/people"
    tags = ["directory"]
    dependencies = {"caller": Provide(current_person)}

    @get(operation_id="listPeople")
    async def list_people(
        self,
        db_session: AsyncSession,
        caller: Person,
        q: str | None = Parameter(query="q", default=None, max_length=200),
        limit: int = Parameter(default=100, ge=1, le=500),
        offset: int = Parameter(default=0, ge=0),
    ) -> list[PersonRead]:
        people = await DirectoryService(db_session).list(query=q, limit=limit, offset=offset)
        return [person_read(p) for p in people]

    @post(operation_id="createPerson", guards=[admin_only])
    async def create_person(self, db_session: AsyncSession, data: PersonCreate) -> PersonRead:
        person = await DirectoryService(db_session).create(data)
        await db_session.commit()
        return person_read(person)

    @get("/{person_id:uuid}", operation_id="getPerson")
    async def get_person(self, db_session: AsyncSession, caller: Person, person_id: uuid.UUID) -> PersonRead:
        return person_read(await DirectoryService(db_session).get(person_id))

    @patch("/{person_id:uuid}", operation_id="updatePerson")
    async def update_person(self, db_session: AsyncSession, caller: Person, person_id: uuid.UUID, data: PersonUpdate) -> PersonRead:
        service = DirectoryService(db_session)
        if "admin" not in (caller.roles or []):
            if caller.id != person_id:
                raise PermissionDenied(_("you may edit only your own profile"))
            if data.roles is not msgspec.UNSET or data.active is not msgspec.UNSET:
                raise PermissionDenied(_("only an administrator may change roles or deactivate people"))
        person = await service.update(person_id, data)
        await db_session.commit()
        return person_read(person)

