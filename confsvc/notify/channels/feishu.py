"""Feishu / Lark custom bot (自定义机器人) with signature verification enabled.

``POST {base_url}/open-apis/bot/v2/hook/TOKEN`` with body fields ``timestamp`` (Unix
seconds, as a string) and ``sign``: the Base64 of HMAC-SHA256 whose *key* is
``f"{timestamp}\\n{secret}"`` and whose message is empty. Feishu rejects a timestamp more
than one hour away from its clock. The response is ``{"code": 0, "msg": "success", ...}``;
19021 means the signature or timestamp did not match and 9499 (also sent with HTTP 429)
means too many requests. Use ``https://open.larksuite.com`` as ``base_url`` for Lark.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Mapping
from typing import Any

import httpx

from ._config import ConfigReader
from .base import (
    DEFAULT_TIMEOUT,
    Channel,
    ChannelMessage,
    Clock,
    SendResult,
    register_secret,
    utc_now,
)

__all__ = ["FeishuChannel", "feishu_sign"]

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://open.feishu.cn"

RATE_LIMIT_CODES = {9499: "too many requests for this bot"}
PERMANENT_CODES = {
    19021: "signature mismatch or timestamp more than one hour off",
    19022: "IP address not allowed",
    19024: "keyword missing from the message",
}


def feishu_sign(timestamp_s: int, secret: str) -> str:
    """Return the Base64 signature for ``timestamp_s`` (Unix seconds)."""
    key = f"{timestamp_s}\n{secret}".encode()
    digest = hmac.new(key, b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class FeishuChannel(Channel):
    """Sends to one Feishu/Lark custom bot.

    Markdown messages go out as an interactive card with a markdown element, plain ones as
    ``text``. Mentions use Feishu open ids (``ou_...``) or user ids. Custom bots cannot
    mention by phone number, so phone mentions are left out and counted in a debug log line.
    """

    kind = "feishu"
    rate_limit_codes = RATE_LIMIT_CODES
    permanent_codes = PERMANENT_CODES

    def __init__(
        self,
        *,
        token: str,
        secret: str,
        base_url: str = DEFAULT_BASE_URL,
        client: httpx.AsyncClient | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(client=client, timeout=timeout, clock=clock)
        self._token = token
        self._secret = secret
        self._base_url = base_url.rstrip("/")
        register_secret(token)
        register_secret(secret)

    @classmethod
    def from_config(
        cls,
        config: Mapping[str, Any],
        *,
        client: httpx.AsyncClient | None = None,
        clock: Clock = utc_now,
    ) -> FeishuChannel:
        """Build from ``{"token", "secret", "base_url"?, "timeout"?}``.

        ``token`` is the last path segment of the bot's webhook URL.

        Raises:
            ValidationFailed: a field is missing or invalid (named ``config.<field>``).
        """
        reader = ConfigReader(cls.kind, config, fields={"token", "secret", "base_url"})
        token = reader.required_str("token")
        secret = reader.required_str("secret")
        base_url = reader.url("base_url", default=DEFAULT_BASE_URL)
        if "/" in token or "?" in token:
            reader.fail("token", "must be the last path segment of the hook URL, not the URL")
        timeout = reader.timeout()
        reader.finish()
        return cls(
            token=token,
            secret=secret,
            base_url=base_url,
            client=client,
            timeout=timeout,
            clock=clock,
        )

    @property
    def target(self) -> str:
        return f"{self._base_url}/open-apis/bot/v2/hook/***"

    def build_payload(self, message: ChannelMessage) -> dict[str, Any]:
        """Return the JSON body for ``message`` without ``timestamp`` and ``sign``."""
        if message.phone_mentions:
            logger.debug(
                "feishu cannot mention phone numbers: skipped=%d idempotency_key=%s",
                len(message.phone_mentions),
                message.idempotency_key,
            )

        if message.format == "plain":
            lines = [message.title, message.text]
            if message.link:
                lines.append(message.link)
            mentions = [f'<at user_id="{user_id}"></at>' for user_id in message.user_mentions]
            if message.mentions_all:
                mentions.append('<at user_id="all"></at>')
            if mentions:
                lines.append(" ".join(mentions))
            return {"msg_type": "text", "content": {"text": "\n".join(lines)}}

        lines = [message.text]
        if message.link:
            lines.append(f"[{message.link}]({message.link})")
        mentions = [f"<at id={user_id}></at>" for user_id in message.user_mentions]
        if message.mentions_all:
            mentions.append("<at id=all></at>")
        if mentions:
            lines.append(" ".join(mentions))
        return {
            "msg_type": "interactive",
            "card": {
                "header": {"title": {"tag": "plain_text", "content": message.title}},
                "elements": [{"tag": "markdown", "content": "\n".join(lines)}],
            },
        }

    def _check_answer(self, response: httpx.Response, idempotency_key: str) -> tuple[int, str]:
        """Return ``(code, msg)`` of an accepted message or raise the matching error.

        Feishu reports most errors with HTTP 200 and a non-zero ``code``, but a rate limit
        comes with HTTP 429, whose body may be missing. Older bots respond with
        ``StatusCode``/``StatusMessage`` instead of ``code``/``msg``.
        """
        if response.status_code == 429:
            self._raise_for_http_status(response, idempotency_key=idempotency_key)

        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or not ({"code", "StatusCode"} & answer.keys()):
            self._raise_for_http_status(response, idempotency_key=idempotency_key)
            answer = self._decode_json(response)

        code_field, message_field = (
            ("code", "msg")
            if "code" in answer
            else (
                "StatusCode",
                "StatusMessage",
            )
        )
        code, platform_message = self._check_result_code(
            answer,
            code_field=code_field,
            message_field=message_field,
            idempotency_key=idempotency_key,
        )
        self._raise_for_http_status(response, idempotency_key=idempotency_key)
        return code, platform_message

    async def send(self, message: ChannelMessage) -> SendResult:
        timestamp_s = int(self._now().timestamp())
        payload = {
            "timestamp": str(timestamp_s),
            "sign": feishu_sign(timestamp_s, self._secret),
            **self.build_payload(message),
        }
        response = await self._post_json(
            f"{self._base_url}/open-apis/bot/v2/hook/{self._token}",
            payload,
            idempotency_key=message.idempotency_key,
        )
        code, platform_message = self._check_answer(response, message.idempotency_key)
        return self._accepted(
            response,
            platform_code=code,
            platform_message=platform_message,
            idempotency_key=message.idempotency_key,
        )
