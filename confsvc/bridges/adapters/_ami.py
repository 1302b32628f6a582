"""A minimal Asterisk Manager Interface (AMI) client for short request-response sessions.

AMI runs over TCP. The server first sends one banner line (``Asterisk Call Manager/5.0.1``),
then both sides exchange messages of ``Key: Value`` lines, each line ending in CRLF and each
message ending with an empty line. A client action carries ``ActionID``, and the server
echoes it in the ``Response`` message and in every event of a list that the action starts.
A list starts with ``EventList: start`` in the response and ends with an event whose
``EventList`` is ``Complete``.

panoramisk 1.4 is built for a long-lived event listener: it reconnects forever after a lost or
failed connection and has no per-action timeout, so this module serves the one-shot sessions
of the adapter instead. Network faults become ``BridgeError`` subclasses here; timeouts are the
caller's job (wrap the session in ``asyncio.timeout``).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from collections.abc import Mapping

from confsvc.bridges.adapters.base import BridgeRejected, BridgeUnavailable

logger = logging.getLogger(__name__)

BANNER_PREFIX = "Asterisk Call Manager/"
_MAX_LINE_BYTES = 64 * 1024


class AmiMessage:
    """One AMI message; keys are matched case-insensitively as Asterisk does."""

    def __init__(self, fields: list[tuple[str, str]]) -> None:
        self.fields = fields
        self._lookup = {key.lower(): value for key, value in reversed(fields)}

    def get(self, key: str) -> str | None:
        """Return the first value of ``key``, or ``None`` if the message lacks it."""
        return self._lookup.get(key.lower())

    @property
    def is_error(self) -> bool:
        return (self.get("Response") or "").lower() in ("error", "fail", "failure")

    def __repr__(self) -> str:
        # Only the message kind and text, because a Login action carries the secret.
        kind = self.get("Response") or self.get("Event")
        return f"AmiMessage({kind!r}, message={self.get('Message')!r})"


class AmiClient:
    """One AMI connection. Use ``connect`` to open it and ``close`` when done."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, banner: str
    ) -> None:
        self._reader = reader
        self._writer = writer
        self.banner = banner
        self._action_ids = (f"confsvc-{secrets.token_hex(4)}-{n}" for n in itertools.count(1))

    @classmethod
    async def connect(cls, host: str, port: int) -> AmiClient:
        """Open the TCP connection and read the banner.

        Raises ``BridgeUnavailable`` if the connection fails and ``BridgeRejected`` if the
        server does not send an AMI banner.
        """
        try:
            reader, writer = await asyncio.open_connection(host, port, limit=_MAX_LINE_BYTES)
        except OSError as exc:
            raise BridgeUnavailable(f"AMI connection to {host}:{port} failed: {exc}") from exc

        client = cls(reader, writer, banner="")
        try:
            banner = await client._read_line()
        except BridgeUnavailable:
            await client.close()
            raise
        if not banner.startswith(BANNER_PREFIX):
            await client.close()
            raise BridgeRejected(
                f"{host}:{port} is not an AMI server: first line is {banner[:60]!r}"
            )
        client.banner = banner
        return client

    async def close(self) -> None:
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except OSError as exc:
            logger.debug("AMI close failed: %s", exc)

    async def _read_line(self) -> str:
        try:
            raw = await self._reader.readline()
        except (OSError, ValueError) as exc:
            # ValueError: a line longer than the stream limit.
            raise BridgeUnavailable(f"AMI read failed: {exc}") from exc
        if not raw:
            raise BridgeUnavailable("AMI server closed the connection")
        return raw.decode("utf-8", errors="replace").rstrip("\r\n")

    async def read_message(self) -> AmiMessage:
        """Read lines up to the next empty line; lines without ``:`` are skipped."""
        fields: list[tuple[str, str]] = []
        while True:
            line = await self._read_line()
            if not line:
                if fields:
                    return AmiMessage(fields)
                continue
            key, separator, value = line.partition(":")
            if separator:
                fields.append((key.strip(), value.strip()))

    async def _send(self, action: str, fields: Mapping[str, str]) -> str:
        action_id = next(self._action_ids)
        lines = [f"Action: {action}", f"ActionID: {action_id}"]
        lines.extend(f"{key}: {value}" for key, value in fields.items())
        payload = "\r\n".join(lines) + "\r\n\r\n"
        try:
            self._writer.write(payload.encode("utf-8"))
            await self._writer.drain()
        except OSError as exc:
            raise BridgeUnavailable(f"AMI write failed: {exc}") from exc
        return action_id

    async def _read_for(self, action_id: str) -> AmiMessage:
        # Skip unsolicited events and responses to other actions.
        while True:
            message = await self.read_message()
            if message.get("ActionID") == action_id:
                return message

    async def action(self, action: str, fields: Mapping[str, str] | None = None) -> AmiMessage:
        """Send an action and return its ``Response`` message, errors included."""
        action_id = await self._send(action, fields or {})
        return await self._read_for(action_id)

    async def list_action(
        self, action: str, fields: Mapping[str, str] | None = None
    ) -> tuple[AmiMessage, list[AmiMessage]]:
        """Send an action that starts an event list, and return the response and the events.

        The events exclude the closing ``...Complete`` event. An error response comes back with
        an empty list.
        """
        action_id = await self._send(action, fields or {})
        response = await self._read_for(action_id)
        if response.is_error or (response.get("EventList") or "").lower() != "start":
            return response, []

        events: list[AmiMessage] = []
        while True:
            message = await self._read_for(action_id)
            if (message.get("EventList") or "").lower() == "complete":
                return response, events
            events.append(message)
