from __future__ import annotations

import dataclasses
import time
import urllib.parse
from typing import Any

import httpx
import pytest
from fake_bbb_server import BBB_SECRET
from fake_bbb_server import Attendee, FakeBigBlueButton, Meeting

from confsvc.bridges.adapters import (
    BookingInfo,
    BridgeAuthenticationFailed,
    BridgeInfo,
    BridgeTimeout,
    BridgeUnavailable,
    ConferenceConflict,
    adapter_for,
)
from confsvc.bridges.adapters.bigbluebutton import BigBlueButtonAdapter
from confsvc.errors import PermanentDeliveryError


def make_adapter(server: FakeBigBlueButton, **overrides: Any) -> BigBlueButtonAdapter:
    settings: dict[str, Any] = {
        "api_url": server.api_url + "/",
        "secret": BBB_SECRET,
        "timeout_seconds": 2,
    }
    settings.update(overrides)
    bridge = BridgeInfo(id="br-bbb", name="BBB", kind="bigbluebutton", settings=settings)
    adapter = adapter_for("bigbluebutton", settings=settings, bridge=bridge)
    assert isinstance(adapter, BigBlueButtonAdapter)
    return adapter


def query_of(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def test_checksum_matches_documented_example() -> None:
    bridge = BridgeInfo(
        id="br-doc",
        name="doc",
        kind="bigbluebutton",
        settings={
            "api_url": "https://bbb.example.com/bigbluebutton/api",
            "secret": "639259d4-9dd8-4b25-bf01-95f9567eaf4b",
        },
    )
    adapter = BigBlueButtonAdapter(bridge)
    query = "name=Test+Meeting&meetingID=abc123&attendeePW=111222&moderatorPW=333444"

    # The example of the BigBlueButton API reference.
    assert adapter.checksum("create", query) == "1fcbb0c4fc1f039f73aa6d697d2db9ba7f803f17"

    url = adapter.signed_url(
        "create",
        [
            ("name", "Test Meeting"),
            ("meetingID", "abc123"),
            ("attendeePW", "111222"),
            ("moderatorPW", "333444"),
        ],
    )
    assert url == (
        "https://bbb.example.com/bigbluebutton/api/create?"
        + query
        + "&checksum=1fcbb0c4fc1f039f73aa6d697d2db9ba7f803f17"
    )


async def test_provision_creates_meeting(
    bbb_server: FakeBigBlueButton, booking: BookingInfo
) -> None:
    adapter = make_adapter(bbb_server, dial_in_numbers=["+862161234567"])

    conference = await adapter.provision(booking)

    meeting = bbb_server.meetings[conference.conference_id]
    assert conference.conference_id.startswith("confsvc-")
    assert meeting.name == "季度经营分析会 Q1 review"
    assert meeting.record == "false"
    assert meeting.dial_number == "+862161234567"
    assert len(meeting.voice_bridge) == 5
    assert conference.access_code == meeting.voice_bridge
    assert conference.dial_in_numbers == ("+862161234567",)
    assert meeting.attendee_pw != meeting.moderator_pw
    call, params, _ = bbb_server.requests[-1]
    assert call == "create"
    assert params["voiceBridge"] == meeting.voice_bridge


async def test_join_links_by_password(bbb_server: FakeBigBlueButton, booking: BookingInfo) -> None:
    conference = await make_adapter(bbb_server).provision(booking)
    assert conference.chair_join_url is not None
    assert conference.participant_join_url is not None

    async with httpx.AsyncClient() as client:
        chair = await client.get(conference.chair_join_url)
        guest = await client.get(conference.participant_join_url)

    assert chair.status_code == 302
    assert guest.status_code == 302
    assert bbb_server.joins == [
        {"fullName": "王芳", "role": "MODERATOR"},
        {"fullName": "Guest", "role": "VIEWER"},
    ]
    assert "role" not in query_of(conference.chair_join_url)


async def test_join_links_by_role(bbb_server: FakeBigBlueButton, booking: BookingInfo) -> None:
    adapter = make_adapter(bbb_server, join_by_role=True, guest_name="Teilnehmer")
    conference = await adapter.provision(booking)
    assert conference.chair_join_url is not None
    assert conference.participant_join_url is not None

    chair_query = query_of(conference.chair_join_url)
    assert chair_query["role"] == "MODERATOR"
    assert "password" not in chair_query
    async with httpx.AsyncClient() as client:
        response = await client.get(conference.participant_join_url)
    assert response.status_code == 302
    assert bbb_server.joins == [{"fullName": "Teilnehmer", "role": "VIEWER"}]


async def test_tampered_join_link_rejected(
    bbb_server: FakeBigBlueButton, booking: BookingInfo
) -> None:
    conference = await make_adapter(bbb_server).provision(booking)
    assert conference.participant_join_url is not None
    tampered = conference.participant_join_url.replace("fullName=Guest", "fullName=Boss")

    async with httpx.AsyncClient() as client:
        response = await client.get(tampered)

    assert response.status_code == 200
    assert "<messageKey>checksumError</messageKey>" in response.text
    assert bbb_server.joins == []


async def test_provision_twice_is_idempotent(
    bbb_server: FakeBigBlueButton, booking: BookingInfo
) -> None:
    adapter = make_adapter(bbb_server)

    first = await adapter.provision(booking)
    second = await adapter.provision(booking)
    other = await adapter.provision(dataclasses.replace(booking, meeting_uid="other-uid"))

    assert second.conference_id == first.conference_id
    assert other.conference_id != first.conference_id
    assert len(bbb_server.meetings) == 2


async def test_provision_id_not_unique(bbb_server: FakeBigBlueButton, booking: BookingInfo) -> None:
    adapter = make_adapter(bbb_server)
    meeting_id = adapter.meeting_id(booking.meeting_uid)
    bbb_server.meetings[meeting_id] = Meeting(
        meeting_id, "someone else", "ap", "mp", "71234", "", "false", 0
    )

    with pytest.raises(ConferenceConflict, match="idNotUnique"):
        await adapter.provision(booking)


async def test_wrong_secret_checksum_error(
    bbb_server: FakeBigBlueButton, booking: BookingInfo
) -> None:
    adapter = make_adapter(bbb_server, secret="not-the-shared-secret")

    with pytest.raises(BridgeAuthenticationFailed, match="checksum") as caught:
        await adapter.provision(booking)
    assert isinstance(caught.value, PermanentDeliveryError)
    assert bbb_server.meetings == {}

    report = await adapter.health()
    assert report.ok is False
    assert "settings.secret" in report.detail


async def test_sha256_checksum(bbb_server: FakeBigBlueButton, booking: BookingInfo) -> None:
    adapter = make_adapter(bbb_server, checksum_algorithm="sha256")

    conference = await adapter.provision(booking)

    assert conference.conference_id in bbb_server.meetings
    _, params, _ = bbb_server.requests[-1]
    assert len(params["checksum"]) == 64


async def test_participants_from_meeting_info(
    bbb_server: FakeBigBlueButton, booking: BookingInfo
) -> None:
    adapter = make_adapter(bbb_server)
    conference = await adapter.provision(booking)
    assert await adapter.is_running(conference.conference_id) is False

    bbb_server.meetings[conference.conference_id].attendees = [
        Attendee("w_1", "王芳", role="MODERATOR"),
        Attendee("w_2", "Li Lei"),
        Attendee("w_3", "+8613800138000", client_type="DIAL-IN-USER"),
    ]
    participants = await adapter.participants(conference.conference_id)

    assert await adapter.is_running(conference.conference_id) is True
    assert [p.name for p in participants] == ["王芳", "Li Lei", "+8613800138000"]
    assert [p.chair for p in participants] == [True, False, False]
    assert [p.number for p in participants] == [None, None, "+8613800138000"]


async def test_participants_of_unknown_meeting(bbb_server: FakeBigBlueButton) -> None:
    adapter = make_adapter(bbb_server)

    assert await adapter.participants("confsvc-nothing") == []
    assert bbb_server.requests[-1][0] == "getMeetingInfo"


async def test_release_ends_meeting(bbb_server: FakeBigBlueButton, booking: BookingInfo) -> None:
    adapter = make_adapter(bbb_server)
    conference = await adapter.provision(booking)

    await adapter.release(conference.conference_id)
    assert bbb_server.meetings == {}
    call, params, _ = bbb_server.requests[-1]
    assert call == "end"
    assert "password" in params

    # Ending again gets notFound, which counts as already released.
    await adapter.release(conference.conference_id)
    assert bbb_server.requests[-1][0] == "end"


async def test_health_reports_version_and_ports(
    bbb_server: FakeBigBlueButton, booking: BookingInfo
) -> None:
    adapter = make_adapter(bbb_server, port_capacity=50)

    report = await adapter.health()
    assert report.ok is True
    assert "API version 2.0" in report.detail
    assert report.free_ports == 50

    conference = await adapter.provision(booking)
    bbb_server.meetings[conference.conference_id].attendees = [
        Attendee("w_1", "a"),
        Attendee("w_2", "b"),
    ]
    report = await adapter.health()
    assert report.free_ports == 48
    assert "1 meeting(s) running" in report.detail
    assert bbb_server.requests[-1][0] == "getMeetings"


async def test_slow_server_times_out(bbb_server: FakeBigBlueButton, booking: BookingInfo) -> None:
    bbb_server.delay = 5
    adapter = make_adapter(bbb_server, timeout_seconds=0.3)

    started = time.monotonic()
    with pytest.raises(BridgeTimeout) as caught:
        await adapter.participants("confsvc-x")
    elapsed = time.monotonic() - started

    assert 0.25 <= elapsed < 2
    assert not isinstance(caught.value, PermanentDeliveryError)
    report = await adapter.health()
    assert report.ok is False
    assert "timed out after 0.3 s" in report.detail


async def test_server_error_is_retryable(
    bbb_server: FakeBigBlueButton, booking: BookingInfo
) -> None:
    bbb_server.fail_status = 503

    with pytest.raises(BridgeUnavailable, match="HTTP 503") as caught:
        await make_adapter(bbb_server).provision(booking)

    assert not isinstance(caught.value, PermanentDeliveryError)
