from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from confsvc.bridges.adapters import (
    ADAPTERS,
    BookingInfo,
    BridgeConfigurationError,
    BridgeInfo,
    adapter_for,
    validate_settings,
)
from confsvc.errors import ConfigurationError, ValidationFailed


def names(problems: list[dict[str, str]]) -> list[str]:
    return [problem["name"] for problem in problems]


def test_registry_kinds() -> None:
    assert sorted(ADAPTERS) == ["asterisk", "bigbluebutton", "jitsi", "static"]
    for kind, adapter in ADAPTERS.items():
        assert adapter.kind == kind


def test_adapter_for_names_missing_options() -> None:
    settings = {"ami_username": "confsvc", "room_number_min": 7100, "room_number_max": 7199}
    bridge = BridgeInfo(id="br-1", name="PBX", kind="asterisk", settings=settings)

    with pytest.raises(BridgeConfigurationError) as caught:
        adapter_for("asterisk", settings=settings, bridge=bridge)

    assert isinstance(caught.value, ConfigurationError)
    assert names(caught.value.invalid_params) == ["settings.ami_host", "settings.ami_secret"]
    assert "settings.ami_host" in str(caught.value)


def test_adapter_for_invalid_value() -> None:
    settings = {"api_url": "ftp://bbb.example.com", "secret": "0123456789abcdef"}
    bridge = BridgeInfo(id="br-2", name="BBB", kind="bigbluebutton", settings=settings)

    with pytest.raises(BridgeConfigurationError) as caught:
        adapter_for("bigbluebutton", settings=settings, bridge=bridge)

    assert names(caught.value.invalid_params) == ["settings.api_url"]


def test_adapter_for_unknown_kind() -> None:
    bridge = BridgeInfo(id="br-3", name="Zoom", kind="zoom", settings={})

    with pytest.raises(BridgeConfigurationError, match="zoom"):
        adapter_for("zoom", settings={}, bridge=bridge)


def test_adapter_for_kind_mismatch() -> None:
    bridge = BridgeInfo(id="br-4", name="Jitsi", kind="jitsi", settings={})

    with pytest.raises(BridgeConfigurationError, match="expected 'static'"):
        adapter_for("static", settings={"dial_in_numbers": ["+862161234567"]}, bridge=bridge)


@pytest.mark.parametrize(
    ("kind", "settings", "expected"),
    [
        ("static", {}, ["settings.dial_in_numbers"]),
        ("static", {"dial_in_numbers": []}, ["settings.dial_in_numbers"]),
        ("static", {"dial_in_numbers": "+862161234567"}, ["settings.dial_in_numbers"]),
        (
            "asterisk",
            {
                "ami_host": "pbx.example.com",
                "ami_username": "confsvc",
                "ami_secret": "line\r\nAction: Originate",
                "ami_port": "5038",
                "room_number_min": 7199,
                "room_number_max": 7100,
                "timeout_seconds": 0,
            },
            [
                "settings.ami_port",
                "settings.ami_secret",
                "settings.timeout_seconds",
                "settings.room_number_max",
            ],
        ),
        (
            "bigbluebutton",
            {
                "api_url": "https://bbb.example.com/bigbluebutton/api",
                "secret": "short",
                "checksum_algorithm": "md5",
            },
            ["settings.checksum_algorithm", "settings.secret"],
        ),
        (
            "jitsi",
            {
                "base_url": "https://meet.example.com",
                "room_secret": "room-secret-0123456789",
                "jwt_app_id": "confsvc",
                "room_prefix": "Team Room",
            },
            ["settings.room_prefix", "settings.jwt_app_secret"],
        ),
        (
            "jitsi",
            {
                "base_url": "https://meet.example.com",
                "room_secret": "room-secret-0123456789",
                "jwt_app_id": "confsvc",
                "jwt_app_secret": "too-short",
            },
            ["settings.jwt_app_secret"],
        ),
    ],
)
def test_validate_settings_names_fields(
    kind: str, settings: dict[str, Any], expected: list[str]
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_settings(kind, settings)

    assert sorted(names(caught.value.invalid_params)) == sorted(expected)


def test_validate_settings_unknown_kind() -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_settings("webex", {})

    assert names(caught.value.invalid_params) == ["kind"]


@pytest.mark.parametrize(
    ("kind", "settings"),
    [
        ("static", {"dial_in_numbers": ["+862161234567"]}),
        (
            "asterisk",
            {
                "ami_host": "pbx",
                "ami_username": "u",
                "ami_secret": "s",
                "room_number_min": 1000,
                "room_number_max": 1999,
            },
        ),
        (
            "bigbluebutton",
            {"api_url": "https://bbb.example.com/bigbluebutton/api", "secret": "0123456789abcdef"},
        ),
        ("jitsi", {"base_url": "https://meet.example.com", "room_secret": "0123456789abcdef"}),
    ],
)
def test_validate_settings_accepts_minimal(kind: str, settings: dict[str, Any]) -> None:
    validate_settings(kind, settings)


def test_booking_requires_aware_times() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        BookingInfo(
            booking_id="b",
            meeting_uid="u",
            title="t",
            starts_at=dt.datetime(2025, 3, 10, 10, 0),
            ends_at=dt.datetime(2025, 3, 10, 11, 0, tzinfo=dt.UTC),
            organizer_name="o",
        )
