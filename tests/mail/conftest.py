"""Fixtures for the e-mail tests: a test CA, SMTP servers (aiosmtpd) and a private dovecot.

Every server listens on 127.0.0.1 on a port chosen at run time.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller
from mail_support import (
    IMAP_PASSWORD,
    IMAP_USER,
    CapturingHandler,
    RunningDovecot,
    RunningSmtp,
    StartSmtp,
    authenticator,
    free_port,
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


def _dovecot_config(root: Path, *, imap_port: int, imaps_port: int) -> str:
    return f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = root
default_internal_group = root
default_login_user = dovenull
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
"""


def _wait_for_port(port: int, *, process: subprocess.Popen[bytes], deadline_s: float) -> bool:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                if sock.recv(5).startswith(b"* OK"):
                    return True
        except OSError:
            time.sleep(0.05)
    return False


@pytest.fixture
def dovecot(server_cert: trustme.LeafCert) -> Iterator[RunningDovecot]:
    """Start a private dovecot (imap with STARTTLS, and imaps) with one user and no mail.

    Needs the Debian package dovecot-imapd and root, because dovecot switches to the
    ``dovecot`` and ``dovenull`` users that the package creates.
    """
    binary = shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None
    )
    if binary is None:
        pytest.skip("dovecot is not installed (Debian package dovecot-imapd)")
    if os.geteuid() != 0:
        pytest.skip("the private dovecot instance needs root to switch users")
    try:
        mail_user = pwd.getpwnam("dovecot")
        pwd.getpwnam("dovenull")
    except KeyError:
        pytest.skip("the dovecot and dovenull users are missing (Debian package dovecot-core)")

    # Not pytest's tmp_path: its parents are mode 0700, which the dovenull login process
    # cannot traverse.
    root = Path(tempfile.mkdtemp(prefix="confsvc-dovecot-"))
    root.chmod(0o755)
    for sub in ("run", "state", "mail", "home"):
        (root / sub).mkdir()
    os.chown(root / "mail", mail_user.pw_uid, mail_user.pw_gid)
    os.chown(root / "home", mail_user.pw_uid, mail_user.pw_gid)
    (root / "passwd").write_text(f"{IMAP_USER}:{{PLAIN}}{IMAP_PASSWORD}\n")
    server_cert.cert_chain_pems[0].write_to_path(str(root / "cert.pem"))
    server_cert.private_key_pem.write_to_path(str(root / "key.pem"))
    imap_port, imaps_port = free_port(), free_port()
    config = root / "dovecot.conf"
    config.write_text(_dovecot_config(root, imap_port=imap_port, imaps_port=imaps_port))

    process = subprocess.Popen(
        [binary, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    running = RunningDovecot(
        host="127.0.0.1", imap_port=imap_port, imaps_port=imaps_port, log_path=root / "dovecot.log"
    )
    try:
        if not _wait_for_port(imap_port, process=process, deadline_s=15):
            process.terminate()
            _out, err = process.communicate(timeout=10)
            pytest.fail(
                f"dovecot did not start:\n{err.decode(errors='replace')}\n{running.log_text()}"
            )
        yield running
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if process.stderr is not None:
            process.stderr.close()
        shutil.rmtree(root, ignore_errors=True)
