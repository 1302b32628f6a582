"""Recipients, e-mails and signed receipt links of distributed minutes.

A receipt link is ``{base_url}/ack/{token}`` with ``token = <receipt id hex>.<signature>``,
the signature being HMAC-SHA256 of the id under ``CONFSVC_SECRET_KEY`` (base64url). The
link carries no other state, so a changed key invalidates links already sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from confsvc import validation
from confsvc.db.models import Meeting, Minutes
from confsvc.errors import ValidationFailed
from confsvc.i18n import gettext as _
from confsvc.minutes import content
from confsvc.minutes.schemas import AttendanceIn

_PURPOSE = b"minutes-receipt\x00"

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str
    locale: str | None = None


def recipients_for(meeting: Meeting, minutes: Minutes, *, extra: Sequence[str]) -> list[Recipient]:
    """List who receives the minutes: invitees, chair, organiser and secretary, and for
    meetings that are not confidential also guests with an address and ``extra``.

    Raises:
        ValidationFailed: ``extra`` for a confidential meeting, or an invalid address.
    """
    confidential = meeting.confidentiality == "confidential"
    if confidential and extra:
        raise ValidationFailed.field(
            "extra_recipients", _("the meeting is confidential; its minutes go only to its attendees")
        )
    found: dict[str, Recipient] = {}

    def add(email: str, name: str, locale: str | None = None) -> None:
        if email not in found:
            found[email] = Recipient(email=email, name=name, locale=locale)

    for attendee in meeting.attendees:
        add(attendee.email, attendee.name)
    for person in (meeting.chair, meeting.organiser, meeting.secretary):
        if person is not None:
            add(person.email, person.name, person.locale)
    if not confidential:
        for entry in content.from_json(minutes.attendance, AttendanceIn):
            if entry.status == "guest" and entry.email:
                add(entry.email, entry.name)
        for index, address in enumerate(extra):
            add(validation.email(address, field=f"extra_recipients[{index}]"), "")
    return list(found.values())


def receipt_token(secret: str, receipt_id: uuid.UUID) -> str:
    return f"{receipt_id.hex}.{_signature(secret, receipt_id.hex)}"


def receipt_id_from_token(secret: str, token: str) -> uuid.UUID | None:
    """Return the receipt id of a valid token, None for a malformed or forged one."""
    identifier, _sep, signature = token.partition(".")
    if len(identifier) != 32 or not signature:
        return None
    try:
        receipt_id = uuid.UUID(hex=identifier)
    except ValueError:
        return None
    if not hmac.compare_digest(signature, _signature(secret, identifier)):
        return None
    return receipt_id


def _signature(secret: str, identifier: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), _PURPOSE + identifier.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def attachment(filename: str, content_type: str, data: bytes) -> dict[str, str]:
    """Return an e-mail attachment in the outbox payload shape (base64 content)."""
    return {"filename": filename, "content_type": content_type, "data": base64.b64encode(data).decode("ascii")}


def email_payload(
    *,
    meeting: Meeting,
    minutes: Minutes,
    recipient: Recipient,
    link: str,
    attachments: list[dict[str, str]],
    locale: str,
) -> dict[str, Any]:
    """Build the ``email`` outbox payload that sends the minutes to one recipient."""
    title = meeting.title
    number = minutes.number or ""
    subject = _("Minutes: {title} {number}", locale=locale, title=title, number=number).strip()
    if meeting.confidentiality == "confidential":
        subject = _("[Confidential] {subject}", locale=locale, subject=subject)
    text = _(
        "Dear {name},\n\nthe approved minutes of \"{title}\" ({number}, version {version}) are attached.\n"
        "Please confirm receipt by opening this link:\n{link}\n",
        locale=locale,
        name=recipient.name or recipient.email,
        title=title,
        number=number,
        version=minutes.version,
        link=link,
    )
    if meeting.confidentiality == "confidential":
        text += "\n" + _("This document is confidential. Do not forward it.", locale=locale) + "\n"
    return {
        "subject": subject,
        "text": text,
        "to_name": recipient.name,
        "language": locale,
        "attachments": attachments,
    }
