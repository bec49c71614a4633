"""Crash safety: `rabfang run` is killed with SIGKILL at random moments while simulated participants
answer on Telegram (the fake Bot API, long polling) and on LINE (signed webhooks to its HTTP server),
both at once, and restarted each time.

Each participant answers one input at a time and sends the next only once the platform has been
told the last one was taken: a 2xx to the LINE webhook, or a later `getUpdates` offset. LINE
redelivers what got no 2xx (same webhookEventId, `isRedelivery: true`); Telegram keeps offering an
update until a later offset confirms it. The harness keeps a model: the acknowledged inputs, once
each and in order, through the pure engine (tests/reliability.py `Model`).

After every kill the file passes `PRAGMA integrity_check`. After every restart, once the in-flight
inputs are acknowledged and the LINE inbox is drained: integrity again; every participant's profile,
cursor, progress and answers equal the model's (an acknowledged answer missing is *lost*, one too
many is a *duplicate*); every acknowledged event id is in `events`, and no other. The first thing
each participant sends after a restart is `/start`, and its reply must offer exactly the buttons
of the question the model says they are on (with the "welcome back" line mid-survey). No participant
may ever see "that button is no longer valid" or "answer changed": either would mean an input was
applied twice or lost.

Kills come at a random moment of each round: after a random delay, or at the k-th call the bot makes
to either platform (so some land between a commit and its acknowledgement); one round in eight also
kills during start-up. The RNG is seeded; the seed is printed (RABFANG_CRASH_SEED=<n> replays it).

Sizes: CI runs 20 participants (10 per channel) through 50 kills, about 1.5-2 minutes (a restart
takes ~1.3 s, most of it imports; rounds drive for 0.1-1.3 s). RABFANG_LONG=1 runs 40 participants
through 200 kills (~7 minutes). The figures are printed at the end: kills, acknowledged inputs and
answers, lost, duplicates, integrity failures, cursor mismatches, resume checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.i18n import tr
from bot.model import Inbound, Outcome, State
from bot.surveys import Catalog
from testbed.line_api import FakeLineApi, LinePlatform, LineUser
from testbed.participants import Model, buttons_of, expected_state, next_input
from testbed.telegram_api import FakeBotAPI, Participant
from tests.reliability import base_url, both_environment, connect, integrity, report, scale, start_run, stored_state
from tests.test_telegram_e2e import rabfang_command

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

PEOPLE = scale(20, 40)
KILLS = scale(50, 200)
PG_KILLS = scale(20, 200)  # PostgreSQL keeps its own files whole: fewer kills in CI, the same checks

pytestmark = pytest.mark.backends  # tests/conftest.py: over SQLite and PostgreSQL
SEED = int(os.environ.get("RABFANG_CRASH_SEED") or random.SystemRandom().randrange(2**32))
ACK_TIMEOUT = 90.0  # an input is acknowledged within this, restarts included
ROUND_TIMEOUT = 120.0

STALE = {tr(lang, "stale") for lang in ("th", "en", None)}
CHANGED = tuple(tr(lang, "changed", question="", choice="").split(":")[0] for lang in ("th", "en"))


@dataclass
class Person:
    """A simulated participant and the model of what they did."""

    channel: str
    ref: str  # the user id as stored
    rng: random.Random
    tg: Participant | None = None
    line: LineUser | None = None
    state: State = field(default_factory=State)
    events: list[str] = field(default_factory=list)  # acknowledged event ids, in order
    inputs: int = 0
    answers: int = 0


@dataclass
class ResumeCheck:
    person: Person
    expected: Outcome
    survey: bool  # mid-survey: "welcome back" is expected too
    marker: Any  # Telegram: (first, last) index into the fake's calls; LINE: the reply token


class CrashHarness:
    def __init__(
        self,
        tmp_path: Path,
        tg: FakeBotAPI,
        line: FakeLineApi,
        catalog: Catalog,
        rng: random.Random,
        db: Path | str | None = None,
    ):
        self.tmp_path = tmp_path
        self.db = db or tmp_path / "rabfang.db"  # a SQLite file, or a PostgreSQL URL
        self.tg = tg
        self.line_api = line
        self.catalog = catalog
        self.model = Model(catalog)
        self.rng = rng
        self.env = both_environment(tg, line, self.db)
        self.platform = LinePlatform(line, base_url(self.env) + "/webhooks/line")
        self.up = asyncio.Event()  # the process is serving
        self.driving = asyncio.Event()  # participants may start a new input
        self.proc: asyncio.subprocess.Process | None = None
        self.log = (tmp_path / "rabfang.log").open("ab")
        self.figures: Counter[str] = Counter()
        self.lost: set[tuple[str, str]] = set()
        self.duplicated: set[tuple[str, str]] = set()
        self.problems: list[str] = []
        self.resumes: list[ResumeCheck] = []
        self.startup: list[float] = []
        self.people: list[Person] = []
        for n in range(PEOPLE):
            prng = random.Random(rng.randrange(2**32))
            if n % 2 == 0:
                uid = 610_000_000 + 7919 * n
                self.people.append(Person("telegram", str(uid), prng, tg=Participant(tg, uid)))
            else:
                ref = f"U{n:04d}c7a5" + "e" * 24
                self.people.append(Person("line", ref, prng, line=self.platform.user(ref)))

    # ---- the process ---------------------------------------------------------------------

    async def start(self) -> None:
        started = time.monotonic()
        self.proc = await start_run(self.tg, self.env, self.tmp_path, self.log)
        self.startup.append(time.monotonic() - started)
        self.up.set()

    async def kill(self) -> None:
        assert self.proc is not None
        self.up.clear()
        if self.proc.returncode is None:
            self.proc.kill()
        code = await asyncio.wait_for(self.proc.wait(), 20)
        if code != -signal.SIGKILL:
            self.problems.append(f"rabfang run exited with {code} before it was killed")
        self.figures["kills"] += 1
        self.check_integrity("after a kill")

    async def kill_during_start_up(self) -> None:
        """Start the process and kill it before (or just as) it is ready."""
        self.proc = await asyncio.create_subprocess_exec(
            *rabfang_command(), "run", cwd=self.tmp_path, env=self.env, stdout=self.log, stderr=self.log
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.proc.wait(), self.rng.uniform(0.2, 1.6))
        await self.kill()

    def check_integrity(self, when: str) -> None:
        result = integrity(self.db)
        if result != "ok":
            self.figures["integrity failures"] += 1
            self.problems.append(f"integrity_check {when}: {result}")

    # ---- participants ----------------------------------------------------------------------

    async def drive(self, p: Person) -> None:
        """Answer input after input while the round lasts; the first input of a round is /start."""
        first = True
        while self.driving.is_set():
            resume = first and bool(p.events)
            if resume:
                event = Inbound("text", text="/start")
            elif not p.events and p.channel == "line":
                event = Inbound("follow")
            else:
                event = next_input(p.rng, self.catalog, p.state, p.ref[-6:], p.inputs)
            expected = self.model.decide(p.state, event)
            answer = p.state.step == "survey" and event.text not in ("back", "/start") and "~back" not in event.data
            if p.channel == "telegram":
                marker = await self.telegram(p, event)
            else:
                marker = await self.line(p, event)
            p.state = expected.state
            p.inputs += 1
            self.figures["acknowledged inputs"] += 1
            if answer:
                p.answers += 1
                self.figures["acknowledged answers"] += 1
            if resume:
                self.resumes.append(ResumeCheck(p, expected, expected.state.step == "survey", marker))
            first = False

    async def telegram(self, p: Person, event: Inbound) -> tuple[int, int]:
        """Queue the update; done once the bot confirms it (however many restarts that takes)."""
        assert p.tg is not None
        uid = p.tg.user_id
        if event.kind == "button":
            try:
                message = p.tg.question()
            except AssertionError:  # its reply was lost to a kill: any message of ours carries the tap
                message = self.tg._new_message(uid, text="…")
            update = self.tg.callback_update(uid, message, event.data)
        else:
            update = self.tg.message_update(uid, event.text)
        mark = len(self.tg.calls)
        await self.tg.deliver(update)
        await self.tg.wait_acked(update["update_id"], timeout=ACK_TIMEOUT)
        p.events.append(str(update["update_id"]))
        return mark, len(self.tg.calls)

    async def line(self, p: Person, event: Inbound) -> str:
        """Post the signed event until the webhook answers 2xx, as LINE redelivers."""
        assert p.line is not None
        if event.kind == "follow":
            payload = p.line.follow()
        elif event.kind == "button":
            payload = p.line.postback(event.data)
        else:
            payload = p.line.text(event.text)
        attempt = 0
        async with asyncio.timeout(ACK_TIMEOUT):
            while True:
                await self.up.wait()
                body = payload if attempt == 0 else {**payload, "deliveryContext": {"isRedelivery": True}}
                attempt += 1
                try:
                    response = await self.platform.post([body])
                except httpx.TransportError:
                    self.figures["LINE redeliveries"] += 1
                    await asyncio.sleep(0.02)  # backoff; the harness clears `up` before it kills
                    continue
                if 200 <= response.status_code < 300:
                    break
                if response.status_code < 500:
                    self.problems.append(f"LINE webhook answered {response.status_code}: {response.text}")
                    raise AssertionError(response.text)
                self.figures["LINE redeliveries"] += 1
        p.events.append(payload["webhookEventId"])
        return payload["replyToken"]

    # ---- a round ------------------------------------------------------------------------------

    async def round(self) -> None:
        previous, self.resumes = self.resumes, []
        self.driving.set()
        drivers = [asyncio.create_task(self.drive(p)) for p in self.people]
        try:
            await self.random_moment(drivers)
            self.driving.clear()
            await self.kill()
            if self.rng.random() < 1 / 8:
                await self.kill_during_start_up()
            await self.start()
            async with asyncio.timeout(ROUND_TIMEOUT):
                await asyncio.gather(*drivers)
                await self.drained()
        finally:
            self.driving.clear()
            for task in drivers:
                task.cancel()
        self.check()
        self.check_resumes(previous)

    async def random_moment(self, drivers: list[asyncio.Task[None]]) -> None:
        """Wait a random time, or until the bot has made a random number of platform calls."""
        if self.rng.random() < 0.5:
            delay = self.rng.uniform(0.1, 1.3)
            done, _ = await asyncio.wait(drivers, timeout=delay, return_when=asyncio.FIRST_EXCEPTION)
        else:
            k = self.rng.randint(1, 40)
            base = len(self.tg.calls) + len(self.line_api.calls)

            def reached() -> bool:
                return len(self.tg.calls) + len(self.line_api.calls) - base >= k

            waiters = [
                asyncio.ensure_future(self.tg.wait_for(reached, timeout=3.0)),
                asyncio.ensure_future(self.line_api.wait_for(reached, timeout=3.0)),
            ]
            done, _ = await asyncio.wait([*waiters, *drivers], timeout=3.0, return_when=asyncio.FIRST_COMPLETED)
            for w in waiters:
                w.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
        for task in done:
            if task in drivers:
                task.result()  # a participant failed: surface it

    async def drained(self) -> None:
        """Every stored LINE event processed (bounded: ROUND_TIMEOUT around the caller)."""
        while True:
            with connect(self.db) as conn:
                (left,) = conn.execute("SELECT count(*) FROM inbox WHERE processed = 0").fetchone()
            if not left:
                return
            await asyncio.sleep(0.02)

    # ---- what must hold ------------------------------------------------------------------------

    def check(self) -> None:
        self.check_integrity("after a restart")
        with connect(self.db) as conn:
            stored_ids = {
                ch: {r[0] for r in conn.execute("SELECT event_id FROM events WHERE channel = ?", (ch,))}
                for ch in ("telegram", "line")
            }
            for p in self.people:
                got = stored_state(conn, p.channel, p.ref)
                want = expected_state(p.state)
                who = f"{p.channel}:{p.ref}"
                if got is None:
                    if p.events:
                        self.problems.append(f"{who}: no participant row after {len(p.events)} acknowledged inputs")
                        self.lost.update((who, k) for k in want["answers"])
                    continue
                for key, value in want["answers"].items():
                    if got["answers"].get(key) != value:
                        self.lost.add((who, key))
                        self.problems.append(f"{who}: answer {key} stored as {got['answers'].get(key)}, not {value}")
                for key in got["answers"].keys() - want["answers"].keys():
                    self.duplicated.add((who, key))
                    self.problems.append(f"{who}: answer {key} stored but never acknowledged")
                for part in ("profile", "cursor", "started", "completed"):
                    if got[part] != want[part]:
                        self.figures["cursor mismatches"] += 1
                        self.problems.append(f"{who}: {part} is {got[part]}, the model says {want[part]}")
                missing = [e for e in p.events if e not in stored_ids[p.channel]]
                if missing:
                    self.lost.update((who, f"event {e}") for e in missing)
                    self.problems.append(f"{who}: acknowledged events not in `events`: {missing}")
            for channel in ("telegram", "line"):
                acked = {e for p in self.people if p.channel == channel for e in p.events}
                extra = stored_ids[channel] - acked
                if extra:
                    self.duplicated.update((channel, f"event {e}") for e in extra)
                    self.problems.append(f"{channel}: events stored that were never sent: {sorted(extra)[:5]}")

    def check_resumes(self, records: list[ResumeCheck]) -> None:
        """The reply to a round's first /start names the question the model says they were on.
        Checked a round later: by then its replies went out, or a kill cut them short."""
        for r in records:
            texts, buttons = self.replies(r)
            if buttons is None:
                self.figures["resume checks cut short by a kill"] += 1
                continue
            want = buttons_of(r.expected)
            welcome = tr(r.expected.state.lang, "resume")
            if buttons != want or (r.survey and welcome not in texts):
                self.figures["resume mismatches"] += 1
                self.problems.append(
                    f"{r.person.channel}:{r.person.ref}: /start offered {buttons} after {texts}, the model says {want}"
                )
            else:
                self.figures["resume checks passed"] += 1

    def replies(self, r: ResumeCheck) -> tuple[list[str], list[str] | None]:
        """The texts and the last offered buttons of the replies to one input (None: no buttons came)."""
        if r.person.channel == "telegram":
            first, last = r.marker
            uid = int(r.person.ref)
            sent = [
                c
                for c in self.tg.calls[first:last]
                if c.method == "sendMessage" and c.status == 200 and c.params.get("chat_id") == uid
            ]
            texts = [c.params["text"] for c in sent]
            for c in reversed(sent):
                rows = (c.params.get("reply_markup") or {}).get("inline_keyboard")
                if rows:
                    return texts, [b["callback_data"] for row in rows for b in row]
            return texts, None
        messages = [m for c in self.line_api.replies_to(r.marker) if c.status == 200 for m in c.messages]
        texts = [m.get("text", m.get("altText", "")) for m in messages]  # a card is a Flex bubble
        for m in reversed(messages):
            items = (m.get("quickReply") or {}).get("items")
            if items:
                return texts, [i["action"]["data"] for i in items]
        return texts, None

    def unexpected_replies(self) -> list[str]:
        """Refusals or "answer changed" notices: signs that an input was applied twice, or out of order."""
        texts = [c.params.get("text", "") for c in self.tg.calls if c.method == "sendMessage"]
        texts += [m.get("text", "") for c in self.line_api.calls if c.delivered for m in c.messages]
        return [t for t in texts if t in STALE or any(t.startswith(s) for s in STALE) or t.startswith(CHANGED)]


async def test_sigkill_at_random_moments_loses_and_doubles_nothing(
    tmp_path: Path, catalog: Catalog, request: pytest.FixtureRequest, backend: str, pg_url: str | None
) -> None:
    kills = KILLS if backend == "sqlite" else PG_KILLS
    rng = random.Random(SEED)
    print(f"crash suite seed: {SEED} (RABFANG_CRASH_SEED={SEED} replays it)")
    began = time.monotonic()
    async with FakeBotAPI() as tg, FakeLineApi() as line:
        h = CrashHarness(tmp_path, tg, line, catalog, rng, pg_url)
        try:
            await h.start()
            while h.figures["kills"] < kills:
                await h.round()
            # A clean stop at the end, and one last look.
            assert h.proc is not None
            h.proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(h.proc.wait(), 30) == 0
            h.check_integrity("after the final stop")
            h.check_resumes(h.resumes)
            unexpected = h.unexpected_replies()
        finally:
            if h.proc is not None and h.proc.returncode is None:
                h.proc.kill()
                await h.proc.wait()
            await h.platform.aclose()
            h.log.close()

    f = h.figures
    figures = {
        "seed": SEED,
        "participants": PEOPLE,
        "kills": f["kills"],
        "acknowledged inputs": f["acknowledged inputs"],
        "acknowledged answers": f["acknowledged answers"],
        "lost": len(h.lost),
        "duplicates": len(h.duplicated),
        "integrity failures": f["integrity failures"],
        "cursor mismatches": f["cursor mismatches"],
        "resume checks passed": f["resume checks passed"],
        "resume checks cut short by a kill": f["resume checks cut short by a kill"],
        "resume mismatches": f["resume mismatches"],
        "refusals/changes seen": len(unexpected),
        "LINE redeliveries": f["LINE redeliveries"],
        "mean start-up s": round(sum(h.startup) / len(h.startup), 2),
        "duration s": round(time.monotonic() - began),
    }
    report(request, "crash safety", figures)
    log_tail = (tmp_path / "rabfang.log").read_text("utf-8", "replace")[-3000:]
    assert not h.problems, "\n".join(h.problems[:20]) + "\n--- log tail ---\n" + log_tail
    assert f["kills"] >= kills
    assert not unexpected, unexpected[:5]
    assert f["resume checks passed"] > 0
    assert f["acknowledged answers"] > 0
