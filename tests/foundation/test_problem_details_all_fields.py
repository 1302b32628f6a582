"""Problem details list every invalid field, with translated reasons, and write nothing.

Each case is sent in zh-CN and in English. A zh-CN reason must contain Chinese
characters, an English one must contain none, and both must name the exact field. The
database is compared row by row before and after each rejected request.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from confsvc.db.engine import create_engine, create_session_factory
from confsvc.db.models import Base
from confsvc.settings import Settings
from tests.conftest import Account
from tests.foundation.helpers import add_bridge

CJK = re.compile(r"[\u4e00-\u9fff]")
LANGUAGES = {"zh-CN": "zh-CN,zh;q=0.9", "en": "en-US,en;q=0.9"}
START = "2027-03-01T09:00:00+08:00"


async def snapshot(settings: Settings) -> dict[str, list[str]]:
    """Return every row of every table, as sorted text, to compare before and after."""
    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            tables = {}
            for table in Base.metadata.sorted_tables:
                rows = (await session.execute(select(table))).all()
                tables[table.name] = sorted(repr(tuple(row)) for row in rows)
            return tables
    finally:
        await engine.dispose()


def reasons_by_name(response_body: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["reason"] for item in response_body["invalid_params"]}


def assert_language(reason: str, language: str) -> None:
    if language == "zh-CN":
        assert CJK.search(reason), f"zh-CN reason without Chinese: {reason!r}"
    else:
        assert not CJK.search(reason), f"English reason with Chinese: {reason!r}"


# (method, path, JSON body or raw bytes, field name, English words the reason must contain)
DECODE_CASES: list[tuple[str, str, Any, str, str]] = [
    ("POST", "/api/v1/meetings", {"title": "会", "starts_at": START, "duration_minutes": 30, "colour": "red"}, "colour", "unknown field; remove it"),
    ("POST", "/api/v1/meetings", {"title": 5, "starts_at": START, "duration_minutes": 30}, "title", "must be text, not an integer"),
    ("POST", "/api/v1/meetings", {"title": None, "starts_at": START, "duration_minutes": 30}, "title", "must be text, not null"),
    ("POST", "/api/v1/meetings", {"title": "会", "starts_at": "next monday", "duration_minutes": 30}, "starts_at", "RFC 3339 time such as 2026-12-07T09:00:00+08:00"),
    ("POST", "/api/v1/meetings", {"title": "会", "starts_at": "2027-03-01T09:00:00", "duration_minutes": 30}, "starts_at", "no UTC offset"),
    ("POST", "/api/v1/meetings", {"starts_at": START, "duration_minutes": 30}, "title", "missing: this field is required"),
    ("POST", "/api/v1/meetings", {"title": "会", "starts_at": START, "duration_minutes": 30, "confidentiality": "secret"}, "confidentiality", "use one of: normal, confidential"),
    ("POST", "/api/v1/meetings", {"title": "会", "starts_at": START, "duration_minutes": 30, "attendees": [{"email": "li.na@example.com", "role": "boss"}]}, "attendees[0].role", "use one of: required, optional, chair"),
    ("POST", "/api/v1/meetings", {"title": "会", "starts_at": START, "duration_minutes": 30, "attendees": [{"email": "li.na@example.com", "age": 3}]}, "attendees[0].age", "unknown field"),
    ("POST", "/api/v1/meetings", {"title": "会", "starts_at": START, "duration_minutes": 0}, "duration_minutes", "must be at least 1"),
    ("POST", "/api/v1/meetings", {"title": "x" * 301, "starts_at": START, "duration_minutes": 30}, "title", "at most 300 characters"),
    ("POST", "/api/v1/meetings", {"title": "会", "starts_at": START, "duration_minutes": 30, "bridge_id": "bridge-1"}, "bridge_id", "must be a UUID"),
    ("POST", "/api/v1/meetings", {"title": "会", "starts_at": START, "duration_minutes": 30, "attendees": "li.na@example.com"}, "attendees", "must be a list, not text"),
    ("POST", "/api/v1/meetings", [{"title": "会"}], "body", "must be an object, not a list"),
    ("POST", "/api/v1/meetings", b'{"title": "x",', "body", "every quote and bracket is closed"),
    ("POST", "/api/v1/meetings", b'{"title": "x"} trailing', "body", "near byte"),
    ("POST", "/api/v1/meetings", b"", "body", "send the request body as JSON"),
    ("POST", "/api/v1/bridges", {"name": "A", "capacity": 5, "active": "yes"}, "active", "must be true or false"),
    ("POST", "/api/v1/rooms", {"name": "会议室", "equipment": [{"item": "projector", "inspected_on": "yesterday"}]}, "equipment[0].inspected_on", "date such as 2026-12-07"),
    ("POST", "/api/v1/rooms", {"name": "会议室", "equipment": [{"item": "Projector!"}]}, "equipment[0].item", "must match the pattern"),
    ("GET", "/api/v1/meetings?from=tomorrow", None, "from", "RFC 3339 time"),
    ("GET", "/api/v1/meetings?limit=many", None, "limit", "must be an integer, not text"),
    ("GET", "/api/v1/bridges/availability?starts_at=2027-03-01T09:00:00%2B08:00", None, "ends_at", "missing"),
]


@pytest.mark.parametrize("language", list(LANGUAGES))
async def test_decode_errors_name_field(
    client: AsyncTestClient, admin: Account, settings: Settings, language: str
) -> None:
    await client.get("/api/v1/meetings", headers=admin.headers)
    before = await snapshot(settings)
    headers = {**admin.headers, "Accept-Language": LANGUAGES[language]}
    for method, path, body, field, english in DECODE_CASES:
        if isinstance(body, bytes):
            response = await client.request(method, path, content=body, headers={**headers, "Content-Type": "application/json"})
        else:
            response = await client.request(method, path, json=body, headers=headers)
        case = (method, path, body if not isinstance(body, dict) else sorted(body))
        assert response.status_code == 400, (case, response.text)
        problem = response.json()
        assert problem["type"] == "about:blank", case
        assert response.headers["content-type"].startswith("application/problem+json"), case
        reasons = reasons_by_name(problem)
        assert field in reasons, (case, problem)
        assert_language(reasons[field], language)
        assert_language(problem["detail"], language)
        if language == "en":
            assert english in reasons[field], (case, reasons[field])
    assert await snapshot(settings) == before


@pytest.mark.parametrize("language", list(LANGUAGES))
async def test_meeting_create_reports_every_field(
    client: AsyncTestClient, organiser: Account, settings: Settings, language: str
) -> None:
    await client.get("/api/v1/meetings", headers=organiser.headers)
    before = await snapshot(settings)
    headers = {**organiser.headers, "Accept-Language": LANGUAGES[language]}

    # One field fails to decode, and the rule checks of the others still run.
    mixed = {"title": "", "starts_at": "2027-13-01 9am", "duration_minutes": 30, "attendees": [{"email": "li.na@"}]}
    response = await client.post("/api/v1/meetings", json=mixed, headers=headers)
    assert response.status_code == 400, response.text
    reasons = reasons_by_name(response.json())
    assert list(reasons) == ["title", "starts_at", "attendees[0].email"]
    for reason in reasons.values():
        assert_language(reason, language)

    # Every field decodes, so the service's rule checks report each field.
    decoded = {
        "title": "  ",
        "starts_at": START,
        "ends_at": "2027-03-01T08:00:00+08:00",
        "time_zone": "Mars/Olympus",
        "rrule": "FREQ=FORTNIGHTLY",
        "chair": "nobody@example.com",
        "attendees": [
            {"email": "li.na@example.com"},
            {"email": "not-an-address"},
            {"email": "LI.NA@example.com", "name": "李\n娜"},
        ],
        "agenda": [{"title": " "}],
    }
    response = await client.post("/api/v1/meetings", json=decoded, headers=headers)
    assert response.status_code == 400, response.text
    reasons = reasons_by_name(response.json())
    assert set(reasons) == {
        "title", "time_zone", "rrule", "ends_at", "chair",
        "attendees[1].email", "attendees[2].email", "attendees[2].name", "agenda[0].title",
    }
    for reason in reasons.values():
        assert_language(reason, language)
    assert await snapshot(settings) == before


@pytest.mark.parametrize("language", list(LANGUAGES))
async def test_meeting_update_reports_every_field(
    client: AsyncTestClient, admin: Account, organiser: Account, settings: Settings, language: str
) -> None:
    await add_bridge(client, admin, "主会议桥", 10)
    created = await client.post(
        "/api/v1/meetings", json={"title": "周会", "starts_at": START, "duration_minutes": 30}, headers=organiser.headers
    )
    assert created.status_code == 201, created.text
    meeting = created.json()
    before = await snapshot(settings)
    headers = {**organiser.headers, "Accept-Language": LANGUAGES[language]}

    change = {"title": "", "time_zone": "Nowhere/City", "attendees": [{"email": "bad"}], "room_id": "00000000-0000-0000-0000-000000000001"}
    response = await client.patch(f"/api/v1/meetings/{meeting['id']}", json=change, headers=headers)
    assert response.status_code == 400, response.text
    reasons = reasons_by_name(response.json())
    assert set(reasons) == {"title", "time_zone", "attendees[0].email", "room_id"}
    for reason in reasons.values():
        assert_language(reason, language)

    assert await snapshot(settings) == before
    unchanged = await client.get(f"/api/v1/meetings/{meeting['id']}", headers=organiser.headers)
    assert unchanged.json()["title"] == "周会"


@pytest.mark.parametrize("language", list(LANGUAGES))
async def test_bridge_and_room_writes_report_every_field(
    client: AsyncTestClient, admin: Account, settings: Settings, language: str
) -> None:
    bridge = await add_bridge(client, admin, "主会议桥", 10)
    room = await client.post("/api/v1/rooms", json={"name": "第一会议室"}, headers=admin.headers)
    assert room.status_code == 201, room.text
    before = await snapshot(settings)
    headers = {**admin.headers, "Accept-Language": LANGUAGES[language]}

    cases = [
        ("POST", "/api/v1/bridges", {"name": " ", "capacity": 3, "kind": "teleport", "dial_in": [{"number": "010-1234"}], "host_pin": "12a4"},
         {"name", "kind", "dial_in[0].number", "host_pin"}),
        ("POST", "/api/v1/bridges", {"name": " ", "capacity": 0, "dial_in": [{"number": "010-1234"}], "host_pin": "12a4"},
         {"name", "capacity", "dial_in[0].number", "host_pin"}),
        ("PATCH", f"/api/v1/bridges/{bridge['id']}", {"name": "\t", "kind": "teleport", "participant_pin": "x"},
         {"name", "kind", "participant_pin"}),
        ("POST", "/api/v1/rooms", {"name": " ", "location": "一楼\n东侧"}, {"name", "location"}),
        ("PATCH", f"/api/v1/rooms/{room.json()['id']}", {"name": " ", "location": "一楼\n东侧"}, {"name", "location"}),
    ]
    for method, path, body, fields in cases:
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status_code == 400, (path, response.text)
        reasons = reasons_by_name(response.json())
        assert set(reasons) == fields, (path, reasons)
        for reason in reasons.values():
            assert_language(reason, language)
    assert await snapshot(settings) == before


async def test_single_field_detail_format(client: AsyncTestClient, admin: Account) -> None:
    response = await client.post(
        "/api/v1/meetings",
        json={"title": "会", "starts_at": START, "ends_at": "2027-03-01T08:00:00+08:00"},
        headers={**admin.headers, "Accept-Language": "en"},
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "ends_at: must be after starts_at"
    assert response.json()["invalid_params"] == [{"name": "ends_at", "reason": "must be after starts_at"}]
