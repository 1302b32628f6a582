"""Fixtures for the e-mail tests: a test CA, SMTP servers (aiosmtpd) and a private dovecot.

Every server listens on 127.0.0.1 on a port chosen at run time.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller
from mail_support import (
    CapturingHandler,
    RunningDovecot,
    RunningSmtp,
    StartSmtp,
    authenticator,
    free_port,
    run_dovecot,
)

# --- TLS -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def test_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def server_cert(test_ca: trustme.CA) -> trustme.LeafCert:
    return test_ca.issue_cert("127.0.0.1", "localhost")


@pytest.fixture(scope="session")
def ca_file(test_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    test_ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(scope="session")
def server_tls_context(server_cert: trustme.LeafCert) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(context)
    return context


# --- SMTP ------------------------------------------------------------------------------


@pytest.fixture
def start_smtp(
    server_tls_context: ssl.SSLContext,
) -> Iterator[StartSmtp]:
    """Return a function that starts an aiosmtpd server; all are stopped at teardown.

    Modes: ``plain``, ``auth`` (AUTH required, over plain text), ``starttls`` (STARTTLS
    and AUTH required) and ``implicit_tls`` (TLS from the first byte, AUTH required).
    """
    controllers: list[Controller] = []

    def start(
        mode: str = "plain", *, port: int | None = None, handler: CapturingHandler | None = None
    ) -> RunningSmtp:
        handler = handler or CapturingHandler()
        port = port or free_port()
        options: dict[str, object] = {}
        if mode == "auth":
            options = {
                "authenticator": authenticator,
                "auth_required": True,
                "auth_require_tls": False,
            }
        elif mode == "starttls":
            options = {
                "tls_context": server_tls_context,
                "require_starttls": True,
                "authenticator": authenticator,
                "auth_required": True,
            }
        elif mode == "implicit_tls":
            # aiosmtpd 1.4 does not count implicit TLS as TLS for AUTH, so it would not
            # offer AUTH on this connection unless auth_require_tls is off.
            options = {
                "ssl_context": server_tls_context,
                "authenticator": authenticator,
                "auth_required": True,
                "auth_require_tls": False,
            }
        elif mode != "plain":
            raise ValueError(f"unknown SMTP test mode {mode!r}")
        controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
        controller.start()
        controllers.append(controller)
        return RunningSmtp(handler=handler, port=port)

    yield start
    for controller in controllers:
        controller.stop()


# --- IMAP (dovecot) --------------------------------------------------------------------


@pytest.fixture
def dovecot(server_cert: trustme.LeafCert) -> Iterator[RunningDovecot]:
    """Start a private dovecot (imap with STARTTLS, and imaps) with one user and no mail."""
    with run_dovecot(server_cert) as running:
        yield running
