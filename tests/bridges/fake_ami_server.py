"""An Asterisk Manager Interface server on 127.0.0.1 for the adapter tests.

It speaks AMI as the Asterisk documentation and app_confbridge.c describe it: a banner line,
then CRLF-separated ``Key: Value`` messages that end with an empty line, ``ActionID``
echoed in every response and list event, and the same error messages as Asterisk.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Mapping

BANNER = "Asterisk Call Manager/5.0.1"


@dataclasses.dataclass
class Caller:
    channel: str
    number: str
    name: str
    admin: bool = False
    muted: bool = False
    answered_seconds: int = 0


@dataclasses.dataclass
class FakeAmiServer:
    username: str
    secret: str
    # Rooms by conference name; Asterisk removes a room when its last caller leaves.
    conferences: dict[str, list[Caller]] = dataclasses.field(default_factory=dict)
    astdb: dict[str, str] = dataclasses.field(default_factory=dict)
    # After the banner, read requests but never respond to them.
    silent: bool = False
    # Behave like an Asterisk version whose ConfbridgeKick takes no "all".
    kick_all_supported: bool = True
    actions: list[dict[str, str]] = dataclasses.field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def action_names(self) -> list[str]:
        return [action["Action"] for action in self.actions]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session(self, writer)
        try:
            writer.write(f"{BANNER}\r\n".encode())
            await writer.drain()
            while True:
                request = await _read_message(reader)
                if request is None:
                    return
                self.actions.append(request)
                if self.silent:
                    continue
                if not await session.handle(request):
                    return
        except ConnectionError:
            return
        finally:
            writer.close()


async def _read_message(reader: asyncio.StreamReader) -> dict[str, str] | None:
    fields: dict[str, str] = {}
    while True:
        line = await reader.readline()
        if not line:
            return None
        text = line.decode().rstrip("\r\n")
        if not text:
            if fields:
                return fields
            continue
        key, _, value = text.partition(":")
        fields[key.strip()] = value.strip()


class _Session:
    def __init__(self, server: FakeAmiServer, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.writer = writer
        self.authenticated = False

    async def send(self, fields: Mapping[str, str]) -> None:
        lines = [f"{key}: {value}" for key, value in fields.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self.writer.drain()

    async def respond(self, request: Mapping[str, str], response: str, **fields: str) -> None:
        message = {"Response": response}
        if "ActionID" in request:
            message["ActionID"] = request["ActionID"]
        message.update(fields)
        await self.send(message)

    async def error(self, request: Mapping[str, str], message: str) -> None:
        await self.respond(request, "Error", Message=message)

    async def handle(self, request: dict[str, str]) -> bool:
        """Respond to one action and return False when the connection should close."""
        action = request.get("Action", "").lower()
        if action == "login":
            await self._login(request)
            return True
        if action == "logoff":
            await self.respond(request, "Goodbye", Message="Thanks for all the fish.")
            return False
        if not self.authenticated:
            await self.error(request, "Permission denied")
            return True

        handlers = {
            "ping": self._ping,
            "confbridgelist": self._confbridge_list,
            "confbridgelistrooms": self._confbridge_list_rooms,
            "confbridgekick": self._confbridge_kick,
            "dbput": self._db_put,
            "dbdeltree": self._db_del_tree,
        }
        handler = handlers.get(action)
        if handler is None:
            await self.error(request, "Invalid/unknown command")
        else:
            await handler(request)
        return True

    async def _login(self, request: Mapping[str, str]) -> None:
        if (
            request.get("Username") != self.server.username
            or request.get("Secret") != self.server.secret
        ):
            await self.error(request, "Authentication failed")
            return
        self.authenticated = True
        await self.respond(request, "Success", Message="Authentication accepted")
        # Asterisk sends this event without an ActionID right after a login.
        await self.send(
            {"Event": "FullyBooted", "Privilege": "system,all", "Status": "Fully Booted"}
        )

    async def _ping(self, request: Mapping[str, str]) -> None:
        await self.respond(request, "Success", Ping="Pong", Timestamp=f"{time.time():.6f}")

    def _find_room(self, request: Mapping[str, str]) -> str | list[Caller]:
        """Return the callers of the requested room, or the Asterisk error message."""
        name = request.get("Conference", "")
        if not name:
            return "No Conference name provided."
        if not self.server.conferences:
            return "No active conferences."
        if name not in self.server.conferences:
            return "No Conference by that name found."
        return self.server.conferences[name]

    async def _confbridge_list(self, request: Mapping[str, str]) -> None:
        room = self._find_room(request)
        if isinstance(room, str):
            await self.error(request, room)
            return
        action_id = request.get("ActionID", "")
        await self.respond(
            request, "Success", EventList="start", Message="Confbridge user list will follow"
        )
        for caller in room:
            await self.send(
                {
                    "Event": "ConfbridgeList",
                    "ActionID": action_id,
                    "Conference": request["Conference"],
                    "CallerIDNum": caller.number,
                    "CallerIDName": caller.name,
                    "Channel": caller.channel,
                    "Admin": "Yes" if caller.admin else "No",
                    "MarkedUser": "No",
                    "WaitMarked": "No",
                    "EndMarked": "No",
                    "Waiting": "No",
                    "Muted": "Yes" if caller.muted else "No",
                    "Talking": "No",
                    "AnsweredTime": str(caller.answered_seconds),
                }
            )
        await self.send(
            {
                "Event": "ConfbridgeListComplete",
                "ActionID": action_id,
                "EventList": "Complete",
                "ListItems": str(len(room)),
            }
        )

    async def _confbridge_list_rooms(self, request: Mapping[str, str]) -> None:
        if not self.server.conferences:
            await self.error(request, "No active conferences.")
            return
        action_id = request.get("ActionID", "")
        await self.respond(
            request, "Success", EventList="start", Message="Confbridge conferences will follow"
        )
        for name, callers in self.server.conferences.items():
            await self.send(
                {
                    "Event": "ConfbridgeListRooms",
                    "ActionID": action_id,
                    "Conference": name,
                    "Parties": str(len(callers)),
                    "Marked": "0",
                    "Locked": "No",
                    "Muted": "No",
                }
            )
        await self.send(
            {
                "Event": "ConfbridgeListRoomsComplete",
                "ActionID": action_id,
                "EventList": "Complete",
                "ListItems": str(len(self.server.conferences)),
            }
        )

    async def _confbridge_kick(self, request: Mapping[str, str]) -> None:
        room = self._find_room(request)
        if isinstance(room, str):
            await self.error(request, room)
            return
        name = request["Conference"]
        channel = request.get("Channel", "")
        if channel == "all" and self.server.kick_all_supported:
            del self.server.conferences[name]
            await self.respond(request, "Success", Message="All participants kicked")
            return

        remaining = [caller for caller in room if caller.channel.lower() != channel.lower()]
        if len(remaining) == len(room):
            await self.error(request, "No Channel by that name found in Conference.")
            return
        if remaining:
            self.server.conferences[name] = remaining
        else:
            del self.server.conferences[name]
        await self.respond(request, "Success", Message="User kicked")

    async def _db_put(self, request: Mapping[str, str]) -> None:
        key = f"/{request.get('Family', '')}/{request.get('Key', '')}"
        self.server.astdb[key] = request.get("Val", "")
        await self.respond(request, "Success", Message="Updated database successfully")

    async def _db_del_tree(self, request: Mapping[str, str]) -> None:
        prefix = f"/{request.get('Family', '')}/{request.get('Key', '')}"
        doomed = [key for key in self.server.astdb if key == prefix or key.startswith(prefix + "/")]
        if not doomed:
            await self.error(request, "Database entry not found")
            return
        for key in doomed:
            del self.server.astdb[key]
        await self.respond(request, "Success", Message="Key tree deleted successfully")
