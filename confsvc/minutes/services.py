"""Minutes workflow: draft, submit, co-sign, approve or return, revise, render, distribute.

Every version of the minutes of one meeting (or one occurrence of a series) is its own
``minutes`` row; only the newest version can change, and only while it is a draft.
Approval numbers the minutes, freezes the .docx, puts the resolutions into the register
and creates the action items, all in the caller's transaction. Methods raise
``NotFound`` for meetings the caller may not see, ``PermissionDenied`` for a wrong role,
``Conflict`` for a step the current status does not allow and ``ValidationFailed`` for bad
input. The caller commits.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc import validation
from confsvc.booking.services import MeetingService, Viewer
from confsvc.bridges.adapters import (
    BridgeError,
    BridgeInfo,
    ParticipantsUnsupported,
    Participant,
    adapter_for,
)
from confsvc.db.models import (
    ActionItem,
    Meeting,
    Minutes,
    MinutesReceipt,
    MinutesResolution,
    Person,
)
from confsvc.errors import ConfigurationError, Conflict, NotFound, PermissionDenied, ValidationFailed
from confsvc.i18n import gettext as _
from confsvc.minutes import content, distribution, documents, numbering
from confsvc.minutes.render import render_docx, render_html, render_markdown
from confsvc.minutes.schemas import (
    ActionItemIn,
    ActionItemRead,
    AttendanceIn,
    AttendanceRead,
    CosignatureRead,
    HistoryRead,
    MinutesDraft,
    MinutesRead,
    NoteIn,
    NoteRead,
    ProblemRead,
    ReceiptRead,
    ReceiptsRead,
    ResolutionIn,
    ResolutionRead,
    SubmitRequest,
    VersionSummary,
)
from confsvc.notify.outbox import enqueue
from confsvc.settings import Settings

logger = logging.getLogger(__name__)

LATE_GRACE_MINUTES = 5
"""Joining up to this many minutes after the start still counts as present in a prefill."""

DocumentFormat = Literal["docx", "html", "md"]


def can_edit(meeting: Meeting, viewer: Viewer) -> bool:
    """The secretary, the organiser and administrators edit and submit minutes."""
    return viewer.is_admin or viewer.person_id in (meeting.organiser_id, meeting.secretary_id)


def can_approve(meeting: Meeting, viewer: Viewer) -> bool:
    """The chair, the organiser and administrators approve or return minutes."""
    return viewer.is_admin or viewer.person_id in (meeting.organiser_id, meeting.chair_id)


@dataclass(frozen=True)
class Target:
    """The meeting, or one occurrence of a series, that minutes belong to (times in UTC)."""

    meeting: Meeting
    occurrence: datetime | None
    key: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class RenderedDocument:
    body: bytes | str
    media_type: str
    filename: str


class MinutesService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings

    # -- lookup --------------------------------------------------------------------

    async def target(self, meeting_id: uuid.UUID, viewer: Viewer, *, occurrence: datetime | None) -> Target:
        """Find the meeting (404 when not visible) and the occurrence.

        Raises:
            NotFound: no visible meeting or no such occurrence.
            ValidationFailed: ``occurrence`` is missing for a series or naive.
        """
        meeting = await MeetingService(self.session, self.settings).get(meeting_id, viewer)
        if meeting.rrule is None:
            if occurrence is not None and validation.aware(occurrence, field="occurrence") != meeting.starts_at:
                raise NotFound("occurrence", occurrence.isoformat())
            return Target(meeting, None, "", meeting.starts_at, meeting.ends_at)
        if occurrence is None:
            raise ValidationFailed.field(
                "occurrence", _("the meeting is recurring; name the occurrence by its recurrence id, e.g. ?occurrence=2027-03-01T01:30:00Z")
            )
        wanted = validation.aware(occurrence, field="occurrence").astimezone(UTC)
        for booking in meeting.bookings:
            if booking.recurrence_id == wanted:
                return Target(meeting, wanted, wanted.isoformat(), booking.starts_at, booking.ends_at)
        raise NotFound("occurrence", wanted.isoformat())

    async def _versions(self, target: Target) -> list[Minutes]:
        statement = (
            select(Minutes)
            .where(Minutes.meeting_id == target.meeting.id, Minutes.occurrence_key == target.key)
            .order_by(Minutes.version)
        )
        return list(await self.session.scalars(statement))

    async def _latest(self, target: Target, *, lock: bool = False) -> Minutes | None:
        statement = (
            select(Minutes)
            .where(Minutes.meeting_id == target.meeting.id, Minutes.occurrence_key == target.key)
            .order_by(Minutes.version.desc())
            .limit(1)
        )
        if lock:
            # Serialises workflow steps on one minutes row on PostgreSQL; SQLite already
            # holds the write lock from BEGIN IMMEDIATE.
            statement = statement.with_for_update().execution_options(populate_existing=True)
        return await self.session.scalar(statement)

    async def _insert_first_version(self, target: Target) -> Minutes:
        """Insert version 1 as an empty draft, or lock the row a concurrent first save inserted."""
        minutes = Minutes(
            meeting_id=target.meeting.id, occurrence=target.occurrence, occurrence_key=target.key,
            version=1, status="draft", cosigners=[], cosignatures=[], history=[],
        )
        try:
            async with self.session.begin_nested():
                self.session.add(minutes)
        except IntegrityError:
            # Two first saves both found no row; the unique key let one insert, and this one
            # now edits that row like any later save would.
            existing = await self._latest(target, lock=True)
            if existing is None:
                raise
            logger.info("minutes version 1 inserted concurrently meeting_id=%s minutes_id=%s", target.meeting.id, existing.id)
            return existing
        return minutes

    async def _require_latest(self, target: Target, *, lock: bool = False) -> Minutes:
        minutes = await self._latest(target, lock=lock)
        if minutes is None:
            raise NotFound("minutes", target.meeting.id)
        return minutes

    # -- reading -------------------------------------------------------------------

    async def read(self, meeting_id: uuid.UUID, viewer: Viewer, *, occurrence: datetime | None = None) -> MinutesRead:
        """Return the newest version, or an unsaved empty form listing the invitees."""
        target = await self.target(meeting_id, viewer, occurrence=occurrence)
        minutes = await self._latest(target)
        if minutes is None:
            return self._empty_read(target)
        return await self._read(target, minutes)

    async def versions(self, meeting_id: uuid.UUID, viewer: Viewer, *, occurrence: datetime | None = None) -> list[VersionSummary]:
        target = await self.target(meeting_id, viewer, occurrence=occurrence)
        return [
            VersionSummary(
                version=m.version, status=m.status, number=m.number,  # type: ignore[arg-type]
                approved_at=m.approved_at, distributed_at=m.distributed_at, updated_at=m.updated_at,
            )
            for m in await self._versions(target)
        ]

    async def version(self, meeting_id: uuid.UUID, number: int, viewer: Viewer, *, occurrence: datetime | None = None) -> MinutesRead:
        target = await self.target(meeting_id, viewer, occurrence=occurrence)
        minutes = await self._version(target, number)
        return await self._read(target, minutes)

    async def _version(self, target: Target, number: int) -> Minutes:
        for minutes in await self._versions(target):
            if minutes.version == number:
                return minutes
        raise NotFound("minutes version", number)

    # -- editing -------------------------------------------------------------------

    async def save_draft(
        self, meeting_id: uuid.UUID, data: MinutesDraft, *, caller: Person, occurrence: datetime | None = None
    ) -> MinutesRead:
        """Replace the draft with ``data``, creating version 1 when none exists.

        Missing parts (see ``content.missing_parts``) do not stop the save; the result
        lists them in ``warnings``, and :meth:`submit` rejects the draft until they are filled.

        Raises:
            PermissionDenied: the caller is not secretary, organiser or administrator.
            Conflict: the newest version is no longer a draft.
            ValidationFailed: invalid fields, all of them listed.
        """
        viewer = Viewer.of(caller)
        target = await self.target(meeting_id, viewer, occurrence=occurrence)
        self._require_editor(target.meeting, viewer)
        minutes = await self._latest(target, lock=True)
        if minutes is not None and minutes.status != "draft":
            raise self._not_editable(minutes)
        cleaned = content.clean_draft(data, meeting=target.meeting, scheduled_start=target.starts_at)
        template = None
        if data.template:
            template = (await documents.choose_template(self.session, data.template)).name

        if minutes is None:
            minutes = await self._insert_first_version(target)
            if minutes.status != "draft":
                raise self._not_editable(minutes)
        minutes.attendance = content.to_json(cleaned.attendance)
        minutes.notes = content.to_json(cleaned.notes)
        minutes.resolutions = content.to_json(cleaned.resolutions)
        minutes.action_items = content.to_json(cleaned.action_items)
        minutes.actual_start = cleaned.actual_start
        minutes.actual_end = cleaned.actual_end
        minutes.template = template
        await self.session.flush()
        logger.info(
            "minutes draft saved meeting_id=%s minutes_id=%s version=%d warnings=%d",
            target.meeting.id, minutes.id, minutes.version, len(cleaned.warnings),
        )
        return await self._read(target, minutes)

    async def submit(
        self, meeting_id: uuid.UUID, data: SubmitRequest, *, caller: Person, occurrence: datetime | None = None, now: datetime | None = None
    ) -> MinutesRead:
        """Submit the draft for review, naming the co-signers (会签) if any.

        Raises:
            Conflict: not a draft. ValidationFailed: incomplete minutes or a co-signer who
            is not an invited attendee.
        """
        now = now or datetime.now(UTC)
        viewer = Viewer.of(caller)
        target = await self.target(meeting_id, viewer, occurrence=occurrence)
        self._require_editor(target.meeting, viewer)
        minutes = await self._require_latest(target, lock=True)
        self._require_status(minutes, "draft")
        content.check_complete(minutes, meeting=target.meeting)

        invited = content.invitees(target.meeting)
        cosigners: list[str] = []
        for index, address in enumerate(data.cosigners):
            email = validation.email(address, field=f"cosigners[{index}]")
            if email not in invited:
                raise ValidationFailed.field(f"cosigners[{index}]", _("{email} is not an invited attendee", email=email))
            if email not in cosigners:
                cosigners.append(email)

        minutes.status = "submitted"
        minutes.submitted_at = now
        minutes.cosigners = cosigners
        minutes.cosignatures = []
        minutes.return_comment = None
        self._record(minutes, "submitted", caller, now)
        await self.session.flush()
        logger.info("minutes submitted minutes_id=%s cosigners=%d", minutes.id, len(cosigners))
        return await self._read(target, minutes)

    async def cosign(
        self, meeting_id: uuid.UUID, *, caller: Person, comment: str | None = None,
        occurrence: datetime | None = None, now: datetime | None = None,
    ) -> MinutesRead:
        """Record the caller's co-signature; signing twice keeps the first one.

        Raises:
            PermissionDenied: the caller is not a named co-signer. Conflict: not submitted.
        """
        now = now or datetime.now(UTC)
        viewer = Viewer.of(caller)
        target = await self.target(meeting_id, viewer, occurrence=occurrence)
        minutes = await self._require_latest(target, lock=True)
        self._require_status(minutes, "submitted")
        if caller.email not in minutes.cosigners:
            raise PermissionDenied(_("only the named co-signers may co-sign these minutes"))
        if all(entry["email"] != caller.email for entry in minutes.cosignatures):
            minutes.cosignatures = [*minutes.cosignatures, {"email": caller.email, "signed_at": now.isoformat()}]
            self._record(minutes, "cosigned", caller, now, comment)
            await self.session.flush()
            logger.info("minutes cosigned minutes_id=%s person_id=%s", minutes.id, caller.id)
        return await self._read(target, minutes)

    async def return_to_draft(
        self, meeting_id: uuid.UUID, *, caller: Person, comment: str,
        occurrence: datetime | None = None, now: datetime | None = None,
    ) -> MinutesRead:
        """Send submitted minutes back to the secretary with ``comment``; co-signatures lapse."""
        now = now or datetime.now(UTC)
        viewer = Viewer.of(caller)
        target = await self.target(meeting_id, viewer, occurrence=occurrence)
        self._require_approver(target.meeting, viewer)
        text = validation.text(comment, field="comment", max_length=2000, multiline=True)
        minutes = await self._require_latest(target, lock=True)
        self._require_status(minutes, "submitted")
        minutes.status = "draft"
        minutes.return_comment = text
        minutes.cosignatures = []
        self._record(minutes, "returned", caller, now, text)
        await self.session.flush()
        logger.info("minutes returned minutes_id=%s", minutes.id)
        return await self._read(target, minutes)

    async def approve(
        self, meeting_id: uuid.UUID, *, caller: Person, occurrence: datetime | None = None, now: datetime | None = None
    ) -> MinutesRead:
        """Approve submitted minutes: number them, freeze the .docx, fill the resolution
        register and create the action items.

        Raises:
            PermissionDenied: not chair, organiser or administrator. Conflict: not
            submitted, or co-signatures missing (``missing_cosigners``).
        """
        now = now or datetime.now(UTC)
        viewer = Viewer.of(caller)
        target = await self.target(meeting_id, viewer, occurrence=occurrence)
        self._require_approver(target.meeting, viewer)
        minutes = await self._require_latest(target, lock=True)
        self._require_status(minutes, "submitted")
        signed = {entry["email"] for entry in minutes.cosignatures}
        missing = [email for email in minutes.cosigners if email not in signed]
        if missing:
            raise Conflict(
                _("co-signatures are missing from: {emails}", emails=", ".join(missing)),
                extra={"missing_cosigners": missing},
            )

        earlier = [m for m in await self._versions(target) if m.id != minutes.id]
        numbered = next((m for m in reversed(earlier) if m.number), None)
        if numbered is not None:
            minutes.number = numbered.number
        else:
            issued = await numbering.next_number(
                self.session, self.settings.minutes, meeting=target.meeting, now=now, time_zone=self.settings.time_zone
            )
            minutes.number, minutes.number_key, minutes.number_seq = issued.text, issued.key, issued.seq
        minutes.status = "approved"
        minutes.approved_at = now
        minutes.approved_by_id = caller.id
        self._record(minutes, "approved", caller, now)

        template = await documents.choose_template(self.session, minutes.template or self.settings.minutes.default_template)
        context = await documents.build_context(
            self.session, meeting=target.meeting, minutes=minutes, scheduled=(target.starts_at, target.ends_at), locale=template.locale
        )
        minutes.document = await asyncio.to_thread(
            render_docx, context, template=template.source, east_asia_font=self.settings.minutes.east_asia_font
        )
        await self._register(target, minutes, earlier=earlier)
        await self.session.flush()
        logger.info("minutes approved minutes_id=%s number=%s version=%d", minutes.id, minutes.number, minutes.version)
        return await self._read(target, minutes)

    async def revise(
        self, meeting_id: uuid.UUID, *, caller: Person, occurrence: datetime | None = None, now: datetime | None = None
    ) -> MinutesRead:
        """Start a correction: copy the newest approved version into version n+1 as a draft.

        Raises:
            Conflict: the newest version is not approved or distributed.
        """
        now = now or datetime.now(UTC)
        viewer = Viewer.of(caller)
        target = await self.target(meeting_id, viewer, occurrence=occurrence)
        self._require_editor(target.meeting, viewer)
        current = await self._require_latest(target, lock=True)
        if current.status not in ("approved", "distributed"):
            raise Conflict(_("only approved minutes can be revised; version {version} is {status}", version=current.version, status=current.status))
        revision = Minutes(
            meeting_id=current.meeting_id, occurrence=current.occurrence, occurrence_key=current.occurrence_key,
            version=current.version + 1, status="draft", template=current.template,
            actual_start=current.actual_start, actual_end=current.actual_end,
            attendance=list(current.attendance), notes=list(current.notes),
            resolutions=list(current.resolutions), action_items=list(current.action_items),
            cosigners=[], cosignatures=[], history=[], number=current.number,
        )
        self._record(revision, "revised", caller, now, f"from version {current.version}")
        self.session.add(revision)
        await self.session.flush()
        logger.info("minutes revision started minutes_id=%s version=%d", revision.id, revision.version)
        return await self._read(target, revision)

    # -- attendance from the bridge ------------------------------------------------

    async def prefill_attendance(
        self, meeting_id: uuid.UUID, *, caller: Person, conference_id: str | None = None, occurrence: datetime | None = None
    ) -> MinutesRead:
        """Replace the draft's attendance with what the bridge reports now.

        Invitees found among the participants (by e-mail, name or phone number) become
        present, or late when they joined more than ``LATE_GRACE_MINUTES`` after the start;
        the others become absent; unknown participants become guests. The secretary then
        corrects the result with PUT.

        Raises:
            Conflict: no bridge, a bridge that cannot list participants or does not answer,
                or minutes that are no longer a draft.
            ValidationFailed: the bridge kind needs ``conference_id`` and none was given.
        """
        viewer = Viewer.of(caller)
        target = await self.target(meeting_id, viewer, occurrence=occurrence)
        meeting = target.meeting
        self._require_editor(meeting, viewer)
        minutes = await self._latest(target, lock=True)
        if minutes is not None and minutes.status != "draft":
            raise self._not_editable(minutes)
        participants = await self._participants(meeting, conference_id)

        attendance = await self._match_participants(meeting, participants, starts_at=target.starts_at)
        if minutes is None:
            minutes = Minutes(
                meeting_id=meeting.id, occurrence=target.occurrence, occurrence_key=target.key,
                version=1, status="draft", cosigners=[], cosignatures=[], history=[],
                notes=[], resolutions=[], action_items=[],
            )
            self.session.add(minutes)
        minutes.attendance = content.to_json(attendance)
        await self.session.flush()
        logger.info(
            "minutes attendance prefilled meeting_id=%s participants=%d", meeting.id, len(participants)
        )
        return await self._read(target, minutes)

    async def _participants(self, meeting: Meeting, conference_id: str | None) -> list[Participant]:
        bridge = meeting.bridge
        if bridge is None:
            raise Conflict(_("the meeting has no bridge to ask for participants"))
        info = BridgeInfo(id=str(bridge.id), name=bridge.name, kind=bridge.kind, settings=dict(bridge.settings or {}))
        try:
            adapter = adapter_for(bridge.kind, settings=info.settings, bridge=info)
        except ConfigurationError as exc:
            raise Conflict(_("the bridge {name} is not configured completely: {error}", name=bridge.name, error=str(exc))) from exc
        if not adapter.supports_participants:
            raise Conflict(_("bridges of kind {kind} cannot list participants; record attendance by hand", kind=bridge.kind))
        if conference_id is None:
            conference_id = _derived_conference_id(adapter, meeting.uid)
        if conference_id is None:
            raise ValidationFailed.field("conference_id", _("bridges of kind {kind} need the conference id", kind=bridge.kind))
        try:
            return await adapter.participants(conference_id)
        except ParticipantsUnsupported as exc:
            raise Conflict(_("bridges of kind {kind} cannot list participants; record attendance by hand", kind=bridge.kind)) from exc
        except BridgeError as exc:
            logger.warning("minutes prefill failed bridge_id=%s error=%s", bridge.id, type(exc).__name__)
            raise Conflict(_("the bridge did not return its participants: {error}", error=str(exc))) from exc

    async def _match_participants(self, meeting: Meeting, participants: Sequence[Participant], *, starts_at: datetime) -> list[AttendanceIn]:
        invited = content.invitees(meeting)
        people = {p.email: p for p in await self.session.scalars(select(Person).where(Person.email.in_(list(invited))))} if invited else {}
        by_email = dict.fromkeys(invited, "")
        by_name: dict[str, str] = {}
        by_phone: dict[str, str] = {}
        for email, name in invited.items():
            person = people.get(email)
            for candidate in (name, person.name if person else ""):
                if candidate:
                    by_name.setdefault(_normalise_name(candidate), email)
            if person is not None and person.phone:
                by_phone[_digits(person.phone)] = email

        joined: dict[str, Participant] = {}
        guests: list[AttendanceIn] = []
        for participant in participants:
            email = None
            if participant.email and participant.email.lower() in by_email:
                email = participant.email.lower()
            elif _normalise_name(participant.name) in by_name:
                email = by_name[_normalise_name(participant.name)]
            elif participant.number and _digits(participant.number) in by_phone:
                email = by_phone[_digits(participant.number)]
            if email is not None:
                joined.setdefault(email, participant)
            elif all(guest.name != participant.name for guest in guests):
                guests.append(AttendanceIn(status="guest", name=participant.name[:200]))

        attendance: list[AttendanceIn] = []
        for email, name in invited.items():
            participant = joined.get(email)
            if participant is None:
                attendance.append(AttendanceIn(status="absent", email=email, name=name))
                continue
            late = 0
            if participant.joined_at is not None:
                late = math.ceil((participant.joined_at - starts_at).total_seconds() / 60)
            if late > LATE_GRACE_MINUTES:
                attendance.append(AttendanceIn(status="late", email=email, name=name, minutes_late=min(late, 1440)))
            else:
                attendance.append(AttendanceIn(status="present", email=email, name=name))
        return attendance + guests

    # -- documents -----------------------------------------------------------------

    async def render(
        self,
        meeting_id: uuid.UUID,
        viewer: Viewer,
        *,
        fmt: DocumentFormat,
        occurrence: datetime | None = None,
        template: str | None = None,
        locale: str | None = None,
        version: int | None = None,
    ) -> RenderedDocument:
        """Render the newest (or the given) version. An approved version's .docx in its own
        template is the frozen copy made at approval; other templates render afresh.

        Raises:
            NotFound: no minutes yet. ValidationFailed: unknown template or locale.
        """
        target = await self.target(meeting_id, viewer, occurrence=occurrence)
        minutes = await self._version(target, version) if version is not None else await self._require_latest(target)
        stem = f"minutes-v{minutes.version}"
        if fmt == "docx":
            chosen_name = template or minutes.template or self.settings.minutes.default_template
            own_name = minutes.template or self.settings.minutes.default_template
            if minutes.document is not None and chosen_name == own_name:
                return RenderedDocument(minutes.document, distribution.DOCX_TYPE, f"{stem}.docx")
            chosen = await documents.choose_template(self.session, chosen_name)
            context = await documents.build_context(
                self.session, meeting=target.meeting, minutes=minutes,
                scheduled=(target.starts_at, target.ends_at), locale=chosen.locale,
            )
            body = await asyncio.to_thread(
                render_docx, context, template=chosen.source, east_asia_font=self.settings.minutes.east_asia_font
            )
            return RenderedDocument(body, distribution.DOCX_TYPE, f"{stem}.docx")

        language = "en" if (locale or "zh-CN").lower().startswith("en") else "zh-CN"
        context = await documents.build_context(
            self.session, meeting=target.meeting, minutes=minutes, scheduled=(target.starts_at, target.ends_at), locale=language
        )
        if fmt == "html":
            return RenderedDocument(render_html(context, locale=language), "text/html; charset=utf-8", f"{stem}.html")
        return RenderedDocument(render_markdown(context, locale=language), "text/markdown; charset=utf-8", f"{stem}.md")

    # -- distribution --------------------------------------------------------------

    async def distribute(
        self, meeting_id: uuid.UUID, *, caller: Person, extra_recipients: Sequence[str] = (),
        occurrence: datetime | None = None, now: datetime | None = None,
    ) -> ReceiptsRead:
        """E-mail the approved .docx (and a PDF when LibreOffice is available) to every
        recipient through the outbox, with a signed receipt link each.

        The PDF is converted before the write transaction starts, so the conversion (seconds)
        does not hold the database lock. Raises ``Conflict`` unless the newest version is
        approved, ``ValidationFailed`` for extra recipients of a confidential meeting.
        """
        now = now or datetime.now(UTC)
        viewer = Viewer.of(caller)
        target = await self.target(meeting_id, viewer, occurrence=occurrence)
        self._require_editor_or_approver(target.meeting, viewer)
        minutes = await self._require_latest(target)
        self._require_status(minutes, "approved")
        recipients = distribution.recipients_for(target.meeting, minutes, extra=extra_recipients)
        document = minutes.document or b""
        minutes_id = minutes.id
        await self.session.rollback()

        pdf = await documents.docx_to_pdf(
            document, soffice=self.settings.minutes.soffice_path, timeout_seconds=self.settings.minutes.pdf_timeout_seconds
        )

        target = await self.target(meeting_id, viewer, occurrence=occurrence)
        minutes = await self._require_latest(target, lock=True)
        if minutes.id != minutes_id:
            raise Conflict(_("the minutes changed while they were being distributed; try again"))
        self._require_status(minutes, "approved")
        stem = _file_stem(target.meeting, minutes)
        attachments = [distribution.attachment(f"{stem}.docx", distribution.DOCX_TYPE, document)]
        if pdf is not None:
            attachments.append(distribution.attachment(f"{stem}.pdf", "application/pdf", pdf))

        for recipient in recipients:
            receipt = MinutesReceipt(id=uuid.uuid4(), minutes_id=minutes.id, email=recipient.email, name=recipient.name, sent_at=now)
            self.session.add(receipt)
            token = distribution.receipt_token(self.settings.secret_key, receipt.id)
            locale = recipient.locale or self.settings.default_locale
            payload = distribution.email_payload(
                meeting=target.meeting, minutes=minutes, recipient=recipient,
                link=f"{self.settings.base_url}/ack/{token}", attachments=attachments, locale=locale,
            )
            await enqueue(
                self.session, key=f"minutes:{minutes.id}:distribute:{recipient.email}", channel="email",
                recipient=recipient.email, payload=payload, meeting_id=target.meeting.id,
            )
        minutes.status = "distributed"
        minutes.distributed_at = now
        self._record(minutes, "distributed", caller, now, f"{len(recipients)} recipients, pdf={'yes' if pdf else 'no'}")
        await self.session.flush()
        logger.info("minutes distributed minutes_id=%s recipients=%d pdf=%s", minutes.id, len(recipients), pdf is not None)
        return await self._receipts(minutes)

    async def receipts(self, meeting_id: uuid.UUID, viewer: Viewer, *, occurrence: datetime | None = None) -> ReceiptsRead:
        """List who has and has not acknowledged the newest distributed version."""
        target = await self.target(meeting_id, viewer, occurrence=occurrence)
        self._require_editor_or_approver(target.meeting, viewer)
        for minutes in reversed(await self._versions(target)):
            if minutes.status == "distributed":
                return await self._receipts(minutes)
        raise NotFound("distributed minutes", meeting_id)

    async def _receipts(self, minutes: Minutes) -> ReceiptsRead:
        rows = await self.session.scalars(
            select(MinutesReceipt).where(MinutesReceipt.minutes_id == minutes.id).order_by(MinutesReceipt.email)
        )
        acknowledged, pending = [], []
        for row in rows:
            read = ReceiptRead(email=row.email, name=row.name, sent_at=row.sent_at, acknowledged_at=row.acknowledged_at)
            (acknowledged if row.acknowledged_at else pending).append(read)
        return ReceiptsRead(version=minutes.version, acknowledged=acknowledged, pending=pending)

    async def acknowledge(self, token: str, *, now: datetime | None = None) -> tuple[MinutesReceipt, Meeting]:
        """Record receipt for a signed link; a second click keeps the first time.

        Raises:
            NotFound: a malformed, forged or unknown token.
        """
        now = now or datetime.now(UTC)
        receipt_id = distribution.receipt_id_from_token(self.settings.secret_key, token)
        receipt = await self.session.get(MinutesReceipt, receipt_id) if receipt_id else None
        if receipt is None:
            raise NotFound("receipt", "link")
        minutes = await self.session.get(Minutes, receipt.minutes_id)
        meeting = await self.session.get(Meeting, minutes.meeting_id) if minutes else None
        if meeting is None:
            raise NotFound("receipt", "link")
        if receipt.acknowledged_at is None:
            receipt.acknowledged_at = now
            await self.session.flush()
            logger.info("minutes receipt acknowledged receipt_id=%s minutes_id=%s", receipt.id, receipt.minutes_id)
        return receipt, meeting

    # -- approval side effects -----------------------------------------------------

    async def _register(self, target: Target, minutes: Minutes, *, earlier: Sequence[Minutes]) -> None:
        """Replace earlier versions' register entries and open action items with this version's."""
        earlier_ids = [m.id for m in earlier]
        if earlier_ids:
            await self.session.execute(
                update(MinutesResolution).where(MinutesResolution.minutes_id.in_(earlier_ids)).values(state="superseded")
            )
            await self.session.execute(
                update(ActionItem)
                .where(ActionItem.minutes_id.in_(earlier_ids), ActionItem.status == "open")
                .values(status="superseded")
            )

        resolutions = content.from_json(minutes.resolutions, ResolutionIn)
        items = content.from_json(minutes.action_items, ActionItemIn)
        owners = {p.email: p for p in await self.session.scalars(select(Person).where(Person.email.in_({i.owner for i in items})))} if items else {}
        for number, resolution in enumerate(resolutions, start=1):
            serving = [item for item in items if item.resolution == number]
            responsible = resolution.responsible or "、".join(
                dict.fromkeys(item.owner_name or (owners[item.owner].name if item.owner in owners else item.owner) for item in serving)
            )
            deadline = resolution.deadline or min((item.due for item in serving), default=None)
            self.session.add(
                MinutesResolution(
                    minutes_id=minutes.id, meeting_id=target.meeting.id, number=number, text=resolution.text,
                    decision_method=resolution.decided_by, votes_for=resolution.votes_for,
                    votes_against=resolution.votes_against, votes_abstain=resolution.votes_abstain,
                    responsible=responsible[:500], owner_emails=list(dict.fromkeys(item.owner for item in serving)),
                    deadline=deadline, state="open" if serving else "adopted",
                )
            )
        for item in items:
            owner = owners.get(item.owner)
            self.session.add(
                ActionItem(
                    meeting_id=target.meeting.id, minutes_id=minutes.id,
                    resolution_number=str(item.resolution) if item.resolution else None,
                    title=item.title, owner_email=item.owner, owner_id=owner.id if owner else None,
                    co_owner_emails=list(item.co_owners), due_date=item.due, status="open",
                )
            )

    # -- helpers -------------------------------------------------------------------

    def _require_editor(self, meeting: Meeting, viewer: Viewer) -> None:
        if not can_edit(meeting, viewer):
            raise PermissionDenied(_("only the secretary, the organiser or an administrator may edit the minutes"))

    def _require_approver(self, meeting: Meeting, viewer: Viewer) -> None:
        if not can_approve(meeting, viewer):
            raise PermissionDenied(_("only the chair, the organiser or an administrator may approve or return the minutes"))

    def _require_editor_or_approver(self, meeting: Meeting, viewer: Viewer) -> None:
        if not (can_edit(meeting, viewer) or can_approve(meeting, viewer)):
            raise PermissionDenied(_("only the secretary, the chair, the organiser or an administrator may do this"))

    @staticmethod
    def _require_status(minutes: Minutes, status: str) -> None:
        if minutes.status != status:
            raise Conflict(
                _("minutes version {version} is {status}; this step needs {expected}", version=minutes.version, status=minutes.status, expected=status),
                extra={"minutes_status": minutes.status},
            )

    @staticmethod
    def _not_editable(minutes: Minutes) -> Conflict:
        if minutes.status in ("approved", "distributed"):
            message = _("approved minutes cannot change; start a correction with POST .../minutes/revise")
        else:
            message = _("the minutes are submitted for review; they can change again only if returned")
        return Conflict(message, extra={"minutes_status": minutes.status, "version": minutes.version})

    @staticmethod
    def _record(minutes: Minutes, action: str, caller: Person, now: datetime, comment: str | None = None) -> None:
        entry: dict[str, Any] = {"action": action, "by": caller.email, "at": now.isoformat()}
        if comment:
            entry["comment"] = comment
        minutes.history = [*(minutes.history or []), entry]

    def _empty_read(self, target: Target) -> MinutesRead:
        return MinutesRead(
            meeting_id=target.meeting.id, occurrence=target.occurrence, version=1, status="draft", stored=False,
            number=None, template=None, actual_start=None, actual_end=None,
            attendance=[AttendanceRead(status=None, email=email, name=name) for email, name in content.invitees(target.meeting).items()],
            notes=[], resolutions=[], action_items=[], cosignatures=[], history=[], return_comment=None,
            submitted_at=None, approved_at=None, approved_by=None, distributed_at=None,
        )

    async def _read(self, target: Target, minutes: Minutes) -> MinutesRead:
        invited = content.invitees(target.meeting)
        attendance = [
            AttendanceRead(
                status=entry.status, email=entry.email, name=entry.name, organisation=entry.organisation, role=entry.role,
                minutes_late=entry.minutes_late, left_at=entry.left_at, proxy=entry.proxy, reason=entry.reason,
                invited=entry.email in invited if entry.email else False,
            )
            for entry in content.from_json(minutes.attendance, AttendanceIn)
        ]
        recorded = {entry.email for entry in attendance}
        attendance += [AttendanceRead(status=None, email=email, name=name) for email, name in invited.items() if email not in recorded]
        signed = {entry["email"]: entry["signed_at"] for entry in minutes.cosignatures or []}
        approver = await self.session.get(Person, minutes.approved_by_id) if minutes.approved_by_id else None
        return MinutesRead(
            meeting_id=target.meeting.id,
            occurrence=target.occurrence,
            version=minutes.version,
            status=minutes.status,  # type: ignore[arg-type]
            stored=True,
            number=minutes.number,
            template=minutes.template,
            actual_start=minutes.actual_start,
            actual_end=minutes.actual_end,
            attendance=attendance,
            notes=[NoteRead(item=n.item, title=n.title, presenter=n.presenter, text=n.text) for n in content.from_json(minutes.notes, NoteIn)],
            resolutions=[
                ResolutionRead(
                    number=number, text=r.text, decided_by=r.decided_by, votes_for=r.votes_for, votes_against=r.votes_against,
                    votes_abstain=r.votes_abstain, responsible=r.responsible, deadline=r.deadline,
                )
                for number, r in enumerate(content.from_json(minutes.resolutions, ResolutionIn), start=1)
            ],
            action_items=[
                ActionItemRead(
                    number=number, title=a.title, owner=a.owner, owner_name=a.owner_name, co_owners=list(a.co_owners),
                    due=a.due, resolution=a.resolution,
                )
                for number, a in enumerate(content.from_json(minutes.action_items, ActionItemIn), start=1)
            ],
            cosignatures=[
                CosignatureRead(email=email, signed_at=_parse_time(signed.get(email))) for email in minutes.cosigners or []
            ],
            history=[msgspec.convert(entry, HistoryRead, strict=False) for entry in minutes.history or []],
            return_comment=minutes.return_comment,
            submitted_at=minutes.submitted_at,
            approved_at=minutes.approved_at,
            approved_by=approver.email if approver else None,
            distributed_at=minutes.distributed_at,
            warnings=self._warnings(minutes),
        )

    @staticmethod
    def _warnings(minutes: Minutes) -> list[ProblemRead]:
        """Return what a draft still lacks for submission; other statuses have none."""
        if minutes.status != "draft":
            return []
        missing = content.missing_parts(
            content.from_json(minutes.attendance, AttendanceIn), content.from_json(minutes.action_items, ActionItemIn)
        )
        return [ProblemRead(name=entry["name"], reason=entry["reason"]) for entry in missing]


def _derived_conference_id(adapter: object, meeting_uid: str) -> str | None:
    """Return the conference id an adapter derives from the meeting UID, if it does."""
    for method in ("meeting_id", "room_name"):
        derive = getattr(adapter, method, None)
        if callable(derive):
            return str(derive(meeting_uid))
    return None


def _normalise_name(name: str) -> str:
    return "".join(name.split()).casefold()


def _digits(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())[-11:]


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _file_stem(meeting: Meeting, minutes: Minutes) -> str:
    title = "".join(ch for ch in meeting.title if ch not in '\\/:*?"<>|').strip()[:60] or "minutes"
    return f"{title}-v{minutes.version}"


__all__ = [
    "DocumentFormat",
    "MinutesService",
    "RenderedDocument",
    "Target",
    "can_approve",
    "can_edit",
]
