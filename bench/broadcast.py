"""Broadcast: 10,000 recipients through rabfang's Outreach (claimed deliveries, the broadcast
pacer at `settings.broadcast_rate`, CONCURRENCY workers) and the real TelegramChannel (its own
30/s pacer, RetryAfter honoured) against the project's fake Bot API (testbed/telegram_api.py,
uvicorn on 127.0.0.1) enforcing 30 messages/s: beyond that it answers 429 with retry_after.
Achieved rate vs the limit, and lost and duplicated sends, counted at the fake API (each
recipient must have exactly one sendMessage answered 200) and checked against the deliveries table.

    python bench/broadcast.py [--quick | --smoke] [--recipients N] [--rates 25 29]

The rates run side by side, each with its own fake API (its own 30/s), database and channel;
the machine is nowhere near busy at 60 sends/s. Achieved rate = sends answered 200 / the time
from the first to the last of them. A full run takes ~7 minutes: 10,000 sends at 25/s take
400 s, whatever the code does. Goals: ≥ 0.9× the limit (27/s), 0 lost, 0 duplicated.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import Verdicts, header, modes, tempdir

from bot.app import open_app
from bot.config import Settings
from bot.handlers.telegram import TelegramChannel
from bot.outreach import Outreach
from storage import outreach as q
from storage.queries import bulk_load
from testbed.telegram_api import TOKEN, FakeBotAPI

LIMIT = 30  # messages per second the fake API accepts
GOAL_RATE, GOAL_LOST, GOAL_DUP = 0.9, 0, 0
FIRST_CHAT = 800_000_000

logging.getLogger("rabfang").setLevel(logging.ERROR)


async def run(rate: float, recipients: int, db: Path) -> dict[str, Any]:
    async with FakeBotAPI() as api:
        api.rate_limit = LIMIT
        settings = Settings(
            _env_file=None,
            db=db,
            telegram_bot_token=TOKEN,
            telegram_api_base_url=api.base_url,
            broadcast_rate=rate,
        )
        async with open_app(settings) as app:
            now = datetime.now(UTC).isoformat()
            people = [
                (n + 1, "telegram", str(FIRST_CHAT + n), f"p{n:015x}", "th" if n % 5 else "en", "given", now,
                 "citizen", "bangkok", None, now)
                for n in range(recipients)
            ]  # fmt: skip
            await bulk_load(app.db, people, [])
            channel = TelegramChannel(app)  # its default pacer: 30/s overall, 1/s per chat
            await channel.start()
            try:
                outreach = Outreach(app.db, app.catalog, app.settings, {"telegram": channel})
                bid = await q.create_broadcast(
                    app.db, "all", "ประกาศ: เปิดรับฟังความคิดเห็นถึงสิ้นเดือน", "Notice: comments open until month end",
                    None, datetime.now(UTC),
                )  # fmt: skip
                t0 = time.monotonic()
                await outreach.broadcasts()
                wall = time.monotonic() - t0
            finally:
                await channel.stop()
            statuses = dict(
                await app.db.fetch_all(
                    "SELECT status, count(*) FROM deliveries WHERE kind = 'broadcast' AND ref = ? GROUP BY status",
                    (str(bid),),
                )
            )
        sends = [c for c in api.calls if c.method == "sendMessage"]
        ok = [c for c in sends if c.status == 200]
        per_chat = Counter(c.params["chat_id"] for c in ok)
        expected = {FIRST_CHAT + n for n in range(recipients)}
        lost = len(expected - set(per_chat))
        dup = sum(n - 1 for chat, n in per_chat.items() if n > 1)
        stray = sum(1 for chat in per_chat if chat not in expected)
        span = (ok[-1].at - ok[0].at) if len(ok) > 1 else float("nan")
        worst = max(sum(1 for c in ok if c.at - x.at < 1.0 and c.at >= x.at) for x in ok[:: max(1, len(ok) // 500)])
    return {
        "rate": rate,
        "sent": len(ok),
        "achieved": (len(ok) - 1) / span if len(ok) > 1 else 0.0,
        "wall": wall,
        "429": sum(1 for c in sends if c.status == 429),
        "lost": lost,
        "dup": dup,
        "stray": stray,
        "statuses": statuses,
        "worst_second": worst,
    }


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    modes(ap, "300 recipients: under 30 s")
    ap.add_argument("--recipients", type=int, help="default 10,000")
    ap.add_argument("--rates", type=float, nargs="*", default=[25.0, 29.0], help="broadcast_rate values to run")
    args = ap.parse_args()
    recipients = args.recipients or (60 if args.smoke else 300 if args.quick else 10_000)
    verdicts = Verdicts(smoke=args.smoke)
    with tempdir("broadcast") as tmp:
        header(f"broadcast: {recipients:,} recipients, a fake Bot API enforcing {LIMIT}/s", args, tmp)
        results = await asyncio.gather(*(run(rate, recipients, tmp / f"broadcast-{rate:g}.db") for rate in args.rates))
        for r in results:
            print(
                f"broadcast_rate {r['rate']:g}/s: {r['sent']:,} sent in {r['wall']:.1f} s · achieved "
                f"{r['achieved']:.2f}/s = {r['achieved'] / LIMIT:.3f}× the limit · 429s {r['429']} · "
                f"lost {r['lost']} · duplicated {r['dup']} · busiest second {r['worst_second']} · "
                f"deliveries {r['statuses']}"
            )
            verdicts.at_least(
                f"rate {r['rate']:g}/s: achieved vs the {LIMIT}/s limit", r["achieved"] / LIMIT, GOAL_RATE
            )
            verdicts.exactly(f"rate {r['rate']:g}/s: lost sends", r["lost"], GOAL_LOST)
            verdicts.exactly(f"rate {r['rate']:g}/s: duplicated sends", r["dup"] + r["stray"], GOAL_DUP)
    return verdicts.print()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
