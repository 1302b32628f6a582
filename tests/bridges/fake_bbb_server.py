"""A BigBlueButton API server on 127.0.0.1 for the adapter tests.

It checks the checksum as BigBlueButton does: it removes the ``checksum`` parameter from the
raw query string, picks the algorithm by the checksum's length (40 hex digits SHA-1, 64
SHA-256, 96 SHA-384, 128 SHA-512) and compares the digest of
``callName + queryString + sharedSecret``. Responses are the XML documents of the API
reference, including its ``FAILED`` responses with their message keys.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import secrets
import threading
import time
import urllib.parse
from typing import Any
from xml.sax.saxutils import escape

_ALGORITHMS_BY_LENGTH = {40: "sha1", 64: "sha256", 96: "sha384", 128: "sha512"}


BBB_SECRET = "8cd8ef52e8e101574e400365b55e11a6"
"""Shared secret of the fake server, a 32-character hex string like real deployments use."""


@dataclasses.dataclass
class Attendee:
    user_id: str
    full_name: str
    role: str = "VIEWER"
    client_type: str = "HTML5"


@dataclasses.dataclass
class Meeting:
    meeting_id: str
    name: str
    attendee_pw: str
    moderator_pw: str
    voice_bridge: str
    dial_number: str
    record: str
    create_time: int
    attendees: list[Attendee] = dataclasses.field(default_factory=list)


def _element(name: str, value: Any) -> str:
    return f"<{name}>{escape(str(value))}</{name}>"


def _response(*parts: str, returncode: str = "SUCCESS") -> str:
    return "<response>" + _element("returncode", returncode) + "".join(parts) + "</response>"


def _failed(key: str, message: str) -> str:
    return _response(_element("messageKey", key), _element("message", message), returncode="FAILED")


class FakeBigBlueButton:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.meetings: dict[str, Meeting] = {}
        # Seconds to wait before each response. The wait ends early when the server stops.
        self.delay = 0.0
        # HTTP status to send instead of an API response, for server-fault tests.
        self.fail_status: int | None = None
        self.requests: list[tuple[str, dict[str, str], str]] = []
        self.joins: list[dict[str, str]] = []
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def api_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/bigbluebutton/api"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if fake.delay:
                    fake._stopping.wait(fake.delay)
                if fake.fail_status is not None:
                    self.send_error(fake.fail_status)
                    return
                status, headers, body = fake.dispatch(self.path)
                payload = body.encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler

    def dispatch(self, path: str) -> tuple[int, dict[str, str], str]:
        parts = urllib.parse.urlsplit(path)
        xml_headers = {"Content-Type": "text/xml;charset=utf-8"}
        prefix = "/bigbluebutton/api"
        if not parts.path.startswith(prefix):
            return 404, {"Content-Type": "text/plain"}, "not found"

        call = parts.path[len(prefix) :].strip("/")
        if not call:
            body = _response(
                _element("version", "2.0"),
                _element("apiVersion", "2.0"),
                _element("bbbVersion", "3.0.4"),
            )
            return 200, xml_headers, body

        params = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
        self.requests.append((call, params, parts.query))
        if not self.checksum_valid(call, parts.query, params.get("checksum", "")):
            body = _failed("checksumError", "You did not pass the checksum security check")
            return 200, xml_headers, body

        handler = getattr(self, f"_api_{call}", None)
        if handler is None:
            return 200, xml_headers, _failed("unsupportedRequest", "This request is not supported.")
        with self._lock:
            return handler(params)

    def checksum_valid(self, call: str, query: str, checksum: str) -> bool:
        algorithm = _ALGORITHMS_BY_LENGTH.get(len(checksum))
        if algorithm is None:
            return False
        stripped = query.replace("&checksum=" + checksum, "")
        stripped = stripped.replace("checksum=" + checksum + "&", "")
        stripped = stripped.replace("checksum=" + checksum, "")
        expected = hashlib.new(algorithm, (call + stripped + self.secret).encode()).hexdigest()
        return secrets.compare_digest(expected, checksum)

    def _ok(self, *parts: str) -> tuple[int, dict[str, str], str]:
        return 200, {"Content-Type": "text/xml;charset=utf-8"}, _response(*parts)

    def _fail(self, key: str, message: str) -> tuple[int, dict[str, str], str]:
        return 200, {"Content-Type": "text/xml;charset=utf-8"}, _failed(key, message)

    def _meeting_xml(self, meeting: Meeting, *parts: str) -> tuple[int, dict[str, str], str]:
        return self._ok(
            _element("meetingID", meeting.meeting_id),
            _element("internalMeetingID", hashlib.sha1(meeting.meeting_id.encode()).hexdigest()),
            _element("attendeePW", meeting.attendee_pw),
            _element("moderatorPW", meeting.moderator_pw),
            _element("createTime", meeting.create_time),
            _element("voiceBridge", meeting.voice_bridge),
            _element("dialNumber", meeting.dial_number),
            _element("hasUserJoined", "true" if meeting.attendees else "false"),
            _element("hasBeenForciblyEnded", "false"),
            *parts,
        )

    def _api_create(self, params: dict[str, str]) -> tuple[int, dict[str, str], str]:
        meeting_id = params.get("meetingID", "")
        if not meeting_id:
            return self._fail("missingParamMeetingID", "You must specify a meeting ID.")
        attendee_pw = params.get("attendeePW") or secrets.token_hex(4)
        moderator_pw = params.get("moderatorPW") or secrets.token_hex(4)

        existing = self.meetings.get(meeting_id)
        if existing is not None:
            if existing.attendee_pw == attendee_pw and existing.moderator_pw == moderator_pw:
                return self._meeting_xml(
                    existing,
                    _element("messageKey", "duplicateWarning"),
                    _element(
                        "message",
                        "This conference was already in existence "
                        "and may currently be in progress.",
                    ),
                )
            return self._fail(
                "idNotUnique",
                "A meeting already exists with that meeting ID.  "
                "Please use a different meeting ID.",
            )

        voice_bridge = params.get("voiceBridge") or str(70000 + secrets.randbelow(10000))
        if any(m.voice_bridge == voice_bridge for m in self.meetings.values()):
            return self._fail(
                "nonUniqueVoiceBridge", "The selected voice bridge is already in use."
            )

        meeting = Meeting(
            meeting_id=meeting_id,
            name=params.get("name", meeting_id),
            attendee_pw=attendee_pw,
            moderator_pw=moderator_pw,
            voice_bridge=voice_bridge,
            dial_number=params.get("dialNumber", "613-555-1234"),
            record=params.get("record", "false"),
            create_time=int(time.time() * 1000),
        )
        self.meetings[meeting_id] = meeting
        return self._meeting_xml(meeting, _element("messageKey", ""), _element("message", ""))

    def _api_join(self, params: dict[str, str]) -> tuple[int, dict[str, str], str]:
        meeting = self.meetings.get(params.get("meetingID", ""))
        if meeting is None:
            return self._fail(
                "invalidMeetingIdentifier",
                "The meeting ID that you supplied did not match any existing meetings",
            )
        role = params.get("role", "").upper()
        password = params.get("password")
        if password is not None:
            if password == meeting.moderator_pw:
                role = "MODERATOR"
            elif password == meeting.attendee_pw:
                role = "VIEWER"
            else:
                return self._fail(
                    "invalidPassword",
                    "You either did not supply a password or the password supplied is neither "
                    "the attendee or moderator password for this conference.",
                )
        if role not in ("MODERATOR", "VIEWER"):
            return self._fail("invalidPassword", "You must supply a role or a password.")

        self.joins.append({"fullName": params.get("fullName", ""), "role": role})
        token = secrets.token_hex(8)
        return 302, {"Location": f"/html5client/join?sessionToken={token}"}, ""

    def _api_isMeetingRunning(self, params: dict[str, str]) -> tuple[int, dict[str, str], str]:
        meeting = self.meetings.get(params.get("meetingID", ""))
        running = meeting is not None and bool(meeting.attendees)
        return self._ok(_element("running", "true" if running else "false"))

    def _attendees_xml(self, meeting: Meeting) -> str:
        items = []
        for attendee in meeting.attendees:
            items.append(
                "<attendee>"
                + _element("userID", attendee.user_id)
                + _element("fullName", attendee.full_name)
                + _element("role", attendee.role)
                + _element("isPresenter", "false")
                + _element("isListeningOnly", "false")
                + _element("hasJoinedVoice", "true")
                + _element("hasVideo", "false")
                + _element("clientType", attendee.client_type)
                + "</attendee>"
            )
        return "<attendees>" + "".join(items) + "</attendees>"

    def _api_getMeetingInfo(self, params: dict[str, str]) -> tuple[int, dict[str, str], str]:
        meeting = self.meetings.get(params.get("meetingID", ""))
        if meeting is None:
            return self._fail("notFound", "We could not find a meeting with that meeting ID")
        moderators = sum(1 for a in meeting.attendees if a.role == "MODERATOR")
        return self._meeting_xml(
            meeting,
            _element("meetingName", meeting.name),
            _element("running", "true" if meeting.attendees else "false"),
            _element("participantCount", len(meeting.attendees)),
            _element("moderatorCount", moderators),
            self._attendees_xml(meeting),
        )

    def _api_end(self, params: dict[str, str]) -> tuple[int, dict[str, str], str]:
        meeting = self.meetings.get(params.get("meetingID", ""))
        if meeting is None:
            return self._fail(
                "notFound",
                "We could not find a meeting with that meeting ID - "
                "perhaps the meeting is not yet running?",
            )
        if "password" in params and params["password"] != meeting.moderator_pw:
            return self._fail(
                "invalidPassword", "You must supply the moderator password for this call."
            )
        del self.meetings[meeting.meeting_id]
        return self._ok(
            _element("messageKey", "sentEndMeetingRequest"),
            _element(
                "message",
                "A request to end the meeting was sent.  Please wait a few seconds, and then use "
                "the getMeetingInfo or isMeetingRunning API calls to verify that it was ended.",
            ),
        )

    def _api_getMeetings(self, params: dict[str, str]) -> tuple[int, dict[str, str], str]:
        if not self.meetings:
            return self._ok(
                "<meetings/>",
                _element("messageKey", "noMeetings"),
                _element("message", "no meetings were found on this server"),
            )
        items = []
        for meeting in self.meetings.values():
            items.append(
                "<meeting>"
                + _element("meetingName", meeting.name)
                + _element("meetingID", meeting.meeting_id)
                + _element("voiceBridge", meeting.voice_bridge)
                + _element("running", "true" if meeting.attendees else "false")
                + _element("participantCount", len(meeting.attendees))
                + "</meeting>"
            )
        return self._ok("<meetings>" + "".join(items) + "</meetings>")
