"""Booking, replying, rescheduling and cancelling through the pages (Litestar test client)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from litestar.testing import AsyncTestClient
from web_helpers import People, sign_in

ZONE = ZoneInfo("Asia/Shanghai")


def tomorrow() -> str:
    return (datetime.now(ZONE) + timedelta(days=1)).date().isoformat()


def booking_form(csrf: str, **values: str) -> dict[str, str]:
    form = {
        "csrf_token": csrf, "title": "季度预算评审", "date": tomorrow(), "start": "10:00", "duration": "60",
        "time_zone": "Asia/Shanghai", "attendees_extra": "", "agenda": "上次决议落实 | 10\n预算讨论 | 40",
    }
    form.update(values)
    return form


async def book(client: AsyncTestClient, csrf: str, **values: str) -> uuid.UUID:
    answer = await client.post("/book", data=booking_form(csrf, **values), follow_redirects=False)
    assert answer.status_code == 303, answer.text
    match = re.fullmatch(r"/meetings/([0-9a-f-]{36})\?booked=1", answer.headers["location"])
    assert match, answer.headers["location"]
    return uuid.UUID(match.group(1))


async def test_web_book_reply_and_list(web_client: AsyncTestClient, people: People, bridge_id: uuid.UUID) -> None:
    csrf = await sign_in(web_client, people.organiser.email)
    meeting_id = await book(web_client, csrf, attendees_extra=f"{people.member.email}, {people.other.email}")
    detail = await web_client.get(f"/meetings/{meeting_id}?booked=1")
    assert "季度预算评审" in detail.text
    assert "tel:+861065550101,,1001%23" in detail.text
    assert "预算讨论" in detail.text

    await web_client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    csrf = await sign_in(web_client, people.member.email)
    mine = await web_client.get("/meetings")
    assert f'id="row-{meeting_id}"' in mine.text
    assert 'data-partstat="NEEDS-ACTION"' in mine.text

    answer = await web_client.post(
        f"/meetings/{meeting_id}/reply", data={"partstat": "ACCEPTED"}, headers={"HX-Request": "true", "X-CSRF-Token": csrf}
    )
    assert answer.status_code == 200
    assert answer.text.strip().startswith(f'<tr id="row-{meeting_id}"')
    assert 'data-partstat="ACCEPTED"' in answer.text
    assert 'data-partstat="ACCEPTED"' in (await web_client.get("/meetings")).text


async def test_web_reply_without_csrf_is_refused(web_client: AsyncTestClient, people: People, bridge_id: uuid.UUID) -> None:
    csrf = await sign_in(web_client, people.organiser.email)
    meeting_id = await book(web_client, csrf, attendees_extra=people.member.email)
    await sign_in(web_client, people.member.email)
    answer = await web_client.post(f"/meetings/{meeting_id}/reply", data={"partstat": "DECLINED"})
    assert answer.status_code == 403
    assert 'data-partstat="NEEDS-ACTION"' in (await web_client.get("/meetings")).text


async def test_web_booking_errors_are_shown_next_to_fields(web_client: AsyncTestClient, people: People, bridge_id: uuid.UUID) -> None:
    csrf = await sign_in(web_client, people.organiser.email)
    answer = await web_client.post("/book", data=booking_form(csrf, title="", start="25:99", attendees_extra="not-an-address"))
    assert answer.status_code == 400
    assert 'id="err-start"' in answer.text
    assert 'id="title"' in answer.text
    answer = await web_client.post("/book", data=booking_form(csrf, title="", attendees_extra="not-an-address"))
    assert answer.status_code == 400
    assert re.search(r'id="err-(title|attendees)"', answer.text)
    past = (datetime.now(ZONE) - timedelta(days=2)).date().isoformat()
    answer = await web_client.post("/book", data=booking_form(csrf, date=past))
    assert answer.status_code == 400
    assert 'id="err-start"' in answer.text
    assert "季度预算评审" not in (await web_client.get("/meetings")).text


async def test_web_conflict_lists_alternatives(web_client: AsyncTestClient, people: People, bridge_id: uuid.UUID) -> None:
    csrf = await sign_in(web_client, people.organiser.email)
    await book(web_client, csrf, bridge_id=str(bridge_id))
    answer = await web_client.post("/book", data=booking_form(csrf, title="撞车的会", bridge_id=str(bridge_id)))
    assert answer.status_code == 409
    assert 'id="conflict"' in answer.text
    alternatives = re.findall(r'name="use_alternative" value="([^"]+)"', answer.text)
    assert alternatives
    chosen = alternatives[0].replace("&#43;", "+")
    moved = await web_client.post("/book", data={**booking_form(csrf, title="撞车的会", bridge_id=str(bridge_id)), "use_alternative": chosen},
                                  follow_redirects=False)
    assert moved.status_code == 303


async def test_web_reschedule_and_cancel(web_client: AsyncTestClient, people: People, bridge_id: uuid.UUID) -> None:
    csrf = await sign_in(web_client, people.organiser.email)
    meeting_id = await book(web_client, csrf)
    form = await web_client.get(f"/meetings/{meeting_id}/reschedule")
    assert form.status_code == 200
    answer = await web_client.post(
        f"/meetings/{meeting_id}/reschedule", data={"csrf_token": csrf, "date": tomorrow(), "start": "15:30", "duration": "45"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    detail = await web_client.get(f"/meetings/{meeting_id}")
    assert "15:30" in detail.text
    refused = await web_client.post(f"/meetings/{meeting_id}/cancel", data={"csrf_token": csrf})
    assert refused.status_code == 400
    done = await web_client.post(f"/meetings/{meeting_id}/cancel", data={"csrf_token": csrf, "confirm": "yes", "reason": "改期"},
                                 follow_redirects=False)
    assert done.status_code == 303
    assert "改期" in (await web_client.get(f"/meetings/{meeting_id}")).text


async def test_web_language_switch_and_profile_locale(web_client: AsyncTestClient, people: People) -> None:
    await sign_in(web_client, people.member.email)
    assert "我的会议" in (await web_client.get("/meetings")).text
    answer = await web_client.get("/lang/en?next=/meetings", follow_redirects=False)
    assert answer.status_code == 302
    assert answer.headers["location"] == "/meetings"
    assert "My meetings" in (await web_client.get("/meetings")).text
    assert (await web_client.get("/lang/en?next=https://evil.example/", follow_redirects=False)).headers["location"] == "/meetings"


async def test_web_person_locale_and_accept_language(web_client: AsyncTestClient, people: People) -> None:
    await sign_in(web_client, people.other.email)  # Person.locale = en
    assert "My meetings" in (await web_client.get("/meetings")).text
    web_client.cookies.clear()
    login = await web_client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert "Sign in" in login.text
    assert "登录" in (await web_client.get("/login")).text
