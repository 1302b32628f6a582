"""Take a PNG screenshot of each main page in Chinese and English into docs/screenshots/.

Loads the demo company (``confsvc.demo.load_demo``) into a fresh SQLite file, serves it on
127.0.0.1 and drives Debian's headless Chromium (/usr/bin/chromium) with Playwright.

    python scripts/screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from confsvc.db.migrate import upgrade
from confsvc.demo import DEMO_DOMAIN, DEMO_PASSWORD, load_demo
from confsvc.settings import Settings
from confsvc.web.browser import free_port, launch_chromium, running_server

LANGUAGES = ("zh-CN", "en")


def sign_in(page: Any, email: str) -> None:
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", DEMO_PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(re.compile(r".*/meetings$"))


def shoot(page: Any, path: str, target: Path, *, wait_for: str | None = None) -> None:
    page.goto(path)
    page.wait_for_load_state("networkidle")
    if wait_for:
        page.wait_for_selector(wait_for)
    page.screenshot(path=str(target), full_page=True)
    print(f"wrote {target}")


async def prepare_views(settings: Settings) -> str:
    """Run the pre-meeting checks of the demo week once (the scheduler is off here), so the
    dashboard's check chart has data, and return the id of the demo meeting with approved minutes."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from confsvc.db.engine import create_engine, create_session_factory
    from confsvc.db.models import Meeting, Person
    from confsvc.minutes.demo import DEMO_UID
    from confsvc.preparation.services import CheckService

    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            admin = await session.scalar(select(Person).where(Person.email == f"admin@{DEMO_DOMAIN}"))
            now = datetime.now(UTC)
            week = select(Meeting.id).where(Meeting.status == "scheduled", Meeting.starts_at > now, Meeting.starts_at < now + timedelta(days=8))
            for meeting_id in list(await session.scalars(week)):
                await CheckService(session, settings).run_now(meeting_id, caller=admin)
                await session.commit()
            return str(await session.scalar(select(Meeting.id).where(Meeting.uid == DEMO_UID)))
    finally:
        await engine.dispose()


def take(browser: Any, url: str, out: Path, language: str, *, approved_meeting: str) -> None:
    suffix = "zh" if language == "zh-CN" else "en"
    context = browser.new_context(base_url=url, locale=language, viewport={"width": 1280, "height": 860})
    context.add_cookies([{"name": "confsvc_lang", "value": language, "url": url}])
    page = context.new_page()
    shoot(page, "/login", out / f"login-{suffix}.png")

    sign_in(page, f"organiser@{DEMO_DOMAIN}")
    shoot(page, "/meetings", out / f"my-meetings-{suffix}.png")
    first = page.locator("#my-meetings a[href^='/meetings/']").first.get_attribute("href")
    shoot(page, str(first), out / f"meeting-{suffix}.png")
    shoot(page, "/book", out / f"booking-{suffix}.png", wait_for="#bridge-day .bridge-row")
    page.click("form[action='/logout'] button")

    sign_in(page, f"secretary@{DEMO_DOMAIN}")
    page.goto("/minutes/")
    console = page.locator("#minutes-meetings a").first.get_attribute("href")
    shoot(page, str(console), out / f"minutes-console-{suffix}.png")
    shoot(page, "/actions/", out / f"action-items-{suffix}.png")
    page.click("form[action='/logout'] button")

    sign_in(page, f"admin@{DEMO_DOMAIN}")
    shoot(page, "/admin/", out / f"admin-dashboard-{suffix}.png", wait_for="body[data-charts-ready]")
    shoot(page, "/admin/bridges", out / f"admin-bridges-{suffix}.png")
    shoot(page, "/admin/rooms", out / f"admin-rooms-{suffix}.png")
    room = page.locator("#rooms a[href^='/admin/rooms/']").last.get_attribute("href")
    shoot(page, str(room), out / f"admin-room-{suffix}.png")
    shoot(page, f"/minutes/{approved_meeting}", out / f"minutes-distribution-{suffix}.png", wait_for="#distribute-form")
    shoot(page, "/admin/people", out / f"admin-people-{suffix}.png")
    shoot(page, "/admin/deliveries", out / f"admin-deliveries-{suffix}.png")
    context.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "screenshots")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="confsvc-shots-") as folder:
        port = free_port()
        settings = Settings.from_env(
            {
                "CONFSVC_DATABASE_URL": f"sqlite+aiosqlite:///{Path(folder) / 'demo.sqlite3'}",
                "CONFSVC_DATA_DIR": folder,
                "CONFSVC_SCHEDULER_ENABLED": "false",
                "CONFSVC_BASE_URL": f"http://127.0.0.1:{port}",
                # Pages and static files count against the limit for requests without an API token.
                "CONFSVC_RATE_LIMIT_PUBLIC_PER_MINUTE": "0",
            }
        )
        upgrade(settings.database)
        asyncio.run(load_demo(settings))
        approved_meeting = asyncio.run(prepare_views(settings))
        with running_server(settings, port=port) as url, sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            try:
                for language in LANGUAGES:
                    take(browser, url, args.out, language, approved_meeting=approved_meeting)
            finally:
                browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
