"""Time from a publish on instance A to the case being searchable on instance B, with the index
in PostgreSQL (CRAFTDESK_INDEX_STORE=database), woken by NOTIFY and by polling alone.

Example:
    python scripts/bench_index_store.py --database-url postgresql+asyncpg://craftdesk@127.0.0.1:5432/scratch

Give it an empty scratch database: the demo knowledge is imported into it, the first index
version built (one rebuild) and stored, and cases are added. A and B are two ``IndexStore``s in
this process, each with its own temporary data dir (as two instances on two machines, but sharing
this machine's cores). Each run commits a case, times A's ``add_published`` (encode the case,
pack the version, store it) and the time until B serves it (notified or polled, fetch, unpack,
load). Prints a markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from bot.context import DEMO_DIR, make_encoder
from bot.runtime import database, load_settings
from bot.service.clock import SystemClock
from bot.service.index_store import IndexStore, listen_dsn
from knowledge.interchange import import_dir
from knowledge.models import Case, IndexVersion
from retrieval.holder import IndexHolder


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: python scripts/bench_index_store.py --database-url postgresql+asyncpg://.../scratch",
    )
    parser.add_argument("--database-url", required=True, help="an empty scratch PostgreSQL database")
    parser.add_argument("--runs", type=int, default=7, help="publishes per mode; the median is shown")
    parser.add_argument("--poll", type=float, default=2.0, help="B's poll interval, seconds (default 2)")
    return parser.parse_args()


async def served_after(store: IndexStore, case_id: str, timeout: float = 60) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        current = store.holder.current
        if current is not None and case_id in current.case_position:
            return time.perf_counter() - started
        await asyncio.sleep(0.005)
    raise SystemExit(f"error: B never served {case_id} within {timeout} s")


async def measure(a: IndexStore, b: IndexStore, runs: int, poll: float, listen: bool, tag: str) -> list[str]:
    follower = asyncio.create_task(b.follow(poll, listen=listen))
    await asyncio.sleep(0.5)  # B's LISTEN connection is up
    publish, travel = [], []
    pause = random.Random(7)
    try:
        for n in range(runs):
            case_id = f"BENCH-{tag}-{n}"
            async with a.sessions() as session:
                session.add(
                    Case(
                        id=case_id,
                        title=f"测试案例{tag}{n}：液压缸爬行",
                        question="液压缸低速运行时一走一停，压力表指针摆动",
                        answer="排出液压缸内空气，检查导轨润滑和密封圈松紧。",
                        industry=None,
                        tags=[],
                        expert_id=None,
                        created_at=None,
                        extra={},
                    )
                )
                await session.commit()
            started = time.perf_counter()
            watcher = asyncio.create_task(served_after(b, case_id))
            await a.add_published()
            publish.append(time.perf_counter() - started)
            travel.append(await watcher + 0.0)
            await asyncio.sleep(pause.uniform(0, poll))  # the next publish at another point of B's poll
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
    how = "NOTIFY (+ poll)" if listen else "polling only"
    return [
        f"| {how}, poll {poll:g} s | {statistics.median(publish) * 1000:.0f} | "
        f"{statistics.median(travel) * 1000:.0f} | {min(travel) * 1000:.0f}-{max(travel) * 1000:.0f} |"
    ]


async def main(args: argparse.Namespace) -> None:
    settings = load_settings().model_copy(
        update={"database_url": args.database_url, "index_store": "database"}
    )
    encoder = await asyncio.to_thread(make_encoder, settings)
    async with database(settings) as (_, sessions):
        async with sessions() as session:
            if not await session.scalar(select(func.count()).select_from(Case)):
                await import_dir(session, DEMO_DIR)
        with tempfile.TemporaryDirectory(prefix="craftdesk-bench-") as scratch:
            clock, dsn = SystemClock(), listen_dsn(settings.db_url)
            stores = [
                IndexStore(
                    sessions,
                    IndexHolder(Path(scratch) / n / "index", encoder.model_id),
                    encoder,
                    n,
                    clock,
                    dsn=dsn,
                )
                for n in ("a", "b")
            ]
            a, b = stores
            started = time.perf_counter()
            await a.prepare(args.poll)
            print(f"A: first version ready in {time.perf_counter() - started:.1f} s")
            started = time.perf_counter()
            await b.prepare(args.poll)
            print(f"B: fetched and loaded it in {time.perf_counter() - started:.2f} s")
            rows = await measure(a, b, args.runs, args.poll, True, "n")
            rows += await measure(a, b, args.runs, args.poll, False, "p")
            async with sessions() as session:
                newest = await session.scalar(
                    select(IndexVersion).order_by(IndexVersion.created_at.desc()).limit(1)
                )
            assert newest is not None
            folder = Path(scratch) / "a" / "index" / "versions" / newest.version
            raw = sum(p.stat().st_size for p in folder.iterdir())
    print(f"\n{args.runs} publishes per mode, {newest.manifest['cases']} cases at the end\n")
    print("| B woken by | A: publish to stored, ms | publish to served on B, median ms | min-max ms |")
    print("|---|---|---|---|")
    print("\n".join(rows))
    print(f"\nstored blob: {newest.size / 1e6:.2f} MB (files {raw / 1e6:.2f} MB, gzip tar)")


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
