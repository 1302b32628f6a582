"""Invitations: turn a meeting change into outbox rows (iMIP e-mails and CalDAV writes).

The functions here run inside the transaction of the change (``MeetingService`` calls them
after its flush, before the caller commits), so the messages are committed together with
the change or not at all. Each message is rendered now, in the recipient's language (the
person's locale when the address is in the directory, else ``CONFSVC_DEFAULT_LOCALE``).
DESCRIPTION carries the meeting's description and its current agenda in every message.

ORGANIZER is the service's scheduling address (``CONFSVC_MAIL_FROM``) with the
organiser's name as CN, so replies come back to the service. Only the chair's copy
carries the host PIN.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.booking import rsvp
from confsvc.booking.ical import (
    AttendeeInfo,
    ConferenceInfo,
    DialIn,
    MeetingSnapshot,
    OccurrenceOverride,
    build_calendar,
    build_cancel,
    build_declinecounter,
)
from confsvc.db.models import AgendaItem, Meeting, OutboxMessage, Person
from confsvc.i18n import gettext as _
from confsvc.i18n import normalise_locale
from confsvc.notify.outbox import enqueue
from confsvc.settings import Settings

__all__ = [
    "Recipient",
    "RecipientState",
    "agenda_text",
    "enqueue_cancelled",
    "enqueue_created",
    "enqueue_declinecounter",
    "enqueue_occurrence_updated",
    "enqueue_request",
    "enqueue_resend_same_sequence",
    "enqueue_updated",
    "invitation_ics",
    "recipients_of",
    "snapshot_of",
]

logger = logging.getLogger(__name__)

_ROLES = {"required": "REQ-PARTICIPANT", "optional": "OPT-PARTICIPANT", "chair": "CHAIR"}


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str
    in_directory: bool


@dataclass(frozen=True)
class RecipientState:
    """Recipients and SEQUENCE of a meeting, taken before a change."""

    sequence: int
    recipients: tuple[Recipient, ...]

    @property
    def emails(self) -> set[str]:
        return {r.email for r in self.recipients}


def recipients_of(meeting: Meeting) -> RecipientState:
    """Return the attendees plus the chair (when not listed), in list order."""
    people: dict[str, Recipient] = {}
    for attendee in meeting.attendees:
        people.setdefault(attendee.email, Recipient(attendee.email, attendee.name, attendee.person_id is not None))
    if meeting.chair is not None:
        people.setdefault(meeting.chair.email, Recipient(meeting.chair.email, meeting.chair.name, True))
    return RecipientState(sequence=meeting.sequence, recipients=tuple(people.values()))


# -- iCalendar ----------------------------------------------------------------------


def agenda_text(items: Sequence[AgendaItem]) -> str:
    """Render the agenda as the bilingual block written into the invitation's DESCRIPTION."""
    if not items:
        return ""
    lines = ["议程 / Agenda:"]
    for item in sorted(items, key=lambda entry: entry.position):
        parts = [f"{item.position}. {item.title}"]
        if item.duration_minutes:
            parts.append(f"({item.duration_minutes} 分钟 / min)")
        if item.presenter:
            parts.append(f"— {item.presenter}")
        lines.append(" ".join(parts))
    return "\n".join(lines)


def _description(meeting: Meeting) -> str:
    """Return the meeting's description followed by its agenda; empty when it has neither."""
    sections = [(meeting.description or "").strip(), agenda_text(meeting.agenda_items)]
    return "\n\n".join(section for section in sections if section)


def snapshot_of(meeting: Meeting, *, dtstamp: datetime, url: str | None = None) -> MeetingSnapshot:
    """Describe the meeting as it is now; cancelled occurrences of a series become EXDATEs."""
    chair_email = meeting.chair.email if meeting.chair else None
    attendees = [
        AttendeeInfo(
            email=a.email,
            cn=a.name or None,
            role="CHAIR" if a.email == chair_email else _ROLES.get(a.role, "REQ-PARTICIPANT"),
            partstat=a.partstat,
        )
        for a in meeting.attendees
    ]
    if meeting.chair is not None and chair_email not in {a.email for a in meeting.attendees}:
        attendees.insert(0, AttendeeInfo(email=meeting.chair.email, cn=meeting.chair.name, role="CHAIR"))

    exdates: list[datetime] = []
    overrides: list[OccurrenceOverride] = []
    if meeting.rrule:
        for booking in meeting.bookings:
            if not booking.active and meeting.status != "cancelled":
                exdates.append(booking.recurrence_id)
            elif booking.active and booking.overridden:
                overrides.append(
                    OccurrenceOverride(
                        recurrence_id=booking.recurrence_id, start=booking.starts_at, end=booking.ends_at, sequence=meeting.sequence
                    )
                )

    return MeetingSnapshot(
        uid=meeting.uid,
        sequence=meeting.sequence,
        start=meeting.starts_at,
        end=meeting.ends_at,
        timezone=meeting.time_zone,
        summary=meeting.title,
        attendees=tuple(attendees),
        description=_description(meeting) or None,
        room=meeting.room.name if meeting.room else None,
        conference=_conference(meeting),
        rrule=meeting.rrule,
        exdates=tuple(exdates),
        overrides=tuple(overrides),
        dtstamp=dtstamp,
        url=url,
    )


def _conference(meeting: Meeting) -> ConferenceInfo | None:
    bridge = meeting.bridge
    if bridge is None:
        return None
    dial_in = tuple(
        DialIn(number=str(item.get("number")), label=item.get("label")) for item in bridge.dial_in or [] if item.get("number")
    )
    return ConferenceInfo(
        dial_in=dial_in,
        access_code=bridge.access_code,
        participant_pin=bridge.participant_pin,
        host_pin=bridge.host_pin,
        bridge_name=bridge.name,
    )


def invitation_ics(meeting: Meeting, settings: Settings, *, recipient: str | None, dtstamp: datetime | None = None) -> bytes:
    """Return the METHOD:REQUEST calendar of ``meeting`` as ``recipient`` receives it."""
    snapshot = snapshot_of(meeting, dtstamp=dtstamp or datetime.now(UTC))
    return _request_ics(meeting, settings, snapshot, recipient=recipient, method="REQUEST")


def _request_ics(meeting: Meeting, settings: Settings, snapshot: MeetingSnapshot, *, recipient: str | None, method: str | None) -> bytes:
    return build_calendar(
        snapshot,
        method=method,
        organiser_address=settings.mail.mail_from,
        organiser_cn=meeting.organiser.name,
        recipient=recipient,
        etiquette=settings.meeting_etiquette or None,
    )


# -- enqueueing ------------------------------------------------------------------------


async def enqueue_created(session: AsyncSession, settings: Settings, meeting: Meeting) -> None:
    """Queue a REQUEST to every attendee and the CalDAV copies of a new meeting."""
    now = datetime.now(UTC)
    state = recipients_of(meeting)
    await enqueue_request(session, settings, meeting, state.recipients, now=now, kind="new")
    await _enqueue_caldav_puts(session, settings, meeting, state.recipients, now=now)


async def enqueue_updated(session: AsyncSession, settings: Settings, meeting: Meeting, before: RecipientState) -> None:
    """Queue the messages of a changed meeting.

    A raised SEQUENCE sends a REQUEST to everyone; otherwise only added people get one.
    Removed people get a CANCEL and lose the CalDAV copy. Calendars are rewritten always.
    """
    now = datetime.now(UTC)
    await _supersede_pending_resends(session, meeting, now=now)
    after = recipients_of(meeting)
    removed = [r for r in before.recipients if r.email not in after.emails]
    added = [r for r in after.recipients if r.email not in before.emails]
    targets = after.recipients if meeting.sequence != before.sequence else tuple(added)
    if targets:
        await enqueue_request(session, settings, meeting, targets, now=now, kind="update" if meeting.sequence != before.sequence else "new")
    if removed:
        await _enqueue_cancel(session, settings, meeting, removed, now=now, recurrence_id=None, removed=True)
    await _enqueue_caldav_puts(session, settings, meeting, after.recipients, now=now)
    await _enqueue_caldav_deletes(session, settings, meeting, removed, now=now)


async def enqueue_occurrence_updated(session: AsyncSession, settings: Settings, meeting: Meeting) -> None:
    """Queue a REQUEST (the series with its RECURRENCE-ID overrides) to everyone."""
    now = datetime.now(UTC)
    await _supersede_pending_resends(session, meeting, now=now)
    state = recipients_of(meeting)
    await enqueue_request(session, settings, meeting, state.recipients, now=now, kind="update")
    await _enqueue_caldav_puts(session, settings, meeting, state.recipients, now=now)


async def enqueue_cancelled(
    session: AsyncSession, settings: Settings, meeting: Meeting, *, before_sequence: int, recurrence_id: datetime | None
) -> None:
    """Queue a CANCEL of the series or one occurrence; nothing when the call changed nothing."""
    if meeting.sequence == before_sequence:
        return
    now = datetime.now(UTC)
    await _supersede_pending_resends(session, meeting, now=now)
    state = recipients_of(meeting)
    rid = recurrence_id.astimezone(UTC) if recurrence_id is not None else None
    await _enqueue_cancel(session, settings, meeting, state.recipients, now=now, recurrence_id=rid, removed=False)
    await _enqueue_caldav_puts(session, settings, meeting, state.recipients, now=now)


async def enqueue_request(
    session: AsyncSession,
    settings: Settings,
    meeting: Meeting,
    recipients: Iterable[Recipient],
    *,
    now: datetime,
    kind: str,
    not_before: datetime | None = None,
    key_prefix: str = "",
) -> None:
    """Queue one METHOD:REQUEST e-mail per recipient; ``kind`` is ``new`` or ``update``."""
    snapshot = snapshot_of(meeting, dtstamp=now)
    recipients = list(recipients)
    locales = await _locales(session, settings, [r.email for r in recipients])
    for recipient in recipients:
        locale = locales[recipient.email]
        ics = _request_ics(meeting, settings, snapshot, recipient=recipient.email, method="REQUEST")
        subject_text = "Invitation: {title}" if kind == "new" else "Updated invitation: {title}"
        subject = _(subject_text, locale=locale, title=meeting.title)
        text = _request_text(meeting, settings, recipient, locale=locale, is_chair=_is_chair(meeting, recipient.email))
        await _enqueue_mail(
            session, settings, meeting, recipient, method="REQUEST", ics=ics, subject=subject, text=text, locale=locale, now=now,
            not_before=not_before, key_prefix=key_prefix,
        )


_RESEND_KEY_PREFIX = "resend:"


async def enqueue_resend_same_sequence(
    session: AsyncSession, settings: Settings, meeting: Meeting, *, settle: timedelta, now: datetime | None = None
) -> int:
    """Queue the meeting as it is now to every recipient and CalDAV copy, at the same SEQUENCE.

    For changes that need no new replies (the agenda, say): the SEQUENCE stays, so
    calendars update the event and keep the replies already given, and the later DTSTAMP
    lets the CalDAV copies be replaced. The messages wait ``settle`` before delivery, and
    a later resend or change of the meeting drops those still waiting, so several edits in
    a row reach each attendee once. Returns the number of e-mails queued.
    """
    now = now or datetime.now(UTC)
    await _supersede_pending_resends(session, meeting, now=now)
    state = recipients_of(meeting)
    due = now + settle
    await enqueue_request(
        session, settings, meeting, state.recipients, now=now, kind="update", not_before=due, key_prefix=_RESEND_KEY_PREFIX
    )
    await _enqueue_caldav_puts(session, settings, meeting, state.recipients, now=now, not_before=due, key_prefix=_RESEND_KEY_PREFIX)
    return len(state.recipients)


async def _supersede_pending_resends(session: AsyncSession, meeting: Meeting, *, now: datetime) -> int:
    """Drop the resends of ``meeting`` still waiting for their settle time; return how many."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.meeting_id == meeting.id,
            OutboxMessage.idempotency_key.startswith(_RESEND_KEY_PREFIX),
            OutboxMessage.status == "pending",
            OutboxMessage.attempts == 0,
            OutboxMessage.locked_until.is_(None),
            OutboxMessage.next_attempt_at > now,
        )
        .values(status="dropped", last_error="superseded by a later change of the meeting", updated_at=now)
        .execution_options(synchronize_session=False)
    )
    dropped = int(getattr(result, "rowcount", 0) or 0)
    if dropped:
        logger.info("pending resends superseded meeting_id=%s dropped=%d", meeting.id, dropped)
    return dropped


async def _enqueue_cancel(
    session: AsyncSession,
    settings: Settings,
    meeting: Meeting,
    recipients: Sequence[Recipient],
    *,
    now: datetime,
    recurrence_id: datetime | None,
    removed: bool,
) -> None:
    snapshot = snapshot_of(meeting, dtstamp=now)
    locales = await _locales(session, settings, [r.email for r in recipients])
    zone = ZoneInfo(meeting.time_zone)
    for recipient in recipients:
        locale = locales[recipient.email]
        only = [AttendeeInfo(email=recipient.email, cn=recipient.name or None)] if removed else None
        ics = build_cancel(
            snapshot,
            organiser_address=settings.mail.mail_from,
            organiser_cn=meeting.organiser.name,
            recurrence_id=recurrence_id,
            attendees=only,
        )
        lines = [_("Meeting: {title}", locale=locale, title=meeting.title)]
        if removed:
            lines.append(_("You are no longer invited to this meeting.", locale=locale))
        elif recurrence_id is not None:
            when = recurrence_id.astimezone(zone).strftime("%Y-%m-%d %H:%M")
            lines.append(_("The occurrence on {when} is cancelled.", locale=locale, when=f"{when} ({meeting.time_zone})"))
        else:
            lines.append(_("This meeting is cancelled.", locale=locale))
            if meeting.cancel_reason:
                lines.append(_("Reason: {reason}", locale=locale, reason=meeting.cancel_reason))
        await _enqueue_mail(
            session,
            settings,
            meeting,
            recipient,
            method="CANCEL",
            ics=ics,
            subject=_("Cancelled: {title}", locale=locale, title=meeting.title),
            text="\n".join(lines) + "\n",
            locale=locale,
            now=now,
            recurrence_id=recurrence_id,
        )


async def enqueue_declinecounter(
    session: AsyncSession, settings: Settings, meeting: Meeting, *, proposer: str, comment: str | None, recurrence_id: datetime | None
) -> None:
    """Queue a METHOD:DECLINECOUNTER e-mail to the proposer of a COUNTER."""
    now = datetime.now(UTC)
    snapshot = snapshot_of(meeting, dtstamp=now)
    name = next((a.name for a in meeting.attendees if a.email == proposer), "")
    recipient = Recipient(proposer, name, False)
    locale = (await _locales(session, settings, [proposer]))[proposer]
    ics = build_declinecounter(
        snapshot,
        proposer=proposer,
        organiser_address=settings.mail.mail_from,
        organiser_cn=meeting.organiser.name,
        comment=comment,
        recurrence_id=recurrence_id,
    )
    text = _("The organiser keeps the meeting at its current time: {when}", locale=locale, when=_when(meeting)) + "\n"
    await _enqueue_mail(
        session,
        settings,
        meeting,
        recipient,
        method="DECLINECOUNTER",
        ics=ics,
        subject=_("Proposed time declined: {title}", locale=locale, title=meeting.title),
        text=text,
        locale=locale,
        now=now,
    )


async def _enqueue_mail(
    session: AsyncSession,
    settings: Settings,
    meeting: Meeting,
    recipient: Recipient,
    *,
    method: str,
    ics: bytes,
    subject: str,
    text: str,
    locale: str,
    now: datetime,
    recurrence_id: datetime | None = None,
    not_before: datetime | None = None,
    key_prefix: str = "",
) -> None:
    rid = recurrence_id.isoformat() if recurrence_id else "-"
    key = f"{key_prefix}email:{method}:{meeting.uid}:{meeting.sequence}:{rid}:{recipient.email}:{now.isoformat()}"
    await enqueue(
        session,
        key=key,
        not_before=not_before,
        channel="email",
        recipient=recipient.email,
        meeting_id=meeting.id,
        payload={
            "method": method,
            "ics": ics.decode("utf-8"),
            "subject": subject,
            "text": text,
            "to_name": recipient.name,
            "sender_name": meeting.organiser.name,
            "language": locale,
            "sequence": meeting.sequence,
        },
    )


async def _enqueue_caldav_puts(
    session: AsyncSession,
    settings: Settings,
    meeting: Meeting,
    recipients: Sequence[Recipient],
    *,
    now: datetime,
    not_before: datetime | None = None,
    key_prefix: str = "",
) -> None:
    if not settings.caldav.url:
        return
    snapshot = snapshot_of(meeting, dtstamp=now)
    owners = [Recipient(meeting.organiser.email, meeting.organiser.name, True)]
    # Without a per-person calendar template every address maps to the service
    # account's own calendar, so one copy (the organiser's) is enough.
    if settings.caldav.calendar_template:
        owners += [r for r in recipients if r.in_directory and r.email != meeting.organiser.email]
    for owner in owners:
        if meeting.status == "cancelled":
            ics = build_cancel(snapshot, organiser_address=settings.mail.mail_from, organiser_cn=meeting.organiser.name)
        else:
            ics = _request_ics(meeting, settings, snapshot, recipient=owner.email, method=None)
        await enqueue(
            session,
            key=f"{key_prefix}caldav:put:{meeting.uid}:{owner.email}:{now.isoformat()}",
            not_before=not_before,
            channel="caldav",
            recipient=owner.email,
            meeting_id=meeting.id,
            payload={"action": "put", "uid": meeting.uid, "ics": ics.decode("utf-8"), "sequence": meeting.sequence, "dtstamp": now.isoformat()},
        )


async def _enqueue_caldav_deletes(
    session: AsyncSession, settings: Settings, meeting: Meeting, removed: Sequence[Recipient], *, now: datetime
) -> None:
    if not settings.caldav.url or not settings.caldav.calendar_template:
        return
    for person in removed:
        if not person.in_directory or person.email == meeting.organiser.email:
            continue
        await enqueue(
            session,
            key=f"caldav:delete:{meeting.uid}:{person.email}:{now.isoformat()}",
            channel="caldav",
            recipient=person.email,
            meeting_id=meeting.id,
            payload={"action": "delete", "uid": meeting.uid, "sequence": meeting.sequence, "dtstamp": now.isoformat()},
        )


# -- texts -----------------------------------------------------------------------------


async def _locales(session: AsyncSession, settings: Settings, emails: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    if emails:
        rows = await session.execute(select(Person.email, Person.locale).where(Person.email.in_(list(emails))))
        for email, locale in rows.all():
            chosen = normalise_locale(locale)
            if chosen:
                found[email] = chosen
    return {email: found.get(email, settings.default_locale) for email in emails}


def _is_chair(meeting: Meeting, email: str) -> bool:
    if meeting.chair is not None and meeting.chair.email == email:
        return True
    return any(a.email == email and a.role == "chair" for a in meeting.attendees)


def _when(meeting: Meeting) -> str:
    zone = ZoneInfo(meeting.time_zone)
    start = meeting.starts_at.astimezone(zone)
    end = meeting.ends_at.astimezone(zone)
    return f"{start:%Y-%m-%d %H:%M} – {end:%H:%M} ({meeting.time_zone})"


def _request_text(meeting: Meeting, settings: Settings, recipient: Recipient, *, locale: str, is_chair: bool) -> str:
    lines = [
        _("Meeting: {title}", locale=locale, title=meeting.title),
        _("Time: {when}", locale=locale, when=_when(meeting)),
    ]
    if meeting.rrule:
        lines.append(_("Repeats: {rule}", locale=locale, rule=meeting.rrule))
    lines.append(_("Organiser: {name}", locale=locale, name=meeting.organiser.name))
    bridge = meeting.bridge
    if bridge is not None:
        for item in bridge.dial_in or []:
            label = f" ({item.get('label')})" if item.get("label") else ""
            lines.append(_("Dial-in: {number}", locale=locale, number=f"{item.get('number')}{label}"))
        if bridge.access_code:
            lines.append(_("Access code: {code}", locale=locale, code=bridge.access_code))
        if bridge.participant_pin:
            lines.append(_("Participant PIN: {pin}", locale=locale, pin=bridge.participant_pin))
        if is_chair and bridge.host_pin:
            lines.append(_("Host PIN (chair only): {pin}", locale=locale, pin=bridge.host_pin))
    description = _description(meeting)
    if description:
        lines += ["", description]
    token = rsvp.make_token(settings.secret_key, meeting_id=meeting.id, email=recipient.email, expires_at=meeting.series_ends_at)
    lines += ["", _("Reply online: {link}", locale=locale, link=f"{settings.base_url}/rsvp/{token}")]
    return "\n".join(lines) + "\n"

