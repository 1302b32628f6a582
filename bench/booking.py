"""Booking and availability benchmark on PostgreSQL.

Measures, in one run against one fresh database:

1. bookings through HTTP (``POST /api/v1/meetings``) from concurrent clients against a
   real ``confsvc serve`` process, and the same overlap-checked insert done as a bare
   asyncpg transaction at the same concurrency;
2. ``GET /api/v1/bridges/availability`` with 200 bridges, once with 1,000 stored
   bookings and once with 100,000.

Usage: python bench/booking.py [--database postgresql://postgres@127.0.0.1/test]
       [--bookings 2000] [--concurrency 16] [--queries 500] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from load_support import ConnectionPool, build_request  # noqa: E402

BRIDGES = 200


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def summary(name: str, latencies: list[float], elapsed: float) -> dict[str, float | str]:
    return {
        "name": name,
        "count": len(latencies),
        "per_second": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
    }


async def run_concurrently(count: int, concurrency: int, work) -> tuple[list[float], float]:  # type: ignore[no-untyped-def]
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(count):
        queue.put_nowait(index)

    async def worker() -> None:
        while True:
            try:
                index = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            started = time.perf_counter()
            await work(index)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started


class Service:
    """A ``confsvc serve`` subprocess on a fresh database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.env = {
            **os.environ,
            "CONFSVC_DATABASE_URL": url,
            "CONFSVC_LOG_LEVEL": "WARNING",
            "CONFSVC_SCHEDULER_ENABLED": "false",
            "CONFSVC_DATA_DIR": str(ROOT / "var" / "bench"),
        }

    def cli(self, *args: str) -> str:
        result = subprocess.run([sys.executable, "-m", "confsvc.cli", *args], env=self.env, capture_output=True, text=True, check=True)
        return result.stdout

    async def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "confsvc.cli", "serve", "--no-scheduler", "--port", str(self.port)],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        async with httpx.AsyncClient() as client:
            for _ in range(100):
                try:
                    if (await client.get(f"http://127.0.0.1:{self.port}/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError("service did not start")

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=20)


async def create_database(admin_dsn: str) -> tuple[str, str]:
    name = f"confsvc_bench_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(admin_dsn)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    base = admin_dsn.rsplit("/", 1)[0]
    return name, f"{base}/{name}"


async def drop_database(admin_dsn: str, name: str) -> None:
    connection = await asyncpg.connect(admin_dsn)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def bench_http_bookings(service: Service, token: str, bridge_ids: list[str], count: int, concurrency: int) -> dict[str, float | str]:
    base = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
    # The lean keep-alive client of the load test, so the client's own cost stays small.
    pool = ConnectionPool(f"http://127.0.0.1:{service.port}")

    async def book(index: int) -> None:
        bridge = bridge_ids[index % len(bridge_ids)]
        start = base + timedelta(hours=2 * (index // len(bridge_ids)))
        body = json.dumps({"title": f"bench {index}", "starts_at": start.isoformat(), "duration_minutes": 60, "bridge_id": bridge}).encode()
        status, answer = await pool.request(build_request("POST", "/api/v1/meetings", token=token, body=body))
        if status != 201:
            raise RuntimeError(f"booking {index} failed: {status} {answer[:200]!r}")

    latencies, elapsed = await run_concurrently(count, concurrency, book)
    pool.close()
    return summary(f"HTTP POST /meetings ({concurrency} clients)", latencies, elapsed)


async def bench_bare_bookings(dsn: str, count: int, concurrency: int) -> dict[str, float | str]:
    """The same overlap check and insert as the service, in a bare asyncpg transaction."""
    pool = await asyncpg.create_pool(dsn, min_size=concurrency, max_size=concurrency)
    assert pool is not None
    async with pool.acquire() as connection:
        await connection.execute(
            "CREATE TABLE bench_booking (id uuid PRIMARY KEY, bridge_id uuid NOT NULL, starts_at timestamptz NOT NULL, "
            "ends_at timestamptz NOT NULL, blocked_until timestamptz NOT NULL, active boolean NOT NULL DEFAULT true, "
            "EXCLUDE USING gist (bridge_id WITH =, tstzrange(starts_at, blocked_until, '[)') WITH &&) WHERE (active))"
        )
        await connection.execute("CREATE INDEX ON bench_booking (bridge_id, starts_at)")
    bridges = [uuid.uuid4() for _ in range(BRIDGES)]
    base = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)

    async def book(index: int) -> None:
        bridge = bridges[index % len(bridges)]
        start = base + timedelta(hours=2 * (index // len(bridges)))
        end = start + timedelta(hours=1)
        async with pool.acquire() as connection, connection.transaction():
            clash = await connection.fetchval(
                "SELECT 1 FROM bench_booking WHERE active AND bridge_id = $1 AND starts_at < $2 AND blocked_until > $3 "
                "AND starts_at > $4 LIMIT 1",
                bridge, end + timedelta(minutes=5), start, start - timedelta(days=1, hours=9),
            )
            if clash:
                raise RuntimeError("unexpected clash")
            await connection.execute(
                "INSERT INTO bench_booking (id, bridge_id, starts_at, ends_at, blocked_until) VALUES ($1, $2, $3, $4, $5)",
                uuid.uuid4(), bridge, start, end, end + timedelta(minutes=5),
            )

    try:
        latencies, elapsed = await run_concurrently(count, concurrency, book)
    finally:
        await pool.close()
    return summary(f"bare asyncpg transaction ({concurrency} clients)", latencies, elapsed)


async def fill_history(dsn: str, total: int) -> None:
    """Store ``total`` past bookings spread over the bench bridges, straight into the tables."""
    connection = await asyncpg.connect(dsn)
    try:
        organiser = await connection.fetchval("SELECT id FROM person LIMIT 1")
        bridges = [row["id"] for row in await connection.fetch("SELECT id FROM bridge ORDER BY name")]
        existing = await connection.fetchval("SELECT count(*) FROM booking WHERE starts_at < '2029-01-01'")
        first_slot = existing // len(bridges)
        now = datetime.now(UTC)
        meetings = []
        for bridge in bridges:
            meeting_id = uuid.uuid4()
            meetings.append((meeting_id, bridge))
        await connection.copy_records_to_table(
            "meeting",
            columns=["id", "uid", "title", "description", "starts_at", "ends_at", "series_ends_at", "time_zone", "organiser_id",
                     "bridge_id", "confidentiality", "status", "sequence", "urgent", "created_at", "updated_at"],
            records=[
                (m, f"history-{m}@bench", "history", "", datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 1, 1, 1, tzinfo=UTC),
                 datetime(2028, 1, 1, tzinfo=UTC), "Asia/Shanghai", organiser, b, "normal", "completed", 0, False, now, now)
                for m, b in meetings
            ],
        )
        records = []
        per_bridge = (total - existing) // len(bridges)
        for meeting_id, bridge in meetings:
            for slot in range(first_slot, first_slot + per_bridge):
                start = datetime(2026, 6, 1, tzinfo=UTC) - timedelta(hours=2 * (slot + 1))
                records.append((uuid.uuid4(), meeting_id, start, bridge, start, start + timedelta(hours=1),
                                start + timedelta(hours=1, minutes=5), True, False, now, now))
        await connection.copy_records_to_table(
            "booking",
            columns=["id", "meeting_id", "recurrence_id", "bridge_id", "starts_at", "ends_at", "blocked_until", "active",
                     "overridden", "created_at", "updated_at"],
            records=records,
        )
        await connection.execute("ANALYZE booking")
    finally:
        await connection.close()


async def bench_availability(service: Service, token: str, queries: int, label: str) -> dict[str, float | str]:
    pool = ConnectionPool(f"http://127.0.0.1:{service.port}")

    async def query(index: int) -> None:
        start = datetime(2030, 1, 7, 9, 0, tzinfo=UTC) + timedelta(hours=2 * (index % 10))
        params = {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat(), "attendees": 5}
        status, _answer = await pool.request(build_request("GET", "/api/v1/bridges/availability", token=token, params=params))
        if status != 200:
            raise RuntimeError(f"availability failed: {status}")

    for index in range(20):
        await query(index)
    latencies, elapsed = await run_concurrently(queries, 1, query)
    pool.close()
    return summary(f"GET /bridges/availability, {label}", latencies, elapsed)


def machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu or platform.processor()}, Python {platform.python_version()}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=os.environ.get("CONFSVC_BENCH_DATABASE", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--bookings", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--markdown", type=Path, help="append the result table to this file")
    args = parser.parse_args()

    name, dsn = await create_database(args.database)
    service = Service(dsn.replace("postgresql://", "postgresql+asyncpg://", 1))
    results = []
    try:
        service.cli("db", "upgrade")
        token = service.cli("user", "add", "--email", "bench@example.com", "--name", "Bench", "--role", "admin", "--token").strip().splitlines()[-1]
        await service.start()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.port}", headers={"Authorization": f"Bearer {token}"}) as client:
            bridge_ids = []
            for index in range(BRIDGES):
                response = await client.post("/api/v1/bridges", json={"name": f"bench-{index:03d}", "capacity": 50})
                bridge_ids.append(response.json()["id"])
        print(f"benchmark database {name}; {machine()}", flush=True)

        bare = await bench_bare_bookings(dsn, args.bookings, args.concurrency)
        print(bare, flush=True)
        http = await bench_http_bookings(service, token, bridge_ids, args.bookings, args.concurrency)
        print(http, flush=True)
        results += [bare, http]

        await fill_history(dsn, 1_000)
        small = await bench_availability(service, token, args.queries, "1,000 bookings")
        print(small, flush=True)
        await fill_history(dsn, 100_000)
        large = await bench_availability(service, token, args.queries, "100,000 bookings")
        print(large, flush=True)
        results += [small, large]
    finally:
        service.stop()
        await drop_database(args.database, name)

    ratio_p50 = float(http["p50_ms"]) / float(bare["p50_ms"])
    ratio_p99 = float(http["p99_ms"]) / float(bare["p99_ms"])
    growth = float(large["p50_ms"]) / float(small["p50_ms"])
    lines = [
        f"Machine: {machine()}. Command: `python bench/booking.py --bookings {args.bookings} --concurrency {args.concurrency} --queries {args.queries}`.",
        "",
        "| measurement | count | per second | p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {r['name']} | {r['count']} | {float(r['per_second']):.0f} | {float(r['p50_ms']):.2f} | {float(r['p99_ms']):.2f} |" for r in results]
    lines += [
        "",
        f"HTTP over bare transaction: p50 {ratio_p50:.2f}x, p99 {ratio_p99:.2f}x. "
        f"Availability p50 with 100,000 bookings over 1,000: {growth:.2f}x.",
    ]
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        with args.markdown.open("a", encoding="utf-8") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    asyncio.run(main())
