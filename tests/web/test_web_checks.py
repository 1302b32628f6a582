"""The pre-meeting checks section of the meeting page."""

from __future__ import annotations

from datetime import timedelta

from litestar.testing import AsyncTestClient
from web_helpers import People, add_meeting, sign_in

from confsvc.settings import Settings

HTMX = {"HX-Request": "true"}


async def test_web_checks_run_and_show_results(web_client: AsyncTestClient, settings: Settings, people: People, bridge_id: object) -> None:
    meeting_id = await add_meeting(
        settings, organiser=people.organiser.email, chair=people.member.email, secretary=people.secretary.email,
        attendees=[people.other.email], title="预算评审会", starts_in=timedelta(days=3),
    )
    csrf = await sign_in(web_client, people.organiser.email)

    before = await web_client.get(f"/meetings/{meeting_id}")
    assert before.status_code == 200
    assert 'id="checks"' in before.text
    assert 'id="no-checks"' in before.text

    ran = await web_client.post(f"/meetings/{meeting_id}/checks/run", data={"csrf_token": csrf}, headers=HTMX)
    assert ran.status_code == 200, ran.text
    assert 'id="check-results"' in ran.text
    assert "会前检查" in ran.text
    assert "未通过" in ran.text

    english = await web_client.get(f"/meetings/{meeting_id}?lang=en", headers={"Accept-Language": "en"})
    assert 'id="check-results"' in english.text


async def test_web_checks_hidden_from_attendees(web_client: AsyncTestClient, settings: Settings, people: People, bridge_id: object) -> None:
    meeting_id = await add_meeting(
        settings, organiser=people.organiser.email, chair=people.member.email, secretary=people.secretary.email,
        attendees=[people.other.email], title="预算评审会", starts_in=timedelta(days=3),
    )
    csrf = await sign_in(web_client, people.other.email)

    page = await web_client.get(f"/meetings/{meeting_id}")
    denied = await web_client.post(f"/meetings/{meeting_id}/checks/run", data={"csrf_token": csrf}, follow_redirects=False)

    assert page.status_code == 200
    assert 'id="checks"' not in page.text
    assert denied.status_code == 403
