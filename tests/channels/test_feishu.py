from __future__ import annotations

import logging

import pytest
from channel_fakes import (
    FEISHU_SECRET,
    FEISHU_TOKEN,
    FIXED_NOW,
    LoopbackServer,
    feishu_expected_sign,
)

from confsvc.errors import DeliveryError, PermanentDeliveryError
from confsvc.notify.channels import ChannelMessage, FeishuChannel, RateLimited, channel_for

MESSAGE = ChannelMessage(
    title="Action item due",
    text="**Budget review** is due on 5 March",
    link="https://confsvc.example/actions/42",
    mentions=("ou_7d8a6e6df7621556ce0d21922b676706", "13800138000"),
    idempotency_key="reminder-42-2",
)


def feishu(
    server: LoopbackServer, clock, *, secret: str = FEISHU_SECRET, timeout: float = 5.0
) -> FeishuChannel:
    channel = channel_for(
        "feishu",
        config={
            "token": FEISHU_TOKEN,
            "secret": secret,
            "base_url": server.base_url,
            "timeout": timeout,
        },
        clock=clock,
    )
    assert isinstance(channel, FeishuChannel)
    return channel


async def test_feishu_signed_card_sent(feishu_server: LoopbackServer, fixed_clock) -> None:
    result = await feishu(feishu_server, fixed_clock).send(MESSAGE)

    assert result.platform_code == 0
    assert result.platform_message == "success"
    assert feishu_server.checks == ["sign ok"]
    payload = feishu_server.requests[0].json()
    timestamp = str(int(FIXED_NOW.timestamp()))
    assert payload["timestamp"] == timestamp
    assert payload["sign"] == feishu_expected_sign(timestamp, FEISHU_SECRET)
    assert payload["msg_type"] == "interactive"
    assert payload["card"]["header"]["title"]["content"] == "Action item due"
    markdown = payload["card"]["elements"][0]["content"]
    assert markdown.startswith("**Budget review** is due on 5 March")
    assert "<at id=ou_7d8a6e6df7621556ce0d21922b676706></at>" in markdown
    assert "13800138000" not in markdown


async def test_feishu_plain_text(feishu_server: LoopbackServer, fixed_clock) -> None:
    message = ChannelMessage(
        title="提醒", text="明天 9 点", format="plain", mentions=("@all",), idempotency_key="k"
    )

    await feishu(feishu_server, fixed_clock).send(message)

    payload = feishu_server.requests[0].json()
    assert payload["msg_type"] == "text"
    assert payload["content"]["text"] == '提醒\n明天 9 点\n<at user_id="all"></at>'


async def test_feishu_bad_signature_permanent(feishu_server: LoopbackServer, fixed_clock) -> None:
    channel = feishu(feishu_server, fixed_clock, secret="not-the-bot-secret")

    with pytest.raises(PermanentDeliveryError, match="19021"):
        await channel.send(MESSAGE)

    assert feishu_server.checks == ["sign mismatch"]


async def test_feishu_rate_limit_429_retryable(feishu_server: LoopbackServer, fixed_clock) -> None:
    feishu_server.mode = "rate_limit"

    with pytest.raises(RateLimited, match="429") as caught:
        await feishu(feishu_server, fixed_clock).send(MESSAGE)

    assert not isinstance(caught.value, PermanentDeliveryError)


async def test_feishu_rate_limit_code_retryable(feishu_server: LoopbackServer, fixed_clock) -> None:
    feishu_server.mode = "rate_limit_200"

    with pytest.raises(RateLimited, match="9499") as caught:
        await feishu(feishu_server, fixed_clock).send(MESSAGE)

    assert not isinstance(caught.value, PermanentDeliveryError)


async def test_feishu_timeout_retryable(feishu_server: LoopbackServer, fixed_clock) -> None:
    feishu_server.mode = "slow"

    with pytest.raises(DeliveryError, match="timed out") as caught:
        await feishu(feishu_server, fixed_clock, timeout=0.3).send(MESSAGE)

    assert not isinstance(caught.value, PermanentDeliveryError)


async def test_feishu_token_not_logged(
    feishu_server: LoopbackServer, fixed_clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    channel = feishu(feishu_server, fixed_clock)
    await channel.send(MESSAGE)

    assert "HTTP Request" in caplog.text
    assert FEISHU_TOKEN not in caplog.text
    assert FEISHU_TOKEN not in channel.target
