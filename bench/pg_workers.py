"""Durable answers on PostgreSQL with 1, 2 and 4 worker processes: answers committed per second
through `Service.handle` (engine + storage: one transaction per event, the per-participant
advisory lock included) against raw INSERT + COMMIT through the same driver (psycopg 3) into the
same `answers` table, with the same number of processes and connections, in the same run.

    python bench/pg_workers.py [--quick | --smoke] [--workers 1 2 4] [--concurrency 10] [--pg postgresql://...]

Each worker process runs `concurrency` participants at a time (bench/_common.Participant: onboard
untimed, then a whole area survey timed); all processes start together (a barrier) and the rate is
every process's answers over the longest one's time. The raw baseline: the same processes, each
with `concurrency` connections in a closed loop of one-row INSERT + COMMIT. Without --pg, a
throwaway cluster (testbed/postgres.py) with the default, durable settings (fsync on).
Reported: answers/s, the ratio to raw at each worker count, and how each grows with workers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import statistics
import sys
import time
from typing import Any

from _common import Participant, Verdicts, header, modes

RAW_PARTICIPANT = 1_000_000_000  # far from the ids rabfang's participants get
AREAS = ("education", "health", "agriculture", "welfare", "participation", "sme")


# ---- one worker process ------------------------------------------------------------------------


class Run:
    """Participants talking to one Service (as bench/durable.py's)."""

    def __init__(self, service: Any, first_id: int):
        self.service = service
        self.ids = iter(range(first_id, first_id + 10_000_000))

    async def send(self, p: Participant, event: Any) -> list[str]:
        handled = await self.service.handle("telegram", p.ref, event, str(next(self.ids)))
        assert handled is not None and handled.replies, (p.ref, event)
        return [b.data for b in handled.replies[-1].buttons]

    async def onboard(self, p: Participant) -> list[str]:
        buttons = await self.send(p, p.first())
        while True:
            event = p.next(buttons)
            assert event is not None
            if event.kind == "button" and event.data.startswith("area="):
                return await self.send(p, event)
            buttons = await self.send(p, event)

    async def answer(self, p: Participant, buttons: list[str]) -> None:
        while (event := p.next(buttons)) is not None:
            buttons = await self.send(p, event)


async def _rabfang(url: str, worker: int, people: int, concurrency: int, start: Any) -> tuple[int, float]:
    from bot.config import Settings
    from bot.service import Service
    from bot.surveys import load_catalog
    from storage import Database

    catalog = load_catalog()
    async with await Database.open(url) as db:
        run = Run(Service(db, catalog, Settings(_env_file=None, db=url, flood_limit=1_000_000)), worker * 10_000_000)
        everyone = [Participant(f"w{worker}p{i:05d}", AREAS[i % len(AREAS)], worker) for i in range(people)]
        firsts = [await run.onboard(p) for p in everyone]  # untimed
        start.wait()
        t0 = time.perf_counter()
        for s in range(0, people, concurrency):
            batch = list(zip(everyone[s : s + concurrency], firsts[s : s + concurrency], strict=True))
            await asyncio.gather(*(run.answer(p, b) for p, b in batch))
        return sum(p.answers for p in everyone), time.perf_counter() - t0


async def _raw(url: str, worker: int, rows: int, concurrency: int, start: Any) -> tuple[int, float]:
    import psycopg

    conns = [await psycopg.AsyncConnection.connect(url) for _ in range(concurrency)]
    start.wait()
    t0 = time.perf_counter()
    per = rows // concurrency

    async def writer(n: int) -> None:
        conn = conns[n]
        for i in range(per):
            await conn.execute(
                "INSERT INTO answers (participant_id, area, item, question, option, value, text, skipped, lang,"
                " answered_at) VALUES (%s, %s, %s, %s, '4', 4, NULL, 0, 'th', '2026-11-25T03:00:00+00:00')",
                (RAW_PARTICIPANT, f"w{worker}", f"c{n}", f"q{i}"),
            )
            await conn.commit()

    await asyncio.gather(*(writer(n) for n in range(concurrency)))
    elapsed = time.perf_counter() - t0
    for conn in conns:
        await conn.close()
    return per * concurrency, elapsed


def _child(kind: str, url: str, worker: int, size: int, concurrency: int, start: Any, out: Any) -> None:
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
    fn = _rabfang if kind == "rabfang" else _raw
    out.put(json.dumps(asyncio.run(fn(url, worker, size, concurrency, start))))


def measure(kind: str, url: str, workers: int, size: int, concurrency: int) -> float:
    ctx = mp.get_context("spawn")
    start, out = ctx.Barrier(workers + 1), ctx.Queue()
    procs = [ctx.Process(target=_child, args=(kind, url, w, size, concurrency, start, out)) for w in range(workers)]
    for p in procs:
        p.start()
    start.wait()
    results = [json.loads(out.get(timeout=600)) for _ in procs]
    for p in procs:
        p.join()
    done = sum(n for n, _ in results)
    return done / max(t for _, t in results)


def fresh(admin: str, name: str) -> str:
    """An empty database `name` on the server of `admin`, migrated; its URL."""
    import psycopg

    from storage import Database

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    url = admin.rsplit("/", 1)[0] + "/" + name

    async def migrate() -> None:
        async with await Database.open(url):
            pass

    asyncio.run(migrate())
    with psycopg.connect(url, autocommit=True) as conn:  # the raw rows need a participant to point at
        conn.execute(
            "INSERT INTO participants (id, channel, user_ref, pseudonym, created_at, updated_at, cursor)"
            " VALUES (%s, 'bench', 'raw', 'Praw', '2026-11-25T03:00:00+00:00', '2026-11-25T03:00:00+00:00', '{}')",
            (RAW_PARTICIPANT,),
        )
    return url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    modes(parser, "fewer participants, one round")
    parser.add_argument("--workers", type=int, nargs="+")
    parser.add_argument("--concurrency", type=int, default=10, help="participants at a time per worker")
    parser.add_argument(
        "--pg", help="a PostgreSQL URL whose server may get scratch databases (default: a throwaway cluster)"
    )
    args = parser.parse_args()
    args.workers = args.workers or ([1, 2] if args.smoke else [1, 2, 4])
    people = 3 if args.smoke else 20 if args.quick else 60  # per worker; ~16 answers each
    rounds = 1 if args.quick or args.smoke else 3
    verdicts = Verdicts(smoke=args.smoke)
    header("durable answers on PostgreSQL, by worker processes", args)
    cluster = None
    admin = args.pg
    if admin is None:
        from testbed.postgres import Cluster

        cluster = Cluster.start(durable=True)
        admin = cluster.url()
    try:
        print(
            f"{people} participants per worker, {args.concurrency} at a time; raw: {args.concurrency} connections per worker"
        )
        figures: dict[int, tuple[float, float]] = {}
        for n in args.workers:
            ours, raws = [], []
            for r in range(rounds):
                url = fresh(admin, f"bench_w{n}_{r}")
                raws.append(measure("raw", url, n, people * 16, args.concurrency))
                ours.append(measure("rabfang", url, n, people, args.concurrency))
            figures[n] = (statistics.median(ours), statistics.median(raws))
            o, w = figures[n]
            print(f"{n} worker(s): rabfang {o:,.0f} answers/s, raw INSERT+COMMIT {w:,.0f} rows/s: {o / w:.2f}×")
            verdicts.some(f"{n} worker(s): answers stored per second", round(o))
        base_o, base_w = figures[args.workers[0]]
        for n in args.workers[1:]:
            o, w = figures[n]
            print(f"growth {args.workers[0]}→{n} workers: rabfang {o / base_o:.2f}×, raw {w / base_w:.2f}×")
    finally:
        if cluster is not None:
            cluster.stop()
    return verdicts.print()


if __name__ == "__main__":
    sys.exit(main())
