from __future__ import annotations

import logging
import urllib.parse
from datetime import timedelta

import pytest
from channel_fakes import (
    DINGTALK_SECRET,
    DINGTALK_TOKEN,
    FIXED_NOW,
    LoopbackServer,
    dingtalk_expected_sign,
)

from confsvc.errors import DeliveryError, PermanentDeliveryError
from confsvc.notify.channels import ChannelMessage, DingTalkChannel, RateLimited, channel_for

MESSAGE = ChannelMessage(
    title="会议纪要待审批",
    text="请在 **周五** 前审批",
    link="https://confsvc.example/minutes/7",
    mentions=("13800138000", "user-0042"),
    idempotency_key="minutes-7-approval",
)


def dingtalk(
    server: LoopbackServer, clock, *, secret: str = DINGTALK_SECRET, timeout: float = 5.0
) -> DingTalkChannel:
    channel = channel_for(
        "dingtalk",
        config={
            "access_token": DINGTALK_TOKEN,
            "secret": secret,
            "base_url": server.base_url,
            "timeout": timeout,
        },
        clock=clock,
    )
    assert isinstance(channel, DingTalkChannel)
    return channel


async def test_dingtalk_signed_markdown_sent(dingtalk_server: LoopbackServer, fixed_clock) -> None:
    result = await dingtalk(dingtalk_server, fixed_clock).send(MESSAGE)

    assert result.platform_code == 0
    assert dingtalk_server.checks == ["sign ok"]
    request = dingtalk_server.requests[0]
    timestamp = int(FIXED_NOW.timestamp() * 1000)
    assert request.query["timestamp"] == [str(timestamp)]
    assert request.query["sign"] == [dingtalk_expected_sign(str(timestamp), DINGTALK_SECRET)]

    payload = request.json()
    assert payload["msgtype"] == "markdown"
    assert payload["markdown"]["title"] == "会议纪要待审批"
    assert "请在 **周五** 前审批" in payload["markdown"]["text"]
    assert "@13800138000 @user-0042" in payload["markdown"]["text"]
    assert payload["at"] == {
        "atMobiles": ["13800138000"],
        "atUserIds": ["user-0042"],
        "isAtAll": False,
    }


async def test_dingtalk_sign_is_url_encoded(dingtalk_server: LoopbackServer, fixed_clock) -> None:
    channel = dingtalk(dingtalk_server, fixed_clock)

    raw_query = urllib.parse.urlsplit(channel.signed_url()).query

    sign = dingtalk_expected_sign(str(int(FIXED_NOW.timestamp() * 1000)), DINGTALK_SECRET)
    assert f"sign={urllib.parse.quote_plus(sign)}" in raw_query.split("&")


async def test_dingtalk_plain_text(dingtalk_server: LoopbackServer, fixed_clock) -> None:
    message = ChannelMessage(
        title="提醒", text="明天 9 点", format="plain", mentions=("@all",), idempotency_key="k"
    )

    await dingtalk(dingtalk_server, fixed_clock).send(message)

    payload = dingtalk_server.requests[0].json()
    assert payload["msgtype"] == "text"
    assert payload["text"]["content"] == "提醒\n明天 9 点"
    assert payload["at"]["isAtAll"] is True


async def test_dingtalk_bad_signature_permanent(
    dingtalk_server: LoopbackServer, fixed_clock
) -> None:
    channel = dingtalk(dingtalk_server, fixed_clock, secret="SECnot-the-robot-secret")

    with pytest.raises(PermanentDeliveryError, match="310000"):
        await channel.send(MESSAGE)

    assert dingtalk_server.checks == ["sign mismatch"]


async def test_dingtalk_stale_timestamp_rejected(dingtalk_server: LoopbackServer) -> None:
    two_hours_early = FIXED_NOW - timedelta(hours=2)
    channel = dingtalk(dingtalk_server, lambda: two_hours_early)

    with pytest.raises(PermanentDeliveryError):
        await channel.send(MESSAGE)

    assert dingtalk_server.checks == ["sign mismatch"]


async def test_dingtalk_rate_limit_retryable(dingtalk_server: LoopbackServer, fixed_clock) -> None:
    dingtalk_server.mode = "rate_limit"

    with pytest.raises(RateLimited, match="130101") as caught:
        await dingtalk(dingtalk_server, fixed_clock).send(MESSAGE)

    assert not isinstance(caught.value, PermanentDeliveryError)
    assert dingtalk_server.checks == ["sign ok"]


async def test_dingtalk_timeout_retryable(dingtalk_server: LoopbackServer, fixed_clock) -> None:
    dingtalk_server.mode = "slow"

    with pytest.raises(DeliveryError, match="timed out") as caught:
        await dingtalk(dingtalk_server, fixed_clock, timeout=0.3).send(MESSAGE)

    assert not isinstance(caught.value, PermanentDeliveryError)


async def test_dingtalk_secrets_not_logged(
    dingtalk_server: LoopbackServer, fixed_clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    await dingtalk(dingtalk_server, fixed_clock).send(MESSAGE)

    assert "HTTP Request" in caplog.text
    assert DINGTALK_TOKEN not in caplog.text
    assert DINGTALK_SECRET not in caplog.text
