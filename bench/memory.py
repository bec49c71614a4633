"""Memory: the process's RSS while 100,000 participants get stored state through `Service.handle`
(engine + storage on a real file), sampled as they arrive. State lives in SQLite, so RSS should
stay flat whatever the number of participants.

    python bench/memory.py [--quick | --smoke] [--participants N] [--concurrency C]

Each participant sends /start and taps a language (two events, two transactions), arriving C at
a time with the service's own clock as the message time — a burst, as after a broadcast.
The baseline is the same process's RSS after the first 1,000 participants (imports, surveys,
SQLite's page cache warmed). Goals: RSS ≤ 200 MB at the end, and flat: at most 5 MB more over
the last 80% of participants (SQLite's page cache is bounded at its cache_size, reached early;
flood control's counts are rows in the database, not memory).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import time

from _common import Verdicts, header, modes, rss_mb, tempdir

from bot.config import Settings
from bot.model import Inbound
from bot.service import Service
from bot.surveys import load_catalog
from storage import Database

GOAL_MB = 200.0


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    modes(ap, "10,000 participants: under 30 s")
    ap.add_argument("--participants", type=int, help="default 100,000")
    ap.add_argument("--concurrency", type=int, default=50)
    args = ap.parse_args()
    total = args.participants or (1_500 if args.smoke else 10_000 if args.quick else 100_000)
    verdicts = Verdicts(smoke=args.smoke)
    with tempdir("memory") as tmp:
        header(f"memory: RSS with {total:,} participants' state stored", args, tmp)
        print(f"RSS at start (interpreter only): {rss_mb():.1f} MiB")
        catalog = load_catalog()
        settings = Settings(_env_file=None, db=tmp / "memory.db")
        async with await Database.open(settings.db) as db:
            service = Service(db, catalog, settings)
            ids = itertools.count(1)

            async def participant(n: int) -> None:
                ref = f"{7_000_000_000 + n}"
                first = await service.handle("telegram", ref, Inbound("text", text="/start"), str(next(ids)))
                assert first is not None
                tap = first.replies[-1].buttons[0].data  # lang=th
                assert await service.handle("telegram", ref, Inbound("button", data=tap), str(next(ids))) is not None

            print(f"RSS after imports, surveys and opening the database: {rss_mb():.1f} MiB")
            samples: list[tuple[int, float, float]] = []
            step = max(1000, total // 10)
            t0 = time.perf_counter()
            done, base = 0, None
            while done < total:
                upto = min(total, done + args.concurrency)
                await asyncio.gather(*(participant(n) for n in range(done, upto)))
                done = upto
                if base is None and done >= 1000:
                    base = rss_mb()
                    print(f"baseline after 1,000 participants: {base:.1f} MiB")
                if done % step == 0 or done == total:
                    rate = 2 * done / (time.perf_counter() - t0)
                    samples.append((done, rss_mb(), rate))
                    print(f"  {done:>7,} participants: RSS {samples[-1][1]:6.1f} MiB · {rate:5.0f} events/s so far")
            stored = (await db.fetch_all("SELECT count(*) FROM participants WHERE lang = 'th'"))[0][0]
            ((gate,),) = await db.fetch_all("SELECT count(*) FROM flood")
        final = samples[-1][1]
        assert base is not None
        print(f"participants stored: {stored:,}; the flood table holds {gate:,} rows at the end")
        verdicts.exactly("participants stored", stored, total)
        print(f"RSS: baseline {base:.1f} MiB → final {final:.1f} MiB (growth {final - base:+.1f} MiB, "
              f"{(final - base) * 1024 * 1024 / max(1, total - 1000):.0f} bytes per further participant)")  # fmt: skip
        verdicts.at_most(f"RSS with {total:,} participants stored", final, GOAL_MB, " MB")
        fifth = next(r for n, r, _ in samples if n >= total // 5)
        print(f"RSS over the last 80% of participants: {fifth:.1f} → {final:.1f} MiB ({final - fifth:+.1f} MiB)")
        if total // 5 >= 20_000:  # SQLite's page cache is full by then
            verdicts.at_most("RSS growth over the last 80% of participants (flat)", final - fifth, 5.0, " MB")
        else:
            print("flatness not judged: SQLite's page cache fills over the first participants")
    return verdicts.print()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
