"""Open-loop load test of 1, 2 and 4 ``confsvc serve`` processes on one PostgreSQL.

Usage (from the repository root, with the virtual environment active):

    python bench/load.py --database postgresql+asyncpg://postgres@127.0.0.1/test --rate 200 --seconds 10

The script creates a scratch database next to ``--database``, starts the service
processes on free ports of 127.0.0.1, and sends a fixed request rate from this process
(an open loop: request i starts at t0 + i/rate whatever the earlier ones do). A client-side
round robin over the processes stands in for a load balancer. The mix: 70% bridge
availability, 20% meeting lists (both reads), 10% bookings on a few bridges, so some
bookings collide and get the intended 409. Prints one Markdown table row per process
count: throughput, read and write p50/p99 latency in ms, errors, and RSS per process.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "scale"))

from scale_support import ServiceProcess, fresh_postgres, service_env  # noqa: E402
from tests.conftest import create_account, make_settings  # noqa: E402


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(int(fraction * len(ordered)), len(ordered) - 1)]


async def run_phase(urls: list[str], headers: dict[str, str], bridges: list[str], *, rate: float, seconds: float) -> dict[str, object]:
    reads: list[float] = []
    writes: list[float] = []
    errors: dict[int | str, int] = {}
    conflicts = 0
    total = int(rate * seconds)
    rng = random.Random(7)
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=5)
    limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def one(index: int) -> None:
            nonlocal conflicts
            url = urls[index % len(urls)]
            kind = rng.random()
            started = time.perf_counter()
            try:
                if kind < 0.7:
                    slot = base + timedelta(hours=rng.randrange(200))
                    response = await client.get(
                        f"{url}/api/v1/bridges/availability", headers=headers,
                        params={"starts_at": slot.isoformat(), "ends_at": (slot + timedelta(hours=1)).isoformat(), "attendees": 5},
                    )
                    bucket = reads
                elif kind < 0.9:
                    response = await client.get(f"{url}/api/v1/meetings", headers=headers, params={"limit": 20})
                    bucket = reads
                else:
                    slot = base + timedelta(hours=rng.randrange(2000))
                    response = await client.post(
                        f"{url}/api/v1/meetings", headers=headers,
                        json={"title": "负载测试", "starts_at": slot.isoformat(), "ends_at": (slot + timedelta(minutes=50)).isoformat(),
                              "bridge_id": rng.choice(bridges), "attendees": [{"email": "li@example.com", "name": "李"}]},
                    )
                    bucket = writes
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                return
            bucket.append((time.perf_counter() - started) * 1000)
            if response.status_code == 409:
                conflicts += 1
            elif response.status_code >= 400:
                errors[response.status_code] = errors.get(response.status_code, 0) + 1

        tasks = []
        t0 = time.perf_counter()
        for index in range(total):
            delay = t0 + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(one(index)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - t0
    return {
        "requests": total, "throughput": total / elapsed, "read_p50": percentile(reads, 0.5), "read_p99": percentile(reads, 0.99),
        "write_p50": percentile(writes, 0.5), "write_p99": percentile(writes, 0.99), "conflicts": conflicts, "errors": errors,
        "lag": elapsed - seconds,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="PostgreSQL URL; a scratch database is created next to it")
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second (default 200)")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each phase (default 10)")
    parser.add_argument("--processes", default="1,2,4", help="process counts to measure (default 1,2,4)")
    args = parser.parse_args()
    work = Path("var/bench-load")
    work.mkdir(parents=True, exist_ok=True)

    async with fresh_postgres(args.database) as db_url:
        settings = make_settings(db_url, work)
        admin = await create_account(settings, "admin@example.com", "管理员", ["admin"])
        organiser = await create_account(settings, "org@example.com", "组织者", ["organiser", "admin"])
        env = service_env(db_url, work, CONFSVC_LOG_LEVEL="ERROR")
        print("| processes | requests | throughput (req/s) | read p50 / p99 (ms) | write p50 / p99 (ms) | 409s | errors | RSS per process (MiB) |")
        print("|---|---|---|---|---|---|---|---|")
        bridges: list[str] = []
        for count in (int(value) for value in args.processes.split(",")):
            services = [ServiceProcess(env, log_path=work / f"serve{index}.log") for index in range(count)]
            try:
                for service in services:
                    await asyncio.to_thread(service.wait_ready)
                if not bridges:
                    async with httpx.AsyncClient(timeout=30) as client:
                        for index in range(5):
                            response = await client.post(
                                f"{services[0].url}/api/v1/bridges", headers=admin.headers,
                                json={"name": f"桥{index}", "capacity": 100, "dial_in": [{"number": "+861012345678", "label": "北京"}]},
                            )
                            response.raise_for_status()
                            bridges.append(response.json()["id"])
                urls = [service.url for service in services]
                await run_phase(urls, organiser.headers, bridges, rate=args.rate, seconds=2)  # warm-up
                result = await run_phase(urls, organiser.headers, bridges, rate=args.rate, seconds=args.seconds)
                rss = [rss_kib(service.process.pid) / 1024 for service in services]
            finally:
                for service in services:
                    service.terminate()
            print(
                f"| {count} | {result['requests']} | {result['throughput']:.0f} | {result['read_p50']:.1f} / {result['read_p99']:.1f} "
                f"| {result['write_p50']:.1f} / {result['write_p99']:.1f} | {result['conflicts']} | {result['errors'] or 0} "
                f"| {statistics.mean(rss):.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    asyncio.run(main())
