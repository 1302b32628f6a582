"""A bridge with fixed dial-in numbers and PINs, such as a rented audio-conference line.

Settings: ``dial_in_numbers`` (list of E.164 numbers, at least one), ``access_code``,
``participant_pin`` and ``host_pin`` (digit strings, optional), ``join_url`` (optional web link).
Every booking on the bridge gets the same details, so the bridge record is the only state.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from confsvc.bridges.adapters._settings import SettingsReader, raise_for_problems
from confsvc.bridges.adapters.base import (
    BookingInfo,
    BridgeAdapter,
    BridgeInfo,
    HealthReport,
    ProvisionedConference,
)

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class StaticSettings:
    dial_in_numbers: tuple[str, ...]
    access_code: str | None
    participant_pin: str | None = dataclasses.field(repr=False)
    host_pin: str | None = dataclasses.field(repr=False)
    join_url: str | None


def _read_settings(settings: Mapping[str, Any]) -> tuple[StaticSettings, list[dict[str, str]]]:
    reader = SettingsReader(settings)
    parsed = StaticSettings(
        dial_in_numbers=reader.phone_numbers("dial_in_numbers", required=True),
        access_code=reader.digits("access_code"),
        participant_pin=reader.digits("participant_pin"),
        host_pin=reader.digits("host_pin"),
        join_url=reader.url("join_url"),
    )
    if parsed.host_pin is not None and parsed.host_pin == parsed.participant_pin:
        reader.fail("host_pin", "must differ from participant_pin")
    return parsed, reader.problems


class StaticAdapter(BridgeAdapter):
    """Hands out the fixed details of the bridge record; nothing is sent over the network.

    Unlike the other adapters, construction accepts invalid settings, so that ``health`` can
    report them. ``provision`` raises ``BridgeConfigurationError`` while they are invalid.
    """

    kind: ClassVar[str] = "static"
    required_options: ClassVar[tuple[str, ...]] = ("dial_in_numbers",)

    def __init__(self, bridge: BridgeInfo) -> None:
        super().__init__(bridge)
        self._settings, self._problems = _read_settings(bridge.settings)

    @classmethod
    def check_settings(cls, settings: Mapping[str, Any]) -> list[dict[str, str]]:
        return _read_settings(settings)[1]

    async def provision(self, booking: BookingInfo) -> ProvisionedConference:
        raise_for_problems(self.bridge, self._problems)
        return ProvisionedConference(
            conference_id=self.bridge.id,
            dial_in_numbers=self._settings.dial_in_numbers,
            access_code=self._settings.access_code,
            participant_pin=self._settings.participant_pin,
            host_pin=self._settings.host_pin,
            chair_join_url=self._settings.join_url,
            participant_join_url=self._settings.join_url,
        )

    async def release(self, conference_id: str) -> None:
        """Do nothing, because the fixed line stays with the bridge."""

    async def health(self) -> HealthReport:
        """Check the stored settings only; the line itself cannot be reached from here."""
        if self._problems:
            detail = "; ".join(f"{p['name']} {p['reason']}" for p in self._problems)
            logger.info("static bridge settings invalid, bridge_id=%s", self.bridge.id)
            return HealthReport(ok=False, detail=f"invalid settings: {detail}")

        count = len(self._settings.dial_in_numbers)
        return HealthReport(ok=True, detail=f"settings valid, {count} dial-in number(s)")
