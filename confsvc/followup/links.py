"""Signed one-click links in reminders (``/act/{token}``): mark done, post progress.

A token is ``<body>.<signature>``. The body is base64url of
``action:item-id:email:expiry`` (expiry in Unix seconds, UTC) and the signature is
base64url HMAC-SHA256 of the body with ``CONFSVC_SECRET_KEY``, so a new key invalidates
every link sent before.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from confsvc.errors import PermissionDenied

__all__ = ["ACTIONS", "ActionClaim", "InvalidActionLink", "make_action_token", "read_action_token"]

Action = Literal["done", "progress"]
ACTIONS: tuple[Action, ...] = ("done", "progress")


class InvalidActionLink(PermissionDenied):
    """The link was altered, signed with another key, or has expired."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True)
class ActionClaim:
    action: Action
    action_item_id: uuid.UUID
    email: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _sign(secret: str, body: str) -> str:
    return _b64(hmac.new(secret.encode("utf-8"), b"act:" + body.encode("ascii"), hashlib.sha256).digest())


def make_action_token(
    secret: str, *, action: Action, action_item_id: uuid.UUID, email: str, expires_at: datetime
) -> str:
    """Return a token granting ``email`` the ``action`` on the item until ``expires_at`` (aware)."""
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    body = _b64(f"{action}:{action_item_id.hex}:{email}:{int(expires_at.timestamp())}".encode())
    return f"{body}.{_sign(secret, body)}"


def read_action_token(secret: str, token: str, *, now: datetime | None = None) -> ActionClaim:
    """Check the signature and expiry of ``token`` and return what it grants.

    Raises:
        InvalidActionLink: malformed, wrong signature, or expired (``expired`` set).
    """
    body, _sep, signature = token.partition(".")
    if not body or not signature or not hmac.compare_digest(signature, _sign(secret, body)):
        raise InvalidActionLink("the link is invalid")
    try:
        decoded = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("utf-8")
        action, item_hex, rest = decoded.split(":", 2)
        email, _sep, expiry = rest.rpartition(":")
        claim = ActionClaim(
            action=action,  # type: ignore[arg-type]
            action_item_id=uuid.UUID(hex=item_hex),
            email=email,
            expires_at=datetime.fromtimestamp(int(expiry), UTC),
        )
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidActionLink("the link is invalid") from exc
    if claim.action not in ACTIONS or not claim.email:
        raise InvalidActionLink("the link is invalid")
    if claim.expires_at <= (now or datetime.now(UTC)):
        raise InvalidActionLink("the link has expired", expired=True)
    return claim
