"""Browser scenarios in headless Chromium against a real server on 127.0.0.1 (SQLite).

Skipped with the reason shown when /usr/bin/chromium is missing, unless
CONFSVC_REQUIRE_BROWSER=1 (then the missing browser fails the run).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from web_helpers import PASSWORD, People, add_bridge, add_meeting, make_people

from confsvc.settings import Settings
from confsvc.web.browser import CHROMIUM, free_port, launch_chromium, running_server

pytestmark = pytest.mark.browser

if not Path(CHROMIUM).exists():
    if os.environ.get("CONFSVC_REQUIRE_BROWSER") == "1":
        raise RuntimeError(f"CONFSVC_REQUIRE_BROWSER=1 but {CHROMIUM} is missing (apt-get install -y chromium fonts-noto-cjk)")
    pytest.skip(f"{CHROMIUM} is missing: browser tests skipped (apt-get install -y chromium fonts-noto-cjk)", allow_module_level=True)

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

ZONE = ZoneInfo("Asia/Shanghai")


@dataclass
class Site:
    url: str
    people: People
    settings: Settings
    meeting_id: str
    agenda_meeting_id: str


@pytest.fixture(scope="module")
def site(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("web-browser")
    shutil.copy(sqlite_template, folder / "confsvc.sqlite3")
    port = free_port()
    settings = Settings.from_env(
        {
            "CONFSVC_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'confsvc.sqlite3'}",
            "CONFSVC_DATA_DIR": str(folder / "data"),
            "CONFSVC_SECRET_KEY": "browser-test-key",
            "CONFSVC_SCHEDULER_ENABLED": "false",
            "CONFSVC_BASE_URL": f"http://127.0.0.1:{port}",
            # NOTE: every page, htmx request and static file counts against the per-address
            # limit for requests without an API token (120 a minute by default). The scenarios
            # here send more than that from one address, and they do not test the limit.
            "CONFSVC_RATE_LIMIT_PUBLIC_PER_MINUTE": "0",
        }
    )

    async def seed() -> People:
        people = await make_people(settings)
        await add_bridge(settings, "总部电话会议桥 1", 20, "+861065550101", "1001")
        await add_bridge(settings, "小型会议桥", 4, "+861065550104", "1004")
        return people

    people = asyncio.run(seed())
    meeting_id = asyncio.run(add_meeting(
        settings, organiser=people.organiser.email, chair=people.member.email, secretary=people.secretary.email,
        attendees=[people.member.email, people.other.email], title="经营例会", starts_in=timedelta(hours=2),
    ))
    agenda_meeting_id = asyncio.run(add_meeting(
        settings, organiser=people.organiser.email, chair=people.member.email, secretary=people.secretary.email,
        attendees=[people.member.email, people.other.email], title="议程调整会", starts_in=timedelta(days=3),
    ))
    with running_server(settings, port=port) as url:
        yield Site(url=url, people=people, settings=settings, meeting_id=str(meeting_id), agenda_meeting_id=str(agenda_meeting_id))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(site: Site, browser: Any) -> Iterator[Page]:
    context = browser.new_context(locale="zh-CN", base_url=site.url)
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def log_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("电子邮箱").fill(email)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name=re.compile("^(我的会议|My meetings)$"))).to_be_visible()


def log_out(page: Page) -> None:
    page.get_by_role("button", name=re.compile("^(退出登录|Sign out)$")).click()
    expect(page.get_by_role("heading", name="登录")).to_be_visible()


def book_meeting(page: Page, title: str, *, attendee_query: str, attendee_name: str, start: str) -> str:
    page.goto("/book")
    page.get_by_label("会议主题").fill(title)
    page.get_by_label("日期").fill((datetime.now(ZONE) + timedelta(days=2)).date().isoformat())
    page.get_by_label("开始时间").fill(start)
    page.get_by_label("时长（分钟）").fill("45")
    page.get_by_label("在通讯录中搜索").fill(attendee_query)
    page.locator("#people-results li", has_text=attendee_name).get_by_role("button", name="添加").click()
    expect(page.locator("#attendee-chips")).to_contain_text(attendee_name)
    expect(page.locator("#bridge-day")).to_contain_text("总部电话会议桥 1")
    expect(page.locator("#bridge-day")).to_contain_text("2 人参会")
    page.get_by_label(re.compile("每行一项")).fill("上次决议落实 | 10\n本期议题 | 30")
    page.get_by_role("button", name="预约会议", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("会议已预约")
    match = re.search(r"/meetings/([0-9a-f-]{36})", page.url)
    assert match, page.url
    return match.group(1)


def test_web_browser_book_reply_and_dial_in(page: Page, site: Site) -> None:
    log_in(page, site.people.organiser.email)
    meeting_id = book_meeting(page, "季度预算评审", attendee_query="李", attendee_name="李娜", start="10:00")
    expect(page.locator("#when")).to_contain_text("10:00")
    expect(page.locator("a[href^='tel:+86106555010']")).to_have_count(1)
    log_out(page)

    log_in(page, site.people.member.email)
    row = page.locator(f"#row-{meeting_id}")
    expect(row).to_contain_text("季度预算评审")
    expect(row.locator(".partstat")).to_have_text("尚未答复")
    # Keyboard only: focus the reply button and press Enter.
    row.get_by_role("button", name="已接受").focus()
    page.keyboard.press("Enter")
    expect(page.locator(f"#row-{meeting_id} .partstat")).to_have_attribute("data-partstat", "ACCEPTED")
    page.reload()
    expect(page.locator(f"#row-{meeting_id} .partstat")).to_have_text("已接受")
    page.locator(f"#row-{meeting_id}").get_by_role("link", name="季度预算评审").click()
    expect(page.locator("#access-code")).to_have_text(re.compile(r"^100[14]$"))
    with page.expect_download() as download:
        page.get_by_role("link", name="加入日历 (.ics)").click()
    assert "BEGIN:VCALENDAR" in Path(download.value.path()).read_text(encoding="utf-8")


def test_web_browser_inline_errors_and_conflicts(page: Page, site: Site) -> None:
    log_in(page, site.people.organiser.email)
    page.goto("/book")
    page.get_by_label("会议主题").fill("")
    page.get_by_label("开始时间").fill("09:00")
    page.get_by_label("按电子邮箱添加更多参会人（以逗号或换行分隔）").fill("not-an-address")
    page.get_by_role("button", name="预约会议", exact=True).click()
    expect(page.locator("#form-errors")).to_be_visible()
    expect(page.locator("[aria-invalid='true']").first).to_be_visible()
    expect(page.get_by_label("会议主题")).to_have_attribute("aria-invalid", "true")

    book_meeting(page, "第一场", attendee_query="王", attendee_name="王伟", start="14:00")
    page.goto("/book")
    page.get_by_label("会议主题").fill("第二场")
    page.get_by_label("日期").fill((datetime.now(ZONE) + timedelta(days=2)).date().isoformat())
    page.get_by_label("开始时间").fill("14:00")
    page.get_by_label("时长（分钟）").fill("45")
    expect(page.locator("#bridge-day")).to_contain_text("该时段已占用")
    busy = page.locator("#bridge-day label", has_text="该时段已占用").locator("input")
    busy.check()
    page.wait_for_load_state("networkidle")
    expect(busy).to_be_checked()
    page.get_by_role("button", name="预约会议", exact=True).click()
    expect(page.locator("#conflict")).to_contain_text("可选的空闲方案")
    page.locator("#conflict").get_by_role("button", name="改订此方案").first.click()
    expect(page.get_by_role("status")).to_contain_text("会议已预约")


def test_web_browser_language_switch(page: Page, site: Site) -> None:
    log_in(page, site.people.member.email)
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", name="My meetings", exact=True)).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.goto("/meetings?show=past")
    expect(page.get_by_role("link", name="Upcoming")).to_be_visible()
    page.get_by_role("link", name="中文").click()
    expect(page.get_by_role("heading", name="我的会议", exact=True)).to_be_visible()


def test_web_browser_admin_dashboard_import_and_bridges(page: Page, site: Site, tmp_path: Path) -> None:
    log_in(page, site.people.admin.email)
    page.get_by_role("link", name="系统管理").click()
    expect(page.locator("body")).to_have_attribute("data-charts-ready", "true")
    expect(page.locator("#chart-meetings canvas")).to_have_count(1)

    page.goto("/admin/people")
    bad = tmp_path / "bad.csv"
    bad.write_text("email,name,department\nzhou.jie@example.cn,周杰,市场部\nnot-an-address,坏行,市场部\n", encoding="utf-8")
    page.get_by_label("CSV 文件").set_input_files(str(bad))
    page.get_by_role("button", name="导入", exact=True).click()
    expect(page.locator("#import-errors")).to_contain_text("3")
    expect(page.locator("#people")).not_to_contain_text("zhou.jie@example.cn")
    good = tmp_path / "good.csv"
    good.write_text("email,name,department\nzhou.jie@example.cn,周杰,市场部\n", encoding="utf-8")
    page.get_by_label("CSV 文件").set_input_files(str(good))
    page.get_by_role("button", name="导入", exact=True).click()
    expect(page.locator("#import-ok")).to_contain_text("新增 1 人")
    expect(page.locator("#people")).to_contain_text("zhou.jie@example.cn")

    page.goto("/admin/bridges")
    page.get_by_label("名称").fill("上海分部会议桥")
    page.get_by_label("端口数").fill("0")
    page.get_by_role("button", name="添加会议桥").click()
    expect(page.locator("#err-capacity")).to_be_visible()
    page.get_by_label("端口数").fill("12")
    page.get_by_label("拨入号码（E.164 格式，例如 +861065550101）").fill("+862155550103")
    page.get_by_role("button", name="添加会议桥").click()
    expect(page.locator("#bridges")).to_contain_text("上海分部会议桥")
    page.goto("/admin/settings")
    expect(page.locator("#settings")).to_contain_text("***")


def test_web_browser_minutes_console_and_action_item(page: Page, site: Site) -> None:
    local = datetime.now(ZONE) + timedelta(hours=2)
    log_in(page, site.people.secretary.email)
    page.get_by_role("link", name="会议纪要").click()
    page.get_by_role("link", name="经营例会").click()
    page.get_by_label("实际开始时间").fill(local.strftime("%H:%M"))
    page.get_by_label("实际结束时间").fill((local + timedelta(minutes=50)).strftime("%H:%M"))
    page.get_by_label("李娜", exact=True).select_option("present")
    page.get_by_label("王伟", exact=True).select_option("absent")
    page.locator(".agenda-note[data-item='1']").get_by_role("button", name="开始计时").click()
    page.get_by_label(re.compile("上次决议落实")).fill("上次决议均已落实。")
    page.get_by_label("每行一条决议").fill("同意第二季度预算方案")
    page.get_by_label("事项 1").fill("提交预算明细")
    page.get_by_label("负责人（电子邮箱） 1").fill(site.people.other.email)
    page.get_by_label("截止日期 1").fill("2031-01-10")
    expect(page.locator("#save-status [data-saved='true']")).to_be_visible()
    page.wait_for_load_state("networkidle")
    page.reload()
    expect(page.get_by_label(re.compile("上次决议落实"))).to_have_value("上次决议均已落实。")
    expect(page.get_by_label("事项 1")).to_have_value("提交预算明细")
    expect(page.locator(".agenda-note[data-item='1'] .timer-toggle")).to_have_text("停止计时")
    page.get_by_role("button", name="提交审核").click()
    expect(page.locator("#minutes-status")).to_have_attribute("data-status", "submitted")
    log_out(page)

    log_in(page, site.people.member.email)  # the chair
    page.goto(f"/minutes/{site.meeting_id}")
    page.get_by_role("button", name="批准").click()
    expect(page.locator("#minutes-status")).to_have_attribute("data-status", "approved")
    with page.expect_download() as download:
        page.get_by_role("link", name="下载 .docx").click()
    assert Path(download.value.path()).read_bytes()[:2] == b"PK"
    page.get_by_role("button", name="分发纪要").click()
    # The PDF is made by LibreOffice when it is installed, which can take several seconds.
    expect(page.locator("#distribution-result")).to_contain_text("纪要正在发给", timeout=30_000)
    expect(page.locator("#receipts tr[data-receipt='pending']")).to_have_count(4)
    page.reload()
    expect(page.locator("#minutes-status")).to_have_attribute("data-status", "distributed")
    log_out(page)

    log_in(page, site.people.other.email)  # profile language: English
    page.get_by_role("link", name="My action items").click()
    card = page.locator("section.action", has_text="提交预算明细")
    card.get_by_label("Progress (%)").fill("60")
    card.get_by_label("What was done").fill("明细已整理过半")
    card.get_by_role("button", name="Post progress").click()
    expect(page.locator("section.action", has_text="提交预算明细").locator(".progress-value")).to_have_text("60%")


@contextmanager
def agenda_saved(page: Page) -> Iterator[None]:
    """Wait for the agenda request started inside the block, then for its "saved" notice."""
    with page.expect_response(lambda response: response.url.endswith("/agenda")) as answer:
        yield
    assert answer.value.status == 200, answer.value.text()
    expect(page.locator("#agenda-saved")).to_be_visible()


def test_web_browser_agenda_and_material(page: Page, site: Site, tmp_path: Path) -> None:
    meeting_id = site.agenda_meeting_id
    log_in(page, site.people.organiser.email)
    page.goto(f"/meetings/{meeting_id}")
    editor = page.locator("#agenda-editor")
    editor.get_by_label("新议程项的标题").fill("风险评估")
    editor.get_by_label("新议程项的分钟数").fill("30")
    with agenda_saved(page):
        editor.get_by_role("button", name="添加议程项").click()
    expect(page.locator("#agenda-warnings")).to_contain_text("议程共需 80 分钟，但会议只有 60 分钟")

    with agenda_saved(page):
        page.get_by_role("button", name="将第 3 项上移").click()
    expect(page.get_by_label("第 2 项的标题")).to_have_value("风险评估")
    # Keyboard only: Enter in a title field saves the agenda.
    page.get_by_label("第 1 项的标题").fill("上次决议落实（更新）")
    with agenda_saved(page):
        page.get_by_label("第 1 项的标题").press("Enter")
    with agenda_saved(page):
        page.get_by_role("button", name="删除第 3 项").click()
    expect(page.locator("#agenda-items tr.agenda-row")).to_have_count(2)

    page.get_by_label("第 1 项的分钟数").fill("0")
    page.get_by_role("button", name="保存议程").click()
    expect(page.locator("#err-item-0-duration")).to_be_visible()
    expect(page.get_by_label("第 1 项的分钟数")).to_have_attribute("aria-invalid", "true")
    page.reload()
    expect(page.get_by_label("第 1 项的标题")).to_have_value("上次决议落实（更新）")
    expect(page.get_by_label("第 1 项的分钟数")).to_have_value("10")

    material = tmp_path / "风险清单.md"
    material.write_text("# 风险清单\n\n- 汇率\n", encoding="utf-8")
    page.get_by_label("要上传的文件").set_input_files(str(material))
    page.get_by_label("所属").select_option(label="2. 风险评估")
    page.get_by_role("button", name="上传", exact=True).click()
    expect(page.locator("#material-uploaded")).to_contain_text("风险清单.md")
    expect(page.locator("#material-list")).to_contain_text("2. 风险评估")
    wrong = tmp_path / "setup.exe"
    wrong.write_bytes(b"MZ\x90\x00")
    page.get_by_label("要上传的文件").set_input_files(str(wrong))
    page.get_by_role("button", name="上传", exact=True).click()
    expect(page.locator("#err-file")).to_contain_text(".exe")
    expect(page.locator("#material-list tbody tr")).to_have_count(1)
    log_out(page)

    log_in(page, site.people.other.email)  # an attendee downloads the material
    page.goto(f"/meetings/{meeting_id}")
    with page.expect_download() as download:
        page.get_by_role("link", name="风险清单.md").click()
    assert "汇率" in Path(download.value.path()).read_text(encoding="utf-8")


def test_web_browser_room_and_equipment_in_english(page: Page, site: Site) -> None:
    log_in(page, site.people.admin.email)
    page.get_by_role("link", name="English").click()
    page.goto("/admin/rooms")
    page.get_by_label("Room name").fill("Board room")
    page.get_by_label("Seats").fill("-1")
    page.get_by_role("button", name="Add the room").click()
    expect(page.locator("#err-capacity")).to_contain_text("from 0 to 100000")
    page.get_by_label("Seats").fill("12")
    page.get_by_label("Location (building, floor)").fill("HQ, floor 7")
    page.get_by_role("button", name="Add the room").click()
    expect(page.get_by_role("heading", name="Board room")).to_be_visible()

    page.get_by_label(re.compile("^Item")).fill("speakerphone")
    page.get_by_role("button", name="Add the item").click()
    expect(page.locator("#item-speakerphone")).to_have_attribute("data-status", "ok")
    page.get_by_label("Fault of speakerphone").fill("no sound")
    page.get_by_role("button", name="Report a fault").click()
    expect(page.locator("#item-speakerphone")).to_have_attribute("data-status", "out_of_order")
    expect(page.locator("#item-speakerphone")).to_contain_text("Out of order")
    page.get_by_role("button", name="Mark repaired").click()
    expect(page.locator("#item-speakerphone")).to_have_attribute("data-status", "ok")
    page.get_by_role("link", name="All rooms").click()
    expect(page.locator("#rooms")).to_contain_text("Board room")


def test_web_browser_calendar_feed_link(page: Page, site: Site) -> None:
    log_in(page, site.people.member.email)
    field = page.get_by_label("日历链接")
    expect(field).to_have_value(re.compile(r"^http://127\.0\.0\.1:\d+/feed/[0-9a-f]{32}-[0-9a-f]{40}\.ics$"))
    page.locator("#calendar-feed").get_by_role("button", name="复制链接").click()
    expect(page.locator("#calendar-feed button.copy")).to_have_attribute("data-copied", "true")
    feed = page.request.get(field.input_value())
    assert feed.ok
    assert "BEGIN:VCALENDAR" in feed.text()
