"""Common shape of the instant-messaging and webhook notification channels.

Every channel turns a :class:`ChannelMessage` into one HTTP POST and maps the response
onto the delivery error tree of :mod:`confsvc.errors`::

    DeliveryError                 retry later (an unexpected result code)
    ├── EndpointUnavailable       timeout, connection error or 5xx; may carry retry_after
    │   └── RateLimited           the platform asked us to slow down; may carry retry_after
    └── PermanentDeliveryError    retrying cannot help (bad signature, bad key, other 4xx)

Secrets (signing secrets, robot keys, hook tokens) are registered with a log filter on
the ``httpx`` logger, because httpx logs every request URL at INFO level and WeCom and
DingTalk put their keys into the query string.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, Self

import httpx

from confsvc.errors import DeliveryError, PermanentDeliveryError, ValidationFailed
from confsvc.notify.unavailable import EndpointUnavailable, parse_retry_after

__all__ = [
    "DEFAULT_TIMEOUT",
    "Channel",
    "ChannelMessage",
    "Clock",
    "RateLimited",
    "SendResult",
    "mask_secrets",
    "mask_url",
    "parse_retry_after",
    "register_secret",
    "truncate_utf8",
    "utc_now",
]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
"""Seconds allowed for connecting, writing and reading one request."""

Clock = Callable[[], datetime]
"""Returns the current instant as an aware datetime; injectable so signatures are testable."""

MASK = "***"


def utc_now() -> datetime:
    return datetime.now(UTC)


class RateLimited(EndpointUnavailable):
    """The platform rejected the message because too many were sent; retry later.

    ``retry_after`` is the wait in seconds from the Retry-After header, or None.
    """


@dataclass(frozen=True, slots=True)
class ChannelMessage:
    """One notification as the outbox hands it to a channel.

    ``mentions`` contains phone numbers (digits, optionally with a leading ``+``) and platform
    user ids; each channel picks the form its platform can mention. ``"@all"`` mentions
    everyone where the platform allows it.

    Raises:
        ValidationFailed: a required field is empty or ``link`` is not an http(s) URL.
    """

    title: str
    text: str
    idempotency_key: str
    format: Literal["markdown", "plain"] = "markdown"
    link: str | None = None
    mentions: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        problems: list[dict[str, str]] = []
        if not self.title.strip():
            problems.append({"name": "title", "reason": "must not be empty"})
        if not self.text.strip():
            problems.append({"name": "text", "reason": "must not be empty"})
        if not self.idempotency_key.strip():
            problems.append({"name": "idempotency_key", "reason": "must not be empty"})
        if self.format not in ("markdown", "plain"):
            problems.append({"name": "format", "reason": "must be 'markdown' or 'plain'"})
        if self.link is not None and not _is_http_url(self.link):
            problems.append({"name": "link", "reason": "must be an absolute http or https URL"})
        if problems:
            names = ", ".join(problem["name"] for problem in problems)
            raise ValidationFailed(f"invalid channel message: {names}", invalid_params=problems)

        # Accept any iterable (a list from JSON) but store an immutable tuple.
        object.__setattr__(self, "mentions", tuple(self.mentions))

    @property
    def phone_mentions(self) -> tuple[str, ...]:
        return tuple(mention for mention in self.mentions if is_phone_number(mention))

    @property
    def user_mentions(self) -> tuple[str, ...]:
        """Mentions that are platform user ids (everything except phone numbers and @all)."""
        return tuple(
            mention
            for mention in self.mentions
            if mention != "@all" and not is_phone_number(mention)
        )

    @property
    def mentions_all(self) -> bool:
        return "@all" in self.mentions


@dataclass(frozen=True, slots=True)
class SendResult:
    """Outcome of an accepted message.

    ``platform_code`` is the platform's own result code (``errcode`` or ``code``), or None
    for the generic webhook.
    """

    kind: str
    status_code: int
    platform_code: int | None = None
    platform_message: str | None = None


class Channel(ABC):
    """One configured destination (a robot, a bot or a webhook URL).

    Pass a shared ``client`` to reuse connections; without one, each send opens and closes
    its own ``httpx.AsyncClient``. ``timeout`` (seconds) applies to every request either
    way. ``clock`` supplies the signing timestamps.
    """

    kind: ClassVar[str]

    rate_limit_codes: ClassVar[Mapping[int, str]] = {}
    """Platform result codes that mean "too many messages", with their meaning."""

    permanent_codes: ClassVar[Mapping[int, str]] = {}
    """Platform result codes that retrying cannot fix, with their meaning."""

    def __init__(
        self,
        *,
        client: httpx.AsyncClient | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Clock = utc_now,
    ) -> None:
        self._client = client
        self._timeout = httpx.Timeout(timeout)
        self._clock = clock

    @classmethod
    @abstractmethod
    def from_config(
        cls,
        config: Mapping[str, Any],
        *,
        client: httpx.AsyncClient | None = None,
        clock: Clock = utc_now,
    ) -> Self:
        """Build the channel from its stored settings.

        Raises:
            ValidationFailed: a field is missing or invalid (named ``config.<field>``).
        """

    @abstractmethod
    async def send(self, message: ChannelMessage) -> SendResult:
        """Deliver ``message`` once.

        Raises:
            RateLimited: the platform throttled the robot; retry after a pause.
            PermanentDeliveryError: configuration or signature is wrong; do not retry.
            EndpointUnavailable: timeout, connection error or server error; retry later.
        """

    @property
    @abstractmethod
    def target(self) -> str:
        """Destination for logs and the admin view, with every secret masked."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.target}>"

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the channel clock must return a timezone-aware datetime")
        return now

    async def _post(
        self,
        url: str,
        *,
        content: bytes,
        headers: Mapping[str, str],
        idempotency_key: str,
    ) -> httpx.Response:
        """POST ``content`` and return the response whatever its status.

        Raises:
            EndpointUnavailable: the request timed out or the connection failed.
            PermanentDeliveryError: the URL cannot be used at all.
        """
        request_headers = {"Content-Type": "application/json; charset=utf-8", **headers}
        try:
            if self._client is not None:
                return await self._client.post(
                    url, content=content, headers=request_headers, timeout=self._timeout
                )
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                return await client.post(url, content=content, headers=request_headers)
        except httpx.TimeoutException as exc:
            logger.warning(
                "channel request timed out: kind=%s target=%s idempotency_key=%s",
                self.kind,
                self.target,
                idempotency_key,
            )
            raise EndpointUnavailable(f"{self.kind} request to {self.target} timed out") from exc
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise PermanentDeliveryError(
                f"{self.kind} URL {self.target} cannot be used: {type(exc).__name__}"
            ) from exc
        except httpx.TransportError as exc:
            logger.warning(
                "channel connection failed: kind=%s target=%s idempotency_key=%s error=%s",
                self.kind,
                self.target,
                idempotency_key,
                type(exc).__name__,
            )
            raise EndpointUnavailable(
                f"{self.kind} connection to {self.target} failed: {type(exc).__name__}"
            ) from exc

    async def _post_json(
        self, url: str, payload: Mapping[str, Any], *, idempotency_key: str
    ) -> httpx.Response:
        """POST ``payload`` as UTF-8 JSON (non-ASCII text unescaped) and return the response.

        Raises:
            EndpointUnavailable: the request timed out or the connection failed.
            PermanentDeliveryError: the URL cannot be used at all.
        """
        content = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        return await self._post(url, content=content, headers={}, idempotency_key=idempotency_key)

    def _raise_for_http_status(self, response: httpx.Response, *, idempotency_key: str) -> None:
        """Map a non-2xx status: 429 and 5xx are retryable, any other 4xx is permanent."""
        status = response.status_code
        if 200 <= status < 300:
            return

        logger.warning(
            "channel request rejected: kind=%s target=%s status=%s idempotency_key=%s",
            self.kind,
            self.target,
            status,
            idempotency_key,
        )
        if status == 429:
            raise RateLimited(
                f"{self.kind} target {self.target} is rate limited (HTTP 429)",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if status >= 500:
            raise EndpointUnavailable(
                f"{self.kind} target {self.target} failed with HTTP {status}",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        raise PermanentDeliveryError(
            f"{self.kind} target {self.target} rejected the message with HTTP {status}"
        )

    def _read_code(self, answer: Mapping[str, Any], field_name: str) -> int:
        """Read the platform's integer result code from its JSON response.

        Raises:
            DeliveryError: the field is missing or not an integer.
        """
        value = answer.get(field_name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise DeliveryError(
                f"{self.kind} target {self.target} returned no integer {field_name!r}"
            )
        return value

    def _check_result_code(
        self,
        body: Mapping[str, Any],
        *,
        code_field: str,
        message_field: str,
        idempotency_key: str,
    ) -> tuple[int, str]:
        """Return ``(code, message)`` from a platform's parsed JSON response when the code is 0.

        A non-zero code listed in :attr:`rate_limit_codes` raises :class:`RateLimited`, one
        in :attr:`permanent_codes` raises :class:`PermanentDeliveryError`, and any other
        raises :class:`DeliveryError`, so a new transient error of the platform is retried.
        The outbox dead-letters the message after its last attempt.

        Raises:
            DeliveryError: the code is missing, not an integer or not 0 (see above).
        """
        code = self._read_code(body, code_field)
        platform_message = str(body.get(message_field, ""))
        if code == 0:
            return code, platform_message

        logger.warning(
            "channel message rejected: kind=%s target=%s code=%s idempotency_key=%s",
            self.kind,
            self.target,
            code,
            idempotency_key,
        )
        detail = f"{self.kind} target {self.target} returned code {code} ({platform_message})"
        if code in self.rate_limit_codes:
            raise RateLimited(f"{detail}: {self.rate_limit_codes[code]}")
        if code in self.permanent_codes:
            raise PermanentDeliveryError(f"{detail}: {self.permanent_codes[code]}")
        raise DeliveryError(detail)

    def _check_json_response(
        self,
        response: httpx.Response,
        *,
        code_field: str,
        message_field: str,
        idempotency_key: str,
    ) -> tuple[int, str]:
        """Check the HTTP status, then the result code in the JSON body, and return both fields.

        The result is ``(code, message)`` read from ``code_field`` and ``message_field``.

        Raises:
            RateLimited: HTTP 429 or a code in :attr:`rate_limit_codes`.
            PermanentDeliveryError: another 4xx status or a code in :attr:`permanent_codes`.
            DeliveryError: a 5xx status, a body that is not a JSON object, or another code.
        """
        self._raise_for_http_status(response, idempotency_key=idempotency_key)
        return self._check_result_code(
            self._decode_json(response),
            code_field=code_field,
            message_field=message_field,
            idempotency_key=idempotency_key,
        )

    def _accepted(
        self,
        response: httpx.Response,
        *,
        platform_code: int,
        platform_message: str,
        idempotency_key: str,
    ) -> SendResult:
        """Log the delivery at INFO level and return its :class:`SendResult`."""
        # Use the logger of the channel's module (``confsvc.notify.channels.wecom``, ...) so
        # log levels and handlers can still be set per channel.
        logging.getLogger(type(self).__module__).info(
            "channel message sent: kind=%s target=%s idempotency_key=%s",
            self.kind,
            self.target,
            idempotency_key,
        )
        return SendResult(
            kind=self.kind,
            status_code=response.status_code,
            platform_code=platform_code,
            platform_message=platform_message,
        )

    def _decode_json(self, response: httpx.Response) -> dict[str, Any]:
        """Parse a platform's JSON response body.

        Raises:
            DeliveryError: the body is not a JSON object (a proxy error page, for example).
        """
        try:
            body = response.json()
        except ValueError as exc:
            raise DeliveryError(
                f"{self.kind} target {self.target} returned a body that is not JSON "
                f"(HTTP {response.status_code})"
            ) from exc
        if not isinstance(body, dict):
            raise DeliveryError(f"{self.kind} target {self.target} returned a non-object JSON")
        return body


def is_phone_number(value: str) -> bool:
    digits = value[1:] if value.startswith("+") else value
    return 5 <= len(digits) <= 15 and digits.isdigit()


def _is_http_url(value: str) -> bool:
    parts = urllib.parse.urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def mask_url(url: str) -> str:
    """Return ``url`` with every query value replaced by ``***`` and user info removed."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    query = "&".join(
        f"{name}={MASK}" for name, _ in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    )
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, query, ""))


def truncate_utf8(text: str, *, max_bytes: int, marker: str = "…") -> str:
    """Cut ``text`` to at most ``max_bytes`` UTF-8 bytes without splitting a character."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    budget = max_bytes - len(marker.encode("utf-8"))
    return encoded[:budget].decode("utf-8", errors="ignore") + marker


# --- keeping secrets out of httpx's request log ---------------------------------------

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_filter_installed = False


class _SecretMaskingFilter(logging.Filter):
    """Replaces registered secrets in a record's message with ``***``."""

    def filter(self, record: logging.LogRecord) -> bool:
        with _secrets_lock:
            secrets = tuple(_secrets)
        if not secrets:
            return True

        message = record.getMessage()
        masked = mask_secrets(message, secrets)
        if masked != message:
            record.msg = masked
            record.args = None
        return True


def mask_secrets(text: str, secrets: tuple[str, ...]) -> str:
    # Longer secrets first, so a secret that contains another one is masked whole.
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
        quoted = urllib.parse.quote(secret, safe="")
        if quoted != secret:
            text = text.replace(quoted, MASK)
    return text


def register_secret(secret: str) -> None:
    """Mask ``secret`` in the ``httpx`` logger's records from now on (process-wide).

    The first call adds a filter to ``logging.getLogger("httpx")``; secrets shorter than
    four characters are not registered, because masking them would mangle ordinary text.
    """
    global _filter_installed

    if len(secret) < 4:
        return
    with _secrets_lock:
        _secrets.add(secret)
        if not _filter_installed:
            logging.getLogger("httpx").addFilter(_SecretMaskingFilter())
            _filter_installed = True
