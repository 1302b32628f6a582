"""Per-person calendar feed: GET /api/v1/me/feed and the unauthenticated GET /feed/{token}.ics."""

from __future__ import annotations

import icalendar
from litestar.testing import AsyncTestClient

from confsvc.settings import Settings
from tests.conftest import Account, create_account
from tests.invitations.support import ZH_ATTENDEE, book_meeting


async def _feed_path(client: AsyncTestClient, account: Account) -> str:
    response = await client.get("/api/v1/me/feed", headers=account.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["webcal_url"].startswith("webcal://confsvc.test/feed/")
    assert body["https_url"] == "https://" + body["webcal_url"].removeprefix("webcal://")
    return "/" + body["webcal_url"].removeprefix("webcal://confsvc.test/")


async def test_attendee_feed_has_meeting_and_others_do_not(
    client: AsyncTestClient, settings: Settings, admin: Account, organiser: Account
) -> None:
    meeting = await book_meeting(
        client, settings, admin, organiser,
        description="这是一段很长的会议说明，用来检查日历订阅里的长行是否按七十五个八位字节折行。" * 3,
    )
    attendee = await create_account(settings, ZH_ATTENDEE, "李娜", [])
    outsider = await create_account(settings, "outsider@example.com", "局外人", [])

    path = await _feed_path(client, attendee)
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    raw = response.content
    calendar = icalendar.Calendar.from_ical(raw)
    assert calendar.get("METHOD") is None
    uids = [str(event["UID"]) for event in calendar.walk("VEVENT")]
    assert uids == [meeting["uid"]]
    assert all(len(line) <= 75 for line in raw.split(b"\r\n")), max(raw.split(b"\r\n"), key=len)
    assert any(line.startswith(b" ") for line in raw.split(b"\r\n"))

    organiser_feed = icalendar.Calendar.from_ical((await client.get(await _feed_path(client, organiser))).content)
    assert [str(e["UID"]) for e in organiser_feed.walk("VEVENT")] == [meeting["uid"]]

    other = await client.get(await _feed_path(client, outsider))
    assert other.status_code == 200
    assert list(icalendar.Calendar.from_ical(other.content).walk("VEVENT")) == []

    # Cancelled meetings leave the feed.
    cancel = await client.post(f"/api/v1/meetings/{meeting['id']}/cancel", json={}, headers=organiser.headers)
    assert cancel.status_code == 200, cancel.text
    assert list(icalendar.Calendar.from_ical((await client.get(path)).content).walk("VEVENT")) == []


async def test_tampered_token_is_404(client: AsyncTestClient, settings: Settings, organiser: Account, admin: Account) -> None:
    path = await _feed_path(client, organiser)
    token = path.removeprefix("/feed/").removesuffix(".ics")
    person_hex, signature = token.split("-")
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    admin_hex = admin.id.hex
    for bad in (
        f"/feed/{person_hex}-{flipped}.ics",
        f"/feed/{admin_hex}-{signature}.ics",
        f"/feed/{token}",
        f"/feed/{person_hex}.ics",
        "/feed/nonsense.ics",
    ):
        response = await client.get(bad)
        assert response.status_code == 404, bad
    assert (await client.get(path)).status_code == 200
