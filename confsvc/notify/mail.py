"""E-mail building and SMTP delivery.

Invitations follow iMIP (RFC 6047): a ``multipart/mixed`` message whose first part is a
``multipart/alternative`` with text/plain, optional text/html and an inline
``text/calendar; method=<METHOD>`` part, followed by the same calendar as an ``invite.ics``
attachment. Outlook and Gmail show Accept/Decline buttons only for this shape, with the
``method`` parameter equal to the VCALENDAR METHOD.

Every body part is base64-encoded and every non-ASCII header is RFC 2047-encoded, so the
messages are 7-bit clean and need no SMTPUTF8 or 8BITMIME support from the relay.

Errors raised here: ``ValidationFailed`` (bad arguments, names the field), ``ICalendarError``
(the calendar cannot be parsed), ``ConfigurationError`` (bad ``CONFSVC_SMTP_URL``),
``DeliveryError`` and ``PermanentDeliveryError`` (SMTP failures).
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Final

import aiosmtplib
from icalendar import Calendar, Component

from confsvc.errors import (
    DeliveryError,
    ICalendarError,
    PermanentDeliveryError,
    ValidationFailed,
)
from confsvc.notify._mailurl import client_tls_context, config_error, parse_mail_url

__all__ = [
    "IMIP_METHODS",
    "SmtpSettings",
    "build_imip_message",
    "build_plain_message",
    "send_message",
]

logger = logging.getLogger(__name__)

IMIP_METHODS: Final = frozenset(
    {"REQUEST", "CANCEL", "REPLY", "ADD", "REFRESH", "COUNTER", "DECLINECOUNTER"}
)
"""iTIP methods that confsvc sends by e-mail. PUBLISH is absent on purpose: clients show a
PUBLISH object as a plain calendar entry, without Accept/Decline buttons."""

ATTACHMENT_FILENAME: Final = "invite.ics"

# Headers that the builders set themselves and that ``headers=`` may not replace.
_RESERVED_HEADERS: Final = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "content-disposition",
        "content-language",
    }
)

_SMTP_URL_VARIABLE: Final = "CONFSVC_SMTP_URL"

# 530 (authentication required) and 538 (encryption required for authentication) arrive
# as 5xx replies to MAIL FROM, but they point at CONFSVC_SMTP_URL, not at the message:
# once the operator fixes the setting, a retry succeeds.
_RELAY_SETUP_CODES: Final = frozenset({530, 538})


# --- message building -------------------------------------------------------------------


def build_imip_message(
    *,
    ics: bytes,
    method: str,
    subject: str,
    text: str,
    html: str | None,
    sender: str,
    sender_name: str | None,
    recipient: str,
    recipient_name: str | None,
    message_id_domain: str,
    headers: Mapping[str, str] | None = None,
    message_id: str | None = None,
    language: str | None = None,
) -> EmailMessage:
    """Build an iMIP invitation, update, cancellation or reply.

    ``ics`` is the serialised VCALENDAR (UTF-8). Its METHOD property must sit at VCALENDAR
    level and equal ``method`` (compared without case). A REQUEST must name an ORGANIZER
    whose address, or SENT-BY, is ``sender``, and at least one ATTENDEE, because clients
    route the replies to the ORGANIZER.

    ``message_id`` (``<local@domain>``) keeps the Message-ID stable across retries of one
    outbox row; without it a new one is made under ``message_id_domain``. ``language`` (a
    BCP 47 tag such as ``zh-CN``) becomes the Content-Language header. ``headers`` adds
    further headers, but cannot replace the structural ones (From, To, Subject,
    Content-Type and the like).

    Raises:
        ValidationFailed: a header value contains CR or LF, an address is invalid, the
            method is PUBLISH or unknown, or it does not match the calendar. The error
            names the field.
        ICalendarError: ``ics`` is not UTF-8 or not an iCalendar object.
    """
    calendar_method = _check_calendar(ics, method=method, sender=sender)

    message = EmailMessage()
    _set_envelope_headers(
        message,
        subject=subject,
        sender=sender,
        sender_name=sender_name,
        recipient=recipient,
        recipient_name=recipient_name,
        message_id_domain=message_id_domain,
        message_id=message_id,
        language=language,
        headers=headers,
    )
    message.make_mixed()

    alternative = EmailMessage()
    alternative.make_alternative()
    alternative.attach(_text_part(text, subtype="plain"))
    if html is not None:
        alternative.attach(_text_part(html, subtype="html"))
    alternative.attach(_calendar_part(ics, method=calendar_method))

    message.attach(alternative)
    message.attach(_calendar_attachment(ics))
    _set_content_language(message, language)
    return message


def build_plain_message(
    *,
    subject: str,
    text: str,
    html: str | None,
    sender: str,
    sender_name: str | None,
    recipient: str,
    recipient_name: str | None,
    message_id_domain: str,
    headers: Mapping[str, str] | None = None,
    message_id: str | None = None,
    language: str | None = None,
) -> EmailMessage:
    """Build a mail without a calendar (reminders, notices).

    The result is text/plain, or multipart/alternative with text/plain and text/html when
    ``html`` is given. Options and errors are those of :func:`build_imip_message`.

    Raises:
        ValidationFailed: a header value contains CR or LF or an address is invalid.
    """
    message = EmailMessage()
    _set_envelope_headers(
        message,
        subject=subject,
        sender=sender,
        sender_name=sender_name,
        recipient=recipient,
        recipient_name=recipient_name,
        message_id_domain=message_id_domain,
        message_id=message_id,
        language=language,
        headers=headers,
    )

    if html is None:
        message.set_content(text, subtype="plain", charset="utf-8", cte="base64")
    else:
        message.make_alternative()
        message.attach(_text_part(text, subtype="plain"))
        message.attach(_text_part(html, subtype="html"))
    _set_content_language(message, language)
    return message


def _check_calendar(ics: bytes, *, method: str, sender: str) -> str:
    """Return the VCALENDAR METHOD after checking it against ``method`` and iTIP rules."""
    expected_method = method.strip().upper()
    if expected_method == "PUBLISH":
        raise ValidationFailed.field(
            "method", "PUBLISH is not an invitation; use REQUEST with ORGANIZER and ATTENDEE"
        )
    if expected_method not in IMIP_METHODS:
        raise ValidationFailed.field(
            "method", f"unknown iMIP method {method!r}; expected one of {sorted(IMIP_METHODS)}"
        )

    calendar = _parse_calendar(ics)
    found = str(calendar.get("METHOD", "")).strip().upper()
    if not found:
        nested = [
            str(component.name)
            for component in calendar.walk()
            if component is not calendar and "METHOD" in component
        ]
        where = f" (found inside {', '.join(nested)} only)" if nested else ""
        raise ValidationFailed.field(
            "ics", f"METHOD is missing at VCALENDAR level{where}; iMIP needs it there"
        )
    if found == "PUBLISH":
        raise ValidationFailed.field(
            "ics", "METHOD:PUBLISH is not an invitation; use REQUEST with ORGANIZER and ATTENDEE"
        )
    if found != expected_method:
        raise ValidationFailed.field(
            "method", f"method {expected_method} does not match the calendar's METHOD:{found}"
        )

    components = [c for c in calendar.subcomponents if c.name in {"VEVENT", "VTODO"}]
    if not components:
        raise ValidationFailed.field("ics", "the calendar contains no VEVENT or VTODO")
    for component in components:
        if not component.get("UID"):
            raise ValidationFailed.field("ics", f"a {component.name} has no UID")
        if found == "REQUEST":
            _check_request_component(component, sender=sender)
    return found


def _check_request_component(component: Component, *, sender: str) -> None:
    organizer = component.get("ORGANIZER")
    if organizer is None:
        raise ValidationFailed.field("ics", "a REQUEST needs an ORGANIZER")
    if not component.get("ATTENDEE"):
        raise ValidationFailed.field("ics", "a REQUEST needs at least one ATTENDEE")

    organizer_address = _mailto_address(str(organizer))
    sent_by = _mailto_address(str(organizer.params.get("SENT-BY", "")))
    if sender.lower() not in {organizer_address, sent_by}:
        raise ValidationFailed.field(
            "sender",
            f"sender {sender} is neither the ORGANIZER {organizer_address} nor its SENT-BY",
        )


def _mailto_address(value: str) -> str:
    value = value.strip()
    if value.lower().startswith("mailto:"):
        value = value[len("mailto:") :]
    return value.lower()


def _parse_calendar(ics: bytes) -> Calendar:
    try:
        ics.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ICalendarError(f"the calendar is not valid UTF-8 at byte {exc.start}") from exc
    try:
        calendar = Calendar.from_ical(ics)
    except ValueError as exc:
        raise ICalendarError(f"the calendar cannot be parsed: {exc}") from exc
    if not isinstance(calendar, Calendar) or calendar.name != "VCALENDAR":
        raise ICalendarError("the data is not a single VCALENDAR object")
    return calendar


def _text_part(body: str, *, subtype: str) -> EmailMessage:
    part = EmailMessage()
    part.set_content(body, subtype=subtype, charset="utf-8", cte="base64")
    del part["MIME-Version"]
    return part


def _calendar_part(ics: bytes, *, method: str) -> EmailMessage:
    part = EmailMessage()
    part.set_content(
        ics,
        maintype="text",
        subtype="calendar",
        cte="base64",
        params={"charset": "UTF-8", "method": method},
    )
    del part["MIME-Version"]
    return part


def _calendar_attachment(ics: bytes) -> EmailMessage:
    part = EmailMessage()
    part.set_content(
        ics,
        maintype="application",
        subtype="ics",
        cte="base64",
        disposition="attachment",
        filename=ATTACHMENT_FILENAME,
        params={"name": ATTACHMENT_FILENAME},
    )
    del part["MIME-Version"]
    return part


def _set_envelope_headers(
    message: EmailMessage,
    *,
    subject: str,
    sender: str,
    sender_name: str | None,
    recipient: str,
    recipient_name: str | None,
    message_id_domain: str,
    message_id: str | None,
    language: str | None,
    headers: Mapping[str, str] | None,
) -> None:
    for name, value in (
        ("subject", subject),
        ("sender", sender),
        ("sender_name", sender_name),
        ("recipient", recipient),
        ("recipient_name", recipient_name),
        ("message_id_domain", message_id_domain),
        ("message_id", message_id),
        ("language", language),
    ):
        _reject_line_breaks(name, value)

    extra = dict(headers or {})
    for name, value in extra.items():
        field_name = f"headers[{name}]"
        _reject_line_breaks(field_name, name)
        _reject_line_breaks(field_name, value)
        if not name or not all(33 <= ord(ch) <= 126 and ch != ":" for ch in name):
            raise ValidationFailed.field(field_name, "a header name must be printable ASCII")
        if name.lower() in _RESERVED_HEADERS:
            raise ValidationFailed.field(
                field_name, "this header is set by the builder and cannot be replaced"
            )

    message["From"] = _address("sender", sender, display_name=sender_name)
    message["To"] = _address("recipient", recipient, display_name=recipient_name)
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = _message_id(message_id, domain=message_id_domain)
    message["MIME-Version"] = "1.0"
    for name, value in extra.items():
        message[name] = value


def _set_content_language(message: EmailMessage, language: str | None) -> None:
    # Set last: make_mixed() and set_content() move or drop Content-* headers set earlier.
    if language:
        message["Content-Language"] = language


def _reject_line_breaks(field_name: str, value: str | None) -> None:
    if value is None:
        return
    if any(ch in value for ch in "\r\n\x00"):
        raise ValidationFailed.field(field_name, "must not contain CR, LF or NUL characters")


def _address(field_name: str, addr_spec: str, *, display_name: str | None) -> Address:
    local, at, domain = addr_spec.strip().rpartition("@")
    if not at or not local or not domain or any(ch.isspace() or ch in '<>,;"' for ch in addr_spec):
        raise ValidationFailed.field(field_name, f"{addr_spec!r} is not an e-mail address")
    if not local.isascii():
        raise ValidationFailed.field(
            field_name, "a non-ASCII local part needs SMTPUTF8, which confsvc does not send"
        )
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValidationFailed.field(field_name, f"invalid domain {domain!r}") from exc
    return Address(display_name=display_name or "", username=local, domain=ascii_domain)


def _message_id(message_id: str | None, *, domain: str) -> str:
    if message_id is None:
        if not domain or not domain.isascii() or any(ch.isspace() or ch in "<>@" for ch in domain):
            raise ValidationFailed.field("message_id_domain", f"invalid domain {domain!r}")
        return make_msgid(domain=domain)
    inner = message_id[1:-1] if message_id.startswith("<") and message_id.endswith(">") else ""
    if (
        not inner
        or inner.count("@") != 1
        or not inner.isascii()
        or any(ch.isspace() or ch in "<>" for ch in inner)
    ):
        raise ValidationFailed.field("message_id", f"{message_id!r} is not <local@domain>")
    return message_id


# --- SMTP settings and delivery ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """Connection settings for the SMTP relay, read from ``CONFSVC_SMTP_URL``."""

    host: str
    port: int
    implicit_tls: bool = False
    """True for ``smtps://``: TLS from the first byte (port 465 by default)."""
    starttls: bool = False
    """Require STARTTLS on a plain connection (``?starttls=true``)."""
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    cafile: str | None = None
    """PEM file of CA certificates to trust instead of the system store (``?cafile=``)."""
    local_hostname: str | None = None
    """Name sent in EHLO (``?helo=``); the local host name by default."""

    @classmethod
    def from_url(cls, url: str) -> SmtpSettings:
        """Parse ``smtp://user:password@host:port`` or ``smtps://...``.

        User name and password are percent-decoded. Query options: ``starttls=true``,
        ``cafile=/path/ca.pem`` and ``helo=name``. Default ports are 25 for ``smtp://`` and
        465 for ``smtps://``. Certificates are always verified.

        Raises:
            ConfigurationError: the URL is malformed; the message names CONFSVC_SMTP_URL
                and never contains the password.
        """
        parsed = parse_mail_url(
            url,
            variable=_SMTP_URL_VARIABLE,
            plain_scheme="smtp",
            plain_port=25,
            tls_port=465,
            options=frozenset({"cafile", "helo"}),
        )
        if parsed.path not in {"", "/"}:
            raise config_error(_SMTP_URL_VARIABLE, f"unexpected path {parsed.path!r}")
        if parsed.username and not (parsed.implicit_tls or parsed.starttls):
            logger.warning(
                "smtp credentials configured without TLS", extra={"smtp_host": parsed.host}
            )

        return cls(
            host=parsed.host,
            port=parsed.port,
            implicit_tls=parsed.implicit_tls,
            starttls=parsed.starttls,
            username=parsed.username,
            password=parsed.password,
            cafile=parsed.options.get("cafile") or None,
            local_hostname=parsed.options.get("helo") or None,
        )

    def __repr__(self) -> str:
        secret = "***" if self.password else None
        return (
            f"SmtpSettings(host={self.host!r}, port={self.port}, implicit_tls={self.implicit_tls},"
            f" starttls={self.starttls}, username={self.username!r}, password={secret!r},"
            f" cafile={self.cafile!r}, local_hostname={self.local_hostname!r})"
        )


async def send_message(
    settings: SmtpSettings,
    message: EmailMessage,
    *,
    timeout: float = 30.0,
    envelope_sender: str | None = None,
    recipients: list[str] | None = None,
) -> None:
    """Send one message over a new SMTP connection.

    ``timeout`` (seconds) applies to the connection and to each SMTP command. Envelope
    sender and recipients default to the From and To/Cc headers. The connection is closed
    before returning.

    Raises:
        PermanentDeliveryError: the server rejected the sender, a recipient or the data with
            a 5xx reply, so a retry would get the same reply. Also raised when only some
            recipients were refused, since a retry would duplicate the message for the others.
        DeliveryError: the server is unreachable or timed out, TLS or authentication failed,
            or it replied 4xx; a later retry may succeed.
    """
    message_id = str(message.get("Message-ID", ""))
    log_fields = {"smtp_host": settings.host, "smtp_port": settings.port, "message_id": message_id}
    tls_context = (
        client_tls_context(settings.cafile, variable=_SMTP_URL_VARIABLE)
        if settings.implicit_tls or settings.starttls
        else None
    )

    client = aiosmtplib.SMTP(
        hostname=settings.host,
        port=settings.port,
        username=settings.username,
        password=settings.password,
        local_hostname=settings.local_hostname,
        timeout=timeout,
        use_tls=settings.implicit_tls,
        # False, not None: aiosmtplib would otherwise try STARTTLS whenever the server
        # offers it, and fail on relays with certificates the operator never configured.
        start_tls=settings.starttls,
        tls_context=tls_context,
    )
    try:
        async with client:
            refused, _reply = await client.send_message(
                message, sender=envelope_sender, recipients=recipients
            )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        refusals = {r.recipient: (r.code, r.message) for r in exc.recipients}
        raise _refusal_error(refusals, log_fields) from exc
    except (aiosmtplib.SMTPSenderRefused, aiosmtplib.SMTPDataError) as exc:
        stage = "sender" if isinstance(exc, aiosmtplib.SMTPSenderRefused) else "data"
        logger.warning(
            "smtp message rejected",
            extra={**log_fields, "smtp_stage": stage, "smtp_code": exc.code},
        )
        permanent = 500 <= exc.code < 600 and exc.code not in _RELAY_SETUP_CODES
        error_class = PermanentDeliveryError if permanent else DeliveryError
        raise error_class(f"SMTP server rejected the {stage}: {exc.code} {exc.message}") from exc
    except aiosmtplib.SMTPAuthenticationError as exc:
        logger.error("smtp authentication failed", extra={**log_fields, "smtp_code": exc.code})
        raise DeliveryError(
            f"SMTP authentication failed for user {settings.username!r}: {exc.code}"
        ) from exc
    except aiosmtplib.SMTPTimeoutError as exc:
        logger.warning("smtp timed out", extra={**log_fields, "timeout_s": timeout})
        raise DeliveryError(
            f"SMTP server {settings.host}:{settings.port} timed out after {timeout} s"
        ) from exc
    except aiosmtplib.SMTPResponseException as exc:
        logger.warning("smtp command failed", extra={**log_fields, "smtp_code": exc.code})
        raise DeliveryError(f"SMTP server replied {exc.code} {exc.message}") from exc
    except (aiosmtplib.SMTPException, ssl.SSLError, OSError) as exc:
        logger.warning("smtp connection failed", extra={**log_fields, "error": type(exc).__name__})
        raise DeliveryError(
            f"cannot deliver through {settings.host}:{settings.port}: {exc}"
        ) from exc

    if refused:
        # Some recipients accepted the message, so a retry would send it to them twice.
        refusals = {rcpt: (r.code, r.message) for rcpt, r in refused.items()}
        raise _refusal_error(refusals, log_fields, partial=True)
    logger.info("smtp message sent", extra=log_fields)


def _refusal_error(
    refusals: Mapping[str, tuple[int, str]],
    log_fields: Mapping[str, object],
    *,
    partial: bool = False,
) -> DeliveryError:
    """Build the error for refused recipients.

    The error is permanent when every refusal is 5xx, or when other recipients accepted
    the message (``partial``), because a retry would duplicate it for them.
    """
    codes = sorted({code for code, _text in refusals.values()})
    logger.warning(
        "smtp recipients refused",
        extra={**log_fields, "smtp_codes": codes, "recipient_count": len(refusals)},
    )
    details = "; ".join(f"{rcpt}: {code} {text}" for rcpt, (code, text) in refusals.items())
    if partial or all(500 <= code < 600 for code in codes):
        return PermanentDeliveryError(f"SMTP server refused the recipient(s): {details}")
    return DeliveryError(f"SMTP server deferred the recipient(s): {details}")
