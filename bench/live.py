"""Live session: 300 checked-in participants (200 on LINE, 100 on Telegram) answer one capability
in the room, two taps each, within 10 s, through the real channels (webhooks on LINE, getUpdates
on Telegram) against the project's fake platform APIs, while a presenter page's event stream
(exports/presenter.py, over HTTP on 127.0.0.1) watches. Figures: every answer stored (600 taps →
600 live answers), and how long after the last tap the stream showed the full count; the
baseline is the same lag after a single tap in a quiet room, measured in the same run.

    python bench/live.py [--quick | --smoke] [--people 300] [--seconds 8] [--screenshot docs/live-presenter-th.png]

Goals: all answers stored; the stream up to date within 2 s of the last tap. With --screenshot
(and chromium installed) the presenter page mid-session, in Thai, is saved there.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from _common import Verdicts, header, modes, tempdir

from bot.i18n import NOTICE_VERSION
from bot.model import Outcome, State
from exports.presenter import presenter_link
from testbed.telegram_api import Participant
from tests.test_live import chromium_missing, chromium_on, live_stack, live_taps, started

GOAL_LAG = 2.0  # seconds from the last tap to the stream showing it
COMMENTS = (
    "ครูยังขาดอุปกรณ์และอินเทอร์เน็ตในโรงเรียน",
    "ข้อมูลผู้เรียนยังไม่เชื่อมโยงกันระหว่างหน่วยงาน",
    "ควรพัฒนาทักษะดิจิทัลของครูก่อน",
    "อินเทอร์เน็ตในโรงเรียนชนบทยังช้า",
    "ข้อมูลผู้เรียนควรเปิดให้ผู้ปกครองดูได้",
    "งบประมาณไม่พอสำหรับอุปกรณ์",
)


async def seed(live: Any, line_ids: list[str], tg_ids: list[int]) -> None:
    """Participants who consented and checked in before (as if they had scanned the code)."""
    now = datetime.now(UTC)

    def ready(state: State) -> Outcome:
        return Outcome(
            state=state.model_copy(
                update={
                    "lang": "th",
                    "consent": "given",
                    "consent_at": now,
                    "consent_version": NOTICE_VERSION,
                    "group": "government",
                    "region": "central",
                    "step": "menu",
                    "checkins": {live.session: now},
                }
            )
        )

    for channel, ids in (("line", line_ids), ("telegram", [str(i) for i in tg_ids])):
        for user_ref in ids:
            await live.app.db.handle_event(channel, user_ref, None, ready, now)


class Watcher:
    """The presenter's event stream, read as a projector would: the time each state arrived."""

    def __init__(self, url: str):
        self.url = url
        self.seen: list[tuple[float, int]] = []  # (monotonic time, answers shown)
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=None) as client, client.stream("GET", self.url + "/events") as stream:
            async for line in stream.aiter_lines():
                if line.startswith("data: "):
                    self.seen.append((time.monotonic(), json.loads(line[6:])["answers"]))

    async def until(self, answers: int, timeout: float = 30) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, n in self.seen:
                if n >= answers:
                    return at
            await asyncio.sleep(0.02)
        raise TimeoutError(f"the stream never showed {answers} answers")


async def bench(args: argparse.Namespace, tmp: Path) -> int:
    verdicts = Verdicts(smoke=args.smoke)
    n_tg = args.people // 3
    n_line = args.people - n_tg
    line_ids = ["U" + f"{0xB0000 + i:032x}" for i in range(n_line)]
    tg_ids = [900_000 + i for i in range(n_tg)]
    async with live_stack(tmp) as live:
        await seed(live, line_ids, tg_ids)
        await started(live)
        url = await presenter_link(live.app.db, live.app.settings, live.session)
        assert url
        watcher = Watcher(url)
        watcher.task = asyncio.create_task(watcher.run())
        t_open = time.monotonic()
        await live.admin("/live open learner_data")
        await live.line_api.wait_for(lambda: all(live_taps(live.lu(u)) for u in line_ids), timeout=60)
        tgs = [Participant(live.tg, i) for i in tg_ids]

        def tg_ready() -> bool:
            return sum(1 for c in live.tg.calls if c.method == "sendMessage" and c.params.get("reply_markup")) >= n_tg

        await live.tg.wait_for(tg_ready, timeout=60)
        wave = time.monotonic() - t_open
        print(f"wave: the capability's question reached {args.people} phones in {wave:.2f} s")

        key = "education.learner_data"

        async def tap_line(uid: str, data: str) -> None:
            response = await live.platform.post([live.lu(uid).postback(data)])
            assert response.status_code == 200

        async def tap_tg(p: Participant, data: str) -> None:
            await live.tg.deliver(live.tg.callback_update(p.user_id, p.question(), data))

        async def stored() -> int:
            ((n,),) = await live.sql(
                "SELECT count(*) FROM answers WHERE source = 'live' AND session_id = ? AND option IS NOT NULL",
                live.session,
            )
            return int(n)

        # the baseline: one tap in a quiet room
        t0 = time.monotonic()
        await tap_line(line_ids[0], f"lq.{key}.current_level=2")
        quiet_lag = await watcher.until(1) - t0

        # the room: everyone else taps twice (today, 2027) within the window; some comment
        rng = random.Random(16)
        people: list[tuple[str, Any]] = [("line", u) for u in line_ids] + [("tg", p) for p in tgs]
        plan: list[tuple[float, str, Any, str]] = []
        for n, (kind, who) in enumerate(people):
            first = rng.uniform(0, args.seconds * 0.7)
            second = first + rng.uniform(0.5, args.seconds * 0.3)
            for at, question, level in (
                (first, "current_level", rng.choice("12233")),
                (second, "target_level", rng.choice("3344")),
            ):
                if (kind, who, question) == ("line", line_ids[0], "current_level"):
                    continue
                plan.append((at, kind, who, f"lq.{key}.{question}={level}"))
            if n % 5 == 0:
                plan.append((second + 0.3, "text" + kind, who, COMMENTS[n % len(COMMENTS)]))
        plan.sort(key=lambda p: p[0])
        taps = sum(1 for p in plan if not p[1].startswith("text"))
        start = time.monotonic()

        async def one(at: float, kind: str, who: Any, data: str) -> None:
            await asyncio.sleep(max(0.0, start + at - time.monotonic()))
            if kind == "line":
                await tap_line(who, data)
            elif kind == "tg":
                await tap_tg(who, data)
            elif kind == "textline":
                response = await live.platform.post([live.lu(who).text(data)])
                assert response.status_code == 200
            else:
                await live.tg.deliver(live.tg.message_update(who.user_id, data))

        await asyncio.gather(*(one(*p) for p in plan))
        last_sent = time.monotonic()
        expected = taps + 1
        shown_at = await watcher.until(expected)
        while await stored() < expected and time.monotonic() - last_sent < 30:
            await asyncio.sleep(0.05)
        total = await stored()
        lag = max(0.0, shown_at - last_sent)
        window = last_sent - start
        print(f"room: {taps} taps from {args.people} participants sent over {window:.1f} s")
        ((comments,),) = await live.sql(
            "SELECT count(*) FROM answers WHERE source = 'live' AND session_id = ? AND text IS NOT NULL", live.session
        )
        sent_comments = sum(1 for p in plan if p[1].startswith("text"))
        print(f"stored: {total} live answers of {expected} taps, and {comments} of {sent_comments} comments")
        print(
            f"stream lag after the last tap: {lag:.2f} s (quiet room, one tap: {quiet_lag:.2f} s; ratio {lag / max(quiet_lag, 1e-3):.1f}×)"
        )
        verdicts.exactly("taps stored as live answers", total, expected)
        verdicts.at_most("stream lag after the last tap", lag, GOAL_LAG, " s")
        verdicts.at_most("the room's taps sent within", window, 10.0, " s")

        if args.screenshot and not chromium_missing():
            await asyncio.sleep(1.0)  # the comments' themes
            async with chromium_on(url + "#th", tmp / "chromium", size="1280,720") as page:
                await page.until("document.getElementById('answers').textContent !== '0'")
                await asyncio.sleep(0.5)
                data = await page.screenshot(Path(args.screenshot))
                print(f"screenshot: {args.screenshot} ({len(data):,} bytes)")
        watcher.task.cancel()
    return verdicts.print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    modes(parser, "100 participants")
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=8.0, help="the window the room taps in")
    parser.add_argument("--screenshot", help="save the presenter page (Thai, mid-session) here")
    args = parser.parse_args()
    if args.quick or args.smoke:
        args.people = 30 if args.smoke else 100
    logging.basicConfig(level=logging.WARNING)
    header("live session: a room answers one capability", args)
    with tempdir("live") as tmp:
        return asyncio.run(bench(args, tmp))


if __name__ == "__main__":
    sys.exit(main())
