"""Open-loop load test of 1, 2 and 4 ``confsvc serve`` processes on one PostgreSQL.

Usage (from the repository root, with the virtual environment active):

    python bench/load.py --database postgresql+asyncpg://postgres@127.0.0.1/test --rate 200 --seconds 20

The script creates a scratch database next to ``--database`` (dropped at the end), starts
the service processes (scheduler on) on free ports of 127.0.0.1, and sends a fixed request
rate from this process: request i is due at t0 + i/rate whatever the earlier ones do (an
open loop), and its latency is counted from that due time, so a client that falls behind
shows up as latency instead of being hidden. A client-side round robin over the processes
acts as the load balancer. After the processes start, ``--settle`` seconds at 50
requests/s go unmeasured, so every scheduler sweep has run once and the first-use costs
(imports, statement compilation) are paid before measuring. The default mix (``--mix``): 60% bridge availability and 20%
meeting lists (reads); 10% bookings on five bridges (colliding slots get the intended 409),
5% iTIP replies and 5% minutes draft saves (writes).

The client is a small HTTP/1.1 keep-alive client on uvloop (``load_support.py``), so it
needs a few percent of one core at 200 requests/s. Each phase prints one Markdown row:
throughput, read and write p50/p99 in ms, 409s, errors, server CPU per request, the
client's and the whole machine's CPU use, the 1-minute load average at the end, and RSS per
service process. A second table gives p50/p99 per request kind.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import resource
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "scale"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from load_support import (  # noqa: E402
    DEFAULT_MIX,
    READ_KINDS,
    ConnectionPool,
    Seed,
    parse_mix,
    percentile,
    request_factory,
    seed,
)
from scale_support import ServiceProcess, fresh_postgres, service_env  # noqa: E402
from tests.conftest import create_account, make_settings  # noqa: E402

REQUEST_TIMEOUT_S = 30.0
SLOW_MS = 100.0


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_ticks() -> tuple[int, int]:
    """Return (busy, total) jiffies of all cores from /proc/stat."""
    values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def client_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class PhaseResult:
    requests: int = 0
    elapsed: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: {kind: [] for kind in DEFAULT_MIX})
    conflicts: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    server_cpu_ms: float = 0.0
    client_cpu_share: float = 0.0
    machine_busy_share: float = 0.0
    load_average: float = 0.0
    slow: list[tuple[float, float]] = field(default_factory=list)
    """(seconds after the phase start, latency in ms) of requests slower than SLOW_MS."""

    def merged(self, kinds: tuple[str, ...]) -> list[float]:
        return [value for kind in kinds for value in self.latencies[kind]]


async def run_phase(pools: list[ConnectionPool], build, mix: dict[str, float], *, rate: float, seconds: float,
                    rng: random.Random, pids: list[int]) -> PhaseResult:
    result = PhaseResult(requests=int(rate * seconds))
    kinds = list(mix)
    weights = [mix[kind] for kind in kinds]
    plan = rng.choices(kinds, weights=weights, k=result.requests)

    async def one(index: int, kind: str, due: float) -> None:
        payload = build(kind)
        try:
            status, _body = await asyncio.wait_for(pools[index % len(pools)].request(payload), REQUEST_TIMEOUT_S)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ValueError) as exc:
            name = f"client {type(exc).__name__}"
            result.errors[name] = result.errors.get(name, 0) + 1
            return
        latency = (time.perf_counter() - due) * 1000
        result.latencies[kind].append(latency)
        if latency > SLOW_MS:
            result.slow.append((due - t0, latency))
        if status == 409 and kind == "booking":
            result.conflicts += 1
        elif status >= 400:
            name = f"{kind} {status}"
            result.errors[name] = result.errors.get(name, 0) + 1

    # A full collection over this process's imports (about 230,000 objects) pauses it for
    # about 130 ms, which would count as server latency. Frozen objects are not scanned.
    gc.collect()
    gc.freeze()
    server_before = sum(process_cpu_s(pid) for pid in pids)
    client_before = client_cpu_s()
    busy_before, total_before = machine_cpu_ticks()
    tasks = []
    t0 = time.perf_counter()
    for index, kind in enumerate(plan):
        due = t0 + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(index, kind, due)))
    await asyncio.gather(*tasks)
    result.elapsed = time.perf_counter() - t0
    busy_after, total_after = machine_cpu_ticks()
    result.server_cpu_ms = (sum(process_cpu_s(pid) for pid in pids) - server_before) * 1000 / max(result.requests, 1)
    result.client_cpu_share = (client_cpu_s() - client_before) / result.elapsed
    result.machine_busy_share = (busy_after - busy_before) / max(total_after - total_before, 1)
    result.load_average = float(Path("/proc/loadavg").read_text().split()[0])
    return result


def format_row(count: int, rate: float, result: PhaseResult, rss: list[float]) -> str:
    reads = result.merged(READ_KINDS)
    writes = result.merged(tuple(kind for kind in DEFAULT_MIX if kind not in READ_KINDS))
    errors = ", ".join(f"{name}: {number}" for name, number in sorted(result.errors.items())) or "0"
    return (
        f"| {count} | {rate:.0f} | {result.requests} | {result.requests / result.elapsed:.0f} "
        f"| {percentile(reads, 0.5):.1f} / {percentile(reads, 0.99):.1f} "
        f"| {percentile(writes, 0.5):.1f} / {percentile(writes, 0.99):.1f} "
        f"| {result.conflicts} | {errors} | {result.server_cpu_ms:.2f} | {result.client_cpu_share * 100:.0f}% "
        f"| {result.machine_busy_share * 100:.0f}% | {result.load_average:.2f} | {statistics.mean(rss):.0f} |"
    )


def format_stalls(count: int, rate: float, result: PhaseResult) -> str:
    """Group the slow requests into windows split by gaps of more than one second."""
    windows: list[list[float]] = []
    for offset, latency in sorted(result.slow):
        if windows and offset - windows[-1][1] <= 1.0:
            windows[-1][1] = offset
            windows[-1][2] = max(windows[-1][2], latency)
            windows[-1][3] += 1
        else:
            windows.append([offset, offset, latency, 1])
    text = "; ".join(f"{start:.1f}-{end:.1f} s: {int(number)} requests, max {worst:.0f} ms" for start, end, worst, number in windows)
    return f"{count} processes, {rate:.0f} req/s: " + (text or f"no request above {SLOW_MS:.0f} ms")


def format_kinds(count: int, rate: float, result: PhaseResult) -> str:
    cells = []
    for kind in DEFAULT_MIX:
        values = result.latencies[kind]
        cells.append(f"{percentile(values, 0.5):.1f} / {percentile(values, 0.99):.1f}" if values else "-")
    return f"| {count} | {rate:.0f} | " + " | ".join(cells) + " |"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="PostgreSQL URL; a scratch database is created next to it")
    parser.add_argument("--rate", default="200", help="requests per second, or several comma-separated (default 200)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured duration of each phase in seconds (default 20)")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds at the same rate before each phase (default 3)")
    parser.add_argument("--settle", type=float, default=65.0,
                        help="unmeasured seconds at 50 requests/s after the processes start, so every scheduler sweep "
                             "has run once (default 65)")
    parser.add_argument("--processes", default="1,2,4", help="process counts to measure (default 1,2,4)")
    parser.add_argument("--no-scheduler", action="store_true", help="start the processes without their scheduler sweeps")
    parser.add_argument("--repeat", type=int, default=1, help="measure each phase this many times (default 1)")
    parser.add_argument("--mix", default=",".join(f"{kind}={share * 100:g}" for kind, share in DEFAULT_MIX.items()),
                        help="request shares, e.g. availability=60,list=20,booking=10,reply=5,minutes=5")
    args = parser.parse_args()
    mix = parse_mix(args.mix)
    rates = [float(value) for value in args.rate.split(",")]
    counts = [int(value) for value in args.processes.split(",")]
    work = ROOT / "var" / "bench-load"
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)

    print(f"machine: {os.cpu_count()} CPUs, {_cpu_model()}; mix: {args.mix}; {args.seconds:g} s per phase", flush=True)
    rows: list[str] = []
    kind_rows: list[str] = []
    stall_rows: list[str] = []
    async with fresh_postgres(args.database) as db_url:
        settings = make_settings(db_url, work)
        admin = await create_account(settings, "admin@example.com", "管理员", ["admin"])
        organiser = await create_account(settings, "org@example.com", "组织者", ["organiser"])
        # The default outbox timing, not the scale tests' fast retries. No SMTP server is
        # configured, so invitation e-mails stay queued and cost no delivery work.
        env = service_env(
            db_url, work, CONFSVC_LOG_LEVEL="ERROR", CONFSVC_OUTBOX_INTERVAL_SECONDS="5",
            CONFSVC_OUTBOX_BASE_DELAY_SECONDS="30", CONFSVC_OUTBOX_MAX_DELAY_SECONDS="3600",
        )
        seed_data: Seed | None = None
        for count in counts:
            services = [
                ServiceProcess(env, log_path=work / f"serve-{count}-{index}.log", scheduler=not args.no_scheduler) for index in range(count)
            ]
            try:
                for service in services:
                    await asyncio.to_thread(service.wait_ready, 60)
                if seed_data is None:
                    seed_data = await seed(services[0].url, admin_headers=admin.headers, organiser_headers=organiser.headers)
                build = request_factory(seed_data, organiser.token, rng=rng)
                pools = [ConnectionPool(service.url) for service in services]
                pids = [service.process.pid for service in services]
                # Sweeps run at intervals of up to 60 s; their first runs are not measured.
                await run_phase(pools, build, mix, rate=50, seconds=args.settle, rng=rng, pids=pids)
                for rate in rates:
                    for _ in range(args.repeat):
                        await run_phase(pools, build, mix, rate=rate, seconds=args.warmup, rng=rng, pids=pids)
                        result = await run_phase(pools, build, mix, rate=rate, seconds=args.seconds, rng=rng, pids=pids)
                        rss = [rss_mib(pid) for pid in pids]
                        rows.append(format_row(count, rate, result, rss))
                        kind_rows.append(format_kinds(count, rate, result))
                        stall_rows.append(format_stalls(count, rate, result))
                        print(rows[-1], flush=True)
                        print(stall_rows[-1], flush=True)
                for pool in pools:
                    pool.close()
            finally:
                for service in services:
                    service.terminate()

    print()
    print("| processes | rate (req/s) | requests | throughput (req/s) | read p50 / p99 (ms) | write p50 / p99 (ms) | 409s | errors "
          "| server CPU per request (ms) | client CPU | machine CPU busy | load average | RSS per process (MiB) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print()
    print("| processes | rate (req/s) | " + " | ".join(f"{kind} p50 / p99 (ms)" for kind in DEFAULT_MIX) + " |")
    print("|---|---|" + "---|" * len(DEFAULT_MIX))
    print("\n".join(kind_rows))
    print()
    print(f"Requests slower than {SLOW_MS:.0f} ms, by time window:")
    print("\n".join(stall_rows))


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


if __name__ == "__main__":
    uvloop.run(main())
