"""Signed one-click reply links (``/rsvp/{token}``) for invitation e-mails.

A token is ``<body>.<signature>``: the body is base64url of ``meeting-id:expiry:email``
(expiry in Unix seconds, UTC) and the signature is base64url HMAC-SHA256 of the body with
``CONFSVC_SECRET_KEY``. Changing the key invalidates every link sent before.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from confsvc.errors import PermissionDenied

__all__ = ["InvalidRsvpToken", "RsvpClaim", "make_token", "read_token"]


class InvalidRsvpToken(PermissionDenied):
    """The link was altered, signed with another key, or has expired."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True)
class RsvpClaim:
    meeting_id: uuid.UUID
    email: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: str, body: str) -> str:
    return _b64(hmac.new(secret.encode("utf-8"), body.encode("ascii"), hashlib.sha256).digest())


def make_token(secret: str, *, meeting_id: uuid.UUID, email: str, expires_at: datetime) -> str:
    """Return the token for ``email``'s answer to the meeting, valid until ``expires_at`` (aware)."""
    body = _b64(f"{meeting_id.hex}:{int(expires_at.timestamp())}:{email}".encode())
    return f"{body}.{_signature(secret, body)}"


def read_token(secret: str, token: str, *, now: datetime | None = None) -> RsvpClaim:
    """Check the signature and expiry of ``token`` and return what it grants.

    Raises:
        InvalidRsvpToken: malformed, wrong signature, or expired (``expired`` set).
    """
    body, dot, signature = token.partition(".")
    if not dot or not body or not hmac.compare_digest(signature, _signature(secret, body)):
        raise InvalidRsvpToken("the reply link is invalid")
    try:
        meeting_hex, expiry, email = _unb64(body).decode("utf-8").split(":", 2)
        claim = RsvpClaim(uuid.UUID(hex=meeting_hex), email, datetime.fromtimestamp(int(expiry), UTC))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidRsvpToken("the reply link is invalid") from exc
    if (now or datetime.now(UTC)) > claim.expires_at:
        raise InvalidRsvpToken("the reply link has expired", expired=True)
    return claim
