"""HTTP endpoints: /auth (login, logout, OIDC), /api/v1/me, tokens, audit, admin settings."""

from __future__ import annotations

import hmac
import logging
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.di import Provide
from litestar.exceptions import PermissionDeniedException
from litestar.datastructures import ResponseHeader
from litestar.params import Parameter
from litestar.response import Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc import validation
from confsvc.api.auth import admin_only, current_person
from confsvc.api.problems import problem
from confsvc.db.models import ApiToken, AuditEvent, Person
from confsvc.errors import ValidationFailed
from confsvc.i18n import gettext as _
from confsvc.security import accounts, oidc, sessions
from confsvc.security.audit import AuditFilters, audit_csv, list_audit, record_audit
from confsvc.security.logfilter import mask_secrets
from confsvc.security.schemas import AuditRead, LoginRead, LoginRequest, MeRead, TokenCreate, TokenCreated, TokenRead
from confsvc.security.tokens import TokenService
from confsvc.settings import Settings

logger = logging.getLogger(__name__)

AUDIT_CSV_MAX_ROWS = 50_000


def client_address(request: Request[Any, Any, Any]) -> str | None:
    return request.client.host if request.client else None


def me_read(person: Person, *, authenticated_by: str) -> MeRead:
    return MeRead(
        id=person.id, email=person.email, name=person.name, roles=list(person.roles or []),
        locale=person.locale, time_zone=person.time_zone, authenticated_by=authenticated_by,  # type: ignore[arg-type]
    )


def _local_path(value: str | None) -> str | None:
    """Return ``value`` when it is a path on this site (no scheme, host or ``//``), else None."""
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    if any(ord(char) < 32 for char in value):
        return None
    return value


def _check_origin(request: Request[Any, Any, Any], settings: Settings) -> None:
    """Reject a cross-site login form post (login CSRF): a sent Origin must be ours."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return
    host = urlsplit(origin).netloc.lower()
    allowed = {urlsplit(settings.base_url).netloc.lower(), request.headers.get("host", "").lower()}
    if host not in allowed:
        logger.info("login rejected for foreign origin")
        raise PermissionDeniedException(_("cross-site login requests are not allowed"))


async def _login_request(request: Request[Any, Any, Any]) -> tuple[LoginRequest, bool]:
    """Parse a JSON or form login body; return it and whether it came from a form."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        values = {key: form.get(key) for key in ("email", "password", "next") if isinstance(form.get(key), str)}
        is_form = True
    else:
        try:
            values = msgspec.json.decode(await request.body())
        except msgspec.DecodeError as exc:
            raise ValidationFailed.field("body", _("send JSON or a form with email and password")) from exc
        is_form = False
    try:
        return msgspec.convert(values, LoginRequest), is_form
    except msgspec.ValidationError as exc:
        raise ValidationFailed.field("body", _("send JSON or a form with email and password")) from exc


async def _session_response(
    request: Request[Any, Any, Any], db_session: AsyncSession, settings: Settings, person: Person, *, method: str, next_path: str | None
) -> Response[Any]:
    token, row = await sessions.create_session(db_session, person, settings=settings, method=method, client_address=client_address(request))
    await db_session.commit()
    response: Response[Any]
    if next_path is not None:
        response = Redirect(path=next_path, status_code=303)
    else:
        body = LoginRead(
            person=me_read(person, authenticated_by="session"),
            csrf_token=sessions.csrf_token_for(settings.secret_key, token),
            expires_at=row.expires_at,
            method=method,
        )
        response = Response(body, status_code=200)
    sessions.set_session_cookies(response, token, settings=settings, expires_at=row.expires_at)
    response.headers["Cache-Control"] = "no-store"
    return response


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]

    @post("/login", operation_id="login", status_code=200)
    async def login(self, request: Request[Any, Any, Any], db_session: AsyncSession, settings: Settings) -> Response[Any]:
        """Log in with e-mail (or LDAP user name) and password; set the session cookies.

        Body: JSON ``{"email", "password"}`` or an urlencoded form with the same fields and
        an optional ``next`` (local path; the answer is then 303 to it). Returns 401 for
        wrong credentials, 429 with Retry-After while the account or address is locked.
        """
        _check_origin(request, settings)
        data, is_form = await _login_request(request)
        try:
            result = await accounts.login(
                db_session, settings, login_name=data.email, password=data.password, client_address=client_address(request)
            )
        except accounts.LoginLocked as exc:
            response = problem(429, str(exc))
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        next_path = _local_path(data.next) if is_form else None
        return await _session_response(request, db_session, settings, result.person, method=result.method, next_path=next_path)

    @post("/logout", operation_id="logout", status_code=204, response_headers=[ResponseHeader(name="Set-Cookie", documentation_only=True, description="clears both session cookies")])
    async def logout(self, request: Request[Any, Any, Any], db_session: AsyncSession, settings: Settings) -> None:
        """End the web session of the cookie and clear the cookies (CSRF token required).

        Without a session cookie there is nothing to end, and the answer is 204 as well.
        """
        token = request.cookies.get(settings.security.session_cookie)
        if token:
            live = await sessions.find_session(db_session, token)
            if live is not None:
                try:
                    await sessions.check_csrf(request, settings=settings, session_token=token)
                except sessions.CsrfRejected:
                    raise PermissionDeniedException(_("missing or invalid CSRF token; send the X-CSRF-Token header")) from None
                await sessions.revoke_session(db_session, token)
                record_audit(db_session, actor=live.person, action="logout", object_type="account", object_id=live.person_id,
                             client_address=client_address(request))
                await db_session.commit()
        # Litestar sends the cookies of a Response returned here; the None annotation keeps
        # the documented 204 answer free of a body.
        response: Response[None] = Response(None, status_code=204)
        sessions.clear_session_cookies(response, settings=settings)
        return response  # type: ignore[return-value]

    @get("/oidc/login", operation_id="oidcLogin", status_code=302)
    async def oidc_login(self, settings: Settings, next_path: str | None = Parameter(query="next", default=None, max_length=2000)) -> Response[Any]:
        """Redirect to the OpenID provider (authorization code with PKCE); 404 when not configured."""
        if not oidc.configured(settings):
            raise oidc.OidcNotConfigured()
        async with oidc.http_client() as client:
            metadata = await oidc.discover(settings, client)
        flow = oidc.new_flow(next_path=_local_path(next_path) or "/")
        response: Response[Any] = Redirect(path=oidc.authorization_url(metadata, settings, flow), status_code=302)
        response.set_cookie(
            key=oidc.FLOW_COOKIE, value=oidc.pack_flow(settings.secret_key, flow), path="/auth/oidc", max_age=oidc.FLOW_SECONDS,
            httponly=True, samesite="lax", secure=sessions.cookie_is_secure(settings),
        )
        return response

    @get("/oidc/callback", operation_id="oidcCallback", status_code=303)
    async def oidc_callback(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        settings: Settings,
        code: str | None = Parameter(default=None, max_length=4096),
        oidc_state: str | None = Parameter(query="state", default=None, max_length=512),
        error: str | None = Parameter(default=None, max_length=200),
    ) -> Response[Any]:
        """Finish the OpenID login: check state, redeem the code, verify the ID token, start a session."""
        if not oidc.configured(settings):
            raise oidc.OidcNotConfigured()
        flow = oidc.unpack_flow(settings.secret_key, request.cookies.get(oidc.FLOW_COOKIE))
        if error or not code:
            logger.info("oidc login cancelled by provider error=%s", (error or "no code")[:64])
            raise oidc.OidcError(_("single sign-on failed: the provider rejected the login"))
        if not oidc_state or not hmac.compare_digest(oidc_state, flow.state):
            logger.warning("oidc state mismatch")
            raise oidc.OidcError(_("single sign-on failed: the login session is missing; start again"))
        async with oidc.http_client() as client:
            metadata = await oidc.discover(settings, client)
            id_token = await oidc.exchange_code(metadata, settings, client, code=code, flow=flow)
            identity = await oidc.verify_id_token(metadata, settings, client, id_token=id_token, nonce=flow.nonce)
        person = await accounts.find_or_create_sso_person(db_session, settings, email=identity.email, name=identity.name)
        if person is None or not person.active:
            record_audit(db_session, actor=person, action="login.failed", object_type="account", object_id=person.id if person else None,
                         details={"login": identity.email, "method": "oidc", "reason": "unknown or inactive"},
                         client_address=client_address(request))
            await db_session.commit()
            raise oidc.OidcError(_("single sign-on failed: no active account for {email}", email=identity.email))
        record_audit(db_session, actor=person, action="login.succeeded", object_type="account", object_id=person.id,
                     details={"method": "oidc"}, client_address=client_address(request))
        response = await _session_response(request, db_session, settings, person, method="oidc", next_path=flow.next)
        response.delete_cookie(oidc.FLOW_COOKIE, path="/auth/oidc")
        return response


class MeController(Controller):
    path = "/me"
    tags = ["auth"]
    dependencies = {"caller": Provide(current_person)}

    @get(operation_id="getMe")
    async def me(self, request: Request[Any, Any, Any], caller: Person) -> MeRead:
        """Return the caller and whether a token or the session cookie authenticated them."""
        by = "token" if request.headers.get("authorization") else "session"
        return me_read(caller, authenticated_by=by)


def token_read(row: ApiToken) -> TokenRead:
    return TokenRead(
        id=row.id, person_id=row.person_id, name=row.name, prefix=row.prefix, created_at=row.created_at,
        last_used_at=row.last_used_at, revoked_at=row.revoked_at,
    )


class TokenController(Controller):
    path = "/tokens"
    tags = ["auth"]
    dependencies = {"caller": Provide(current_person)}

    @get(operation_id="listTokens")
    async def list_tokens(
        self,
        db_session: AsyncSession,
        caller: Person,
        person_id: uuid.UUID | None = Parameter(query="person", default=None),
        include_revoked: bool = Parameter(default=False),
    ) -> list[TokenRead]:
        """List the caller's tokens; an admin may pass ``person`` to list someone else's."""
        rows = await TokenService(db_session).list(caller, person_id=person_id, include_revoked=include_revoked)
        return [token_read(row) for row in rows]

    @post(operation_id="createToken", status_code=201)
    async def create_token(self, request: Request[Any, Any, Any], db_session: AsyncSession, caller: Person, data: TokenCreate) -> TokenCreated:
        """Create a token for the caller; the response is the only place the token appears."""
        row, token = await TokenService(db_session).create(caller, name=data.name)
        record_audit(db_session, actor=caller, action="token.create", object_type="api_token", object_id=row.id,
                     details={"name": row.name, "prefix": row.prefix}, client_address=client_address(request))
        await db_session.commit()
        return TokenCreated(id=row.id, person_id=row.person_id, name=row.name, prefix=row.prefix, created_at=row.created_at, token=token)

    @delete("/{token_id:uuid}", operation_id="revokeToken", status_code=204)
    async def revoke_token(self, request: Request[Any, Any, Any], db_session: AsyncSession, caller: Person, token_id: uuid.UUID) -> None:
        """Revoke one of the caller's tokens (admins: anyone's); 404 for another person's token."""
        row = await TokenService(db_session).revoke(caller, token_id)
        record_audit(db_session, actor=caller, action="token.revoke", object_type="api_token", object_id=row.id,
                     details={"owner_id": row.person_id}, client_address=client_address(request))
        await db_session.commit()


def audit_read(event: AuditEvent) -> AuditRead:
    return AuditRead(
        id=event.id, occurred_at=event.occurred_at, actor_id=event.actor_id, actor_email=event.actor_email, action=event.action,
        object_type=event.object_type, object_id=event.object_id, client_address=event.client_address, details=event.details or {},
    )


def _audit_filters(
    actor: str | None, action: str | None, object_type: str | None, object_id: str | None,
    occurred_from: datetime | None, occurred_to: datetime | None, limit: int, offset: int,
) -> AuditFilters:
    if actor:
        actor = validation.email(actor, field="actor")
    return AuditFilters(
        actor=actor, action=action, object_type=object_type, object_id=object_id,
        occurred_from=occurred_from, occurred_to=occurred_to, limit=limit, offset=offset,
    )


class AuditController(Controller):
    path = "/"
    tags = ["audit"]
    guards = [admin_only]
    dependencies = {"caller": Provide(current_person)}

    @get("/audit", operation_id="listAudit")
    async def list_audit_events(
        self,
        db_session: AsyncSession,
        actor: str | None = Parameter(default=None, max_length=320),
        action: str | None = Parameter(default=None, max_length=64),
        object_type: str | None = Parameter(default=None, max_length=64),
        object_id: str | None = Parameter(default=None, max_length=64),
        occurred_from: datetime | None = Parameter(query="from", default=None),
        occurred_to: datetime | None = Parameter(query="to", default=None),
        limit: int = Parameter(default=100, ge=1, le=1000),
        offset: int = Parameter(default=0, ge=0),
    ) -> list[AuditRead]:
        """List audit entries, newest first. ``action`` ending in a dot matches a prefix."""
        filters = _audit_filters(actor, action, object_type, object_id, occurred_from, occurred_to, limit, offset)
        return [audit_read(event) for event in await list_audit(db_session, filters)]

    @get("/audit.csv", operation_id="exportAudit", media_type="text/csv; charset=utf-8")
    async def export_audit(
        self,
        db_session: AsyncSession,
        actor: str | None = Parameter(default=None, max_length=320),
        action: str | None = Parameter(default=None, max_length=64),
        object_type: str | None = Parameter(default=None, max_length=64),
        object_id: str | None = Parameter(default=None, max_length=64),
        occurred_from: datetime | None = Parameter(query="from", default=None),
        occurred_to: datetime | None = Parameter(query="to", default=None),
        limit: int = Parameter(default=10_000, ge=1, le=AUDIT_CSV_MAX_ROWS),
    ) -> Response[str]:
        """Export matching entries as CSV (UTF-8 with BOM, formula-safe cells), newest first."""
        filters = _audit_filters(actor, action, object_type, object_id, occurred_from, occurred_to, limit, 0)
        text = "\ufeff" + audit_csv(await list_audit(db_session, filters))
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return Response(
            text, media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'},
        )


class AdminSettingsController(Controller):
    path = "/admin/settings"
    tags = ["operations"]
    guards = [admin_only]
    dependencies = {"caller": Provide(current_person)}

    @get(operation_id="getAdminSettings")
    async def effective_settings(self, settings: Settings) -> dict[str, Any]:
        """Return the effective settings, flat, with passwords, secrets, keys and tokens masked."""
        return {key: mask_secrets(value) if isinstance(value, str) else value for key, value in settings.describe().items()}
