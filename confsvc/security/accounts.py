"""Password login with throttling, and the people that single sign-on brings in.

Failed logins are counted per account (the submitted e-mail, whether or not it exists)
and per client address in ``login_throttle``. When either count reaches its limit
within ``CONFSVC_LOGIN_WINDOW_SECONDS``, logins for that key are rejected until
``CONFSVC_LOGIN_LOCKOUT_SECONDS`` have passed, even with the right password. A
successful login clears the account's count but not the address's, so one valid
account cannot reset the count of an address that guesses others.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.db.models import LoginThrottle, Person
from confsvc.directory.schemas import PersonCreate
from confsvc.directory.services import DirectoryService, hash_password, verify_password
from confsvc.errors import ConfsvcError
from confsvc.i18n import gettext as _
from confsvc.security.audit import record_audit
from confsvc.settings import SecuritySettings, Settings

logger = logging.getLogger(__name__)

MAX_LOGIN_LENGTH = 320
MAX_PASSWORD_LENGTH = 4096
_DUMMY_HASH = hash_password("confsvc-timing-equaliser")
"""Verified against when the account is unknown, so both cases take as long."""


class LoginFailed(ConfsvcError):
    """The login name or password is wrong, or the account is inactive (one message for all)."""

    status_code = 401
    title = "Unauthorized"


class LoginLocked(ConfsvcError):
    """Too many failed logins for the account or the client address; ``retry_after`` in seconds."""

    status_code = 429
    title = "Too many requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class LoginResult:
    person: Person
    method: str
    """``password`` or ``ldap``."""


def account_key(login: str) -> str:
    return f"account:{login}"


def address_key(address: str | None) -> str:
    return f"address:{address or 'unknown'}"


async def _throttle_row(db: AsyncSession, key: str, *, now: datetime) -> LoginThrottle:
    row = await db.scalar(select(LoginThrottle).where(LoginThrottle.key == key))
    if row is not None:
        return row
    # Two concurrent first failures may both insert; the loser re-reads the winner's row.
    try:
        async with db.begin_nested():
            row = LoginThrottle(key=key, failures=0, window_started_at=now)
            db.add(row)
    except IntegrityError:
        row = (await db.scalars(select(LoginThrottle).where(LoginThrottle.key == key))).one()
    return row


async def locked_for(db: AsyncSession, keys: list[str], *, now: datetime) -> int:
    """Return the seconds until every key in ``keys`` is unlocked (0 when none is locked)."""
    rows = await db.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys)))
    waits = [int((row.locked_until - now).total_seconds()) + 1 for row in rows if row.locked_until and row.locked_until > now]
    return max(waits, default=0)


async def record_failure(db: AsyncSession, key: str, *, limit: int, rules: SecuritySettings, now: datetime) -> bool:
    """Count one failure for ``key``; return True when this failure locks it."""
    row = await _throttle_row(db, key, now=now)
    if now - row.window_started_at > timedelta(seconds=rules.login_window_seconds):
        row.failures = 0
        row.window_started_at = now
    row.failures += 1
    locked = row.failures >= limit
    if locked:
        row.locked_until = now + timedelta(seconds=rules.login_lockout_seconds)
        row.failures = 0
        row.window_started_at = now
    await db.flush()
    return locked


async def clear_failures(db: AsyncSession, key: str) -> None:
    row = await db.scalar(select(LoginThrottle).where(LoginThrottle.key == key))
    if row is not None:
        row.failures = 0
        row.locked_until = None


async def find_or_create_sso_person(db: AsyncSession, settings: Settings, *, email: str, name: str | None) -> Person | None:
    """Return the person with ``email``; create a member when ``CONFSVC_SSO_CREATE_PEOPLE`` allows it.

    Returns None for an unknown address when creation is off.
    """
    directory = DirectoryService(db)
    person = await directory.find_by_email(email)
    if person is not None or not settings.security.sso_create_people:
        return person
    person = await directory.create(PersonCreate(email=email, name=(name or email.partition("@")[0])[:200], roles=["member"]))
    logger.info("person created by single sign-on person_id=%s", person.id)
    return person


async def login(
    db: AsyncSession, settings: Settings, *, login_name: str, password: str, client_address: str | None, now: datetime | None = None
) -> LoginResult:
    """Check a password login and record the outcome in the audit log.

    Tries the local argon2 hash first, then the LDAP server when ``CONFSVC_LDAP_URL`` is
    set. Commits the throttle counts and the audit entry of a failure itself.

    Raises:
        LoginLocked: the account or the client address is locked (no password is checked).
        LoginFailed: wrong name or password, unknown or inactive account.
    """
    now = now or datetime.now(UTC)
    rules = settings.security
    name = login_name.strip().lower()[:MAX_LOGIN_LENGTH]
    keys = [account_key(name), address_key(client_address)]

    wait = await locked_for(db, keys, now=now)
    if wait:
        record_audit(db, actor=None, action="login.failed", object_type="account", object_id=None,
                     details={"login": name, "reason": "locked"}, client_address=client_address, occurred_at=now)
        await db.commit()
        logger.info("login rejected while locked retry_after=%d", wait)
        raise LoginLocked(_("too many failed logins; try again in {minutes} minute(s)", minutes=(wait + 59) // 60), retry_after=wait)

    person, method = await _check_password(db, settings, name, password[:MAX_PASSWORD_LENGTH])

    if person is not None and person.active:
        await clear_failures(db, keys[0])
        record_audit(db, actor=person, action="login.succeeded", object_type="account", object_id=person.id,
                     details={"method": method}, client_address=client_address, occurred_at=now)
        await db.flush()
        logger.info("login succeeded person_id=%s method=%s", person.id, method)
        return LoginResult(person=person, method=method)

    locked_account = await record_failure(db, keys[0], limit=rules.login_max_failures, rules=rules, now=now)
    locked_address = await record_failure(db, keys[1], limit=rules.login_address_max_failures, rules=rules, now=now)
    record_audit(
        db, actor=person, action="login.failed", object_type="account", object_id=person.id if person else None,
        details={"login": name, "reason": "inactive" if person is not None else "invalid credentials",
                 "locked": locked_account or locked_address},
        client_address=client_address, occurred_at=now,
    )
    await db.commit()
    logger.info("login failed locked_account=%s locked_address=%s", locked_account, locked_address)
    raise LoginFailed(_("invalid e-mail or password"))


async def _check_password(db: AsyncSession, settings: Settings, name: str, password: str) -> tuple[Person | None, str]:
    """Return (person, method) when the password is right, (inactive person or None, "") otherwise."""
    person = await DirectoryService(db).find_by_email(name) if "@" in name else None
    if password and person is not None and person.password_hash:
        if verify_password(person.password_hash, password):
            return person, "password"
    else:
        verify_password(_DUMMY_HASH, password or "-")

    if settings.security.ldap_url and password:
        from confsvc.security.ldap import LdapUnavailable, ldap_authenticate

        try:
            identity = await ldap_authenticate(settings.security, name, password)
        except LdapUnavailable:
            identity = None
        if identity is not None:
            ldap_person = await find_or_create_sso_person(db, settings, email=identity.email, name=identity.name)
            if ldap_person is not None:
                return ldap_person, "ldap"
    if person is not None and not person.active:
        return person, ""
    return None, ""
