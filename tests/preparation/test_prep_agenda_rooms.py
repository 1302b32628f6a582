from __future__ import annotations

from litestar.testing import AsyncTestClient

from confsvc.settings import Settings
from tests.preparation.conftest import Cast, add_static_bridge, book_meeting, future_start, outbox_rows, set_partstat


async def test_agenda_overrun_warns_and_resends(client: AsyncTestClient, settings: Settings, cast: Cast) -> None:
    await add_static_bridge(client, cast.admin)
    meeting = await book_meeting(client, cast, starts_at=future_start(), minutes=45)
    mid = meeting["id"]
    await set_partstat(settings, mid, cast.attendee.email, "ACCEPTED")
    invitations_before = await outbox_rows(settings, prefix="email:REQUEST:")

    body = {
        "items": [
            {"title": "经营数据回顾", "presenter": cast.attendee.email, "duration_minutes": 30},
            {"title": "预算调整", "presenter": "nobody@example.com", "duration_minutes": 25, "needs_materials": True},
            {"title": "其他事项"},
        ]
    }
    response = await client.put(f"/api/v1/meetings/{mid}/agenda", json=body, headers=cast.organiser.headers)
    assert response.status_code == 200, response.text
    agenda = response.json()
    assert [item["position"] for item in agenda["items"]] == [1, 2, 3]
    assert agenda["total_minutes"] == 55
    assert agenda["meeting_minutes"] == 45
    assert len(agenda["warnings"]) == 3
    assert any("55" in warning and "45" in warning for warning in agenda["warnings"])
    assert any("nobody@example.com" in warning for warning in agenda["warnings"])
    recipients = {cast.chair.email, cast.attendee.email, "guest.one@example.com"}
    assert agenda["invitations_queued"] == len(recipients)

    before_ids = {row.id for row in invitations_before}
    # Agenda updates are queued as resends, which wait a settle time (zero in tests).
    new_rows = [row for row in await outbox_rows(settings, prefix="resend:email:REQUEST:") if row.id not in before_ids]
    assert {row.recipient for row in new_rows} == recipients
    for row in new_rows:
        assert row.payload["sequence"] == 0
        ics = row.payload["ics"].replace("\r\n ", "")
        assert "SEQUENCE:0" in ics
        assert "经营数据回顾" in ics
        assert "议程 / Agenda" in ics
    accepted_copy = next(row for row in new_rows if row.recipient == cast.attendee.email)
    assert "PARTSTAT=ACCEPTED" in accepted_copy.payload["ics"].replace("\r\n ", "")

    after = await client.get(f"/api/v1/meetings/{mid}", headers=cast.organiser.headers)
    assert after.json()["sequence"] == 0
    assert after.json()["attendees"][1]["partstat"] == "ACCEPTED"

    # The same agenda again, with the ids of its items, changes nothing and sends nothing.
    same = {"items": [{**item, "id": stored["id"]} for item, stored in zip(body["items"], agenda["items"], strict=True)]}
    again = await client.put(f"/api/v1/meetings/{mid}/agenda", json=same, headers=cast.secretary.headers)
    assert again.json()["invitations_queued"] == 0
    read = await client.get(f"/api/v1/meetings/{mid}/agenda", headers=cast.attendee.headers)
    assert read.json()["items"] == agenda["items"]


async def test_agenda_access_rules(client: AsyncTestClient, cast: Cast) -> None:
    await add_static_bridge(client, cast.admin)
    meeting = await book_meeting(client, cast, starts_at=future_start())
    body = {"items": [{"title": "议题", "duration_minutes": 10}]}
    denied = await client.put(f"/api/v1/meetings/{meeting['id']}/agenda", json=body, headers=cast.attendee.headers)
    assert denied.status_code == 403
    hidden = await client.get(f"/api/v1/meetings/{meeting['id']}/agenda", headers=cast.outsider.headers)
    assert hidden.status_code == 404
    invalid = await client.put(
        f"/api/v1/meetings/{meeting['id']}/agenda", json={"items": [{"title": "x", "duration_minutes": 0}]}, headers=cast.organiser.headers
    )
    assert invalid.status_code == 400


async def test_rooms_fault_and_repair(client: AsyncTestClient, cast: Cast) -> None:
    body = {
        "name": "第三会议室",
        "location": "北京总部 5F",
        "capacity": 16,
        "equipment": [{"item": "speakerphone", "inspected_on": "2026-01-05"}, {"item": "camera"}],
    }
    denied = await client.post("/api/v1/rooms", json=body, headers=cast.organiser.headers)
    assert denied.status_code == 403
    created = await client.post("/api/v1/rooms", json=body, headers=cast.admin.headers)
    assert created.status_code == 201, created.text
    room = created.json()
    assert [e["item"] for e in room["equipment"]] == ["camera", "speakerphone"]
    duplicate = await client.post("/api/v1/rooms", json=body, headers=cast.admin.headers)
    assert duplicate.status_code == 409

    fault = await client.post(
        f"/api/v1/rooms/{room['id']}/equipment/speakerphone/fault", json={"note": "麦克风无声"}, headers=cast.admin.headers
    )
    speaker = {e["item"]: e for e in fault.json()["equipment"]}["speakerphone"]
    assert speaker["status"] == "out_of_order"
    assert speaker["note"] == "麦克风无声"
    unknown = await client.post(f"/api/v1/rooms/{room['id']}/equipment/projector/fault", headers=cast.admin.headers)
    assert unknown.status_code == 404

    repaired = await client.post(f"/api/v1/rooms/{room['id']}/equipment/speakerphone/repair", headers=cast.admin.headers)
    speaker = {e["item"]: e for e in repaired.json()["equipment"]}["speakerphone"]
    assert speaker["status"] == "ok"
    assert speaker["note"] is None
    assert speaker["inspected_on"] is not None
    assert speaker["inspected_on"] > "2026-01-05"

    patched = await client.patch(
        f"/api/v1/rooms/{room['id']}", json={"capacity": 20, "equipment": [{"item": "display", "status": "faulty"}]}, headers=cast.admin.headers
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["capacity"] == 20
    assert [(e["item"], e["status"]) for e in patched.json()["equipment"]] == [("display", "faulty")]
    listed = await client.get("/api/v1/rooms", headers=cast.attendee.headers)
    assert [r["name"] for r in listed.json()] == ["第三会议室"]
