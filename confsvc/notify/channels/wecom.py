"""WeCom (企业微信) group robot.

The robot is addressed by its key in the query string:
``POST {base_url}/cgi-bin/webhook/send?key=KEY`` with a JSON body of ``msgtype`` ``text``
or ``markdown``. The response is ``{"errcode": 0, "errmsg": "ok"}`` on success. WeCom limits a
robot to 20 messages a minute (errcode 45009) and caps text content at 2048 bytes and
markdown content at 4096 bytes.
"""

from __future__ import annotations

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
    truncate_utf8,
    utc_now,
)

__all__ = ["WeComChannel"]

DEFAULT_BASE_URL = "https://qyapi.weixin.qq.com"
TEXT_MAX_BYTES = 2048
MARKDOWN_MAX_BYTES = 4096

RATE_LIMIT_CODES = {45009: "more than 20 messages a minute for this robot"}
PERMANENT_CODES = {
    93000: "the webhook key is invalid",
    40008: "the message type is invalid",
}


class WeComChannel(Channel):
    """Sends to one WeCom group robot.

    Markdown messages mention user ids as ``<@userid>`` in the content. WeCom markdown
    cannot mention by phone number, so a message that mentions a phone number is sent as
    ``text`` with ``mentioned_mobile_list`` (its markdown source then shows as typed).
    """

    kind = "wecom"
    rate_limit_codes = RATE_LIMIT_CODES
    permanent_codes = PERMANENT_CODES

    def __init__(
        self,
        *,
        key: str,
        base_url: str = DEFAULT_BASE_URL,
        client: httpx.AsyncClient | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(client=client, timeout=timeout, clock=clock)
        self._key = key
        self._base_url = base_url.rstrip("/")
        register_secret(key)

    @classmethod
    def from_config(
        cls,
        config: Mapping[str, Any],
        *,
        client: httpx.AsyncClient | None = None,
        clock: Clock = utc_now,
    ) -> WeComChannel:
        """Build from ``{"key": ..., "base_url"?: ..., "timeout"?: seconds}``.

        Raises:
            ValidationFailed: a field is missing or invalid (named ``config.<field>``).
        """
        reader = ConfigReader(cls.kind, config, fields={"key", "base_url"})
        key = reader.required_str("key")
        base_url = reader.url("base_url", default=DEFAULT_BASE_URL)
        timeout = reader.timeout()
        reader.finish()
        return cls(key=key, base_url=base_url, client=client, timeout=timeout, clock=clock)

    @property
    def target(self) -> str:
        return f"{self._base_url}/cgi-bin/webhook/send?key=***"

    def build_payload(self, message: ChannelMessage) -> dict[str, Any]:
        """Return the JSON body WeCom expects for ``message``."""
        use_text = message.format == "plain" or bool(message.phone_mentions)
        if use_text:
            lines = [message.title, message.text]
            if message.link:
                lines.append(message.link)
            text: dict[str, Any] = {
                "content": truncate_utf8("\n".join(lines), max_bytes=TEXT_MAX_BYTES)
            }
            user_ids = list(message.user_mentions)
            phones = list(message.phone_mentions)
            if message.mentions_all:
                user_ids.append("@all")
            if user_ids:
                text["mentioned_list"] = user_ids
            if phones:
                text["mentioned_mobile_list"] = phones
            return {"msgtype": "text", "text": text}

        lines = [f"### {message.title}", message.text]
        if message.link:
            lines.append(f"[{message.link}]({message.link})")
        mentions = [f"<@{user_id}>" for user_id in message.user_mentions]
        if message.mentions_all:
            mentions.append("<@all>")
        body = "\n".join(lines)
        suffix = ("\n" + " ".join(mentions)) if mentions else ""
        # The mentions are appended after truncation, so a long text cannot cut them off.
        content = truncate_utf8(body, max_bytes=MARKDOWN_MAX_BYTES - len(suffix.encode())) + suffix
        return {"msgtype": "markdown", "markdown": {"content": content}}

    async def send(self, message: ChannelMessage) -> SendResult:
        payload = self.build_payload(message)
        url = f"{self._base_url}/cgi-bin/webhook/send?key={self._key}"
        response = await self._post_json(url, payload, idempotency_key=message.idempotency_key)
        code, platform_message = self._check_json_response(
            response,
            code_field="errcode",
            message_field="errmsg",
            idempotency_key=message.idempotency_key,
        )
        return self._accepted(
            response,
            platform_code=code,
            platform_message=platform_message,
            idempotency_key=message.idempotency_key,
        )
