"""Bridge occupancy: overlap queries, bridge choice and alternatives.

A booking blocks its bridge on ``[starts_at, starts_at + duration + buffer)``. Two
bookings of one bridge conflict when those half-open ranges overlap, so back-to-back
meetings pass when the buffer is zero. Every query bounds ``starts_at`` from below by
the longest possible block, so it reads only the index range around the slot and never
scans a bridge's history.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.db.models import Booking, Bridge
from confsvc.settings import BookingSettings


@dataclass(frozen=True)
class Slot:
    starts_at: datetime
    ends_at: datetime
    recurrence_id: datetime | None = None


@dataclass(frozen=True)
class BusyRange:
    bridge_id: uuid.UUID
    meeting_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    blocked_until: datetime


def longest_block(rules: BookingSettings) -> timedelta:
    # NOTE: a booking made under a larger maximum duration than today's setting could start
    # before this bound and be missed. Lowering the maximum is assumed to be rare.
    return timedelta(minutes=rules.max_duration_minutes + rules.buffer_minutes) + timedelta(days=1)


async def busy_ranges(
    session: AsyncSession,
    slots: Sequence[Slot],
    *,
    rules: BookingSettings,
    bridge_ids: Iterable[uuid.UUID] | None = None,
    exclude_meeting_id: uuid.UUID | None = None,
) -> list[BusyRange]:
    """Return the active bookings that collide with any of ``slots`` (each widened by the buffer)."""
    if not slots:
        return []
    buffer = timedelta(minutes=rules.buffer_minutes)
    bound = longest_block(rules)
    windows = [
        and_(
            Booking.starts_at < slot.ends_at + buffer,
            Booking.blocked_until > slot.starts_at,
            Booking.starts_at > slot.starts_at - bound,
        )
        for slot in slots
    ]
    statement = select(
        Booking.bridge_id, Booking.meeting_id, Booking.starts_at, Booking.ends_at, Booking.blocked_until
    ).where(Booking.active.is_(True), Booking.bridge_id.is_not(None))
    # Large series are checked in chunks so one statement stays a reasonable size.
    results: list[BusyRange] = []
    ids = list(bridge_ids) if bridge_ids is not None else None
    for start in range(0, len(windows), 100):
        chunk = statement.where(or_(*windows[start : start + 100]))
        if ids is not None:
            chunk = chunk.where(Booking.bridge_id.in_(ids))
        if exclude_meeting_id is not None:
            chunk = chunk.where(Booking.meeting_id != exclude_meeting_id)
        for row in await session.execute(chunk):
            results.append(BusyRange(*row))
    return results


def collides(slot: Slot, busy: BusyRange, *, buffer: timedelta) -> bool:
    return busy.starts_at < slot.ends_at + buffer and busy.blocked_until > slot.starts_at


async def active_bridges(session: AsyncSession) -> list[Bridge]:
    return list(await session.scalars(select(Bridge).where(Bridge.active.is_(True)).order_by(Bridge.capacity, Bridge.name)))


async def free_bridges(
    session: AsyncSession,
    slots: Sequence[Slot],
    *,
    participants: int,
    rules: BookingSettings,
    exclude_meeting_id: uuid.UUID | None = None,
) -> list[Bridge]:
    """Return active bridges with enough ports that are free for every slot, smallest first."""
    candidates = [bridge for bridge in await active_bridges(session) if bridge.capacity >= participants]
    if not candidates:
        return []
    occupied = {
        busy.bridge_id
        for busy in await busy_ranges(
            session, slots, rules=rules, bridge_ids=[b.id for b in candidates], exclude_meeting_id=exclude_meeting_id
        )
    }
    return [bridge for bridge in candidates if bridge.id not in occupied]


async def nearest_free_slots(
    session: AsyncSession,
    bridge_id: uuid.UUID,
    slot: Slot,
    *,
    rules: BookingSettings,
    count: int = 3,
    not_before: datetime | None = None,
    exclude_meeting_id: uuid.UUID | None = None,
) -> list[Slot]:
    """Find up to ``count`` free slots of the same length on one bridge, nearest to ``slot``.

    Candidates are the edges of the surrounding bookings (just after one ends, just
    before one starts) within a day on either side, ordered by distance from the
    requested start.
    """
    duration = slot.ends_at - slot.starts_at
    buffer = timedelta(minutes=rules.buffer_minutes)
    window = timedelta(days=1)
    rows = await session.execute(
        select(Booking.starts_at, Booking.blocked_until).where(
            Booking.active.is_(True),
            Booking.bridge_id == bridge_id,
            Booking.starts_at < slot.ends_at + window,
            Booking.starts_at > slot.starts_at - window - longest_block(rules),
            *( [Booking.meeting_id != exclude_meeting_id] if exclude_meeting_id else [] ),
        )
    )
    busy = sorted((start, until) for start, until in rows)
    candidates: set[datetime] = set()
    for start, until in busy:
        candidates.add(until)
        candidates.add(start - buffer - duration)
    earliest = not_before or datetime.min.replace(tzinfo=slot.starts_at.tzinfo)

    def is_free(start: datetime) -> bool:
        end = start + duration
        return all(not (b_start < end + buffer and b_until > start) for b_start, b_until in busy)

    free = sorted(
        (c for c in candidates if c >= earliest and abs(c - slot.starts_at) <= window and is_free(c)),
        key=lambda c: (abs(c - slot.starts_at), c),
    )
    return [Slot(starts_at=start, ends_at=start + duration) for start in free[:count]]


def group_by_bridge(ranges: Iterable[BusyRange]) -> dict[uuid.UUID, list[BusyRange]]:
    grouped: dict[uuid.UUID, list[BusyRange]] = defaultdict(list)
    for item in ranges:
        grouped[item.bridge_id].append(item)
    return grouped
