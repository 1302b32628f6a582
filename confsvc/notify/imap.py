"""Reading iTIP replies from the reply mailbox over IMAP.

The scheduler polls :func:`fetch_calendar_messages`, hands each :class:`InboundCalendar` to
the reply processing, and then calls :func:`mark_processed`, which sets ``\\Seen`` and the
``$ConfsvcProcessed`` keyword (and moves the message when a processed folder is configured).
Later polls search only for messages without that keyword, so each message is returned until
it is marked, and never after.

The IMAP client is the standard library's ``imaplib``, run in a worker thread through
``asyncio.to_thread``, with one connection per call.

Errors raised here: ``ConfigurationError`` (bad ``CONFSVC_IMAP_URL``), :class:`MailboxError`
(the server cannot be reached, login or a command failed) and ``ICalendarError`` (from
:func:`parse_calendar_message` on a calendar part that cannot be read).
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import imaplib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Final

from icalendar import Calendar

from confsvc.errors import ConfsvcError, ICalendarError
from confsvc.notify._mailurl import client_tls_context, config_error, parse_mail_url

__all__ = [
    "PROCESSED_KEYWORD",
    "SKIPPED_KEYWORD",
    "ImapSettings",
    "InboundCalendar",
    "MailboxError",
    "fetch_calendar_messages",
    "mark_processed",
    "parse_calendar_message",
]

logger = logging.getLogger(__name__)

PROCESSED_KEYWORD: Final = "$ConfsvcProcessed"
"""IMAP keyword set by :func:`mark_processed`."""
SKIPPED_KEYWORD: Final = "$ConfsvcSkipped"
"""IMAP keyword set on messages without a readable calendar; they stay unread for a person."""

_IMAP_URL_VARIABLE: Final = "CONFSVC_IMAP_URL"
_CALENDAR_TYPES: Final = frozenset({"text/calendar", "application/ics"})
_CALENDAR_COMPONENTS: Final = frozenset({"VEVENT", "VTODO", "VJOURNAL"})
_FETCH_UID: Final = re.compile(rb"\bUID (\d+)")
_FETCH_SIZE: Final = re.compile(rb"\bRFC822\.SIZE (\d+)")


class MailboxError(ConfsvcError):
    """The reply mailbox cannot be read or updated; the next poll may succeed."""


@dataclass(frozen=True, slots=True)
class ImapSettings:
    """Connection settings for the reply mailbox, read from ``CONFSVC_IMAP_URL``."""

    host: str
    port: int
    username: str
    password: str = field(repr=False)
    mailbox: str = "INBOX"
    implicit_tls: bool = False
    """True for ``imaps://``: TLS from the first byte (port 993 by default)."""
    starttls: bool = False
    """Require STARTTLS on a plain connection (``?starttls=true``)."""
    cafile: str | None = None
    """PEM file of CA certificates to trust instead of the system store (``?cafile=``)."""
    processed_folder: str | None = None
    """Folder that processed messages move to (``?processed_folder=``); created if missing."""

    @classmethod
    def from_url(cls, url: str) -> ImapSettings:
        """Parse ``imap://user:pass@host:port/INBOX`` or ``imaps://...``.

        User, password and mailbox are percent-decoded; the mailbox defaults to INBOX and
        may contain non-ASCII characters. Query options: ``starttls=true``,
        ``cafile=/path/ca.pem`` and ``processed_folder=Name``. Default ports are 143 and
        993. Certificates are always verified.

        Raises:
            ConfigurationError: the URL is malformed; the message names CONFSVC_IMAP_URL
                and never contains the password.
        """
        parsed = parse_mail_url(
            url,
            variable=_IMAP_URL_VARIABLE,
            plain_scheme="imap",
            plain_port=143,
            tls_port=993,
            options=frozenset({"cafile", "processed_folder"}),
        )
        if not parsed.username or parsed.password is None:
            raise config_error(
                _IMAP_URL_VARIABLE, "user name and password are required (imap://user:pass@host)"
            )
        if not (parsed.implicit_tls or parsed.starttls):
            logger.warning(
                "imap credentials configured without TLS", extra={"imap_host": parsed.host}
            )

        mailbox = parsed.path.lstrip("/") or "INBOX"
        processed_folder = parsed.options.get("processed_folder") or None
        for name in (mailbox, processed_folder):
            if name is not None and any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
                raise config_error(
                    _IMAP_URL_VARIABLE, f"folder name {name!r} contains control characters"
                )
        if processed_folder == mailbox:
            raise config_error(
                _IMAP_URL_VARIABLE, "processed_folder must differ from the polled mailbox"
            )

        return cls(
            host=parsed.host,
            port=parsed.port,
            username=parsed.username,
            password=parsed.password,
            mailbox=mailbox,
            implicit_tls=parsed.implicit_tls,
            starttls=parsed.starttls,
            cafile=parsed.options.get("cafile") or None,
            processed_folder=processed_folder,
        )

    def __repr__(self) -> str:
        return (
            f"ImapSettings(host={self.host!r}, port={self.port}, username={self.username!r},"
            f" password='***', mailbox={self.mailbox!r}, implicit_tls={self.implicit_tls},"
            f" starttls={self.starttls}, cafile={self.cafile!r},"
            f" processed_folder={self.processed_folder!r})"
        )


@dataclass(frozen=True, slots=True)
class InboundCalendar:
    """One calendar object found in a received message."""

    message_id: str | None
    sender: str | None
    """Address (addr-spec) from the From header; iTIP trusts the ATTENDEE inside instead."""
    method: str | None
    """VCALENDAR METHOD, else the Content-Type ``method`` parameter; None for a plain event."""
    ics_bytes: bytes
    """The calendar as UTF-8, whatever charset the part declared."""
    event_uids: tuple[str, ...] = ()
    imap_uid: str | None = None
    imap_uidvalidity: int | None = None

    @property
    def is_plain_event(self) -> bool:
        """True when the message carries no iTIP method, so no reply tracking applies."""
        return self.method is None


# --- parsing ----------------------------------------------------------------------------


def parse_calendar_message(
    raw: bytes, *, imap_uid: str | None = None, imap_uidvalidity: int | None = None
) -> list[InboundCalendar]:
    """Extract the calendar parts of an RFC 5322 message.

    text/calendar and application/ics parts count, and so does any attachment whose file
    name ends in ``.ics``. A part that repeats an earlier one (the usual inline part plus
    ``invite.ics`` attachment) is returned once, with the first part's method. A calendar
    without METHOD and without a ``method=`` parameter is returned with ``method=None``
    (a plain event), not rejected. Returns an empty list when the message has no calendar.

    Raises:
        ICalendarError: a calendar part cannot be decoded or parsed.
    """
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    message_id = _header_text(message, "Message-ID")
    sender = _sender_address(message)

    found: list[InboundCalendar] = []
    seen: set[bytes] = set()
    for part in message.walk():
        if part.is_multipart() or not _is_calendar_part(part):
            continue
        ics = _part_as_utf8(part)
        if ics in seen:
            continue
        seen.add(ics)

        calendar = _parse_calendar(ics)
        property_method = str(calendar.get("METHOD", "")).strip().upper() or None
        parameter_method = str(part.get_param("method", "") or "").strip().upper() or None
        if property_method and parameter_method and property_method != parameter_method:
            logger.warning(
                "imip method mismatch",
                extra={
                    "message_id": message_id,
                    "property_method": property_method,
                    "parameter_method": parameter_method,
                },
            )
        event_uids = tuple(
            str(component["UID"])
            for component in calendar.walk()
            if component.name in _CALENDAR_COMPONENTS and "UID" in component
        )
        found.append(
            InboundCalendar(
                message_id=message_id,
                sender=sender,
                method=property_method or parameter_method,
                ics_bytes=ics,
                event_uids=event_uids,
                imap_uid=imap_uid,
                imap_uidvalidity=imap_uidvalidity,
            )
        )
    return found


def _is_calendar_part(part: EmailMessage) -> bool:
    if part.get_content_type() in _CALENDAR_TYPES:
        return True
    filename = part.get_filename() or ""
    return filename.lower().endswith(".ics")


def _part_as_utf8(part: EmailMessage) -> bytes:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        raise ICalendarError("a calendar part has no body")
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset).encode("utf-8")
    except (LookupError, UnicodeDecodeError) as exc:
        raise ICalendarError(f"a calendar part cannot be decoded as {charset}: {exc}") from exc


def _parse_calendar(ics: bytes) -> Calendar:
    try:
        calendar = Calendar.from_ical(ics)
    except ValueError as exc:
        raise ICalendarError(f"a calendar part cannot be parsed: {exc}") from exc
    if not isinstance(calendar, Calendar) or calendar.name != "VCALENDAR":
        raise ICalendarError("a calendar part is not a single VCALENDAR object")
    return calendar


def _header_text(message: EmailMessage, name: str) -> str | None:
    value = message.get(name)
    return str(value).strip() or None if value is not None else None


def _sender_address(message: EmailMessage) -> str | None:
    header = message.get("From")
    addresses = getattr(header, "addresses", ())
    if not addresses:
        return None
    return addresses[0].addr_spec or None


# --- IMAP access ------------------------------------------------------------------------


async def fetch_calendar_messages(
    settings: ImapSettings,
    *,
    limit: int = 50,
    max_message_bytes: int = 10 * 1024 * 1024,
    timeout: float = 30.0,
) -> list[InboundCalendar]:
    """Fetch the calendars of up to ``limit`` unprocessed messages, oldest first.

    Messages are read with BODY.PEEK, so ``\\Seen`` is left alone. ``timeout`` (seconds)
    applies to the connection and each command.

    Side effect: a message without a readable calendar, or larger than ``max_message_bytes``
    octets, gets the ``$ConfsvcSkipped`` keyword, so later polls pass over it. It stays
    unread for a person to look at.

    Raises:
        MailboxError: the server cannot be reached, the login or a command failed, or the
            mailbox does not accept keywords.
    """
    return await asyncio.to_thread(
        _fetch_blocking,
        settings,
        limit=limit,
        max_message_bytes=max_message_bytes,
        timeout=timeout,
    )


async def mark_processed(
    settings: ImapSettings, calendars: Iterable[InboundCalendar], *, timeout: float = 30.0
) -> None:
    """Mark the messages of ``calendars`` as processed so no later fetch returns them.

    Sets ``\\Seen`` and ``$ConfsvcProcessed``; with ``processed_folder`` configured the
    messages then move there (the folder is created when missing). Marking an already
    processed message again does nothing harmful.

    Raises:
        MailboxError: the server cannot be reached, a command failed, or the mailbox was
            recreated since the fetch (its UIDVALIDITY changed), so the UIDs are stale.
        ValueError: a calendar has no ``imap_uid`` (it was not fetched over IMAP).
    """
    uids: set[str] = set()
    uidvalidities: set[int | None] = set()
    for calendar in calendars:
        if calendar.imap_uid is None:
            raise ValueError(f"calendar from message {calendar.message_id} has no imap_uid")
        uids.add(calendar.imap_uid)
        uidvalidities.add(calendar.imap_uidvalidity)
    if not uids:
        return
    await asyncio.to_thread(
        _mark_blocking, settings, sorted(uids, key=int), uidvalidities, timeout=timeout
    )


def _fetch_blocking(
    settings: ImapSettings, *, limit: int, max_message_bytes: int, timeout: float
) -> list[InboundCalendar]:
    with _ImapSession(settings, timeout=timeout) as (connection, uidvalidity):
        _require_keywords(connection, settings)
        data = _command(
            connection,
            "UID SEARCH",
            connection.uid("SEARCH", "UNKEYWORD", PROCESSED_KEYWORD, "UNKEYWORD", SKIPPED_KEYWORD),
        )
        uids = [uid.decode("ascii") for uid in (data[0] or b"").split()][:limit]

        results: list[InboundCalendar] = []
        skipped: list[str] = []
        for uid in uids:
            raw = _fetch_message(connection, uid, max_message_bytes=max_message_bytes)
            if raw is None:
                skipped.append(uid)
                continue
            try:
                calendars = parse_calendar_message(raw, imap_uid=uid, imap_uidvalidity=uidvalidity)
            except ICalendarError as exc:
                logger.warning(
                    "imap calendar unreadable", extra={"imap_uid": uid, "error": str(exc)}
                )
                calendars = []
            if not calendars:
                skipped.append(uid)
            results.extend(calendars)

        if skipped:
            _command(
                connection,
                "UID STORE",
                connection.uid("STORE", ",".join(skipped), "+FLAGS", f"({SKIPPED_KEYWORD})"),
            )
            logger.info("imap messages skipped", extra={"imap_uids": skipped})
        logger.info(
            "imap poll finished",
            extra={"mailbox": settings.mailbox, "calendars": len(results), "messages": len(uids)},
        )
        return results


def _fetch_message(connection: imaplib.IMAP4, uid: str, *, max_message_bytes: int) -> bytes | None:
    """Return the message octets, or None when it is gone or larger than the limit."""
    data = _command(connection, "UID FETCH", connection.uid("FETCH", uid, "(UID RFC822.SIZE)"))
    size_match = next(
        (m for item in data if isinstance(item, bytes) and (m := _FETCH_SIZE.search(item))), None
    )
    if size_match is None:
        return None
    size = int(size_match.group(1))
    if size > max_message_bytes:
        logger.warning("imap message too large", extra={"imap_uid": uid, "size_bytes": size})
        return None

    data = _command(connection, "UID FETCH", connection.uid("FETCH", uid, "(UID BODY.PEEK[])"))
    for item in data:
        if isinstance(item, tuple) and _FETCH_UID.search(item[0]):
            return item[1]
    return None


def _mark_blocking(
    settings: ImapSettings,
    uids: list[str],
    uidvalidities: set[int | None],
    *,
    timeout: float,
) -> None:
    uid_set = ",".join(uids)
    with _ImapSession(settings, timeout=timeout) as (connection, uidvalidity):
        if uidvalidities - {uidvalidity}:
            raise MailboxError(
                f"mailbox {settings.mailbox!r} changed UIDVALIDITY since the fetch; "
                "its messages will be fetched again"
            )
        _command(
            connection,
            "UID STORE",
            connection.uid("STORE", uid_set, "+FLAGS", f"(\\Seen {PROCESSED_KEYWORD})"),
        )
        if settings.processed_folder is not None:
            _move(connection, uid_set, folder=settings.processed_folder)
        logger.info(
            "imap messages marked processed",
            extra={"mailbox": settings.mailbox, "imap_uids": uids},
        )


def _move(connection: imaplib.IMAP4, uid_set: str, *, folder: str) -> None:
    quoted = _quote_mailbox(folder)
    typ, data = connection.create(quoted)
    if typ != "OK" and b"ALREADYEXISTS" not in b" ".join(d for d in data if isinstance(d, bytes)):
        # Servers without the ALREADYEXISTS response code: let the MOVE report the problem.
        logger.info("imap create folder failed", extra={"folder": folder, "reply": repr(data)})

    if "MOVE" in connection.capabilities:
        _command(connection, "UID MOVE", connection.uid("MOVE", uid_set, quoted))
        return
    _command(connection, "UID COPY", connection.uid("COPY", uid_set, quoted))
    _command(connection, "UID STORE", connection.uid("STORE", uid_set, "+FLAGS", "(\\Deleted)"))
    if "UIDPLUS" in connection.capabilities:
        _command(connection, "UID EXPUNGE", connection.uid("EXPUNGE", uid_set))
    # NOTE: without UIDPLUS the originals stay flagged \Deleted, because a plain EXPUNGE
    # would also remove messages that someone else flagged for deletion.


class _ImapSession:
    """Context manager that connects, logs in and selects the mailbox (read-write).

    Yields ``(connection, uidvalidity)`` and logs out on exit. imaplib and socket errors,
    on entry or inside the block, become :class:`MailboxError`.
    """

    def __init__(self, settings: ImapSettings, *, timeout: float) -> None:
        self._settings = settings
        self._timeout = timeout
        self._connection: imaplib.IMAP4 | None = None

    def __enter__(self) -> tuple[imaplib.IMAP4, int | None]:
        settings = self._settings
        try:
            self._connection = _connect(settings, timeout=self._timeout)
            _login(self._connection, settings)
            typ, data = self._connection.select(_quote_mailbox(settings.mailbox))
            if typ != "OK":
                raise MailboxError(
                    f"cannot select mailbox {settings.mailbox!r}: {_reply_text(data)}"
                )
            _typ, validity = self._connection.response("UIDVALIDITY")
        except _NETWORK_ERRORS as exc:
            self._close()
            raise _mailbox_error(exc, settings) from exc
        except Exception:
            self._close()
            raise
        uidvalidity = int(validity[0]) if validity and validity[0] else None
        return self._connection, uidvalidity

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        self._close()
        if isinstance(exc, _NETWORK_ERRORS):
            raise _mailbox_error(exc, self._settings) from exc

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.logout()
        except _NETWORK_ERRORS as exc:
            logger.debug("imap logout failed", extra={"error": type(exc).__name__})


_NETWORK_ERRORS: Final = (imaplib.IMAP4.error, OSError)
"""imaplib's own errors, and socket, TLS and timeout errors (all OSError subclasses)."""


def _mailbox_error(exc: Exception, settings: ImapSettings) -> MailboxError:
    where = f"{settings.host}:{settings.port}"
    if isinstance(exc, TimeoutError):
        logger.warning("imap timed out", extra={"imap_host": settings.host})
        return MailboxError(f"IMAP server {where} timed out")
    logger.warning("imap failed", extra={"imap_host": settings.host, "error": type(exc).__name__})
    return MailboxError(f"IMAP server {where} failed: {exc}")


def _connect(settings: ImapSettings, *, timeout: float) -> imaplib.IMAP4:
    if settings.implicit_tls:
        context = client_tls_context(settings.cafile, variable=_IMAP_URL_VARIABLE)
        return imaplib.IMAP4_SSL(settings.host, settings.port, ssl_context=context, timeout=timeout)
    connection = imaplib.IMAP4(settings.host, settings.port, timeout=timeout)
    if settings.starttls:
        context = client_tls_context(settings.cafile, variable=_IMAP_URL_VARIABLE)
        try:
            connection.starttls(ssl_context=context)
        except Exception:
            connection.shutdown()
            raise
    return connection


def _login(connection: imaplib.IMAP4, settings: ImapSettings) -> None:
    try:
        if "AUTH=PLAIN" in connection.capabilities:
            # AUTHENTICATE PLAIN carries UTF-8, while LOGIN in imaplib accepts only ASCII.
            token = f"\0{settings.username}\0{settings.password}".encode()
            connection.authenticate("PLAIN", lambda _challenge: token)
        else:
            connection.login(settings.username, settings.password)
    except imaplib.IMAP4.abort:
        raise
    except imaplib.IMAP4.error as exc:
        logger.error("imap login failed", extra={"imap_host": settings.host})
        # The server reply is left out: some servers echo the credentials back.
        raise MailboxError(
            f"IMAP login failed for user {settings.username!r} at {settings.host}:{settings.port}"
        ) from exc

    # Servers often offer more (MOVE, UIDPLUS) after login, and imaplib keeps the list it
    # read before it.
    _typ, data = connection.capability()
    if data and isinstance(data[-1], bytes):
        connection.capabilities = tuple(data[-1].decode("ascii", "replace").upper().split())


def _require_keywords(connection: imaplib.IMAP4, settings: ImapSettings) -> None:
    _typ, data = connection.response("PERMANENTFLAGS")
    flags = b" ".join(item for item in data if isinstance(item, bytes))
    if not flags or b"\\*" in flags:
        return
    if PROCESSED_KEYWORD.encode() in flags and SKIPPED_KEYWORD.encode() in flags:
        return
    raise MailboxError(
        f"mailbox {settings.mailbox!r} does not accept the keywords {PROCESSED_KEYWORD} and "
        f"{SKIPPED_KEYWORD}; use a server or folder that stores IMAP keywords"
    )


def _command(connection: imaplib.IMAP4, name: str, reply: tuple[str, list[Any]]) -> list[Any]:
    typ, data = reply
    if typ != "OK":
        raise MailboxError(f"IMAP {name} failed: {_reply_text(data)}")
    return data


def _reply_text(data: list[Any]) -> str:
    return " ".join(
        item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item) for item in data
    )


def _quote_mailbox(name: str) -> str:
    encoded = _encode_modified_utf7(name)
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _encode_modified_utf7(name: str) -> str:
    """Encode a mailbox name in the modified UTF-7 of RFC 3501, section 5.1.3."""
    output: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            encoded = base64.b64encode("".join(pending).encode("utf-16-be")).decode("ascii")
            output.append("&" + encoded.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            output.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(output)
