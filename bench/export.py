"""Export: 1,000,000 answers to `responses.csv` through rabfang's export code, against `sqlite3 -csv`
running the equivalent query on the same file, plus the peak RSS of the exporting process.

    python bench/export.py [--quick | --smoke] [--answers N] [--rounds R] [--keep DIR] [--code DIR]

The database is generated in the real schema (storage.Database runs the migrations, then
storage.queries.bulk_load inserts rows): consenting participants answering whole areas with
ratings, "don't know", free text in Thai and English (some with commas, quotes, line breaks and
formula-looking starts), plus skipped questions that the export leaves out.

Each round runs, as separate child processes on the warm file: `sqlite3 -csv -header` with the
responses query, and a child that writes responses.csv exactly as `write_export` does (same table
definition, reader snapshot and writer). Peak RSS is that child's own ru_maxrss (os.wait4). The
whole `rabfang export` (all six files) is timed once more, for information.
`--code DIR` runs the exporting children on another checkout (e.g. `git archive` of an older
commit), for before/after figures on the same generated file.
Goals: responses.csv time ≤ 1.5× sqlite3's; peak RSS ≤ 150 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import ROOT, Verdicts, header, modes, run_measured, tempdir

from bot.surveys import load_catalog
from storage import Database

TIME_GOAL = 1.5
RSS_GOAL = 150.0  # MB


def responses_query() -> str:
    """The query write_export runs for responses.csv, unfiltered (what sqlite3 is given)."""
    from storage.queries import Filter, responses_sql

    return responses_sql(Filter())[0]


TEXTS = (
    "อินเทอร์เน็ตในหมู่บ้านยังช้าและไม่เสถียร ทำให้ใช้บริการออนไลน์ไม่ได้",
    "ต้องการให้ข้อมูลเชื่อมโยงกันระหว่างหน่วยงาน, ไม่ต้องกรอกซ้ำ",
    'Staff need training before the "new" system launches.',
    '=HYPERLINK("http://example.com")',
    "-ไม่มีความเห็น",
    "ควรมีช่องทางสำหรับผู้สูงอายุ\nที่ไม่มีสมาร์ตโฟน",
    "Rural clinics lack stable power; devices are shared.",
)


async def generate(path: Path, answers: int, seed: int = 8) -> tuple[int, int]:
    """A database holding exactly `answers` exportable answers; returns (participants, skipped rows)."""
    catalog = load_catalog()
    rng = random.Random(seed)
    profile = catalog.common.profile
    groups, regions = [o.id for o in profile.group], [o.id for o in profile.region]
    areas = list(catalog.areas)
    t0 = datetime(2026, 11, 1, 1, 0, tzinfo=UTC)
    people: list[tuple] = []
    progress: list[tuple] = []
    skipped = 0

    def rows():
        nonlocal skipped
        made, pid = 0, 0
        while made < answers:
            pid += 1
            at = t0 + timedelta(seconds=rng.randrange(30 * 86400), microseconds=rng.randrange(1_000_000))
            lang = "th" if rng.random() < 0.85 else "en"
            people.append(
                (pid, rng.choice(("line", "telegram")), f"U{pid:032x}", f"{pid:016x}", lang, "given", at.isoformat(),
                 rng.choice(groups), rng.choice(regions), None, at.isoformat())
            )  # fmt: skip
            for area in rng.sample(areas, rng.choice((1, 1, 2, 3))):
                started = at
                for step in catalog.flow(area):
                    if made >= answers:
                        break
                    at += timedelta(seconds=rng.randrange(5, 90), microseconds=rng.randrange(1_000_000))
                    base = (pid, area, step.item_id, step.question.id)
                    if step.question.kind == "text":
                        if rng.random() < 0.5:
                            skipped += 1
                            yield (*base, None, None, None, 1, lang, at.isoformat())
                            continue
                        yield (*base, None, None, rng.choice(TEXTS), 0, lang, at.isoformat())
                    elif rng.random() < 0.08:
                        yield (*base, "dk", None, None, 0, lang, at.isoformat())
                    else:
                        v = rng.choice((1, 2, 3, 3, 4, 4, 4, 5, 5))
                        yield (*base, str(v), v, None, 0, lang, at.isoformat())
                    made += 1
                progress.append((pid, area, started.isoformat(), at.isoformat()))

    from storage.queries import bulk_load

    async with await Database.open(path) as db:
        answer_rows = list(rows())  # fills `people` and `progress` too; ~1M small tuples
        await bulk_load(db, people, answer_rows, progress)
        await db.checkpoint()
    return len(people), skipped


def child_responses(db_path: str, out: str) -> None:
    """In a child process: write responses.csv the way write_export writes it, and nothing else."""

    async def go() -> int:
        from exports.csvfiles import write_csv
        from exports.tables import TABLES, Context
        from storage.queries import Filter, snapshot

        table = next(t for t in TABLES if t.name == "responses")
        async with await Database.open(db_path) as db, snapshot(db) as snap:
            ctx = Context(load_catalog(), Filter(), datetime.now(UTC))
            return await write_csv(Path(out) / table.file, table.spec, table.rows(snap, ctx))

    print(asyncio.run(go()))


def count_csv_rows(path: Path, encoding: str) -> int:
    with open(path, encoding=encoding, newline="") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    modes(ap, "100,000 answers, one round: under 30 s")
    ap.add_argument("--answers", type=int, help="answers to export (default 1,000,000)")
    ap.add_argument("--rounds", type=int, help="alternating rounds (default 3, 1 with --quick)")
    ap.add_argument("--keep", type=Path, help="generate the database here and keep it (reused if present)")
    ap.add_argument("--code", type=Path, default=ROOT, help="the checkout whose exports/ and storage/ to time")
    ap.add_argument("--child", nargs=2, metavar=("DB", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child_responses(*args.child)
        return 0
    answers = args.answers or (5_000 if args.smoke else 100_000 if args.quick else 1_000_000)
    rounds = args.rounds or (1 if args.quick or args.smoke else 3)
    cli = shutil.which("sqlite3")  # the baseline; a smoke run goes without it
    if not cli and not args.smoke:
        print("sqlite3 not found: apt-get install -y sqlite3", file=sys.stderr)
        return 2
    verdicts = Verdicts(smoke=args.smoke)
    with tempdir("export") as tmp:
        header(f"export: {answers:,} answers to responses.csv vs sqlite3 -csv", args, tmp)
        if cli:
            print(
                f"sqlite3 CLI: {subprocess.run([cli, '--version'], capture_output=True, text=True).stdout.split()[0]}"
            )
        db_path = (args.keep / f"export-{answers}.db") if args.keep else tmp / "export.db"
        if not db_path.exists():
            db_path.parent.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            people, skipped = asyncio.run(generate(db_path, answers))
            print(f"generated {answers:,} answers of {people:,} participants (+{skipped:,} skipped rows) "
                  f"in {time.perf_counter() - t0:.1f} s; file {db_path.stat().st_size / 2**20:.0f} MiB")  # fmt: skip
        sql = responses_query()
        env = {**os.environ, "RABFANG_DB": str(db_path), "PYTHONPATH": str(args.code.resolve())}
        print(f"exporting code: {args.code.resolve()}")
        ours_t, ours_rss, theirs_t, theirs_rss = [], [], [], []
        for r in range(rounds):
            sq_out = tmp / f"sqlite3-{r}.csv"
            if cli:
                with open(sq_out, "wb") as fh:
                    t, rss, res = run_measured([cli, "-csv", "-header", str(db_path), sql], stdout=fh, cwd=tmp)
                assert res.returncode == 0, res
            else:
                t, rss = float("nan"), float("nan")
            theirs_t.append(t)
            theirs_rss.append(rss)
            out = tmp / f"ours-{r}"
            out.mkdir()
            t, rss, res = run_measured(
                [sys.executable, __file__, "--child", str(db_path), str(out)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp, env=env,
            )  # fmt: skip
            assert res.returncode == 0, res.stderr.decode()
            assert int(res.stdout) == answers, res.stdout
            ours_t.append(t)
            ours_rss.append(rss)
            print(f"round {r + 1}: sqlite3 {theirs_t[-1]:.2f} s ({theirs_rss[-1]:.0f} MiB) · "
                  f"rabfang responses.csv {ours_t[-1]:.2f} s ({ours_rss[-1]:.0f} MiB)")  # fmt: skip
            if r == 0:  # the same rows, once: ours parsed as CSV, sqlite3's too
                assert count_csv_rows(out / "responses.csv", "utf-8-sig") == answers
                assert not cli or count_csv_rows(sq_out, "utf-8") == answers
            shutil.rmtree(out)
            sq_out.unlink(missing_ok=True)
        full = tmp / "full"
        t, rss, res = run_measured(
            [sys.executable, "-m", "bot", "export", "--out", str(full)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp, env=env,
        )  # fmt: skip
        assert res.returncode == 0, res.stderr.decode()
        sizes = {f.name: f.stat().st_size for f in full.iterdir()}
        ours, theirs = statistics.median(ours_t), statistics.median(theirs_t)
        peak = max(ours_rss)
        print(f"median of {rounds}: sqlite3 -csv {theirs:.2f} s · rabfang responses.csv {ours:.2f} s · "
              f"ratio {ours / theirs:.2f}× · rabfang peak RSS {peak:.0f} MiB (sqlite3 {max(theirs_rss):.0f} MiB)")  # fmt: skip
        print(f"whole `rabfang export` (6 files + README): {t:.2f} s, peak RSS {rss:.0f} MiB; "
              f"responses.csv {sizes.get('responses.csv', 0) / 2**20:.0f} MiB")  # fmt: skip
        verdicts.at_most("responses.csv time vs sqlite3 -csv", ours / theirs, TIME_GOAL)
        verdicts.at_most("peak RSS writing responses.csv", peak, RSS_GOAL, " MB")
        verdicts.at_most("peak RSS of the whole rabfang export", rss, RSS_GOAL, " MB")
    return verdicts.print()


if __name__ == "__main__":
    sys.exit(main())
