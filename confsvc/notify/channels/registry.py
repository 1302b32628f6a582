"""Channel lookup by kind, as stored in per-person and per-meeting channel settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from confsvc.errors import ValidationFailed

from .base import Channel, Clock, utc_now
from .dingtalk import DingTalkChannel
from .feishu import FeishuChannel
from .webhook import SmsWebhookChannel, WebhookChannel
from .wecom import WeComChannel

__all__ = ["CHANNEL_KINDS", "channel_for"]

_CHANNEL_CLASSES: dict[str, type[Channel]] = {
    WeComChannel.kind: WeComChannel,
    DingTalkChannel.kind: DingTalkChannel,
    FeishuChannel.kind: FeishuChannel,
    WebhookChannel.kind: WebhookChannel,
    SmsWebhookChannel.kind: SmsWebhookChannel,
}

CHANNEL_KINDS: tuple[str, ...] = tuple(sorted(_CHANNEL_CLASSES))
"""Kinds that :func:`channel_for` accepts."""


def channel_for(
    kind: str,
    *,
    config: Mapping[str, Any],
    client: httpx.AsyncClient | None = None,
    clock: Clock = utc_now,
) -> Channel:
    """Build the channel of ``kind`` from its stored ``config``.

    Opens no connection. Each kind's ``from_config`` lists its fields.

    Raises:
        ValidationFailed: ``kind`` is unknown (param ``kind``) or the config is invalid
            (params ``config.<field>``, all problems at once).
    """
    channel_class = _CHANNEL_CLASSES.get(kind)
    if channel_class is None:
        raise ValidationFailed.field(
            "kind", f"unknown channel kind {kind!r}; expected one of {', '.join(CHANNEL_KINDS)}"
        )
    if not isinstance(config, Mapping):
        raise ValidationFailed.field("config", "must be an object")
    return channel_class.from_config(config, client=client, clock=clock)
