"""Each page returns 200 for its role, 302 to the login page when signed out, 403 for other roles."""

from __future__ import annotations

import uuid

from litestar.testing import AsyncTestClient
from web_helpers import People, sign_in

MEMBER_PAGES = ["/meetings", "/meetings?show=past"]
ORGANISER_PAGES = ["/book", "/book/people?q=li", "/book/bridges?date=2030-01-07&start=10:00&duration=60&time_zone=Asia/Shanghai"]
ADMIN_PAGES = ["/admin", "/admin/bridges", "/admin/rooms", "/admin/people", "/admin/deliveries", "/admin/settings"]


async def test_web_signed_out_pages_redirect_to_login(web_client: AsyncTestClient, people: People) -> None:
    for path in MEMBER_PAGES + ORGANISER_PAGES + ADMIN_PAGES:
        answer = await web_client.get(path, follow_redirects=False)
        assert answer.status_code == 302, path
        assert answer.headers["location"].startswith("/login?next=/"), path


async def test_web_pages_by_role(web_client: AsyncTestClient, people: People, bridge_id: uuid.UUID) -> None:
    await sign_in(web_client, people.member.email)
    for path in MEMBER_PAGES:
        assert (await web_client.get(path)).status_code == 200, path
    for path in ORGANISER_PAGES + ADMIN_PAGES:
        answer = await web_client.get(path, follow_redirects=False)
        assert answer.status_code == 403, path
        assert "<html" in answer.text


async def test_web_organiser_pages(web_client: AsyncTestClient, people: People, bridge_id: uuid.UUID) -> None:
    await sign_in(web_client, people.organiser.email)
    for path in MEMBER_PAGES + ORGANISER_PAGES:
        assert (await web_client.get(path)).status_code == 200, path
    for path in ADMIN_PAGES:
        assert (await web_client.get(path, follow_redirects=False)).status_code == 403, path
    day = await web_client.get(ORGANISER_PAGES[2])
    assert "总部电话会议桥 1" in day.text


async def test_web_admin_pages(web_client: AsyncTestClient, people: People, bridge_id: uuid.UUID) -> None:
    await sign_in(web_client, people.admin.email)
    for path in MEMBER_PAGES + ORGANISER_PAGES + ADMIN_PAGES:
        assert (await web_client.get(path)).status_code == 200, path


async def test_web_favicon_redirects_to_svg(web_client: AsyncTestClient) -> None:
    icon = await web_client.get("/favicon.ico", follow_redirects=False)
    svg = await web_client.get("/static/web/favicon.svg")

    assert icon.status_code == 301
    assert icon.headers["location"] == "/static/web/favicon.svg"
    assert svg.status_code == 200
    assert svg.headers["content-type"].startswith("image/svg+xml")


async def test_web_minutes_link_for_every_member(web_client: AsyncTestClient, people: People) -> None:
    # Chairs and co-signers are ordinary members, and their approvals are on /minutes.
    await sign_in(web_client, people.member.email)

    page = await web_client.get("/meetings")

    assert page.status_code == 200
    assert 'href="/minutes"' in page.text
    listing = await web_client.get("/minutes")
    assert listing.status_code == 200
