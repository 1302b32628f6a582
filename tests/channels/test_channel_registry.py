from __future__ import annotations

import pytest

from confsvc.errors import ValidationFailed
from confsvc.notify.channels import CHANNEL_KINDS, ChannelMessage, channel_for


def invalid_names(error: ValidationFailed) -> list[str]:
    return [param["name"] for param in error.invalid_params]


@pytest.mark.parametrize(
    ("kind", "missing"),
    [
        ("wecom", ["config.key"]),
        ("dingtalk", ["config.access_token", "config.secret"]),
        ("feishu", ["config.token", "config.secret"]),
        ("webhook", ["config.url", "config.secret"]),
        ("sms", ["config.url", "config.secret"]),
    ],
)
def test_registry_names_missing_fields(kind: str, missing: list[str]) -> None:
    with pytest.raises(ValidationFailed) as caught:
        channel_for(kind, config={})

    assert invalid_names(caught.value) == missing


def test_registry_unknown_kind() -> None:
    with pytest.raises(ValidationFailed) as caught:
        channel_for("telegram", config={})

    assert invalid_names(caught.value) == ["kind"]
    assert "wecom" in str(caught.value)


def test_registry_collects_every_problem() -> None:
    config = {"url": "ftp://hooks.example/x", "secret": "short", "timeout": 0, "sekret": "x"}

    with pytest.raises(ValidationFailed) as caught:
        channel_for("webhook", config=config)

    assert sorted(invalid_names(caught.value)) == [
        "config.secret",
        "config.sekret",
        "config.timeout",
        "config.url",
    ]
    assert "short" not in str(caught.value)


def test_registry_feishu_token_not_url() -> None:
    config = {"token": "https://open.feishu.cn/open-apis/bot/v2/hook/abc", "secret": "s3cret"}

    with pytest.raises(ValidationFailed) as caught:
        channel_for("feishu", config=config)

    assert invalid_names(caught.value) == ["config.token"]


def test_registry_builds_every_kind() -> None:
    configs = {
        "wecom": {"key": "k-0001"},
        "dingtalk": {"access_token": "t-0001", "secret": "SEC0001"},
        "feishu": {"token": "t-0002", "secret": "s-0002"},
        "webhook": {"url": "https://hooks.example/confsvc", "secret": "0123456789abcdef"},
        "sms": {"url": "https://sms.example/send", "secret": "0123456789abcdef"},
    }

    kinds = [channel_for(kind, config=configs[kind]).kind for kind in CHANNEL_KINDS]

    assert kinds == list(CHANNEL_KINDS)


def test_webhook_target_masks_query() -> None:
    channel = channel_for(
        "webhook",
        config={"url": "https://hooks.example/in?token=abc123&x=1", "secret": "0123456789abcdef"},
    )

    assert channel.target == "https://hooks.example/in?token=***&x=***"


def test_message_rejects_bad_fields() -> None:
    with pytest.raises(ValidationFailed) as caught:
        ChannelMessage(title=" ", text="x", link="javascript:alert(1)", idempotency_key="")

    assert invalid_names(caught.value) == ["title", "idempotency_key", "link"]
