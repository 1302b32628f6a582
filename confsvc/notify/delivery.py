"""Delivery handlers of the outbox, one per channel name, built from the settings.

Channel names and their payloads (JSON objects stored in ``outbox_message.payload``):

``email``
    ``subject``, ``text``, ``html`` (optional), ``to_name``, ``language`` and, for an iMIP
    message, ``method`` and ``ics`` (the calendar as text). Sent over SMTP with a
    Message-ID derived from the idempotency key. A plain (non-iMIP) message may carry
    ``attachments``: a list of ``{"filename", "content_type", "data"}`` with ``data`` in
    base64; the mail then becomes multipart/mixed.
``caldav``
    ``action`` (``put`` or ``delete``), ``uid``, ``ics`` for ``put``, ``sequence`` and
    ``dtstamp`` (ISO 8601, UTC). Written into the calendar of the row's recipient.
``im``
    ``kind`` (a channel kind of ``confsvc.notify.channels``), ``config``, ``title``,
    ``text`` and optionally ``link``, ``format`` and ``mentions``.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from typing import Any

import icalendar

from confsvc.db.models import OutboxMessage
from confsvc.errors import PermanentDeliveryError, ValidationFailed
from confsvc.notify.mail import SmtpSettings, build_imip_message, build_plain_message, send_message
from confsvc.notify.outbox import DeliveryHandler, message_id_for
from confsvc.settings import Settings

__all__ = ["CalDAVHandler", "ChannelHandler", "EmailHandler", "build_handlers", "mail_domain"]

logger = logging.getLogger(__name__)


def mail_domain(settings: Settings) -> str:
    return settings.mail.mail_from.rpartition("@")[2] or "confsvc.localhost"


class EmailHandler:
    """Sends ``email`` rows through the SMTP relay of ``CONFSVC_SMTP_URL``.

    ``timeout`` (seconds) bounds the connection and each SMTP command; keep it well below
    the outbox lease so a slow relay does not let a second dispatcher take the row.
    """

    def __init__(self, settings: Settings, *, timeout: float = 30.0) -> None:
        if not settings.mail.smtp_url:
            raise ValueError("EmailHandler needs CONFSVC_SMTP_URL")
        self.smtp = SmtpSettings.from_url(settings.mail.smtp_url)
        self.sender = settings.mail.mail_from
        self.domain = mail_domain(settings)
        self.timeout = min(timeout, max(settings.outbox.lease_seconds / 2, 1.0))

    async def deliver(self, message: OutboxMessage) -> None:
        payload = message.payload
        common = {
            "subject": str(payload["subject"]),
            "text": str(payload["text"]),
            "html": payload.get("html"),
            "sender": self.sender,
            "sender_name": payload.get("sender_name"),
            "recipient": message.recipient,
            "recipient_name": payload.get("to_name") or None,
            "message_id_domain": self.domain,
            "message_id": message_id_for(message.idempotency_key, domain=self.domain),
            "language": payload.get("language"),
        }
        if payload.get("ics"):
            mail = build_imip_message(ics=str(payload["ics"]).encode("utf-8"), method=str(payload["method"]), **common)
        else:
            mail = build_plain_message(**common)
            _attach(mail, payload.get("attachments") or [])
        await send_message(self.smtp, mail, timeout=self.timeout)


def _attach(mail: EmailMessage, attachments: list[Any]) -> None:
    """Add the payload's base64 attachments; a malformed entry cannot improve on retry."""
    for index, item in enumerate(attachments):
        try:
            data = base64.b64decode(str(item["data"]), validate=True)
            maintype, _sep, subtype = str(item.get("content_type") or "application/octet-stream").partition("/")
            mail.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream", filename=str(item["filename"]))
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise PermanentDeliveryError(f"invalid e-mail attachment {index} in the outbox payload: {exc}") from exc


class CalDAVHandler:
    """Writes ``caldav`` rows into people's calendars on the server of ``CONFSVC_CALDAV_URL``.

    A write never replaces a newer copy: when the stored event has a higher SEQUENCE, or
    the same SEQUENCE and a later DTSTAMP, the row counts as delivered without a PUT, so
    retries that arrive out of order cannot roll a calendar back. ``timeout`` (seconds)
    bounds connecting and each read and write of every request.
    """

    def __init__(self, settings: Settings, *, timeout: float = 10.0) -> None:
        from confsvc.notify.caldav import CalDAVWriter

        caldav = settings.caldav
        if not caldav.url:
            raise ValueError("CalDAVHandler needs CONFSVC_CALDAV_URL")
        self._writer_args = {
            "base_url": caldav.url,
            "username": caldav.username or "",
            "password": caldav.password or "",
            "calendar_url_template": caldav.calendar_template,
            "timeout": timeout,
        }
        self._writer_class = CalDAVWriter

    async def deliver(self, message: OutboxMessage) -> None:
        payload = message.payload
        uid = str(payload["uid"])
        async with self._writer_class(**self._writer_args) as writer:  # type: ignore[arg-type]
            calendar_url = await writer.calendar_url_for(message.recipient)
            href = writer.event_url(calendar_url, uid)
            current = await writer.get_event(href)
            if payload.get("action") == "delete":
                await writer.delete_event(calendar_url, uid, etag=current.etag if current else None)
                return
            if current is not None and _is_newer(current.data, payload):
                logger.info("caldav write skipped, server copy is newer delivery_id=%s", message.id)
                return
            await writer.put_event(
                calendar_url, uid, str(payload["ics"]).encode("utf-8"), etag=current.etag if current else None
            )


def _is_newer(stored: bytes, payload: Mapping[str, object]) -> bool:
    """Tell whether the stored event is newer than the payload by (SEQUENCE, DTSTAMP)."""
    try:
        calendar = icalendar.Calendar.from_ical(stored)
    except ValueError:
        return False
    events = [c for c in calendar.walk("VEVENT") if "RECURRENCE-ID" not in c]
    if not events:
        return False
    stored_sequence = int(events[0].get("SEQUENCE", 0))
    stamp = events[0].get("DTSTAMP")
    ours_sequence = int(str(payload.get("sequence", 0)))
    if stored_sequence != ours_sequence:
        return stored_sequence > ours_sequence
    if stamp is None or not payload.get("dtstamp"):
        return False
    return bool(stamp.dt > datetime.fromisoformat(str(payload["dtstamp"])))


class ChannelHandler:
    """Sends ``im`` rows through an instant-messaging or webhook channel."""

    async def deliver(self, message: OutboxMessage) -> None:
        from confsvc.notify.channels.base import ChannelMessage
        from confsvc.notify.channels.registry import channel_for

        payload = message.payload
        # NOTE: the channel config (robot keys, signing secrets) travels in the payload;
        # storing a reference to a channel setting instead would keep secrets out of the outbox.
        try:
            channel = channel_for(str(payload["kind"]), config=dict(payload.get("config") or {}))
            outgoing = ChannelMessage(
                title=str(payload["title"]),
                text=str(payload["text"]),
                idempotency_key=message.idempotency_key,
                format=payload.get("format", "markdown"),
                link=payload.get("link"),
                mentions=tuple(payload.get("mentions") or ()),
            )
        except (KeyError, ValueError, ValidationFailed) as exc:
            raise PermanentDeliveryError(f"invalid IM outbox payload: {exc}") from exc
        await channel.send(outgoing)


def build_handlers(settings: Settings) -> dict[str, DeliveryHandler]:
    """Return the handlers this process can run; channels without settings are left out."""
    handlers: dict[str, DeliveryHandler] = {"im": ChannelHandler()}
    if settings.mail.smtp_url:
        handlers["email"] = EmailHandler(settings)
    if settings.caldav.url:
        handlers["caldav"] = CalDAVHandler(settings)
    return handlers
