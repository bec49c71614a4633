"""Benchmark: export a database of ~1,000,000 answers; prints time and peak memory.

    python bench/export_1m.py [--quick | --smoke] [--answers 1000000] [--format csv|xlsx] [--keep DIR] [--postgres]

Not part of the test run. Rows are loaded with storage.queries.bulk_load (no engine), then the
export runs as `rabfang export` does. Peak memory is the process's high-water mark, reset after
loading (Linux /proc/self/clear_refs), so it shows what the export itself needs.

--postgres runs it on PostgreSQL instead (a throwaway cluster, testbed/postgres.py): the export streams
through server-side cursors, so its memory stays flat too; for reference the same responses query
is also written with the server's own `COPY … TO STDOUT WITH CSV` through psycopg.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import Verdicts, header, modes

from bot.surveys import load_catalog
from exports import write_export
from exports.report import write_report
from storage import Database
from storage.queries import bulk_load

GROUPS = ("citizen", "sme", "farmer", "government", "academic", "private", "civil", "other")
REGIONS = ("bangkok", "central", "north", "northeast", "east", "west", "south", "abroad")
CHANNELS = ("line", "telegram")
OPTIONS = ("1", "2", "3", "4", "5", "dk")
RSS_GOAL = 150.0  # MB, the export set of any size (docs/benchmarks.md)
COMMENT = "ระบบยังไม่เชื่อมโยงกัน ต้องกรอกข้อมูลซ้ำหลายครั้ง ควรปรับปรุงให้ใช้งานง่ายขึ้น"


def peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> None:
    with contextlib.suppress(OSError):  # Linux only
        Path("/proc/self/clear_refs").write_text("5")


async def load(db: Database, target: int) -> int:
    catalog = load_catalog()
    steps = [s for a in catalog.areas for s in catalog.flow(a)]
    rnd = random.Random(7)
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    pid, total = 0, 0
    while total < target:
        people, answers, progress = [], [], []
        for _ in range(1000):
            pid += 1
            channel = CHANNELS[pid % 2]
            at = t0 + timedelta(seconds=pid * 37)
            people.append(
                (
                    pid,
                    channel,
                    f"user-{pid}",
                    f"{pid:016x}",
                    "th",
                    "given",
                    at.isoformat(),
                    rnd.choice(GROUPS),
                    rnd.choice(REGIONS),
                    None,
                    at.isoformat(),
                )
            )
            started = set()
            for s in steps:
                if total >= target or rnd.random() > 0.45:
                    continue
                started.add(s.area)
                when = (at + timedelta(seconds=total % 5000)).isoformat()
                if s.question.kind == "text":
                    answers.append((pid, s.area, s.item_id, s.question.id, None, None, COMMENT, 0, "th", when))
                else:
                    o = rnd.choice(OPTIONS)
                    value = None if o == "dk" else int(o)
                    answers.append((pid, s.area, s.item_id, s.question.id, o, value, None, 0, "th", when))
                total += 1
            for area in sorted(started):
                done = at.isoformat() if rnd.random() < 0.5 else None
                progress.append((pid, area, at.isoformat(), done))
            if total >= target:
                break
        await bulk_load(db, people, answers, progress)
    return total


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    modes(ap, "100,000 answers")
    ap.add_argument("--answers", type=int, help="default 1,000,000")
    ap.add_argument("--format", choices=("csv", "xlsx"), default="csv")
    ap.add_argument("--report", action="store_true", help="also time the HTML report")
    ap.add_argument("--keep", type=Path, help="write into this folder instead of a temporary one")
    ap.add_argument("--postgres", action="store_true", help="on a throwaway PostgreSQL cluster instead of SQLite")
    args = ap.parse_args()
    args.answers = args.answers or (5_000 if args.smoke else 100_000 if args.quick else 1_000_000)
    header(f"export of {args.answers:,} answers: time and peak memory", args)
    cluster = None
    if args.postgres:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from testbed.postgres import Cluster

        cluster = Cluster.start(durable=True)
    verdicts = Verdicts(smoke=args.smoke)
    try:
        await run(args, cluster, verdicts)
    finally:
        if cluster is not None:
            cluster.stop()
    return verdicts.print()


async def copy_baseline(url: str, out: Path) -> float:
    """The responses query written by PostgreSQL itself (COPY … TO STDOUT WITH CSV)."""
    import psycopg

    from storage.queries import Filter, responses_sql

    sql, params = responses_sql(Filter())
    assert not params
    t = time.perf_counter()
    async with await psycopg.AsyncConnection.connect(url) as conn, conn.cursor() as cur:
        with out.open("wb") as f:
            async with cur.copy(f"COPY ({sql}) TO STDOUT WITH CSV HEADER") as copy:
                async for chunk in copy:
                    f.write(chunk)
    return time.perf_counter() - t


async def run(args: argparse.Namespace, cluster, verdicts: Verdicts) -> None:  # type: ignore[no-untyped-def]
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        target = cluster.fresh_database() if cluster is not None else base / "bench.db"
        print(f"backend: {'postgresql' if cluster is not None else 'sqlite'}")
        db = await Database.open(target)
        t = time.perf_counter()
        n = await load(db, args.answers)
        print(f"loaded {n:,} answers in {time.perf_counter() - t:.1f} s")
        gc.collect()
        reset_peak()
        before = peak_mib()
        t = time.perf_counter()
        result = await write_export(db, base / "export", fmt=args.format, catalog=load_catalog())
        took = time.perf_counter() - t
        print(f"export ({args.format}): {took:.1f} s, peak memory {peak_mib():.0f} MiB (before: {before:.0f} MiB)")
        for name, rows in result.rows.items():
            print(f"  {name}: {rows:,} rows")
        verdicts.exactly("responses.csv rows vs answers loaded", result.rows.get("responses.csv", 0), n)
        verdicts.at_most("peak memory of the export", peak_mib(), RSS_GOAL, " MB")
        if cluster is not None:
            copied = await copy_baseline(str(target), base / "copy.csv")
            print(
                f"COPY (responses query) TO STDOUT WITH CSV: {copied:.1f} s; ratio {took / copied:.2f}x of the export set"
            )
        if args.report:
            reset_peak()
            t = time.perf_counter()
            await write_report(db, load_catalog(), base / "report.html")
            print(f"report: {time.perf_counter() - t:.1f} s, peak memory {peak_mib():.0f} MiB")
        await db.close()
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
