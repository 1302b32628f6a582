from __future__ import annotations

import logging

import httpx
import pytest
from channel_fakes import WECOM_KEY, LoopbackServer

from confsvc.errors import DeliveryError, PermanentDeliveryError
from confsvc.notify.channels import ChannelMessage, RateLimited, WeComChannel, channel_for

MESSAGE = ChannelMessage(
    title="行动项提醒",
    text="**预算复核** 截止 3 月 5 日",
    link="https://confsvc.example/actions/42",
    mentions=("zhangsan",),
    idempotency_key="reminder-42-1",
)


def wecom(server: LoopbackServer, *, key: str = WECOM_KEY, timeout: float = 5.0) -> WeComChannel:
    channel = channel_for(
        "wecom", config={"key": key, "base_url": server.base_url, "timeout": timeout}
    )
    assert isinstance(channel, WeComChannel)
    return channel


async def test_wecom_markdown_sent(wecom_server: LoopbackServer) -> None:
    result = await wecom(wecom_server).send(MESSAGE)

    assert result.platform_code == 0
    assert result.status_code == 200
    assert wecom_server.checks == ["key ok"]
    payload = wecom_server.requests[0].json()
    assert payload["msgtype"] == "markdown"
    content = payload["markdown"]["content"]
    assert content.startswith("### 行动项提醒\n**预算复核** 截止 3 月 5 日")
    assert "[https://confsvc.example/actions/42](https://confsvc.example/actions/42)" in content
    assert content.endswith("<@zhangsan>")


async def test_wecom_phone_mention_uses_text(wecom_server: LoopbackServer) -> None:
    message = ChannelMessage(
        title="会议提醒",
        text="10:00 开始",
        mentions=("13800138000", "lisi", "@all"),
        idempotency_key="k-phone",
    )

    await wecom(wecom_server).send(message)

    payload = wecom_server.requests[0].json()
    assert payload["msgtype"] == "text"
    assert payload["text"]["content"] == "会议提醒\n10:00 开始"
    assert payload["text"]["mentioned_mobile_list"] == ["13800138000"]
    assert payload["text"]["mentioned_list"] == ["lisi", "@all"]


async def test_wecom_long_markdown_truncated(wecom_server: LoopbackServer) -> None:
    message = ChannelMessage(title="纪要", text="会" * 3000, idempotency_key="k-long")

    await wecom(wecom_server).send(message)

    content = wecom_server.requests[0].json()["markdown"]["content"]
    assert len(content.encode("utf-8")) <= 4096
    assert content.endswith("…")


async def test_wecom_invalid_key_permanent(wecom_server: LoopbackServer) -> None:
    with pytest.raises(PermanentDeliveryError, match="93000"):
        await wecom(wecom_server, key="wrong-key-123").send(MESSAGE)

    assert wecom_server.checks == ["key mismatch"]


async def test_wecom_rate_limit_retryable(wecom_server: LoopbackServer) -> None:
    wecom_server.mode = "rate_limit"

    with pytest.raises(RateLimited, match="45009") as caught:
        await wecom(wecom_server).send(MESSAGE)

    assert not isinstance(caught.value, PermanentDeliveryError)
    assert isinstance(caught.value, DeliveryError)


async def test_wecom_timeout_retryable(wecom_server: LoopbackServer) -> None:
    wecom_server.mode = "slow"

    with pytest.raises(DeliveryError, match="timed out") as caught:
        await wecom(wecom_server, timeout=0.3).send(MESSAGE)

    assert not isinstance(caught.value, PermanentDeliveryError)
    assert len(wecom_server.requests) == 1


async def test_wecom_connection_refused(closed_port_url: str) -> None:
    channel = WeComChannel(key=WECOM_KEY, base_url=closed_port_url, timeout=2.0)

    with pytest.raises(DeliveryError, match="connection") as caught:
        await channel.send(MESSAGE)

    assert not isinstance(caught.value, PermanentDeliveryError)


async def test_wecom_key_never_logged(
    wecom_server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wecom_server.mode = "rate_limit"

    async with httpx.AsyncClient() as client:
        channel = WeComChannel(key=WECOM_KEY, base_url=wecom_server.base_url, client=client)
        with pytest.raises(RateLimited) as caught:
            await channel.send(MESSAGE)

    httpx_lines = [record for record in caplog.records if record.name == "httpx"]
    assert httpx_lines, "httpx should have logged the request"
    assert WECOM_KEY not in caplog.text
    assert "key=***" in caplog.text
    assert WECOM_KEY not in str(caught.value)
    assert WECOM_KEY not in repr(channel)
