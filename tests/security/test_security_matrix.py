"""Every operation in the OpenAPI schema against every role and a stranger.

Operations come from /schema/openapi.json, so new endpoints are covered without editing
this file. Each one must answer 401 without credentials (unless listed in
``UNAUTHENTICATED`` with a reason), admin-only ones 403 to everyone else, and no
response a stranger receives may contain the confidential meeting's title,
description, attendees or PINs.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from litestar.testing import AsyncTestClient

from tests.conftest import Account
from tests.security.conftest import HOST_PIN, PARTICIPANT_PIN, SECRET_DESCRIPTION, SECRET_TITLE, World

UNAUTHENTICATED = {
    "health": "liveness probe for load balancers; returns only a status word",
    "readiness": "readiness probe; returns only whether the database answers",
    "login": "the way to obtain credentials",
    "logout": "ends the session of the cookie if there is one; without one it does nothing",
    "oidcLogin": "starts single sign-on; redirects to the provider",
    "oidcCallback": "finishes single sign-on; the signed state cookie and the code are the credentials",
}


def is_signed_link(path: str) -> bool:
    """Pages outside /api/v1 reached from e-mailed links: the signed ``{token}`` in the path is the credential."""
    return not path.startswith("/api/") and "{token" in path
"""Operations that answer without credentials, each with the reason."""

ADMIN_ONLY = {
    "createPerson", "createBridge", "updateBridge", "deleteBridge", "listDeliveries", "retryDelivery",
    "listAudit", "exportAudit", "getAdminSettings",
}
ORGANISER_OR_ADMIN = {"createMeeting"}
NOT_ALLOWED = {403, 404}
REJECTED_INPUT = {400, 413, 415, 422}
"""Input errors answered before the access check; they carry no meeting data (checked too)."""
METHODS = ("get", "post", "put", "patch", "delete")


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                found.append((method, path, item[method]))
    return found


def fill_path(path: str, world: World, operation: dict[str, Any] | None = None) -> str:
    """Put the confidential meeting's ids into the path; other ids get a value of the declared type."""
    known = {
        "meeting_id": world.meeting["id"],
        "bridge_id": world.bridge["id"],
        "person_id": str(world.roles.admin.id),
        "recurrence_id": world.meeting["starts_at"],
    }
    types = {
        parameter["name"]: parameter.get("schema", {})
        for parameter in (operation or {}).get("parameters", [])
        if parameter.get("in") == "path"
    }

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in known:
            return known[name]
        schema = types.get(name, {})
        if schema.get("type") == "integer":
            return "1"
        if schema.get("format") == "uuid":
            return str(uuid.uuid4())
        if schema.get("format") == "date-time":
            return world.meeting["starts_at"]
        return str(uuid.uuid4())

    return re.sub(r"\{([^}:]+)(?::[^}]*)?\}", replace, path)


def required_query(operation: dict[str, Any], world: World) -> dict[str, str]:
    params: dict[str, str] = {}
    for parameter in operation.get("parameters", []):
        if parameter.get("in") != "query" or not parameter.get("required"):
            continue
        schema = parameter.get("schema", {})
        kind = schema.get("type")
        if schema.get("format") == "date-time":
            params[parameter["name"]] = world.meeting["ends_at"] if "end" in parameter["name"] else world.meeting["starts_at"]
        elif kind == "integer":
            params[parameter["name"]] = "1"
        elif kind == "boolean":
            params[parameter["name"]] = "false"
        else:
            params[parameter["name"]] = "x"
    return params


async def call(client: AsyncTestClient, method: str, url: str, operation: dict[str, Any], account: Account | None, world: World) -> Any:
    headers = dict(account.headers) if account else {}
    kwargs: dict[str, Any] = {"headers": headers, "params": required_query(operation, world)}
    if "requestBody" in operation:
        kwargs["json"] = {}
    return await client.request(method.upper(), url, **kwargs)


def assert_no_secret(body: str, *, who: str, what: str) -> None:
    for secret in (SECRET_TITLE, SECRET_DESCRIPTION, HOST_PIN, PARTICIPANT_PIN):
        assert secret not in body, f"{who} learned {secret!r} from {what}"


async def test_schema_lists_security_endpoints(client: AsyncTestClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    ids = {operation["operationId"] for _method, _path, operation in operations(schema)}
    assert {"login", "logout", "getMe", "listTokens", "createToken", "revokeToken", "listAudit", "exportAudit", "getAdminSettings"} <= ids
    assert set(UNAUTHENTICATED) <= ids


async def test_every_operation_needs_credentials(client: AsyncTestClient, world: World) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    failures = []
    checked = 0
    for method, path, operation in operations(schema):
        if operation["operationId"] in UNAUTHENTICATED or is_signed_link(path):
            continue
        url = fill_path(path, world, operation)
        response = await call(client, method, url, operation, None, world)
        if response.status_code != 401:
            failures.append(f"{method.upper()} {path} answered {response.status_code} without credentials")
        assert_no_secret(response.text, who="anonymous", what=f"{method.upper()} {path}")
        checked += 1
    assert checked >= 20
    assert failures == []


async def test_admin_only_operations_reject_others(client: AsyncTestClient, world: World) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    for method, path, operation in operations(schema):
        if operation["operationId"] not in ADMIN_ONLY:
            continue
        url = fill_path(path, world, operation)
        for name in ("organiser", "secretary", "member", "stranger"):
            response = await call(client, method, url, operation, world.roles.by_name()[name], world)
            assert response.status_code == 403, f"{name} got {response.status_code} from {method.upper()} {path}"


async def test_booking_needs_organiser_role(client: AsyncTestClient, world: World) -> None:
    body = {"title": "Weekly sync", "starts_at": "2027-03-02T09:30:00+08:00", "duration_minutes": 30}
    for name in ("secretary", "member", "stranger"):
        response = await client.post("/api/v1/meetings", json=body, headers=world.roles.by_name()[name].headers)
        assert response.status_code == 403, f"{name}: {response.text}"
    for index, name in enumerate(("organiser", "admin")):
        timed = {**body, "starts_at": f"2027-03-0{3 + index}T09:30:00+08:00"}
        response = await client.post("/api/v1/meetings", json=timed, headers=world.roles.by_name()[name].headers)
        assert response.status_code == 201, f"{name}: {response.text}"


async def test_stranger_learns_nothing_anywhere(client: AsyncTestClient, world: World) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    stranger = world.roles.stranger
    failures = []
    meeting_paths = 0
    for method, path, operation in operations(schema):
        url = fill_path(path, world, operation)
        response = await call(client, method, url, operation, stranger, world)
        what = f"{method.upper()} {path}"
        assert_no_secret(response.text, who="stranger", what=what)
        if "people" not in path:
            assert world.roles.member.email not in response.text, f"attendee list leaked by {what}"
        if response.status_code >= 500:
            failures.append(f"{what} failed with {response.status_code}")
        if "{meeting_id" in path and response.status_code not in NOT_ALLOWED | REJECTED_INPUT:
            failures.append(f"stranger got {response.status_code} from {what}")
        if "{meeting_id" in path:
            meeting_paths += 1
    assert meeting_paths >= 5
    assert failures == []


async def test_participants_see_meeting_but_not_host_pin(client: AsyncTestClient, world: World) -> None:
    url = f"/api/v1/meetings/{world.meeting['id']}"
    for name in ("member", "secretary"):
        response = await client.get(url, headers=world.roles.by_name()[name].headers)
        assert response.status_code == 200, name
        assert response.json()["title"] == SECRET_TITLE
        assert HOST_PIN not in response.text, f"{name} received the host PIN"
    organiser = await client.get(url, headers=world.roles.organiser.headers)
    assert organiser.json()["bridge"]["host_pin"] == HOST_PIN


async def test_stranger_writes_answer_404(client: AsyncTestClient, world: World) -> None:
    meeting_url = f"/api/v1/meetings/{world.meeting['id']}"
    stranger = world.roles.stranger.headers
    attempts = [
        await client.patch(meeting_url, json={"title": "renamed"}, headers=stranger),
        await client.post(f"{meeting_url}/cancel", json={"reason": "x"}, headers=stranger),
        await client.get(f"{meeting_url}/invitation.ics", headers=stranger),
        await client.get(f"{meeting_url}/proposals", headers=stranger),
    ]
    missing = await client.get(f"/api/v1/meetings/{uuid.uuid4()}", headers=stranger)
    for response in attempts:
        assert response.status_code == 404, response.text
        assert_no_secret(response.text, who="stranger", what=str(response.request.url))
        assert response.json()["detail"] == missing.json()["detail"]


async def test_invited_member_cannot_change_meeting(client: AsyncTestClient, world: World) -> None:
    response = await client.patch(f"/api/v1/meetings/{world.meeting['id']}", json={"title": "renamed"}, headers=world.roles.member.headers)
    assert response.status_code == 403
    unchanged = await client.get(f"/api/v1/meetings/{world.meeting['id']}", headers=world.roles.organiser.headers)
    assert unchanged.json()["title"] == SECRET_TITLE


async def test_stranger_itip_reply_is_unknown(client: AsyncTestClient, world: World) -> None:
    body = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\n"
        f"UID:{world.meeting['uid']}\r\nDTSTAMP:20270101T000000Z\r\nSEQUENCE:0\r\n"
        "DTSTART:20270301T013000Z\r\n"
        f"ORGANIZER:mailto:{world.roles.organiser.email}\r\n"
        f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:{world.roles.stranger.email}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    response = await client.post(
        "/api/v1/itip", content=body.encode(), headers={**world.roles.stranger.headers, "Content-Type": "text/calendar"}
    )
    assert response.status_code == 404, response.text
    assert world.meeting["id"] not in response.text
    assert_no_secret(response.text, who="stranger", what="POST /api/v1/itip")


async def test_conflict_and_availability_show_busy_only(client: AsyncTestClient, world: World) -> None:
    organiser2_body = {
        "title": "Clash", "starts_at": "2027-03-01T09:45:00+08:00", "duration_minutes": 30, "bridge_id": world.bridge["id"],
    }
    # The admin is not invited, so the conflict body must not name the confidential meeting either.
    clash = await client.post("/api/v1/meetings", json=organiser2_body, headers=world.roles.admin.headers)
    assert clash.status_code == 409
    assert clash.json()["conflicts"], clash.text
    assert_no_secret(clash.text, who="another organiser", what="409 conflict")
    availability = await client.get(
        "/api/v1/bridges/availability",
        params={"starts_at": "2027-03-01T09:00:00+08:00", "ends_at": "2027-03-01T11:00:00+08:00"},
        headers=world.roles.stranger.headers,
    )
    assert availability.status_code == 200
    busy = [slot for bridge in availability.json()["bridges"] for slot in bridge["busy"]]
    assert busy, availability.text
    assert_no_secret(availability.text, who="stranger", what="availability")


async def test_stranger_meeting_list_is_empty(client: AsyncTestClient, world: World) -> None:
    listed = await client.get("/api/v1/meetings", params={"attendee": world.roles.member.email}, headers=world.roles.stranger.headers)
    assert listed.status_code == 200
    assert listed.json() == []
    invited = await client.get("/api/v1/meetings", headers=world.roles.member.headers)
    assert [m["id"] for m in invited.json()] == [world.meeting["id"]]
