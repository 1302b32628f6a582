"""The CalDAV writer against a real Radicale server.

The six UIDs are ones that break naive clients: an Outlook global object id, a URL, base64
with ``/`` and ``+``, a value with ``//``, one with ``@`` and one with Chinese characters
and a space.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest
from caldav_fakes import RadicaleServer, RecordingTransport
from icalendar import Calendar

from confsvc.errors import PermanentDeliveryError
from confsvc.notify.caldav import (
    CalDAVRejected,
    CalDAVWriter,
    CalendarNotFound,
    resource_name,
)

DATA = Path(__file__).parent.parent / "data" / "19-caldav-uid-special-characters"


def load_uids() -> dict[str, str]:
    uids = {}
    for line in (DATA / "uids.tsv").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            label, uid = line.split("\t")
            uids[label] = uid
    return uids


UIDS = load_uids()


def writer_for(
    radicale: RadicaleServer, transport: httpx.AsyncBaseTransport | None = None, **templates: str
) -> CalDAVWriter:
    return CalDAVWriter(
        radicale.base_url,
        username=radicale.username,
        password=radicale.password,
        timeout=10.0,
        transport=transport,
        calendar_url_template=templates.get("calendar_url_template"),
        principal_url_template=templates.get("principal_url_template"),
    )


def stored_uids(data: bytes) -> list[str]:
    calendar = Calendar.from_ical(data)
    return [str(sub["UID"]) for sub in calendar.subcomponents if sub.name == "VEVENT"]


async def list_resources(radicale: RadicaleServer, calendar_url: str) -> dict[str, bytes]:
    """Return every object in the calendar by href, read by another client."""
    body = (
        b'<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" '
        b'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data/></D:prop>'
        b'<C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>'
    )
    async with httpx.AsyncClient(auth=(radicale.username, radicale.password)) as client:
        response = await client.request("REPORT", calendar_url, headers={"Depth": "1"}, content=body)
    assert response.status_code == 207
    root = ET.fromstring(response.content)
    resources = {}
    for node in root.findall("{DAV:}response"):
        data = node.findtext(".//{urn:ietf:params:xml:ns:caldav}calendar-data")
        if data:
            resources[node.findtext("{DAV:}href") or ""] = data.encode("utf-8")
    return resources


def assert_safe_put_path(request: httpx.Request) -> None:
    path = request.url.raw_path.decode("ascii")
    name = path.rsplit("/", 1)[-1]
    assert "https:" not in path
    assert "//" not in path
    assert " " not in path
    assert path.isascii()
    assert name.endswith(".ics")


@pytest.mark.parametrize("label", list(UIDS))
async def test_special_uid_round_trip(
    radicale: RadicaleServer, radicale_calendar: str, label: str
) -> None:
    uid = UIDS[label]
    ics = (DATA / f"event-{label}.ics").read_bytes()
    transport = RecordingTransport()

    async with writer_for(radicale, transport) as writer:
        # Create: one PUT to <calendar>/<safe name>.
        created = await writer.put_event(radicale_calendar, uid, ics, etag=None)
        puts = [request for request in transport.requests if request.method == "PUT"]
        assert len(puts) == 1
        assert_safe_put_path(puts[0])
        assert puts[0].url.raw_path.decode("ascii").rsplit("/", 1)[-1] == resource_name(uid)
        assert puts[0].headers["If-None-Match"] == "*"
        assert created.created is True
        assert created.etag

        # The stored UID is exactly the one sent.
        fetched = await writer.get_event(created.href)
        assert fetched is not None
        assert stored_uids(fetched.data) == [uid]
        assert fetched.etag == created.etag

        # Look-up by UID finds it, and the server's href is used as given.
        found = await writer.find_by_uid(radicale_calendar, uid)
        assert len(found) == 1
        assert stored_uids(found[0].data) == [uid]
        assert found[0].etag == created.etag

        # Update through the server's href and ETag.
        changed = ics.replace(b"T150000", b"T163000")
        updated = await writer.put_event(
            radicale_calendar, uid, changed, etag=found[0].etag, href=found[0].href
        )
        assert updated.created is False
        assert updated.etag not in (None, created.etag)

        # A second create of the same UID (ETag lost) updates the same resource.
        again = await writer.put_event(radicale_calendar, uid, changed, etag=None)
        assert again.created is False

        resources = await list_resources(radicale, radicale_calendar)
        assert len(resources) == 1
        (only,) = resources.values()
        assert stored_uids(only) == [uid]
        assert b"T163000" in only

        # Delete, then delete again: already gone counts as success.
        await writer.delete_event(radicale_calendar, uid, etag=again.etag)
        assert await writer.find_by_uid(radicale_calendar, uid) == []
        await writer.delete_event(radicale_calendar, uid, etag=None)

    for request in transport.requests:
        if request.method in ("PUT", "DELETE"):
            assert request.headers.get("If-Match", "*") != ""
            assert_safe_put_path(request)
    await transport.aclose()


async def test_uid_under_other_name_is_updated_in_place(
    radicale: RadicaleServer, radicale_calendar: str
) -> None:
    uid = UIDS["at-sign"]
    ics = (DATA / "event-at-sign.ics").read_bytes()
    async with httpx.AsyncClient(auth=(radicale.username, radicale.password)) as other_client:
        stored = await other_client.put(
            f"{radicale_calendar}made-by-phone.ics",
            content=ics,
            headers={"Content-Type": "text/calendar; charset=utf-8"},
        )
    assert stored.status_code == 201

    async with writer_for(radicale) as writer:
        result = await writer.put_event(
            radicale_calendar, uid, ics.replace(b"T150000", b"T170000"), etag=None
        )

    assert result.href == f"{radicale_calendar}made-by-phone.ics"
    assert result.created is False
    resources = await list_resources(radicale, radicale_calendar)
    assert list(resources) == [f"{radicale_calendar.removeprefix(radicale.base_url[:-1])}made-by-phone.ics"]
    assert b"T170000" in resources[list(resources)[0]]


async def test_stale_etag_keeps_alarm_from_other_client(
    radicale: RadicaleServer, radicale_calendar: str
) -> None:
    uid = UIDS["double-slash"]
    ics = (DATA / "event-double-slash.ics").read_bytes()

    async with writer_for(radicale) as writer:
        created = await writer.put_event(radicale_calendar, uid, ics, etag=None)

        # Another client adds an alarm and an X- property.
        with_alarm = ics.replace(
            b"END:VEVENT",
            b"X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC\r\n"
            b"BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT10M\r\nDESCRIPTION:Reminder\r\n"
            b"END:VALARM\r\nEND:VEVENT",
        )
        async with httpx.AsyncClient(auth=(radicale.username, radicale.password)) as other_client:
            edited = await other_client.put(
                created.href,
                content=with_alarm,
                headers={"If-Match": created.etag or "", "Content-Type": "text/calendar"},
            )
        assert edited.status_code in (201, 204)

        moved = ics.replace(b"T140000", b"T093000").replace(b"T150000", b"T103000")
        result = await writer.put_event(radicale_calendar, uid, moved, etag=created.etag)

        stored = await writer.get_event(result.href)

    assert stored is not None
    assert stored.etag == result.etag
    event = next(sub for sub in Calendar.from_ical(stored.data).subcomponents if sub.name == "VEVENT")
    assert str(event["UID"]) == uid
    assert event["DTSTART"].to_ical() == b"20261210T093000"
    assert str(event["X-APPLE-TRAVEL-ADVISORY-BEHAVIOR"]) == "AUTOMATIC"
    assert [sub.name for sub in event.subcomponents] == ["VALARM"]


async def test_403_from_radicale_is_permanent(radicale: RadicaleServer, radicale_calendar: str) -> None:
    writer = CalDAVWriter(
        radicale.base_url,
        username=radicale.outsider_username,
        password=radicale.outsider_password,
        timeout=10.0,
    )
    uid = UIDS["at-sign"]
    async with writer:
        with pytest.raises(CalDAVRejected) as caught:
            await writer.put_event(
                radicale_calendar, uid, (DATA / "event-at-sign.ics").read_bytes(), etag=None
            )

    assert isinstance(caught.value, PermanentDeliveryError)
    assert caught.value.status == 403
    assert resource_name(uid) in str(caught.value)


async def test_discovery_from_principal_template(
    radicale: RadicaleServer, radicale_calendar: str
) -> None:
    user = radicale_calendar.removeprefix(radicale.base_url).split("/")[0]
    writer = writer_for(radicale, principal_url_template="{base}/{user}/")

    async with writer:
        url = await writer.calendar_url_for(f"{user}@example.com")

    assert url == radicale_calendar


async def test_calendar_template_mapping(radicale: RadicaleServer) -> None:
    writer = writer_for(radicale, calendar_url_template="{base}/{email}/calendar/")

    async with writer:
        url = await writer.calendar_url_for("zhang.wei+cn@example.com")

    assert url == f"{radicale.base_url}zhang.wei+cn@example.com/calendar/"


async def test_discovery_without_calendars_fails(radicale: RadicaleServer) -> None:
    async with writer_for(radicale) as writer:
        with pytest.raises(CalendarNotFound) as caught:
            await writer.calendar_url_for("service@example.com")

    assert f"/{radicale.username}/" in str(caught.value)


async def test_find_by_uid_ignores_substring_matches(
    radicale: RadicaleServer, radicale_calendar: str
) -> None:
    ics = (DATA / "event-at-sign.ics").read_bytes()
    uid = UIDS["at-sign"]
    longer_uid = f"{uid}-copy"
    xml_uid = "R&D <review> 2026@example.com"

    async with writer_for(radicale) as writer:
        await writer.put_event(radicale_calendar, uid, ics, etag=None)
        await writer.put_event(
            radicale_calendar, longer_uid, ics.replace(uid.encode(), longer_uid.encode()), etag=None
        )
        await writer.put_event(
            radicale_calendar, xml_uid, ics.replace(uid.encode(), xml_uid.encode()), etag=None
        )

        exact = await writer.find_by_uid(radicale_calendar, uid)
        longer = await writer.find_by_uid(radicale_calendar, longer_uid)
        with_markup = await writer.find_by_uid(radicale_calendar, xml_uid)
        missing = await writer.find_by_uid(radicale_calendar, "no-such-uid@example.com")

    assert [stored_uids(event.data) for event in exact] == [[uid]]
    assert [stored_uids(event.data) for event in longer] == [[longer_uid]]
    assert [stored_uids(event.data) for event in with_markup] == [[xml_uid]]
    assert missing == []
