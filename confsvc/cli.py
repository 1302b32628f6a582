"""The ``confsvc`` command."""

from __future__ import annotations

import argparse
import dataclasses
import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from confsvc import __version__
from confsvc.errors import ConfigurationError, ConfsvcError, ValidationFailed
from confsvc.settings import Settings

logger = logging.getLogger("confsvc")


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # APScheduler logs every run of every sweep at INFO; the sweeps log what they do themselves.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, logging.getLevelName(level)))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="confsvc", description="Conference-call scheduling and minutes service.")
    parser.add_argument("--version", action="version", version=f"confsvc {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate the database and run the service with its scheduler")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    serve.add_argument("--demo", action="store_true", help="load the demo company and start the local sandboxes")
    serve.add_argument("--no-scheduler", action="store_true", help="do not run the sweeps in this process")

    commands.add_parser("worker", help="run only the scheduler sweeps (checks, reminders, outbox)")

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply migrations")

    user = commands.add_parser("user", help="accounts")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    add = user_commands.add_parser("add", help="create a person with a login")
    add.add_argument("--email", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--role", action="append", choices=["admin", "organiser", "secretary", "member"], help="may repeat; default member")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.add_argument("--token", action="store_true", help="print a new API token on the last line of standard output")

    imp = commands.add_parser("import", help="bulk imports")
    imp_commands = imp.add_subparsers(dest="import_command", required=True)
    people = imp_commands.add_parser("people", help="import or update people from a CSV file")
    people.add_argument("file", type=Path)

    commands.add_parser("settings", help="print the effective settings with secrets masked")
    commands.add_parser("demo", help="load the demo company into the database")
    return parser


async def _session_run(settings: Settings, work):  # type: ignore[no-untyped-def]
    from confsvc.db.engine import create_engine, create_session_factory

    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            result = await work(session)
            await session.commit()
            return result
    finally:
        await engine.dispose()


def _user_add(settings: Settings, args: argparse.Namespace) -> int:
    from confsvc.directory.schemas import PersonCreate
    from confsvc.directory.services import DirectoryService, hash_password

    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise ValidationFailed.field("password", "empty password on standard input")

    async def work(session):  # type: ignore[no-untyped-def]
        service = DirectoryService(session)
        person = await service.find_by_email(args.email)
        if person is None:
            person = await service.create(PersonCreate(email=args.email, name=args.name, roles=args.role or ["member"]), password=password)
            print(f"created {person.email} ({', '.join(person.roles)})")
        elif password is not None:
            person.password_hash = hash_password(password)
            print(f"exists {person.email} ({', '.join(person.roles)}); password set")
        else:
            print(f"exists {person.email} ({', '.join(person.roles)})")
        if args.token:
            return await service.create_token(person, name="cli")
        return None

    token = asyncio.run(_session_run(settings, work))
    if token:
        print(token)
    return 0


def _import_people(settings: Settings, path: Path) -> int:
    from confsvc.directory.services import DirectoryService

    try:
        content = path.read_bytes()
    except OSError as exc:
        print(f"error: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
    report = asyncio.run(_session_run(settings, lambda session: DirectoryService(session).import_csv(content)))
    if report.errors:
        for error in report.errors:
            print(f"{path}:{error.line}: {error.field}: {error.reason}", file=sys.stderr)
        print(f"nothing imported: {len(report.errors)} bad row(s); fix them and run the import again", file=sys.stderr)
        return 1
    print(f"imported: {report.created} created, {report.updated} updated, {report.unchanged} unchanged")
    return 0


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from confsvc.app import create_app
    from confsvc.db.migrate import upgrade

    upgrade(settings.database)
    if not os.environ.get("CONFSVC_BASE_URL"):
        # Links in e-mails and pages point at the address served here unless set otherwise.
        host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
        settings = dataclasses.replace(settings, base_url=f"http://{host}:{args.port}")
    sandbox = None
    extra_routes = []
    if args.demo:
        from confsvc.demo import demo_addresses, load_demo
        from confsvc.sandbox import DemoSandbox, mailbox_page

        sandbox = DemoSandbox(settings.data_dir)
        sandbox.start()
        settings = sandbox.apply(settings)
        summary = asyncio.run(load_demo(settings))
        sandbox.create_calendars(asyncio.run(demo_addresses(settings)))
        extra_routes.append(mailbox_page(sandbox.maildir))
        url = f"http://{args.host}:{args.port}"
        print(summary.banner(url), flush=True)
        print(f"  mailbox:  {url}/demo/mailbox (local SMTP sink on port {sandbox.smtp_port})", flush=True)
        print(f"  calendar: {settings.caldav.url}/ (Radicale, one calendar per person)\n", flush=True)
    try:
        app = create_app(settings, start_scheduler=not args.no_scheduler and settings.scheduler_enabled, extra_routes=extra_routes)
        uvicorn.run(app, host=args.host, port=args.port, log_level=settings.log_level.lower(), proxy_headers=True)
    finally:
        if sandbox is not None:
            sandbox.stop()
    return 0


def _worker(settings: Settings) -> int:
    from confsvc.db.migrate import upgrade
    from confsvc.worker import run_worker

    upgrade(settings.database)
    asyncio.run(run_worker(settings))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        _configure_logging(settings.log_level)
        if args.command == "settings":
            print(json.dumps(settings.describe(), indent=2, ensure_ascii=False))
            return 0
        if args.command == "db":
            from confsvc.db.migrate import upgrade

            upgrade(settings.database)
            return 0
        if args.command == "serve":
            return _serve(settings, args)
        if args.command == "worker":
            return _worker(settings)

        from confsvc.db.migrate import upgrade

        upgrade(settings.database)
        if args.command == "user":
            return _user_add(settings, args)
        if args.command == "import":
            return _import_people(settings, args.file)
        if args.command == "demo":
            from confsvc.demo import load_demo

            print(asyncio.run(load_demo(settings)).banner(settings.base_url))
            return 0
    except ConfigurationError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except ConfsvcError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
