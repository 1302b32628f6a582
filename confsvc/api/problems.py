"""RFC 9457 problem details for every error the API returns.

Domain errors, Litestar's own HTTP errors and request-validation errors all go through
``problem_response``; ``detail`` is in the request's language. Unexpected exceptions
are logged with an error id, and the client sees only that id.
"""

from __future__ import annotations

import errno
import logging
import re
import uuid
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import Empty
from litestar.utils.scope.state import ScopeState
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from confsvc.api.body_errors import body_errors, json_syntax_reason, msgspec_reason
from confsvc.errors import ConfsvcError, Conflict, NotFound, ValidationFailed
from confsvc.i18n import gettext as _

logger = logging.getLogger(__name__)

try:  # asyncpg is installed only for PostgreSQL deployments
    from asyncpg.exceptions import ConnectionDoesNotExistError, PostgresConnectionError

    _ASYNCPG_CONNECTION_ERRORS: tuple[type[Exception], ...] = (ConnectionDoesNotExistError, PostgresConnectionError)
except ImportError:
    _ASYNCPG_CONNECTION_ERRORS = ()

PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


def problem(status: int, detail: str, *, title: str | None = None, **extra: Any) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "status": status,
        "title": _(title or _TITLES.get(status, "Error")),
        "detail": detail,
    }
    body.update(extra)
    return Response(content=body, status_code=status, media_type=PROBLEM_JSON)


def _litestar_messages(exc: ValidationException) -> list[dict[str, Any]]:
    return [item for item in exc.extra if isinstance(item, dict)] if isinstance(exc.extra, list) else []


_MISSING_PARAMETER = re.compile(r"^Missing required (?:query|header|cookie|path) parameter '(?P<name>[^']+)'")


def _sent_name(request: Request[Any, Any, Any], key: str) -> str:
    """Return the name the client used for handler parameter ``key``, e.g. ``from`` for ``starts_from``."""
    parameter = request.route_handler.parsed_fn_signature.parameters.get(key)
    definition = getattr(parameter, "kwarg_definition", None)
    for alias in ("query", "header", "cookie"):
        if name := getattr(definition, alias, None):
            return str(name)
    return key


def _validation_params(request: Request[Any, Any, Any], messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Translate the messages that Litestar collected, one per invalid parameter."""
    params = []
    for item in messages:
        key = _sent_name(request, str(item.get("key") or "body"))
        # An empty body leaves the ``data`` argument unset, which Litestar reports as a KeyError.
        if item.get("key") == "data" and item.get("message") in ("'data'", "Object missing required field `data`"):
            params.append({"name": "body", "reason": _("missing: send the request body as JSON")})
            continue
        name, reason = msgspec_reason(str(item.get("message") or "invalid value"), field="body" if key == "data" else key)
        params.append({"name": name, "reason": reason})
    return params


def _body_params(request: Request[Any, Any, Any], messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Check the whole JSON body again and return every invalid field of it.

    Returns an empty list when the failure is not in a JSON body, for example in a query
    parameter or a form, so the caller keeps Litestar's messages.
    """
    if not any(item.get("source") == "body" for item in messages):
        return []
    body = ScopeState.from_scope(request.scope).json
    data = request.route_handler.parsed_fn_signature.parameters.get("data")
    if body is Empty or data is None:
        return []
    return body_errors(body, data.annotation).invalid_params


def handle_confsvc_error(request: Request[Any, Any, Any], exc: ConfsvcError) -> Response[dict[str, Any]]:
    if isinstance(exc, NotFound):
        return problem(404, _("{kind} not found", kind=_(exc.kind)), title="Not found")
    extra: dict[str, Any] = {}
    if isinstance(exc, ValidationFailed):
        extra["invalid_params"] = exc.invalid_params
    if isinstance(exc, Conflict):
        extra.update(exc.extra)
    if exc.status_code >= 500:
        return handle_unexpected(request, exc)
    logger.info("request rejected path=%s status=%d error=%s", request.url.path, exc.status_code, type(exc).__name__)
    return problem(exc.status_code, str(exc), title=exc.title, **extra)


def handle_validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    messages = _litestar_messages(exc)
    body_params = _body_params(request, messages)
    if body_params:
        params = _validation_params(request, [item for item in messages if item.get("source") != "body"]) + body_params
    else:
        params = _validation_params(request, messages)
    if not params and exc.detail:
        if missing := _MISSING_PARAMETER.match(str(exc.detail)):
            params.append({"name": missing.group("name"), "reason": _("missing: this parameter is required")})
        else:
            params.append({"name": "body", "reason": _("invalid value ({error})", error=str(exc.detail))})
    names = ", ".join(p["name"] for p in params)
    detail = _("invalid input in: {fields}", fields=names) if names else _("the request body is not valid JSON")
    return problem(400, detail, title="Invalid input", invalid_params=params)


def handle_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    status = exc.status_code
    if isinstance(exc, NotAuthorizedException):
        response = problem(401, _("missing or invalid API token; send Authorization: Bearer TOKEN"))
        response.headers["WWW-Authenticate"] = 'Bearer realm="confsvc"'
        return response
    if status == 404:
        return problem(404, _("no such resource: {path}", path=request.url.path))
    if status == 405:
        return problem(405, _("method {method} is not allowed here", method=request.method))
    if status == 413:
        return problem(413, _("the request body is too large"))
    if status >= 500:
        return handle_unexpected(request, exc)
    if status == 400:
        reason = json_syntax_reason(str(exc.detail) if exc.detail else "malformed request")
        return problem(400, _("the request body is not valid JSON: {reason}", reason=reason), invalid_params=[{"name": "body", "reason": reason}])
    detail = str(exc.detail) if exc.detail else _TITLES.get(status, "Error")
    return problem(status, _(detail))


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    error_id = uuid.uuid4().hex[:12]
    logger.exception("unexpected error error_id=%s path=%s", error_id, request.url.path, exc_info=exc)
    return problem(
        HTTP_500_INTERNAL_SERVER_ERROR,
        _("an unexpected error occurred; quote error id {error_id} when reporting it", error_id=error_id),
        error_id=error_id,
    )


# OS errors that mean "a server we depend on is unreachable or out of space", not a bug.
_UNAVAILABLE_ERRNOS = frozenset(
    {errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE, errno.EHOSTUNREACH,
     errno.ENETUNREACH, errno.ETIMEDOUT, errno.ENOSPC, errno.EDQUOT}
)
RETRY_AFTER_SECONDS = 5


def is_unavailable_error(exc: BaseException) -> bool:
    """Tell whether ``exc`` means the database (or disk) is unavailable right now.

    True for SQLAlchemy's OperationalError and InterfaceError, any DBAPIError whose
    connection was invalidated, the pool's TimeoutError, asyncpg's connection errors, and
    OS errors such as a refused or reset connection or a full disk.
    """
    if isinstance(exc, (OperationalError, InterfaceError, PoolTimeoutError)):
        return True
    if isinstance(exc, DBAPIError):
        return bool(exc.connection_invalidated)
    if _ASYNCPG_CONNECTION_ERRORS and isinstance(exc, _ASYNCPG_CONNECTION_ERRORS):
        return True
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    return isinstance(exc, OSError) and exc.errno in _UNAVAILABLE_ERRNOS


def handle_unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    """Return 503 with Retry-After for a lost database connection or a full disk; any other
    database or OS error is unexpected (500)."""
    if not is_unavailable_error(exc):
        return handle_unexpected(request, exc)
    logger.warning("service unavailable path=%s error=%s", request.url.path, type(exc).__name__)
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        detail = _("the storage is full; try again later")
    else:
        detail = _("the database is unavailable; try again later")
    response = problem(503, detail)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


exception_handlers: dict[type[Exception] | int, Any] = {
    ConfsvcError: handle_confsvc_error,
    ValidationException: handle_validation_error,
    HTTPException: handle_http_error,
    DBAPIError: handle_unavailable,
    PoolTimeoutError: handle_unavailable,
    OSError: handle_unavailable,
    **{error_class: handle_unavailable for error_class in _ASYNCPG_CONNECTION_ERRORS},
    Exception: handle_unexpected,
}
