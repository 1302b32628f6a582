"""Per-person and per-meeting IM channel settings (WeCom, DingTalk, Feishu, webhooks)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.booking.services import MeetingService, Viewer, can_manage
from confsvc.db.models import MeetingChannel, Person, PersonChannel
from confsvc.errors import NotFound, PermissionDenied, ValidationFailed
from confsvc.i18n import gettext as _
from confsvc.notify.channels import channel_for
from confsvc.preparation.schemas import ChannelIn, ChannelRead, ChannelsRead
from confsvc.settings import Settings

__all__ = ["ChannelSettingsService", "channels_read", "masked_config"]

logger = logging.getLogger(__name__)

_SECRET_PARTS = ("key", "secret", "token", "password")
MAX_CHANNELS = 10


def masked_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``config`` with every secret-looking field replaced by ``***``."""
    return {name: "***" if any(part in name.lower() for part in _SECRET_PARTS) else value for name, value in config.items()}


def channels_read(rows: Sequence[PersonChannel | MeetingChannel]) -> ChannelsRead:
    return ChannelsRead(
        channels=[ChannelRead(kind=row.kind, config=masked_config(row.config), active=row.active) for row in sorted(rows, key=lambda r: r.kind)]
    )


def _checked(channels: Sequence[ChannelIn]) -> list[ChannelIn]:
    if len(channels) > MAX_CHANNELS:
        raise ValidationFailed.field("channels", _("at most {count} channels", count=MAX_CHANNELS))
    seen: set[str] = set()
    for index, channel in enumerate(channels):
        if channel.kind in seen:
            raise ValidationFailed.field(f"channels[{index}].kind", _("{item} is listed twice", item=channel.kind))
        seen.add(channel.kind)
        try:
            channel_for(channel.kind, config=channel.config)
        except ValidationFailed as exc:
            params = [{"name": f"channels[{index}].{p['name']}", "reason": p["reason"]} for p in exc.invalid_params]
            raise ValidationFailed(str(exc), invalid_params=params) from exc
    return list(channels)


class ChannelSettingsService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings

    async def _person(self, person_id: uuid.UUID, caller: Person) -> Person:
        if "admin" not in (caller.roles or []) and caller.id != person_id:
            # Another person's channels return 404 like a missing person.
            raise NotFound("person", person_id)
        person = await self.session.get(Person, person_id)
        if person is None:
            raise NotFound("person", person_id)
        return person

    async def person_channels(self, person_id: uuid.UUID, *, caller: Person) -> list[PersonChannel]:
        person = await self._person(person_id, caller)
        return list(await self.session.scalars(select(PersonChannel).where(PersonChannel.person_id == person.id)))

    async def set_person_channels(self, person_id: uuid.UUID, channels: Sequence[ChannelIn], *, caller: Person) -> list[PersonChannel]:
        """Replace a person's channels (admin or the person); the caller commits."""
        person = await self._person(person_id, caller)
        wanted = _checked(channels)
        existing = {row.kind: row for row in await self.person_channels(person.id, caller=caller)}
        rows = []
        for channel in wanted:
            row = existing.pop(channel.kind, None) or PersonChannel(person_id=person.id, kind=channel.kind)
            row.config = dict(channel.config)
            row.active = channel.active
            rows.append(row)
        for row in existing.values():
            await self.session.delete(row)
        self.session.add_all(rows)
        await self.session.flush()
        logger.info("person channels set person_id=%s kinds=%s", person.id, ",".join(c.kind for c in wanted))
        return rows

    async def meeting_channels(self, meeting_id: uuid.UUID, *, caller: Person) -> list[MeetingChannel]:
        meeting = await MeetingService(self.session, self.settings).get(meeting_id, Viewer.of(caller))
        return list(await self.session.scalars(select(MeetingChannel).where(MeetingChannel.meeting_id == meeting.id)))

    async def set_meeting_channels(self, meeting_id: uuid.UUID, channels: Sequence[ChannelIn], *, caller: Person) -> list[MeetingChannel]:
        """Replace a meeting's robots and webhooks (organiser or admin); the caller commits."""
        viewer = Viewer.of(caller)
        meeting = await MeetingService(self.session, self.settings).get(meeting_id, viewer)
        if not can_manage(meeting, viewer):
            raise PermissionDenied(_("only the organiser or an administrator may change this meeting"))
        wanted = _checked(channels)
        existing = {row.kind: row for row in await self.meeting_channels(meeting.id, caller=caller)}
        rows = []
        for channel in wanted:
            row = existing.pop(channel.kind, None) or MeetingChannel(meeting_id=meeting.id, kind=channel.kind)
            row.config = dict(channel.config)
            row.active = channel.active
            rows.append(row)
        for row in existing.values():
            await self.session.delete(row)
        self.session.add_all(rows)
        await self.session.flush()
        logger.info("meeting channels set meeting_id=%s kinds=%s", meeting.id, ",".join(c.kind for c in wanted))
        return rows
