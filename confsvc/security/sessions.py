"""Web sessions (cookie) and their CSRF token.

The session cookie holds 32 random bytes (URL-safe base64); the ``web_session`` table
stores only their SHA-256. The CSRF token is an HMAC-SHA256 of the session token under
``CONFSVC_SECRET_KEY``, so it needs no storage, changes with every login and cannot be
computed without the key. It is sent to the browser in a readable cookie and in the login
response; unsafe requests authenticated by the session cookie must echo it in the
``X-CSRF-Token`` header (or a ``csrf_token`` form field).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Request, Response
from litestar.connection import ASGIConnection
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.db.models import Person, WebSession
from confsvc.directory.services import hash_token
from confsvc.settings import Settings

logger = logging.getLogger(__name__)

CSRF_HEADER = "x-csrf-token"
CSRF_FORM_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class CsrfRejected(Exception):
    """An unsafe request with a session cookie lacks a matching CSRF token."""


def csrf_cookie_name(settings: Settings) -> str:
    return f"{settings.security.session_cookie}_csrf"


def csrf_token_for(secret_key: str, session_token: str) -> str:
    """Derive the CSRF token of one session (URL-safe base64 of an HMAC-SHA256)."""
    digest = hmac.new(secret_key.encode(), b"csrf:" + session_token.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def cookie_is_secure(settings: Settings) -> bool:
    return settings.base_url.lower().startswith("https://")


async def create_session(
    db: AsyncSession, person: Person, *, settings: Settings, method: str, client_address: str | None, now: datetime | None = None
) -> tuple[str, WebSession]:
    """Store a new session for ``person`` and return the cookie token and the row (not committed)."""
    now = now or datetime.now(UTC)
    token = secrets.token_urlsafe(32)
    row = WebSession(
        token_hash=hash_token(token),
        person_id=person.id,
        expires_at=now + timedelta(hours=settings.security.session_hours),
        method=method,
        client_address=client_address[:64] if client_address else None,
    )
    db.add(row)
    await db.flush()
    logger.info("web session created person_id=%s session_id=%s method=%s", person.id, row.id, method)
    return token, row


async def find_session(db: AsyncSession, token: str, *, now: datetime | None = None) -> WebSession | None:
    """Return the live session for a cookie token: not revoked, not expired, person active."""
    now = now or datetime.now(UTC)
    row = await db.scalar(select(WebSession).where(WebSession.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= now or not row.person.active:
        return None
    return row


async def revoke_session(db: AsyncSession, token: str, *, now: datetime | None = None) -> WebSession | None:
    """Mark the session of ``token`` revoked; return it, or None when there is none (not committed)."""
    row = await db.scalar(select(WebSession).where(WebSession.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None:
        return None
    row.revoked_at = now or datetime.now(UTC)
    await db.flush()
    logger.info("web session revoked session_id=%s person_id=%s", row.id, row.person_id)
    return row


def set_session_cookies(response: Response[Any], token: str, *, settings: Settings, expires_at: datetime) -> None:
    """Set the HttpOnly session cookie and the readable CSRF cookie (both SameSite=Lax)."""
    max_age = max(int((expires_at - datetime.now(UTC)).total_seconds()), 0)
    secure = cookie_is_secure(settings)
    response.set_cookie(
        key=settings.security.session_cookie, value=token, path="/", max_age=max_age,
        httponly=True, samesite="lax", secure=secure,
    )
    response.set_cookie(
        key=csrf_cookie_name(settings), value=csrf_token_for(settings.secret_key, token), path="/", max_age=max_age,
        httponly=False, samesite="lax", secure=secure,
    )


def clear_session_cookies(response: Response[Any], *, settings: Settings) -> None:
    secure = cookie_is_secure(settings)
    for name, httponly in ((settings.security.session_cookie, True), (csrf_cookie_name(settings), False)):
        response.set_cookie(key=name, value="", path="/", max_age=0, httponly=httponly, samesite="lax", secure=secure)


async def check_csrf(connection: ASGIConnection[Any, Any, Any, Any], *, settings: Settings, session_token: str) -> None:
    """Raise ``CsrfRejected`` unless a safe method or a matching token in header or form."""
    method = str(connection.scope.get("method", "GET")).upper()
    if method in SAFE_METHODS:
        return
    expected = csrf_token_for(settings.secret_key, session_token)
    sent = connection.headers.get(CSRF_HEADER, "")
    if not sent and isinstance(connection, Request):
        content_type = connection.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await connection.form()
            value = form.get(CSRF_FORM_FIELD)
            sent = value if isinstance(value, str) else ""
    if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRejected()


async def person_from_session_cookie(connection: ASGIConnection[Any, Any, Any, Any]) -> Person | None:
    """Resolve the session cookie to its person, checking CSRF on unsafe methods.

    Returns None when there is no cookie or the session is not live. Raises
    ``CsrfRejected`` for a live session whose unsafe request lacks the CSRF token.
    """
    settings: Settings = connection.app.state.settings
    token = connection.cookies.get(settings.security.session_cookie)
    if not token:
        return None
    session_maker = connection.app.state.session_maker
    async with session_maker() as db:
        row = await find_session(db, token)
        person = row.person if row is not None else None
    if person is None:
        return None
    await check_csrf(connection, settings=settings, session_token=token)
    return person
