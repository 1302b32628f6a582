"""Agenda items keep their ids through edits, so materials follow their item, not a position."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import advanced_alchemy.types
from alembic import command
from litestar.testing import AsyncTestClient
from sqlalchemy import bindparam, func, select, text

from confsvc.db.engine import create_engine, create_session_factory
from confsvc.db.migrate import alembic_config
from confsvc.db.models import AgendaItem
from confsvc.settings import Settings
from tests.preparation.conftest import Cast, add_static_bridge, book_meeting, future_start


async def put_agenda(client: AsyncTestClient, cast: Cast, mid: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    response = await client.put(f"/api/v1/meetings/{mid}/agenda", json={"items": items}, headers=cast.organiser.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def upload(client: AsyncTestClient, cast: Cast, mid: str, name: str, **fields: str) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/meetings/{mid}/materials",
        files={"file": (name, f"# {name}\n".encode(), "text/markdown")},
        data=fields,
        headers=cast.secretary.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def materials(client: AsyncTestClient, cast: Cast, mid: str) -> dict[str, dict[str, Any]]:
    response = await client.get(f"/api/v1/meetings/{mid}/materials", headers=cast.organiser.headers)
    assert response.status_code == 200, response.text
    return {row["filename"]: row for row in response.json()}


async def materials_check(client: AsyncTestClient, cast: Cast, mid: str) -> dict[str, Any]:
    response = await client.post(f"/api/v1/meetings/{mid}/checks/run", headers=cast.organiser.headers)
    assert response.status_code == 200, response.text
    return next(check for check in response.json()["checks"] if check["name"] == "materials")


async def test_materials_follow_item_through_edits(
    client: AsyncTestClient, settings: Settings, cast: Cast
) -> None:
    await add_static_bridge(client, cast.admin)
    mid = (await book_meeting(client, cast, starts_at=future_start()))["id"]
    first = await put_agenda(client, cast, mid, [
        {"title": "上期决议跟进", "duration_minutes": 10, "needs_materials": True},
        {"title": "本期议题讨论", "duration_minutes": 30, "needs_materials": True},
    ])
    follow_up, topic = first["items"]
    follow_up_file = await upload(client, cast, mid, "跟进清单.md", agenda_item_id=follow_up["id"])
    topic_file = await upload(client, cast, mid, "本期议题材料.md", agenda_position="2")
    assert topic_file["agenda_item_id"] == topic["id"]
    assert (await materials_check(client, cast, mid))["status"] == "pass"

    # Add an item, move it above the topic and remove the first item, in one replace.
    second = await put_agenda(client, cast, mid, [
        {"title": "预算审批", "duration_minutes": 15, "needs_materials": False},
        {"id": topic["id"], "title": "本期议题讨论", "duration_minutes": 30, "needs_materials": True},
    ])
    budget, moved = second["items"]
    assert moved["id"] == topic["id"]
    assert moved["position"] == 2
    assert budget["id"] not in (follow_up["id"], topic["id"])

    rows = await materials(client, cast, mid)
    assert rows["本期议题材料.md"]["agenda_item_id"] == topic["id"]
    assert rows["本期议题材料.md"]["agenda_position"] == 2
    # The removed item's file is now a whole-meeting material, still listed and downloadable.
    assert rows["跟进清单.md"]["agenda_item_id"] is None
    assert rows["跟进清单.md"]["agenda_position"] is None
    download = await client.get(f"/api/v1/meetings/{mid}/materials/{follow_up_file['id']}", headers=cast.attendee.headers)
    assert download.status_code == 200
    assert download.content == "# 跟进清单.md\n".encode()

    check = await materials_check(client, cast, mid)
    assert check["status"] == "pass", check
    assert check["data"]["needed"] == [2]
    assert check["data"]["meeting_materials"] == 1

    # Moving the topic to the top keeps its material; a new item that needs one is missing it.
    third = await put_agenda(client, cast, mid, [
        {"id": topic["id"], "title": "本期议题讨论（修订）", "duration_minutes": 30, "needs_materials": True},
        {"id": budget["id"], "title": "预算审批", "duration_minutes": 15, "needs_materials": True},
    ])
    assert [item["id"] for item in third["items"]] == [topic["id"], budget["id"]]
    assert (await materials(client, cast, mid))["本期议题材料.md"]["agenda_position"] == 1
    check = await materials_check(client, cast, mid)
    assert check["status"] == "fail"
    assert check["data"]["missing"] == [2]
    assert check["data"]["missing_item_ids"] == [budget["id"]]
    assert "2. 预算审批" in check["detail"]
    assert "本期议题" not in check["detail"]


async def test_bad_item_id_changes_nothing(
    client: AsyncTestClient, settings: Settings, cast: Cast
) -> None:
    await add_static_bridge(client, cast.admin)
    mid = (await book_meeting(client, cast, starts_at=future_start()))["id"]
    other = (await book_meeting(client, cast, starts_at=future_start(days=5)))["id"]
    stored = (await put_agenda(client, cast, mid, [{"title": "本期议题讨论"}]))["items"]
    foreign = (await put_agenda(client, cast, other, [{"title": "别的会议"}]))["items"][0]

    for items, field in (
        ([{"id": str(uuid.uuid4()), "title": "新议题"}], "items[0].id"),
        ([{"id": foreign["id"], "title": "别的会议"}], "items[0].id"),
        ([{"id": stored[0]["id"], "title": "A"}, {"id": stored[0]["id"], "title": "B"}], "items[1].id"),
    ):
        response = await client.put(f"/api/v1/meetings/{mid}/agenda", json={"items": items}, headers=cast.organiser.headers)
        assert response.status_code == 400, response.text
        assert [param["name"] for param in response.json()["invalid_params"]] == [field]

    unchanged = await client.get(f"/api/v1/meetings/{mid}/agenda", headers=cast.organiser.headers)
    assert unchanged.json()["items"] == stored
    wrong = await client.post(
        f"/api/v1/meetings/{mid}/materials",
        files={"file": ("a.md", b"# a\n", "text/markdown")},
        data={"agenda_item_id": foreign["id"]},
        headers=cast.secretary.headers,
    )
    assert wrong.status_code == 400
    assert wrong.json()["invalid_params"][0]["name"] == "agenda_item_id"

    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            count = await session.scalar(select(func.count()).select_from(AgendaItem).where(AgendaItem.meeting_id == uuid.UUID(mid)))
    finally:
        await engine.dispose()
    assert count == 1


async def test_migration_maps_positions_to_ids(
    client: AsyncTestClient, settings: Settings, cast: Cast
) -> None:
    await add_static_bridge(client, cast.admin)
    mid = (await book_meeting(client, cast, starts_at=future_start()))["id"]
    items = (await put_agenda(client, cast, mid, [{"title": "上期决议跟进"}, {"title": "本期议题讨论"}]))["items"]
    on_item = await upload(client, cast, mid, "本期议题材料.md", agenda_item_id=items[1]["id"])
    whole = await upload(client, cast, mid, "会议须知.md")
    config = alembic_config(settings.database.url)
    guid = advanced_alchemy.types.GUID(length=16)

    async def scalar(statement: str, **params: Any) -> Any:
        engine = create_engine(settings.database)
        try:
            async with engine.begin() as connection:
                query = text(statement).bindparams(*(bindparam(name, type_=guid) for name in params))
                result = await connection.execute(query, params)
                return result.scalar() if result.returns_rows else None
        finally:
            await engine.dispose()

    try:
        await asyncio.to_thread(command.downgrade, config, "0007")
        position = "SELECT agenda_position FROM material WHERE id = :material"
        assert await scalar(position, material=uuid.UUID(on_item["id"])) == 2
        assert await scalar(position, material=uuid.UUID(whole["id"])) is None
        # A position that no item has any more, as the old code could leave behind.
        stray = uuid.uuid4()
        await scalar(
            "INSERT INTO material (id, meeting_id, agenda_position, filename, extension, content_type, size_bytes, sha256,"
            " storage_key, uploaded_by_id, sa_orm_sentinel, created_at, updated_at)"
            " SELECT :stray, meeting_id, 7, 'stray.md', extension, content_type, size_bytes, sha256, 'stray-key',"
            " uploaded_by_id, sa_orm_sentinel, created_at, updated_at FROM material WHERE id = :material",
            stray=stray, material=uuid.UUID(whole["id"]),
        )
    finally:
        await asyncio.to_thread(command.upgrade, config, "head")

    rows = await materials(client, cast, mid)
    assert rows["本期议题材料.md"]["agenda_item_id"] == items[1]["id"]
    assert rows["本期议题材料.md"]["agenda_position"] == 2
    assert rows["会议须知.md"]["agenda_item_id"] is None
    assert rows["stray.md"]["agenda_item_id"] is None
