"""Asterisk ConfBridge conferences, managed over the Asterisk Manager Interface (AMI).

ConfBridge creates a room when the first caller joins, so ``provision`` only allocates a room
number from a configured range plus two PINs. When ``astdb_family`` is set, it also stores
the PINs in the Asterisk database (AstDB) under ``<family>/<room>/participant_pin`` and
``.../host_pin``, where the dialplan can read them with ``${DB(...)}``.

Settings: ``ami_host``, ``ami_username``, ``ami_secret`` (required), ``ami_port`` (default
5038), ``room_number_min`` and ``room_number_max`` (required, inclusive), ``pin_length``
(default 6), ``dial_in_numbers`` (E.164 list), ``port_capacity`` (maximum concurrent callers,
for ``free_ports``), ``astdb_family``, ``timeout_seconds`` (whole AMI session, default 5).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar, TypeVar

from confsvc.bridges.adapters._ami import AmiClient, AmiMessage
from confsvc.bridges.adapters._settings import SettingsReader, raise_for_problems
from confsvc.bridges.adapters.base import (
    BookingInfo,
    BridgeAdapter,
    BridgeAuthenticationFailed,
    BridgeError,
    BridgeInfo,
    BridgeRejected,
    BridgeTimeout,
    ConferenceConflict,
    HealthReport,
    Participant,
    ProvisionedConference,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Messages of app_confbridge.c meaning "no such conference": nothing to list or kick.
_NO_CONFERENCE_MESSAGES = frozenset({"no active conferences.", "no conference by that name found."})
_NO_CHANNEL_MESSAGE = "no channel by that name found in conference."
_ASTDB_NOT_FOUND_MESSAGE = "database entry not found"


@dataclasses.dataclass(frozen=True, slots=True)
class AsteriskSettings:
    ami_host: str
    ami_port: int
    ami_username: str
    ami_secret: str = dataclasses.field(repr=False)
    room_number_min: int
    room_number_max: int
    pin_length: int
    dial_in_numbers: tuple[str, ...]
    port_capacity: int | None
    astdb_family: str | None
    timeout_seconds: float


def _read_settings(settings: Mapping[str, Any]) -> tuple[AsteriskSettings, list[dict[str, str]]]:
    reader = SettingsReader(settings)
    parsed = AsteriskSettings(
        ami_host=reader.text("ami_host", required=True) or "",
        ami_port=reader.integer("ami_port", default=5038, minimum=1, maximum=65535) or 5038,
        ami_username=reader.text("ami_username", required=True) or "",
        ami_secret=reader.text("ami_secret", required=True) or "",
        room_number_min=reader.integer("room_number_min", required=True, minimum=1) or 0,
        room_number_max=reader.integer("room_number_max", required=True, minimum=1) or 0,
        pin_length=reader.integer("pin_length", default=6, minimum=4, maximum=12) or 6,
        dial_in_numbers=reader.phone_numbers("dial_in_numbers"),
        port_capacity=reader.integer("port_capacity", minimum=1),
        astdb_family=reader.text("astdb_family"),
        timeout_seconds=reader.seconds("timeout_seconds", default=5.0),
    )
    if 0 < parsed.room_number_max < parsed.room_number_min:
        reader.fail("room_number_max", "must not be less than room_number_min")
    if parsed.astdb_family is not None and "/" in parsed.astdb_family:
        reader.fail("astdb_family", "must not contain '/'")
    return parsed, reader.problems


def _random_pin(length: int, *, avoid: str | None = None) -> str:
    while True:
        pin = "".join(secrets.choice("0123456789") for _ in range(length))
        if pin != avoid:
            return pin


def _caller_field(event: AmiMessage, key: str) -> str | None:
    value = event.get(key)
    if not value or value == "<unknown>":
        return None
    return value


def _participant_from_event(event: AmiMessage, *, now: dt.datetime) -> Participant:
    number = _caller_field(event, "CallerIDNum")
    name = _caller_field(event, "CallerIDName") or number or event.get("Channel") or "unknown"
    muted = event.get("Muted")
    admin = event.get("Admin")

    joined_at = None
    answered = event.get("AnsweredTime")
    if answered is not None and answered.isdigit():
        # AnsweredTime counts whole seconds since the channel was answered. Older versions omit it.
        joined_at = now - dt.timedelta(seconds=int(answered))

    return Participant(
        name=name,
        number=number,
        joined_at=joined_at,
        muted=None if muted is None else muted.lower() == "yes",
        chair=None if admin is None else admin.lower() == "yes",
    )


class AsteriskAdapter(BridgeAdapter):
    kind: ClassVar[str] = "asterisk"
    supports_participants: ClassVar[bool] = True
    required_options: ClassVar[tuple[str, ...]] = (
        "ami_host",
        "ami_username",
        "ami_secret",
        "room_number_min",
        "room_number_max",
    )

    def __init__(self, bridge: BridgeInfo) -> None:
        super().__init__(bridge)
        self._settings, problems = _read_settings(bridge.settings)
        raise_for_problems(bridge, problems)

    @classmethod
    def check_settings(cls, settings: Mapping[str, Any]) -> list[dict[str, str]]:
        return _read_settings(settings)[1]

    async def _run(self, work: Callable[[AmiClient], Awaitable[T]], *, operation: str) -> T:
        """Log in, run ``work``, log off, all within ``timeout_seconds``.

        Raises ``BridgeTimeout``, ``BridgeUnavailable``, ``BridgeAuthenticationFailed`` or
        ``BridgeRejected``.
        """
        settings = self._settings
        try:
            async with asyncio.timeout(settings.timeout_seconds):
                client = await AmiClient.connect(settings.ami_host, settings.ami_port)
                try:
                    await self._login(client)
                    result = await work(client)
                    await client.action("Logoff")
                finally:
                    await client.close()
        except TimeoutError as exc:
            logger.warning(
                "AMI session timed out, bridge_id=%s operation=%s timeout=%s",
                self.bridge.id,
                operation,
                settings.timeout_seconds,
            )
            raise BridgeTimeout(
                f"AMI {operation} on {settings.ami_host}:{settings.ami_port} timed out "
                f"after {settings.timeout_seconds:g} s"
            ) from exc
        except BridgeError as exc:
            logger.warning(
                "AMI session failed, bridge_id=%s operation=%s error=%s",
                self.bridge.id,
                operation,
                exc,
            )
            raise
        return result

    async def _login(self, client: AmiClient) -> None:
        response = await client.action(
            "Login",
            {
                "Username": self._settings.ami_username,
                "Secret": self._settings.ami_secret,
                "Events": "off",
            },
        )
        if response.is_error:
            raise BridgeAuthenticationFailed(
                f"AMI login as {self._settings.ami_username!r} rejected: "
                f"{response.get('Message') or 'no message'}"
            )

    async def _check(self, client: AmiClient, action: str, fields: Mapping[str, str]) -> None:
        response = await client.action(action, fields)
        if response.is_error:
            raise BridgeRejected(f"AMI {action} failed: {response.get('Message') or 'no message'}")

    async def provision(self, booking: BookingInfo) -> ProvisionedConference:
        """Allocate a random free room number and random PINs.

        Sends nothing to Asterisk unless ``astdb_family`` is set. Raises ``ConferenceConflict``
        when ``booking.reserved_conference_ids`` covers the whole room range.
        """
        settings = self._settings
        size = settings.room_number_max - settings.room_number_min + 1
        free = size - sum(
            1
            for reserved in booking.reserved_conference_ids
            if reserved.isdigit()
            and settings.room_number_min <= int(reserved) <= settings.room_number_max
        )
        if free <= 0:
            raise ConferenceConflict(
                f"bridge {self.bridge.id} has no free room number in "
                f"{settings.room_number_min}-{settings.room_number_max}"
            )

        while True:
            room = str(settings.room_number_min + secrets.randbelow(size))
            if room not in booking.reserved_conference_ids:
                break
        participant_pin = _random_pin(settings.pin_length)
        host_pin = _random_pin(settings.pin_length, avoid=participant_pin)

        if settings.astdb_family is not None:
            family = settings.astdb_family

            async def store_pins(client: AmiClient) -> None:
                await self._check(
                    client,
                    "DBPut",
                    {"Family": family, "Key": f"{room}/participant_pin", "Val": participant_pin},
                )
                await self._check(
                    client, "DBPut", {"Family": family, "Key": f"{room}/host_pin", "Val": host_pin}
                )

            await self._run(store_pins, operation="provision")

        logger.info(
            "asterisk room allocated, bridge_id=%s booking_id=%s room=%s",
            self.bridge.id,
            booking.booking_id,
            room,
        )
        return ProvisionedConference(
            conference_id=room,
            dial_in_numbers=settings.dial_in_numbers,
            access_code=room,
            participant_pin=participant_pin,
            host_pin=host_pin,
        )

    async def release(self, conference_id: str) -> None:
        """Kick every caller from the room and delete its AstDB entries if configured."""
        family = self._settings.astdb_family

        async def kick_all(client: AmiClient) -> None:
            response = await client.action(
                "ConfbridgeKick", {"Conference": conference_id, "Channel": "all"}
            )
            message = (response.get("Message") or "").lower()
            if response.is_error and message == _NO_CHANNEL_MESSAGE:
                # Older Asterisk versions read "all" as a channel name, so kick one by one.
                await self._kick_each(client, conference_id)
            elif response.is_error and message not in _NO_CONFERENCE_MESSAGES:
                raise BridgeRejected(f"AMI ConfbridgeKick failed: {response.get('Message')}")

            if family is not None:
                response = await client.action(
                    "DBDelTree", {"Family": family, "Key": conference_id}
                )
                message = (response.get("Message") or "").lower()
                if response.is_error and message != _ASTDB_NOT_FOUND_MESSAGE:
                    raise BridgeRejected(f"AMI DBDelTree failed: {response.get('Message')}")

        await self._run(kick_all, operation="release")
        logger.info("asterisk room released, bridge_id=%s room=%s", self.bridge.id, conference_id)

    async def _kick_each(self, client: AmiClient, conference_id: str) -> None:
        response, events = await client.list_action("ConfbridgeList", {"Conference": conference_id})
        if response.is_error:
            return
        for event in events:
            channel = event.get("Channel")
            if channel:
                await client.action(
                    "ConfbridgeKick", {"Conference": conference_id, "Channel": channel}
                )

    async def participants(self, conference_id: str) -> list[Participant]:
        """List the callers in the room with ``ConfbridgeList``; an unknown room has none."""

        async def list_callers(client: AmiClient) -> list[Participant]:
            response, events = await client.list_action(
                "ConfbridgeList", {"Conference": conference_id}
            )
            if response.is_error:
                message = response.get("Message") or ""
                if message.lower() in _NO_CONFERENCE_MESSAGES:
                    return []
                raise BridgeRejected(f"AMI ConfbridgeList failed: {message}")
            now = dt.datetime.now(dt.UTC)
            return [
                _participant_from_event(event, now=now)
                for event in events
                if (event.get("Event") or "").lower() == "confbridgelist"
            ]

        return await self._run(list_callers, operation="participants")

    async def _count_callers(self, client: AmiClient) -> int:
        response, events = await client.list_action("ConfbridgeListRooms")
        if response.is_error:
            message = response.get("Message") or ""
            if message.lower() in _NO_CONFERENCE_MESSAGES:
                return 0
            raise BridgeRejected(f"AMI ConfbridgeListRooms failed: {message}")
        total = 0
        for event in events:
            parties = event.get("Parties") or "0"
            total += int(parties) if parties.isdigit() else 0
        return total

    async def health(self) -> HealthReport:
        """Log in and send ``Ping``; with ``port_capacity`` set, count callers in all rooms."""
        capacity = self._settings.port_capacity

        async def ping(client: AmiClient) -> tuple[str, int | None]:
            response = await client.action("Ping")
            if response.is_error or (response.get("Ping") or "").lower() != "pong":
                raise BridgeRejected(f"AMI Ping failed: {response.get('Message') or 'no Pong'}")
            free_ports = None
            if capacity is not None:
                free_ports = max(capacity - await self._count_callers(client), 0)
            return client.banner, free_ports

        try:
            banner, free_ports = await self._run(ping, operation="health")
        except BridgeError as exc:
            return HealthReport(ok=False, detail=str(exc))
        return HealthReport(
            ok=True, detail=f"AMI login and ping succeeded ({banner})", free_ports=free_ports
        )
