"""Single sign-on: a real OpenLDAP (slapd) and a loopback OpenID Connect provider.

slapd comes from the Debian package ``slapd`` (``apt-get install slapd ldap-utils``); the
LDAP cases skip with that hint when it is missing. The OpenID provider is a small
HTTP server in a thread that serves discovery, authorize, token (with the PKCE S256
check) and JWKS, and signs RS256 ID tokens with a key made for the test.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from litestar.testing import AsyncTestClient

from confsvc.app import create_app
from confsvc.security import oidc
from confsvc.settings import SecuritySettings, Settings
from tests.security.conftest import create_accounts

SLAPD = "/usr/sbin/slapd"
LDAP_PASSWORD = "ldap-pass-7731"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- OpenLDAP --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def slapd_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not Path(SLAPD).exists() or shutil.which("ldapadd") is None:
        pytest.skip("OpenLDAP is not installed: apt-get install slapd ldap-utils")
    folder = tmp_path_factory.mktemp("slapd")
    (folder / "db").mkdir()
    config = folder / "slapd.conf"
    config.write_text(
        "include /etc/ldap/schema/core.schema\n"
        "include /etc/ldap/schema/cosine.schema\n"
        "include /etc/ldap/schema/inetorgperson.schema\n"
        "modulepath /usr/lib/ldap\nmoduleload back_mdb\n"
        f"pidfile {folder / 'slapd.pid'}\n"
        "database mdb\nmaxsize 10485760\nsuffix \"dc=example,dc=com\"\n"
        "rootdn \"cn=admin,dc=example,dc=com\"\nrootpw admin-secret\n"
        f"directory {folder / 'db'}\n"
        "access to attrs=userPassword by anonymous auth by self write by * none\n"
        "access to * by * read\n"
    )
    port = free_port()
    url = f"ldap://127.0.0.1:{port}"
    process = subprocess.Popen([SLAPD, "-f", str(config), "-h", f"{url}/", "-d", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("slapd did not start")
        ldif = (
            "dn: dc=example,dc=com\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n"
            "dn: ou=people,dc=example,dc=com\nobjectClass: organizationalUnit\nou: people\n\n"
            "dn: uid=sun.li,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: sun.li\ncn: 孙丽\nsn: Sun\n"
            f"mail: Sun.Li@example.com\nuserPassword: {LDAP_PASSWORD}\n\n"
            "dn: uid=no.account,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: no.account\ncn: Nobody\nsn: N\n"
            f"mail: no.account@example.com\nuserPassword: {LDAP_PASSWORD}\n"
        )
        subprocess.run(
            ["ldapadd", "-x", "-H", url, "-D", "cn=admin,dc=example,dc=com", "-w", "admin-secret"],
            input=ldif.encode(), check=True, capture_output=True, timeout=10,
        )
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def ldap_settings(base: Settings, url: str, **extra: Any) -> Settings:
    rules = SecuritySettings(
        ldap_url=url, ldap_bind_dn_template="uid={username},ou=people,dc=example,dc=com",
        ldap_search_base="ou=people,dc=example,dc=com", ldap_search_filter="(uid={username})", **extra,
    )
    return Settings(**{**base.__dict__, "security": rules})


async def test_ldap_login_maps_to_person(settings: Settings, slapd_url: str) -> None:
    await create_accounts(settings, [("sun.li@example.com", "孙丽", ["organiser"])])
    async with AsyncTestClient(app=create_app(ldap_settings(settings, slapd_url), start_scheduler=False)) as client:
        response = await client.post("/auth/login", json={"email": "sun.li", "password": LDAP_PASSWORD})
        assert response.status_code == 200, response.text
        assert response.json()["method"] == "ldap"
        assert response.json()["person"]["email"] == "sun.li@example.com"
        me = await client.get("/api/v1/me")
        assert me.json()["roles"] == ["organiser"]


async def test_ldap_wrong_or_empty_password(settings: Settings, slapd_url: str) -> None:
    await create_accounts(settings, [("sun.li@example.com", "孙丽", ["member"])])
    async with AsyncTestClient(app=create_app(ldap_settings(settings, slapd_url), start_scheduler=False)) as client:
        wrong = await client.post("/auth/login", json={"email": "sun.li", "password": "nope"})
        empty = await client.post("/auth/login", json={"email": "sun.li", "password": ""})
        injected = await client.post("/auth/login", json={"email": "*)(uid=*", "password": LDAP_PASSWORD})
    assert wrong.status_code == 401
    assert empty.status_code == 401
    assert injected.status_code == 401


async def test_ldap_unknown_person_needs_opt_in(settings: Settings, slapd_url: str) -> None:
    async with AsyncTestClient(app=create_app(ldap_settings(settings, slapd_url), start_scheduler=False)) as client:
        refused = await client.post("/auth/login", json={"email": "no.account", "password": LDAP_PASSWORD})
    assert refused.status_code == 401
    opt_in = ldap_settings(settings, slapd_url, sso_create_people=True)
    async with AsyncTestClient(app=create_app(opt_in, start_scheduler=False)) as client:
        created = await client.post("/auth/login", json={"email": "no.account", "password": LDAP_PASSWORD})
    assert created.status_code == 200, created.text
    assert created.json()["person"]["roles"] == ["member"]


async def test_ldap_server_down_is_plain_failure(settings: Settings) -> None:
    url = f"ldap://127.0.0.1:{free_port()}"
    async with AsyncTestClient(app=create_app(ldap_settings(settings, url, ldap_timeout_seconds=1), start_scheduler=False)) as client:
        response = await client.post("/auth/login", json={"email": "sun.li", "password": LDAP_PASSWORD})
    assert response.status_code == 401


# -- OpenID Connect --------------------------------------------------------------------------


@dataclass
class Provider:
    issuer: str
    client_id: str = "confsvc"
    client_secret: str = "oidc-client-secret"
    email: str = "zhou.min@example.com"
    nonce_override: str | None = None
    audience_override: str | None = None
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    key: Any = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_handler(provider: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            return

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path == "/.well-known/openid-configuration":
                self._json(200, {
                    "issuer": provider.issuer, "authorization_endpoint": f"{provider.issuer}/authorize",
                    "token_endpoint": f"{provider.issuer}/token", "jwks_uri": f"{provider.issuer}/jwks",
                    "response_types_supported": ["code"], "code_challenge_methods_supported": ["S256"],
                })
            elif parts.path == "/jwks":
                numbers = provider.key.public_key().public_numbers()
                jwk = {
                    "kty": "RSA", "kid": "test-key", "use": "sig", "alg": "RS256",
                    "n": _b64(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
                    "e": _b64(numbers.e.to_bytes(3, "big")),
                }
                self._json(200, {"keys": [jwk]})
            elif parts.path == "/authorize":
                query = {key: values[0] for key, values in parse_qs(parts.query).items()}
                if query.get("client_id") != provider.client_id or query.get("code_challenge_method") != "S256":
                    self._json(400, {"error": "invalid_request"})
                    return
                code = uuid.uuid4().hex
                provider.codes[code] = query
                self.send_response(302)
                self.send_header("Location", f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}")
                self.end_headers()
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = {key: values[0] for key, values in parse_qs(self.rfile.read(length).decode()).items()}
            provider.token_requests.append(form)
            expected_auth = "Basic " + base64.b64encode(f"{provider.client_id}:{provider.client_secret}".encode()).decode()
            if self.path != "/token" or self.headers.get("Authorization") != expected_auth:
                self._json(401, {"error": "invalid_client"})
                return
            request = provider.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            if request is None or request["redirect_uri"] != form.get("redirect_uri"):
                self._json(400, {"error": "invalid_grant"})
                return
            if _b64(hashlib.sha256(verifier.encode()).digest()) != request["code_challenge"]:
                self._json(400, {"error": "invalid_grant", "error_description": "PKCE verification failed"})
                return
            now = int(time.time())
            claims = {
                "iss": provider.issuer, "sub": "user-1", "aud": provider.audience_override or provider.client_id,
                "iat": now, "exp": now + 300, "nonce": provider.nonce_override or request["nonce"],
                "email": provider.email, "email_verified": True, "name": "周敏",
            }
            id_token = jwt.encode(claims, provider.key, algorithm="RS256", headers={"kid": "test-key"})
            self._json(200, {"access_token": "at", "token_type": "Bearer", "id_token": id_token})

    return Handler


@pytest.fixture(scope="module")
def rsa_key() -> Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def provider(rsa_key: Any) -> Iterator[Provider]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    issuer = f"http://127.0.0.1:{server.server_address[1]}"
    state = Provider(issuer=issuer, key=rsa_key)
    server.RequestHandlerClass = make_handler(state)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def oidc_settings(base: Settings, provider: Provider, **extra: Any) -> Settings:
    rules = SecuritySettings(
        oidc_issuer=provider.issuer, oidc_client_id=provider.client_id, oidc_client_secret=provider.client_secret, **extra
    )
    return Settings(**{**base.__dict__, "security": rules})


async def run_flow(client: AsyncTestClient, *, tamper_state: bool = False) -> Any:
    start = await client.get("/auth/oidc/login", params={"next": "/meetings"}, follow_redirects=False)
    assert start.status_code == 302, start.text
    authorize = start.headers["location"]
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"]
    assert "code_verifier" not in authorize
    async with httpx.AsyncClient() as browser:
        answer = await browser.get(authorize, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    callback = urlsplit(answer.headers["location"])
    target = f"{callback.path}?{callback.query}"
    if tamper_state:
        target = target.replace("state=", "state=x")
    return await client.get(target, follow_redirects=False)


async def test_oidc_login_creates_session(settings: Settings, provider: Provider) -> None:
    await create_accounts(settings, [(provider.email, "周敏", ["secretary"])])
    async with AsyncTestClient(app=create_app(oidc_settings(settings, provider), start_scheduler=False)) as client:
        done = await run_flow(client)
        assert done.status_code == 303, done.text
        assert done.headers["location"] == "/meetings"
        me = await client.get("/api/v1/me")
        assert me.status_code == 200
        assert me.json()["email"] == provider.email
        assert me.json()["authenticated_by"] == "session"
    request = provider.token_requests[0]
    assert request["grant_type"] == "authorization_code"
    assert len(request["code_verifier"]) >= 43


async def test_oidc_rejects_tampered_state(settings: Settings, provider: Provider) -> None:
    await create_accounts(settings, [(provider.email, "周敏", ["member"])])
    async with AsyncTestClient(app=create_app(oidc_settings(settings, provider), start_scheduler=False)) as client:
        response = await run_flow(client, tamper_state=True)
        assert response.status_code == 401
        assert (await client.get("/api/v1/me")).status_code == 401


@pytest.mark.parametrize("claim", ["nonce", "audience"])
async def test_oidc_rejects_bad_id_token(settings: Settings, provider: Provider, claim: str) -> None:
    await create_accounts(settings, [(provider.email, "周敏", ["member"])])
    if claim == "nonce":
        provider.nonce_override = "replayed-nonce"
    else:
        provider.audience_override = "another-client"
    async with AsyncTestClient(app=create_app(oidc_settings(settings, provider), start_scheduler=False)) as client:
        response = await run_flow(client)
        assert response.status_code == 401
        assert (await client.get("/api/v1/me")).status_code == 401


async def test_oidc_pkce_verifier_checked(settings: Settings, provider: Provider) -> None:
    app_settings = oidc_settings(settings, provider)
    async with httpx.AsyncClient() as http:
        metadata = await oidc.discover(app_settings, http)
        flow = oidc.new_flow(next_path="/")
        answer = await http.get(oidc.authorization_url(metadata, app_settings, flow), follow_redirects=False)
        code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
        forged = oidc.OidcFlow(state=flow.state, nonce=flow.nonce, code_verifier="x" * 64, next="/", expires=flow.expires)
        with pytest.raises(oidc.OidcError):
            await oidc.exchange_code(metadata, app_settings, http, code=code, flow=forged)


async def test_oidc_unknown_person_rejected(settings: Settings, provider: Provider) -> None:
    async with AsyncTestClient(app=create_app(oidc_settings(settings, provider), start_scheduler=False)) as client:
        response = await run_flow(client)
    assert response.status_code == 401


async def test_oidc_off_without_settings(client: AsyncTestClient) -> None:
    assert (await client.get("/auth/oidc/login", follow_redirects=False)).status_code == 404
    assert (await client.get("/auth/oidc/callback", params={"code": "x", "state": "y"})).status_code == 404


def test_oidc_flow_cookie_is_signed() -> None:
    flow = oidc.new_flow(next_path="/x")
    packed = oidc.pack_flow("key-one", flow)
    assert oidc.unpack_flow("key-one", packed) == flow
    with pytest.raises(oidc.OidcError):
        oidc.unpack_flow("key-two", packed)
    with pytest.raises(oidc.OidcError):
        oidc.unpack_flow("key-one", packed, now=flow.expires + 1)
