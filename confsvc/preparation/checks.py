"""Pre-meeting checks: agenda, materials, quorum, bridge and room, with stored results.

A run has three steps, so that no database transaction stays open across the network
call to the bridge (on SQLite every transaction holds the write lock):

1. :func:`collect_facts` reads everything the checks need into a plain :class:`MeetingFacts`;
2. :func:`probe_bridge` calls the bridge adapter's ``health()``;
3. :func:`evaluate` turns both into one :class:`CheckOutcome` per check, and
   :func:`record_run` stores the run, its results and the notices in the caller's transaction.

Statuses: ``pass``; ``warn`` when the meeting can go ahead but someone should look;
``fail`` when it cannot go ahead as planned.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.booking.services import participant_count
from confsvc.bridges.adapters import BridgeAdapter, BridgeInfo, HealthReport, adapter_for
from confsvc.db.models import (
    Bridge,
    CheckResult,
    CheckRun,
    Material,
    Meeting,
    MeetingChannel,
    Person,
    PersonChannel,
    RoomEquipment,
)
from confsvc.errors import ConfsvcError
from confsvc.i18n import gettext
from confsvc.settings import PreparationSettings

__all__ = [
    "AdapterFactory",
    "BridgeProbe",
    "CheckOutcome",
    "MeetingFacts",
    "collect_facts",
    "evaluate",
    "probe_bridge",
    "record_run",
    "worst",
]

logger = logging.getLogger(__name__)

AdapterFactory = Callable[..., BridgeAdapter]
"""Builds a bridge adapter like ``confsvc.bridges.adapters.adapter_for``."""

_RANK = {"pass": 0, "warn": 1, "fail": 2}

Message = tuple[str, dict[str, Any]]
"""An English msgid and its parameters, rendered per reader's language."""


def worst(statuses: Sequence[str]) -> str:
    return max(statuses, key=lambda status: _RANK[status], default="pass")


def render(messages: Sequence[Message], *, locale: str) -> str:
    return "; ".join(gettext(msgid, locale=locale, **params) for msgid, params in messages)


def _plain(value: Any) -> Any:
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)


def stored_messages(messages: Sequence[Message]) -> list[list[Any]]:
    """Return ``messages`` as JSON, so that a stored result can be read in any language."""
    return [[msgid, {key: _plain(value) for key, value in params.items()}] for msgid, params in messages]


def result_detail(result: Any, *, locale: str) -> str:
    """Render a stored ``CheckResult`` in ``locale``.

    Results stored without their messages keep the text rendered when they ran.
    """
    messages = (result.data or {}).get("messages")
    if not messages:
        return str(result.detail)
    return render([(msgid, params) for msgid, params in messages], locale=locale)


@dataclass(frozen=True)
class Contact:
    person_id: uuid.UUID
    email: str
    name: str
    locale: str | None
    channels: tuple[tuple[str, Mapping[str, Any]], ...] = ()
    """Active IM channels of the person as (kind, config)."""


@dataclass(frozen=True)
class AgendaEntry:
    position: int
    title: str
    duration_minutes: int | None
    needs_materials: bool
    item_id: uuid.UUID | None = None
    """Id of the agenda item; materials refer to it, so it is what the materials check compares."""


@dataclass(frozen=True)
class EquipmentEntry:
    item: str
    status: str
    inspected_on: date | None


@dataclass(frozen=True)
class BridgeEntry:
    id: uuid.UUID
    name: str
    kind: str
    capacity: int
    active: bool
    settings: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True)
class MeetingFacts:
    """Snapshot of one occurrence as the checks read it, detached from the session."""

    meeting_id: uuid.UUID
    title: str
    occurrence_starts_at: datetime
    duration_minutes: int
    time_zone: str
    organiser: Contact
    secretary: Contact | None
    chair_email: str | None
    attendees: tuple[tuple[str, str, str], ...]
    """(email, role, PARTSTAT) of every attendee."""
    participants: int
    agenda: tuple[AgendaEntry, ...]
    material_item_ids: frozenset[uuid.UUID]
    """Agenda items that have at least one material."""
    meeting_materials: int
    bridge: BridgeEntry | None
    room_name: str | None
    room_active: bool
    equipment: tuple[EquipmentEntry, ...]
    meeting_channels: tuple[tuple[str, Mapping[str, Any]], ...]


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    status: str
    messages: tuple[Message, ...]
    data: dict[str, Any] = field(default_factory=dict)

    def detail(self, *, locale: str) -> str:
        return render(self.messages, locale=locale)


@dataclass(frozen=True)
class BridgeProbe:
    report: HealthReport | None
    error: str | None = None


# -- step 1: facts ---------------------------------------------------------------------


async def _contact(session: AsyncSession, person: Person) -> Contact:
    rows = await session.scalars(
        select(PersonChannel).where(PersonChannel.person_id == person.id, PersonChannel.active.is_(True)).order_by(PersonChannel.kind)
    )
    return Contact(
        person_id=person.id,
        email=person.email,
        name=person.name,
        locale=person.locale,
        channels=tuple((row.kind, dict(row.config)) for row in rows),
    )


def _adapter_settings(bridge: Bridge) -> dict[str, Any]:
    """Return the adapter options; a static bridge falls back to its record's numbers and PINs."""
    settings = dict(bridge.settings or {})
    if bridge.kind == "static":
        record = {
            "dial_in_numbers": [str(item["number"]) for item in bridge.dial_in or [] if item.get("number")],
            "access_code": bridge.access_code,
            "participant_pin": bridge.participant_pin,
            "host_pin": bridge.host_pin,
        }
        for name, value in record.items():
            if value and settings.get(name) in (None, "", []):
                settings[name] = value
    return settings


async def collect_facts(session: AsyncSession, meeting: Meeting, *, occurrence_starts_at: datetime) -> MeetingFacts:
    """Read the meeting, its materials, room equipment and notification channels."""
    item_ids: set[uuid.UUID] = set()
    whole_meeting = 0
    for item_id in await session.scalars(select(Material.agenda_item_id).where(Material.meeting_id == meeting.id)):
        if item_id is None:
            whole_meeting += 1
        else:
            item_ids.add(item_id)

    equipment: tuple[EquipmentEntry, ...] = ()
    if meeting.room is not None:
        rows = await session.scalars(
            select(RoomEquipment).where(RoomEquipment.room_id == meeting.room.id).order_by(RoomEquipment.item)
        )
        equipment = tuple(EquipmentEntry(row.item, row.status, row.inspected_on) for row in rows)

    channels = await session.scalars(
        select(MeetingChannel).where(MeetingChannel.meeting_id == meeting.id, MeetingChannel.active.is_(True)).order_by(MeetingChannel.kind)
    )
    bridge = meeting.bridge
    chair_email = meeting.chair.email if meeting.chair else None
    return MeetingFacts(
        meeting_id=meeting.id,
        title=meeting.title,
        occurrence_starts_at=occurrence_starts_at,
        duration_minutes=int((meeting.ends_at - meeting.starts_at).total_seconds() // 60),
        time_zone=meeting.time_zone,
        organiser=await _contact(session, meeting.organiser),
        secretary=await _contact(session, meeting.secretary) if meeting.secretary else None,
        chair_email=chair_email,
        attendees=tuple((a.email, a.role, a.partstat) for a in meeting.attendees),
        participants=participant_count([a.email for a in meeting.attendees] + [meeting.organiser.email, chair_email]),
        agenda=tuple(
            AgendaEntry(item.position, item.title, item.duration_minutes, item.needs_materials, item.id)
            for item in sorted(meeting.agenda_items, key=lambda item: item.position)
        ),
        material_item_ids=frozenset(item_ids),
        meeting_materials=whole_meeting,
        bridge=BridgeEntry(
            id=bridge.id, name=bridge.name, kind=bridge.kind, capacity=bridge.capacity, active=bridge.active,
            settings=_adapter_settings(bridge),
        )
        if bridge is not None
        else None,
        room_name=meeting.room.name if meeting.room else None,
        room_active=meeting.room.active if meeting.room else True,
        equipment=equipment,
        meeting_channels=tuple((row.kind, dict(row.config)) for row in channels),
    )


# -- step 2: the bridge ------------------------------------------------------------------


async def probe_bridge(facts: MeetingFacts, *, adapter_factory: AdapterFactory = adapter_for) -> BridgeProbe | None:
    """Call the adapter's ``health()``; None when the meeting has no bridge.

    Configuration problems and unexpected adapter errors become a probe with ``error``,
    never an exception, so one broken bridge cannot stop a sweep.
    """
    bridge = facts.bridge
    if bridge is None:
        return None
    info = BridgeInfo(id=str(bridge.id), name=bridge.name, kind=bridge.kind, settings=bridge.settings)
    try:
        adapter = adapter_factory(bridge.kind, settings=bridge.settings, bridge=info)
        return BridgeProbe(report=await adapter.health())
    except ConfsvcError as exc:
        logger.warning("bridge health check failed bridge_id=%s error=%s", bridge.id, type(exc).__name__)
        return BridgeProbe(report=None, error=str(exc))
    except Exception as exc:  # an adapter bug must not stop the other checks
        logger.exception("bridge health check crashed bridge_id=%s", bridge.id)
        return BridgeProbe(report=None, error=type(exc).__name__)


# -- step 3: evaluation -----------------------------------------------------------------


def _check_agenda(facts: MeetingFacts) -> CheckOutcome:
    if not facts.agenda:
        return CheckOutcome("agenda", "fail", (("the meeting has no agenda", {}),))
    total = sum(item.duration_minutes or 0 for item in facts.agenda)
    untimed = [item.position for item in facts.agenda if not item.duration_minutes]
    messages: list[Message] = []
    if untimed:
        messages.append(("agenda items without a duration: {positions}", {"positions": ", ".join(map(str, untimed))}))
    if total > facts.duration_minutes:
        messages.append(
            (
                "the agenda takes {total} minutes but the meeting lasts {available} minutes",
                {"total": total, "available": facts.duration_minutes},
            )
        )
    data = {"items": len(facts.agenda), "total_minutes": total, "meeting_minutes": facts.duration_minutes, "untimed": untimed}
    if messages:
        return CheckOutcome("agenda", "warn", tuple(messages), data)
    return CheckOutcome("agenda", "pass", (("{count} agenda items, {total} of {available} minutes planned", {"count": len(facts.agenda), "total": total, "available": facts.duration_minutes}),), data)


def _check_materials(facts: MeetingFacts) -> CheckOutcome:
    needed = [item for item in facts.agenda if item.needs_materials]
    missing = [item for item in needed if item.item_id not in facts.material_item_ids]
    data = {
        "needed": [item.position for item in needed],
        "missing": [item.position for item in missing],
        "missing_item_ids": [str(item.item_id) for item in missing],
        "meeting_materials": facts.meeting_materials,
    }
    if missing:
        titles = ", ".join(f"{item.position}. {item.title}" for item in missing)
        return CheckOutcome("materials", "fail", (("materials missing for agenda items: {items}", {"items": titles}),), data)
    if not needed:
        return CheckOutcome("materials", "pass", (("no agenda item needs materials", {}),), data)
    return CheckOutcome("materials", "pass", (("materials present for all {count} items that need them", {"count": len(needed)}),), data)


def _check_quorum(facts: MeetingFacts, settings: PreparationSettings) -> CheckOutcome:
    required = [(email, partstat) for email, role, partstat in facts.attendees if role == "required"]
    accepted = [email for email, partstat in required if partstat == "ACCEPTED"]
    declined = [email for email, partstat in required if partstat == "DECLINED"]
    chair_state = None
    if facts.chair_email:
        chair_state = next((partstat for email, _r, partstat in facts.attendees if email == facts.chair_email), "NEEDS-ACTION")
    share = len(accepted) / len(required) if required else 1.0
    data = {
        "required": len(required),
        "accepted": len(accepted),
        "share": round(share, 3),
        "minimum_share": settings.quorum_share,
        "declined": declined,
        "chair": facts.chair_email,
        "chair_partstat": chair_state,
    }

    failures: list[Message] = []
    warnings: list[Message] = []
    if facts.chair_email is None:
        warnings.append(("the meeting has no chair", {}))
    elif chair_state == "DECLINED":
        failures.append(("the chair {email} declined", {"email": facts.chair_email}))
    elif chair_state != "ACCEPTED":
        warnings.append(("the chair {email} has not accepted yet", {"email": facts.chair_email}))
    if share < settings.quorum_share:
        failures.append(
            (
                "{accepted} of {required} required attendees accepted, below the minimum share of {minimum}%",
                {"accepted": len(accepted), "required": len(required), "minimum": round(settings.quorum_share * 100)},
            )
        )
    if declined:
        warnings.append(("required attendees who declined: {emails}", {"emails": ", ".join(declined)}))

    if failures:
        return CheckOutcome("quorum", "fail", tuple(failures + warnings), data)
    if warnings:
        return CheckOutcome("quorum", "warn", tuple(warnings), data)
    return CheckOutcome(
        "quorum", "pass", (("the chair and {accepted} of {required} required attendees accepted", {"accepted": len(accepted), "required": len(required)}),), data
    )


def _check_bridge(facts: MeetingFacts, probe: BridgeProbe | None) -> CheckOutcome:
    bridge = facts.bridge
    if bridge is None:
        return CheckOutcome("bridge", "fail", (("no bridge is booked for the meeting", {}),))
    data: dict[str, Any] = {"bridge_id": str(bridge.id), "bridge": bridge.name, "participants": facts.participants, "capacity": bridge.capacity}
    if not bridge.active:
        return CheckOutcome("bridge", "fail", (("the bridge {name} is out of service", {"name": bridge.name}),), data)
    if probe is None or probe.report is None:
        reason = probe.error if probe is not None and probe.error else "no answer"
        data["error"] = reason
        return CheckOutcome("bridge", "fail", (("the health check of bridge {name} failed: {reason}", {"name": bridge.name, "reason": reason}),), data)
    report = probe.report
    data["health"] = report.detail
    data["free_ports"] = report.free_ports
    if not report.ok:
        return CheckOutcome("bridge", "fail", (("bridge {name} is not healthy: {detail}", {"name": bridge.name, "detail": report.detail}),), data)
    if bridge.capacity < facts.participants:
        return CheckOutcome(
            "bridge", "fail",
            (("bridge {name} has {ports} ports for {count} participants", {"name": bridge.name, "ports": bridge.capacity, "count": facts.participants}),),
            data,
        )
    if report.free_ports is not None and report.free_ports < facts.participants:
        # The live count includes conferences running now, which may end before this one starts.
        return CheckOutcome(
            "bridge", "warn",
            (("bridge {name} has {free} free ports now for {count} participants", {"name": bridge.name, "free": report.free_ports, "count": facts.participants}),),
            data,
        )
    return CheckOutcome("bridge", "pass", (("bridge {name} is healthy: {detail}", {"name": bridge.name, "detail": report.detail}),), data)


def _check_room(facts: MeetingFacts, settings: PreparationSettings, *, today: date) -> CheckOutcome:
    if facts.room_name is None:
        return CheckOutcome("room", "pass", (("no room is booked", {}),))
    if not facts.room_active:
        return CheckOutcome("room", "fail", (("the room {name} is out of service", {"name": facts.room_name}),), {"room": facts.room_name})
    oldest = today - timedelta(days=settings.inspection_max_age_days)
    broken = [e.item for e in facts.equipment if e.status == "out_of_order"]
    faulty = [e.item for e in facts.equipment if e.status == "faulty"]
    stale = [e.item for e in facts.equipment if e.inspected_on is None or e.inspected_on < oldest]
    data = {"room": facts.room_name, "out_of_order": broken, "faulty": faulty, "not_inspected": stale, "max_age_days": settings.inspection_max_age_days}
    messages: list[Message] = []
    if broken:
        messages.append(("out of order in room {name}: {items}", {"name": facts.room_name, "items": ", ".join(broken)}))
    if faulty:
        messages.append(("faulty in room {name}: {items}", {"name": facts.room_name, "items": ", ".join(faulty)}))
    if stale:
        messages.append(
            ("not inspected in the last {days} days in room {name}: {items}", {"days": settings.inspection_max_age_days, "name": facts.room_name, "items": ", ".join(stale)})
        )
    if broken:
        return CheckOutcome("room", "fail", tuple(messages), data)
    if messages:
        return CheckOutcome("room", "warn", tuple(messages), data)
    return CheckOutcome("room", "pass", (("the equipment of room {name} is in order", {"name": facts.room_name}),), data)


def evaluate(facts: MeetingFacts, probe: BridgeProbe | None, settings: PreparationSettings) -> list[CheckOutcome]:
    """Return the outcomes in a fixed order: agenda, materials, quorum, bridge, room.

    Inspection ages count from the day of the occurrence in the meeting's time zone.
    """
    day = facts.occurrence_starts_at.astimezone(ZoneInfo(facts.time_zone)).date()
    return [
        _check_agenda(facts),
        _check_materials(facts),
        _check_quorum(facts, settings),
        _check_bridge(facts, probe),
        _check_room(facts, settings, today=day),
    ]


# -- recording -----------------------------------------------------------------------------


def record_run(
    session: AsyncSession,
    facts: MeetingFacts,
    outcomes: Sequence[CheckOutcome],
    *,
    trigger: str,
    now: datetime,
    locale: str,
    run_id: uuid.UUID | None = None,
) -> CheckRun:
    """Add the run and its results to the session; ``detail`` is rendered in ``locale``."""
    run = CheckRun(
        id=run_id or uuid.uuid4(),
        meeting_id=facts.meeting_id,
        occurrence_starts_at=facts.occurrence_starts_at,
        trigger=trigger,
        started_at=now,
        status=worst([outcome.status for outcome in outcomes]),
        notified=False,
    )
    run.results = [
        CheckResult(
            position=index, name=outcome.name, status=outcome.status, detail=outcome.detail(locale=locale),
            data={**outcome.data, "messages": stored_messages(outcome.messages)},
        )
        for index, outcome in enumerate(outcomes)
    ]
    session.add(run)
    return run
