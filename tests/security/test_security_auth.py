"""Password login, web sessions with CSRF, throttling, API tokens and the audit log."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from confsvc.app import create_app
from confsvc.db.engine import create_engine, create_session_factory
from confsvc.directory.services import TOKEN_PREFIX, DirectoryService, hash_password
from confsvc.security.audit import record_audit
from confsvc.settings import SecuritySettings, Settings
from tests.conftest import Account, create_account
from tests.security.conftest import SECRET_TITLE, World

PASSWORD = "correct horse battery staple"


async def set_password(settings: Settings, email: str, password: str) -> None:
    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            person = await DirectoryService(session).find_by_email(email)
            assert person is not None
            person.password_hash = hash_password(password)
            await session.commit()
    finally:
        await engine.dispose()


@pytest.fixture
async def user(settings: Settings) -> Account:
    account = await create_account(settings, "chen.jing@example.com", "陈静", ["organiser"])
    await set_password(settings, account.email, PASSWORD)
    return account


def cookie_header(response: object, name: str) -> str:
    headers = [value for key, value in response.headers.multi_items() if key.lower() == "set-cookie"]  # type: ignore[attr-defined]
    matching = [value for value in headers if value.startswith(f"{name}=")]
    assert matching, headers
    return matching[0]


async def test_login_sets_session_cookies(client: AsyncTestClient, user: Account) -> None:
    response = await client.post("/auth/login", json={"email": user.email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["person"]["email"] == user.email
    session_cookie = cookie_header(response, "confsvc_session").lower()
    assert "httponly" in session_cookie
    assert "samesite=lax" in session_cookie
    assert "secure" not in session_cookie
    csrf_cookie = cookie_header(response, "confsvc_session_csrf").lower()
    assert "httponly" not in csrf_cookie
    assert body["csrf_token"].lower() in csrf_cookie


async def test_session_cookie_secure_on_https(https_client: AsyncTestClient, settings: Settings) -> None:
    await create_account(settings, "https.user@example.com", "Https", ["member"])
    await set_password(settings, "https.user@example.com", PASSWORD)
    response = await https_client.post("/auth/login", json={"email": "https.user@example.com", "password": PASSWORD})
    assert response.status_code == 200
    assert "secure" in cookie_header(response, "confsvc_session").lower()


async def test_form_login_redirects_to_local_next(client: AsyncTestClient, user: Account) -> None:
    local = await client.post(
        "/auth/login", data={"email": user.email, "password": PASSWORD, "next": "/meetings?week=1"}, follow_redirects=False
    )
    assert local.status_code == 303
    assert local.headers["location"] == "/meetings?week=1"
    foreign = await client.post(
        "/auth/login", data={"email": user.email, "password": PASSWORD, "next": "//evil.example/x"}, follow_redirects=False
    )
    assert foreign.status_code == 200
    assert "location" not in foreign.headers


async def test_session_authenticates_api_and_needs_csrf(client: AsyncTestClient, user: Account) -> None:
    login = await client.post("/auth/login", json={"email": user.email, "password": PASSWORD})
    csrf = login.json()["csrf_token"]

    me = await client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["email"] == user.email
    assert me.json()["authenticated_by"] == "session"

    without = await client.post("/api/v1/tokens", json={"name": "ci"})
    assert without.status_code == 403
    tampered = ("y" if csrf[0] == "x" else "x") + csrf[1:]
    wrong = await client.post("/api/v1/tokens", json={"name": "ci"}, headers={"X-CSRF-Token": tampered})
    assert wrong.status_code == 403
    right = await client.post("/api/v1/tokens", json={"name": "ci"}, headers={"X-CSRF-Token": csrf})
    assert right.status_code == 201, right.text


async def test_logout_ends_session(client: AsyncTestClient, user: Account) -> None:
    login = await client.post("/auth/login", json={"email": user.email, "password": PASSWORD})
    token = client.cookies.get("confsvc_session")
    csrf = login.json()["csrf_token"]
    refused = await client.post("/auth/logout")
    assert refused.status_code == 403
    done = await client.post("/auth/logout", headers={"X-CSRF-Token": csrf})
    assert done.status_code == 204
    client.cookies.set("confsvc_session", token or "")
    after = await client.get("/api/v1/me")
    assert after.status_code == 401


async def test_wrong_password_same_answer_as_unknown(client: AsyncTestClient, user: Account) -> None:
    wrong = await client.post("/auth/login", json={"email": user.email, "password": "nope"})
    unknown = await client.post("/auth/login", json={"email": "nobody@example.com", "password": "nope"})
    assert wrong.status_code == 401
    assert unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert "confsvc_session" not in wrong.headers.get("set-cookie", "")


async def test_cross_site_login_rejected(client: AsyncTestClient, user: Account) -> None:
    response = await client.post(
        "/auth/login", json={"email": user.email, "password": PASSWORD}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403


async def test_account_locks_after_failures(db_url: str, tmp_path: Path, settings: Settings, user: Account) -> None:
    rules = SecuritySettings(login_max_failures=3, login_address_max_failures=100, login_lockout_seconds=600, rate_limit_login_per_minute=0)
    app = create_app(Settings(**{**settings.__dict__, "security": rules}), start_scheduler=False)
    async with AsyncTestClient(app=app) as client:
        for _attempt in range(3):
            assert (await client.post("/auth/login", json={"email": user.email, "password": "bad"})).status_code == 401
        locked = await client.post("/auth/login", json={"email": user.email, "password": PASSWORD})
        assert locked.status_code == 429
        assert 500 <= int(locked.headers["retry-after"]) <= 601
        assert locked.headers["content-type"].startswith("application/problem+json")
        other = await create_account(settings, "other.user@example.com", "Other", ["member"])
        await set_password(settings, other.email, PASSWORD)
        fine = await client.post("/auth/login", json={"email": other.email, "password": PASSWORD})
        assert fine.status_code == 200


async def test_address_locks_across_accounts(settings: Settings, user: Account) -> None:
    rules = SecuritySettings(login_max_failures=100, login_address_max_failures=4, rate_limit_login_per_minute=0)
    app = create_app(Settings(**{**settings.__dict__, "security": rules}), start_scheduler=False)
    async with AsyncTestClient(app=app) as client:
        for index in range(4):
            response = await client.post("/auth/login", json={"email": f"guess{index}@example.com", "password": "bad"})
            assert response.status_code == 401
        blocked = await client.post("/auth/login", json={"email": user.email, "password": PASSWORD})
        assert blocked.status_code == 429


async def test_inactive_account_cannot_log_in(client: AsyncTestClient, user: Account, world: World) -> None:
    deactivate = await client.patch(f"/api/v1/people/{user.id}", json={"active": False}, headers=world.roles.admin.headers)
    assert deactivate.status_code == 200
    response = await client.post("/auth/login", json={"email": user.email, "password": PASSWORD})
    assert response.status_code == 401
    assert (await client.get("/api/v1/me", headers=user.headers)).status_code == 401


async def test_token_lifecycle(client: AsyncTestClient, world: World) -> None:
    member = world.roles.member
    created = await client.post("/api/v1/tokens", json={"name": "calendar sync"}, headers=member.headers)
    assert created.status_code == 201
    token = created.json()["token"]
    token_id = created.json()["id"]
    assert token.startswith(TOKEN_PREFIX)

    listed = await client.get("/api/v1/tokens", headers=member.headers)
    assert token_id in [row["id"] for row in listed.json()]
    assert token not in listed.text
    assert (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})).status_code == 200

    stranger = await client.delete(f"/api/v1/tokens/{token_id}", headers=world.roles.stranger.headers)
    assert stranger.status_code == 404
    others = await client.get("/api/v1/tokens", params={"person": str(member.id)}, headers=world.roles.stranger.headers)
    assert others.json() == []
    revoked = await client.delete(f"/api/v1/tokens/{token_id}", headers=member.headers)
    assert revoked.status_code == 204
    assert (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401


async def test_admin_revokes_anyones_token(client: AsyncTestClient, world: World) -> None:
    created = await client.post("/api/v1/tokens", json={"name": "x"}, headers=world.roles.member.headers)
    token = created.json()["token"]
    listed = await client.get("/api/v1/tokens", params={"person": str(world.roles.member.id)}, headers=world.roles.admin.headers)
    assert created.json()["id"] in [row["id"] for row in listed.json()]
    response = await client.delete(f"/api/v1/tokens/{created.json()['id']}", headers=world.roles.admin.headers)
    assert response.status_code == 204
    assert (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401


async def test_audit_records_changes_and_logins(client: AsyncTestClient, world: World, user: Account) -> None:
    meeting_id = world.meeting["id"]
    organiser = world.roles.organiser
    patch = await client.patch(
        f"/api/v1/meetings/{meeting_id}",
        json={"attendees": [{"email": "new.person@example.com"}]},
        headers=organiser.headers,
    )
    assert patch.status_code == 200, patch.text
    assert (await client.post(f"/api/v1/meetings/{meeting_id}/cancel", json={"reason": "merged"}, headers=organiser.headers)).status_code == 200
    await client.post("/auth/login", json={"email": user.email, "password": "bad"})
    await client.post("/auth/login", json={"email": user.email, "password": PASSWORD})

    response = await client.get("/api/v1/audit", params={"object_id": meeting_id}, headers=world.roles.admin.headers)
    assert response.status_code == 200
    actions = [event["action"] for event in response.json()]
    assert actions == ["meeting.cancel", "meeting.update", "meeting.create"]
    update = response.json()[1]
    assert update["actor_email"] == organiser.email
    assert update["details"]["attendees_added"] == ["new.person@example.com"]
    assert update["details"]["attendees_removed"] == [world.roles.member.email]

    logins = await client.get("/api/v1/audit", params={"action": "login."}, headers=world.roles.admin.headers)
    login_actions = [event["action"] for event in logins.json()]
    assert login_actions == ["login.succeeded", "login.failed"]
    assert PASSWORD not in logins.text
    assert "bad" not in str([event["details"] for event in logins.json()])


async def test_audit_csv_cells_are_formula_safe(client: AsyncTestClient, settings: Settings, world: World) -> None:
    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            record_audit(
                session, actor=None, action="settings.change", object_type="=cmd|' /C calc'!A0",
                object_id="+SUM(A1:A9)", details={"note": "x"}, client_address="@127.0.0.1",
            )
            await session.commit()
    finally:
        await engine.dispose()
    response = await client.get("/api/v1/audit.csv", params={"action": "settings.change"}, headers=world.roles.admin.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert rows[0][:4] == ["occurred_at", "actor_email", "actor_id", "action"]
    assert rows[1][4] == "'=cmd|' /C calc'!A0"
    assert rows[1][5] == "'+SUM(A1:A9)"
    assert rows[1][6] == "'@127.0.0.1"
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


async def test_audit_is_admin_only(client: AsyncTestClient, world: World) -> None:
    for account in (world.roles.organiser, world.roles.member):
        assert (await client.get("/api/v1/audit", headers=account.headers)).status_code == 403
        assert (await client.get("/api/v1/audit.csv", headers=account.headers)).status_code == 403


async def test_audit_rows_reject_update_on_postgres(settings: Settings, world: World) -> None:
    if not settings.database.is_postgres:
        pytest.skip("the append-only trigger exists on PostgreSQL only; SQLite relies on the absence of write paths")
    from sqlalchemy.exc import DBAPIError

    engine = create_engine(settings.database)
    try:
        for statement in ("UPDATE audit_event SET action = 'x'", "DELETE FROM audit_event"):
            async with engine.connect() as connection:
                with pytest.raises(DBAPIError, match="append-only"):
                    await connection.execute(text(statement))
        async with engine.connect() as connection:
            count = await connection.scalar(text("SELECT count(*) FROM audit_event"))
        assert count and count >= 1
    finally:
        await engine.dispose()


async def test_admin_settings_masks_secrets(db_url: str, tmp_path: Path, settings: Settings) -> None:
    env = {
        "CONFSVC_DATABASE_URL": db_url,
        "CONFSVC_DATA_DIR": str(tmp_path / "data"),
        "CONFSVC_SECRET_KEY": "very-secret-key-123",
        "CONFSVC_SCHEDULER_ENABLED": "false",
        "CONFSVC_SMTP_URL": "smtp://mailer:smtp-pass-456@127.0.0.1:2525",
        "CONFSVC_CALDAV_PASSWORD": "dav-pass-789",
        "CONFSVC_OIDC_CLIENT_SECRET": "oidc-secret-000",
        "CONFSVC_IMAP_URL": "imap://127.0.0.1/INBOX?token=imap-token-321",
    }
    admin = await create_account(settings, "settings.admin@example.com", "Admin", ["admin"])
    member = await create_account(settings, "settings.member@example.com", "Member", ["member"])
    async with AsyncTestClient(app=create_app(Settings.from_env(env), start_scheduler=False)) as client:
        response = await client.get("/api/v1/admin/settings", headers=admin.headers)
        assert response.status_code == 200
        for secret in ("very-secret-key-123", "smtp-pass-456", "dav-pass-789", "oidc-secret-000", "imap-token-321"):
            assert secret not in response.text
        assert response.json()["mail.smtp_url"] == "smtp://mailer:***@127.0.0.1:2525"
        assert response.json()["security.login_max_failures"] == 5
        assert (await client.get("/api/v1/admin/settings", headers=member.headers)).status_code == 403


async def test_oversize_body_rejected(client: AsyncTestClient, world: World) -> None:
    body = b'{"title": "' + b"x" * 1_100_000 + b'"}'
    response = await client.post(
        "/api/v1/meetings", content=body, headers={**world.roles.organiser.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["status"] == 413


async def test_login_rate_limited(db_url: str, tmp_path: Path, settings: Settings) -> None:
    rules = SecuritySettings(rate_limit_login_per_minute=3, rate_limit_rsvp_per_minute=2)
    app = create_app(Settings(**{**settings.__dict__, "security": rules}), start_scheduler=False)
    async with AsyncTestClient(app=app) as client:
        answers = [(await client.post("/auth/login", json={"email": "a@example.com", "password": "x"})).status_code for _ in range(4)]
        assert answers[:3] == [401, 401, 401]
        assert answers[3] == 429
        rsvp = [(await client.get("/rsvp/not-a-token")).status_code for _ in range(3)]
        assert rsvp[2] == 429
        limited = await client.post("/auth/login", json={"email": "a@example.com", "password": "x"})
        assert limited.json()["status"] == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert (await client.get("/api/v1/me")).status_code == 401


async def test_concurrent_failures_count_once_each(settings: Settings, user: Account) -> None:
    rules = SecuritySettings(login_max_failures=50, login_address_max_failures=1000, rate_limit_login_per_minute=0)
    app = create_app(Settings(**{**settings.__dict__, "security": rules}), start_scheduler=False)
    async with AsyncTestClient(app=app) as client:
        answers = await asyncio.gather(*[client.post("/auth/login", json={"email": user.email, "password": "bad"}) for _ in range(5)])
        assert {answer.status_code for answer in answers} == {401}
    engine = create_engine(settings.database)
    try:
        async with engine.connect() as connection:
            failures = await connection.scalar(text("SELECT failures FROM login_throttle WHERE key = :key"), {"key": f"account:{user.email}"})
    finally:
        await engine.dispose()
    assert failures == 5


async def test_confidential_title_absent_from_audit_for_non_admin(client: AsyncTestClient, world: World) -> None:
    response = await client.get("/api/v1/audit", headers=world.roles.stranger.headers)
    assert response.status_code == 403
    assert SECRET_TITLE not in response.text
