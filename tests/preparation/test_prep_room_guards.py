"""Room equipment input that must be rejected without changing anything."""

from __future__ import annotations

from datetime import date, timedelta

from litestar.testing import AsyncTestClient

from tests.preparation.conftest import Cast


async def test_future_inspection_day_rejected(client: AsyncTestClient, cast: Cast) -> None:
    tomorrow = date.today() + timedelta(days=2)
    body = {"name": "第三会议室", "capacity": 8, "equipment": [{"item": "camera", "inspected_on": tomorrow.isoformat()}]}

    created = await client.post("/api/v1/rooms", json=body, headers=cast.admin.headers)
    rooms = await client.get("/api/v1/rooms", headers=cast.admin.headers)

    assert created.status_code == 400, created.text
    assert created.json()["invalid_params"][0]["name"] == "equipment[0].inspected_on"
    assert all(room["name"] != "第三会议室" for room in rooms.json())


async def test_fault_without_note_rejected(client: AsyncTestClient, cast: Cast) -> None:
    body = {"name": "第四会议室", "capacity": 8, "equipment": [{"item": "display"}]}
    room = (await client.post("/api/v1/rooms", json=body, headers=cast.admin.headers)).json()

    empty = await client.post(
        f"/api/v1/rooms/{room['id']}/equipment/display/fault", json={"note": "  "}, headers=cast.admin.headers
    )
    missing = await client.post(f"/api/v1/rooms/{room['id']}/equipment/display/fault", headers=cast.admin.headers)
    after = await client.get(f"/api/v1/rooms/{room['id']}", headers=cast.admin.headers)

    assert empty.status_code == 400, empty.text
    assert empty.json()["invalid_params"][0]["name"] == "note"
    assert missing.status_code == 400, missing.text
    assert {e["item"]: e for e in after.json()["equipment"]}["display"]["status"] == "ok"
