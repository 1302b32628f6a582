from __future__ import annotations

from litestar.testing import AsyncTestClient

from tests.conftest import Account


async def test_health_answers_without_token(client: AsyncTestClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_api_rejects_missing_token(client: AsyncTestClient) -> None:
    response = await client.get("/api/v1/bridges")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 401


async def test_bridge_create_and_list(client: AsyncTestClient, admin: Account) -> None:
    response = await client.post(
        "/api/v1/bridges",
        json={"name": "Bridge A", "capacity": 10, "dial_in": [{"number": "+861012345678", "label": "北京"}], "host_pin": "1234"},
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    listed = await client.get("/api/v1/bridges", headers=admin.headers)
    assert [b["name"] for b in listed.json()] == ["Bridge A"]
