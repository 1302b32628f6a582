"""People, departments and API tokens."""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc import validation
from confsvc.db.models import ApiToken, Department, Person
from confsvc.directory.schemas import ImportReport, ImportRowError, PersonCreate, PersonRead, PersonUpdate
from confsvc.errors import Conflict, NotFound, ValidationFailed
from confsvc.i18n import SUPPORTED_LOCALES, normalise_locale
from confsvc.i18n import gettext as _

logger = logging.getLogger(__name__)

ROLES = ("admin", "organiser", "secretary", "member")
CSV_COLUMNS = ("email", "name", "department", "phone", "locale", "time_zone")
TOKEN_PREFIX = "cfs_"

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def person_read(person: Person) -> PersonRead:
    return PersonRead(
        id=person.id,
        email=person.email,
        name=person.name,
        department=person.department.name if person.department else None,
        phone=person.phone,
        locale=person.locale,
        time_zone=person.time_zone,
        roles=list(person.roles or []),
        active=person.active,
    )


@dataclass(frozen=True)
class CleanPerson:
    email: str
    name: str
    department: str | None
    phone: str | None
    locale: str | None
    time_zone: str | None


def clean_person_fields(
    *, email: str, name: str, department: str | None, phone: str | None, locale: str | None, time_zone: str | None
) -> CleanPerson:
    """Check one person's fields; raise ``ValidationFailed`` naming the first bad one."""
    clean_locale = None
    if locale:
        clean_locale = normalise_locale(locale)
        if clean_locale not in SUPPORTED_LOCALES:
            raise ValidationFailed.field("locale", _("unsupported locale {value!r}; use zh-CN or en", value=locale[:16]))
    clean_phone = None
    if phone:
        clean_phone = validation.e164(phone.strip(), field="phone")
    return CleanPerson(
        email=validation.email(email),
        name=validation.text(name, field="name", max_length=200),
        department=validation.text(department, field="department", max_length=200) if department and department.strip() else None,
        phone=clean_phone,
        locale=clean_locale,
        time_zone=validation.time_zone(time_zone.strip()) if time_zone and time_zone.strip() else None,
    )


def clean_roles(roles: Iterable[str]) -> list[str]:
    cleaned = sorted({role.strip().lower() for role in roles})
    unknown = [role for role in cleaned if role not in ROLES]
    if unknown:
        raise ValidationFailed.field("roles", _("unknown role {value!r}; use admin, organiser, secretary or member", value=unknown[0][:20]))
    return cleaned or ["member"]


class DirectoryService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, person_id: uuid.UUID) -> Person:
        person = await self.session.get(Person, person_id)
        if person is None:
            raise NotFound("person", person_id)
        return person

    async def find_by_email(self, email: str) -> Person | None:
        return await self.session.scalar(select(Person).where(Person.email == email.strip().lower()))

    async def list(self, *, query: str | None = None, limit: int = 100, offset: int = 0) -> list[Person]:
        statement = select(Person).order_by(Person.email).limit(limit).offset(offset)
        if query:
            pattern = f"%{query.strip().lower()}%"
            statement = statement.where(or_(Person.email.like(pattern), func.lower(Person.name).like(pattern)))
        return list(await self.session.scalars(statement))

    async def department(self, name: str | None) -> Department | None:
        if not name:
            return None
        department = await self.session.scalar(select(Department).where(Department.name == name))
        if department is None:
            department = Department(name=name)
            self.session.add(department)
            await self.session.flush()
        return department

    async def create(self, data: PersonCreate, *, password: str | None = None) -> Person:
        clean = clean_person_fields(
            email=data.email, name=data.name, department=data.department, phone=data.phone,
            locale=data.locale, time_zone=data.time_zone,
        )
        if await self.find_by_email(clean.email) is not None:
            raise Conflict(_("a person with e-mail {email} already exists", email=clean.email))
        department = await self.department(clean.department)
        person = Person(
            email=clean.email,
            name=clean.name,
            department_id=department.id if department else None,
            phone=clean.phone,
            locale=clean.locale,
            time_zone=clean.time_zone,
            roles=clean_roles(data.roles),
            password_hash=hash_password(password) if password else None,
        )
        self.session.add(person)
        await self.session.flush()
        await self.session.refresh(person)
        logger.info("person created person_id=%s", person.id)
        return person

    async def update(self, person_id: uuid.UUID, data: PersonUpdate) -> Person:
        person = await self.get(person_id)
        current = person_read(person)
        merged = {
            field: (getattr(current, field) if getattr(data, field) is msgspec.UNSET else getattr(data, field))
            for field in ("name", "department", "phone", "locale", "time_zone")
        }
        clean = clean_person_fields(email=person.email, **merged)
        department = await self.department(clean.department)
        person.name = clean.name
        person.department_id = department.id if department else None
        person.phone = clean.phone
        person.locale = clean.locale
        person.time_zone = clean.time_zone
        if data.roles is not msgspec.UNSET:
            person.roles = clean_roles(data.roles)  # type: ignore[arg-type]
        if data.active is not msgspec.UNSET:
            person.active = bool(data.active)
        await self.session.flush()
        await self.session.refresh(person)
        return person

    async def import_csv(self, content: bytes) -> ImportReport:
        """Create or update people from CSV bytes, all or nothing.

        The file is UTF-8 with or without a byte-order mark, with a header row naming
        at least ``email`` and ``name``. Every row is checked first; when any row is bad
        the report lists each error with its line number and nothing is written.
        """
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationFailed.field("file", _("the file is not UTF-8 text; save it as CSV UTF-8")) from exc
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = [name.strip().lower() for name in (reader.fieldnames or [])]
        missing = [name for name in ("email", "name") if name not in header]
        if missing:
            raise ValidationFailed.field("file", _("the header row lacks the column(s): {columns}", columns=", ".join(missing)))
        reader.fieldnames = header

        errors: list[ImportRowError] = []
        rows: dict[str, tuple[int, CleanPerson]] = {}
        for row in reader:
            line = reader.line_num
            if not any((value or "").strip() for value in row.values() if isinstance(value, str)):
                continue
            if None in row:
                errors.append(ImportRowError(line=line, field="row", reason=_("more values than columns")))
                continue
            try:
                clean = clean_person_fields(**{column: (row.get(column) or "") for column in CSV_COLUMNS})
            except ValidationFailed as exc:
                param = exc.invalid_params[0] if exc.invalid_params else {"name": "row", "reason": str(exc)}
                errors.append(ImportRowError(line=line, field=param["name"], reason=param["reason"]))
                continue
            if clean.email in rows:
                errors.append(ImportRowError(line=line, field="email", reason=_("duplicate of line {line}", line=rows[clean.email][0])))
                continue
            rows[clean.email] = (line, clean)
        if errors:
            logger.info("people import rejected errors=%d", len(errors))
            return ImportReport(created=0, updated=0, unchanged=0, errors=errors)

        created = updated = unchanged = 0
        for _line, clean in rows.values():
            department = await self.department(clean.department)
            person = await self.find_by_email(clean.email)
            values = {
                "name": clean.name,
                "department_id": department.id if department else None,
                "phone": clean.phone,
                "locale": clean.locale,
                "time_zone": clean.time_zone,
            }
            if person is None:
                self.session.add(Person(email=clean.email, roles=["member"], **values))
                created += 1
            elif any(getattr(person, key) != value for key, value in values.items()):
                for key, value in values.items():
                    setattr(person, key, value)
                updated += 1
            else:
                unchanged += 1
        await self.session.flush()
        logger.info("people import finished created=%d updated=%d unchanged=%d", created, updated, unchanged)
        return ImportReport(created=created, updated=updated, unchanged=unchanged, errors=[])

    async def create_token(self, person: Person, *, name: str = "cli") -> str:
        """Create an API token for ``person`` and return it; only its hash is stored."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.session.add(ApiToken(person_id=person.id, name=name, token_hash=hash_token(token), prefix=token[:10]))
        await self.session.flush()
        logger.info("api token created person_id=%s prefix=%s", person.id, token[:10])
        return token
