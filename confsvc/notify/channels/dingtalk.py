"""DingTalk (钉钉) custom robot with the signing ("加签") security setting.

``POST {base_url}/robot/send?access_token=TOKEN&timestamp=MS&sign=SIGN``, where ``MS`` is
the current Unix time in milliseconds and ``SIGN`` is the URL-encoded Base64 of
HMAC-SHA256 keyed with the secret over ``f"{MS}\\n{secret}"``. DingTalk rejects a timestamp
more than one hour away from its clock. The response is ``{"errcode": 0, "errmsg": "ok"}`` on
success; 310000 covers a signature mismatch, missing keywords and a blocked IP address, and
130101 means more than 20 messages a minute.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse
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

__all__ = ["DingTalkChannel", "dingtalk_sign"]

DEFAULT_BASE_URL = "https://oapi.dingtalk.com"

RATE_LIMIT_CODES = {130101: "more than 20 messages a minute for this robot"}
PERMANENT_CODES = {
    310000: "signature mismatch, keyword missing or IP address not allowed",
    300001: "the access token is invalid",
}


def dingtalk_sign(timestamp_ms: int, secret: str) -> str:
    """Return the Base64 signature (not yet URL-encoded) for ``timestamp_ms``."""
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class DingTalkChannel(Channel):
    """Sends to one DingTalk custom robot.

    Mentions: phone numbers go to ``at.atMobiles``, other ids to ``at.atUserIds``. DingTalk
    highlights a mention only when the content also contains ``@<phone or id>``, so those
    are appended to the content.
    """

    kind = "dingtalk"
    rate_limit_codes = RATE_LIMIT_CODES
    permanent_codes = PERMANENT_CODES

    def __init__(
        self,
        *,
        access_token: str,
        secret: str,
        base_url: str = DEFAULT_BASE_URL,
        client: httpx.AsyncClient | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(client=client, timeout=timeout, clock=clock)
        self._access_token = access_token
        self._secret = secret
        self._base_url = base_url.rstrip("/")
        register_secret(access_token)
        register_secret(secret)

    @classmethod
    def from_config(
        cls,
        config: Mapping[str, Any],
        *,
        client: httpx.AsyncClient | None = None,
        clock: Clock = utc_now,
    ) -> DingTalkChannel:
        """Build from ``{"access_token", "secret", "base_url"?, "timeout"?}``.

        Raises:
            ValidationFailed: a field is missing or invalid (named ``config.<field>``).
        """
        reader = ConfigReader(cls.kind, config, fields={"access_token", "secret", "base_url"})
        access_token = reader.required_str("access_token")
        secret = reader.required_str("secret")
        base_url = reader.url("base_url", default=DEFAULT_BASE_URL)
        timeout = reader.timeout()
        reader.finish()
        return cls(
            access_token=access_token,
            secret=secret,
            base_url=base_url,
            client=client,
            timeout=timeout,
            clock=clock,
        )

    @property
    def target(self) -> str:
        return f"{self._base_url}/robot/send?access_token=***"

    def build_payload(self, message: ChannelMessage) -> dict[str, Any]:
        """Return the JSON body DingTalk expects for ``message``."""
        mention_ids = [*message.phone_mentions, *message.user_mentions]
        mention_line = " ".join(f"@{mention_id}" for mention_id in mention_ids)
        at: dict[str, Any] = {
            "atMobiles": list(message.phone_mentions),
            "atUserIds": list(message.user_mentions),
            "isAtAll": message.mentions_all,
        }

        if message.format == "plain":
            lines = [message.title, message.text]
            if message.link:
                lines.append(message.link)
            if mention_line:
                lines.append(mention_line)
            return {"msgtype": "text", "text": {"content": "\n".join(lines)}, "at": at}

        lines = [f"### {message.title}", "", message.text]
        if message.link:
            lines += ["", f"[{message.link}]({message.link})"]
        if mention_line:
            lines += ["", mention_line]
        return {
            "msgtype": "markdown",
            "markdown": {"title": message.title, "text": "\n".join(lines)},
            "at": at,
        }

    def signed_url(self) -> str:
        """Return the send URL with ``timestamp`` (ms, from the clock) and ``sign``."""
        timestamp_ms = int(self._now().timestamp() * 1000)
        query = urllib.parse.urlencode(
            {
                "access_token": self._access_token,
                "timestamp": str(timestamp_ms),
                "sign": dingtalk_sign(timestamp_ms, self._secret),
            }
        )
        return f"{self._base_url}/robot/send?{query}"

    async def send(self, message: ChannelMessage) -> SendResult:
        payload = self.build_payload(message)
        response = await self._post_json(
            self.signed_url(), payload, idempotency_key=message.idempotency_key
        )
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
