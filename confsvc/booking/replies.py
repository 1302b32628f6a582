"""Attendee replies: iTIP REPLY and COUNTER (by API or e-mail) and the RSVP page.

Every reply to a known meeting is written to ``reply_record``, whether or not it changed
the stored PARTSTAT; the reply policy of ``confsvc.booking.ical.replies`` decides. An
answer for a UID that no meeting has raises :class:`UnknownMeeting` and writes nothing.
A COUNTER is stored as a :class:`Proposal` for the organiser to accept or decline.
All writes happen in the caller's session; the caller commits.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.booking import invitations
from confsvc.booking.ical import AttendeeReplyState, ReplyDecision, ReplyInfo, apply_reply, normalize_address, parse_itip
from confsvc.booking.schemas import MeetingUpdate
from confsvc.booking.services import MeetingService, Viewer, can_manage, can_see
from confsvc.db.models import Attendee, Meeting, Person, Proposal, ReplyRecord
from confsvc.errors import ConfsvcError, NotFound, PermissionDenied, ValidationFailed
from confsvc.i18n import gettext as _
from confsvc.settings import Settings

__all__ = ["ItipResult", "ReplyOutcomeRead", "ReplyService", "UnknownMeeting", "PARTSTATS"]

logger = logging.getLogger(__name__)

PARTSTATS = ("ACCEPTED", "TENTATIVE", "DECLINED", "DELEGATED", "NEEDS-ACTION")


class UnknownMeeting(ConfsvcError):
    """An iTIP message names a UID that no stored meeting has."""

    status_code = 404
    title = "Not found"

    def __init__(self, uid: str) -> None:
        super().__init__(_("reply for unknown meeting: UID {uid}", uid=uid))
        self.uid = uid


@dataclass
class ReplyOutcomeRead:
    email: str
    decision: str
    partstat: str | None


@dataclass
class ItipResult:
    method: str
    uid: str
    meeting_id: uuid.UUID
    replies: list[ReplyOutcomeRead] = field(default_factory=list)
    proposal_id: uuid.UUID | None = None


def _instant(value: datetime | date | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


class ReplyService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings

    async def _meeting_by_uid(self, uid: str) -> Meeting:
        meeting = await self.session.scalar(select(Meeting).where(Meeting.uid == uid))
        if meeting is None:
            raise UnknownMeeting(uid)
        return meeting

    async def receive_itip(
        self, data: bytes, *, source: str, sender: str | None = None, caller: Person | None = None
    ) -> ItipResult:
        """Apply an iTIP REPLY or store a COUNTER.

        ``caller`` None means a trusted source (the reply mailbox). Otherwise the caller
        must be an administrator, the meeting's organiser, or the attendee who replies.

        Raises:
            ICalendarError: the body is not an iTIP message (``ItipError``).
            ValidationFailed: the METHOD is neither REPLY nor COUNTER.
            UnknownMeeting: no meeting has the UID; nothing is written.
            PermissionDenied: the caller may not reply for that attendee.
        """
        message = parse_itip(data, default_tz=self.settings.time_zone, sender=sender)
        if message.method not in ("REPLY", "COUNTER"):
            raise ValidationFailed.field("body", _("only METHOD:REPLY and METHOD:COUNTER are accepted, not {method}", method=message.method))
        meeting = await self._meeting_by_uid(message.uid)
        if caller is not None and not can_see(meeting, Viewer.of(caller)):
            # A meeting the caller is not invited to is reported exactly like an unknown UID.
            raise UnknownMeeting(message.uid)
        result = ItipResult(method=message.method, uid=message.uid, meeting_id=meeting.id)

        if message.method == "COUNTER":
            counter = message.counter
            assert counter is not None  # parse_itip fills it for COUNTER
            self._check_caller(meeting, caller, [counter.proposer])
            proposal = Proposal(
                meeting_id=meeting.id,
                proposer=normalize_address(counter.proposer),
                recurrence_id=_instant(counter.recurrence_id),
                proposed_start=_instant(counter.proposed_start),
                proposed_end=_instant(counter.proposed_end),
                comment=counter.comment,
                sequence=counter.sequence,
            )
            self.session.add(proposal)
            await self.session.flush()
            result.proposal_id = proposal.id
            logger.info("counter proposal stored meeting_id=%s proposal_id=%s", meeting.id, proposal.id)
            return result

        self._check_caller(meeting, caller, [reply.email for reply in message.replies])
        for reply in message.replies:
            result.replies.append(await self._apply(meeting, reply, source=source, sender=sender))
        await self.session.flush()
        return result

    def _check_caller(self, meeting: Meeting, caller: Person | None, emails: list[str]) -> None:
        if caller is None:
            return
        viewer = Viewer.of(caller)
        if can_manage(meeting, viewer):
            return
        if all(normalize_address(email) == caller.email for email in emails):
            return
        raise PermissionDenied(_("only the attendee, the organiser or an administrator may post this answer"))

    async def _apply(self, meeting: Meeting, reply: ReplyInfo, *, source: str, sender: str | None) -> ReplyOutcomeRead:
        email = normalize_address(reply.email)
        partstat = reply.partstat.upper()
        if partstat not in PARTSTATS:
            raise ValidationFailed.field("PARTSTAT", _("unknown PARTSTAT {value}", value=reply.partstat))
        rows = {a.email: a for a in meeting.attendees}

        if reply.recurrence_id is not None:
            # NOTE: answers are kept per meeting, not per occurrence, so a reply to one
            # occurrence is recorded without changing the series PARTSTAT.
            decision = "occurrence"
        else:
            states = {
                a.email: AttendeeReplyState(
                    email=a.email, partstat=a.partstat, reply_sequence=a.reply_sequence, reply_dtstamp=a.reply_dtstamp, comment=a.comment
                )
                for a in meeting.attendees
            }
            outcome = apply_reply(states, reply, meeting_sequence=meeting.sequence)
            decision = outcome.decision.value
            if outcome.decision is ReplyDecision.APPLY:
                state = outcome.states[outcome.email]
                row = rows[outcome.email]
                row.partstat = partstat
                row.reply_sequence = state.reply_sequence
                row.reply_dtstamp = state.reply_dtstamp
                row.comment = state.comment
                row.delegated_to = ",".join(normalize_address(d) for d in reply.delegated_to) or None
                if partstat == "DELEGATED":
                    await self._add_delegates(meeting, row, reply.delegated_to)

        self.session.add(
            ReplyRecord(
                meeting_id=meeting.id,
                attendee_email=email,
                sender=sender,
                source=source,
                partstat=partstat,
                sequence=reply.sequence,
                dtstamp=reply.dtstamp,
                recurrence_id=_instant(reply.recurrence_id),
                comment=reply.comment,
                delegated_to=",".join(reply.delegated_to) or None,
                decision=decision,
            )
        )
        logger.info("reply recorded meeting_id=%s decision=%s source=%s", meeting.id, decision, source)
        current = rows.get(email)
        return ReplyOutcomeRead(email=email, decision=decision, partstat=current.partstat if current else None)

    async def _add_delegates(self, meeting: Meeting, delegator: Attendee, delegates: tuple[str, ...]) -> None:
        """Add each delegate as an attendee and queue an invitation to them."""
        known = {a.email for a in meeting.attendees}
        added = []
        for address in delegates:
            email = normalize_address(address)
            if not email or email in known:
                continue
            person = await self.session.scalar(select(Person).where(Person.email == email))
            attendee = Attendee(
                email=email, person_id=person.id if person else None, name=person.name if person else "", role=delegator.role
            )
            meeting.attendees.append(attendee)
            known.add(email)
            added.append(invitations.Recipient(email, attendee.name, person is not None))
        if added:
            await self.session.flush()
            await invitations.enqueue_request(
                self.session, self.settings, meeting, added, now=datetime.now(UTC), kind="new"
            )
            logger.info("delegates added meeting_id=%s count=%d", meeting.id, len(added))

    # -- RSVP page -----------------------------------------------------------------

    async def rsvp(self, meeting_id: uuid.UUID, email: str, *, partstat: str, comment: str | None) -> Meeting:
        """Record an answer from the signed reply page, as a REPLY to the current SEQUENCE."""
        meeting = await self.session.get(Meeting, meeting_id)
        if meeting is None:
            raise NotFound("meeting", meeting_id)
        if partstat not in ("ACCEPTED", "TENTATIVE", "DECLINED"):
            raise ValidationFailed.field("partstat", _("use ACCEPTED, TENTATIVE or DECLINED"))
        text = (comment or "").strip()[:1000] or None
        reply = ReplyInfo(
            uid=meeting.uid, recurrence_id=None, email=email, cn=None, partstat=partstat,
            sequence=meeting.sequence, dtstamp=datetime.now(UTC), comment=text,
        )
        await self._apply(meeting, reply, source="rsvp", sender=email)
        await self.session.flush()
        return meeting

    # -- COUNTER proposals -------------------------------------------------------

    async def proposals(self, meeting_id: uuid.UUID, caller: Person) -> list[Proposal]:
        await MeetingService(self.session, self.settings).get(meeting_id, Viewer.of(caller))
        rows = await self.session.scalars(
            select(Proposal).where(Proposal.meeting_id == meeting_id).order_by(Proposal.created_at)
        )
        return list(rows)

    async def _open_proposal(self, meeting_id: uuid.UUID, proposal_id: uuid.UUID, caller: Person) -> tuple[Meeting, Proposal]:
        meeting = await MeetingService(self.session, self.settings).get(meeting_id, Viewer.of(caller))
        if not can_manage(meeting, Viewer.of(caller)):
            raise PermissionDenied(_("only the organiser or an administrator may decide on a proposal"))
        proposal = await self.session.get(Proposal, proposal_id)
        if proposal is None or proposal.meeting_id != meeting.id:
            raise NotFound("proposal", proposal_id)
        if proposal.status != "open":
            raise ValidationFailed.field("status", _("the proposal is already {status}", status=proposal.status))
        return meeting, proposal

    async def accept_proposal(self, meeting_id: uuid.UUID, proposal_id: uuid.UUID, caller: Person) -> Meeting:
        """Move the meeting to the proposed time through ``MeetingService.update``.

        The update raises SEQUENCE and queues a REQUEST to everyone. Raises what the
        update raises (``BookingConflict`` when the bridge is taken at the new time).
        """
        meeting, proposal = await self._open_proposal(meeting_id, proposal_id, caller)
        if proposal.recurrence_id is not None:
            raise ValidationFailed.field("recurrence_id", _("accepting a proposal for one occurrence is not supported; edit the occurrence"))
        duration = meeting.ends_at - meeting.starts_at
        ends_at = proposal.proposed_end or (proposal.proposed_start + duration)
        updated = await MeetingService(self.session, self.settings).update(
            meeting.id, MeetingUpdate(starts_at=proposal.proposed_start, ends_at=ends_at), caller=caller
        )
        proposal.status = "accepted"
        proposal.decided_at = datetime.now(UTC)
        await self.session.flush()
        logger.info("counter proposal accepted meeting_id=%s proposal_id=%s", meeting.id, proposal.id)
        return updated

    async def decline_proposal(self, meeting_id: uuid.UUID, proposal_id: uuid.UUID, caller: Person, *, comment: str | None) -> Proposal:
        """Mark the proposal declined and queue a DECLINECOUNTER to the proposer only."""
        meeting, proposal = await self._open_proposal(meeting_id, proposal_id, caller)
        proposal.status = "declined"
        proposal.decided_at = datetime.now(UTC)
        await invitations.enqueue_declinecounter(
            self.session, self.settings, meeting, proposer=proposal.proposer, comment=comment, recurrence_id=proposal.recurrence_id
        )
        await self.session.flush()
        logger.info("counter proposal declined meeting_id=%s proposal_id=%s", meeting.id, proposal.id)
        return proposal
