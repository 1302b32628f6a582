"""Shared parts of the load scripts: a lean HTTP/1.1 client, the seed data and the
request mix (availability, meeting lists, bookings, iTIP replies and minutes saves).

The client writes prebuilt request bytes on keep-alive connections and parses only the
status line, ``Content-Length`` and chunked bodies, so the load generator spends tens of
microseconds per request instead of the milliseconds a full-featured client costs. It
supports exactly what ``confsvc serve`` (uvicorn) sends back and nothing more.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

import httpx

READ_KINDS = ("availability", "list")
WRITE_KINDS = ("booking", "reply", "minutes")
ATTENDEE = "li.na@example.com"


class RawConnection:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1; one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> RawConnection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def request(self, payload: bytes) -> tuple[int, bytes]:
        """Send one complete request and return the status code and body."""
        self.writer.write(payload)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = None
        chunked = False
        for line in lines[1:]:
            name, _sep, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            body = bytearray()
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                body += await self.reader.readexactly(size + 2)
                del body[-2:]
            return status, bytes(body)
        return status, (await self.reader.readexactly(length) if length else b"")

    def close(self) -> None:
        self.writer.close()


MAX_IDLE_S = 2.0
"""Idle connections older than this are closed instead of reused: uvicorn closes a
keep-alive connection after 5 s without a request, and a request written into a closing
connection would fail."""


class ConnectionPool:
    """Idle keep-alive connections to one service process; opens more on demand."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.idle: list[tuple[float, RawConnection]] = []

    async def _connection(self) -> RawConnection:
        now = time.monotonic()
        while self.idle:
            released, connection = self.idle.pop()
            if now - released < MAX_IDLE_S:
                return connection
            connection.close()
        return await RawConnection.open(self.host, self.port)

    async def request(self, payload: bytes) -> tuple[int, bytes]:
        connection = await self._connection()
        try:
            result = await connection.request(payload)
        except BaseException:
            connection.close()
            raise
        self.idle.append((time.monotonic(), connection))
        return result

    def close(self) -> None:
        for _released, connection in self.idle:
            connection.close()
        self.idle.clear()


def build_request(method: str, path: str, *, token: str, params: dict[str, object] | None = None,
                  body: bytes = b"", content_type: str = "application/json") -> bytes:
    """Return the bytes of one HTTP/1.1 request with the Bearer token."""
    target = f"{path}?{urlencode(params)}" if params else path
    head = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {token}"]
    if body or method in ("POST", "PUT", "PATCH"):
        head += [f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@dataclass
class Seed:
    """Ids created before a run: bridges to book on, and meetings to reply to and write minutes for."""

    bridges: list[str]
    reply_meetings: list[dict[str, str]]
    minutes_meetings: list[str]
    base: datetime = field(default_factory=lambda: datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=5))


async def seed(url: str, *, admin_headers: dict[str, str], organiser_headers: dict[str, str],
               bridges: int = 5, meetings: int = 40) -> Seed:
    """Create bridges and ``meetings`` meetings (with one invited attendee) through the API."""
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=5)
    result = Seed(bridges=[], reply_meetings=[], minutes_meetings=[], base=base)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for index in range(bridges):
            response = await client.post(
                "/api/v1/bridges", headers=admin_headers,
                json={"name": f"桥{index}", "capacity": 100, "dial_in": [{"number": "+861012345678", "label": "北京"}]},
            )
            response.raise_for_status()
            result.bridges.append(response.json()["id"])
        # Seeded meetings sit before the bookings of the mix (which start at base + 1 day).
        for index in range(meetings):
            starts = base - timedelta(days=3) + timedelta(hours=index)
            response = await client.post(
                "/api/v1/meetings", headers=organiser_headers,
                json={"title": f"周例会 {index}", "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(minutes=50)).isoformat(),
                      "bridge_id": result.bridges[index % bridges], "attendees": [{"email": ATTENDEE, "name": "李娜"}]},
            )
            response.raise_for_status()
            meeting = response.json()
            if index % 2:
                result.minutes_meetings.append(meeting["id"])
            else:
                result.reply_meetings.append({"id": meeting["id"], "uid": meeting["uid"]})
    return result


def itip_reply(uid: str, *, partstat: str, dtstamp: datetime) -> bytes:
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//confsvc bench//load//ZH", "METHOD:REPLY",
        "BEGIN:VEVENT", f"UID:{uid}", f"DTSTAMP:{dtstamp.strftime('%Y%m%dT%H%M%SZ')}", "SEQUENCE:0",
        "ORGANIZER:mailto:org@example.com",
        f"ATTENDEE;PARTSTAT={partstat}:mailto:{ATTENDEE}",
        "END:VEVENT", "END:VCALENDAR", "",
    ]
    return "\r\n".join(lines).encode()


def minutes_draft(index: int) -> bytes:
    return json.dumps({
        "attendance": [{"email": ATTENDEE, "status": "present"}],
        "notes": [{"title": "预算", "text": f"第 {index} 次保存：讨论预算与招聘计划。"}],
        "resolutions": [{"text": "同意预算调整", "decided_by": "consensus"}],
    }, ensure_ascii=False).encode()


# Shares of the mix; reads are 80% of requests.
DEFAULT_MIX = {"availability": 0.60, "list": 0.20, "booking": 0.10, "reply": 0.05, "minutes": 0.05}


def request_factory(seed_data: Seed, token: str, *, rng: random.Random) -> Callable[[str], bytes]:
    """Return a function that builds a fresh request of the given kind."""
    counter = iter(range(10**9))
    run = uuid.uuid4().hex[:6]

    def build(kind: str) -> bytes:
        number = next(counter)
        if kind == "availability":
            slot = seed_data.base + timedelta(hours=rng.randrange(200))
            params = {"starts_at": slot.isoformat(), "ends_at": (slot + timedelta(hours=1)).isoformat(), "attendees": 5}
            return build_request("GET", "/api/v1/bridges/availability", token=token, params=params)
        if kind == "list":
            return build_request("GET", "/api/v1/meetings", token=token, params={"limit": 20})
        if kind == "booking":
            slot = seed_data.base + timedelta(days=1, hours=rng.randrange(2000))
            body = json.dumps({
                "title": f"负载测试 {run}-{number}", "starts_at": slot.isoformat(),
                "ends_at": (slot + timedelta(minutes=50)).isoformat(), "bridge_id": rng.choice(seed_data.bridges),
                "attendees": [{"email": ATTENDEE, "name": "李娜"}],
            }, ensure_ascii=False).encode()
            return build_request("POST", "/api/v1/meetings", token=token, body=body)
        if kind == "reply":
            meeting = rng.choice(seed_data.reply_meetings)
            partstat = rng.choice(("ACCEPTED", "TENTATIVE", "DECLINED"))
            body = itip_reply(meeting["uid"], partstat=partstat, dtstamp=datetime.now(UTC))
            return build_request("POST", "/api/v1/itip", token=token, body=body, content_type="text/calendar; charset=utf-8")
        if kind == "minutes":
            meeting_id = rng.choice(seed_data.minutes_meetings)
            return build_request("PUT", f"/api/v1/meetings/{meeting_id}/minutes", token=token, body=minutes_draft(number))
        raise ValueError(f"unknown request kind {kind!r}; use one of {', '.join(DEFAULT_MIX)}")

    return build


def parse_mix(text: str) -> dict[str, float]:
    """Parse ``availability=60,list=20,...`` into shares that sum to 1."""
    shares: dict[str, float] = {}
    for part in text.split(","):
        name, _sep, value = part.partition("=")
        name = name.strip()
        if name not in DEFAULT_MIX:
            raise SystemExit(f"--mix: unknown request kind {name!r}; use {', '.join(DEFAULT_MIX)}")
        try:
            shares[name] = float(value)
        except ValueError:
            raise SystemExit(f"--mix: share of {name!r} is not a number: {value!r}") from None
    total = sum(shares.values())
    if total <= 0:
        raise SystemExit("--mix: the shares must add up to more than 0")
    return {name: value / total for name, value in shares.items()}


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(int(fraction * len(ordered)), len(ordered) - 1)]
