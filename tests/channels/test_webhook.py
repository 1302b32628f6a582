from __future__ import annotations

import hashlib
import hmac

import httpx
import pytest
from channel_fakes import FIXED_NOW, WEBHOOK_SECRET, LoopbackServer

from confsvc.errors import DeliveryError, PermanentDeliveryError
from confsvc.notify.channels import (
    ChannelMessage,
    RateLimited,
    SmsWebhookChannel,
    WebhookChannel,
    channel_for,
)

MESSAGE = ChannelMessage(
    title="Meeting moved",
    text="The budget review now starts at 10:00 (Asia/Shanghai).",
    link="https://confsvc.example/meetings/9",
    mentions=("alice",),
    idempotency_key="meeting-9-moved-3",
)


def webhook(server: LoopbackServer, clock, *, secret: str = WEBHOOK_SECRET) -> WebhookChannel:
    channel = channel_for(
        "webhook",
        config={"url": f"{server.base_url}/hooks/confsvc?tenant=acme", "secret": secret},
        clock=clock,
    )
    assert isinstance(channel, WebhookChannel)
    return channel


async def test_webhook_signed_body_sent(webhook_server: LoopbackServer, fixed_clock) -> None:
    result = await webhook(webhook_server, fixed_clock).send(MESSAGE)

    assert result.status_code == 204
    assert webhook_server.checks == ["sign ok"]
    request = webhook_server.requests[0]
    assert request.path == "/hooks/confsvc"
    assert request.query == {"tenant": ["acme"]}
    assert request.headers["idempotency-key"] == "meeting-9-moved-3"
    assert request.headers["x-confsvc-timestamp"] == str(int(FIXED_NOW.timestamp()))
    signed = request.headers["x-confsvc-timestamp"].encode() + b"." + request.body
    expected = hmac.new(WEBHOOK_SECRET.encode(), signed, hashlib.sha256).hexdigest()
    assert request.headers["x-confsvc-signature"] == f"sha256={expected}"
    assert request.json() == {
        "event": "notification",
        "idempotency_key": "meeting-9-moved-3",
        "title": "Meeting moved",
        "text": "The budget review now starts at 10:00 (Asia/Shanghai).",
        "format": "markdown",
        "link": "https://confsvc.example/meetings/9",
        "mentions": ["alice"],
        "sent_at": "2026-03-02T01:30:15.250000+00:00",
    }


async def test_webhook_retry_same_key(webhook_server: LoopbackServer, fixed_clock) -> None:
    channel = webhook(webhook_server, fixed_clock)

    await channel.send(MESSAGE)
    await channel.send(MESSAGE)

    keys = [request.headers["idempotency-key"] for request in webhook_server.requests]
    assert keys == ["meeting-9-moved-3", "meeting-9-moved-3"]
    assert webhook_server.requests[0].body == webhook_server.requests[1].body


async def test_webhook_bad_signature_permanent(webhook_server: LoopbackServer, fixed_clock) -> None:
    channel = webhook(webhook_server, fixed_clock, secret="another-secret-0123456789")

    with pytest.raises(PermanentDeliveryError, match="HTTP 401"):
        await channel.send(MESSAGE)

    assert webhook_server.checks == ["sign mismatch"]


async def test_webhook_rate_limit_retry_after(webhook_server: LoopbackServer, fixed_clock) -> None:
    webhook_server.mode = "rate_limit"

    with pytest.raises(RateLimited) as caught:
        await webhook(webhook_server, fixed_clock).send(MESSAGE)

    assert caught.value.retry_after == 30.0
    assert not isinstance(caught.value, PermanentDeliveryError)


@pytest.mark.parametrize(
    ("mode", "permanent"), [("server_error", False), ("gone", True)], ids=["503", "410"]
)
async def test_webhook_status_mapping(
    webhook_server: LoopbackServer, fixed_clock, mode: str, permanent: bool
) -> None:
    webhook_server.mode = mode

    with pytest.raises(DeliveryError) as caught:
        await webhook(webhook_server, fixed_clock).send(MESSAGE)

    assert isinstance(caught.value, PermanentDeliveryError) is permanent


async def test_webhook_timeout_shared_client(webhook_server: LoopbackServer, fixed_clock) -> None:
    webhook_server.mode = "slow"

    async with httpx.AsyncClient() as client:
        channel = WebhookChannel(
            url=webhook_server.base_url,
            secret=WEBHOOK_SECRET,
            client=client,
            timeout=0.3,
            clock=fixed_clock,
        )
        with pytest.raises(DeliveryError, match="timed out") as caught:
            await channel.send(MESSAGE)

    assert not isinstance(caught.value, PermanentDeliveryError)


async def test_sms_webhook_e164_recipients(webhook_server: LoopbackServer, fixed_clock) -> None:
    channel = channel_for(
        "sms",
        config={"url": webhook_server.base_url, "secret": WEBHOOK_SECRET},
        clock=fixed_clock,
    )
    assert isinstance(channel, SmsWebhookChannel)
    message = ChannelMessage(
        title="逾期升级",
        text="行动项 42 已逾期 3 个工作日",
        mentions=("13800138000", "+8613900139000", "wangwu"),
        idempotency_key="escalate-42",
    )

    await channel.send(message)

    assert webhook_server.checks == ["sign ok"]
    payload = webhook_server.requests[0].json()
    assert payload["event"] == "sms"
    assert payload["to"] == ["+8613800138000", "+8613900139000"]
    assert payload["text"] == "逾期升级\n行动项 42 已逾期 3 个工作日"


async def test_sms_without_phone_permanent(webhook_server: LoopbackServer, fixed_clock) -> None:
    channel = SmsWebhookChannel(url=webhook_server.base_url, secret=WEBHOOK_SECRET)
    message = ChannelMessage(title="t", text="x", mentions=("wangwu",), idempotency_key="k")

    with pytest.raises(PermanentDeliveryError, match="no phone number"):
        await channel.send(message)

    assert webhook_server.requests == []
