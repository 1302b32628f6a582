"""Demo data of the minutes domain: a finished meeting with approved minutes."""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.db.models import AgendaItem, Attendee, Booking, Meeting, Person
from confsvc.minutes.schemas import (
    ActionItemIn,
    AttendanceIn,
    MinutesDraft,
    NoteIn,
    ResolutionIn,
    SubmitRequest,
)
from confsvc.minutes.services import MinutesService
from confsvc.settings import Settings

logger = logging.getLogger(__name__)

DEMO_UID = "demo-minutes-q4-review@confsvc.localhost"

_PEOPLE = (
    ("zhang.wei@example.com", "张伟", ["organiser"]),
    ("wang.fang@example.com", "王芳", ["member"]),
    ("chen.jing@example.com", "陈静", ["secretary"]),
    ("li.na@example.com", "李娜", ["member"]),
    ("zhao.qiang@example.com", "赵强", ["member"]),
    ("liu.yang@example.com", "刘洋", ["member"]),
)


async def load_minutes_demo(session: AsyncSession, settings: Settings, *, now: datetime) -> Meeting:
    """Insert a meeting held three days before ``now`` (aware) with approved minutes.

    The meeting is written directly, bypassing the booking notice rule and without a bridge.
    The minutes go through the normal draft, submit and approve steps, so the number, the
    frozen .docx, the resolution register and the action items exist as after real use.
    People are looked up by e-mail and created when missing. A second call returns the
    meeting of the first. The caller commits.
    """
    existing = await session.scalar(select(Meeting).where(Meeting.uid == DEMO_UID))
    if existing is not None:
        return existing

    people = {email: await _person(session, email, name, roles) for email, name, roles in _PEOPLE}
    zone = ZoneInfo(settings.time_zone)
    local_day = (now.astimezone(zone) - timedelta(days=3)).date()
    starts_at = datetime.combine(local_day, time(14, 0), tzinfo=zone)
    ends_at = starts_at + timedelta(hours=1, minutes=30)

    meeting = Meeting(
        uid=DEMO_UID,
        title="第4季度经营分析会",
        description="季度经营情况通报与下季度预算调整。",
        starts_at=starts_at,
        ends_at=ends_at,
        series_ends_at=ends_at,
        time_zone=settings.time_zone,
        organiser_id=people["zhang.wei@example.com"].id,
        chair_id=people["wang.fang@example.com"].id,
        secretary_id=people["chen.jing@example.com"].id,
        status="completed",
    )
    meeting.attendees = [
        Attendee(email=email, name=people[email].name, person_id=people[email].id, partstat="ACCEPTED",
                 role="chair" if email == "wang.fang@example.com" else "required")
        for email in ("li.na@example.com", "zhao.qiang@example.com", "liu.yang@example.com", "wang.fang@example.com")
    ]
    meeting.agenda_items = [
        AgendaItem(position=1, title="第4季度经营情况通报", presenter="wang.fang@example.com", duration_minutes=30),
        AgendaItem(position=2, title="华东区 Q1 预算调整", presenter="li.na@example.com", duration_minutes=30),
    ]
    meeting.bookings = [
        Booking(recurrence_id=starts_at, bridge_id=None, starts_at=starts_at, ends_at=ends_at, blocked_until=ends_at)
    ]
    session.add(meeting)
    await session.flush()
    meeting = (
        await session.scalars(select(Meeting).where(Meeting.id == meeting.id).execution_options(populate_existing=True))
    ).one()

    service = MinutesService(session, settings)
    await service.save_draft(meeting.id, _draft(starts_at), caller=people["chen.jing@example.com"])
    await service.submit(meeting.id, SubmitRequest(), caller=people["chen.jing@example.com"], now=ends_at + timedelta(hours=2))
    await service.approve(meeting.id, caller=people["wang.fang@example.com"], now=ends_at + timedelta(days=1))
    logger.info("minutes demo loaded meeting_id=%s", meeting.id)
    return meeting


def _draft(starts_at: datetime) -> MinutesDraft:
    return MinutesDraft(
        actual_start=starts_at + timedelta(minutes=2),
        actual_end=starts_at + timedelta(hours=1, minutes=35),
        attendance=[
            AttendanceIn(status="present", email="li.na@example.com", organisation="华东区"),
            AttendanceIn(status="late", email="zhao.qiang@example.com", organisation="华南区", minutes_late=10),
            AttendanceIn(status="excused", email="liu.yang@example.com", organisation="人力资源部", reason="出差"),
            AttendanceIn(status="present", email="wang.fang@example.com", organisation="财务部"),
            AttendanceIn(status="guest", name="Emily Carter", organisation="德勤咨询"),
        ],
        notes=[
            NoteIn(item=1, text="全年收入完成预算的 102%，华东区增长最快；华南区回款周期偏长。"),
            NoteIn(item=2, text="李娜建议华东区 Q1 预算上调 15%，与会人员讨论后表决。"),
        ],
        resolutions=[
            ResolutionIn(text="同意华东区 Q1 预算上调 15%", decided_by="vote", votes_for=3, votes_against=0, votes_abstain=1),
            ResolutionIn(text="华南区提交回款改进方案", decided_by="consensus"),
        ],
        action_items=[
            ActionItemIn(title="提交华东区续约清单", owner="li.na@example.com", co_owners=["zhao.qiang@example.com"],
                         due=(starts_at + timedelta(days=10)).date(), resolution=1),
            ActionItemIn(title="编制华南区回款改进方案", owner="zhao.qiang@example.com",
                         due=(starts_at + timedelta(days=14)).date(), resolution=2),
        ],
    )


async def _person(session: AsyncSession, email: str, name: str, roles: list[str]) -> Person:
    person = await session.scalar(select(Person).where(Person.email == email))
    if person is None:
        person = Person(email=email, name=name, roles=roles)
        session.add(person)
        await session.flush()
    return person
