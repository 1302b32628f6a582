from __future__ import annotations

from typing import Any

import pytest

from confsvc.bridges.adapters import (
    BookingInfo,
    BridgeConfigurationError,
    BridgeInfo,
    ParticipantsUnsupported,
    adapter_for,
)

GOOD_SETTINGS: dict[str, Any] = {
    "dial_in_numbers": ["+862161234567", "+85223456789"],
    "access_code": "246810",
    "participant_pin": "0123",
    "host_pin": "9876",
}


def make_bridge(**overrides: Any) -> BridgeInfo:
    settings = {**GOOD_SETTINGS, **overrides}
    return BridgeInfo(id="br-static", name="Rented line", kind="static", settings=settings)


async def test_provision_returns_fixed_details(booking: BookingInfo) -> None:
    bridge = make_bridge()
    adapter = adapter_for("static", settings=bridge.settings, bridge=bridge)

    conference = await adapter.provision(booking)

    assert conference.conference_id == "br-static"
    assert conference.dial_in_numbers == ("+862161234567", "+85223456789")
    assert conference.access_code == "246810"
    assert conference.participant_pin == "0123"
    assert conference.host_pin == "9876"
    assert "9876" not in repr(conference)


async def test_health_ok_for_valid_settings() -> None:
    bridge = make_bridge()
    report = await adapter_for("static", settings=bridge.settings, bridge=bridge).health()

    assert report.ok is True
    assert "2 dial-in number(s)" in report.detail
    assert report.free_ports is None


@pytest.mark.parametrize(
    ("number", "field"),
    [
        ("021-6123-4567", "settings.dial_in_numbers[1]"),
        ("+86 21 6123 4567", "settings.dial_in_numbers[1]"),
        ("+8612", "settings.dial_in_numbers[1]"),
        ("+999123456789", "settings.dial_in_numbers[1]"),
    ],
)
async def test_health_fails_for_bad_number(booking: BookingInfo, number: str, field: str) -> None:
    bridge = make_bridge(dial_in_numbers=["+862161234567", number])
    adapter = adapter_for("static", settings=bridge.settings, bridge=bridge)

    report = await adapter.health()

    assert report.ok is False
    assert field in report.detail
    with pytest.raises(BridgeConfigurationError) as caught:
        await adapter.provision(booking)
    assert caught.value.invalid_params[0]["name"] == field


async def test_health_fails_for_bad_pin() -> None:
    bridge = make_bridge(participant_pin="12a4", host_pin="0123")
    report = await adapter_for("static", settings=bridge.settings, bridge=bridge).health()

    assert report.ok is False
    assert "settings.participant_pin must contain digits only" in report.detail


async def test_host_pin_must_differ() -> None:
    bridge = make_bridge(host_pin="0123")
    report = await adapter_for("static", settings=bridge.settings, bridge=bridge).health()

    assert report.ok is False
    assert "settings.host_pin must differ from participant_pin" in report.detail


async def test_participants_unsupported() -> None:
    bridge = make_bridge()
    adapter = adapter_for("static", settings=bridge.settings, bridge=bridge)

    assert adapter.supports_participants is False
    with pytest.raises(ParticipantsUnsupported, match="static"):
        await adapter.participants("br-static")
