"""Durable answers: answers committed per second through `Service.handle` (engine + storage, one
unit of work per event) against the raw limit of the same database — a single-row INSERT + COMMIT
through the same driver, into the same `answers` table, in the same run:

- SQLite: aiosqlite under the same pragmas (WAL, synchronous=NORMAL); rabfang's writer thread
  with group commit (storage/sqlite.py);
- PostgreSQL (--postgres, on by default when PostgreSQL is installed; a throwaway cluster with
  the server's default durability, fsync and synchronous_commit on): psycopg, one connection per
  writer up to the pool size rabfang uses (storage.postgres.POOL_SIZE); rabfang: one worker.

    python bench/durable.py [--quick | --smoke] [--profile] [--breakdown] [--no-postgres] [--concurrency 1 10 50]

Each simulated participant onboards (untimed: /start, language, consent, profile, area), then
answers a whole area survey (timed); every timed event stores exactly one answer. Concurrency 1
runs participants one after another; N runs N participants at once on one Service.
Goal: rabfang ≥ 0.5× the raw rate at the same concurrency. Raw and rabfang runs alternate, a few
rounds each (one with --quick); the ratio reported is the median of the rounds' ratios.
--breakdown times each part of an event on SQLite (claim, load, decide, save, the rest) and counts
the hops to the writer thread.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sqlite3
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite
from _common import Participant, Verdicts, header, modes, percentile, tempdir

import storage.db as sdb
import storage.sqlite as ssq
from bot.config import Settings
from bot.engine import Engine
from bot.service import Service
from bot.surveys import Catalog, load_catalog
from storage import Database
from storage.db import PRAGMAS

GOAL = 0.5
AREAS = ("education", "health", "agriculture", "welfare", "participation", "sme")
INSERT = (
    "INSERT INTO answers (participant_id, area, item, question, option, value, text, skipped, lang, answered_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


# ---- the raw limit ----------------------------------------------------------------------------


async def raw_db(path: Path) -> None:
    """The real schema (migrations run by storage.Database) with one participant to answer for."""
    async with await Database.open(path):
        pass
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO participants (id, channel, user_ref, pseudonym, created_at, updated_at)"
            " VALUES (1, 'bench', 'raw', 'raw', '2026-01-01', '2026-01-01')"
        )
    conn.close()


async def raw_rate(path: Path, rows: int, concurrency: int, per_commit: int = 1) -> tuple[float, list[float]]:
    """Rows/s of `await execute(INSERT); await commit()` — one row per transaction unless
    `per_commit` > 1 (the ceiling a group commit could reach). Concurrent writers share one
    connection behind a lock, as a single writer connection must."""
    await raw_db(path)
    conn = await aiosqlite.connect(path)  # default isolation: the INSERT opens the transaction
    for pragma in PRAGMAS:
        await conn.execute(pragma)
    await conn.commit()
    lock = asyncio.Lock()
    counter = itertools.count()
    now = datetime.now(UTC).isoformat()
    lat: list[float] = []

    async def writer(n: int) -> None:
        for _ in range(n):
            t0 = time.perf_counter()
            async with lock:
                for _ in range(per_commit):
                    i = next(counter)
                    await conn.execute(INSERT, (1, "raw", "", f"q{i}", "4", 4, None, 0, "th", now))
                await conn.commit()
            lat.append(time.perf_counter() - t0)

    each = rows // (concurrency * per_commit)
    t0 = time.perf_counter()
    await asyncio.gather(*(writer(each) for _ in range(concurrency)))
    elapsed = time.perf_counter() - t0
    await conn.close()
    with sqlite3.connect(path) as check:
        stored = check.execute("SELECT count(*) FROM answers").fetchone()[0]
    check.close()
    assert stored == each * concurrency * per_commit, (stored, each, concurrency)
    return stored / elapsed, lat


async def raw_rate_pg(url: str, rows: int, concurrency: int) -> tuple[float, list[float]]:
    """Rows/s of psycopg `await execute(INSERT); await commit()`, one row per transaction; writers
    share up to POOL_SIZE connections (what rabfang's pool holds), as rabfang's events do."""
    import psycopg

    from storage.postgres import POOL_SIZE

    async with await Database.open(url):
        pass
    conns = [await psycopg.AsyncConnection.connect(url) for _ in range(min(concurrency, POOL_SIZE))]
    await conns[0].execute(
        "INSERT INTO participants (id, channel, user_ref, pseudonym, created_at, updated_at)"
        " VALUES (1, 'bench', 'raw', 'raw', '2026-01-01', '2026-01-01')"
    )
    await conns[0].commit()
    free: asyncio.Queue = asyncio.Queue()
    for c in conns:
        free.put_nowait(c)
    counter = itertools.count()
    now = datetime.now(UTC).isoformat()
    lat: list[float] = []
    sql = INSERT.replace("?", "%s")

    async def writer(n: int) -> None:
        for _ in range(n):
            t0 = time.perf_counter()
            conn = await free.get()
            try:
                await conn.execute(sql, (1, "raw", "", f"q{next(counter)}", "4", 4, None, 0, "th", now))
                await conn.commit()
            finally:
                free.put_nowait(conn)
            lat.append(time.perf_counter() - t0)

    each = rows // concurrency
    t0 = time.perf_counter()
    await asyncio.gather(*(writer(each) for _ in range(concurrency)))
    elapsed = time.perf_counter() - t0
    cur = await conns[0].execute("SELECT count(*) FROM answers")
    (stored,) = await cur.fetchone()
    for c in conns:
        await c.close()
    assert stored == each * concurrency, (stored, each, concurrency)
    return stored / elapsed, lat


# ---- rabfang ------------------------------------------------------------------------------------


class Breakdown:
    """Where one event's time goes, at concurrency 1 (so no await overlaps another): the storage
    helpers, the engine and the hops to aiosqlite's thread are wrapped with timers."""

    PARTS = ("_claim", "_load", "_save")

    def __init__(self) -> None:
        self.on = False
        self.events = 0
        self.hops = 0
        self.t: dict[str, float] = dict.fromkeys(("handle", "decide", *self.PARTS), 0.0)

    @contextmanager
    def installed(self) -> Iterator[None]:
        originals = {name: getattr(sdb, name) for name in self.PARTS}
        decide, execute = Engine.decide, ssq.SqliteBackend._hop
        me = self

        def timed(name: str, fn):
            async def wrapper(*a, **kw):
                t0 = time.perf_counter()
                try:
                    return await fn(*a, **kw)
                finally:
                    if me.on:
                        me.t[name] += time.perf_counter() - t0

            return wrapper

        def timed_decide(self, *a, **kw):
            t0 = time.perf_counter()
            try:
                return decide(self, *a, **kw)
            finally:
                if me.on:
                    me.t["decide"] += time.perf_counter() - t0

        async def counted_execute(self, *a, **kw):
            if me.on:
                me.hops += 1
            return await execute(self, *a, **kw)

        for name, fn in originals.items():
            setattr(sdb, name, timed(name, fn))
        Engine.decide, ssq.SqliteBackend._hop = timed_decide, counted_execute
        try:
            yield
        finally:
            for name, fn in originals.items():
                setattr(sdb, name, fn)
            Engine.decide, ssq.SqliteBackend._hop = decide, execute

    def print(self) -> None:
        n = max(1, self.events)
        t = {k: v / n * 1e6 for k, v in self.t.items()}
        inside = t["_claim"] + t["_load"] + t["_save"] + t["decide"]
        print(f"  per survey event ({self.events} events, concurrency 1), microseconds:")
        print(f"    Service.handle total      {t['handle']:7.0f}")
        print(f"      claim event id          {t['_claim']:7.0f}")
        print(f"      load state (_load)      {t['_load']:7.0f}")
        print(f"      engine decide           {t['decide']:7.0f}")
        print(f"      save state (_save)      {t['_save']:7.0f}")
        print(f"      BEGIN/COMMIT, lock, rest {t['handle'] - inside:6.0f}")
        print(f"    hops to the writer thread per event: {self.hops / n:.1f}")


class Run:
    """Participants talking to one Service over a real database file."""

    def __init__(self, service: Service, breakdown: Breakdown | None = None):
        self.service = service
        self.update_ids = itertools.count(1)
        self.latencies: list[float] = []
        self.breakdown = breakdown

    async def send(self, p: Participant, event) -> list[str]:
        b = self.breakdown
        if b is not None:
            b.on = p.phase == "survey"
        t0 = time.perf_counter()
        handled = await self.service.handle("telegram", p.ref, event, str(next(self.update_ids)))
        if p.phase == "survey":
            self.latencies.append(time.perf_counter() - t0)
            if b is not None:
                b.t["handle"] += self.latencies[-1]
                b.events += 1
                b.on = False
        assert handled is not None and handled.replies, (p.ref, event)
        return [b.data for b in handled.replies[-1].buttons]

    async def onboard(self, p: Participant) -> list[str]:
        buttons = await self.send(p, p.first())
        while True:
            event = p.next(buttons)
            assert event is not None
            if event.kind == "button" and event.data.startswith("area="):
                return await self.send(p, event)  # the area's first question
            buttons = await self.send(p, event)

    async def answer(self, p: Participant, buttons: list[str]) -> None:
        while (event := p.next(buttons)) is not None:
            buttons = await self.send(p, event)


async def count_answers(db: Database) -> int:
    return (await db.fetch_all("SELECT count(*) FROM answers"))[0][0]


async def rabfang_rate(
    target: Path | str,
    catalog: Catalog,
    participants: int,
    concurrency: int,
    seed: int = 1,
    breakdown: Breakdown | None = None,
) -> tuple[float, list[float], int, list[int]]:
    """Answers/s while `concurrency` participants at a time answer a whole area each; also the
    sizes of SQLite's group commits."""
    settings = Settings(_env_file=None, db=target)
    async with await Database.open(target) as db:
        run = Run(Service(db, catalog, settings), breakdown)
        people = [Participant(f"{seed}{i:06d}", AREAS[i % len(AREAS)], seed) for i in range(participants)]
        elapsed, before = 0.0, await count_answers(db)
        sizes: list[int] = []
        for start in range(0, participants, concurrency):
            batch = people[start : start + concurrency]
            firsts = await asyncio.gather(*(run.onboard(p) for p in batch))
            seen = len(db.batches)
            t0 = time.perf_counter()
            await asyncio.gather(*(run.answer(p, b) for p, b in zip(batch, firsts, strict=True)))
            elapsed += time.perf_counter() - t0
            sizes += list(db.batches)[seen:]
        stored = await count_answers(db) - before
        answered = sum(p.answers for p in people)
        assert stored == answered, f"{answered} answers sent but {stored} stored"
    return stored / elapsed, run.latencies, stored, sizes


def ms(values: list[float], p: float) -> str:
    return f"{percentile(values, p) * 1000:.2f}"


async def level_rounds(
    name: str, level: int, rounds: int, raw, ours, people: int, raw_rows: int, verdicts: Verdicts, profile: bool
) -> None:
    """Alternate raw and rabfang runs at one concurrency level; print medians and the verdict."""
    rates: dict[str, list[float]] = {"raw": [], "rabfang": []}
    ratios: list[float] = []
    lats: dict[str, list[float]] = {"raw": [], "rabfang": []}
    sizes: list[int] = []
    stored = 0
    for r in range(rounds):
        raw_rate_, raw_lat = await raw(raw_rows, level)
        rates["raw"].append(raw_rate_)
        lats["raw"] += raw_lat
        if profile and r == 0:
            from pyinstrument import Profiler

            with Profiler(async_mode="disabled", interval=0.0005) as prof:
                rate, lat, stored, batch = await ours(people, level)
            prof.print(short_mode=False, color=False, unicode=True, time="percent_of_total")
        else:
            rate, lat, stored, batch = await ours(people, level)
        rates["rabfang"].append(rate)
        ratios.append(rate / raw_rate_)
        lats["rabfang"] += lat
        sizes += batch
    for v in ("raw", "rabfang"):
        ratio = f"{statistics.median(ratios):5.2f}" if v == "rabfang" else "    1"
        count = stored if v != "raw" else raw_rows
        grouped = f" (mean group commit {statistics.mean(sizes):.1f})" if v == "rabfang" and sizes else ""
        print(
            f"{name:<10} | {level:>11} | {v:<7} | {statistics.median(rates[v]):>13.0f} | {ratio} | "
            f"{ms(lats[v], 50):>6} | {ms(lats[v], 99):>6} | {count}{grouped}"
        )
    verdicts.at_least(f"{name}: answers/s at concurrency {level} vs raw INSERT+COMMIT", statistics.median(ratios), GOAL)
    verdicts.some(f"{name}: answers stored at concurrency {level}", stored)


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    modes(ap, "a smaller run, under 30 s")
    ap.add_argument("--profile", action="store_true", help="profile the highest-concurrency run with pyinstrument")
    ap.add_argument("--concurrency", type=int, nargs="*", help="levels to run (default 1 10 50)")
    ap.add_argument("--breakdown", action="store_true", help="time each part of an event at concurrency 1")
    ap.add_argument("--rounds", type=int, help="alternating rounds per level (default 3, 1 with --quick)")
    ap.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = ap.parse_args()
    args.quick = args.quick or args.smoke
    levels = args.concurrency or ([1, 10] if args.smoke else [1, 10, 50])
    rounds = args.rounds or (1 if args.quick else 3)
    catalog = load_catalog()
    verdicts = Verdicts(smoke=args.smoke)
    cluster = None
    if not args.no_postgres:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from testbed.postgres import Cluster, binaries

        if binaries() is not None:
            cluster = Cluster.start(durable=True)
        else:
            print("PostgreSQL is not installed: SQLite only")
    try:
        with tempdir("durable") as tmp:
            header("durable answers: Service.handle vs raw INSERT+COMMIT through the same driver", args, tmp)
            print(f"{rounds} round(s) per level; figures are medians over rounds; latency is per event")
            print(
                f"{'backend':<10} | {'concurrency':>11} | {'variant':<7} | {'rows or ans/s':>13} | {'ratio':>5} | "
                f"{'p50 ms':>6} | {'p99 ms':>6} | answers/round"
            )
            n = itertools.count()
            raw_rows = 300 if args.smoke else 2000 if args.quick else 10_000
            for level in levels:
                people = (
                    (2 if args.smoke else 6 if args.quick else 24) if level == 1 else level * (1 if args.quick else 2)
                )
                profile = args.profile and level == max(levels)
                await level_rounds(
                    "sqlite",
                    level,
                    rounds,
                    lambda rows, c: raw_rate(tmp / f"raw-{next(n)}.db", rows, c),
                    lambda p, c: rabfang_rate(tmp / f"rabfang-{next(n)}.db", catalog, p, c),
                    people,
                    raw_rows,
                    verdicts,
                    profile,
                )
                if cluster is not None:
                    await level_rounds(
                        "postgresql",
                        level,
                        rounds,
                        lambda rows, c: raw_rate_pg(cluster.fresh_database(), rows, c),
                        lambda p, c: rabfang_rate(cluster.fresh_database(), catalog, p, c),
                        people,
                        (100 if args.smoke else 500 if args.quick else 1000)
                        * (1 if level == 1 else 2),  # a COMMIT waits for fsync
                        verdicts,
                        False,
                    )
            if args.breakdown:
                b = Breakdown()
                with b.installed():
                    await rabfang_rate(
                        tmp / f"breakdown-{next(n)}.db", catalog, 6 if args.quick else 24, 1, breakdown=b
                    )
                print("where the time goes (sqlite):")
                b.print()
            grouped, _ = await raw_rate(tmp / "raw-grouped.db", 2000 if args.quick else 10_000, 1, per_commit=50)
            print(f"for reference, raw SQLite with 50 rows per COMMIT (a group commit's ceiling): {grouped:.0f} rows/s")
    finally:
        if cluster is not None:
            cluster.stop()
    return verdicts.print()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
