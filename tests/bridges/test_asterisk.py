from __future__ import annotations

import dataclasses
import datetime as dt
import socket
import time
from typing import Any

import pytest
from fake_ami_server import Caller, FakeAmiServer

from confsvc.bridges.adapters import (
    BookingInfo,
    BridgeAuthenticationFailed,
    BridgeInfo,
    BridgeTimeout,
    BridgeUnavailable,
    ConferenceConflict,
    adapter_for,
)
from confsvc.bridges.adapters.asterisk import AsteriskAdapter
from confsvc.errors import DeliveryError, PermanentDeliveryError


def make_adapter(server: FakeAmiServer, **overrides: Any) -> AsteriskAdapter:
    settings: dict[str, Any] = {
        "ami_host": "127.0.0.1",
        "ami_port": server.port,
        "ami_username": "confsvc",
        "ami_secret": "s3cret-ami",
        "room_number_min": 7100,
        "room_number_max": 7199,
        "dial_in_numbers": ["+862161234567"],
        "timeout_seconds": 2,
    }
    settings.update(overrides)
    bridge = BridgeInfo(id="br-ast", name="PBX Shanghai", kind="asterisk", settings=settings)
    adapter = adapter_for("asterisk", settings=settings, bridge=bridge)
    assert isinstance(adapter, AsteriskAdapter)
    return adapter


def two_callers() -> list[Caller]:
    return [
        Caller("PJSIP/1001-00000001", "1001", "王芳", admin=True, answered_seconds=120),
        Caller("PJSIP/trunk-00000002", "+8613800138000", "<unknown>", muted=True),
    ]


async def test_health_logs_in_and_pings(ami_server: FakeAmiServer) -> None:
    report = await make_adapter(ami_server).health()

    assert report.ok is True
    assert "Asterisk Call Manager/5.0.1" in report.detail
    assert report.free_ports is None
    assert ami_server.action_names() == ["Login", "Ping", "Logoff"]
    assert ami_server.actions[0]["Events"] == "off"


async def test_health_counts_free_ports(ami_server: FakeAmiServer) -> None:
    adapter = make_adapter(ami_server, port_capacity=10)
    assert (await adapter.health()).free_ports == 10

    ami_server.conferences = {"7101": two_callers(), "7102": two_callers()[:1]}
    report = await adapter.health()

    assert report.ok is True
    assert report.free_ports == 7
    assert "ConfbridgeListRooms" in ami_server.action_names()


async def test_health_reports_wrong_secret(ami_server: FakeAmiServer) -> None:
    report = await make_adapter(ami_server, ami_secret="wrong").health()

    assert report.ok is False
    assert "Authentication failed" in report.detail
    assert "wrong" not in report.detail
    assert ami_server.action_names() == ["Login"]


async def test_wrong_secret_is_permanent_error(ami_server: FakeAmiServer) -> None:
    with pytest.raises(BridgeAuthenticationFailed) as caught:
        await make_adapter(ami_server, ami_secret="wrong").participants("7101")

    assert isinstance(caught.value, PermanentDeliveryError)


async def test_silent_server_times_out(ami_server: FakeAmiServer) -> None:
    ami_server.silent = True
    adapter = make_adapter(ami_server, timeout_seconds=0.3)

    started = time.monotonic()
    report = await adapter.health()
    elapsed = time.monotonic() - started

    assert report.ok is False
    assert "timed out after 0.3 s" in report.detail
    assert 0.25 <= elapsed < 2
    assert ami_server.action_names() == ["Login"]

    with pytest.raises(BridgeTimeout) as caught:
        await adapter.participants("7101")
    assert isinstance(caught.value, DeliveryError)
    assert not isinstance(caught.value, PermanentDeliveryError)


async def test_closed_port_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = FakeAmiServer(username="confsvc", secret="s3cret-ami", port=port)
    adapter = make_adapter(server)

    with pytest.raises(BridgeUnavailable) as caught:
        await adapter.participants("7101")

    assert not isinstance(caught.value, PermanentDeliveryError)
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert (await adapter.health()).ok is False


async def test_participants_from_confbridge_list(ami_server: FakeAmiServer) -> None:
    ami_server.conferences = {"7101": two_callers(), "7150": two_callers()[:1]}

    before = dt.datetime.now(dt.UTC)
    participants = await make_adapter(ami_server).participants("7101")

    assert [p.name for p in participants] == ["王芳", "+8613800138000"]
    assert [p.number for p in participants] == ["1001", "+8613800138000"]
    assert [p.chair for p in participants] == [True, False]
    assert [p.muted for p in participants] == [False, True]
    joined_at = participants[0].joined_at
    assert joined_at is not None
    assert abs((before - dt.timedelta(seconds=120) - joined_at).total_seconds()) < 2
    assert ami_server.action_names() == ["Login", "ConfbridgeList", "Logoff"]
    assert ami_server.actions[1]["Conference"] == "7101"


async def test_participants_of_empty_room(ami_server: FakeAmiServer) -> None:
    adapter = make_adapter(ami_server)

    # With no room at all, Asterisk responds "No active conferences."
    assert await adapter.participants("7101") == []

    # With other rooms, it responds "No Conference by that name found."
    ami_server.conferences = {"7150": two_callers()}
    assert await adapter.participants("7101") == []


async def test_release_kicks_all(ami_server: FakeAmiServer) -> None:
    ami_server.conferences = {"7101": two_callers(), "7150": two_callers()}

    await make_adapter(ami_server).release("7101")

    assert list(ami_server.conferences) == ["7150"]
    kick = ami_server.actions[1]
    assert kick["Action"] == "ConfbridgeKick"
    assert kick["Channel"] == "all"


async def test_release_of_empty_room_is_noop(ami_server: FakeAmiServer) -> None:
    adapter = make_adapter(ami_server)

    await adapter.release("7101")
    ami_server.conferences = {"7150": two_callers()}
    await adapter.release("7101")

    assert len(ami_server.conferences["7150"]) == 2


async def test_release_kicks_each_without_all(ami_server: FakeAmiServer) -> None:
    ami_server.kick_all_supported = False
    ami_server.conferences = {"7101": two_callers()}

    await make_adapter(ami_server).release("7101")

    assert ami_server.conferences == {}
    kicked = [a["Channel"] for a in ami_server.actions if a["Action"] == "ConfbridgeKick"]
    assert kicked == ["all", "PJSIP/1001-00000001", "PJSIP/trunk-00000002"]


async def test_provision_allocates_room_and_pins(
    ami_server: FakeAmiServer, booking: BookingInfo
) -> None:
    reserved = frozenset(str(n) for n in range(7100, 7199))
    booking = dataclasses.replace(booking, reserved_conference_ids=reserved)

    conference = await make_adapter(ami_server, pin_length=8).provision(booking)

    # Only 7199 is free in the range.
    assert conference.conference_id == "7199"
    assert conference.access_code == "7199"
    assert conference.dial_in_numbers == ("+862161234567",)
    assert conference.participant_pin is not None and conference.participant_pin.isdigit()
    assert conference.host_pin is not None and len(conference.host_pin) == 8
    assert conference.host_pin != conference.participant_pin
    assert conference.participant_pin not in repr(conference)
    assert ami_server.actions == []


async def test_provision_without_free_room(ami_server: FakeAmiServer, booking: BookingInfo) -> None:
    reserved = frozenset(str(n) for n in range(7100, 7200))
    booking = dataclasses.replace(booking, reserved_conference_ids=reserved)

    with pytest.raises(ConferenceConflict, match="7100-7199"):
        await make_adapter(ami_server).provision(booking)


async def test_provision_stores_pins_in_astdb(
    ami_server: FakeAmiServer, booking: BookingInfo
) -> None:
    adapter = make_adapter(ami_server, astdb_family="confsvc")

    conference = await adapter.provision(booking)
    room = conference.conference_id

    assert 7100 <= int(room) <= 7199
    assert ami_server.astdb == {
        f"/confsvc/{room}/participant_pin": conference.participant_pin,
        f"/confsvc/{room}/host_pin": conference.host_pin,
    }

    await adapter.release(room)
    assert ami_server.astdb == {}
    # A second release finds nothing to delete and still succeeds.
    await adapter.release(room)
