from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from tests.conftest import Account


async def add_bridge(client: AsyncTestClient, admin: Account, name: str, capacity: int, **extra: Any) -> dict[str, Any]:
    body = {"name": name, "capacity": capacity, "dial_in": [{"number": "+861012345678", "label": "北京"}]}
    body.update(extra)
    response = await client.post("/api/v1/bridges", json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    return response.json()


def meeting_body(starts_at: str, ends_at: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "季度经营分析会",
        "starts_at": starts_at,
        "ends_at": ends_at,
        "attendees": [{"email": "li.na@example.com", "name": "李娜"}],
    }
    body.update(extra)
    return body
