"""A large PostgreSQL data set for the query-plan test, written with set-based SQL.

:func:`fill` writes ``meetings`` meetings and related rows in proportion (people, bookings,
attendees, agenda items, outbox rows, minutes, resolutions, action items, audit events)
with ``INSERT ... SELECT generate_series``. Secondary indexes and constraints are dropped
before the load and created again from their saved definitions afterwards, the way
pg_restore loads a dump, because building an index once is much faster than updating it
row by row. :func:`fill` checks that the rebuilt schema matches the saved one.

Every meeting books a bridge for one hour, and the meetings of one bridge are four hours
apart, so the bookings satisfy the exclusion constraint. The meetings run from about
700 days before now to about 130 days after it.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field

import asyncpg

PEOPLE_PER_MEETING = 0.1
DEPARTMENTS = 100
BRIDGES = 200
ROOMS = 400
ATTENDEES_PER_MEETING = 2
RESOLUTION_TOPICS = ("预算", "招聘", "采购", "安全", "培训", "审计", "合规", "发布")
"""Words in the resolution texts; each is in one eighth of them."""


def id_expr(kind: int, number: str) -> str:
    """SQL for a deterministic, ordered UUID of row ``number`` of table kind ``kind``."""
    return f"('00000000-0000-7000-{8000 + kind:04x}-' || lpad(to_hex({number}), 12, '0'))::uuid"


MEETING, PERSON, DEPARTMENT, BRIDGE, ROOM, BOOKING, ATTENDEE, AGENDA, OUTBOX, MINUTES, RESOLUTION, ACTION, AUDIT = range(13)


@dataclass
class FillReport:
    """Row counts per table and seconds per step of one :func:`fill`."""

    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())


def _statements(meetings: int) -> list[tuple[str, str]]:
    people = max(int(meetings * PEOPLE_PER_MEETING), 1000)
    anchor = "date_trunc('hour', now()) - interval '700 days'"
    meeting_start = f"{anchor} + ((i / {BRIDGES}) * interval '4 hours') + ((i % 4) * interval '15 minutes')"
    person_of = lambda expr: id_expr(PERSON, f"({expr})")  # noqa: E731 - a short SQL template
    topics = "ARRAY[" + ", ".join(f"'{topic}'" for topic in RESOLUTION_TOPICS) + "]"
    return [
        ("department", f"""
            INSERT INTO department (id, name, head_email, created_at, updated_at)
            SELECT {id_expr(DEPARTMENT, 'd')}, '部门 ' || d, 'head' || d || '@example.com', now(), now()
            FROM generate_series(0::bigint, {DEPARTMENTS - 1}) AS d"""),
        ("person", f"""
            INSERT INTO person (id, email, name, department_id, roles, active, created_at, updated_at)
            SELECT {id_expr(PERSON, 'p')}, 'user' || p || '@example.com', '员工 ' || p,
                   {id_expr(DEPARTMENT, f'p % {DEPARTMENTS}')}, '["organiser"]'::jsonb, true, now(), now()
            FROM generate_series(0::bigint, {people - 1}) AS p"""),
        ("bridge", f"""
            INSERT INTO bridge (id, name, kind, capacity, dial_in, settings, active, created_at, updated_at)
            SELECT {id_expr(BRIDGE, 'b')}, '桥 ' || b, 'static', 50 + (b % 4) * 50, '[]'::jsonb, '{{}}'::jsonb,
                   true, now(), now()
            FROM generate_series(0::bigint, {BRIDGES - 1}) AS b"""),
        ("room", f"""
            INSERT INTO room (id, name, capacity, equipment, active, created_at, updated_at)
            SELECT {id_expr(ROOM, 'r')}, '会议室 ' || r, 10 + r % 30, '[]'::jsonb, true, now(), now()
            FROM generate_series(0::bigint, {ROOMS - 1}) AS r"""),
        ("meeting", f"""
            INSERT INTO meeting (id, uid, title, description, starts_at, ends_at, series_ends_at, time_zone,
                                 organiser_id, chair_id, secretary_id, bridge_id, room_id, confidentiality,
                                 status, sequence, urgent, created_at, updated_at)
            SELECT {id_expr(MEETING, 'i')}, 'scale-' || i || '@example.com', '例会 ' || i, '',
                   s, s + interval '1 hour', s + interval '1 hour', 'Asia/Shanghai',
                   {person_of(f'(i * 7919) % {people}')},
                   CASE WHEN i % 2 = 0 THEN {person_of(f'(i * 104729) % {people}')} END,
                   CASE WHEN i % 3 = 0 THEN {person_of(f'(i * 15485863) % {people}')} END,
                   CASE WHEN i % 10 <> 9 THEN {id_expr(BRIDGE, f'i % {BRIDGES}')} END,
                   CASE WHEN i % 2 = 1 THEN {id_expr(ROOM, f'i % {ROOMS}')} END,
                   'normal', CASE WHEN i % 20 = 0 THEN 'cancelled' ELSE 'scheduled' END, 0, false,
                   s - interval '7 days', s - interval '7 days'
            FROM generate_series(0::bigint, {meetings - 1}) AS i, LATERAL (SELECT {meeting_start} AS s) AS start"""),
        ("booking", f"""
            INSERT INTO booking (id, meeting_id, recurrence_id, bridge_id, starts_at, ends_at, blocked_until,
                                 active, overridden, created_at, updated_at)
            SELECT {id_expr(BOOKING, 'i')}, {id_expr(MEETING, 'i')}, s,
                   CASE WHEN i % 10 <> 9 THEN {id_expr(BRIDGE, f'i % {BRIDGES}')} END,
                   s, s + interval '1 hour', s + interval '70 minutes', i % 20 <> 0, false,
                   s - interval '7 days', s - interval '7 days'
            FROM generate_series(0::bigint, {meetings - 1}) AS i, LATERAL (SELECT {meeting_start} AS s) AS start"""),
        ("attendee", f"""
            INSERT INTO attendee (id, meeting_id, person_id, email, name, role, partstat, created_at, updated_at)
            SELECT {id_expr(ATTENDEE, f'i * {ATTENDEES_PER_MEETING} + k')}, {id_expr(MEETING, 'i')},
                   {person_of('q')}, 'user' || q || '@example.com', '员工 ' || q, 'required',
                   CASE WHEN k = 0 THEN 'ACCEPTED' ELSE 'NEEDS-ACTION' END, now(), now()
            FROM generate_series(0::bigint, {meetings - 1}) AS i, generate_series(0::bigint, {ATTENDEES_PER_MEETING - 1}) AS k,
                 LATERAL (SELECT (i * 31 + k * 9973) % {people} AS q) AS who"""),
        ("agenda_item", f"""
            INSERT INTO agenda_item (id, meeting_id, position, title, needs_materials, created_at, updated_at)
            SELECT {id_expr(AGENDA, 'i')}, {id_expr(MEETING, 'i')}, 1, '议程 ' || i, false, now(), now()
            FROM generate_series(0::bigint, {meetings - 1}, 10) AS i"""),
        ("outbox_message", f"""
            INSERT INTO outbox_message (id, idempotency_key, channel, recipient, meeting_id, payload, status,
                                        attempts, next_attempt_at, sent_at, created_at, updated_at)
            SELECT {id_expr(OUTBOX, 'i')}, 'invite:' || i, (ARRAY['email', 'caldav', 'im'])[i % 3 + 1],
                   'user' || (i % {people}) || '@example.com', {id_expr(MEETING, 'i')}, '{{}}'::jsonb,
                   CASE WHEN i % 500 = 0 THEN 'pending' WHEN i % 1000 = 1 THEN 'dead' ELSE 'sent' END,
                   1, created, CASE WHEN i % 500 > 1 THEN created END, created, created
            FROM generate_series(0::bigint, {meetings - 1}) AS i,
                 LATERAL (SELECT {meeting_start} - interval '7 days' AS created) AS c"""),
        ("minutes", f"""
            INSERT INTO minutes (id, meeting_id, occurrence_key, version, status, attendance, notes, resolutions,
                                 action_items, cosigners, cosignatures, history, number, approved_at,
                                 created_at, updated_at)
            SELECT {id_expr(MINUTES, 'i')}, {id_expr(MEETING, 'i')}, '', 1, 'approved', '[]', '[]', '[]', '[]',
                   '[]', '[]', '[]', 'JY-' || i, s + interval '1 day', s, s
            FROM generate_series(0::bigint, {meetings - 1}, 5) AS i, LATERAL (SELECT {meeting_start} AS s) AS start
            WHERE s < now()"""),
        ("minutes_resolution", f"""
            INSERT INTO minutes_resolution (id, minutes_id, meeting_id, number, text, decision_method,
                                            responsible, owner_emails, state, created_at, updated_at)
            SELECT {id_expr(RESOLUTION, 'n.i * 2 + k')}, mi.id, mi.meeting_id, k + 1,
                   '关于' || ({topics})[(n.i + k) % {len(RESOLUTION_TOPICS)} + 1] || '的决定 ' || substr(md5(n.i::text || k), 1, 10),
                   'consensus', '部门 ' || ((n.i + k) % {DEPARTMENTS}), '[]'::jsonb,
                   CASE WHEN k = 0 THEN 'open' ELSE 'adopted' END, mi.created_at, mi.created_at
            FROM minutes AS mi, LATERAL (SELECT ('x' || right(mi.meeting_id::text, 12))::bit(48)::bigint AS i) AS n,
                 generate_series(0, 1) AS k"""),
        ("action_item", f"""
            INSERT INTO action_item (id, meeting_id, minutes_id, resolution_number, title, owner_email, owner_id,
                                     co_owner_emails, due_date, status, next_reminder_at, escalation_level,
                                     progress, reminders_muted, created_at, updated_at)
            SELECT {id_expr(ACTION, 'n.i * 2 + k')}, r.meeting_id, r.minutes_id, r.number::text, '落实 ' || r.text,
                   'user' || q || '@example.com', {person_of('q')}, '[]'::jsonb,
                   (r.created_at + interval '14 days')::date, status,
                   CASE WHEN status IN ('open', 'in_progress') THEN r.created_at + interval '13 days' END,
                   0, 0, false, r.created_at, r.created_at
            FROM minutes_resolution AS r,
                 LATERAL (SELECT ('x' || right(r.meeting_id::text, 12))::bit(48)::bigint AS i) AS n,
                 LATERAL (SELECT r.number - 1 AS k, (n.i * 13 + r.number) % {people} AS q) AS o,
                 LATERAL (SELECT CASE WHEN r.created_at > now() - interval '60 days'
                                      THEN (ARRAY['open', 'in_progress'])[n.i % 2 + 1]
                                      ELSE (ARRAY['done', 'closed', 'closed', 'open'])[n.i % 4 + 1] END AS status) AS st"""),
        ("audit_event", f"""
            INSERT INTO audit_event (id, occurred_at, actor_id, actor_email, action, object_type, object_id,
                                     client_address, details)
            SELECT {id_expr(AUDIT, 'n.i')}, m.created_at, m.organiser_id, p.email,
                   CASE WHEN n.i % 10 = 0 THEN 'meeting.update' ELSE 'meeting.create' END, 'meeting', m.id::text,
                   '127.0.0.1', '{{}}'::jsonb
            FROM meeting AS m JOIN person AS p ON p.id = m.organiser_id,
                 LATERAL (SELECT ('x' || right(m.id::text, 12))::bit(48)::bigint AS i) AS n"""),
    ]


_SAVED_DEFINITIONS = """
    SELECT 'constraint' AS kind, c.conname AS name, c.conrelid::regclass::text AS table_name, c.contype::text AS type,
           format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname, pg_get_constraintdef(c.oid)) AS ddl
    FROM pg_constraint AS c JOIN pg_namespace AS n ON n.oid = c.connamespace
    WHERE n.nspname = 'public' AND c.contype IN ('f', 'u', 'x')
    UNION ALL
    SELECT 'index', i.indexrelid::regclass::text, i.indrelid::regclass::text, 'i', pg_get_indexdef(i.indexrelid)
    FROM pg_index AS i JOIN pg_class AS t ON t.oid = i.indrelid JOIN pg_namespace AS n ON n.oid = t.relnamespace
    WHERE n.nspname = 'public' AND NOT i.indisprimary
      AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conindid = i.indexrelid AND c.contype IN ('u', 'x', 'p'))
    ORDER BY 1, 2
"""


def _comparable(row: dict[str, str]) -> dict[str, str]:
    """Drop casts and parentheses from a definition, because PostgreSQL prints a partial
    index predicate that it parsed from its own output with the casts placed differently."""
    return {**row, "ddl": re.sub(r"::[a-z ]+(\[\])?|[()]", "", row["ddl"])}


class _Loader:
    """Runs the load on two connections, because index builds use one core each."""

    def __init__(self, first: asyncpg.Connection, second: asyncpg.Connection, saved: list[dict[str, str]]) -> None:
        self.connections = (first, second)
        self.saved = saved
        self.pending: asyncio.Queue[str] = asyncio.Queue()

    def ddl_of(self, table: str, *, types: str = "uxi") -> list[str]:
        rows = [row for row in self.saved if row["table_name"] == table and row["type"] in types]
        # The exclusion constraint's GiST build is by far the slowest; start it first.
        return [row["ddl"] for row in sorted(rows, key=lambda row: row["type"] != "x")]

    def release(self, table: str) -> None:
        for ddl in self.ddl_of(table):
            self.pending.put_nowait(ddl)

    async def drain(self, connection: asyncpg.Connection) -> None:
        while not self.pending.empty():
            await connection.execute(self.pending.get_nowait())


async def fill(connection: asyncpg.Connection, second: asyncpg.Connection, *, meetings: int) -> FillReport:
    """Load the data set into the empty, migrated database of both connections and ANALYZE it.

    Raises AssertionError when the rebuilt indexes and constraints differ from the saved ones.
    """
    report = FillReport()
    for each in (connection, second):
        await each.execute("SET synchronous_commit = off")
        await each.execute("SET maintenance_work_mem = '256MB'")
    saved = [dict(row) for row in await connection.fetch(_SAVED_DEFINITIONS)]
    loader = _Loader(connection, second, saved)
    statements = dict(_statements(meetings))

    async def insert(on: asyncpg.Connection, table: str) -> None:
        status = await on.execute(statements[table])
        report.rows[table] = int(str(status).rsplit(" ", 1)[-1])

    started = time.perf_counter()
    # Foreign keys go first (they need the referenced keys' unique indexes), and come back last.
    for row in sorted(saved, key=lambda row: row["type"] != "f"):
        if row["kind"] == "constraint":
            await connection.execute(f'ALTER TABLE {row["table_name"]} DROP CONSTRAINT "{row["name"]}"')
        else:
            await connection.execute(f"DROP INDEX {row['name']}")
    for table in sorted({row["table_name"] for row in saved} - set(statements)):
        loader.release(table)  # the tables that stay empty

    async def bookings() -> None:
        # The bookings need no other table, so their slow GiST build overlaps the other inserts.
        await insert(connection, "booking")
        for ddl in loader.ddl_of("booking"):
            await connection.execute(ddl)
        await loader.drain(connection)

    async def the_rest() -> None:
        for table in statements:
            if table != "booking":
                await insert(second, table)
                loader.release(table)
        await loader.drain(second)

    await asyncio.gather(bookings(), the_rest())
    await asyncio.gather(loader.drain(connection), loader.drain(second))
    report.seconds["rows and indexes"] = time.perf_counter() - started

    started = time.perf_counter()
    foreign_keys = [row["ddl"] for row in saved if row["type"] == "f"]
    for ddl in foreign_keys:
        loader.pending.put_nowait(ddl)
    await asyncio.gather(loader.drain(connection), loader.drain(second))
    report.seconds["foreign keys"] = time.perf_counter() - started

    started = time.perf_counter()
    await connection.execute("ANALYZE")
    report.seconds["analyze"] = time.perf_counter() - started

    rebuilt = [_comparable(dict(row)) for row in await connection.fetch(_SAVED_DEFINITIONS)]
    expected = [_comparable(row) for row in saved]
    missing = [row for row in expected if row not in rebuilt]
    extra = [row for row in rebuilt if row not in expected]
    assert not missing, f"rebuilt schema lacks {missing}"
    assert not extra, f"rebuilt schema has extra {extra}"
    return report
