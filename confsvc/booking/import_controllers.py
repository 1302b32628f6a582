"""HTTP endpoints for .ics import and the per-person calendar feed."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.api.auth import current_person, require_roles
from confsvc.booking import feed
from confsvc.booking.imports import ImportService
from confsvc.db.models import Person
from confsvc.errors import NotFound, ValidationFailed
from confsvc.i18n import gettext as _
from confsvc.settings import Settings

CALENDAR_MEDIA_TYPE = "text/calendar; charset=utf-8"


class ImportedMeeting(msgspec.Struct):
    id: str
    uid: str
    title: str


class SkippedRead(msgspec.Struct):
    uid: str
    reason: str


class ImportReportRead(msgspec.Struct):
    created: list[ImportedMeeting]
    updated: list[ImportedMeeting]
    skipped: list[SkippedRead]
    warnings: list[str]


class FeedRead(msgspec.Struct):
    webcal_url: str
    https_url: str


async def _calendar_body(request: Request[Any, Any, Any]) -> bytes:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "text/calendar":
        return await request.body()
    if content_type == "multipart/form-data":
        form = await request.form()
        upload = form.get("file")
        if upload is None or not hasattr(upload, "read"):
            raise ValidationFailed.field("file", _("send the .ics file in the form field file"))
        return bytes(await upload.read())
    raise ValidationFailed.field("Content-Type", _("send the calendar as text/calendar or multipart/form-data"))


class MeetingImportController(Controller):
    path = "/meetings/import"
    tags = ["meetings"]
    dependencies = {"caller": Provide(current_person)}

    @post(operation_id="importMeetings", status_code=200, guards=[require_roles("organiser")])
    async def import_meetings(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, caller: Person, settings: Settings, book_bridge: bool = False
    ) -> ImportReportRead:
        """Create or update the caller's meetings from an .ics file; commits once at the end."""
        data = await _calendar_body(request)
        report = await ImportService(db_session, settings).import_calendar(data, caller=caller, book_bridge=book_bridge)
        await db_session.commit()
        return msgspec.convert(asdict(report), ImportReportRead)


class FeedLinkController(Controller):
    path = "/me/feed"
    tags = ["meetings"]
    dependencies = {"caller": Provide(current_person)}

    @get(operation_id="getMyFeed")
    async def my_feed(self, caller: Person, settings: Settings) -> FeedRead:
        """Return the caller's secret subscription URLs; whoever holds one can read the feed."""
        webcal, https = feed.feed_urls(settings, caller.id)
        return FeedRead(webcal_url=webcal, https_url=https)


class FeedController(Controller):
    path = "/feed"
    tags = ["meetings"]
    include_in_schema = False

    @get("/{name:str}", operation_id="getFeed", media_type=CALENDAR_MEDIA_TYPE)
    async def calendar_feed(self, db_session: AsyncSession, settings: Settings, name: str) -> Response[bytes]:
        """Serve the feed of the token's person; a wrong or forged token gets 404."""
        token = name[: -len(".ics")] if name.endswith(".ics") else ""
        person_id = feed.person_id_from_token(settings.secret_key, token) if token else None
        person = await db_session.get(Person, person_id) if person_id else None
        if person is None:
            raise NotFound("feed", "token")
        ics = await feed.feed_calendar(db_session, settings, person)
        return Response(ics, media_type=CALENDAR_MEDIA_TYPE, headers={"Cache-Control": "private, max-age=300"})
