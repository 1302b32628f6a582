"""Demo company for ``confsvc serve --demo``: people, bridges and a week of meetings.

Loading is idempotent: a second run finds the demo administrator and only issues a
fresh API token, so restarting the demo never duplicates data.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from confsvc.booking.schemas import AgendaItemIn, AttendeeIn, MeetingCreate
from confsvc.booking.services import MeetingService
from confsvc.bridges.schemas import BridgeCreate, DialIn
from confsvc.bridges.services import BridgeService
from confsvc.db.engine import create_engine, create_session_factory
from confsvc.db.models import Meeting, Person
from confsvc.directory.schemas import PersonCreate
from confsvc.directory.services import DirectoryService
from confsvc.errors import BookingConflict
from confsvc.followup.demo import load_followup_demo
from confsvc.minutes.demo import load_minutes_demo
from confsvc.preparation.demo import load_preparation_demo
from confsvc.settings import Settings

logger = logging.getLogger(__name__)

DEMO_DOMAIN = "demo.confsvc.cn"
DEMO_PASSWORD = "demo-password"

DEPARTMENTS = ("总经理办公室", "财务部", "人力资源部", "市场部", "技术研发部")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN_NAMES = ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英", "霞", "平")
BRIDGES = (
    ("总部电话会议桥 1", 50, "+861065550101", "1001"),
    ("总部电话会议桥 2", 30, "+861065550102", "1002"),
    ("上海分部会议桥", 20, "+862155550103", "1003"),
    ("小型会议桥", 8, "+861065550104", "1004"),
)
MEETINGS = (
    ("周一经营例会", 0, time(9, 30), 60, "总经理办公室"),
    ("财务月度结账会", 1, time(14, 0), 90, "财务部"),
    ("招聘计划评审", 2, time(10, 0), 45, "人力资源部"),
    ("新品上市推广讨论", 3, time(15, 0), 60, "市场部"),
    ("技术架构评审会", 4, time(10, 30), 120, "技术研发部"),
    ("安全生产电话会", 2, time(16, 0), 30, "总经理办公室"),
)


@dataclass
class DemoSummary:
    logins: list[tuple[str, str, str]] = field(default_factory=list)
    """(role, e-mail, API token) for each demo login."""
    created: bool = False
    people: int = 0
    meetings: int = 0

    def banner(self, url: str) -> str:
        lines = [
            "",
            "confsvc demo",
            f"  service:  {url}",
            f"  API docs: {url}/schema",
            f"  data:     {'loaded' if self.created else 'already present'} ({self.people} people, {self.meetings} meetings)",
            f"  logins (password {DEMO_PASSWORD!r}; API token for Authorization: Bearer ...):",
        ]
        lines += [f"    {role:<10} {email:<32} {token}" for role, email, token in self.logins]
        lines.append("  every other demo person (chairs, attendees) signs in with the same password;")
        lines.append(f"  their addresses are listed at {url}/admin/people")
        lines.append("")
        return "\n".join(lines)


def _people() -> list[tuple[str, str, str]]:
    """Return 40 (email, name, department) tuples, the same on every run."""
    chooser = random.Random(20270301)
    people = []
    used: set[str] = set()
    index = 0
    while len(people) < 40:
        name = chooser.choice(SURNAMES) + chooser.choice(GIVEN_NAMES)
        if name in used:
            continue
        used.add(name)
        index += 1
        people.append((f"user{index:02d}@{DEMO_DOMAIN}", name, DEPARTMENTS[index % len(DEPARTMENTS)]))
    return people


async def load_demo(settings: Settings, *, now: datetime | None = None) -> DemoSummary:
    """Load the demo company into the database and return the logins to print."""
    now = now or datetime.now(UTC)
    summary = DemoSummary()
    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            directory = DirectoryService(session)
            accounts = (
                ("admin", f"admin@{DEMO_DOMAIN}", "系统管理员", ["admin"]),
                ("organiser", f"organiser@{DEMO_DOMAIN}", "赵敏", ["organiser"]),
                ("secretary", f"secretary@{DEMO_DOMAIN}", "钱秘书", ["secretary"]),
            )
            existing = await directory.find_by_email(accounts[0][1])
            summary.created = existing is None
            people: dict[str, Person] = {}
            for role, email, name, roles in accounts:
                person = await directory.find_by_email(email)
                if person is None:
                    person = await directory.create(
                        PersonCreate(email=email, name=name, department="总经理办公室", roles=roles, locale="zh-CN"),
                        password=DEMO_PASSWORD,
                    )
                people[role] = person
                summary.logins.append((role, email, await directory.create_token(person, name="demo")))

            if summary.created:
                staff = []
                for email, name, department in _people():
                    # Chairs and attendees sign in too, with the same password.
                    staff.append(
                        await directory.create(
                            PersonCreate(email=email, name=name, department=department, locale="zh-CN"), password=DEMO_PASSWORD
                        )
                    )
                bridges = BridgeService(session, settings.booking)
                for name, capacity, number, code in BRIDGES:
                    await bridges.create(
                        BridgeCreate(
                            name=name, capacity=capacity, dial_in=[DialIn(number=number, label="中国大陆")],
                            access_code=code, host_pin=code[::-1] + "9", participant_pin=code + "0",
                        )
                    )
                await _book_week(session, settings, people, staff, now=now)
            await session.commit()

            # Each domain adds its part of the demo; every loader is idempotent.
            await load_preparation_demo(session, settings, now=now)
            await session.commit()
            await load_minutes_demo(session, settings, now=now)
            await session.commit()
            await load_followup_demo(session, settings, now=now)
            await session.commit()

            summary.people = len(list(await session.scalars(select(Person.id))))
            summary.meetings = len(list(await session.scalars(select(Meeting.id))))
    finally:
        await engine.dispose()
    logger.info("demo loaded created=%s people=%d meetings=%d", summary.created, summary.people, summary.meetings)
    return summary


async def demo_addresses(settings: Settings) -> list[str]:
    """Return every person's address, for creating their sandbox calendars."""
    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            return list(await session.scalars(select(Person.email)))
    finally:
        await engine.dispose()


async def _book_week(session, settings: Settings, people: dict[str, Person], staff: list[Person], *, now: datetime) -> None:  # type: ignore[no-untyped-def]
    zone = ZoneInfo(settings.time_zone)
    today = now.astimezone(zone).date()
    monday = today + timedelta(days=7 - today.weekday())
    meetings = MeetingService(session, settings)
    organiser = people["organiser"]
    for index, (title, weekday, start, minutes, department) in enumerate(MEETINGS):
        members = [p for p in staff if p.department and p.department.name == department][:6] + staff[index : index + 3]
        attendees = {p.email: AttendeeIn(email=p.email, name=p.name) for p in members}
        starts_at = datetime.combine(monday + timedelta(days=weekday), start, tzinfo=zone)
        request = MeetingCreate(
            title=title,
            description=f"{department}主持。请提前 5 分钟入会，发言前请报姓名。",
            starts_at=starts_at,
            duration_minutes=minutes,
            time_zone=settings.time_zone,
            chair=members[0].email,
            secretary=people["secretary"].email,
            attendees=list(attendees.values()),
            agenda=[
                AgendaItemIn(title="上次会议决议落实情况", presenter=members[0].email, duration_minutes=10),
                AgendaItemIn(title="本期议题讨论", presenter=members[1].email, duration_minutes=minutes - 20, needs_materials=True),
                AgendaItemIn(title="工作安排", duration_minutes=10),
            ],
            rrule="FREQ=WEEKLY;COUNT=4" if index == 0 else None,
        )
        try:
            await meetings.create(request, caller=organiser, now=now)
        except BookingConflict:
            logger.warning("demo meeting skipped title=%s reason=no free bridge", title)
