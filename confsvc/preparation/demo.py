"""Demo data of the preparation domain: rooms with equipment, materials, an unprepared meeting.

After loading, the pre-meeting checks of the demo week show both outcomes: most meetings
have their materials and a room in order, one meeting lacks the material its agenda
needs, and one room has a display out of order.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.db.models import Material, Meeting, Room, RoomEquipment
from confsvc.preparation.materials import CONTENT_TYPES
from confsvc.preparation.storage import MaterialStore, material_store
from confsvc.settings import Settings

__all__ = ["PreparationDemo", "load_preparation_demo"]

logger = logging.getLogger(__name__)

ROOMS = (
    ("第一会议室", "总部 3 层", 20, (("speakerphone", "ok"), ("camera", "ok"), ("display", "ok"))),
    ("第二会议室", "总部 5 层", 12, (("speakerphone", "ok"), ("camera", "ok"), ("display", "out_of_order"))),
)
_MATERIAL_TEXT = "# 本期议题材料\n\n- 上期数据回顾\n- 本期待决事项\n"


@dataclass
class PreparationDemo:
    rooms: int = 0
    materials: int = 0
    unprepared_meeting_id: uuid.UUID | None = None
    """The meeting left without the material its agenda needs."""


async def load_preparation_demo(session: AsyncSession, settings: Settings, *, now: datetime) -> PreparationDemo:
    """Add the demo rooms and materials to the scheduled demo meetings; the caller commits.

    Idempotent: when the first demo room exists already, nothing is added. Material files
    are written into the material store that CONFSVC_MATERIALS_STORE names.
    """
    summary = PreparationDemo()
    if await session.scalar(select(Room.id).where(Room.name == ROOMS[0][0])) is not None:
        return summary

    today = now.astimezone(ZoneInfo(settings.time_zone)).date()
    rooms = []
    for name, location, capacity, equipment in ROOMS:
        room = Room(name=name, location=location, capacity=capacity, equipment=[], active=True)
        session.add(room)
        await session.flush()
        for item, status in equipment:
            note = "显示器无信号，已报修" if status != "ok" else None
            session.add(RoomEquipment(room_id=room.id, item=item, status=status, inspected_on=today - timedelta(days=14), note=note))
        rooms.append(room)
    summary.rooms = len(rooms)

    meetings = list(
        await session.scalars(select(Meeting).where(Meeting.status == "scheduled").order_by(Meeting.starts_at).limit(20))
    )
    store = material_store(settings)
    for index, meeting in enumerate(meetings):
        # The second room, with its broken display, goes to the last meeting only.
        meeting.room_id = rooms[1].id if index == len(meetings) - 1 else rooms[0].id
        needing = [item.id for item in meeting.agenda_items if item.needs_materials]
        if index == 0 and needing:
            summary.unprepared_meeting_id = meeting.id
            continue
        for item_id in needing:
            await _add_material(session, store, meeting, item_id)
            summary.materials += 1
    await session.flush()
    logger.info("preparation demo loaded rooms=%d materials=%d", summary.rooms, summary.materials)
    return summary


async def _add_material(session: AsyncSession, store: MaterialStore, meeting: Meeting, item_id: uuid.UUID) -> None:
    data = _MATERIAL_TEXT.encode("utf-8")
    material_id = uuid.uuid4()
    key = f"{meeting.id}/{material_id}.md"
    incoming = store.incoming
    incoming.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=incoming, suffix=".part", delete=False) as handle:
        handle.write(data)
    digest = hashlib.sha256(data).hexdigest()
    await store.put(key, Path(handle.name), sha256=digest, content_type=CONTENT_TYPES["md"])
    session.add(
        Material(
            id=material_id,
            meeting_id=meeting.id,
            agenda_item_id=item_id,
            filename="本期议题材料.md",
            extension="md",
            content_type=CONTENT_TYPES["md"],
            size_bytes=len(data),
            sha256=digest,
            storage_key=key,
            uploaded_by_id=meeting.secretary_id,
        )
    )
