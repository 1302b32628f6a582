from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from confsvc.db.engine import create_engine, create_session_factory
from confsvc.db.models import CheckRun, Material, Meeting, Room
from confsvc.demo import load_demo
from confsvc.preparation.demo import load_preparation_demo
from confsvc.preparation.services import CheckSweep
from confsvc.settings import Settings


async def test_demo_shows_passing_and_failing_checks(settings: Settings) -> None:
    now = datetime.now(UTC)
    await load_demo(settings, now=now)
    engine = create_engine(settings.database)
    try:
        session_maker = create_session_factory(engine)
        async with session_maker() as session:
            # load_demo has loaded the preparation part already; a second load adds nothing.
            again = await load_preparation_demo(session, settings, now=now)
            room_count = await session.scalar(select(func.count(Room.id)))
            material_count = await session.scalar(select(func.count(Material.id)))
            first = await session.scalar(select(Meeting).where(Meeting.starts_at > now).order_by(Meeting.starts_at).limit(1))
        assert again.rooms == 0
        assert room_count == 2
        assert material_count is not None and material_count >= 4
        assert first is not None

        # Sweep an hour before each demo meeting, in order, as the scheduler would.
        async with session_maker() as session:
            meetings = list(await session.scalars(select(Meeting).where(Meeting.starts_at > now).order_by(Meeting.starts_at)))
        last = meetings[-1]
        runs_total = 0
        for meeting in meetings:
            report = await CheckSweep(settings, session_maker).run_once(now=meeting.starts_at - timedelta(minutes=59))
            runs_total += report.runs
        assert runs_total >= len(meetings)

        async with session_maker() as session:
            runs = {run.meeting_id: run for run in await session.scalars(select(CheckRun).order_by(CheckRun.started_at))}
        materials = {mid: {r.name: r.status for r in run.results}["materials"] for mid, run in runs.items()}
        rooms = {mid: {r.name: r.status for r in run.results}["room"] for mid, run in runs.items()}
        assert materials[first.id] == "fail"
        assert sorted(status for mid, status in materials.items() if mid != first.id) == ["pass"] * (len(runs) - 1)
        assert rooms[last.id] == "fail"
        assert "pass" in rooms.values()
    finally:
        await engine.dispose()
