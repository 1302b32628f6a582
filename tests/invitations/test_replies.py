from __future__ import annotations

import re
from typing import Any

from litestar.testing import AsyncTestClient

from confsvc.db.engine import create_engine, create_session_factory
from confsvc.db.models import ReplyRecord
from sqlalchemy import select

from confsvc.settings import Settings
from tests.conftest import Account
from tests.invitations.support import CHAIR, EN_ATTENDEE, ZH_ATTENDEE, book_meeting, deliver, event_of
from tests.outbox.sink import SmtpSink, text_body


def itip(method: str, uid: str, attendee: str, *, sequence: int = 0, partstat: str = "ACCEPTED", extra: str = "",
         start: str = "20270301T093000", end: str = "20270301T103000", dtstamp: str = "20270201T020000Z") -> bytes:
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//replies//ZH", f"METHOD:{method}",
        "BEGIN:VEVENT", f"UID:{uid}", f"DTSTAMP:{dtstamp}", f"SEQUENCE:{sequence}",
        f"DTSTART;TZID=Asia/Shanghai:{start}", f"DTEND;TZID=Asia/Shanghai:{end}",
        "ORGANIZER:mailto:meetings@example.com",
        f"ATTENDEE;PARTSTAT={partstat}{extra}:mailto:{attendee}",
        "END:VEVENT", "END:VCALENDAR", "",
    ]
    return "\r\n".join(lines).encode("utf-8")


async def post_itip(client: AsyncTestClient, account: Account, body: bytes) -> Any:
    return await client.post("/api/v1/itip", content=body, headers={**account.headers, "Content-Type": "text/calendar; charset=utf-8"})


def partstats(meeting: dict[str, Any]) -> dict[str, str]:
    return {a["email"]: a["partstat"] for a in meeting["attendees"]}


async def reply_records(settings: Settings) -> list[ReplyRecord]:
    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            return list(await session.scalars(select(ReplyRecord)))
    finally:
        await engine.dispose()


async def test_reply_flips_partstat(client: AsyncTestClient, settings: Settings, admin: Account, organiser: Account) -> None:
    meeting = await book_meeting(client, settings, admin, organiser)
    body = itip("REPLY", meeting["uid"], ZH_ATTENDEE, extra=";X-RESPONSE-COMMENT=会准时参加")
    response = await post_itip(client, admin, body)
    fetched = await client.get(f"/api/v1/meetings/{meeting['id']}", headers=organiser.headers)

    assert response.status_code == 200, response.text
    assert response.json()["replies"][0]["decision"] == "apply"
    assert partstats(fetched.json())[ZH_ATTENDEE] == "ACCEPTED"
    assert partstats(fetched.json())[EN_ATTENDEE] == "NEEDS-ACTION"
    comment = next(a["comment"] for a in fetched.json()["attendees"] if a["email"] == ZH_ATTENDEE)
    assert comment == "会准时参加"


async def test_reply_for_unknown_meeting_is_404(client: AsyncTestClient, settings: Settings, admin: Account) -> None:
    response = await post_itip(client, admin, itip("REPLY", "no-such-meeting@example.com", ZH_ATTENDEE))

    assert response.status_code == 404
    assert "reply for unknown meeting" in response.json()["detail"] or "回复的会议不存在" in response.json()["detail"]
    assert await reply_records(settings) == []


async def test_reply_from_stranger_changes_nothing(client: AsyncTestClient, settings: Settings, admin: Account, organiser: Account) -> None:
    meeting = await book_meeting(client, settings, admin, organiser)
    response = await post_itip(client, admin, itip("REPLY", meeting["uid"], "stranger@example.com"))
    fetched = await client.get(f"/api/v1/meetings/{meeting['id']}", headers=organiser.headers)
    records = await reply_records(settings)

    assert response.status_code == 200
    assert response.json()["replies"][0]["decision"] == "not_invited"
    assert set(partstats(fetched.json()).values()) == {"NEEDS-ACTION"}
    assert "stranger@example.com" not in partstats(fetched.json())
    assert [(r.attendee_email, r.decision) for r in records] == [("stranger@example.com", "not_invited")]


async def test_reply_by_uninvited_member_is_hidden(client: AsyncTestClient, settings: Settings, admin: Account, organiser: Account) -> None:
    from tests.conftest import create_account

    meeting = await book_meeting(client, settings, admin, organiser)
    member = await create_account(settings, "zhou.min@example.com", "周敏", ["member"])
    response = await post_itip(client, member, itip("REPLY", meeting["uid"], ZH_ATTENDEE))

    # A meeting the caller may not see answers like a missing one.
    assert response.status_code == 404
    assert await reply_records(settings) == []


async def test_delegated_reply_adds_and_invites_delegate(
    client: AsyncTestClient, settings: Settings, admin: Account, organiser: Account, smtp_sink: SmtpSink
) -> None:
    meeting = await book_meeting(client, settings, admin, organiser)
    body = itip("REPLY", meeting["uid"], ZH_ATTENDEE, partstat="DELEGATED", extra=';DELEGATED-TO="mailto:zhao.lei@example.com"')
    response = await post_itip(client, admin, body)
    fetched = await client.get(f"/api/v1/meetings/{meeting['id']}", headers=organiser.headers)
    await deliver(settings)

    assert response.status_code == 200, response.text
    assert partstats(fetched.json())[ZH_ATTENDEE] == "DELEGATED"
    assert partstats(fetched.json())["zhao.lei@example.com"] == "NEEDS-ACTION"
    method, _calendar, event = event_of(smtp_sink, "zhao.lei@example.com")
    assert method == "REQUEST"
    assert str(event["UID"]) == meeting["uid"]


async def test_non_reply_method_is_rejected(client: AsyncTestClient, settings: Settings, admin: Account, organiser: Account) -> None:
    meeting = await book_meeting(client, settings, admin, organiser)
    response = await post_itip(client, admin, itip("REQUEST", meeting["uid"], ZH_ATTENDEE))
    plain = await client.post("/api/v1/itip", content=b"{}", headers={**admin.headers, "Content-Type": "application/json"})

    assert response.status_code == 400
    assert plain.status_code == 400


async def test_rsvp_link_records_answer(
    client: AsyncTestClient, settings: Settings, admin: Account, organiser: Account, smtp_sink: SmtpSink
) -> None:
    meeting = await book_meeting(client, settings, admin, organiser)
    await deliver(settings)
    link = re.search(r"http://confsvc\.test(/rsvp/\S+)", text_body(smtp_sink.to(EN_ATTENDEE)[0]))
    assert link is not None
    path = link.group(1)

    page = await client.get(path, headers={"Accept-Language": "en"})
    answer = await client.post(path, data={"partstat": "TENTATIVE", "comment": "May be late"})
    fetched = await client.get(f"/api/v1/meetings/{meeting['id']}", headers=organiser.headers)
    token = path.rsplit("/", 1)[1]
    body, signature = token.split(".")
    tampered = await client.get(f"/rsvp/{body}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}")
    forged_body = body[:-2] + ("xx" if not body.endswith("xx") else "yy")
    forged = await client.post(f"/rsvp/{forged_body}.{signature}", data={"partstat": "DECLINED"})
    after = await client.get(f"/api/v1/meetings/{meeting['id']}", headers=organiser.headers)

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "季度经营分析会" in page.text
    assert 'value="ACCEPTED"' in page.text
    assert answer.status_code == 200, answer.text
    assert partstats(fetched.json())[EN_ATTENDEE] == "TENTATIVE"
    assert tampered.status_code == 403
    assert forged.status_code == 403
    assert partstats(after.json())[EN_ATTENDEE] == "TENTATIVE"


async def test_counter_decline_and_accept(
    client: AsyncTestClient, settings: Settings, admin: Account, organiser: Account, smtp_sink: SmtpSink
) -> None:
    meeting = await book_meeting(client, settings, admin, organiser)
    await deliver(settings)
    first = await post_itip(client, admin, itip("COUNTER", meeting["uid"], ZH_ATTENDEE, partstat="TENTATIVE", start="20270301T140000", end="20270301T150000"))
    listed = await client.get(f"/api/v1/meetings/{meeting['id']}/proposals", headers=organiser.headers)
    declined = await client.post(
        f"/api/v1/meetings/{meeting['id']}/proposals/{first.json()['proposal_id']}/decline", json={"comment": "时间不便"}, headers=organiser.headers
    )
    await deliver(settings)

    assert first.status_code == 200, first.text
    assert [p["proposed_start"][:19] for p in listed.json()] == ["2027-03-01T06:00:00"]
    assert declined.status_code == 200
    assert declined.json()["status"] == "declined"
    method, _calendar, event = event_of(smtp_sink, ZH_ATTENDEE)
    assert method == "DECLINECOUNTER"
    assert str(event["UID"]) == meeting["uid"]
    assert len(smtp_sink.to(EN_ATTENDEE)) == 1
    assert len(smtp_sink.to(CHAIR)) == 1

    second = await post_itip(client, admin, itip("COUNTER", meeting["uid"], EN_ATTENDEE, partstat="TENTATIVE", start="20270301T160000", end="20270301T170000"))
    accepted = await client.post(f"/api/v1/meetings/{meeting['id']}/proposals/{second.json()['proposal_id']}/accept", headers=organiser.headers)
    twice = await client.post(f"/api/v1/meetings/{meeting['id']}/proposals/{second.json()['proposal_id']}/accept", headers=organiser.headers)
    await deliver(settings)

    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["sequence"] == 1
    assert accepted.json()["starts_at"].startswith("2027-03-01T08:00:00")
    assert twice.status_code == 400
    for address in (CHAIR, ZH_ATTENDEE, EN_ATTENDEE):
        method, _calendar, event = event_of(smtp_sink, address)
        assert method == "REQUEST"
        assert int(event["SEQUENCE"]) == 1
        assert event["DTSTART"].dt.isoformat() == "2027-03-01T16:00:00+08:00"

