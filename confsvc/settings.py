"""Configuration from ``CONFSVC_*`` environment variables.

Each concern has a frozen dataclass; every field reads one variable and falls back to a
typed default. ``Settings.from_env()`` builds the lot and raises ``ConfigurationError``
naming the variable when a value cannot be used. Nothing here opens a connection.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from confsvc.errors import ConfigurationError

_SECRET_NAMES = ("password", "secret", "token", "key")


def _env(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(f"CONFSVC_{name}")
    if value is None or value.strip() == "":
        return None
    return value.strip()


def _int(environ: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    raw = _env(environ, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigurationError(f"CONFSVC_{name}={raw!r} is not an integer") from exc
    if value < minimum:
        raise ConfigurationError(f"CONFSVC_{name}={value} is below the minimum {minimum}")
    return value


def _bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _env(environ, name)
    if raw is None:
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ConfigurationError(f"CONFSVC_{name}={raw!r} is not a boolean; use true or false")


def _str(environ: Mapping[str, str], name: str, default: str) -> str:
    return _env(environ, name) or default


def mask_url(url: str) -> str:
    """Return ``url`` with any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username}:***@{host}" if parts.username else f"***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@dataclass(frozen=True)
class DatabaseSettings:
    url: str
    """SQLAlchemy async URL (CONFSVC_DATABASE_URL); default a SQLite file in the data folder."""
    echo: bool = False
    """Log every SQL statement (CONFSVC_DATABASE_ECHO)."""
    pool_size: int = 10
    """Connections per process for PostgreSQL (CONFSVC_DATABASE_POOL_SIZE)."""
    sqlite_busy_timeout_ms: int = 30_000
    """How long a SQLite writer waits for the lock, in ms (CONFSVC_SQLITE_BUSY_TIMEOUT_MS)."""

    @property
    def is_postgres(self) -> bool:
        return self.url.startswith("postgresql")

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")


@dataclass(frozen=True)
class BookingSettings:
    min_notice_minutes: int = 30
    """Earliest start of a booking, in minutes from now (CONFSVC_BOOKING_MIN_NOTICE_MINUTES)."""
    max_duration_minutes: int = 480
    """Maximum meeting length, in minutes (CONFSVC_BOOKING_MAX_DURATION_MINUTES)."""
    buffer_minutes: int = 5
    """Gap kept free on a bridge after each booking, in minutes (CONFSVC_BOOKING_BUFFER_MINUTES)."""
    max_occurrences: int = 500
    """Most occurrences one recurring series may have (CONFSVC_BOOKING_MAX_OCCURRENCES)."""
    max_series_days: int = 731
    """Maximum span of a recurring series, in days (CONFSVC_BOOKING_MAX_SERIES_DAYS)."""
    max_attendees: int = 2000
    """Most attendees one meeting may list (CONFSVC_BOOKING_MAX_ATTENDEES)."""


@dataclass(frozen=True)
class MailSettings:
    smtp_url: str | None = None
    """Outgoing mail server (CONFSVC_SMTP_URL): smtp://user:password@host:port, smtps://, ?starttls=true."""
    mail_from: str = "meetings@confsvc.localhost"
    """The scheduling address used as From and ORGANIZER (CONFSVC_MAIL_FROM)."""
    imap_url: str | None = None
    """Reply mailbox read for iTIP replies (CONFSVC_IMAP_URL)."""


@dataclass(frozen=True)
class CalDAVSettings:
    url: str | None = None
    """CalDAV server base URL (CONFSVC_CALDAV_URL)."""
    username: str | None = None
    """Service account (CONFSVC_CALDAV_USERNAME)."""
    password: str | None = None
    """Service account password (CONFSVC_CALDAV_PASSWORD)."""
    calendar_template: str | None = None
    """Calendar URL per person, e.g. ``{base}/{email}/calendar/`` (CONFSVC_CALDAV_CALENDAR_TEMPLATE)."""


DEFAULT_MEETING_ETIQUETTE = (
    "请提前5分钟入会；发言前报姓名和部门；不发言时请静音；按议程顺序发言，每项不超过规定时间；会议内容未经许可不得外传。\n"
    "Join 5 minutes early; say your name and department before speaking; stay muted when not "
    "speaking; speak in agenda order within each item's time; do not share the content without approval."
)


@dataclass(frozen=True)
class OutboxSettings:
    max_attempts: int = 8
    """Delivery attempts before a message becomes dead (CONFSVC_OUTBOX_MAX_ATTEMPTS)."""
    base_delay_seconds: int = 30
    """Wait before the first retry, doubled for each further one (CONFSVC_OUTBOX_BASE_DELAY_SECONDS)."""
    max_delay_seconds: int = 3600
    """Maximum wait between two attempts, in seconds (CONFSVC_OUTBOX_MAX_DELAY_SECONDS)."""
    lease_seconds: int = 120
    """How long a claimed message stays with one dispatcher before another may take it (CONFSVC_OUTBOX_LEASE_SECONDS)."""
    batch_size: int = 50
    """Messages claimed per sweep (CONFSVC_OUTBOX_BATCH_SIZE)."""
    interval_seconds: int = 5
    """Seconds between two outbox sweeps (CONFSVC_OUTBOX_INTERVAL_SECONDS)."""
    imap_interval_seconds: int = 60
    """Seconds between two polls of the reply mailbox (CONFSVC_IMAP_INTERVAL_SECONDS)."""


@dataclass(frozen=True)
class SecuritySettings:
    login_max_failures: int = 5
    """Failed logins for one account within the window before it is locked (CONFSVC_LOGIN_MAX_FAILURES)."""
    login_address_max_failures: int = 20
    """Failed logins from one client address within the window before it is locked (CONFSVC_LOGIN_ADDRESS_MAX_FAILURES)."""
    login_window_seconds: int = 900
    """Span in which failed logins are counted, in seconds (CONFSVC_LOGIN_WINDOW_SECONDS)."""
    login_lockout_seconds: int = 900
    """How long a locked account or address must wait, in seconds (CONFSVC_LOGIN_LOCKOUT_SECONDS)."""
    session_hours: int = 12
    """Lifetime of a web session after login, in hours (CONFSVC_SESSION_HOURS)."""
    session_cookie: str = "confsvc_session"
    """Name of the web-session cookie (CONFSVC_SESSION_COOKIE)."""
    rate_limit_login_per_minute: int = 30
    """Requests per client address and minute to /auth/* (CONFSVC_RATE_LIMIT_LOGIN_PER_MINUTE); 0 turns the limit off."""
    rate_limit_rsvp_per_minute: int = 60
    """Requests per client address and minute to /rsvp/* (CONFSVC_RATE_LIMIT_RSVP_PER_MINUTE); 0 turns the limit off."""
    rate_limit_public_per_minute: int = 120
    """Requests per client address and minute to other endpoints without login (CONFSVC_RATE_LIMIT_PUBLIC_PER_MINUTE); 0 turns it off."""
    oidc_issuer: str | None = None
    """OpenID Connect issuer URL; single sign-on is off without it (CONFSVC_OIDC_ISSUER)."""
    oidc_client_id: str | None = None
    """Client id registered at the OpenID provider (CONFSVC_OIDC_CLIENT_ID)."""
    oidc_client_secret: str | None = None
    """Client secret registered at the OpenID provider (CONFSVC_OIDC_CLIENT_SECRET)."""
    oidc_redirect_uri: str | None = None
    """Callback URL registered at the provider; default ``{base_url}/auth/oidc/callback`` (CONFSVC_OIDC_REDIRECT_URI)."""
    oidc_scopes: str = "openid email profile"
    """Space-separated scopes requested from the provider (CONFSVC_OIDC_SCOPES)."""
    ldap_url: str | None = None
    """LDAP server, e.g. ldaps://ldap.example.com:636; LDAP login is off without it (CONFSVC_LDAP_URL)."""
    ldap_bind_dn_template: str = "uid={username},ou=people,dc=example,dc=com"
    """DN bound with the user's password; ``{username}`` is the escaped login name (CONFSVC_LDAP_BIND_DN_TEMPLATE)."""
    ldap_search_base: str | None = None
    """Subtree searched for the user's entry after the bind; default the bind DN itself (CONFSVC_LDAP_SEARCH_BASE)."""
    ldap_search_filter: str = "(uid={username})"
    """Filter that finds the user's entry under the search base (CONFSVC_LDAP_SEARCH_FILTER)."""
    ldap_email_attribute: str = "mail"
    """Attribute holding the user's e-mail address (CONFSVC_LDAP_EMAIL_ATTRIBUTE)."""
    ldap_timeout_seconds: int = 5
    """Connect and response timeout for the LDAP server, in seconds (CONFSVC_LDAP_TIMEOUT_SECONDS)."""
    sso_create_people: bool = False
    """Create a member account on the first single sign-on of an unknown address (CONFSVC_SSO_CREATE_PEOPLE)."""
    token_cache_seconds: int = 5
    """How long one process reuses a verified API token without reading the database, in seconds
    (CONFSVC_TOKEN_CACHE_SECONDS); 0 turns the cache off. A token revoked, or an account changed,
    through another process is honoured there after at most this long."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SecuritySettings:
        return cls(
            login_max_failures=_int(env, "LOGIN_MAX_FAILURES", 5, minimum=1),
            login_address_max_failures=_int(env, "LOGIN_ADDRESS_MAX_FAILURES", 20, minimum=1),
            login_window_seconds=_int(env, "LOGIN_WINDOW_SECONDS", 900, minimum=1),
            login_lockout_seconds=_int(env, "LOGIN_LOCKOUT_SECONDS", 900, minimum=1),
            session_hours=_int(env, "SESSION_HOURS", 12, minimum=1),
            session_cookie=_str(env, "SESSION_COOKIE", "confsvc_session"),
            rate_limit_login_per_minute=_int(env, "RATE_LIMIT_LOGIN_PER_MINUTE", 30),
            rate_limit_rsvp_per_minute=_int(env, "RATE_LIMIT_RSVP_PER_MINUTE", 60),
            rate_limit_public_per_minute=_int(env, "RATE_LIMIT_PUBLIC_PER_MINUTE", 120),
            oidc_issuer=(_env(env, "OIDC_ISSUER") or "").rstrip("/") or None,
            oidc_client_id=_env(env, "OIDC_CLIENT_ID"),
            oidc_client_secret=_env(env, "OIDC_CLIENT_SECRET"),
            oidc_redirect_uri=_env(env, "OIDC_REDIRECT_URI"),
            oidc_scopes=_str(env, "OIDC_SCOPES", "openid email profile"),
            ldap_url=_env(env, "LDAP_URL"),
            ldap_bind_dn_template=_str(env, "LDAP_BIND_DN_TEMPLATE", "uid={username},ou=people,dc=example,dc=com"),
            ldap_search_base=_env(env, "LDAP_SEARCH_BASE"),
            ldap_search_filter=_str(env, "LDAP_SEARCH_FILTER", "(uid={username})"),
            ldap_email_attribute=_str(env, "LDAP_EMAIL_ATTRIBUTE", "mail"),
            ldap_timeout_seconds=_int(env, "LDAP_TIMEOUT_SECONDS", 5, minimum=1),
            sso_create_people=_bool(env, "SSO_CREATE_PEOPLE", False),
            token_cache_seconds=_int(env, "TOKEN_CACHE_SECONDS", 5),
        )


_DEFAULT_MATERIAL_TYPES = ("pdf", "docx", "xlsx", "pptx", "png", "jpg", "txt", "md")
_S3_MAX_PUT_BYTES = 5 * 1024**3
"""Largest object that one S3 PutObject request may carry (5 GiB, the AWS S3 limit)."""
_S3_BUCKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$")
_S3_PREFIX_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class PreparationSettings:
    check_offsets_minutes: tuple[int, ...] = (1440, 60)
    """Minutes before a meeting's start when the pre-meeting checks run (CONFSVC_PREP_CHECK_OFFSETS_MINUTES, comma-separated)."""
    quorum_share: float = 0.5
    """Share of required attendees that must have accepted, 0 to 1 (CONFSVC_PREP_QUORUM_SHARE)."""
    inspection_max_age_days: int = 90
    """Days after which a room's equipment counts as not recently inspected (CONFSVC_PREP_INSPECTION_MAX_AGE_DAYS)."""
    material_max_bytes: int = 20 * 1024 * 1024
    """Largest accepted material upload, in bytes (CONFSVC_PREP_MATERIAL_MAX_BYTES)."""
    material_types: tuple[str, ...] = _DEFAULT_MATERIAL_TYPES
    """File extensions accepted for materials (CONFSVC_PREP_MATERIAL_TYPES, comma-separated)."""
    sweep_interval_seconds: int = 60
    """Seconds between two sweeps for due pre-meeting checks (CONFSVC_PREP_SWEEP_INTERVAL_SECONDS)."""
    agenda_resend_settle_seconds: int = 120
    """Seconds an agenda update waits before it is sent, so a burst of edits sends one (CONFSVC_PREP_AGENDA_RESEND_SETTLE_SECONDS)."""
    materials_store: str = "local"
    """Store of the material files: ``local`` (``CONFSVC_DATA_DIR/materials``) or ``s3`` (CONFSVC_MATERIALS_STORE)."""
    s3_endpoint_url: str | None = None
    """S3 API URL of MinIO, Ceph RGW, OSS or COS; unset means AWS S3 itself (CONFSVC_S3_ENDPOINT_URL)."""
    s3_bucket: str | None = None
    """Bucket of the material objects; it must exist already (CONFSVC_S3_BUCKET)."""
    s3_region: str = "us-east-1"
    """Region used for request signing (CONFSVC_S3_REGION)."""
    s3_access_key_id: str | None = field(default=None, repr=False)
    """Access key id; with the secret unset too, boto3's default credential chain is used (CONFSVC_S3_ACCESS_KEY_ID)."""
    s3_secret_access_key: str | None = field(default=None, repr=False)
    """Secret access key (CONFSVC_S3_SECRET_ACCESS_KEY)."""
    s3_prefix: str = ""
    """Key prefix inside the bucket, e.g. ``confsvc/materials``; empty means the bucket root (CONFSVC_S3_PREFIX)."""
    s3_addressing_style: str = "auto"
    """``path`` (``host/bucket/key``), ``virtual`` (``bucket.host/key``) or ``auto`` (CONFSVC_S3_ADDRESSING_STYLE)."""
    s3_checksum: str = "sha256"
    """Checksum the store verifies on upload: ``sha256`` (x-amz-checksum-sha256) or ``md5`` (Content-MD5) (CONFSVC_S3_CHECKSUM)."""
    s3_timeout_seconds: int = 30
    """Connect and read timeout of one S3 request, in seconds (CONFSVC_S3_TIMEOUT_SECONDS)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> PreparationSettings:
        """Read the ``CONFSVC_PREP_*`` variables; raises ``ConfigurationError`` naming a bad one."""
        offsets_raw = _str(environ, "PREP_CHECK_OFFSETS_MINUTES", "1440,60")
        try:
            offsets = tuple(sorted({int(part) for part in offsets_raw.split(",") if part.strip()}, reverse=True))
        except ValueError as exc:
            raise ConfigurationError(
                f"CONFSVC_PREP_CHECK_OFFSETS_MINUTES={offsets_raw!r} is not a comma-separated list of minutes"
            ) from exc
        if not offsets or min(offsets) < 1:
            raise ConfigurationError(f"CONFSVC_PREP_CHECK_OFFSETS_MINUTES={offsets_raw!r} needs whole minutes of 1 or more")
        share_raw = _str(environ, "PREP_QUORUM_SHARE", "0.5")
        try:
            share = float(share_raw)
        except ValueError as exc:
            raise ConfigurationError(f"CONFSVC_PREP_QUORUM_SHARE={share_raw!r} is not a number") from exc
        if not 0.0 <= share <= 1.0:
            raise ConfigurationError(f"CONFSVC_PREP_QUORUM_SHARE={share_raw!r} must be between 0 and 1")
        types_raw = _str(environ, "PREP_MATERIAL_TYPES", ",".join(_DEFAULT_MATERIAL_TYPES))
        types = tuple(part.strip().lower().lstrip(".") for part in types_raw.split(",") if part.strip())
        if not types:
            raise ConfigurationError("CONFSVC_PREP_MATERIAL_TYPES is empty; list extensions such as pdf,docx")
        settings = cls(
            check_offsets_minutes=offsets,
            quorum_share=share,
            inspection_max_age_days=_int(environ, "PREP_INSPECTION_MAX_AGE_DAYS", 90, minimum=1),
            material_max_bytes=_int(environ, "PREP_MATERIAL_MAX_BYTES", 20 * 1024 * 1024, minimum=1),
            material_types=types,
            sweep_interval_seconds=_int(environ, "PREP_SWEEP_INTERVAL_SECONDS", 60, minimum=1),
            agenda_resend_settle_seconds=_int(environ, "PREP_AGENDA_RESEND_SETTLE_SECONDS", 120, minimum=0),
            **_materials_store_from_env(environ),
        )
        settings.check_materials_store()
        return settings

    def check_materials_store(self) -> None:
        """Raise ``ConfigurationError`` naming the variable when the S3 settings cannot work.

        ``from_env`` calls this; call it again after changing the fields by hand.
        """
        if self.materials_store not in ("local", "s3"):
            raise ConfigurationError(f"CONFSVC_MATERIALS_STORE={self.materials_store!r} is not supported; use local or s3")
        if self.materials_store != "s3":
            return
        if not self.s3_bucket:
            raise ConfigurationError("CONFSVC_S3_BUCKET is missing; set the bucket name when CONFSVC_MATERIALS_STORE=s3")
        if not _S3_BUCKET.match(self.s3_bucket):
            raise ConfigurationError(
                f"CONFSVC_S3_BUCKET={self.s3_bucket!r} is not a bucket name; use letters, digits, '.', '-' or '_'"
            )
        if self.s3_endpoint_url is not None:
            parts = urlsplit(self.s3_endpoint_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigurationError(
                    f"CONFSVC_S3_ENDPOINT_URL={mask_url(self.s3_endpoint_url)!r} is not an http(s) URL such as https://minio.example.com:9000"
                )
            if parts.username or parts.password:
                raise ConfigurationError(
                    "CONFSVC_S3_ENDPOINT_URL must not contain credentials; "
                    "use CONFSVC_S3_ACCESS_KEY_ID and CONFSVC_S3_SECRET_ACCESS_KEY"
                )
        if self.s3_access_key_id and not self.s3_secret_access_key:
            raise ConfigurationError("CONFSVC_S3_SECRET_ACCESS_KEY is missing; it is required when CONFSVC_S3_ACCESS_KEY_ID is set")
        if self.s3_secret_access_key and not self.s3_access_key_id:
            raise ConfigurationError("CONFSVC_S3_ACCESS_KEY_ID is missing; it is required when CONFSVC_S3_SECRET_ACCESS_KEY is set")
        if self.s3_prefix and not all(_S3_PREFIX_SEGMENT.match(part) for part in self.s3_prefix.split("/")):
            raise ConfigurationError(
                f"CONFSVC_S3_PREFIX={self.s3_prefix!r} is invalid; use '/'-separated names of letters, digits, '.', '-' or '_'"
            )
        if self.s3_addressing_style not in ("auto", "path", "virtual"):
            raise ConfigurationError(
                f"CONFSVC_S3_ADDRESSING_STYLE={self.s3_addressing_style!r} is not supported; use auto, path or virtual"
            )
        if self.s3_checksum not in ("sha256", "md5"):
            raise ConfigurationError(f"CONFSVC_S3_CHECKSUM={self.s3_checksum!r} is not supported; use sha256 or md5")
        if self.material_max_bytes > _S3_MAX_PUT_BYTES:
            raise ConfigurationError(
                f"CONFSVC_PREP_MATERIAL_MAX_BYTES={self.material_max_bytes} is above {_S3_MAX_PUT_BYTES}, "
                "the largest object one S3 upload request may carry"
            )


def _materials_store_from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """Read CONFSVC_MATERIALS_STORE and the CONFSVC_S3_* variables (checked by ``check_materials_store``)."""
    return {
        "materials_store": _str(environ, "MATERIALS_STORE", "local").lower(),
        "s3_endpoint_url": (_env(environ, "S3_ENDPOINT_URL") or "").rstrip("/") or None,
        "s3_bucket": _env(environ, "S3_BUCKET"),
        "s3_region": _str(environ, "S3_REGION", "us-east-1"),
        "s3_access_key_id": _env(environ, "S3_ACCESS_KEY_ID"),
        "s3_secret_access_key": _env(environ, "S3_SECRET_ACCESS_KEY"),
        "s3_prefix": _str(environ, "S3_PREFIX", "").strip("/"),
        "s3_addressing_style": _str(environ, "S3_ADDRESSING_STYLE", "auto").lower(),
        "s3_checksum": _str(environ, "S3_CHECKSUM", "sha256").lower(),
        "s3_timeout_seconds": _int(environ, "S3_TIMEOUT_SECONDS", 30, minimum=1),
    }


@dataclass(frozen=True)
class MinutesSettings:
    number_pattern: str = "〔{year}〕{seq}号"
    """Number of approved minutes; ``{year}`` and ``{seq}`` (e.g. ``{seq:03d}``) are filled in (CONFSVC_MINUTES_NUMBER_PATTERN)."""
    counter_scope: str = "organisation"
    """Whose counter issues ``{seq}``: ``organisation`` or ``series`` (CONFSVC_MINUTES_COUNTER_SCOPE); a pattern with ``{year}`` restarts it each year."""
    default_template: str = "default-zh"
    """Template used when the minutes name none: a shipped name or an uploaded template's name (CONFSVC_MINUTES_DEFAULT_TEMPLATE)."""
    east_asia_font: str = "宋体"
    """East Asian font given to CJK text that has none (CONFSVC_MINUTES_EAST_ASIA_FONT)."""
    max_template_bytes: int = 2 * 1024 * 1024
    """Largest accepted .docx template upload, in bytes (CONFSVC_MINUTES_MAX_TEMPLATE_BYTES)."""
    soffice_path: str = "soffice"
    """LibreOffice program that converts the .docx to PDF for distribution; PDF is skipped when it is not found (CONFSVC_MINUTES_SOFFICE)."""
    pdf_timeout_seconds: int = 60
    """Maximum wait for one PDF conversion, in seconds (CONFSVC_MINUTES_PDF_TIMEOUT_SECONDS)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> MinutesSettings:
        """Read the ``CONFSVC_MINUTES_*`` variables; raises ``ConfigurationError`` naming a bad one."""
        pattern = _str(environ, "MINUTES_NUMBER_PATTERN", "〔{year}〕{seq}号")
        try:
            pattern.format(year=2026, seq=1)
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigurationError(
                f"CONFSVC_MINUTES_NUMBER_PATTERN={pattern!r} is invalid; use only {{year}} and {{seq}}, e.g. 第{{seq}}期"
            ) from exc
        if "{seq" not in pattern:
            raise ConfigurationError(f"CONFSVC_MINUTES_NUMBER_PATTERN={pattern!r} needs {{seq}}")
        scope = _str(environ, "MINUTES_COUNTER_SCOPE", "organisation")
        if scope not in ("organisation", "series"):
            raise ConfigurationError(f"CONFSVC_MINUTES_COUNTER_SCOPE={scope!r} is not supported; use organisation or series")
        return cls(
            number_pattern=pattern,
            counter_scope=scope,
            default_template=_str(environ, "MINUTES_DEFAULT_TEMPLATE", "default-zh"),
            east_asia_font=_str(environ, "MINUTES_EAST_ASIA_FONT", "宋体"),
            max_template_bytes=_int(environ, "MINUTES_MAX_TEMPLATE_BYTES", 2 * 1024 * 1024, minimum=1024),
            soffice_path=_str(environ, "MINUTES_SOFFICE", "soffice"),
            pdf_timeout_seconds=_int(environ, "MINUTES_PDF_TIMEOUT_SECONDS", 60, minimum=1),
        )


@dataclass(frozen=True)
class FollowupSettings:
    holiday_country: str = "CN"
    """ISO 3166-1 country whose holidays decide working days (CONFSVC_FOLLOWUP_HOLIDAY_COUNTRY)."""
    reminder_lead_days: int = 2
    """Working days before the due date of the first reminder; 0 turns it off (CONFSVC_FOLLOWUP_REMINDER_LEAD_DAYS)."""
    reminder_time: str = "09:00"
    """Local HH:MM of reminders in the owner's zone (CONFSVC_FOLLOWUP_REMINDER_TIME)."""
    escalation_notice_days: int = 1
    """Overdue working days before the formal reminder notice (催办单); 0 turns it off (CONFSVC_FOLLOWUP_ESCALATION_NOTICE_DAYS)."""
    escalation_head_days: int = 3
    """Overdue working days before the department head and organiser are notified; 0 turns it off (CONFSVC_FOLLOWUP_ESCALATION_HEAD_DAYS)."""
    escalation_sms_days: int = 5
    """Overdue working days before the owner gets an SMS; 0 turns it off (CONFSVC_FOLLOWUP_ESCALATION_SMS_DAYS)."""
    sms_url: str | None = None
    """SMS webhook gateway for escalations when the owner has no own sms channel (CONFSVC_FOLLOWUP_SMS_URL)."""
    sms_secret: str | None = None
    """HMAC secret of that gateway (CONFSVC_FOLLOWUP_SMS_SECRET)."""
    digest_weekday: int = 1
    """ISO weekday (1 = Monday) of the organisers' weekly digest; 0 turns it off (CONFSVC_FOLLOWUP_DIGEST_WEEKDAY)."""
    link_ttl_days: int = 14
    """Days a one-click link in a reminder stays valid (CONFSVC_FOLLOWUP_LINK_TTL_DAYS)."""
    sweep_interval_seconds: int = 60
    """Seconds between two reminder sweeps (CONFSVC_FOLLOWUP_SWEEP_INTERVAL_SECONDS)."""
    batch_size: int = 200
    """Action items claimed per sweep transaction (CONFSVC_FOLLOWUP_BATCH_SIZE)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> FollowupSettings:
        """Read the ``CONFSVC_FOLLOWUP_*`` variables; raises ``ConfigurationError`` naming a bad one."""
        country = _str(environ, "FOLLOWUP_HOLIDAY_COUNTRY", "CN").upper()
        if len(country) != 2 or not country.isalpha():
            raise ConfigurationError(
                f"CONFSVC_FOLLOWUP_HOLIDAY_COUNTRY={country!r} is not an ISO 3166-1 alpha-2 code such as CN"
            )
        reminder_time = _str(environ, "FOLLOWUP_REMINDER_TIME", "09:00")
        hour, _sep, minute = reminder_time.partition(":")
        if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
            raise ConfigurationError(f"CONFSVC_FOLLOWUP_REMINDER_TIME={reminder_time!r} is not a time HH:MM")
        weekday = _int(environ, "FOLLOWUP_DIGEST_WEEKDAY", 1)
        if weekday > 7:
            raise ConfigurationError(f"CONFSVC_FOLLOWUP_DIGEST_WEEKDAY={weekday} must be 0 (off) or 1-7")
        return cls(
            holiday_country=country,
            reminder_lead_days=_int(environ, "FOLLOWUP_REMINDER_LEAD_DAYS", 2),
            reminder_time=f"{int(hour):02d}:{int(minute):02d}",
            escalation_notice_days=_int(environ, "FOLLOWUP_ESCALATION_NOTICE_DAYS", 1),
            escalation_head_days=_int(environ, "FOLLOWUP_ESCALATION_HEAD_DAYS", 3),
            escalation_sms_days=_int(environ, "FOLLOWUP_ESCALATION_SMS_DAYS", 5),
            sms_url=_env(environ, "FOLLOWUP_SMS_URL"),
            sms_secret=_env(environ, "FOLLOWUP_SMS_SECRET"),
            digest_weekday=weekday,
            link_ttl_days=_int(environ, "FOLLOWUP_LINK_TTL_DAYS", 14, minimum=1),
            sweep_interval_seconds=_int(environ, "FOLLOWUP_SWEEP_INTERVAL_SECONDS", 60, minimum=1),
            batch_size=_int(environ, "FOLLOWUP_BATCH_SIZE", 200, minimum=1),
        )


@dataclass(frozen=True)
class OpsSettings:
    log_format: str = "text"
    """Log line format, ``text`` or ``json`` (CONFSVC_LOG_FORMAT)."""
    metrics_enabled: bool = True
    """Serve Prometheus metrics at ``GET /metrics`` (CONFSVC_METRICS_ENABLED)."""
    readiness_cache_seconds: int = 10
    """Seconds the readiness check reuses its migration result (CONFSVC_READINESS_CACHE_SECONDS)."""
    shutdown_grace_seconds: int = 20
    """Seconds a stopping process waits for running sweeps to finish (CONFSVC_SHUTDOWN_GRACE_SECONDS)."""
    outbox_retention_days: int = 30
    """Days a sent, dead or dropped outbox row is kept; 0 turns pruning off (CONFSVC_OUTBOX_RETENTION_DAYS)."""
    prune_interval_seconds: int = 3600
    """Seconds between two pruning sweeps (CONFSVC_PRUNE_INTERVAL_SECONDS)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> OpsSettings:
        """Read the operations variables; raises ``ConfigurationError`` naming a bad one."""
        log_format = _str(environ, "LOG_FORMAT", "text").lower()
        if log_format not in ("text", "json"):
            raise ConfigurationError(f"CONFSVC_LOG_FORMAT={log_format!r} is not supported; use text or json")
        return cls(
            log_format=log_format,
            metrics_enabled=_bool(environ, "METRICS_ENABLED", True),
            readiness_cache_seconds=_int(environ, "READINESS_CACHE_SECONDS", 10),
            shutdown_grace_seconds=_int(environ, "SHUTDOWN_GRACE_SECONDS", 20),
            outbox_retention_days=_int(environ, "OUTBOX_RETENTION_DAYS", 30),
            prune_interval_seconds=_int(environ, "PRUNE_INTERVAL_SECONDS", 3600, minimum=1),
        )


@dataclass(frozen=True)
class Settings:
    database: DatabaseSettings
    booking: BookingSettings = field(default_factory=BookingSettings)
    mail: MailSettings = field(default_factory=MailSettings)
    caldav: CalDAVSettings = field(default_factory=CalDAVSettings)
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    preparation: PreparationSettings = field(default_factory=PreparationSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    followup: FollowupSettings = field(default_factory=FollowupSettings)
    minutes: MinutesSettings = field(default_factory=MinutesSettings)
    ops: OpsSettings = field(default_factory=OpsSettings)
    meeting_etiquette: str = DEFAULT_MEETING_ETIQUETTE
    """Meeting rules written into every invitation's DESCRIPTION (CONFSVC_MEETING_ETIQUETTE)."""
    time_zone: str = "Asia/Shanghai"
    """Default IANA zone of the organisation (CONFSVC_TIME_ZONE)."""
    default_locale: str = "zh-CN"
    """Language when neither the person nor Accept-Language chooses one (CONFSVC_DEFAULT_LOCALE)."""
    secret_key: str = ""
    """Key for signed links and sessions (CONFSVC_SECRET_KEY); a random one per process if unset."""
    data_dir: Path = Path("var")
    """Folder for the SQLite file, materials and the demo sandboxes (CONFSVC_DATA_DIR)."""
    base_url: str = "http://127.0.0.1:8000"
    """Public URL of the service, used in links inside e-mails (CONFSVC_BASE_URL)."""
    scheduler_enabled: bool = True
    """Run the scheduler sweeps inside ``confsvc serve`` (CONFSVC_SCHEDULER_ENABLED)."""
    max_request_bytes: int = 1_048_576
    """Largest accepted JSON request body, in bytes (CONFSVC_MAX_REQUEST_BYTES)."""
    log_level: str = "INFO"
    """Root log level (CONFSVC_LOG_LEVEL)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``); ``overrides`` win."""
        env = os.environ if environ is None else environ
        data_dir = Path(_str(env, "DATA_DIR", "var"))
        database = DatabaseSettings(
            url=_str(env, "DATABASE_URL", f"sqlite+aiosqlite:///{data_dir / 'confsvc.sqlite3'}"),
            echo=_bool(env, "DATABASE_ECHO", False),
            pool_size=_int(env, "DATABASE_POOL_SIZE", 10, minimum=1),
            sqlite_busy_timeout_ms=_int(env, "SQLITE_BUSY_TIMEOUT_MS", 30_000),
        )
        if not (database.is_postgres or database.is_sqlite):
            raise ConfigurationError(
                f"CONFSVC_DATABASE_URL={mask_url(database.url)!r} is not supported; "
                "use sqlite+aiosqlite:///FILE or postgresql+asyncpg://USER@HOST/DB"
            )
        booking = BookingSettings(
            min_notice_minutes=_int(env, "BOOKING_MIN_NOTICE_MINUTES", 30),
            max_duration_minutes=_int(env, "BOOKING_MAX_DURATION_MINUTES", 480, minimum=1),
            buffer_minutes=_int(env, "BOOKING_BUFFER_MINUTES", 5),
            max_occurrences=_int(env, "BOOKING_MAX_OCCURRENCES", 500, minimum=1),
            max_series_days=_int(env, "BOOKING_MAX_SERIES_DAYS", 731, minimum=1),
            max_attendees=_int(env, "BOOKING_MAX_ATTENDEES", 2000, minimum=1),
        )
        mail = MailSettings(
            smtp_url=_env(env, "SMTP_URL"),
            mail_from=_str(env, "MAIL_FROM", "meetings@confsvc.localhost"),
            imap_url=_env(env, "IMAP_URL"),
        )
        caldav = CalDAVSettings(
            url=_env(env, "CALDAV_URL"),
            username=_env(env, "CALDAV_USERNAME"),
            password=_env(env, "CALDAV_PASSWORD"),
            calendar_template=_env(env, "CALDAV_CALENDAR_TEMPLATE"),
        )
        outbox = OutboxSettings(
            max_attempts=_int(env, "OUTBOX_MAX_ATTEMPTS", 8, minimum=1),
            base_delay_seconds=_int(env, "OUTBOX_BASE_DELAY_SECONDS", 30),
            max_delay_seconds=_int(env, "OUTBOX_MAX_DELAY_SECONDS", 3600),
            lease_seconds=_int(env, "OUTBOX_LEASE_SECONDS", 120, minimum=5),
            batch_size=_int(env, "OUTBOX_BATCH_SIZE", 50, minimum=1),
            interval_seconds=_int(env, "OUTBOX_INTERVAL_SECONDS", 5, minimum=1),
            imap_interval_seconds=_int(env, "IMAP_INTERVAL_SECONDS", 60, minimum=1),
        )
        time_zone = _str(env, "TIME_ZONE", "Asia/Shanghai")
        try:
            ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigurationError(
                f"CONFSVC_TIME_ZONE={time_zone!r} is not an IANA time zone; use e.g. Asia/Shanghai"
            ) from exc
        locale = _str(env, "DEFAULT_LOCALE", "zh-CN")
        if locale not in ("zh-CN", "en"):
            raise ConfigurationError(f"CONFSVC_DEFAULT_LOCALE={locale!r} is not supported; use zh-CN or en")
        values: dict[str, Any] = {
            "database": database,
            "booking": booking,
            "mail": mail,
            "caldav": caldav,
            "outbox": outbox,
            "preparation": PreparationSettings.from_env(env),
            "security": SecuritySettings.from_env(env),
            "followup": FollowupSettings.from_env(env),
            "minutes": MinutesSettings.from_env(env),
            "ops": OpsSettings.from_env(env),
            "meeting_etiquette": _str(env, "MEETING_ETIQUETTE", DEFAULT_MEETING_ETIQUETTE).replace("\\n", "\n"),
            "time_zone": time_zone,
            "default_locale": locale,
            "secret_key": _env(env, "SECRET_KEY") or secrets.token_urlsafe(32),
            "data_dir": data_dir,
            "base_url": _str(env, "BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
            "scheduler_enabled": _bool(env, "SCHEDULER_ENABLED", True),
            "max_request_bytes": _int(env, "MAX_REQUEST_BYTES", 1_048_576, minimum=1024),
            "log_level": _str(env, "LOG_LEVEL", "INFO").upper(),
        }
        values.update(overrides)
        return cls(**values)

    def describe(self) -> dict[str, Any]:
        """Return the effective settings as a flat dict with secrets masked."""
        out: dict[str, Any] = {}
        for section in fields(self):
            value = getattr(self, section.name)
            if hasattr(value, "__dataclass_fields__"):
                for sub in fields(value):
                    out[f"{section.name}.{sub.name}"] = _masked(sub.name, getattr(value, sub.name))
            else:
                out[section.name] = _masked(section.name, value)
        return out


def _masked(name: str, value: Any) -> Any:
    if value is None:
        return None
    if any(part in name for part in _SECRET_NAMES):
        return "***" if value else ""
    if isinstance(value, str) and "://" in value:
        return mask_url(value)
    if isinstance(value, Path):
        return str(value)
    return value
