"""HTTP middleware: a request id on every request and response, and request metrics."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from confsvc.ops.logcontext import meeting_id_var, request_id_var
from confsvc.ops.metrics import OpsMetrics

__all__ = ["REQUEST_ID_HEADER", "RequestContextMiddleware"]

REQUEST_ID_HEADER = "x-request-id"

# A caller's id is kept only when it is short and plain, so it cannot forge log lines.
_ACCEPTED_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers") or []:
        if name == REQUEST_ID_HEADER.encode():
            candidate = value.decode("latin-1").strip()
            if _ACCEPTED_REQUEST_ID.match(candidate):
                return candidate
            break
    return uuid.uuid4().hex


def _meeting_id(scope: Scope) -> str | None:
    params: dict[str, Any] = scope.get("path_params") or {}
    value = params.get("meeting_id")
    return str(value) if value is not None else None


class RequestContextMiddleware(ASGIMiddleware):
    """Sets the request id (``X-Request-ID`` when acceptable, else a new one) and the
    meeting id of the route into the log context, echoes the request id in the response
    header, and records the request in ``metrics`` (when given) under its route template.
    """

    scopes = (ScopeType.HTTP,)

    def __init__(self, metrics: OpsMetrics | None) -> None:
        self.metrics = metrics

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        request_id = _request_id(scope)
        request_token = request_id_var.set(request_id)
        meeting_token = meeting_id_var.set(_meeting_id(scope))
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [(k, v) for k, v in message.get("headers") or [] if k.lower() != REQUEST_ID_HEADER.encode()]
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await next_app(scope, receive, send_with_id)
        finally:
            if self.metrics is not None:
                handler = scope.get("route_handler")
                self.metrics.observe_request(
                    route=str(scope.get("path_template") or "<unmatched>"),
                    method=str(scope.get("method", "")),
                    status=status,
                    seconds=time.perf_counter() - started,
                    operation_id=getattr(handler, "operation_id", None) if handler is not None else None,
                )
            meeting_id_var.reset(meeting_token)
            request_id_var.reset(request_token)
