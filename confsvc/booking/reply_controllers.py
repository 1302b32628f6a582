"""HTTP endpoints for invitations and answers: /itip, invitation.ics, proposals, /rsvp."""

from __future__ import annotations

import html
import logging
import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.api.auth import current_person
from confsvc.booking import invitations, rsvp
from confsvc.booking.replies import ReplyService
from confsvc.booking.schemas import MeetingRead
from confsvc.booking.services import MeetingService, Viewer, meeting_read
from confsvc.db.models import Person, Proposal
from confsvc.errors import ValidationFailed
from confsvc.i18n import get_locale
from confsvc.i18n import gettext as _
from confsvc.settings import Settings

logger = logging.getLogger(__name__)

CALENDAR_MEDIA_TYPE = "text/calendar; charset=utf-8"


class ProposalRead(msgspec.Struct):
    id: uuid.UUID
    meeting_id: uuid.UUID
    proposer: str
    recurrence_id: datetime | None
    proposed_start: datetime
    proposed_end: datetime | None
    comment: str | None
    sequence: int
    status: str
    created_at: datetime
    decided_at: datetime | None


class DeclineRequest(msgspec.Struct, forbid_unknown_fields=True):
    comment: str | None = None


def _proposal_read(proposal: Proposal) -> ProposalRead:
    return ProposalRead(
        id=proposal.id, meeting_id=proposal.meeting_id, proposer=proposal.proposer, recurrence_id=proposal.recurrence_id,
        proposed_start=proposal.proposed_start, proposed_end=proposal.proposed_end, comment=proposal.comment,
        sequence=proposal.sequence, status=proposal.status, created_at=proposal.created_at, decided_at=proposal.decided_at,
    )


class ItipController(Controller):
    path = "/itip"
    tags = ["invitations"]
    dependencies = {"caller": Provide(current_person)}

    @post(operation_id="postItip", status_code=200)
    async def post_itip(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, caller: Person, settings: Settings
    ) -> dict[str, Any]:
        """Apply an iTIP REPLY or store a COUNTER sent as a text/calendar body."""
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "text/calendar":
            raise ValidationFailed.field("Content-Type", _("send the iTIP message as text/calendar"))
        body = await request.body()
        result = await ReplyService(db_session, settings).receive_itip(body, source="api", caller=caller)
        await db_session.commit()
        return msgspec.to_builtins(asdict(result))


class InvitationController(Controller):
    path = "/meetings"
    tags = ["invitations"]
    dependencies = {"caller": Provide(current_person)}

    @get("/{meeting_id:uuid}/invitation.ics", operation_id="getInvitation", media_type=CALENDAR_MEDIA_TYPE)
    async def invitation(self, db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID) -> Response[bytes]:
        """Return the METHOD:REQUEST calendar as the caller receives it (the chair's copy has the host PIN)."""
        meeting = await MeetingService(db_session, settings).get(meeting_id, Viewer.of(caller))
        ics = invitations.invitation_ics(meeting, settings, recipient=caller.email)
        return Response(ics, media_type=CALENDAR_MEDIA_TYPE, headers={"Content-Disposition": 'attachment; filename="invite.ics"'})

    @get("/{meeting_id:uuid}/proposals", operation_id="listProposals")
    async def list_proposals(self, db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID) -> list[ProposalRead]:
        return [_proposal_read(p) for p in await ReplyService(db_session, settings).proposals(meeting_id, caller)]

    @post("/{meeting_id:uuid}/proposals/{proposal_id:uuid}/accept", operation_id="acceptProposal", status_code=200)
    async def accept_proposal(
        self, db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID, proposal_id: uuid.UUID
    ) -> MeetingRead:
        meeting = await ReplyService(db_session, settings).accept_proposal(meeting_id, proposal_id, caller)
        await db_session.commit()
        return meeting_read(meeting, Viewer.of(caller))

    @post("/{meeting_id:uuid}/proposals/{proposal_id:uuid}/decline", operation_id="declineProposal", status_code=200)
    async def decline_proposal(
        self,
        db_session: AsyncSession,
        caller: Person,
        settings: Settings,
        meeting_id: uuid.UUID,
        proposal_id: uuid.UUID,
        data: DeclineRequest | None = None,
    ) -> ProposalRead:
        proposal = await ReplyService(db_session, settings).decline_proposal(
            meeting_id, proposal_id, caller, comment=data.comment if data else None
        )
        await db_session.commit()
        return _proposal_read(proposal)


# -- RSVP page (no login: the signed token is the credential) ------------------------------

_CHOICES = (("ACCEPTED", "Accept"), ("TENTATIVE", "Tentative"), ("DECLINED", "Decline"))


def _page(title: str, body: str, *, status: int = 200) -> Response[str]:
    lang = "zh-CN" if get_locale() == "zh-CN" else "en"
    document = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head><body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>"
    )
    return Response(document, status_code=status, media_type="text/html; charset=utf-8")


def _token_error(exc: rsvp.InvalidRsvpToken) -> Response[str]:
    if exc.expired:
        return _page(_("Link expired"), f"<p>{html.escape(_('This reply link has expired.'))}</p>", status=410)
    return _page(_("Invalid link"), f"<p>{html.escape(_('This reply link is invalid.'))}</p>", status=403)


class RsvpForm(msgspec.Struct):
    partstat: str
    comment: str | None = None


class RsvpController(Controller):
    path = "/rsvp"
    tags = ["invitations"]
    include_in_schema = False

    @get("/{token:str}", operation_id="rsvpPage")
    async def page(self, db_session: AsyncSession, settings: Settings, token: str) -> Response[str]:
        try:
            claim = rsvp.read_token(settings.secret_key, token)
        except rsvp.InvalidRsvpToken as exc:
            return _token_error(exc)
        meeting = await MeetingService(db_session, settings).get(claim.meeting_id, _token_viewer(claim.email))
        attendee = next((a for a in meeting.attendees if a.email == claim.email), None)
        current = attendee.partstat if attendee else "NEEDS-ACTION"
        buttons = "".join(
            f'<button type="submit" name="partstat" value="{value}">{html.escape(_(label))}</button> ' for value, label in _CHOICES
        )
        body = (
            f"<p>{html.escape(meeting.title)}</p>"
            f"<p>{html.escape(_('Your current answer: {partstat}', partstat=current))}</p>"
            f'<form method="post"><label>{html.escape(_("Comment"))}<br>'
            '<textarea name="comment" rows="3" cols="40" maxlength="1000"></textarea></label><p>'
            f"{buttons}</p></form>"
        )
        return _page(_("Reply to the invitation"), body)

    @post("/{token:str}", operation_id="rsvpAnswer", status_code=200)
    async def answer(
        self,
        db_session: AsyncSession,
        settings: Settings,
        token: str,
        data: RsvpForm = Body(media_type=RequestEncodingType.URL_ENCODED),
    ) -> Response[str]:
        try:
            claim = rsvp.read_token(settings.secret_key, token)
        except rsvp.InvalidRsvpToken as exc:
            return _token_error(exc)
        meeting = await ReplyService(db_session, settings).rsvp(
            claim.meeting_id, claim.email, partstat=data.partstat.strip().upper(), comment=data.comment
        )
        await db_session.commit()
        attendee = next((a for a in meeting.attendees if a.email == claim.email), None)
        shown = attendee.partstat if attendee else data.partstat
        return _page(_("Thank you"), f"<p>{html.escape(_('Your answer is recorded: {partstat}', partstat=shown))}</p>")


def _token_viewer(email: str) -> Viewer:
    # The token proves the address, so the page shows what that attendee may see.
    return Viewer(person_id=uuid.UUID(int=0), email=email, roles=frozenset())
