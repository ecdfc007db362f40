"""Several instances behind nginx: /api/ask throughput with 1, 2, 3... instances, the CPU each
part used, and the failover time of the silence sweep's lease.

Example:
    python scripts/bench_instances.py
    python scripts/bench_instances.py --instances 1 2 3 --clients 12 --seconds 20 --out /tmp/instances.md

Runs the integration test's harness (tests/integration/cluster.py): a throw-away PostgreSQL and
Redis (Debian's packages), N app instances (`python -m bot`, separate data dirs, demo knowledge,
rate limits lifted, log level WARNING) and nginx with deploy/nginx/craftdesk.conf, all on
127.0.0.1. For each N, on a fresh database: `--clients` keep-alive clients post questions through
nginx for `--seconds` (after `--warmup`); the report gives answers per second, latency and the
CPU seconds of the instances, nginx, PostgreSQL, Redis and this load generator.

Failover (when a count is 2 or more): a further cluster of the most instances, with the sweep
every `--sweep-seconds` and tickets moved after `--silence-minutes`. Open a ticket, SIGKILL the
instance holding the `sweep` lease just after it renewed it, and time until another instance
holds the lease and until its sweep has moved the ticket; then restart the killed instance.
Repeated `--failover-runs` times. Exit code 0, or 1 with a one-line message when a server fails.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the harness lives with the tests that use it

from bot.settings import RateLimitSettings  # noqa: E402
from retrieval.evaluation import load_queries  # noqa: E402
from tests.integration.cluster import (  # noqa: E402
    Cluster,
    ClusterError,
    Instance,
    nginx_binary,
    wait_all_healthy,
)
from tests.utils.postgres import PostgresUnavailable, create_database, postgres_server  # noqa: E402
from tests.utils.redis_server import RedisUnavailable, flush, redis_server  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: python scripts/bench_instances.py --instances 1 2 3 --clients 12 --seconds 20",
    )
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 2, 3], help="counts (default 1 2 3)")
    parser.add_argument("--clients", type=int, default=12, help="concurrent clients (default 12)")
    parser.add_argument("--seconds", type=float, default=20, help="measured load per count (default 20)")
    parser.add_argument("--warmup", type=float, default=3, help="load before measuring (default 3)")
    parser.add_argument("--sweep-seconds", type=float, default=1, help="the sweep's tick (default 1)")
    parser.add_argument(
        "--silence-minutes", type=float, default=0.05, help="unclaimed this long: moved (default 0.05)"
    )
    parser.add_argument("--failover-runs", type=int, default=3, help="lease failovers timed (default 3)")
    parser.add_argument(
        "--model-cache",
        type=Path,
        default=Path(
            os.environ.get("CRAFTDESK_MODEL_CACHE")
            or os.environ.get("CRAFTDESK_TEST_MODEL_CACHE")
            or REPO / ".cache" / "test-models"
        ),
        help="converted models (default: CRAFTDESK_MODEL_CACHE or CRAFTDESK_TEST_MODEL_CACHE, else "
        ".cache/test-models)",
    )
    parser.add_argument(
        "--request",
        choices=sorted(REQUESTS),
        default="ask",
        help="what each client sends: ask (POST /api/ask, a question) or poll (GET /api/tickets/{id} "
        "of a ticket it opened, what an open chat page sends every 4 s); default ask",
    )
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    args = parser.parse_args()
    if min(args.instances) < 1 or args.clients < 1 or args.seconds <= 0 or args.warmup < 0:
        parser.error("--instances, --clients and --seconds must be positive")
    return args


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# ---- CPU, read from /proc ----------------------------------------------------------------------


def process_cpu(pid: int) -> float:
    """User plus system CPU seconds of one process; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def tree_cpu(pid: int) -> float:
    """A process and its children (nginx's master and workers, PostgreSQL's backends)."""
    return process_cpu(pid) + sum(tree_cpu(child) for child in children(pid))


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores since boot (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


@dataclass
class Meters:
    """The CPU of each part of the deployment: instances, nginx, PostgreSQL, Redis, us."""

    instances: list[Instance]
    nginx: int
    postgres: int
    redis: int
    start: dict[str, float] = field(default_factory=dict)
    machine: tuple[float, float] = (0.0, 0.0)

    def read(self) -> dict[str, float]:
        return {
            "instances": sum(i.cpu_seconds() for i in self.instances),
            "nginx": tree_cpu(self.nginx),
            "PostgreSQL": tree_cpu(self.postgres),
            "Redis": process_cpu(self.redis),
            "load generator": process_cpu(os.getpid()),
        }

    def begin(self) -> None:
        self.start, self.machine = self.read(), machine_busy()

    def used(self) -> tuple[dict[str, float], float]:
        """CPU seconds of each part since ``begin`` (and of the machine's other processes), and
        the machine's busy share of all cores."""
        now, (busy, total) = self.read(), machine_busy()
        share = (busy - self.machine[0]) / max(1.0, total - self.machine[1])
        used = {k: now[k] - self.start[k] for k in now}
        used["other processes"] = max(
            0.0, (busy - self.machine[0]) / os.sysconf("SC_CLK_TCK") - sum(used.values())
        )
        return used, share


def redis_pid(url: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        info = client.info("server")
        assert isinstance(info, dict)
        return int(info["process_id"])
    finally:
        client.close()


async def postmaster_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        backend = int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())
    return int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])


# ---- throughput ------------------------------------------------------------------------------------


@dataclass
class Throughput:
    instances: int
    answers: int
    failures: int
    seconds: float
    latencies_ms: list[float]
    cpu: dict[str, float]
    machine_share: float

    @property
    def rate(self) -> float:
        return self.answers / self.seconds


REQUESTS = {"ask": "POST /api/ask", "poll": "GET /api/tickets/{id}"}


async def drive(
    url: str, clients: int, seconds: float, texts: list[str], count_from: float, request: str = "ask"
) -> tuple[list[float], int]:
    """``clients`` keep-alive clients sending ``request`` (REQUESTS) until ``seconds`` from now;
    answers started after ``count_from`` (monotonic) are counted."""
    deadline = time.monotonic() + seconds
    latencies: list[float] = []
    failures = 0

    async def client(n: int) -> None:
        nonlocal failures
        headers = {"X-Client-Id": secrets.token_hex(8)}
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1), timeout=aiohttp.ClientTimeout(total=30), headers=headers
        ) as http:
            ticket: dict[str, str] = {}
            if request == "poll":  # the ticket this client's page shows
                async with http.post(f"{url}/api/tickets", json={"text": texts[n % len(texts)]}) as opened:
                    opened.raise_for_status()
                    ticket = await opened.json()
            i = n
            while time.monotonic() < deadline:
                started = time.monotonic()
                try:
                    if request == "poll":
                        sent = http.get(
                            f"{url}/api/tickets/{ticket['ticket_id']}",
                            headers={"X-Ticket-Token": ticket["token"]},
                        )
                    else:
                        sent = http.post(f"{url}/api/ask", json={"text": texts[i % len(texts)]})
                    async with sent as reply:
                        await reply.read()
                        ok = reply.status == 200
                except (TimeoutError, aiohttp.ClientError):
                    ok = False
                if started >= count_from:
                    if ok:
                        latencies.append((time.monotonic() - started) * 1000)
                    else:
                        failures += 1
                i += clients

    await asyncio.gather(*(client(n) for n in range(clients)))
    return latencies, failures


async def measure(cluster: Cluster, meters: Meters, args: argparse.Namespace, texts: list[str]) -> Throughput:
    count_from = time.monotonic() + args.warmup
    load = asyncio.create_task(
        drive(cluster.url, args.clients, args.warmup + args.seconds, texts, count_from, args.request)
    )
    await asyncio.sleep(args.warmup)
    meters.begin()
    latencies, failures = await load
    cpu, share = meters.used()
    return Throughput(len(cluster.instances), len(latencies), failures, args.seconds, latencies, cpu, share)


# ---- lease failover --------------------------------------------------------------------------------


@dataclass
class Failover:
    killed: str
    taken_over_s: float  # until another instance held the lease
    moved_s: float  # until the ticket opened just before the kill had moved on
    due_s: float  # when that ticket was due to move, counted from the kill


async def lease(engine: AsyncEngine) -> tuple[str, datetime] | None:
    """The sweep lease's holder and expiry, if any instance has taken it."""
    async with engine.connect() as conn:
        query = text("SELECT holder, expires_at FROM leases WHERE name = 'sweep'")
        row = (await conn.execute(query)).first()
    return (row[0], row[1]) if row is not None else None


async def ticket_version(engine: AsyncEngine, ticket_id: str) -> int:
    async with engine.connect() as conn:
        query = text("SELECT version FROM tickets WHERE id = :id")
        return int((await conn.execute(query, {"id": ticket_id})).scalar_one())


async def poll(check: Callable[[], Awaitable[object]], seconds: float = 120) -> float:
    """Seconds until ``await check()`` is true (polled every 20 ms)."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > seconds:
            raise ClusterError(f"not done within {seconds:.0f} s")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def failover(cluster: Cluster, engine: AsyncEngine, silence_s: float) -> Failover:
    """Open a ticket; kill the lease's holder just after it renewed the lease (the worst case:
    a whole lease to wait out); time the takeover and the ticket's move."""
    await poll(lambda: lease(engine))
    held = await lease(engine)
    assert held is not None
    async with aiohttp.ClientSession() as http:
        body = {"text": "数控机床主轴异响，换了轴承还是响", "site": "xcmg-hv-3"}
        async with http.post(f"{cluster.url}/api/tickets", json=body) as reply:
            reply.raise_for_status()
            ticket_id = (await reply.json())["ticket_id"]
    opened = time.monotonic()
    version = await ticket_version(engine, ticket_id)

    async def renewed() -> bool:
        return await lease(engine) != held

    await poll(renewed)
    holder = (await lease(engine) or held)[0]
    victim = cluster.by_name(holder)
    victim.kill()
    killed = time.monotonic()

    async def taken_over() -> bool:
        return (await lease(engine) or (holder,))[0] != holder

    async def moved() -> bool:
        return await ticket_version(engine, ticket_id) > version

    taken = await poll(taken_over)
    moved_s = taken + await poll(moved)
    victim.start()  # back to N instances for the next run
    await asyncio.to_thread(wait_all_healthy, [victim], 240)
    return Failover(holder, taken, moved_s, opened + silence_s - killed)


# ---- the report ---------------------------------------------------------------------------------------


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else (values or [0.0])[0]


def report(args: argparse.Namespace, runs: list[Throughput], failovers: list[Failover]) -> str:
    cores = os.cpu_count() or 1
    lines = [
        f"# Several instances behind nginx, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"{args.clients} clients sending {REQUESTS[args.request]} through nginx, {args.seconds:.0f} s "
        f"measured after {args.warmup:.0f} s; {cores} cores shared by everything below (1-minute load "
        f"average {os.getloadavg()[0]:.1f} at the end).",
        "",
        "| instances | answers/s | p50 ms | p95 ms | failed | CPU s: instances | nginx | PostgreSQL "
        "| Redis | load generator | other processes | instance CPU ms per answer "
        "| PostgreSQL CPU ms per answer | machine busy |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        cpu = run.cpu
        lines.append(
            f"| {run.instances} | {run.rate:.1f} | {percentile(run.latencies_ms, 50):.0f} | "
            f"{percentile(run.latencies_ms, 95):.0f} | {run.failures} | {cpu['instances']:.1f} | "
            f"{cpu['nginx']:.1f} | {cpu['PostgreSQL']:.1f} | {cpu['Redis']:.1f} | "
            f"{cpu['load generator']:.1f} | {cpu['other processes']:.1f} | "
            f"{1000 * cpu['instances'] / max(1, run.answers):.1f} | "
            f"{1000 * cpu['PostgreSQL'] / max(1, run.answers):.2f} | "
            f"{100 * run.machine_share:.0f}% of {cores} cores |"
        )
    if failovers:
        ttl = args.sweep_seconds * 3
        lines += [
            "",
            f"Sweep lease failover: sweep every {args.sweep_seconds:g} s, lease {ttl:g} s (3 sweeps), "
            f"silence {args.silence_minutes * 60:g} s; a ticket opened, then its holder SIGKILLed just "
            "after it renewed the lease (the longest wait).",
            "",
            "| run | killed | lease taken over after s | ticket moved after s | ticket was due after s |",
            "|---|---|---|---|---|",
        ]
        for n, f in enumerate(failovers, 1):
            lines.append(f"| {n} | {f.killed} | {f.taken_over_s:.1f} | {f.moved_s:.1f} | {f.due_s:.1f} |")
    return "\n".join(lines)


# ---- main ---------------------------------------------------------------------------------------------


async def start(cluster: Cluster, engine: AsyncEngine, redis_url: str) -> Meters:
    await asyncio.to_thread(cluster.start)
    pid = cluster.nginx.process.pid if cluster.nginx.process else 0
    return Meters(cluster.instances, pid, await postmaster_pid(engine), redis_pid(redis_url))


async def bench(args: argparse.Namespace, base_url: str, redis_url: str, folder: Path) -> str:
    texts = [q.text for q in load_queries(REPO / "knowledge" / "eval" / "queries.jsonl")]
    quiet = {**RateLimitSettings.lifted_environment(), "CRAFTDESK_LOG_LEVEL": "WARNING"}
    runs: list[Throughput] = []
    failovers: list[Failover] = []
    # throughput with the default sweep and silence (30 s, 30 min: nothing moves meanwhile);
    # then the failover, on a cluster of the most instances with the short ones
    plans = [(count, quiet, False) for count in args.instances]
    if args.failover_runs > 0 and max(args.instances) > 1:
        short = {
            "CRAFTDESK_TICKETS__SWEEP_SECONDS": str(args.sweep_seconds),
            "CRAFTDESK_TICKETS__SILENCE_MINUTES": str(args.silence_minutes),
        }
        plans.append((max(args.instances), quiet | short, True))
    for n, (count, settings, timing_failover) in enumerate(plans):
        flush(redis_url)
        database_url = await create_database(base_url, f"bench_{uuid.uuid4().hex[:12]}")
        cluster = Cluster(folder / f"run{n}", count, database_url, redis_url, args.model_cache, settings)
        engine = create_async_engine(database_url)
        try:
            log(f"{count} instance(s): starting")
            meters = await start(cluster, engine, redis_url)
            if timing_failover:
                for run in range(args.failover_runs):
                    failovers.append(await failover(cluster, engine, args.silence_minutes * 60))
                    log(f"failover {run + 1}: ticket moved {failovers[-1].moved_s:.1f} s after the kill")
                continue
            log(f"{count} instance(s): {args.clients} clients for {args.warmup + args.seconds:.0f} s")
            runs.append(await measure(cluster, meters, args, texts))
            log(f"{count} instance(s): {runs[-1].rate:.1f} answers/s")
        finally:
            await engine.dispose()
            cluster.stop()
    return report(args, runs, failovers)


def main() -> None:
    args = parse_args()
    if nginx_binary() is None:
        raise SystemExit("error: nginx is not installed (apt-get install nginx)")
    try:
        with (
            tempfile.TemporaryDirectory(prefix="craftdesk-instances-") as tmp,
            postgres_server() as base_url,
            redis_server() as redis_url,
        ):
            text_report = asyncio.run(bench(args, base_url, redis_url, Path(tmp)))
    except (ClusterError, PostgresUnavailable, RedisUnavailable) as exc:
        raise SystemExit(f"error: {exc}") from None
    except KeyboardInterrupt:
        raise SystemExit("interrupted") from None
    print(text_report)
    if args.out:
        args.out.write_text(text_report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
