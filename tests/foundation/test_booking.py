from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from confsvc.app import create_app
from tests.conftest import Account, make_settings
from tests.foundation.helpers import add_bridge, meeting_body


async def book(client: AsyncTestClient, account: Account, **body):  # type: ignore[no-untyped-def]
    return await client.post("/api/v1/meetings", json=body, headers=account.headers)


async def test_booking_picks_smallest_free_bridge(client: AsyncTestClient, admin: Account, organiser: Account) -> None:
    await add_bridge(client, admin, "Large", 50)
    small = await add_bridge(client, admin, "Small", 5)
    response = await book(client, organiser, **meeting_body("2027-03-01T09:30:00+08:00", "2027-03-01T10:30:00+08:00"))
    assert response.status_code == 201, response.text
    meeting = response.json()
    assert meeting["bridge"]["id"] == small["id"]
    assert meeting["starts_at"].startswith("2027-03-01T01:30:00")
    assert meeting["status"] == "scheduled"
    assert meeting["sequence"] == 0
    assert meeting["attendees"][0]["partstat"] == "NEEDS-ACTION"
    assert meeting["uid"].endswith("@confsvc.localhost")


async def test_overlap_returns_conflicts_and_alternatives(client: AsyncTestClient, admin: Account, organiser: Account) -> None:
    first = await add_bridge(client, admin, "A", 10)
    second = await add_bridge(client, admin, "B", 10)
    ok = await book(client, organiser, **meeting_body("2027-03-01T10:00:00+08:00", "2027-03-01T11:00:00+08:00", bridge_id=first["id"]))
    assert ok.status_code == 201
    clash = await book(client, organiser, **meeting_body("2027-03-01T10:30:00+08:00", "2027-03-01T11:30:00+08:00", bridge_id=first["id"]))
    assert clash.status_code == 409
    problem = clash.json()
    assert problem["conflicts"][0]["bridge_id"] == first["id"]
    assert problem["conflicts"][0]["starts_at"].startswith("2027-03-01T02:00:00")
    kinds = {(alt["kind"], alt["bridge_id"]) for alt in problem["alternatives"]}
    assert ("other_bridge", second["id"]) in kinds
    other_times = [alt for alt in problem["alternatives"] if alt["kind"] == "other_time"]
    assert other_times, problem
    # The nearest free start on bridge A is right after the first booking plus its buffer.
    assert other_times[0]["starts_at"].startswith("2027-03-01T03:05:00")


async def test_back_to_back_allowed_without_buffer(db_url: str, tmp_path: Path, admin: Account, organiser: Account) -> None:
    app = create_app(make_settings(db_url, tmp_path, buffer_minutes=0), start_scheduler=False)
    async with AsyncTestClient(app=app) as client:
        bridge = await add_bridge(client, admin, "A", 10)
        one = await book(client, organiser, **meeting_body("2027-03-01T10:00:00+08:00", "2027-03-01T11:00:00+08:00", bridge_id=bridge["id"]))
        two = await book(client, organiser, **meeting_body("2027-03-01T11:00:00+08:00", "2027-03-01T12:00:00+08:00", bridge_id=bridge["id"]))
        assert one.status_code == 201
        assert two.status_code == 201, two.text


async def test_buffer_blocks_back_to_back(client: AsyncTestClient, admin: Account, organiser: Account) -> None:
    bridge = await add_bridge(client, admin, "A", 10)
    one = await book(client, organiser, **meeting_body("2027-03-01T10:00:00+08:00", "2027-03-01T11:00:00+08:00", bridge_id=bridge["id"]))
    two = await book(client, organiser, **meeting_body("2027-03-01T11:00:00+08:00", "2027-03-01T12:00:00+08:00", bridge_id=bridge["id"]))
    later = await book(client, organiser, **meeting_body("2027-03-01T11:05:00+08:00", "2027-03-01T12:00:00+08:00", bridge_id=bridge["id"]))
    assert one.status_code == 201
    assert two.status_code == 409
    assert later.status_code == 201


async def test_cancel_frees_the_slot(client: AsyncTestClient, admin: Account, organiser: Account) -> None:
    bridge = await add_bridge(client, admin, "A", 10)
    body = meeting_body("2027-03-01T10:00:00+08:00", "2027-03-01T11:00:00+08:00", bridge_id=bridge["id"])
    first = await book(client, organiser, **body)
    assert (await book(client, organiser, **body)).status_code == 409
    cancelled = await client.post(f"/api/v1/meetings/{first.json()['id']}/cancel", json={"reason": "改期"}, headers=organiser.headers)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["sequence"] == 1
    assert (await book(client, organiser, **body)).status_code == 201


async def test_capacity_shortfall_is_conflict(client: AsyncTestClient, admin: Account, organiser: Account) -> None:
    tiny = await add_bridge(client, admin, "Tiny", 2)
    big = await add_bridge(client, admin, "Big", 20)
    attendees = [{"email": f"p{i}@example.com"} for i in range(5)]
    response = await book(client, organiser, **meeting_body("2027-03-01T10:00:00+08:00", "2027-03-01T11:00:00+08:00", bridge_id=tiny["id"], attendees=attendees))
    assert response.status_code == 409
    problem = response.json()
    assert "ports" in problem["conflicts"][0]["reason"] or "端口" in problem["conflicts"][0]["reason"]
    assert [alt["bridge_id"] for alt in problem["alternatives"] if alt["kind"] == "other_bridge"] == [big["id"]]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"starts_at": "2027-03-01T10:00:00", "ends_at": "2027-03-01T11:00:00+08:00"}, "starts_at"),
        ({"ends_at": "2027-03-01T09:00:00+08:00"}, "ends_at"),
        ({"ends_at": "2027-03-01T20:00:00+08:00"}, "ends_at"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"attendees": [{"email": "not-an-address"}]}, "attendees[0].email"),
        ({"bridge_id": "00000000-0000-0000-0000-000000000000"}, "bridge_id"),
        ({"title": "x" * 301}, "title"),
        ({"title": 42}, "title"),
        ({"rrule": "FREQ=DAILY"}, "rrule"),
        ({"rrule": "FREQ=SOMETIMES"}, "rrule"),
        ({"chair": "nobody@example.com"}, "chair"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
async def test_bad_input_names_field_and_writes_nothing(
    client: AsyncTestClient, admin: Account, organiser: Account, change: dict, field: str
) -> None:
    await add_bridge(client, admin, "A", 10)
    body = meeting_body("2027-03-01T10:00:00+08:00", "2027-03-01T11:00:00+08:00")
    body.update(change)
    response = await client.post("/api/v1/meetings", json=body, headers=organiser.headers)
    assert response.status_code in (400, 422), response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert any(field in param["name"] for param in problem["invalid_params"]), problem
    listed = await client.get("/api/v1/meetings", headers=admin.headers)
    assert listed.json() == []


async def test_malformed_json_is_400(client: AsyncTestClient, organiser: Account) -> None:
    response = await client.post(
        "/api/v1/meetings", content=b'{"title": "x", ', headers={**organiser.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["status"] == 400


async def test_minimum_notice_and_urgent_reason(client: AsyncTestClient, admin: Account, organiser: Account) -> None:
    await add_bridge(client, admin, "A", 10)
    soon = datetime.now(UTC) + timedelta(minutes=10)
    body = meeting_body(soon.isoformat(), (soon + timedelta(hours=1)).isoformat())
    refused = await client.post("/api/v1/meetings", json=body, headers=organiser.headers)
    assert refused.status_code == 400
    assert refused.json()["invalid_params"][0]["name"] == "starts_at"
    no_reason = await client.post("/api/v1/meetings", json={**body, "urgent": True}, headers=organiser.headers)
    assert no_reason.json()["invalid_params"][0]["name"] == "urgent_reason"
    accepted = await client.post("/api/v1/meetings", json={**body, "urgent": True, "urgent_reason": "客户投诉需立即处理"}, headers=organiser.headers)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["urgent_reason"] == "客户投诉需立即处理"
    past = meeting_body("2020-01-01T10:00:00+08:00", "2020-01-01T11:00:00+08:00", urgent=True, urgent_reason="x")
    assert (await client.post("/api/v1/meetings", json=past, headers=organiser.headers)).status_code == 400


async def test_duration_minutes_instead_of_end(client: AsyncTestClient, admin: Account, organiser: Account) -> None:
    await add_bridge(client, admin, "A", 10)
    body = {"title": "站会", "starts_at": "2027-03-01T09:00:00+08:00", "duration_minutes": 15}
    response = await client.post("/api/v1/meetings", json=body, headers=organiser.headers)
    assert response.status_code == 201, response.text
    assert response.json()["ends_at"].startswith("2027-03-01T01:15:00")


async def test_recurring_series_all_or_nothing(client: AsyncTestClient, admin: Account, organiser: Account) -> None:
    bridge = await add_bridge(client, admin, "A", 10)
    blocker = await book(client, organiser, **meeting_body("2027-03-15T09:30:00+08:00", "2027-03-15T10:00:00+08:00", bridge_id=bridge["id"]))
    assert blocker.status_code == 201
    series = meeting_body("2027-03-01T09:30:00+08:00", "2027-03-01T10:30:00+08:00", bridge_id=bridge["id"], rrule="FREQ=WEEKLY;COUNT=4")
    refused = await client.post("/api/v1/meetings", json=series, headers=organiser.headers)
    assert refused.status_code == 409
    occurrences = [c["occurrence"] for c in refused.json()["conflicts"]]
    assert occurrences == ["2027-03-15T01:30:00Z"]
    listed = await client.get("/api/v1/meetings", headers=organiser.headers)
    assert len(listed.json()) == 1

    series["bridge_id"] = None
    accepted = await client.post("/api/v1/meetings", json={k: v for k, v in series.items() if k != "bridge_id"}, headers=organiser.headers)
    assert accepted.status_code == 409  # the only bridge is taken on 03-15
    await add_bridge(client, admin, "B", 10)
    accepted = await client.post("/api/v1/meetings", json={k: v for k, v in series.items() if k != "bridge_id"}, headers=organiser.headers)
    assert accepted.status_code == 201, accepted.text
    assert len(accepted.json()["occurrences"]) == 4


async def test_weekly_series_keeps_local_time_across_dst(client: AsyncTestClient, admin: Account, organiser: Account) -> None:
    await add_bridge(client, admin, "A", 10)
    body = meeting_body(
        "2027-03-22T09:00:00+01:00", "2027-03-22T10:00:00+01:00", time_zone="Europe/Berlin", rrule="FREQ=WEEKLY;COUNT=2"
    )
    response = await client.post("/api/v1/meetings", json=body, headers=organiser.headers)
    assert response.status_code == 201, response.text
    starts = [o["starts_at"] for o in response.json()["occurrences"]]
    # Berlin moves to summer time on 2027-03-28: 09:00 local is 08:00Z, then 07:00Z.
    assert starts == ["2027-03-22T08:00:00Z", "2027-03-29T07:00:00Z"]


async def test_series_bound_by_occurrence_count(client: AsyncTestClient, admin: Account, organiser: Account) -> None:
    await add_bridge(client, admin, "A", 10)
    body = meeting_body("2027-03-01T09:00:00+08:00", "2027-03-01T09:15:00+08:00", rrule="FREQ=DAILY;COUNT=501")
    response = await client.post("/api/v1/meetings", json=body, headers=organiser.headers)
    assert response.status_code == 400
    assert response.json()["invalid_params"][0]["name"] == "rrule"


async def test_edit_one_occurrence_and_series(client: AsyncTestClient, admin: Account, organiser: Account) -> None:
    await add_bridge(client, admin, "A", 10)
    body = meeting_body("2027-03-01T09:30:00+08:00", "2027-03-01T10:30:00+08:00", rrule="FREQ=WEEKLY;COUNT=3")
    meeting = (await client.post("/api/v1/meetings", json=body, headers=organiser.headers)).json()
    second = meeting["occurrences"][1]["recurrence_id"]
    moved = await client.patch(
        f"/api/v1/meetings/{meeting['id']}/occurrences/{second}",
        json={"starts_at": "2027-03-08T14:00:00+08:00", "ends_at": "2027-03-08T15:00:00+08:00"},
        headers=organiser.headers,
    )
    assert moved.status_code == 200, moved.text
    occurrence = moved.json()["occurrences"][1]
    assert occurrence["overridden"] is True
    assert occurrence["starts_at"] == "2027-03-08T06:00:00Z"
    assert moved.json()["sequence"] == 1

    cancelled = await client.post(f"/api/v1/meetings/{meeting['id']}/occurrences/{meeting['occurrences'][2]['recurrence_id']}/cancel", headers=organiser.headers)
    assert [o["status"] for o in cancelled.json()["occurrences"]] == ["scheduled", "scheduled", "cancelled"]

    series = await client.patch(
        f"/api/v1/meetings/{meeting['id']}",
        json={"starts_at": "2027-03-02T09:30:00+08:00", "ends_at": "2027-03-02T10:30:00+08:00"},
        headers=organiser.headers,
    )
    assert series.status_code == 200, series.text
    assert [o["starts_at"] for o in series.json()["occurrences"]] == [
        "2027-03-02T01:30:00Z", "2027-03-09T01:30:00Z", "2027-03-16T01:30:00Z",
    ]
    assert series.json()["sequence"] == 3


async def test_reschedule_resets_replies_and_raises_sequence(client: AsyncTestClient, admin: Account, organiser: Account) -> None:
    await add_bridge(client, admin, "A", 10)
    meeting = (await client.post("/api/v1/meetings", json=meeting_body("2027-03-01T09:30:00+08:00", "2027-03-01T10:30:00+08:00"), headers=organiser.headers)).json()
    title_only = await client.patch(f"/api/v1/meetings/{meeting['id']}", json={"title": "新标题"}, headers=organiser.headers)
    assert title_only.json()["sequence"] == 0
    moved = await client.patch(f"/api/v1/meetings/{meeting['id']}", json={"starts_at": "2027-03-01T13:00:00+08:00", "duration_minutes": 30}, headers=organiser.headers)
    assert moved.status_code == 200, moved.text
    assert moved.json()["sequence"] == 1
    assert moved.json()["ends_at"].startswith("2027-03-01T05:30:00")


async def test_update_into_taken_slot_conflicts(client: AsyncTestClient, admin: Account, organiser: Account) -> None:
    bridge = await add_bridge(client, admin, "A", 10)
    first = (await book(client, organiser, **meeting_body("2027-03-01T09:00:00+08:00", "2027-03-01T10:00:00+08:00", bridge_id=bridge["id"]))).json()
    second = (await book(client, organiser, **meeting_body("2027-03-01T11:00:00+08:00", "2027-03-01T12:00:00+08:00", bridge_id=bridge["id"]))).json()
    response = await client.patch(f"/api/v1/meetings/{second['id']}", json={"starts_at": "2027-03-01T09:30:00+08:00"}, headers=organiser.headers)
    assert response.status_code == 409
    kept = await client.get(f"/api/v1/meetings/{second['id']}", headers=organiser.headers)
    assert kept.json()["starts_at"] == second["starts_at"]
    assert kept.json()["sequence"] == 0
    assert (await client.get(f"/api/v1/meetings/{first['id']}", headers=organiser.headers)).status_code == 200


async def test_list_filters(client: AsyncTestClient, admin: Account, organiser: Account) -> None:
    bridge = await add_bridge(client, admin, "A", 10)
    await book(client, organiser, **meeting_body("2027-03-01T09:00:00+08:00", "2027-03-01T10:00:00+08:00"))
    other = (await book(client, organiser, **meeting_body("2027-03-05T09:00:00+08:00", "2027-03-05T10:00:00+08:00", attendees=[{"email": "wang.fang@example.com"}]))).json()
    by_time = await client.get("/api/v1/meetings", params={"from": "2027-03-04T00:00:00+08:00", "to": "2027-03-06T00:00:00+08:00"}, headers=admin.headers)
    assert [m["id"] for m in by_time.json()] == [other["id"]]
    by_attendee = await client.get("/api/v1/meetings", params={"attendee": "wang.fang@example.com"}, headers=admin.headers)
    assert [m["id"] for m in by_attendee.json()] == [other["id"]]
    by_bridge = await client.get("/api/v1/meetings", params={"bridge": bridge["id"]}, headers=admin.headers)
    assert len(by_bridge.json()) == 2
    by_organiser = await client.get("/api/v1/meetings", params={"organiser": "zhang.wei@example.com", "status": "scheduled"}, headers=admin.headers)
    assert len(by_organiser.json()) == 2
    naive = await client.get("/api/v1/meetings", params={"from": "2027-03-04T00:00:00"}, headers=admin.headers)
    assert naive.status_code == 400


async def test_pins_reach_the_right_people(client: AsyncTestClient, admin: Account, organiser: Account, settings) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import create_account

    attendee = await create_account(settings, "li.na@example.com", "李娜", ["member"])
    stranger = await create_account(settings, "stranger@example.com", "路人", ["member"])
    await add_bridge(client, admin, "A", 10, host_pin="9999", participant_pin="1111")
    meeting = (await book(client, organiser, **meeting_body("2027-03-01T09:00:00+08:00", "2027-03-01T10:00:00+08:00"))).json()
    assert meeting["bridge"]["host_pin"] == "9999"
    seen = (await client.get(f"/api/v1/meetings/{meeting['id']}", headers=attendee.headers)).json()
    assert seen["bridge"]["participant_pin"] == "1111"
    assert "host_pin" not in seen["bridge"]
    hidden = await client.get(f"/api/v1/meetings/{meeting['id']}", headers=stranger.headers)
    assert hidden.status_code == 404
    assert (await client.get("/api/v1/meetings", headers=stranger.headers)).json() == []


async def test_idempotency_key_replays_first_answer(client: AsyncTestClient, admin: Account, organiser: Account) -> None:
    await add_bridge(client, admin, "A", 10)
    body = meeting_body("2027-03-01T09:00:00+08:00", "2027-03-01T10:00:00+08:00")
    headers = {**organiser.headers, "Idempotency-Key": "booking-42"}
    first = await client.post("/api/v1/meetings", json=body, headers=headers)
    again = await client.post("/api/v1/meetings", json=body, headers=headers)
    assert first.status_code == 201
    assert again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers.get("idempotent-replayed") == "true"
    other = await client.post("/api/v1/meetings", json={**body, "title": "另一个会"}, headers=headers)
    assert other.status_code == 422
    assert len((await client.get("/api/v1/meetings", headers=organiser.headers)).json()) == 1


async def test_concurrent_identical_bookings_one_wins(client: AsyncTestClient, admin: Account, organiser: Account) -> None:
    bridge = await add_bridge(client, admin, "A", 10)
    body = meeting_body("2027-03-01T09:00:00+08:00", "2027-03-01T10:00:00+08:00", bridge_id=bridge["id"])
    responses = await asyncio.gather(*(client.post("/api/v1/meetings", json=body, headers=organiser.headers) for _ in range(50)))
    codes = sorted(r.status_code for r in responses)
    assert codes.count(201) == 1, [r.text for r in responses if r.status_code not in (201, 409)][:3]
    assert codes.count(409) == 49
    listed = await client.get("/api/v1/meetings", headers=organiser.headers)
    assert len(listed.json()) == 1


async def test_series_until_in_utc_includes_last_slot(client: AsyncTestClient, admin: Account, organiser: Account) -> None:
    await add_bridge(client, admin, "A", 10)
    # 09:30 Shanghai on 2027-03-15 is 01:30Z, exactly the UNTIL instant, so it is the last occurrence.
    body = meeting_body("2027-03-01T09:30:00+08:00", "2027-03-01T10:00:00+08:00", rrule="FREQ=WEEKLY;UNTIL=20270315T013000Z")
    response = await client.post("/api/v1/meetings", json=body, headers=organiser.headers)
    assert response.status_code == 201, response.text
    assert [o["starts_at"] for o in response.json()["occurrences"]] == [
        "2027-03-01T01:30:00Z", "2027-03-08T01:30:00Z", "2027-03-15T01:30:00Z",
    ]
