"""Meeting materials: streamed upload with size and type checks, listing, download, deletion.

An upload is parsed from the request stream as it arrives and written to a temporary file
while its SHA-256 and size are counted. Only a complete file that passes the size limit,
the extension list and the content check (magic bytes, or the OOXML part names for
docx/xlsx/pptx, or strict UTF-8 for text) is moved into the store and recorded. Any
failure removes the temporary file, so a rejected upload leaves neither a file nor a row.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
import unicodedata
import uuid
import zipfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import multipart
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.booking.services import MeetingService, Viewer, can_manage
from confsvc.db.models import AgendaItem, Material, Meeting, Person
from confsvc.errors import NotFound, PermissionDenied, ValidationFailed
from confsvc.i18n import gettext as _
from confsvc.preparation.agenda import can_prepare
from confsvc.preparation.schemas import MaterialRead
from confsvc.preparation.storage import MaterialStore, MaterialStoreError, material_store
from confsvc.settings import Settings

__all__ = [
    "CONTENT_TYPES",
    "MaterialService",
    "MaterialTooLarge",
    "UnsupportedMaterialType",
    "UploadedFile",
    "default_store",
    "material_read",
    "receive_upload",
    "sniff_matches",
]

logger = logging.getLogger(__name__)

CONTENT_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "png": "image/png",
    "jpg": "image/jpeg",
    "txt": "text/plain; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
}
_OOXML_FOLDERS = {"docx": "word/", "xlsx": "xl/", "pptx": "ppt/"}
_EXTENSION_ALIASES = {"jpeg": "jpg", "markdown": "md"}
_MULTIPART_OVERHEAD_BYTES = 64 * 1024
"""Room for the multipart headers and small form fields beside the file itself."""


class MaterialTooLarge(ValidationFailed):
    status_code = 413
    title = "Content too large"


class UnsupportedMaterialType(ValidationFailed):
    status_code = 415
    title = "Unsupported media type"


@dataclass
class UploadedFile:
    """A received upload in a temporary file; ``discard()`` removes the file."""

    path: Path
    filename: str
    size_bytes: int
    sha256: str
    fields: dict[str, str] = field(default_factory=dict)

    def discard(self) -> None:
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass


def default_store(settings: Settings) -> MaterialStore:
    """Return the configured material store (same as ``storage.material_store``)."""
    return material_store(settings)


def _clean_filename(raw: str) -> str:
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().strip(".")
    if not name:
        raise ValidationFailed.field("file", _("the uploaded file has no file name"))
    return name[-255:]


def extension_of(filename: str) -> str:
    extension = filename.rpartition(".")[2].lower() if "." in filename else ""
    return _EXTENSION_ALIASES.get(extension, extension)


def sniff_matches(path: Path, extension: str) -> bool:
    """Tell whether the content of ``path`` is a file of type ``extension``."""
    with path.open("rb") as handle:
        head = handle.read(8)
    if extension == "pdf":
        return head.startswith(b"%PDF-")
    if extension == "png":
        return head == b"\x89PNG\r\n\x1a\n"
    if extension == "jpg":
        return head.startswith(b"\xff\xd8\xff")
    if extension in _OOXML_FOLDERS:
        if not head.startswith(b"PK\x03\x04"):
            return False
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except zipfile.BadZipFile:
            return False
        folder = _OOXML_FOLDERS[extension]
        return "[Content_Types].xml" in names and any(name.startswith(folder) for name in names)
    if extension in ("txt", "md"):
        return _is_utf8_text(path)
    return False


def _is_utf8_text(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    with path.open("rb") as handle:
        while chunk := handle.read(64 * 1024):
            if b"\x00" in chunk:
                return False
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                return False
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


async def receive_upload(
    chunks: AsyncIterator[bytes], *, content_type: str, content_length: int | None, incoming: Path, max_bytes: int
) -> UploadedFile:
    """Parse a multipart/form-data stream with one ``file`` part into a temporary file.

    Reading stops as soon as the file exceeds ``max_bytes``. Small text fields (such as
    ``agenda_item_id``) are returned in ``fields``.

    Raises:
        MaterialTooLarge: the body or the file is larger than allowed.
        ValidationFailed: the body is not multipart/form-data or has no ``file`` part.
    """
    media_type, options = multipart.parse_options_header(content_type or "")
    boundary = options.get("boundary")
    if media_type != "multipart/form-data" or not boundary:
        raise UnsupportedMaterialType.field("body", _("send the file as multipart/form-data"))
    limit = max_bytes + _MULTIPART_OVERHEAD_BYTES
    if content_length is not None and content_length > limit:
        raise MaterialTooLarge.field("file", _("the file is larger than {limit} bytes", limit=max_bytes))

    incoming.mkdir(parents=True, exist_ok=True)
    upload: UploadedFile | None = None
    handle = None
    digest = hashlib.sha256()
    fields: dict[str, str] = {}
    current: multipart.MultipartSegment | None = None
    field_value = bytearray()
    received = 0
    complete = False
    try:
        parser = multipart.PushMultipartParser(boundary, max_segment_count=10, max_header_count=8)
        async for chunk in chunks:
            received += len(chunk)
            if received > limit:
                raise MaterialTooLarge.field("file", _("the file is larger than {limit} bytes", limit=max_bytes))
            for event in parser.parse(chunk):
                if isinstance(event, multipart.MultipartSegment):
                    current = event
                    field_value.clear()
                    if event.name == "file" and event.filename is not None:
                        if upload is not None:
                            raise ValidationFailed.field("file", _("send one file per upload"))
                        path = incoming / f"{uuid.uuid4().hex}.part"
                        upload = UploadedFile(path=path, filename=event.filename, size_bytes=0, sha256="")
                        handle = path.open("wb")
                elif event is None:
                    if current is not None and current.filename is None:
                        fields[current.name] = field_value.decode("utf-8", errors="replace")
                    if handle is not None:
                        handle.close()
                        handle = None
                    current = None
                elif current is not None and handle is not None and current.filename is not None:
                    upload.size_bytes += len(event)  # type: ignore[union-attr]
                    if upload.size_bytes > max_bytes:  # type: ignore[union-attr]
                        raise MaterialTooLarge.field("file", _("the file is larger than {limit} bytes", limit=max_bytes))
                    digest.update(event)
                    handle.write(event)
                elif current is not None:
                    field_value.extend(event)
                    if len(field_value) > 1000:
                        raise ValidationFailed.field(current.name, _("the form field is too long"))
        for _event in parser.parse(b""):
            pass
        if not parser.closed:
            raise ValidationFailed.field("body", _("the multipart body is incomplete"))
        if upload is None:
            raise ValidationFailed.field("file", _("the form has no file field"))
        complete = True
    except multipart.MultipartError as exc:
        raise ValidationFailed.field("body", _("the multipart body is invalid: {reason}", reason=str(exc))) from exc
    finally:
        # Runs on cancellation too, so an aborted upload leaves no temporary file.
        if handle is not None:
            handle.close()
        if not complete and upload is not None:
            upload.discard()
    upload.sha256 = digest.hexdigest()
    upload.fields = fields
    return upload


def material_read(material: Material, *, uploader: str | None, agenda_position: int | None) -> MaterialRead:
    """Return the API body of ``material``; ``agenda_position`` is the current position of its item."""
    return MaterialRead(
        id=material.id,
        meeting_id=material.meeting_id,
        agenda_item_id=material.agenda_item_id,
        agenda_position=agenda_position if material.agenda_item_id else None,
        filename=material.filename,
        content_type=material.content_type,
        size_bytes=material.size_bytes,
        sha256=material.sha256,
        uploaded_at=material.created_at,
        uploaded_by=uploader,
    )


class MaterialService:
    def __init__(self, session: AsyncSession, settings: Settings, *, store: MaterialStore | None = None) -> None:
        self.session = session
        self.settings = settings
        self.store = store or material_store(settings)

    async def _meeting(self, meeting_id: uuid.UUID, caller: Person) -> tuple[Meeting, Viewer]:
        viewer = Viewer.of(caller)
        meeting = await MeetingService(self.session, self.settings).get(meeting_id, viewer)
        return meeting, viewer

    async def add(self, meeting_id: uuid.UUID, upload: UploadedFile, *, caller: Person) -> Material:
        """Check ``upload``, move it into the store and add its row (the caller commits).

        The temporary file is removed on every failure. When the caller's commit fails,
        it must call :meth:`discard_stored` so the stored file goes too.

        Raises:
            NotFound, PermissionDenied, UnsupportedMaterialType, ValidationFailed.
            MaterialStoreError: the store failed; nothing is stored and no row is added.
        """
        stored = False
        try:
            meeting, viewer = await self._meeting(meeting_id, caller)
            agenda_item = self._agenda_item(meeting, upload.fields)
            if not can_prepare(meeting, viewer) and not self._presents(meeting, viewer, agenda_item):
                raise PermissionDenied(_("only the organiser, chair, secretary or a presenter may upload materials"))
            filename = _clean_filename(upload.filename)
            extension = extension_of(filename)
            allowed = self.settings.preparation.material_types
            if extension not in allowed or extension not in CONTENT_TYPES:
                raise UnsupportedMaterialType.field(
                    "file", _("files of type .{ext} are not accepted; use one of: {types}", ext=extension or "?", types=", ".join(allowed))
                )
            if upload.size_bytes == 0:
                raise ValidationFailed.field("file", _("the uploaded file is empty"))
            if not sniff_matches(upload.path, extension):
                raise UnsupportedMaterialType.field(
                    "file", _("the content of {name} is not a .{ext} file", name=filename, ext=extension)
                )
            material_id = uuid.uuid4()
            key = f"{meeting.id}/{material_id}.{extension}"
            await self.store.put(key, upload.path, sha256=upload.sha256, content_type=CONTENT_TYPES[extension])
            stored = True
        finally:
            if not stored:
                upload.discard()

        material = Material(
            id=material_id,
            meeting_id=meeting.id,
            agenda_item_id=agenda_item.id if agenda_item is not None else None,
            filename=filename,
            extension=extension,
            content_type=CONTENT_TYPES[extension],
            size_bytes=upload.size_bytes,
            sha256=upload.sha256,
            storage_key=key,
            uploaded_by_id=caller.id,
        )
        recorded = False
        try:
            self.session.add(material)
            await self.session.flush()
            recorded = True
        finally:
            if not recorded:
                await self._delete_quietly(key)
        logger.info(
            "material stored meeting_id=%s material_id=%s size=%d", meeting.id, material.id, material.size_bytes
        )
        return material

    async def discard_stored(self, material: Material) -> None:
        """Remove the stored file of ``material``; a store failure is logged, not raised."""
        await self._delete_quietly(material.storage_key)

    async def _delete_quietly(self, key: str) -> None:
        try:
            await self.store.delete(key)
        except MaterialStoreError:
            logger.error("material file left in the store key=%s; remove it by hand", key)

    def _agenda_item(self, meeting: Meeting, fields: Mapping[str, str]) -> AgendaItem | None:
        """Return the agenda item named by ``agenda_item_id`` or, failing that, ``agenda_position``.

        The id is the reliable choice: a position names whichever item is there at upload time.
        """
        raw_id = (fields.get("agenda_item_id") or "").strip()
        if raw_id:
            try:
                item_id = uuid.UUID(raw_id)
            except ValueError as exc:
                raise ValidationFailed.field("agenda_item_id", _("invalid agenda item id; give the id of an item of this meeting")) from exc
            for item in meeting.agenda_items:
                if item.id == item_id:
                    return item
            raise ValidationFailed.field(
                "agenda_item_id", _("agenda item {id} not found in this meeting; reload the agenda and choose again", id=raw_id)
            )
        raw = (fields.get("agenda_position") or "").strip()
        if not raw:
            return None
        try:
            position = int(raw)
        except ValueError as exc:
            raise ValidationFailed.field("agenda_position", _("must be a whole number")) from exc
        for item in meeting.agenda_items:
            if item.position == position:
                return item
        raise ValidationFailed.field("agenda_position", _("the agenda has no item {position}", position=position))

    @staticmethod
    def _presents(meeting: Meeting, viewer: Viewer, agenda_item: AgendaItem | None) -> bool:
        if agenda_item is not None:
            return agenda_item.presenter == viewer.email
        return any(item.presenter == viewer.email for item in meeting.agenda_items)

    async def position_of(self, material: Material) -> int | None:
        """Return the current agenda position of the item ``material`` belongs to."""
        if material.agenda_item_id is None:
            return None
        return await self.session.scalar(select(AgendaItem.position).where(AgendaItem.id == material.agenda_item_id))

    async def list(self, meeting_id: uuid.UUID, *, caller: Person) -> list[tuple[Material, str | None, int | None]]:
        """Return the materials with the uploader's e-mail and their item's current position, in agenda order."""
        meeting, _viewer = await self._meeting(meeting_id, caller)
        rows = await self.session.execute(
            select(Material, Person.email, AgendaItem.position)
            .outerjoin(Person, Person.id == Material.uploaded_by_id)
            .outerjoin(AgendaItem, AgendaItem.id == Material.agenda_item_id)
            .where(Material.meeting_id == meeting.id)
            .order_by(AgendaItem.position.is_(None), AgendaItem.position, Material.created_at)
        )
        return [(material, email, position) for material, email, position in rows.all()]

    async def get(self, meeting_id: uuid.UUID, material_id: uuid.UUID, *, caller: Person) -> Material:
        """Return one material of a meeting the caller can see (organiser, chair, secretary, attendee, admin)."""
        meeting, _viewer = await self._meeting(meeting_id, caller)
        material = await self.session.get(Material, material_id)
        if material is None or material.meeting_id != meeting.id:
            raise NotFound("material", material_id)
        return material

    async def delete(self, meeting_id: uuid.UUID, material_id: uuid.UUID, *, caller: Person) -> Material:
        """Delete the row (the caller commits, then calls :meth:`discard_stored`).

        Raises:
            NotFound, PermissionDenied.
            MaterialStoreError: the store cannot be reached; the row stays.
        """
        meeting, viewer = await self._meeting(meeting_id, caller)
        if not (can_manage(meeting, viewer) or viewer.person_id == meeting.secretary_id):
            raise PermissionDenied(_("only the organiser, the secretary or an administrator may delete materials"))
        material = await self.session.get(Material, material_id)
        if material is None or material.meeting_id != meeting.id:
            raise NotFound("material", material_id)
        # Reaching the store first means that an unreachable store fails the request
        # before the row goes, instead of leaving an object that no row points to.
        if not await self.store.exists(material.storage_key):
            logger.warning("material file already missing material_id=%s key=%s", material.id, material.storage_key)
        await self.session.delete(material)
        await self.session.flush()
        logger.info("material deleted meeting_id=%s material_id=%s", meeting.id, material.id)
        return material
