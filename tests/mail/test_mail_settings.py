"""CONFSVC_SMTP_URL and CONFSVC_IMAP_URL parsing."""

from __future__ import annotations

import pytest

from confsvc.errors import ConfigurationError
from confsvc.notify._mailurl import client_tls_context
from confsvc.notify.imap import ImapSettings, _quote_mailbox
from confsvc.notify.mail import SmtpSettings


def test_smtp_plain_defaults() -> None:
    settings = SmtpSettings.from_url("smtp://relay.example.com")

    assert (settings.host, settings.port) == ("relay.example.com", 25)
    assert not settings.implicit_tls
    assert not settings.starttls
    assert settings.username is None
    assert settings.password is None


def test_smtp_starttls_with_percent_encoded_credentials() -> None:
    settings = SmtpSettings.from_url(
        "smtp://mailer%40corp:p%40ss%3Aw%2Frd@relay.example.com:587?starttls=true&cafile=/etc/ca.pem"
    )

    assert settings.username == "mailer@corp"
    assert settings.password == "p@ss:w/rd"
    assert settings.port == 587
    assert settings.starttls
    assert settings.cafile == "/etc/ca.pem"


def test_smtps_default_port() -> None:
    settings = SmtpSettings.from_url("smtps://u:p@relay.example.com")

    assert settings.implicit_tls
    assert settings.port == 465


def test_smtp_repr_masks_password() -> None:
    settings = SmtpSettings.from_url("smtps://mailer:TopSecret99@relay.example.com")

    assert "TopSecret99" not in repr(settings)
    assert "TopSecret99" not in str(settings)
    assert "***" in repr(settings)
    assert "mailer" in repr(settings)


@pytest.mark.parametrize(
    "url",
    [
        "http://relay.example.com",
        "smtp://",
        "smtp://relay.example.com:99999",
        "smtp://relay.example.com:abc",
        "smtp://relay.example.com?starttls=maybe",
        "smtp://relay.example.com?startls=true",
        "smtps://relay.example.com?starttls=true",
        "smtp://relay.example.com?starttls=true&starttls=false",
        "smtp://relay.example.com/path",
        "smtp://:TopSecret99@relay.example.com",
    ],
)
def test_smtp_bad_url_names_variable(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        SmtpSettings.from_url(url)

    assert "CONFSVC_SMTP_URL" in str(caught.value)
    assert "TopSecret99" not in str(caught.value)


def test_unreadable_cafile_names_variable() -> None:
    with pytest.raises(ConfigurationError) as caught:
        client_tls_context("/nonexistent/ca.pem", variable="CONFSVC_SMTP_URL")

    assert "CONFSVC_SMTP_URL" in str(caught.value)
    assert "/nonexistent/ca.pem" in str(caught.value)


def test_imap_url_parts() -> None:
    settings = ImapSettings.from_url(
        "imaps://replies%40corp:pa%24%24@imap.example.com/Scheduling%2FReplies"
        "?processed_folder=%E5%B7%B2%E5%A4%84%E7%90%86&cafile=/etc/ca.pem"
    )

    assert settings.username == "replies@corp"
    assert settings.password == "pa$$"
    assert settings.port == 993
    assert settings.mailbox == "Scheduling/Replies"
    assert settings.processed_folder == "已处理"
    assert settings.cafile == "/etc/ca.pem"
    assert "pa$$" not in repr(settings)


def test_imap_defaults() -> None:
    settings = ImapSettings.from_url("imap://u:p@imap.example.com?starttls=true")

    assert settings.port == 143
    assert settings.mailbox == "INBOX"
    assert settings.starttls
    assert settings.processed_folder is None


@pytest.mark.parametrize(
    "url",
    [
        "imap://imap.example.com/INBOX",
        "imap://user@imap.example.com/INBOX",
        "pop3://u:TopSecret99@imap.example.com",
        "imaps://u:TopSecret99@imap.example.com?starttls=true",
        "imap://u:TopSecret99@imap.example.com/INBOX?processed_folder=INBOX",
        "imap://u:TopSecret99@imap.example.com/IN%0ABOX",
        "imap://u:TopSecret99@imap.example.com?move_to=Done",
    ],
)
def test_imap_bad_url_names_variable(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        ImapSettings.from_url(url)

    assert "CONFSVC_IMAP_URL" in str(caught.value)
    assert "TopSecret99" not in str(caught.value)


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("INBOX", '"INBOX"'),
        ("~peter/mail/台北/日本語", '"~peter/mail/&U,BTFw-/&ZeVnLIqe-"'),
        ("R&D", '"R&-D"'),
        ('Say "hi"', '"Say \\"hi\\""'),
    ],
)
def test_mailbox_name_encoding(name: str, quoted: str) -> None:
    assert _quote_mailbox(name) == quoted
