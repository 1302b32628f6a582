"""BigBlueButton meetings through its HTTP API.

Every API call except the root carries ``checksum``, the hex digest of
``callName + queryString + sharedSecret`` (SHA-1 by default; SHA-256, SHA-384 and SHA-512 on
servers that enable them). Responses are XML with ``<returncode>SUCCESS|FAILED</returncode>``
and, on failure, a ``<messageKey>`` such as ``checksumError``, ``notFound`` or
``idNotUnique``.

The meeting ID and the attendee and moderator passwords derive from the meeting UID and the
shared secret, so ``provision`` is idempotent: calling ``create`` again for a meeting that
exists returns it (``duplicateWarning``). BigBlueButton ends a created meeting that nobody
joins within ``meetingExpireIfNoUserJoinedInMinutes`` (5 minutes in the default
bigbluebutton.properties), so callers should provision again shortly before the start.

Settings: ``api_url`` (e.g. ``https://bbb.example.com/bigbluebutton/api``) and ``secret``
(required), ``checksum_algorithm`` (``sha1``), ``timeout_seconds`` (10), ``dial_in_numbers``
(E.164 list, enables a voice bridge), ``port_capacity``, ``max_participants``,
``join_by_role`` (send ``role=`` instead of the deprecated ``password=`` in join links,
only for servers whose join call accepts ``role``), ``guest_name`` (the name in the shared
participant link).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import httpx

from confsvc.bridges.adapters._naming import derive_digits, derive_room_name, derive_token
from confsvc.bridges.adapters._settings import SettingsReader, raise_for_problems
from confsvc.bridges.adapters.base import (
    BookingInfo,
    BridgeAdapter,
    BridgeAuthenticationFailed,
    BridgeError,
    BridgeInfo,
    BridgeRejected,
    BridgeTimeout,
    BridgeUnavailable,
    ConferenceConflict,
    ConferenceNotFound,
    HealthReport,
    Participant,
    ProvisionedConference,
)

logger = logging.getLogger(__name__)

CHECKSUM_ALGORITHMS = ("sha1", "sha256", "sha384", "sha512")
MEETING_ID_PREFIX = "confsvc-"
# Five digits, the voice bridge length that the default BigBlueButton FreeSWITCH dialplan takes.
_VOICE_BRIDGE_RANGE = (10000, 99999)


@dataclasses.dataclass(frozen=True, slots=True)
class BigBlueButtonSettings:
    api_url: str
    secret: str = dataclasses.field(repr=False)
    checksum_algorithm: str
    timeout_seconds: float
    dial_in_numbers: tuple[str, ...]
    port_capacity: int | None
    max_participants: int | None
    join_by_role: bool
    guest_name: str


def _read_settings(
    settings: Mapping[str, Any],
) -> tuple[BigBlueButtonSettings, list[dict[str, str]]]:
    reader = SettingsReader(settings)
    parsed = BigBlueButtonSettings(
        api_url=reader.url("api_url", required=True) or "",
        secret=reader.text("secret", required=True) or "",
        checksum_algorithm=reader.choice("checksum_algorithm", CHECKSUM_ALGORITHMS, default="sha1"),
        timeout_seconds=reader.seconds("timeout_seconds", default=10.0),
        dial_in_numbers=reader.phone_numbers("dial_in_numbers"),
        port_capacity=reader.integer("port_capacity", minimum=1),
        max_participants=reader.integer("max_participants", minimum=2),
        join_by_role=reader.boolean("join_by_role", default=False),
        guest_name=reader.text("guest_name", default="Guest") or "Guest",
    )
    if parsed.secret and len(parsed.secret) < 16:
        reader.fail("secret", "must have at least 16 characters")
    return parsed, reader.problems


class BigBlueButtonError(BridgeRejected):
    """The API returned ``FAILED`` with a ``messageKey`` that has no more specific error."""

    def __init__(self, call: str, message_key: str, message: str) -> None:
        super().__init__(f"BigBlueButton {call} failed: {message_key}: {message}")
        self.message_key = message_key


def _text(element: ET.Element, path: str) -> str | None:
    found = element.find(path)
    if found is None or found.text is None:
        return None
    return found.text.strip()


class BigBlueButtonAdapter(BridgeAdapter):
    kind: ClassVar[str] = "bigbluebutton"
    supports_participants: ClassVar[bool] = True
    required_options: ClassVar[tuple[str, ...]] = ("api_url", "secret")

    def __init__(self, bridge: BridgeInfo) -> None:
        super().__init__(bridge)
        self._settings, problems = _read_settings(bridge.settings)
        raise_for_problems(bridge, problems)

    @classmethod
    def check_settings(cls, settings: Mapping[str, Any]) -> list[dict[str, str]]:
        return _read_settings(settings)[1]

    # --- URLs and derived values -------------------------------------------------------------

    def checksum(self, call: str, query: str) -> str:
        """Return the hex digest of ``call + query + secret`` with the configured algorithm."""
        payload = (call + query + self._settings.secret).encode("utf-8")
        return hashlib.new(self._settings.checksum_algorithm, payload).hexdigest()

    def signed_url(self, call: str, params: Sequence[tuple[str, str]]) -> str:
        """Build the URL of API ``call`` with ``params`` and their checksum."""
        query = urllib.parse.urlencode(params)
        checksum = self.checksum(call, query)
        separator = "&" if query else ""
        return f"{self._settings.api_url}/{call}?{query}{separator}checksum={checksum}"

    def meeting_id(self, meeting_uid: str) -> str:
        return derive_room_name(self._settings.secret, meeting_uid, prefix=MEETING_ID_PREFIX)

    def _password(self, meeting_id: str, role: str) -> str:
        return derive_token(self._settings.secret, f"bbb-{role}-password", meeting_id).hex()[:20]

    def join_url(
        self, meeting_id: str, *, full_name: str, moderator: bool, user_id: str | None = None
    ) -> str:
        """Build a signed ``join`` link; it works while the meeting exists on the server.

        Anyone with the link can join, so give a moderator link to the chair only.
        """
        params = [("fullName", full_name), ("meetingID", meeting_id)]
        if self._settings.join_by_role:
            params.append(("role", "MODERATOR" if moderator else "VIEWER"))
        else:
            params.append(
                ("password", self._password(meeting_id, "moderator" if moderator else "attendee"))
            )
        if user_id is not None:
            params.append(("userID", user_id))
        params.append(("redirect", "true"))
        return self.signed_url("join", params)

    # --- HTTP -------------------------------------------------------------------------------

    async def _get_xml(self, url: str, *, call: str) -> ET.Element:
        """GET ``url`` and parse the XML response, raising a ``BridgeError`` for a fault."""
        timeout = self._settings.timeout_seconds
        try:
            async with httpx.AsyncClient(timeout=timeout) as client:
                response = await client.get(url)
        except httpx.TimeoutException as exc:
            raise BridgeTimeout(f"BigBlueButton {call} timed out after {timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise BridgeUnavailable(f"BigBlueButton {call} failed: {exc}") from exc

        if response.status_code >= 500:
            raise BridgeUnavailable(f"BigBlueButton {call} failed: HTTP {response.status_code}")
        if response.status_code != 200:
            raise BridgeRejected(f"BigBlueButton {call} failed: HTTP {response.status_code}")
        try:
            # The server is the configured bridge; Python 3.11's expat limits entity expansion.
            return ET.fromstring(response.content)
        except ET.ParseError as exc:
            raise BridgeRejected(f"BigBlueButton {call} returned invalid XML: {exc}") from exc

    async def call(
        self, call: str, params: Sequence[tuple[str, str]], *, meeting_id: str | None = None
    ) -> ET.Element:
        """Run API ``call`` and return the ``<response>`` element of a ``SUCCESS`` answer.

        Raises ``BridgeAuthenticationFailed`` for ``checksumError``, ``ConferenceNotFound``
        for ``notFound``, ``ConferenceConflict`` for ``idNotUnique`` and
        ``nonUniqueVoiceBridge``, ``BigBlueButtonError`` for other ``FAILED`` answers, and
        ``BridgeTimeout`` or ``BridgeUnavailable`` for network faults.
        """
        try:
            root = await self._get_xml(self.signed_url(call, params), call=call)
        except BridgeError as exc:
            logger.warning(
                "bigbluebutton call failed, bridge_id=%s call=%s error=%s",
                self.bridge.id,
                call,
                exc,
            )
            raise

        if _text(root, "returncode") == "SUCCESS":
            return root

        key = _text(root, "messageKey") or "unknown"
        message = _text(root, "message") or "no message"
        logger.info(
            "bigbluebutton call rejected, bridge_id=%s call=%s message_key=%s",
            self.bridge.id,
            call,
            key,
        )
        if key == "checksumError":
            raise BridgeAuthenticationFailed(
                f"BigBlueButton rejected the checksum of {call}: check settings.secret "
                "and settings.checksum_algorithm"
            )
        if key == "notFound" and meeting_id is not None:
            raise ConferenceNotFound(meeting_id)
        if key in ("idNotUnique", "nonUniqueVoiceBridge"):
            raise ConferenceConflict(f"BigBlueButton {call} failed: {key}: {message}")
        raise BigBlueButtonError(call, key, message)

    # --- adapter interface ------------------------------------------------------------------

    async def provision(self, booking: BookingInfo) -> ProvisionedConference:
        """Create the meeting (or find it, when it exists) and build the join links."""
        settings = self._settings
        meeting_id = self.meeting_id(booking.meeting_uid)
        params = [
            ("name", booking.title),
            ("meetingID", meeting_id),
            ("attendeePW", self._password(meeting_id, "attendee")),
            ("moderatorPW", self._password(meeting_id, "moderator")),
            ("record", "false"),
        ]
        if settings.dial_in_numbers:
            low, high = _VOICE_BRIDGE_RANGE
            voice_bridge = derive_digits(
                settings.secret, "bbb-voice-bridge", meeting_id, low=low, high=high
            )
            params.append(("voiceBridge", str(voice_bridge)))
            params.append(("dialNumber", settings.dial_in_numbers[0]))
        if settings.max_participants is not None:
            params.append(("maxParticipants", str(settings.max_participants)))

        root = await self.call("create", params, meeting_id=meeting_id)

        logger.info(
            "bigbluebutton meeting created, bridge_id=%s booking_id=%s meeting_id=%s "
            "message_key=%s",
            self.bridge.id,
            booking.booking_id,
            meeting_id,
            _text(root, "messageKey") or "",
        )
        return ProvisionedConference(
            conference_id=meeting_id,
            dial_in_numbers=settings.dial_in_numbers,
            access_code=_text(root, "voiceBridge") if settings.dial_in_numbers else None,
            chair_join_url=self.join_url(
                meeting_id, full_name=booking.organizer_name, moderator=True
            ),
            participant_join_url=self.join_url(
                meeting_id, full_name=settings.guest_name, moderator=False
            ),
        )

    async def is_running(self, conference_id: str) -> bool:
        """Return whether anyone has joined the meeting and it has not ended."""
        root = await self.call("isMeetingRunning", [("meetingID", conference_id)])
        return _text(root, "running") == "true"

    async def release(self, conference_id: str) -> None:
        """End the meeting for everyone; an unknown or ended meeting is left as it is."""
        params = [
            ("meetingID", conference_id),
            ("password", self._password(conference_id, "moderator")),
        ]
        try:
            await self.call("end", params, meeting_id=conference_id)
        except ConferenceNotFound:
            logger.info(
                "bigbluebutton meeting already gone, bridge_id=%s meeting_id=%s",
                self.bridge.id,
                conference_id,
            )
            return
        logger.info(
            "bigbluebutton meeting ended, bridge_id=%s meeting_id=%s", self.bridge.id, conference_id
        )

    async def participants(self, conference_id: str) -> list[Participant]:
        """List the attendees from ``getMeetingInfo``; an unknown meeting has none."""
        try:
            root = await self.call(
                "getMeetingInfo", [("meetingID", conference_id)], meeting_id=conference_id
            )
        except ConferenceNotFound:
            return []

        participants = []
        for attendee in root.iterfind("attendees/attendee"):
            client_type = _text(attendee, "clientType")
            participants.append(
                Participant(
                    name=_text(attendee, "fullName") or "unknown",
                    # Phone callers join as DIAL-IN-USER, with the caller number as their name.
                    number=_text(attendee, "fullName") if client_type == "DIAL-IN-USER" else None,
                    chair=_text(attendee, "role") == "MODERATOR",
                )
            )
        return participants

    async def health(self) -> HealthReport:
        """Call the API root (no checksum), then ``getMeetings`` to test the shared secret.

        With ``port_capacity`` set, ``free_ports`` is the capacity minus the participants of
        all running meetings.
        """
        try:
            root = await self._get_xml(self._settings.api_url, call="api root")
            if _text(root, "returncode") != "SUCCESS":
                raise BridgeRejected("BigBlueButton API root did not return SUCCESS")
            version = _text(root, "version") or "unknown"

            meetings = await self.call("getMeetings", [])
        except BridgeError as exc:
            logger.warning(
                "bigbluebutton health failed, bridge_id=%s error=%s", self.bridge.id, exc
            )
            return HealthReport(ok=False, detail=str(exc))

        in_use = 0
        running = 0
        for meeting in meetings.iterfind("meetings/meeting"):
            running += 1
            count = _text(meeting, "participantCount") or "0"
            in_use += int(count) if count.isdigit() else 0

        free_ports = None
        if self._settings.port_capacity is not None:
            free_ports = max(self._settings.port_capacity - in_use, 0)
        return HealthReport(
            ok=True,
            detail=f"API version {version}, checksum accepted, {running} meeting(s) running",
            free_ports=free_ports,
        )
