from __future__ import annotations

from litestar.testing import AsyncTestClient

from confsvc.settings import Settings
from tests.conftest import Account
from tests.invitations.conftest import MAIL_FROM
from tests.invitations.support import (
    CHAIR,
    EN_ATTENDEE,
    HOST_PIN,
    PARTICIPANT_PIN,
    ZH_ATTENDEE,
    add_person,
    book_meeting,
    deliver,
    event_of,
)
from tests.outbox.helpers import dispatcher_for
from tests.outbox.sink import SmtpSink, text_body


async def test_booking_invites_every_attendee(
    client: AsyncTestClient, settings: Settings, admin: Account, organiser: Account, smtp_sink: SmtpSink
) -> None:
    meeting = await book_meeting(client, settings, admin, organiser)
    sent = await deliver(settings)

    assert sent == 3
    for address in (CHAIR, ZH_ATTENDEE, EN_ATTENDEE):
        assert len(smtp_sink.to(address)) == 1
        method, calendar, event = event_of(smtp_sink, address)
        assert method == "REQUEST"
        assert str(calendar["METHOD"]) == "REQUEST"
        assert str(event["UID"]) == meeting["uid"]
        assert int(event["SEQUENCE"]) == meeting["sequence"] == 0
        assert str(event["ORGANIZER"]) == f"mailto:{MAIL_FROM}"
        assert event["ORGANIZER"].params["CN"] == "张伟"
        description = str(event["DESCRIPTION"])
        assert "+861012345678" in description
        assert PARTICIPANT_PIN in description
        assert "会议规则 / Meeting rules" in description
    assert HOST_PIN in str(event_of(smtp_sink, CHAIR)[2]["DESCRIPTION"])
    assert HOST_PIN not in str(event_of(smtp_sink, ZH_ATTENDEE)[2]["DESCRIPTION"])
    assert HOST_PIN not in text_body(smtp_sink.to(ZH_ATTENDEE)[0])
    assert HOST_PIN in text_body(smtp_sink.to(CHAIR)[0])
    assert str(smtp_sink.to(ZH_ATTENDEE)[0]["Subject"]) == "会议邀请：季度经营分析会"
    assert str(smtp_sink.to(EN_ATTENDEE)[0]["Subject"]) == "Invitation: 季度经营分析会"
    assert "Reply online: http://confsvc.test/rsvp/" in text_body(smtp_sink.to(EN_ATTENDEE)[0])


async def test_reschedule_sends_request_with_next_sequence(
    client: AsyncTestClient, settings: Settings, admin: Account, organiser: Account, smtp_sink: SmtpSink
) -> None:
    meeting = await book_meeting(client, settings, admin, organiser)
    await deliver(settings)
    moved = await client.patch(
        f"/api/v1/meetings/{meeting['id']}",
        json={"starts_at": "2027-03-01T14:00:00+08:00", "ends_at": "2027-03-01T15:00:00+08:00"},
        headers=organiser.headers,
    )
    await deliver(settings)

    assert moved.status_code == 200, moved.text
    assert moved.json()["sequence"] == 1
    for address in (CHAIR, ZH_ATTENDEE, EN_ATTENDEE):
        assert len(smtp_sink.to(address)) == 2
        method, _calendar, event = event_of(smtp_sink, address)
        assert method == "REQUEST"
        assert int(event["SEQUENCE"]) == 1
        assert event["DTSTART"].dt.isoformat() == "2027-03-01T14:00:00+08:00"
    assert str(smtp_sink.to(ZH_ATTENDEE)[-1]["Subject"]) == "会议变更：季度经营分析会"


async def test_attendee_changes_invite_added_and_cancel_removed(
    client: AsyncTestClient, settings: Settings, admin: Account, organiser: Account, smtp_sink: SmtpSink
) -> None:
    meeting = await book_meeting(client, settings, admin, organiser)
    await deliver(settings)
    changed = await client.patch(
        f"/api/v1/meetings/{meeting['id']}",
        json={"attendees": [{"email": EN_ATTENDEE, "name": "John Smith"}, {"email": "zhao.lei@example.com", "name": "赵磊"}]},
        headers=organiser.headers,
    )
    await deliver(settings)

    assert changed.status_code == 200, changed.text
    assert changed.json()["sequence"] == 0
    removed_method, _calendar, removed_event = event_of(smtp_sink, ZH_ATTENDEE)
    assert removed_method == "CANCEL"
    attendees = removed_event.get("ATTENDEE")
    attendees = attendees if isinstance(attendees, list) else [attendees]
    assert [str(a) for a in attendees] == ["mailto:li.na@example.com"]
    added_method, _calendar, added_event = event_of(smtp_sink, "zhao.lei@example.com")
    assert added_method == "REQUEST"
    assert str(added_event["UID"]) == meeting["uid"]
    # Unchanged attendees get nothing new when SEQUENCE stays.
    assert len(smtp_sink.to(EN_ATTENDEE)) == 1
    assert len(smtp_sink.to(CHAIR)) == 1


async def test_cancel_sends_cancel_to_everyone(
    client: AsyncTestClient, settings: Settings, admin: Account, organiser: Account, smtp_sink: SmtpSink
) -> None:
    meeting = await book_meeting(client, settings, admin, organiser)
    await deliver(settings)
    cancelled = await client.post(f"/api/v1/meetings/{meeting['id']}/cancel", json={"reason": "改期"}, headers=organiser.headers)
    again = await client.post(f"/api/v1/meetings/{meeting['id']}/cancel", json={}, headers=organiser.headers)
    await deliver(settings)

    assert cancelled.status_code == 200
    assert again.status_code == 200
    for address in (CHAIR, ZH_ATTENDEE, EN_ATTENDEE):
        assert len(smtp_sink.to(address)) == 2
        method, _calendar, event = event_of(smtp_sink, address)
        assert method == "CANCEL"
        assert str(event["STATUS"]) == "CANCELLED"
        assert int(event["SEQUENCE"]) == 1
    assert "原因：改期" in text_body(smtp_sink.to(ZH_ATTENDEE)[-1])


async def test_occurrence_edit_and_cancel_carry_recurrence_id(
    client: AsyncTestClient, settings: Settings, admin: Account, organiser: Account, smtp_sink: SmtpSink
) -> None:
    meeting = await book_meeting(client, settings, admin, organiser, rrule="FREQ=WEEKLY;COUNT=4")
    await deliver(settings)
    second = meeting["occurrences"][1]["recurrence_id"]
    third = meeting["occurrences"][2]["recurrence_id"]
    moved = await client.patch(
        f"/api/v1/meetings/{meeting['id']}/occurrences/{second}",
        json={"starts_at": "2027-03-08T11:00:00+08:00", "ends_at": "2027-03-08T12:00:00+08:00"},
        headers=organiser.headers,
    )
    await deliver(settings)
    dropped = await client.post(f"/api/v1/meetings/{meeting['id']}/occurrences/{third}/cancel", headers=organiser.headers)
    await deliver(settings)

    assert moved.status_code == 200, moved.text
    assert dropped.status_code == 200, dropped.text
    mails = smtp_sink.to(ZH_ATTENDEE)
    assert len(mails) == 3
    _method, calendar, _event = event_of(smtp_sink, ZH_ATTENDEE, 1)
    overrides = [e for e in calendar.walk("VEVENT") if "RECURRENCE-ID" in e]
    assert len(overrides) == 1
    assert overrides[0]["RECURRENCE-ID"].dt.isoformat() == "2027-03-08T09:30:00+08:00"
    assert overrides[0]["DTSTART"].dt.isoformat() == "2027-03-08T11:00:00+08:00"
    assert int(overrides[0]["SEQUENCE"]) == 1
    method, _calendar, event = event_of(smtp_sink, ZH_ATTENDEE, 2)
    assert method == "CANCEL"
    assert event["RECURRENCE-ID"].dt.isoformat() == "2027-03-15T09:30:00+08:00"
    assert int(event["SEQUENCE"]) == 2


async def test_invitation_ics_endpoint(
    client: AsyncTestClient, settings: Settings, admin: Account, organiser: Account, smtp_sink: SmtpSink
) -> None:
    meeting = await book_meeting(client, settings, admin, organiser)
    response = await client.get(f"/api/v1/meetings/{meeting['id']}/invitation.ics", headers=organiser.headers)
    outsider = await client.get(f"/api/v1/meetings/{meeting['id']}/invitation.ics", headers=admin.headers)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    assert "METHOD:REQUEST" in response.text
    assert f"UID:{meeting['uid']}" in response.text
    assert outsider.status_code == 200
    assert HOST_PIN not in outsider.text.replace("\r\n ", "")


async def test_language_falls_back_to_service_default(
    client: AsyncTestClient, settings: Settings, admin: Account, organiser: Account, smtp_sink: SmtpSink
) -> None:
    await add_person(settings, "zhou.min@example.com", "周敏")
    meeting = await book_meeting(client, settings, admin, organiser, attendees=[{"email": "zhou.min@example.com"}, {"email": "guest@partner.example"}])
    await deliver(settings)

    assert meeting["status"] == "scheduled"
    assert str(smtp_sink.to("guest@partner.example")[0]["Subject"]).startswith("会议邀请")
    assert str(smtp_sink.to("guest@partner.example")[0]["Content-Language"]) == "zh-CN"


async def test_smtp_outage_delivers_each_invitation_once(
    client: AsyncTestClient, settings: Settings, admin: Account, organiser: Account, smtp_sink: SmtpSink
) -> None:
    smtp_sink.stop()
    meeting = await book_meeting(client, settings, admin, organiser)
    async with dispatcher_for(settings) as dispatcher:
        down = await dispatcher.run_once()
        pending = await client.get("/api/v1/deliveries", params={"status": "pending"}, headers=admin.headers)
        smtp_sink.start()
        up = await dispatcher.run_until_idle()
        idle = await dispatcher.run_until_idle()

    assert down.retried == 3
    assert len(pending.json()) == 3
    assert all(row["last_error"] for row in pending.json())
    assert up.sent == 3
    assert idle.claimed == 0
    for address in (CHAIR, ZH_ATTENDEE, EN_ATTENDEE):
        mails = smtp_sink.to(address)
        assert len(mails) == 1
        assert str(event_of(smtp_sink, address)[2]["UID"]) == meeting["uid"]
