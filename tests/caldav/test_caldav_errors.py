"""Mapping of server failures, timeouts and bad input to delivery errors."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from caldav_fakes import RecordedRequest, Reply, ScriptedServer, free_port

from confsvc.errors import DeliveryError, PermanentDeliveryError
from confsvc.notify.caldav import (
    CalDAVRejected,
    CalDAVUnavailable,
    CalDAVWriter,
    InvalidDeliveryInput,
)

DATA = Path(__file__).parent.parent / "data" / "20-caldav-412-precondition-and-missing-etag"
UID = "confsvc-20261210-0002@example.com"

StartServer = Callable[[Callable[[RecordedRequest], Reply | None]], Awaitable[ScriptedServer]]


def meeting() -> bytes:
    return (DATA / "stored-meeting.ics").read_bytes()


def writer_for(base_url: str, *, timeout: float = 5.0) -> CalDAVWriter:
    return CalDAVWriter(base_url, username="confsvc", password="service-secret", timeout=timeout)


@pytest.mark.parametrize("status", [500, 502, 503, 507])
async def test_5xx_is_retryable(scripted_server: StartServer, status: int) -> None:
    server = await scripted_server(lambda request: Reply(status=status, reason="Server Error"))

    async with writer_for(server.base_url) as writer:
        with pytest.raises(CalDAVUnavailable) as caught:
            await writer.put_event(f"{server.base_url}/cal/", UID, meeting(), etag=None)

    assert isinstance(caught.value, DeliveryError)
    assert not isinstance(caught.value, PermanentDeliveryError)
    assert caught.value.status == status
    assert str(status) in str(caught.value)
    assert len(server.requests) == 1


@pytest.mark.parametrize("status", [408, 429])
async def test_throttling_statuses_are_retryable(scripted_server: StartServer, status: int) -> None:
    server = await scripted_server(lambda request: Reply(status=status, reason="Try Later"))

    async with writer_for(server.base_url) as writer:
        with pytest.raises(CalDAVUnavailable) as caught:
            await writer.put_event(f"{server.base_url}/cal/", UID, meeting(), etag='"e1"')

    assert caught.value.status == status


async def test_403_is_permanent_with_status_and_href(scripted_server: StartServer) -> None:
    server = await scripted_server(lambda request: Reply(status=403, reason="Forbidden"))

    async with writer_for(server.base_url) as writer:
        with pytest.raises(CalDAVRejected) as caught:
            await writer.put_event(f"{server.base_url}/cal/", UID, meeting(), etag=None)

    assert isinstance(caught.value, PermanentDeliveryError)
    assert caught.value.status == 403
    assert "403" in str(caught.value)
    assert f"/cal/{UID}.ics" in str(caught.value)
    assert caught.value.href == f"{server.base_url}/cal/{UID}.ics"


@pytest.mark.parametrize("status", [400, 401, 404, 415])
async def test_other_4xx_on_create_is_permanent(scripted_server: StartServer, status: int) -> None:
    server = await scripted_server(lambda request: Reply(status=status, reason="Client Error"))

    async with writer_for(server.base_url) as writer:
        with pytest.raises(CalDAVRejected) as caught:
            await writer.put_event(f"{server.base_url}/cal/", UID, meeting(), etag=None)

    assert caught.value.status == status
    assert len(server.requests) == 1


async def test_delete_403_is_permanent(scripted_server: StartServer) -> None:
    server = await scripted_server(lambda request: Reply(status=403, reason="Forbidden"))

    async with writer_for(server.base_url) as writer:
        with pytest.raises(CalDAVRejected) as caught:
            await writer.delete_event(f"{server.base_url}/cal/", UID, etag='"e1"')

    assert caught.value.status == 403


async def test_timeout_is_retryable(scripted_server: StartServer) -> None:
    server = await scripted_server(lambda request: None)

    started = time.monotonic()
    async with writer_for(server.base_url, timeout=0.3) as writer:
        with pytest.raises(CalDAVUnavailable) as caught:
            await writer.put_event(f"{server.base_url}/cal/", UID, meeting(), etag=None)
    elapsed = time.monotonic() - started

    assert caught.value.status is None
    assert "timed out" in str(caught.value)
    assert elapsed < 3.0
    assert len(server.requests) == 1


async def test_connection_refused_is_retryable() -> None:
    base_url = f"http://127.0.0.1:{free_port()}"

    async with writer_for(base_url, timeout=1.0) as writer:
        with pytest.raises(CalDAVUnavailable) as caught:
            await writer.find_by_uid(f"{base_url}/cal/", UID)

    assert caught.value.status is None
    assert isinstance(caught.value.__cause__, Exception)


async def test_invalid_multistatus_is_permanent(scripted_server: StartServer) -> None:
    server = await scripted_server(
        lambda request: Reply(status=207, reason="Multi-Status", body=b"<html>not dav</html>")
    )

    async with writer_for(server.base_url) as writer:
        with pytest.raises(CalDAVRejected) as caught:
            await writer.find_by_uid(f"{server.base_url}/cal/", UID)

    assert "invalid reply" in str(caught.value)


async def test_href_on_other_host_is_rejected(scripted_server: StartServer) -> None:
    body = (
        b'<?xml version="1.0"?><d:multistatus xmlns:d="DAV:"><d:response>'
        b"<d:href>http://elsewhere.example.net/cal/x.ics</d:href>"
        b"<d:propstat><d:prop><d:getetag>\"1\"</d:getetag></d:prop>"
        b"<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>"
    )
    server = await scripted_server(lambda request: Reply(status=207, reason="Multi-Status", body=body))

    async with writer_for(server.base_url) as writer:
        with pytest.raises(CalDAVRejected) as caught:
            await writer.find_by_uid(f"{server.base_url}/cal/", UID)

    assert "elsewhere.example.net" in str(caught.value)
    assert len(server.requests) == 1


async def test_event_with_other_uid_is_rejected(scripted_server: StartServer) -> None:
    server = await scripted_server(lambda request: Reply(status=201, reason="Created"))

    async with writer_for(server.base_url) as writer:
        with pytest.raises(InvalidDeliveryInput) as caught:
            await writer.put_event(f"{server.base_url}/cal/", "another-uid", meeting(), etag=None)
        with pytest.raises(InvalidDeliveryInput):
            await writer.put_event(f"{server.base_url}/cal/", UID, b"not a calendar", etag=None)
        with pytest.raises(InvalidDeliveryInput):
            await writer.delete_event(f"{server.base_url}/cal/", "", etag=None)

    assert isinstance(caught.value, PermanentDeliveryError)
    assert "another-uid" in str(caught.value)
    assert server.requests == []


async def test_invalid_email_for_template_is_rejected() -> None:
    writer = CalDAVWriter(
        "http://127.0.0.1:9/",
        username="confsvc",
        password="service-secret",
        calendar_url_template="{base}/{email}/calendar/",
    )
    async with writer:
        with pytest.raises(InvalidDeliveryInput):
            await writer.calendar_url_for("no-at-sign")
