"""Test doubles at the network edge for the CalDAV writer tests.

``ScriptedServer`` is a minimal HTTP/1.1 server on a loopback socket. A handler function
returns the reply for each request (or None to never reply), and every request is
recorded so that tests can assert the exact follow-up requests of the writer.
``load_exchange`` reads the recorded ``.http`` exchanges under tests/data.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class RadicaleServer:
    """Address and accounts of the Radicale test server."""

    base_url: str
    storage: Path
    username: str = "confsvc"
    password: str = "service-secret"
    outsider_username: str = "outsider"
    outsider_password: str = "outsider-secret"


class RecordingTransport(httpx.AsyncBaseTransport):
    """Real HTTP transport that keeps every request sent through it."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@dataclass
class RecordedRequest:
    method: str
    path: str
    """Request target exactly as sent on the wire."""
    headers: dict[str, str]
    """Header names in lower case."""
    body: bytes


@dataclass
class Reply:
    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


Handler = Callable[[RecordedRequest], Reply | None]


class ScriptedServer:
    """HTTP/1.1 server on 127.0.0.1 whose replies come from ``handler``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[RecordedRequest] = []
        self._server: asyncio.Server | None = None
        self._stopping = asyncio.Event()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                request = await self._read_request(head, reader)
                self.requests.append(request)

                reply = self.handler(request)
                if reply is None:
                    await self._stopping.wait()
                    return
                writer.write(_encode_reply(reply))
                await writer.drain()
        finally:
            writer.close()

    @staticmethod
    async def _read_request(head: bytes, reader: asyncio.StreamReader) -> RecordedRequest:
        lines = head.decode("latin-1").split("\r\n")
        method, path, _version = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = await reader.readexactly(length) if length else b""
        return RecordedRequest(method=method, path=path, headers=headers, body=body)


def _encode_reply(reply: Reply) -> bytes:
    lines = [f"HTTP/1.1 {reply.status} {reply.reason}"]
    lines += [f"{name}: {value}" for name, value in reply.headers if name.lower() != "content-length"]
    lines.append(f"Content-Length: {len(reply.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + reply.body


# Recorded exchanges


@dataclass(frozen=True)
class RecordedExchange:
    request_line: str
    request_headers: dict[str, str]
    """Header names in lower case."""
    reply: Reply


def load_exchange(path: Path) -> RecordedExchange:
    """Read a ``.http`` recording: ``> `` request lines, ``< `` reply head, then the body.

    A reply with ``Content-Length: 0`` has no body, so the text after its head is a note.
    """
    lines = path.read_bytes().decode("utf-8").split("\r\n")
    request = [line[2:] for line in lines if line.startswith("> ")]
    request_headers = {}
    for line in request[1:]:
        name, _, value = line.partition(":")
        if value:
            request_headers[name.strip().lower()] = value.strip()

    reply_start = next(i for i, line in enumerate(lines) if line.startswith("< HTTP/"))
    reply_end = lines.index("<", reply_start)
    _version, status, reason = lines[reply_start][2:].split(" ", 2)
    headers = []
    for line in lines[reply_start + 1 : reply_end]:
        name, _, value = line[2:].partition(":")
        headers.append((name.strip(), value.strip()))

    reply = Reply(status=int(status), reason=reason, headers=headers)
    if reply.header("Content-Length") != "0":
        reply.body = "\r\n".join(lines[reply_end + 1 :]).encode("utf-8")
    return RecordedExchange(request_line=request[0], request_headers=request_headers, reply=reply)
