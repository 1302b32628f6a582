"""Jitsi Meet rooms, optionally protected by JSON Web Tokens (JWT).

A Jitsi room exists while someone is in it, so ``provision`` only derives the room name:
``room_prefix`` plus 26 base32 characters of an HMAC of the meeting UID under
``room_secret``. The name stays the same for a meeting and cannot be guessed without the
secret.

With ``jwt_app_id`` and ``jwt_app_secret`` set, join links carry ``?jwt=`` with an HS256
token. Its claims follow the Jitsi Meet token documentation (lib-jitsi-meet ``doc/tokens.md``):
``aud``, ``iss`` (the app id), ``sub`` (the Jitsi domain), ``room``, ``nbf``, ``exp``, and
``context.user`` with ``name``, ``email`` and ``moderator``.

Settings: ``base_url`` and ``room_secret`` (required), ``room_prefix`` (``confsvc-``),
``jwt_app_id``, ``jwt_app_secret``, ``jwt_audience`` (``jitsi``), ``jwt_subject`` (host of
``base_url``), ``token_early_minutes`` (how long before the start a token is valid, 30),
``token_late_minutes`` (how long after the end, 60), ``guest_name``, ``check_http`` (health
also GETs ``base_url``), ``timeout_seconds`` (5).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx
import jwt

from confsvc.bridges.adapters._naming import derive_room_name
from confsvc.bridges.adapters._settings import SettingsReader, raise_for_problems
from confsvc.bridges.adapters.base import (
    BookingInfo,
    BridgeAdapter,
    BridgeConfigurationError,
    BridgeInfo,
    HealthReport,
    ProvisionedConference,
)

logger = logging.getLogger(__name__)

_ROOM_PREFIX_PATTERN = re.compile(r"[a-z0-9-]{0,32}")
# RFC 7518, section 3.2: an HS256 key must be at least as long as the hash output, 256 bits.
_MIN_JWT_SECRET_LENGTH = 32
_MIN_ROOM_SECRET_LENGTH = 16


@dataclasses.dataclass(frozen=True, slots=True)
class JitsiSettings:
    base_url: str
    room_secret: str = dataclasses.field(repr=False)
    room_prefix: str
    jwt_app_id: str | None
    jwt_app_secret: str | None = dataclasses.field(repr=False)
    jwt_audience: str
    jwt_subject: str
    token_early_minutes: int
    token_late_minutes: int
    guest_name: str
    check_http: bool
    timeout_seconds: float


def _read_settings(settings: Mapping[str, Any]) -> tuple[JitsiSettings, list[dict[str, str]]]:
    reader = SettingsReader(settings)
    base_url = reader.url("base_url", required=True) or ""
    parsed = JitsiSettings(
        base_url=base_url,
        room_secret=reader.text("room_secret", required=True) or "",
        room_prefix=reader.text("room_prefix", default="confsvc-") or "",
        jwt_app_id=reader.text("jwt_app_id"),
        jwt_app_secret=reader.text("jwt_app_secret"),
        jwt_audience=reader.text("jwt_audience", default="jitsi") or "jitsi",
        jwt_subject=reader.text("jwt_subject") or urllib.parse.urlsplit(base_url).hostname or "",
        token_early_minutes=reader.integer("token_early_minutes", default=30, minimum=0) or 0,
        token_late_minutes=reader.integer("token_late_minutes", default=60, minimum=0) or 0,
        guest_name=reader.text("guest_name", default="Guest") or "Guest",
        check_http=reader.boolean("check_http", default=False),
        timeout_seconds=reader.seconds("timeout_seconds", default=5.0),
    )

    if parsed.room_secret and len(parsed.room_secret) < _MIN_ROOM_SECRET_LENGTH:
        reader.fail("room_secret", f"must have at least {_MIN_ROOM_SECRET_LENGTH} characters")
    if not _ROOM_PREFIX_PATTERN.fullmatch(parsed.room_prefix):
        reader.fail("room_prefix", "must be at most 32 lowercase letters, digits or '-'")
    if (parsed.jwt_app_id is None) != (parsed.jwt_app_secret is None):
        missing = "jwt_app_secret" if parsed.jwt_app_secret is None else "jwt_app_id"
        reader.fail(missing, "is required when the other JWT option is set")
    if parsed.jwt_app_secret is not None and len(parsed.jwt_app_secret) < _MIN_JWT_SECRET_LENGTH:
        reader.fail("jwt_app_secret", f"must have at least {_MIN_JWT_SECRET_LENGTH} characters")
    return parsed, reader.problems


class JitsiAdapter(BridgeAdapter):
    kind: ClassVar[str] = "jitsi"
    required_options: ClassVar[tuple[str, ...]] = ("base_url", "room_secret")

    def __init__(self, bridge: BridgeInfo) -> None:
        super().__init__(bridge)
        self._settings, problems = _read_settings(bridge.settings)
        raise_for_problems(bridge, problems)

    @classmethod
    def check_settings(cls, settings: Mapping[str, Any]) -> list[dict[str, str]]:
        return _read_settings(settings)[1]

    @property
    def uses_jwt(self) -> bool:
        return self._settings.jwt_app_secret is not None

    def room_name(self, meeting_uid: str) -> str:
        return derive_room_name(
            self._settings.room_secret, meeting_uid, prefix=self._settings.room_prefix
        )

    def token(
        self,
        room: str,
        *,
        booking: BookingInfo,
        name: str,
        email: str | None = None,
        moderator: bool = False,
    ) -> str:
        """Sign an HS256 JWT for one user of ``room``, valid around the booked slot.

        Raises ``BridgeConfigurationError`` when the bridge has no JWT settings.
        """
        settings = self._settings
        if settings.jwt_app_id is None or settings.jwt_app_secret is None:
            raise BridgeConfigurationError(
                f"bridge {self.bridge.id} has no JWT settings",
                invalid_params=[{"name": "settings.jwt_app_secret", "reason": "is required"}],
            )

        user: dict[str, Any] = {"name": name, "moderator": moderator}
        if email is not None:
            user["email"] = email
        not_before = booking.starts_at - dt.timedelta(minutes=settings.token_early_minutes)
        expires = booking.ends_at + dt.timedelta(minutes=settings.token_late_minutes)
        claims = {
            "aud": settings.jwt_audience,
            "iss": settings.jwt_app_id,
            "sub": settings.jwt_subject,
            "room": room,
            "nbf": int(not_before.timestamp()),
            "exp": int(expires.timestamp()),
            "context": {"user": user},
        }
        return jwt.encode(claims, settings.jwt_app_secret, algorithm="HS256")

    def join_url(
        self,
        room: str,
        *,
        booking: BookingInfo,
        name: str,
        email: str | None = None,
        moderator: bool = False,
    ) -> str:
        """Build the room link, with a personal token when JWT is configured."""
        url = f"{self._settings.base_url}/{room}"
        if not self.uses_jwt:
            return url
        token = self.token(room, booking=booking, name=name, email=email, moderator=moderator)
        return f"{url}?{urllib.parse.urlencode({'jwt': token})}"

    async def provision(self, booking: BookingInfo) -> ProvisionedConference:
        """Derive the room and its links; nothing is sent to the Jitsi server."""
        room = self.room_name(booking.meeting_uid)
        chair_url = self.join_url(
            room,
            booking=booking,
            name=booking.organizer_name,
            email=booking.organizer_email,
            moderator=True,
        )
        participant_url = self.join_url(room, booking=booking, name=self._settings.guest_name)
        logger.info(
            "jitsi room derived, bridge_id=%s booking_id=%s jwt=%s",
            self.bridge.id,
            booking.booking_id,
            self.uses_jwt,
        )
        return ProvisionedConference(
            conference_id=room, chair_join_url=chair_url, participant_join_url=participant_url
        )

    async def release(self, conference_id: str) -> None:
        """Do nothing, because Jitsi removes a room when the last participant leaves."""

    async def health(self) -> HealthReport:
        """Report the settings as valid; with ``check_http``, also GET ``base_url``."""
        if not self._settings.check_http:
            return HealthReport(ok=True, detail="settings valid (no HTTP check configured)")

        url = self._settings.base_url
        timeout = self._settings.timeout_seconds
        try:
            async with httpx.AsyncClient(timeout=timeout) as client:
                response = await client.get(url)
        except httpx.TimeoutException:
            logger.warning("jitsi health timed out, bridge_id=%s", self.bridge.id)
            return HealthReport(ok=False, detail=f"GET {url} timed out after {timeout:g} s")
        except httpx.HTTPError as exc:
            logger.warning("jitsi health failed, bridge_id=%s error=%s", self.bridge.id, exc)
            return HealthReport(ok=False, detail=f"GET {url} failed: {exc}")

        if response.status_code >= 400:
            return HealthReport(ok=False, detail=f"GET {url} returned HTTP {response.status_code}")
        return HealthReport(ok=True, detail=f"GET {url} returned HTTP {response.status_code}")
