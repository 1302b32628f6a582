"""Generic HTTPS webhook signed with HMAC-SHA256, and an SMS gateway variant of it.

Each message is one ``POST`` of a JSON body with these headers:

- ``X-Confsvc-Timestamp``: Unix time in seconds when the message was signed;
- ``X-Confsvc-Signature``: ``sha256=`` followed by the lowercase hex HMAC-SHA256, keyed
  with the shared secret, of ``f"{timestamp}.{body}"`` (the body bytes exactly as sent);
- ``Idempotency-Key``: the same value on every retry of one message.

Any 2xx status is success; 429 and 5xx are retried; any other status is permanent.
docs/webhooks.md describes how receivers verify the signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from datetime import UTC
from typing import Any

import httpx
import phonenumbers

from confsvc.errors import PermanentDeliveryError

from ._config import ConfigReader
from .base import (
    DEFAULT_TIMEOUT,
    Channel,
    ChannelMessage,
    Clock,
    SendResult,
    mask_url,
    register_secret,
    utc_now,
)

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "SmsWebhookChannel",
    "WebhookChannel",
    "webhook_signature",
]

logger = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-Confsvc-Timestamp"
SIGNATURE_HEADER = "X-Confsvc-Signature"
MIN_SECRET_LENGTH = 16


def webhook_signature(secret: str, timestamp_s: int, body: bytes) -> str:
    """Return the ``X-Confsvc-Signature`` header value for ``body`` signed at ``timestamp_s``."""
    signed = f"{timestamp_s}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def _read_webhook_config(
    kind: str, config: Mapping[str, Any], *, extra_fields: set[str] = frozenset()
) -> tuple[ConfigReader, str, str]:
    reader = ConfigReader(kind, config, fields={"url", "secret", *extra_fields})
    url = reader.url("url")
    secret = reader.required_str("secret")
    if secret and len(secret) < MIN_SECRET_LENGTH:
        reader.fail("secret", f"must be at least {MIN_SECRET_LENGTH} characters long")
    return reader, url, secret


class WebhookChannel(Channel):
    """POSTs each message as signed JSON to one URL.

    Body fields: ``event`` (``"notification"``), ``idempotency_key``, ``title``, ``text``,
    ``format`` (``"markdown"`` or ``"plain"``), ``link`` (or null), ``mentions`` (list) and
    ``sent_at`` (ISO 8601 UTC from the clock).
    """

    kind = "webhook"

    def __init__(
        self,
        *,
        url: str,
        secret: str,
        client: httpx.AsyncClient | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(client=client, timeout=timeout, clock=clock)
        self._url = url
        self._secret = secret
        register_secret(secret)

    @classmethod
    def from_config(
        cls,
        config: Mapping[str, Any],
        *,
        client: httpx.AsyncClient | None = None,
        clock: Clock = utc_now,
    ) -> WebhookChannel:
        """Build from ``{"url", "secret", "timeout"?}``; the secret needs 16+ characters.

        Raises:
            ValidationFailed: a field is missing or invalid (named ``config.<field>``).
        """
        reader, url, secret = _read_webhook_config(cls.kind, config)
        timeout = reader.timeout()
        reader.finish()
        return cls(url=url, secret=secret, client=client, timeout=timeout, clock=clock)

    @property
    def target(self) -> str:
        return mask_url(self._url)

    def build_payload(self, message: ChannelMessage) -> dict[str, Any]:
        return {
            "event": "notification",
            "idempotency_key": message.idempotency_key,
            "title": message.title,
            "text": message.text,
            "format": message.format,
            "link": message.link,
            "mentions": list(message.mentions),
            "sent_at": self._now().astimezone(UTC).isoformat(),
        }

    async def send(self, message: ChannelMessage) -> SendResult:
        body = json.dumps(
            self.build_payload(message), ensure_ascii=False, separators=(",", ":")
        ).encode("utf-8")
        timestamp_s = int(self._now().timestamp())
        headers = {
            TIMESTAMP_HEADER: str(timestamp_s),
            SIGNATURE_HEADER: webhook_signature(self._secret, timestamp_s, body),
            "Idempotency-Key": message.idempotency_key,
        }

        response = await self._post(
            self._url, content=body, headers=headers, idempotency_key=message.idempotency_key
        )
        self._raise_for_http_status(response, idempotency_key=message.idempotency_key)

        logger.info(
            "channel message sent: kind=%s target=%s status=%s idempotency_key=%s",
            self.kind,
            self.target,
            response.status_code,
            message.idempotency_key,
        )
        return SendResult(kind=self.kind, status_code=response.status_code)


class SmsWebhookChannel(WebhookChannel):
    """Sends a text message through an SMS gateway that accepts the signed webhook.

    The body replaces the notification fields with ``event`` (``"sms"``),
    ``idempotency_key``, ``to`` (the message's phone-number mentions in E.164 form, parsed
    with ``default_region`` when they lack a country code), ``text`` (title, text and link
    on separate lines) and ``sent_at``. Other mentions are ignored.
    """

    kind = "sms"

    def __init__(
        self,
        *,
        url: str,
        secret: str,
        default_region: str = "CN",
        client: httpx.AsyncClient | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(url=url, secret=secret, client=client, timeout=timeout, clock=clock)
        self._default_region = default_region

    @classmethod
    def from_config(
        cls,
        config: Mapping[str, Any],
        *,
        client: httpx.AsyncClient | None = None,
        clock: Clock = utc_now,
    ) -> SmsWebhookChannel:
        """Build from ``{"url", "secret", "default_region"?, "timeout"?}``.

        Raises:
            ValidationFailed: a field is missing or invalid (named ``config.<field>``).
        """
        reader, url, secret = _read_webhook_config(
            cls.kind, config, extra_fields={"default_region"}
        )
        region = reader.optional_str("default_region", default="CN").upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            reader.fail("default_region", "must be an ISO 3166-1 alpha-2 region code")
        timeout = reader.timeout()
        reader.finish()
        return cls(
            url=url,
            secret=secret,
            default_region=region,
            client=client,
            timeout=timeout,
            clock=clock,
        )

    def build_payload(self, message: ChannelMessage) -> dict[str, Any]:
        """Return the SMS body.

        Raises:
            PermanentDeliveryError: the message mentions no phone number, or one is invalid.
        """
        recipients = [self._to_e164(number, message) for number in message.phone_mentions]
        if not recipients:
            raise PermanentDeliveryError(
                f"sms message {message.idempotency_key} mentions no phone number"
            )

        lines = [message.title, message.text]
        if message.link:
            lines.append(message.link)
        return {
            "event": "sms",
            "idempotency_key": message.idempotency_key,
            "to": recipients,
            "text": "\n".join(lines),
            "sent_at": self._now().astimezone(UTC).isoformat(),
        }

    def _to_e164(self, number: str, message: ChannelMessage) -> str:
        try:
            parsed = phonenumbers.parse(number, self._default_region)
        except phonenumbers.NumberParseException as exc:
            raise PermanentDeliveryError(
                f"sms message {message.idempotency_key} has an unreadable phone number"
            ) from exc
        if not phonenumbers.is_valid_number(parsed):
            # The number itself is personal data, so the message names only the message.
            raise PermanentDeliveryError(
                f"sms message {message.idempotency_key} has an invalid phone number"
            )
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
