from __future__ import annotations

from litestar.testing import AsyncTestClient

from tests.conftest import Account
from tests.foundation.helpers import add_bridge


async def test_problem_detail_follows_accept_language(client: AsyncTestClient, admin: Account) -> None:
    body = {"title": "会", "starts_at": "2027-03-01T10:00:00+08:00", "ends_at": "2027-03-01T09:00:00+08:00"}
    english = await client.post("/api/v1/meetings", json=body, headers={**admin.headers, "Accept-Language": "en-US,en;q=0.9"})
    chinese = await client.post("/api/v1/meetings", json=body, headers={**admin.headers, "Accept-Language": "zh-CN,zh;q=0.9"})
    assert english.json()["detail"] == "ends_at: must be after starts_at"
    assert chinese.json()["detail"] == "ends_at: 必须晚于 starts_at"
    assert chinese.json()["invalid_params"] == [{"name": "ends_at", "reason": "必须晚于 starts_at"}]


async def test_unknown_route_and_id_are_404(client: AsyncTestClient, admin: Account) -> None:
    missing = await client.get("/api/v1/meetings/00000000-0000-0000-0000-000000000000", headers=admin.headers)
    assert missing.status_code == 404
    assert missing.json()["status"] == 404
    assert (await client.get("/api/v1/nothing", headers=admin.headers)).status_code == 404
    assert (await client.get("/api/v1/meetings/not-a-uuid", headers=admin.headers)).status_code in (400, 404)


async def test_oversized_body_is_413(client: AsyncTestClient, admin: Account) -> None:
    body = b'{"title": "' + b"x" * 2_000_000 + b'"}'
    response = await client.post("/api/v1/meetings", content=body, headers={**admin.headers, "Content-Type": "application/json"})
    assert response.status_code == 413


async def test_bridge_validation_errors(client: AsyncTestClient, admin: Account) -> None:
    cases = [
        ({"name": "A", "capacity": 5, "dial_in": [{"number": "010-12345678"}]}, "dial_in[0].number"),
        ({"name": "A", "capacity": 5, "dial_in": [{"number": "+86123"}]}, "dial_in[0].number"),
        ({"name": "A", "capacity": 5, "host_pin": "12a4"}, "host_pin"),
        ({"name": "A", "capacity": 0}, "capacity"),
        ({"name": "A", "capacity": 5, "kind": "teleport"}, "kind"),
    ]
    for body, field in cases:
        response = await client.post("/api/v1/bridges", json=body, headers=admin.headers)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["invalid_params"][0]["name"] == field
    assert (await client.get("/api/v1/bridges", headers=admin.headers)).json() == []


async def test_bridge_update_delete_and_secret_masking(client: AsyncTestClient, admin: Account, organiser: Account) -> None:
    bridge = await add_bridge(client, admin, "A", 10, kind="bigbluebutton", settings={"url": "http://127.0.0.1:1/", "secret": "s3cr3t"}, host_pin="4321")
    assert bridge["settings"]["secret"] == "***"
    assert (await client.get(f"/api/v1/bridges/{bridge['id']}", headers=organiser.headers)).json().get("host_pin") is None
    patched = await client.patch(f"/api/v1/bridges/{bridge['id']}", json={"capacity": 12, "settings": {"secret": "***", "url": "http://127.0.0.1:2/"}}, headers=admin.headers)
    assert patched.status_code == 200
    assert patched.json()["capacity"] == 12
    assert patched.json()["settings"] == {"url": "http://127.0.0.1:2/", "secret": "***"}
    assert (await client.patch(f"/api/v1/bridges/{bridge['id']}", json={"capacity": 3}, headers=organiser.headers)).status_code == 403
    deleted = await client.delete(f"/api/v1/bridges/{bridge['id']}", headers=admin.headers)
    assert deleted.status_code == 204
    assert (await client.get(f"/api/v1/bridges/{bridge['id']}", headers=admin.headers)).status_code == 404


async def test_bridge_with_future_booking_cannot_be_deleted(client: AsyncTestClient, admin: Account, organiser: Account) -> None:
    bridge = await add_bridge(client, admin, "A", 10)
    booked = await client.post(
        "/api/v1/meetings",
        json={"title": "会", "starts_at": "2027-03-01T10:00:00+08:00", "duration_minutes": 30},
        headers=organiser.headers,
    )
    assert booked.status_code == 201
    refused = await client.delete(f"/api/v1/bridges/{bridge['id']}", headers=admin.headers)
    assert refused.status_code == 409


async def test_availability_lists_busy_and_capacity(client: AsyncTestClient, admin: Account, organiser: Account) -> None:
    small = await add_bridge(client, admin, "Small", 3)
    large = await add_bridge(client, admin, "Large", 30)
    await client.post(
        "/api/v1/meetings",
        json={"title": "会", "starts_at": "2027-03-01T10:00:00+08:00", "duration_minutes": 60, "bridge_id": large["id"]},
        headers=organiser.headers,
    )
    response = await client.get(
        "/api/v1/bridges/availability",
        params={"starts_at": "2027-03-01T10:30:00+08:00", "ends_at": "2027-03-01T11:30:00+08:00", "attendees": 5},
        headers=organiser.headers,
    )
    assert response.status_code == 200, response.text
    by_name = {b["name"]: b for b in response.json()["bridges"]}
    assert by_name["Large"]["free"] is False
    assert by_name["Large"]["busy"][0]["starts_at"].startswith("2027-03-01T02:00:00")
    assert by_name["Small"]["free"] is True
    assert by_name["Small"]["fits"] is False
    assert by_name["Large"]["fits"] is True
    naive = await client.get("/api/v1/bridges/availability", params={"starts_at": "2027-03-01T10:30:00", "ends_at": "2027-03-01T11:30:00+08:00"}, headers=organiser.headers)
    assert naive.status_code == 400
    assert small["id"] in by_name["Small"]["id"]


async def test_openapi_schema_served(client: AsyncTestClient) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/meetings" in paths
    assert "/api/v1/bridges/availability" in paths
