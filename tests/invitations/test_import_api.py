"""POST /api/v1/meetings/import: create, update by SEQUENCE, skip, book_bridge and bad files."""

from __future__ import annotations

from pathlib import Path

from litestar.testing import AsyncTestClient

from confsvc.settings import Settings
from tests.conftest import Account
from tests.foundation.helpers import add_bridge

DATA = Path(__file__).resolve().parent.parent / "data"
OUTLOOK = DATA / "01-outlook-request-china-standard-time"
DAVX5 = DATA / "12-rrule-exdate-utc-across-dst" / "davx5-weekly-exdates-utc.ics"
OUTLOOK_UID = "d1521bd3-03f0-49ef-a881-731b7067452a"
ICS = {"Content-Type": "text/calendar; charset=utf-8"}

FUTURE_EVENT = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Apple Inc.//macOS 14//EN\r
BEGIN:VEVENT\r
UID:future-import-1@example.com\r
DTSTAMP:20261201T020000Z\r
SEQUENCE:0\r
DTSTART;TZID=Asia/Shanghai:20270315T140000\r
DTEND;TZID=Asia/Shanghai:20270315T150000\r
SUMMARY:导入的项目评审\r
ATTENDEE;CN=李娜;PARTSTAT=NEEDS-ACTION:mailto:li.na@example.com\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:past-import-1@example.com\r
DTSTAMP:20261201T020000Z\r
SEQUENCE:0\r
DTSTART:20200101T010000Z\r
DTEND:20200101T020000Z\r
SUMMARY:Past meeting\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:cancelled-import-1@example.com\r
DTSTAMP:20261201T020000Z\r
STATUS:CANCELLED\r
DTSTART:20270401T010000Z\r
DTEND:20270401T020000Z\r
SUMMARY:Cancelled one\r
END:VEVENT\r
END:VCALENDAR\r
"""


async def _import(client: AsyncTestClient, account: Account, body: bytes, *, query: str = "") -> dict:
    response = await client.post(f"/api/v1/meetings/import{query}", content=body, headers={**account.headers, **ICS})
    assert response.status_code == 200, response.text
    return response.json()


async def _list(client: AsyncTestClient, account: Account) -> list[dict]:
    response = await client.get("/api/v1/meetings", headers=account.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_outlook_request_then_allday_update(client: AsyncTestClient, organiser: Account) -> None:
    first = await _import(client, organiser, (OUTLOOK / "request.ics").read_bytes())
    assert [m["uid"] for m in first["created"]] == [OUTLOOK_UID]
    assert first["updated"] == [] and first["skipped"] == []
    meeting_id = first["created"][0]["id"]
    meeting = (await client.get(f"/api/v1/meetings/{meeting_id}", headers=organiser.headers)).json()
    assert meeting["bridge_id"] is None and meeting["bridge"] is None
    assert meeting["time_zone"] == "Asia/Shanghai"
    assert meeting["starts_at"].startswith("2013-03-12T01:00:00")
    assert meeting["sequence"] == 0

    second = await _import(client, organiser, (OUTLOOK / "request-update-allday.ics").read_bytes())
    assert second["created"] == []
    assert [m["id"] for m in second["updated"]] == [meeting_id]
    meeting = (await client.get(f"/api/v1/meetings/{meeting_id}", headers=organiser.headers)).json()
    assert meeting["sequence"] == 1
    # All day in China Standard Time: local midnight to midnight.
    assert meeting["starts_at"].startswith("2013-03-11T16:00:00")
    assert meeting["ends_at"].startswith("2013-03-12T16:00:00")
    assert len([m for m in await _list(client, organiser) if m["uid"] == OUTLOOK_UID]) == 1

    # The same file again, and the older one: neither is newer than SEQUENCE 1.
    again = await _import(client, organiser, (OUTLOOK / "request-update-allday.ics").read_bytes())
    older = await _import(client, organiser, (OUTLOOK / "request.ics").read_bytes())
    for report in (again, older):
        assert report["created"] == [] and report["updated"] == []
        assert [s["uid"] for s in report["skipped"]] == [OUTLOOK_UID]
        assert "SEQUENCE" in report["skipped"][0]["reason"]
    meeting = (await client.get(f"/api/v1/meetings/{meeting_id}", headers=organiser.headers)).json()
    assert meeting["starts_at"].startswith("2013-03-11T16:00:00")


async def test_davx5_weekly_series_with_exdates(client: AsyncTestClient, organiser: Account) -> None:
    report = await _import(client, organiser, DAVX5.read_bytes())
    assert len(report["created"]) == 1, report
    meeting = (await client.get(f"/api/v1/meetings/{report['created'][0]['id']}", headers=organiser.headers)).json()
    assert meeting["title"] == "中德项目周例会"
    assert meeting["time_zone"] == "Europe/Berlin"
    assert meeting["rrule"].startswith("FREQ=WEEKLY")
    occurrences = meeting["occurrences"]
    cancelled = {o["recurrence_id"][:16] for o in occurrences if o["status"] == "cancelled"}
    # EXDATEs in UTC on both sides of the end of summer time: 16:15 Berlin is 14:15Z, then 15:15Z.
    assert {"2019-10-15T14:15", "2019-10-22T14:15", "2019-11-05T15:15", "2019-11-19T15:15"} <= cancelled
    active = [o for o in occurrences if o["status"] == "scheduled"]
    # Every remaining occurrence is in winter time (the summer ones are all excluded).
    assert len(active) == len(occurrences) - len(cancelled) > 0
    assert {o["starts_at"][11:16] for o in active} == {"15:15"}


async def test_book_bridge_books_future_and_skips_past(
    client: AsyncTestClient, settings: Settings, admin: Account, organiser: Account
) -> None:
    bridge = await add_bridge(client, admin, "导入桥", 10)
    report = await _import(client, organiser, FUTURE_EVENT.encode(), query="?book_bridge=true")
    assert [m["uid"] for m in report["created"]] == ["future-import-1@example.com"]
    skipped = {s["uid"]: s["reason"] for s in report["skipped"]}
    assert set(skipped) == {"past-import-1@example.com", "cancelled-import-1@example.com"}
    assert skipped["past-import-1@example.com"].startswith("starts_at:")
    meeting = (await client.get(f"/api/v1/meetings/{report['created'][0]['id']}", headers=organiser.headers)).json()
    assert meeting["bridge_id"] == bridge["id"]
    assert meeting["uid"] == "future-import-1@example.com"
    assert [a["email"] for a in meeting["attendees"]] == ["li.na@example.com"]
    uids = {m["uid"] for m in await _list(client, organiser)}
    assert "past-import-1@example.com" not in uids and "cancelled-import-1@example.com" not in uids


async def test_without_book_bridge_past_meeting_is_stored(client: AsyncTestClient, organiser: Account) -> None:
    report = await _import(client, organiser, FUTURE_EVENT.encode())
    assert sorted(m["uid"] for m in report["created"]) == ["future-import-1@example.com", "past-import-1@example.com"]
    assert [s["uid"] for s in report["skipped"]] == ["cancelled-import-1@example.com"]


async def test_multipart_upload_and_floating_time_warning(client: AsyncTestClient, organiser: Account) -> None:
    floating = FUTURE_EVENT.replace("DTSTART;TZID=Asia/Shanghai:", "DTSTART;TZID=Mars/Olympus:")
    response = await client.post(
        "/api/v1/meetings/import",
        files={"file": ("invite.ics", floating.encode(), "text/calendar")},
        headers=organiser.headers,
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert "future-import-1@example.com" in [m["uid"] for m in report["created"]]
    assert any("Mars/Olympus" in w for w in report["warnings"]), report["warnings"]


async def test_bad_file_is_rejected_and_nothing_written(client: AsyncTestClient, organiser: Account) -> None:
    response = await client.post("/api/v1/meetings/import", content=b"BEGIN:VCALENDAR\r\nthis is not ical", headers={**organiser.headers, **ICS})
    assert response.status_code == 400, response.text
    assert "calendar" in response.text.lower()
    response = await client.post("/api/v1/meetings/import", content=b"hello", headers={**organiser.headers, "Content-Type": "text/plain"})
    assert response.status_code == 400
    assert "Content-Type" in response.text
    assert await _list(client, organiser) == []


async def test_import_needs_organiser_role(client: AsyncTestClient, settings: Settings) -> None:
    from tests.conftest import create_account

    member = await create_account(settings, "member@example.com", "成员", [])
    response = await client.post("/api/v1/meetings/import", content=FUTURE_EVENT.encode(), headers={**member.headers, **ICS})
    assert response.status_code == 403
