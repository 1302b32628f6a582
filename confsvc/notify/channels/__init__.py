"""Notification channels: WeCom, DingTalk, Feishu/Lark, signed webhook and SMS webhook."""

from .base import Channel, ChannelMessage, RateLimited, SendResult
from .dingtalk import DingTalkChannel
from .feishu import FeishuChannel
from .registry import CHANNEL_KINDS, channel_for
from .webhook import SmsWebhookChannel, WebhookChannel
from .wecom import WeComChannel

__all__ = [
    "CHANNEL_KINDS",
    "Channel",
    "ChannelMessage",
    "DingTalkChannel",
    "FeishuChannel",
    "RateLimited",
    "SendResult",
    "SmsWebhookChannel",
    "WeComChannel",
    "WebhookChannel",
    "channel_for",
]
