"""412 Precondition Failed and PUT replies without an ETag, replayed from recordings.

The recorded replies come from sabre/dav (Nextcloud, Baikal) and a server that rewrites
the object on PUT. The scripted server sends the recorded reply to the first request of each
scenario and replies to the follow-ups (GET, PROPFIND, second PUT) as a CalDAV server
would, so the tests check which requests the writer sends and with which conditions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from caldav_fakes import RecordedRequest, Reply, ScriptedServer, load_exchange
from icalendar import Calendar

from confsvc.errors import DeliveryError, PermanentDeliveryError
from confsvc.notify.caldav import CalDAVWriter, ResourceConflict, SyncConflict

DATA = Path(__file__).parent.parent / "data" / "20-caldav-412-precondition-and-missing-etag"
UID = "confsvc-20261210-0002@example.com"
STALE_ETAG = '"3f8af0f459061ac1a015501466f5cb1d"'

StartServer = Callable[[Callable[[RecordedRequest], Reply | None]], Awaitable[ScriptedServer]]


def stored_meeting() -> bytes:
    return (DATA / "stored-meeting.ics").read_bytes()


def rescheduled_meeting() -> bytes:
    """The stored meeting moved to 15:00-16:30 with SEQUENCE:1, as confsvc sends it."""
    return (
        stored_meeting()
        .replace(b"SEQUENCE:0", b"SEQUENCE:1")
        .replace(b"DTSTART;TZID=Asia/Shanghai:20261210T140000", b"DTSTART;TZID=Asia/Shanghai:20261210T150000")
        .replace(b"DTEND;TZID=Asia/Shanghai:20261210T153000", b"DTEND;TZID=Asia/Shanghai:20261210T163000")
    )


def edited_in_thunderbird(*, uid: str = UID) -> bytes:
    """The server copy after a user edit: own summary, an alarm and X- properties."""
    return (
        "BEGIN:VCALENDAR\r\n"
        "VERSION:2.0\r\n"
        "PRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN\r\n"
        "X-WR-CALNAME:Zhang Wei\r\n"
        "BEGIN:VEVENT\r\n"
        f"UID:{uid}\r\n"
        "DTSTAMP:20261205T080000Z\r\n"
        "SEQUENCE:0\r\n"
        "DTSTART;TZID=Asia/Shanghai:20261210T140000\r\n"
        "DTEND;TZID=Asia/Shanghai:20261210T153000\r\n"
        "SUMMARY:经营分析会（我的备注）\r\n"
        "ORGANIZER;CN=张伟:mailto:zhang.wei@example.com\r\n"
        "ATTENDEE;CN=陈静;PARTSTAT=ACCEPTED:mailto:chen.jing@example.com\r\n"
        "CATEGORIES:季度会议\r\n"
        "X-MOZ-LASTACK:20261205T080000Z\r\n"
        "X-MOZ-GENERATION:3\r\n"
        "BEGIN:VALARM\r\n"
        "ACTION:DISPLAY\r\n"
        "TRIGGER:-PT15M\r\n"
        "DESCRIPTION:提醒\r\n"
        "END:VALARM\r\n"
        "END:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    ).encode("utf-8")


def ok(status: int = 204, *, etag: str | None = None, body: bytes = b"") -> Reply:
    headers = [("ETag", etag)] if etag else []
    reason = {200: "OK", 201: "Created", 204: "No Content", 207: "Multi-Status"}[status]
    return Reply(status=status, reason=reason, headers=headers, body=body)


def calendar_object(body: bytes, *, etag: str) -> Reply:
    return Reply(
        status=200,
        reason="OK",
        headers=[("Content-Type", "text/calendar; charset=utf-8"), ("ETag", etag)],
        body=body,
    )


def etag_multistatus(path: str, etag: str | None) -> Reply:
    prop = f"<d:getetag>{etag}</d:getetag>" if etag else "<d:getetag/>"
    status = "HTTP/1.1 200 OK" if etag else "HTTP/1.1 404 Not Found"
    body = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<d:multistatus xmlns:d="DAV:"><d:response>'
        f"<d:href>{path}</d:href>"
        f"<d:propstat><d:prop>{prop}</d:prop><d:status>{status}</d:status></d:propstat>"
        "</d:response></d:multistatus>"
    ).encode("utf-8")
    return Reply(
        status=207,
        reason="Multi-Status",
        headers=[("Content-Type", "application/xml; charset=utf-8")],
        body=body,
    )


def request_path(exchange_file: str) -> str:
    return load_exchange(DATA / exchange_file).request_line.split(" ")[1]


def assert_no_empty_if_match(requests: list[RecordedRequest]) -> None:
    for request in requests:
        assert request.headers.get("if-match", "missing").strip('"') != ""


def event_of(body: bytes) -> Calendar:
    calendar = Calendar.from_ical(body)
    events = [sub for sub in calendar.subcomponents if sub.name == "VEVENT"]
    assert len(events) == 1
    return events[0]


def writer_for(server: ScriptedServer) -> CalDAVWriter:
    return CalDAVWriter(server.base_url, username="confsvc", password="service-secret", timeout=5.0)


# Case 1: create with If-None-Match: *, the resource already exists.


async def test_create_412_same_uid_continues_as_update(scripted_server: StartServer) -> None:
    exchange = load_exchange(DATA / "exchange-1-create-exists-412.http")
    path = request_path("exchange-1-create-exists-412.http")
    server_copy = edited_in_thunderbird()

    def handle(request: RecordedRequest) -> Reply | None:
        if request.method == "PUT" and "if-none-match" in request.headers:
            return exchange.reply
        if request.method == "GET":
            return calendar_object(server_copy, etag='"fetched-1"')
        if request.method == "PUT" and request.headers.get("if-match") == '"fetched-1"':
            return ok(204, etag='"written-2"')
        return Reply(status=500, reason="Unexpected request")

    server = await scripted_server(handle)
    async with writer_for(server) as writer:
        result = await writer.put_event(
            f"{server.base_url}/remote.php/dav/calendars/zhang.wei/personal/",
            UID,
            stored_meeting(),
            etag=None,
            href=path,
        )

    methods = [request.method for request in server.requests]
    assert methods == ["PUT", "GET", "PUT"]
    create, fetch, update = server.requests
    assert create.path == path
    assert create.headers["if-none-match"] == exchange.request_headers["if-none-match"] == "*"
    assert "if-match" not in create.headers
    assert create.headers["content-type"] == "text/calendar; charset=utf-8"
    assert b"METHOD:" not in create.body
    assert fetch.path == path
    assert update.path == path
    assert update.headers["if-match"] == '"fetched-1"'
    assert "if-none-match" not in update.headers

    merged = event_of(update.body)
    assert str(merged["SUMMARY"]) == "2026年第4季度经营分析会"
    assert str(merged["X-MOZ-LASTACK"]) == "20261205T080000Z"
    assert [sub.name for sub in merged.subcomponents] == ["VALARM"]
    assert len(merged["ATTENDEE"]) == 2

    assert result.href == f"{server.base_url}{path}"
    assert result.etag == '"written-2"'
    assert result.created is False
    assert "SUMMARY" in result.overwritten


async def test_create_412_other_uid_raises_conflict(scripted_server: StartServer) -> None:
    exchange = load_exchange(DATA / "exchange-1-create-exists-412.http")
    path = request_path("exchange-1-create-exists-412.http")
    other_meeting = edited_in_thunderbird(uid="someone-else-meeting@example.com")

    def handle(request: RecordedRequest) -> Reply | None:
        if request.method == "PUT":
            return exchange.reply
        return calendar_object(other_meeting, etag='"other"')

    server = await scripted_server(handle)
    async with writer_for(server) as writer:
        with pytest.raises(ResourceConflict) as caught:
            await writer.put_event(
                f"{server.base_url}/remote.php/dav/calendars/zhang.wei/personal/",
                UID,
                stored_meeting(),
                etag=None,
                href=path,
            )

    assert isinstance(caught.value, PermanentDeliveryError)
    assert path in str(caught.value)
    assert caught.value.found_uid == "someone-else-meeting@example.com"
    assert [request.method for request in server.requests] == ["PUT", "GET"]


# Case 2: update with a stale If-Match.


async def test_update_412_merges_and_writes_with_new_etag(scripted_server: StartServer) -> None:
    exchange = load_exchange(DATA / "exchange-2-update-stale-etag-412.http")
    path = request_path("exchange-2-update-stale-etag-412.http")

    def handle(request: RecordedRequest) -> Reply | None:
        if request.method == "PUT" and request.headers.get("if-match") == STALE_ETAG:
            return exchange.reply
        if request.method == "GET":
            return calendar_object(edited_in_thunderbird(), etag='"after-user-edit"')
        if request.method == "PUT" and request.headers.get("if-match") == '"after-user-edit"':
            return ok(204, etag='"merged"')
        return Reply(status=500, reason="Unexpected request")

    server = await scripted_server(handle)
    async with writer_for(server) as writer:
        result = await writer.put_event(
            f"{server.base_url}/remote.php/dav/calendars/zhang.wei/personal/",
            UID,
            rescheduled_meeting(),
            etag=STALE_ETAG,
            href=path,
        )

    assert [request.method for request in server.requests] == ["PUT", "GET", "PUT"]
    first, _fetch, second = server.requests
    assert first.headers["if-match"] == exchange.request_headers["if-match"] == STALE_ETAG
    assert "if-none-match" not in first.headers
    assert second.headers["if-match"] == '"after-user-edit"'

    merged = event_of(second.body)
    # confsvc's scheduling properties win.
    assert merged["DTSTART"].to_ical() == b"20261210T150000"
    assert merged["DTSTART"].params["TZID"] == "Asia/Shanghai"
    assert merged["DTEND"].to_ical() == b"20261210T163000"
    assert merged["SEQUENCE"] == 1
    assert str(merged["SUMMARY"]) == "2026年第4季度经营分析会"
    assert [str(attendee) for attendee in merged["ATTENDEE"]] == [
        "mailto:chen.jing@example.com",
        "mailto:li.na@example.com",
    ]
    assert merged["ATTENDEE"][0].params["PARTSTAT"] == "NEEDS-ACTION"
    # What other clients added stays.
    assert str(merged["X-MOZ-LASTACK"]) == "20261205T080000Z"
    assert str(merged["X-MOZ-GENERATION"]) == "3"
    assert merged["CATEGORIES"].to_ical() == "季度会议".encode()
    alarms = [sub for sub in merged.subcomponents if sub.name == "VALARM"]
    assert len(alarms) == 1
    assert alarms[0]["TRIGGER"].to_ical() == b"-PT15M"
    assert b"X-WR-CALNAME:Zhang Wei" in second.body

    assert result.etag == '"merged"'
    assert result.created is False
    for name in ("DTSTART", "DTEND", "SUMMARY", "ATTENDEE"):
        assert name in result.overwritten


async def test_update_412_three_times_raises_sync_conflict(scripted_server: StartServer) -> None:
    exchange = load_exchange(DATA / "exchange-2-update-stale-etag-412.http")
    path = request_path("exchange-2-update-stale-etag-412.http")
    versions = iter(range(1, 10))

    def handle(request: RecordedRequest) -> Reply | None:
        if request.method == "PUT":
            return exchange.reply
        return calendar_object(edited_in_thunderbird(), etag=f'"edit-{next(versions)}"')

    server = await scripted_server(handle)
    async with writer_for(server) as writer:
        with pytest.raises(SyncConflict) as caught:
            await writer.put_event(
                f"{server.base_url}/remote.php/dav/calendars/zhang.wei/personal/",
                UID,
                rescheduled_meeting(),
                etag=STALE_ETAG,
                href=path,
            )

    assert isinstance(caught.value, DeliveryError)
    assert not isinstance(caught.value, PermanentDeliveryError)
    assert caught.value.attempts == 3
    assert "sync conflict" in str(caught.value)
    assert path in str(caught.value)
    assert [request.method for request in server.requests] == ["PUT", "GET", "PUT", "GET", "PUT"]
    if_matches = [request.headers["if-match"] for request in server.requests if request.method == "PUT"]
    assert if_matches == [STALE_ETAG, '"edit-1"', '"edit-2"']


async def test_update_404_recreates_with_if_none_match(scripted_server: StartServer) -> None:
    def handle(request: RecordedRequest) -> Reply | None:
        if request.method == "PUT" and "if-match" in request.headers:
            return Reply(status=404, reason="Not Found")
        if request.method == "PUT" and request.headers.get("if-none-match") == "*":
            return ok(201, etag='"recreated"')
        return Reply(status=500, reason="Unexpected request")

    server = await scripted_server(handle)
    async with writer_for(server) as writer:
        result = await writer.put_event(
            f"{server.base_url}/cal/", UID, rescheduled_meeting(), etag='"old"'
        )

    assert [request.method for request in server.requests] == ["PUT", "PUT"]
    assert server.requests[0].headers["if-match"] == '"old"'
    assert server.requests[1].headers["if-none-match"] == "*"
    assert "if-match" not in server.requests[1].headers
    assert server.requests[1].path == f"/cal/{UID}.ics"
    assert result.created is True
    assert result.etag == '"recreated"'


# Case 3: 201 Created without an ETag.


async def test_created_without_etag_fetches_it_by_propfind(scripted_server: StartServer) -> None:
    exchange = load_exchange(DATA / "exchange-3-put-ok-without-etag.http")
    path = request_path("exchange-3-put-ok-without-etag.http")
    assert exchange.reply.header("ETag") is None
    assert exchange.reply.header("Schedule-Tag") == '"1733990400-12"'
    uid = "confsvc-20261210-0003@example.com"
    meeting = stored_meeting().replace(UID.encode(), uid.encode())

    def handle(request: RecordedRequest) -> Reply | None:
        if request.method == "PUT" and request.headers.get("if-none-match") == "*":
            return exchange.reply
        if request.method == "PROPFIND":
            return etag_multistatus(path, '"rewritten-1"')
        if request.method == "PUT" and request.headers.get("if-match") == '"rewritten-1"':
            return ok(204, etag='"rewritten-2"')
        return Reply(status=500, reason="Unexpected request")

    server = await scripted_server(handle)
    async with writer_for(server) as writer:
        created = await writer.put_event(
            f"{server.base_url}/dav/calendars/user/zhang.wei@example.com/Default/",
            uid,
            meeting,
            etag=None,
            href=path,
        )
        updated = await writer.put_event(
            f"{server.base_url}/dav/calendars/user/zhang.wei@example.com/Default/",
            uid,
            meeting.replace(b"SEQUENCE:0", b"SEQUENCE:1"),
            etag=created.etag,
            href=created.href,
        )

    assert [request.method for request in server.requests] == ["PUT", "PROPFIND", "PUT"]
    create, propfind, update = server.requests
    assert create.headers["if-none-match"] == "*"
    assert propfind.path == path
    assert propfind.headers["depth"] == "0"
    assert b"getetag" in propfind.body
    assert update.headers["if-match"] == '"rewritten-1"'
    assert created.created is True
    assert created.etag == '"rewritten-1"'
    assert updated.etag == '"rewritten-2"'
    assert_no_empty_if_match(server.requests)


async def test_unknown_etag_never_sends_empty_if_match(scripted_server: StartServer) -> None:
    exchange = load_exchange(DATA / "exchange-3-put-ok-without-etag.http")
    path = "/dav/calendars/user/zhang.wei@example.com/Default/confsvc-20261210-0003.ics"
    uid = "confsvc-20261210-0003@example.com"
    meeting = stored_meeting().replace(UID.encode(), uid.encode())
    stored: list[bytes] = []

    def handle(request: RecordedRequest) -> Reply | None:
        if request.method == "PUT" and request.headers.get("if-none-match") == "*":
            if not stored:
                stored.append(request.body)
                return exchange.reply
            return load_exchange(DATA / "exchange-1-create-exists-412.http").reply
        if request.method == "PROPFIND":
            return etag_multistatus(path, None)
        if request.method == "GET":
            return calendar_object(stored[0], etag='"via-get"')
        if request.method == "PUT" and request.headers.get("if-match") == '"via-get"':
            return ok(204, etag='"updated"')
        return Reply(status=500, reason="Unexpected request")

    server = await scripted_server(handle)
    async with writer_for(server) as writer:
        created = await writer.put_event(
            f"{server.base_url}/dav/", uid, meeting, etag=None, href=path
        )
        assert created.etag is None
        updated = await writer.put_event(
            f"{server.base_url}/dav/", uid, meeting, etag=created.etag or "", href=created.href
        )

    methods = [request.method for request in server.requests]
    assert methods == ["PUT", "PROPFIND", "PUT", "GET", "PUT"]
    assert server.requests[2].headers["if-none-match"] == "*"
    assert server.requests[4].headers["if-match"] == '"via-get"'
    assert updated.etag == '"updated"'
    assert_no_empty_if_match(server.requests)


# Delete


async def test_delete_412_refetches_and_retries(scripted_server: StartServer) -> None:
    path = f"/cal/{UID}.ics"

    def handle(request: RecordedRequest) -> Reply | None:
        if request.method == "DELETE" and request.headers.get("if-match") == '"mine"':
            return Reply(status=412, reason="Precondition Failed")
        if request.method == "GET":
            return calendar_object(edited_in_thunderbird(), etag='"theirs"')
        if request.method == "DELETE" and request.headers.get("if-match") == '"theirs"':
            return ok(204)
        return Reply(status=500, reason="Unexpected request")

    server = await scripted_server(handle)
    async with writer_for(server) as writer:
        await writer.delete_event(f"{server.base_url}/cal/", UID, etag='"mine"')

    assert [(r.method, r.path) for r in server.requests] == [
        ("DELETE", path),
        ("GET", path),
        ("DELETE", path),
    ]


async def test_delete_missing_resource_succeeds(scripted_server: StartServer) -> None:
    def handle(request: RecordedRequest) -> Reply | None:
        return Reply(status=404, reason="Not Found")

    server = await scripted_server(handle)
    async with writer_for(server) as writer:
        await writer.delete_event(f"{server.base_url}/cal/", UID, etag='"gone"')
        await writer.delete_event(f"{server.base_url}/cal/", UID, etag=None)

    assert [request.method for request in server.requests] == ["DELETE", "GET"]
    assert server.requests[0].headers["if-match"] == '"gone"'


async def test_delete_keeps_failing_raises_sync_conflict(scripted_server: StartServer) -> None:
    versions = iter(range(1, 10))

    def handle(request: RecordedRequest) -> Reply | None:
        if request.method == "DELETE":
            return Reply(status=412, reason="Precondition Failed")
        return calendar_object(edited_in_thunderbird(), etag=f'"edit-{next(versions)}"')

    server = await scripted_server(handle)
    async with writer_for(server) as writer:
        with pytest.raises(SyncConflict):
            await writer.delete_event(f"{server.base_url}/cal/", UID, etag=None)

    methods = [request.method for request in server.requests]
    assert methods == ["GET", "DELETE", "GET", "DELETE", "GET", "DELETE"]
    assert_no_empty_if_match(server.requests)
