"""The reminder sweep against a real database: working days, escalation, stop, restart, delivery."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from followup_support import MailSink, add_item, build_world
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from confsvc.booking.services import Viewer
from confsvc.db.models import ActionItem, OutboxMessage, ReminderLog
from confsvc.followup.reminders import ReminderSweep
from confsvc.followup.services import ActionItemService
from confsvc.notify.delivery import EmailHandler
from confsvc.notify.outbox import OutboxDispatcher
from confsvc.settings import Settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
DUE = date(2026, 10, 8)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI).astimezone(UTC)


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


async def _log(sessions: async_sessionmaker[AsyncSession], *, digests: bool = False) -> list[tuple[str, date]]:
    async with sessions() as session:
        query = select(ReminderLog.kind, ReminderLog.local_date).order_by(ReminderLog.local_date, ReminderLog.kind)
        query = query.where(ReminderLog.kind == "digest") if digests else query.where(ReminderLog.kind != "digest")
        rows = (await session.execute(query)).all()
    return [(kind, day) for kind, day in rows]


async def _setup(sessions: async_sessionmaker[AsyncSession], start: datetime, **item: object) -> tuple[object, ActionItem]:
    async with sessions() as session:
        world = await build_world(session)
        action = await add_item(session, world, due=DUE, next_reminder_at=start, **item)
        await session.commit()
    return world, action


async def test_followup_reminders_follow_working_days(fu_settings: Settings, fu_sessions: async_sessionmaker[AsyncSession]) -> None:
    start = local(date(2026, 9, 27), 8)
    await _setup(fu_sessions, start)
    clock = Clock(start)
    sweep = ReminderSweep(fu_settings, fu_sessions, clock=clock)

    day = date(2026, 9, 27)
    while day <= date(2026, 10, 15):
        clock.now = local(day, 8, 30)
        early = await sweep.run_until_idle()
        assert early.reminded == 0, f"reminded before 09:00 on {day}"
        clock.now = local(day, 9, 5)
        await sweep.run_until_idle()
        clock.now = local(day, 17, 0)
        again = await sweep.run_until_idle()
        assert again.reminded == 0, f"second reminder on {day}"
        assert again.escalations == 0, f"second escalation on {day}"
        day += timedelta(days=1)

    assert await _log(fu_sessions) == [
        ("before_due", date(2026, 9, 29)),
        ("due", date(2026, 10, 8)),
        ("notice", date(2026, 10, 9)),
        ("overdue", date(2026, 10, 10)),
        ("escalate_head", date(2026, 10, 12)),
        ("overdue", date(2026, 10, 12)),
        ("overdue", date(2026, 10, 13)),
        ("escalate_sms", date(2026, 10, 14)),
        ("overdue", date(2026, 10, 14)),
        ("overdue", date(2026, 10, 15)),
    ]
    # Weekly digest to the organiser: Mondays, and Thursday 10-08 after the National Day week.
    assert await _log(fu_sessions, digests=True) == [
        ("digest", date(2026, 9, 28)), ("digest", date(2026, 10, 8)), ("digest", date(2026, 10, 12)),
    ]
    async with fu_sessions() as session:
        head = (await session.execute(
            select(OutboxMessage.recipient).where(OutboxMessage.idempotency_key.like("%escalate_head%"))
        )).scalars().all()
        sms = (await session.execute(
            select(OutboxMessage.payload).where(OutboxMessage.idempotency_key.like("%escalate_sms%"))
        )).scalars().all()
        owner_mails = (await session.execute(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.recipient == "owner@example.com",
                                                                   OutboxMessage.channel == "email")
        )).scalar_one()
    assert sorted(head) == ["head@example.com", "organiser@example.com"]
    # No SMS gateway is configured and the owner has no sms channel: the step is logged, not sent.
    assert sms == []
    assert owner_mails == 8


async def test_followup_superseded_item_is_cleared(fu_settings: Settings, fu_sessions: async_sessionmaker[AsyncSession]) -> None:
    now = local(date(2026, 10, 9), 9, 30)
    async with fu_sessions() as session:
        world = await build_world(session)
        item = await add_item(session, world, due=DUE, status="superseded", next_reminder_at=now - timedelta(days=1))
        await session.commit()
    report = await ReminderSweep(fu_settings, fu_sessions, clock=Clock(now)).run_until_idle()
    assert report.claimed == 0
    assert report.reminded == 0
    async with fu_sessions() as session:
        stored = await session.get(ActionItem, item.id)
    assert stored is not None
    assert stored.next_reminder_at is None


async def test_followup_owner_zone_sets_reminder_hour(fu_settings: Settings, fu_sessions: async_sessionmaker[AsyncSession]) -> None:
    async with fu_sessions() as session:
        world = await build_world(session, owner_zone="Europe/Berlin")
        await add_item(session, world, due=DUE, next_reminder_at=local(date(2026, 10, 8), 0))
        await session.commit()
    clock = Clock(datetime(2026, 10, 8, 6, 30, tzinfo=UTC))  # 08:30 in Berlin (CEST), 14:30 in Shanghai
    sweep = ReminderSweep(fu_settings, fu_sessions, clock=clock)
    assert (await sweep.run_until_idle()).reminded == 0
    async with fu_sessions() as session:
        item = (await session.execute(select(ActionItem))).scalar_one()
    assert item.next_reminder_at == datetime(2026, 10, 8, 7, 0, tzinfo=UTC)  # 09:00 Berlin
    clock.now = datetime(2026, 10, 8, 7, 1, tzinfo=UTC)
    assert (await sweep.run_until_idle()).reminded == 1


async def test_followup_restart_catches_up_once(fu_settings: Settings, fu_sessions: async_sessionmaker[AsyncSession]) -> None:
    start = local(date(2026, 9, 29), 9, 10)
    await _setup(fu_sessions, start)
    first = ReminderSweep(fu_settings, fu_sessions, clock=Clock(start))
    assert (await first.run_until_idle()).reminded == 1

    # The process stops for two weeks; a new one starts on 10-14 at 11:00.
    later = Clock(local(date(2026, 10, 14), 11))
    restarted = ReminderSweep(fu_settings, fu_sessions, clock=later)
    report = await restarted.run_until_idle()
    assert report.reminded == 1
    assert report.escalations == 2  # head and SMS; the notice is the owner's reminder itself
    assert (await restarted.run_until_idle()).reminded == 0
    later.now = local(date(2026, 10, 15), 9, 1)
    assert (await restarted.run_until_idle()).reminded == 1

    assert await _log(fu_sessions) == [
        ("before_due", date(2026, 9, 29)),
        ("escalate_head", date(2026, 10, 14)),
        ("escalate_sms", date(2026, 10, 14)),
        ("notice", date(2026, 10, 14)),
        ("overdue", date(2026, 10, 15)),
    ]


async def test_followup_closed_item_stops_and_queued_is_dropped(
    fu_settings: Settings, fu_sessions: async_sessionmaker[AsyncSession], mail_sink: MailSink
) -> None:
    settings = Settings(**{**fu_settings.__dict__, "mail": type(fu_settings.mail)(smtp_url=mail_sink.url)})
    now = local(date(2026, 10, 9), 9, 30)
    async with fu_sessions() as session:
        world = await build_world(session)
        closing = await add_item(session, world, due=DUE, title="将被完成的事项", next_reminder_at=now)
        staying = await add_item(session, world, due=DUE, title="=仍然逾期的事项", next_reminder_at=now)
        await session.commit()
    clock = Clock(now)
    assert (await ReminderSweep(settings, fu_sessions, clock=clock).run_until_idle()).reminded == 2

    # The owner reports the first item done while its reminder waits in the outbox.
    async with fu_sessions() as session:
        service = ActionItemService(session, settings, now=now)
        await service.mark_done(closing.id, Viewer(world.owner.id, world.owner.email, frozenset()), result="已完成")
        await session.commit()
        assert (await session.get(ActionItem, closing.id)).next_reminder_at is None

    dispatcher = OutboxDispatcher(fu_sessions, settings.outbox, {"email": EmailHandler(settings)})
    report = await dispatcher.run_until_idle()
    assert report.dropped == 2  # owner and co-owner copies of the closed item
    assert report.sent == 3  # two reminders of the open item and the organiser's weekly digest
    reminders = [m for m in mail_sink.messages if str(m["To"]).find("organiser@") < 0]
    subjects = sorted(str(m["Subject"]) for m in reminders)
    assert len(subjects) == 2
    assert all("仍然逾期的事项" in s for s in subjects)
    assert all(s.startswith("催办单") for s in subjects), subjects
    body = reminders[0].get_body(("plain",)).get_content()
    assert f"/api/v1/action-items/{staying.id}" in body
    assert body.count("/act/") == 2

    # Later sweeps skip the done item entirely.
    clock.now = local(date(2026, 10, 12), 9, 30)
    await ReminderSweep(settings, fu_sessions, clock=clock).run_until_idle()
    async with fu_sessions() as session:
        kinds = (await session.execute(
            select(ReminderLog.kind).where(ReminderLog.action_item_id == closing.id)
        )).scalars().all()
    assert kinds == ["notice"]


async def test_followup_due_date_change_restarts_schedule(fu_settings: Settings, fu_sessions: async_sessionmaker[AsyncSession]) -> None:
    now = local(date(2026, 10, 9), 9, 30)
    world, item = await _setup(fu_sessions, now)
    clock = Clock(now)
    await ReminderSweep(fu_settings, fu_sessions, clock=clock).run_until_idle()

    from confsvc.followup.schemas import ActionItemPatch

    async with fu_sessions() as session:
        service = ActionItemService(session, fu_settings, now=now)
        organiser = Viewer(world.organiser.id, world.organiser.email, frozenset({"organiser"}))
        changed = await service.update(item.id, ActionItemPatch(due_date=date(2026, 10, 16), due_date_reason="等待审计结果"), organiser)
        await session.commit()
        assert changed.escalation_level == 0
        # before_due is two working days before 10-16: 10-14, 09:00 Shanghai.
        assert changed.next_reminder_at == local(date(2026, 10, 14), 9)
