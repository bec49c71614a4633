"""Participants through Telegram: simulated participants answering a whole area survey through
rabfang's TelegramChannel (python-telegram-bot's `Bot` as transport, rabfang's own getUpdates
loop, the engine and SQLite storage on a real file), against a bare python-telegram-bot echo bot
(`Application` + `Updater` long polling, a MessageHandler replying with the text) in the same
harness: the project's fake Bot API (testbed/telegram_api.py) served by uvicorn on 127.0.0.1
in the same process and event loop. Updates/s and p50/p99 latency per update.

    python bench/telegram_participants.py [--quick | --smoke] [--concurrency 1 50 500]

A participant sends an update (via getUpdates), waits for the bot's answer, reads its keyboard,
and sends the next: /start, language, consent, profile, an area, then every question of it
(~25–30 updates). Latency is from queuing the update to the answer's arrival at the fake API
(for rabfang the message carrying the next keyboard, after answerCallbackQuery and the edit that
marks the question answered). The echo bot's participants send as many text messages.
The echo bot runs twice — PTB's default (one update at a time) and `concurrent_updates(True)` —
and the faster is the baseline. rabfang runs with pacing off (Pacer at 10⁶/s) and flood control
off: both exist to stay under Telegram's limits (~30 messages/s), which would cap the figure at
that and measure nothing else. Goal: rabfang ≥ 0.5× the echo bot's updates/s.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from _common import Participant, Verdicts, header, modes, percentile, tempdir
from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from bot.app import open_app
from bot.config import Settings
from bot.handlers.telegram import Pacer, TelegramChannel
from testbed.telegram_api import TOKEN, Call, FakeBotAPI

GOAL = 0.5
AREAS = ("education", "health", "agriculture", "welfare", "participation", "sme")
UPDATES_PER_ECHO_PARTICIPANT = 28  # about what one area's survey takes, onboarding included

logging.getLogger("rabfang").setLevel(logging.ERROR)


class Harness:
    """The fake Bot API plus a future per chat, resolved when the bot's answer arrives."""

    def __init__(self, api: FakeBotAPI, answered: Callable[[Call], bool]):
        self.api = api
        self.answered = answered
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.latencies: list[float] = []
        self.updates = 0
        api.on_call = self._on_call

    def _on_call(self, call: Call) -> None:
        if call.method != "sendMessage" or call.status != 200 or not self.answered(call):
            return
        fut = self.waiting.pop(call.params.get("chat_id"), None)
        if fut is not None and not fut.done():
            fut.set_result(call.result)

    async def roundtrip(self, chat_id: int, update: dict[str, Any]) -> dict[str, Any]:
        fut = asyncio.get_running_loop().create_future()
        self.waiting[chat_id] = fut
        t0 = time.perf_counter()
        await self.api.deliver(update)
        msg = await asyncio.wait_for(fut, 60)
        self.latencies.append(time.perf_counter() - t0)
        self.updates += 1
        return msg

    def reset(self) -> None:
        self.latencies.clear()
        self.updates = 0


def keyboard_data(msg: dict[str, Any]) -> list[str]:
    return [b["callback_data"] for row in msg.get("reply_markup", {}).get("inline_keyboard", []) for b in row]


async def rabfang_participant(h: Harness, uid: int, area: str) -> None:
    p = Participant(str(uid), area)
    start = p.first()
    msg = await h.roundtrip(uid, h.api.message_update(uid, start.text))
    while (event := p.next(keyboard_data(msg))) is not None:
        if event.kind == "button":
            update = h.api.callback_update(uid, msg, event.data)
        else:
            update = h.api.message_update(uid, event.text)
        msg = await h.roundtrip(uid, update)


async def echo_participant(h: Harness, uid: int, area: str) -> None:
    for n in range(UPDATES_PER_ECHO_PARTICIPANT):
        msg = await h.roundtrip(uid, h.api.message_update(uid, f"ข้อความที่ {n} · message {n}"))
        assert msg["text"].endswith(f"message {n}")


async def drive(
    h: Harness, level: int, people: int, participant: Callable[[Harness, int, str], Awaitable[None]]
) -> tuple[float, list[float], int]:
    """`people` participants, `level` at a time (a new one starts as one finishes)."""
    h.reset()
    ids = iter(range(people))
    uid0 = 500_000_000 + 1_000_000 * level

    async def lane() -> None:
        for n in ids:
            await participant(h, uid0 + n, AREAS[n % len(AREAS)])

    t0 = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(level)))
    elapsed = time.perf_counter() - t0
    return h.updates / elapsed, list(h.latencies), h.updates


async def run_rabfang(db: Path, level: int, people: int) -> tuple[float, list[float], int]:
    async with FakeBotAPI() as api:
        h = Harness(api, lambda call: bool(call.params.get("reply_markup")))
        settings = Settings(
            _env_file=None,
            db=db,
            telegram_bot_token=TOKEN,
            telegram_api_base_url=api.base_url,
            flood_limit=1_000_000,
        )
        async with open_app(settings) as app:
            channel = TelegramChannel(app, pacer=Pacer(rate=1e6, chat_rate=1e6, chat_burst=100))
            await channel.start()
            try:
                result = await drive(h, level, people, rabfang_participant)
            finally:
                await channel.stop()
            answers = (await app.db.fetch_all("SELECT count(*) FROM answers"))[0][0]
            assert answers > 0
        return result


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None and update.message.text is not None
    await update.message.reply_text(update.message.text)


async def run_echo(level: int, people: int, concurrent: bool) -> tuple[float, list[float], int]:
    async with FakeBotAPI() as api:
        h = Harness(api, lambda call: True)
        application = ApplicationBuilder().token(TOKEN).base_url(api.base_url).concurrent_updates(concurrent).build()
        application.add_handler(MessageHandler(filters.TEXT, echo))
        async with application:
            await application.start()
            assert application.updater is not None
            await application.updater.start_polling(poll_interval=0, timeout=25)
            try:
                result = await drive(h, level, people, echo_participant)
            finally:
                await application.updater.stop()
                await application.stop()
        return result


def ms(values: list[float], p: float) -> str:
    return f"{percentile(values, p) * 1000:.1f}"


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    modes(ap, "smaller runs, under 30 s")
    ap.add_argument("--concurrency", type=int, nargs="*", help="levels (default 1 50 500; --quick 1 50)")
    ap.add_argument("--rounds", type=int, default=1, help="alternating rounds per level (median)")
    ap.add_argument("--only", choices=("rabfang", "echo"), help="run one side only (for a profiler); no verdict")
    args = ap.parse_args()
    levels = args.concurrency or ([1, 5] if args.smoke else [1, 50] if args.quick else [1, 50, 500])
    args.quick = args.quick or args.smoke
    verdicts = Verdicts(smoke=args.smoke)
    with tempdir("telegram") as tmp:
        header("participants through Telegram: rabfang vs a bare PTB echo bot", args, tmp)
        print(f"{'concurrent':>10} | {'bot':<26} | {'updates/s':>9} | {'p50 ms':>7} | {'p99 ms':>7} | updates")
        n = itertools.count()
        for level in levels:
            people = level * (1 if args.quick or level >= 500 else 2) if level > 1 else (2 if args.quick else 4)
            rows: dict[str, list[tuple[float, list[float], int]]] = {}
            for _ in range(args.rounds):
                runs: list[tuple[str, Callable[..., Awaitable[tuple[float, list[float], int]]], tuple[Any, ...]]] = [
                    ("echo, one at a time", run_echo, (level, people, False)),
                    ("echo, concurrent", run_echo, (level, people, True)),
                    ("rabfang", run_rabfang, (tmp / f"telegram-{next(n)}.db", level, people)),
                ]
                for name, run, run_args in runs:
                    if args.only is None or name.startswith(args.only):
                        rows.setdefault(name, []).append(await run(*run_args))
            med = {name: statistics.median(r[0] for r in results) for name, results in rows.items()}
            for name, results in rows.items():
                lat = [x for r in results for x in r[1]]
                print(f"{level:>10} | {name:<26} | {med[name]:>9.0f} | {ms(lat, 50):>7} | {ms(lat, 99):>7} | "
                      f"{results[0][2]}")  # fmt: skip
            if args.only:
                continue
            base = max(med["echo, one at a time"], med["echo, concurrent"])
            print(f"{'':>10}   rabfang / best echo = {med['rabfang'] / base:.2f}")
            verdicts.at_least(f"updates/s at {level} concurrent vs the echo bot", med["rabfang"] / base, GOAL)
            verdicts.some(f"rabfang updates answered at {level} concurrent", rows["rabfang"][0][2])
    return verdicts.print()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
