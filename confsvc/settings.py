"""Configuration from ``CONFSVC_*`` environment variables.

Each concern has a frozen dataclass; every field reads one variable and falls back to a
typed default. ``Settings.from_env()`` builds the lot and raises ``ConfigurationError``
naming the variable when a value cannot be used. Nothing here opens a connection.
"""

from __future__ import annotations

import os
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
    """Longest meeting, in minutes (CONFSVC_BOOKING_MAX_DURATION_MINUTES)."""
    buffer_minutes: int = 5
    """Gap kept free on a bridge after each booking, in minutes (CONFSVC_BOOKING_BUFFER_MINUTES)."""
    max_occurrences: int = 500
    """Most occurrences one recurring series may have (CONFSVC_BOOKING_MAX_OCCURRENCES)."""
    max_series_days: int = 731
    """Longest span of a recurring series, in days (CONFSVC_BOOKING_MAX_SERIES_DAYS)."""
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


@dataclass(frozen=True)
class Settings:
    database: DatabaseSettings
    booking: BookingSettings = field(default_factory=BookingSettings)
    mail: MailSettings = field(default_factory=MailSettings)
    caldav: CalDAVSettings = field(default_factory=CalDAVSettings)
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
