"""Cost of one request of each kind of the load mix, sent one at a time to one process.

Usage (from the repository root, with the virtual environment active):

    python bench/request_cost.py --database postgresql+asyncpg://postgres@127.0.0.1/test --requests 300
    python bench/request_cost.py --database ... --profile var/bench-load/profile.txt
    python bench/request_cost.py --database ... --profile var/bench-load/run.pyisession

A scratch database is created next to ``--database`` and dropped afterwards. One
``confsvc serve --no-scheduler`` process serves the requests. With ``--profile`` it runs under
pyinstrument, which writes its call tree to the given file when the process stops (a
``.pyisession`` file can be rendered again with ``pyinstrument --load FILE``).
Prints the p50 and p99 latency in ms of each request kind and the server's CPU time
per request (from /proc), which is the figure that bounds throughput per core.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "scale"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from load_support import DEFAULT_MIX, ConnectionPool, percentile, request_factory, seed  # noqa: E402
from scale_support import ServiceProcess, fresh_postgres, service_env  # noqa: E402
from tests.conftest import create_account, make_settings  # noqa: E402

KINDS = ("healthz", *DEFAULT_MIX)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ProfiledService(ServiceProcess):
    """A service process started under pyinstrument; SIGINT makes it write the profile."""

    def __init__(self, env: dict[str, str], *, log_path: Path, profile: Path) -> None:
        from scale_support import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        renderer = "session" if profile.suffix == ".pyisession" else "text"
        args = [sys.executable, "-m", "pyinstrument", "-r", renderer, "-o", str(profile),
                "-m", "confsvc.cli", "serve", "--no-scheduler", "--port", str(self.port)]
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        self.process.send_signal(2)
        self.process.wait(timeout=60)
        self._log.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="PostgreSQL URL; a scratch database is created next to it")
    parser.add_argument("--requests", type=int, default=300, help="requests of each kind (default 300)")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"request kinds to measure (default {','.join(KINDS)})")
    parser.add_argument("--profile", type=Path, help="run the service under pyinstrument and write its text report here")
    args = parser.parse_args()
    kinds = [kind.strip() for kind in args.kinds.split(",")]
    work = ROOT / "var" / "bench-load"
    work.mkdir(parents=True, exist_ok=True)

    async with fresh_postgres(args.database) as db_url:
        settings = make_settings(db_url, work)
        admin = await create_account(settings, "admin@example.com", "管理员", ["admin"])
        organiser = await create_account(settings, "org@example.com", "组织者", ["organiser", "admin"])
        env = service_env(db_url, work, CONFSVC_LOG_LEVEL="ERROR")
        if args.profile:
            service: ServiceProcess = ProfiledService(env, log_path=work / "profile-serve.log", profile=args.profile.resolve())
        else:
            service = ServiceProcess(env, log_path=work / "cost-serve.log", scheduler=False)
        try:
            await asyncio.to_thread(service.wait_ready, 60)
            seed_data = await seed(service.url, admin_headers=admin.headers, organiser_headers=organiser.headers)
            build = request_factory(seed_data, organiser.token, rng=random.Random(11))
            pool = ConnectionPool(service.url)
            print("| request | count | p50 ms | p99 ms | server CPU ms per request | statuses |")
            print("|---|---:|---:|---:|---:|---|")
            for kind in kinds:
                payload_for = (lambda: b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n") if kind == "healthz" else (lambda k=kind: build(k))
                for _ in range(20):  # warm-up
                    await pool.request(payload_for())
                latencies: list[float] = []
                statuses: dict[int, int] = {}
                cpu_before = cpu_seconds(service.process.pid)
                for _ in range(args.requests):
                    payload = payload_for()
                    started = time.perf_counter()
                    status, _body = await pool.request(payload)
                    latencies.append((time.perf_counter() - started) * 1000)
                    statuses[status] = statuses.get(status, 0) + 1
                cpu_ms = (cpu_seconds(service.process.pid) - cpu_before) * 1000 / args.requests
                print(f"| {kind} | {args.requests} | {percentile(latencies, 0.5):.2f} | {percentile(latencies, 0.99):.2f} "
                      f"| {cpu_ms:.2f} | {statuses} |", flush=True)
            pool.close()
        finally:
            if isinstance(service, ProfiledService):
                service.stop()
            else:
                service.terminate()


if __name__ == "__main__":
    asyncio.run(main())
