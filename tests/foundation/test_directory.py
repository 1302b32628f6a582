from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from confsvc.db.engine import create_engine, create_session_factory
from confsvc.directory.services import DirectoryService, verify_password
from confsvc.settings import Settings
from tests.conftest import Account

GOOD_CSV = "email,name,department,phone,locale,time_zone\r\nli.na@example.com,李娜,市场部,+8613800138000,zh-CN,Asia/Shanghai\r\nchen.jing@example.com,陈静,财务部,,en,\r\n"


def run_cli(settings: Settings, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONFSVC_DATABASE_URL": settings.database.url, "CONFSVC_DATA_DIR": str(settings.data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "confsvc.cli", *args], input=stdin, capture_output=True, text=True, env=env, timeout=120, check=False
    )


async def people(settings: Settings) -> dict[str, tuple[str, str | None]]:
    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            found = await DirectoryService(session).list(limit=500)
            return {p.email: (p.name, p.department.name if p.department else None) for p in found}
    finally:
        await engine.dispose()


async def test_import_csv_with_bom_and_chinese(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes("\ufeff".encode() + GOOD_CSV.encode())
    result = run_cli(settings, "import", "people", str(path))
    assert result.returncode == 0, result.stderr
    assert "2 created" in result.stdout
    stored = await people(settings)
    assert stored["li.na@example.com"] == ("李娜", "市场部")
    assert stored["chen.jing@example.com"] == ("陈静", "财务部")

    path.write_bytes(GOOD_CSV.replace("陈静", "陈晶").encode())
    again = run_cli(settings, "import", "people", str(path))
    assert "1 updated, 1 unchanged" in again.stdout
    assert (await people(settings))["chen.jing@example.com"][0] == "陈晶"


async def test_import_bad_row_imports_nothing(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    bad = GOOD_CSV + "wang.fang@example,王芳,市场部,,,\r\nzhao@example.com,赵六,,12345,,\r\n"
    path.write_text(bad, encoding="utf-8")
    result = run_cli(settings, "import", "people", str(path))
    assert result.returncode == 1
    assert f"{path}:4: email:" in result.stderr
    assert f"{path}:5: phone:" in result.stderr
    assert "nothing imported" in result.stderr
    assert await people(settings) == {}


async def test_import_rejects_non_utf8(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes("email,name\r\nli@example.com,李娜\r\n".encode("gbk"))
    result = run_cli(settings, "import", "people", str(path))
    assert result.returncode == 1
    assert "UTF-8" in result.stderr
    assert await people(settings) == {}


async def test_user_add_prints_token_last(settings: Settings, client: AsyncTestClient) -> None:
    result = run_cli(settings, "user", "add", "--email", "Boss@Example.com", "--name", "老板", "--role", "admin", "--token")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("cfs_")
    me = await client.get("/api/v1/people", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert [p["email"] for p in me.json()] == ["boss@example.com"]
    wrong = await client.get("/api/v1/people", headers={"Authorization": f"Bearer {token}x"})
    assert wrong.status_code == 401


async def test_user_add_password_from_stdin(settings: Settings) -> None:
    result = run_cli(settings, "user", "add", "--email", "sec@example.com", "--name", "秘书", "--role", "secretary", "--password-stdin", stdin="s3cret-pass\n")
    assert result.returncode == 0, result.stderr
    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            person = await DirectoryService(session).find_by_email("sec@example.com")
            assert person is not None
            assert verify_password(person.password_hash, "s3cret-pass")
            assert not verify_password(person.password_hash, "wrong")
            assert "s3cret-pass" not in (person.password_hash or "")
    finally:
        await engine.dispose()


async def test_user_add_sets_password_of_existing_person(settings: Settings) -> None:
    first = run_cli(settings, "user", "add", "--email", "chair@example.com", "--name", "主持人")
    second = run_cli(
        settings, "user", "add", "--email", "chair@example.com", "--name", "主持人", "--password-stdin", stdin="chair-pass-1\n"
    )

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert "password set" in second.stdout
    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            person = await DirectoryService(session).find_by_email("chair@example.com")
            assert person is not None
            assert verify_password(person.password_hash, "chair-pass-1")
    finally:
        await engine.dispose()


async def test_people_api_create_and_permissions(client: AsyncTestClient, admin: Account, organiser: Account) -> None:
    created = await client.post(
        "/api/v1/people", json={"email": "wang.fang@example.com", "name": "王芳", "department": "市场部"}, headers=admin.headers
    )
    assert created.status_code == 201, created.text
    assert created.json()["department"] == "市场部"
    denied = await client.post("/api/v1/people", json={"email": "x@example.com", "name": "X"}, headers=organiser.headers)
    assert denied.status_code == 403
    duplicate = await client.post("/api/v1/people", json={"email": "WANG.FANG@example.com", "name": "王芳"}, headers=admin.headers)
    assert duplicate.status_code == 409
    other = await client.patch(f"/api/v1/people/{created.json()['id']}", json={"name": "改名"}, headers=organiser.headers)
    assert other.status_code == 403
    self_roles = await client.patch(f"/api/v1/people/{organiser.id}", json={"roles": ["admin"]}, headers=organiser.headers)
    assert self_roles.status_code == 403
    self_edit = await client.patch(f"/api/v1/people/{organiser.id}", json={"locale": "en"}, headers=organiser.headers)
    assert self_edit.status_code == 200
    assert self_edit.json()["locale"] == "en"


async def test_db_upgrade_and_settings_commands(settings: Settings) -> None:
    upgraded = run_cli(settings, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    shown = run_cli(settings, "settings")
    assert shown.returncode == 0
    assert '"time_zone": "Asia/Shanghai"' in shown.stdout
    assert "test-secret-key" not in shown.stdout


@pytest.mark.postgres
def test_parallel_upgrades_do_not_collide(tmp_path: Path) -> None:
    """Three processes migrating one fresh PostgreSQL database at once all succeed."""
    import asyncio
    import uuid

    import asyncpg
    from sqlalchemy.engine import make_url

    from tests.conftest import PG_ENV, _asyncpg_dsn

    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set: PostgreSQL cases skipped")
    name = f"confsvc_mig_{uuid.uuid4().hex[:8]}"

    async def run(statement: str) -> None:
        connection = await asyncpg.connect(_asyncpg_dsn(base))
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(base).set(database=name).render_as_string(hide_password=False)
        env = {**os.environ, "CONFSVC_DATABASE_URL": url}
        processes = [
            subprocess.Popen([sys.executable, "-m", "confsvc.cli", "db", "upgrade"], env=env, stderr=subprocess.PIPE, text=True)
            for _ in range(3)
        ]
        results = [(process.wait(timeout=120), process.stderr.read() if process.stderr else "") for process in processes]
        assert [code for code, _ in results] == [0, 0, 0], results
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
