"""OpenID Connect login: authorization code flow with PKCE (S256).

1. ``GET /auth/oidc/login`` creates ``state``, ``nonce`` and a PKCE verifier, keeps them in
   a short-lived HttpOnly cookie signed with ``CONFSVC_SECRET_KEY``, and redirects to the
   provider's authorization endpoint (from its discovery document).
2. The provider redirects back to ``GET /auth/oidc/callback?code=...&state=...``. The
   state must match the cookie; the code is exchanged at the token endpoint (client
   secret sent with HTTP Basic, plus the PKCE verifier); the ID token's signature is
   checked against the provider's JWKS (RS256, PS256 or ES256 only), together with
   ``iss``, ``aud``, ``exp`` and ``nonce``.
3. The ``email`` claim (rejected when ``email_verified`` is false) names the person.

Every failure raises ``OidcError`` (401); the log line says which check failed. The
issuer must use https unless it is a loopback address.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import jwt

from confsvc.errors import ConfsvcError, NotFound
from confsvc.i18n import gettext as _
from confsvc.settings import Settings

logger = logging.getLogger(__name__)

FLOW_COOKIE = "confsvc_oidc"
FLOW_SECONDS = 600
ALLOWED_ALGORITHMS = ("RS256", "PS256", "ES256")
HTTP_TIMEOUT_SECONDS = 10.0
_LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}


class OidcError(ConfsvcError):
    """Single sign-on failed: bad state, provider error, or an ID token that fails a check."""

    status_code = 401
    title = "Unauthorized"


class OidcNotConfigured(NotFound):
    def __init__(self) -> None:
        super().__init__("OpenID Connect login", "")


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


@dataclass(frozen=True)
class OidcFlow:
    state: str
    nonce: str
    code_verifier: str
    next: str
    expires: int
    """Unix time after which the flow cookie is rejected."""


@dataclass(frozen=True)
class OidcIdentity:
    subject: str
    email: str
    name: str | None


def configured(settings: Settings) -> bool:
    security = settings.security
    return bool(security.oidc_issuer and security.oidc_client_id)


def redirect_uri(settings: Settings) -> str:
    return settings.security.oidc_redirect_uri or f"{settings.base_url}/auth/oidc/callback"


def _check_url(url: str, *, what: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS):
        return url
    logger.warning("oidc url rejected what=%s scheme=%s", what, parts.scheme)
    raise OidcError(_("single sign-on failed: the provider must use https"))


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_flow(*, next_path: str, now: float | None = None) -> OidcFlow:
    return OidcFlow(
        state=secrets.token_urlsafe(24),
        nonce=secrets.token_urlsafe(24),
        code_verifier=secrets.token_urlsafe(48),
        next=next_path,
        expires=int((now or time.time()) + FLOW_SECONDS),
    )


def pack_flow(secret_key: str, flow: OidcFlow) -> str:
    """Serialise ``flow`` for the cookie: base64 JSON plus an HMAC-SHA256 signature."""
    payload = base64.urlsafe_b64encode(json.dumps(asdict(flow), separators=(",", ":")).encode()).decode().rstrip("=")
    signature = hmac.new(secret_key.encode(), b"oidc:" + payload.encode(), hashlib.sha256).hexdigest()
    return f"{payload}.{signature}"


def unpack_flow(secret_key: str, value: str | None, *, now: float | None = None) -> OidcFlow:
    """Read the flow cookie; raise ``OidcError`` when missing, forged or expired."""
    if not value or "." not in value:
        raise OidcError(_("single sign-on failed: the login session is missing; start again"))
    payload, _sep, signature = value.rpartition(".")
    expected = hmac.new(secret_key.encode(), b"oidc:" + payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(signature, expected):
        raise OidcError(_("single sign-on failed: the login session is missing; start again"))
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        flow = OidcFlow(**data)
    except (ValueError, TypeError) as exc:
        raise OidcError(_("single sign-on failed: the login session is missing; start again")) from exc
    if flow.expires < (now or time.time()):
        raise OidcError(_("single sign-on failed: the login took too long; start again"))
    return flow


async def discover(settings: Settings, client: httpx.AsyncClient) -> ProviderMetadata:
    """Fetch the provider's discovery document and check that it names our issuer."""
    issuer = _check_url(settings.security.oidc_issuer or "", what="issuer")
    document = await _get_json(client, f"{issuer}/.well-known/openid-configuration", what="discovery")
    if str(document.get("issuer", "")).rstrip("/") != issuer.rstrip("/"):
        logger.warning("oidc discovery issuer mismatch")
        raise OidcError(_("single sign-on failed: the provider's issuer does not match the settings"))
    try:
        return ProviderMetadata(
            issuer=str(document["issuer"]),
            authorization_endpoint=_check_url(str(document["authorization_endpoint"]), what="authorization_endpoint"),
            token_endpoint=_check_url(str(document["token_endpoint"]), what="token_endpoint"),
            jwks_uri=_check_url(str(document["jwks_uri"]), what="jwks_uri"),
        )
    except KeyError as exc:
        logger.warning("oidc discovery incomplete missing=%s", exc.args[0])
        raise OidcError(_("single sign-on failed: the provider's discovery document is incomplete")) from exc


def authorization_url(metadata: ProviderMetadata, settings: Settings, flow: OidcFlow) -> str:
    query = urlencode(
        {
            "response_type": "code",
            "client_id": settings.security.oidc_client_id,
            "redirect_uri": redirect_uri(settings),
            "scope": settings.security.oidc_scopes,
            "state": flow.state,
            "nonce": flow.nonce,
            "code_challenge": pkce_challenge(flow.code_verifier),
            "code_challenge_method": "S256",
        }
    )
    separator = "&" if "?" in metadata.authorization_endpoint else "?"
    return f"{metadata.authorization_endpoint}{separator}{query}"


async def _get_json(client: httpx.AsyncClient, url: str, *, what: str) -> dict[str, Any]:
    try:
        response = await client.get(url)
        response.raise_for_status()
        data = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        logger.warning("oidc request failed what=%s error=%s", what, type(exc).__name__)
        raise OidcError(_("single sign-on failed: the provider did not respond")) from exc
    if not isinstance(data, dict):
        raise OidcError(_("single sign-on failed: the provider did not respond"))
    return data


async def exchange_code(metadata: ProviderMetadata, settings: Settings, client: httpx.AsyncClient, *, code: str, flow: OidcFlow) -> str:
    """Trade the authorization code for tokens; return the ID token (compact JWS)."""
    security = settings.security
    auth = (security.oidc_client_id or "", security.oidc_client_secret) if security.oidc_client_secret else None
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri(settings),
        "code_verifier": flow.code_verifier,
        "client_id": security.oidc_client_id or "",
    }
    try:
        response = await client.post(metadata.token_endpoint, data=form, auth=auth)  # type: ignore[arg-type]
        data = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        logger.warning("oidc token request failed error=%s", type(exc).__name__)
        raise OidcError(_("single sign-on failed: the provider did not respond")) from exc
    if response.status_code != 200 or not isinstance(data, dict) or not isinstance(data.get("id_token"), str):
        error = data.get("error") if isinstance(data, dict) else None
        logger.warning("oidc token request rejected status=%d error=%s", response.status_code, str(error)[:64])
        raise OidcError(_("single sign-on failed: the provider rejected the login"))
    return str(data["id_token"])


async def verify_id_token(
    metadata: ProviderMetadata, settings: Settings, client: httpx.AsyncClient, *, id_token: str, nonce: str
) -> OidcIdentity:
    """Check the ID token's signature and claims; return who logged in."""
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.PyJWTError as exc:
        raise OidcError(_("single sign-on failed: the ID token is invalid")) from exc
    algorithm = header.get("alg")
    if algorithm not in ALLOWED_ALGORITHMS:
        logger.warning("oidc id token algorithm rejected alg=%s", str(algorithm)[:16])
        raise OidcError(_("single sign-on failed: the ID token is invalid"))

    jwks = await _get_json(client, metadata.jwks_uri, what="jwks")
    try:
        key_set = jwt.PyJWKSet.from_dict(jwks)
    except jwt.PyJWTError as exc:
        raise OidcError(_("single sign-on failed: the provider's keys are unusable")) from exc
    kid = header.get("kid")
    keys = [key for key in key_set.keys if kid is None or key.key_id == kid]
    if not keys:
        logger.warning("oidc id token key not found")
        raise OidcError(_("single sign-on failed: the ID token is invalid"))

    try:
        claims = jwt.decode(
            id_token,
            key=keys[0].key,
            algorithms=[algorithm],
            audience=settings.security.oidc_client_id,
            issuer=metadata.issuer,
            leeway=60,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.PyJWTError as exc:
        logger.warning("oidc id token rejected reason=%s", type(exc).__name__)
        raise OidcError(_("single sign-on failed: the ID token is invalid")) from exc
    if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
        logger.warning("oidc id token nonce mismatch")
        raise OidcError(_("single sign-on failed: the ID token is invalid"))
    email = claims.get("email")
    if not isinstance(email, str) or not email or claims.get("email_verified") is False:
        logger.warning("oidc id token without verified email")
        raise OidcError(_("single sign-on failed: the provider sent no verified e-mail address"))
    name = claims.get("name")
    return OidcIdentity(subject=str(claims["sub"]), email=email.strip().lower(), name=name if isinstance(name, str) else None)


def http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS, follow_redirects=False)
