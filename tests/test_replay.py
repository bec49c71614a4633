"""Replay: every event of a participant's conversation delivered five times, on both channels, has
one stored effect and one reply.

One participant per test walks from the first contact through consent, profile and survey answers
(taps, typed answers, comments, skips, a few commands and a sticker); each of their events reaches
the bot five times:

- LINE, the same signed body five times one after another, or five at once;
- LINE, the original and then four redeliveries (`deliveryContext.isRedelivery: true`, so other
  bytes with the same webhookEventId), two after another and two at once;
- Telegram webhook, the same update POSTed five times one after another, or five at once;
- Telegram getUpdates, the same update five times in one batch, or once and then four more times
  after the bot confirmed it and restarted (its offset starts afresh).

After each event: one row in `events` for its id, the participant's stored state equal to the
model's (its events once each, in order, through the pure engine), exactly one processing's worth
of messages sent (LINE: one reply call, no push; Telegram: as many sendMessage calls as the engine's
replies make, one edit of a tapped question, every callback query answered). Where copies come
one after another, the copies after the first change no byte of participants, answers, progress,
events or the LINE inbox.

CI: 30 events per delivery pattern (7 patterns, ~15 s). RABFANG_LONG=1: 150 events per pattern.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.handlers.line import render
from bot.handlers.telegram import MAX_TEXT, SECRET_HEADER
from bot.model import Inbound, Outcome, Reply, State, chunks
from bot.surveys import Catalog
from testbed.line_api import FakeLineApi
from testbed.participants import Model, expected_state, next_input
from testbed.telegram_api import FakeBotAPI, Participant
from tests.reliability import (
    Stack,
    connect,
    dump,
    report,
    restart_telegram,
    running_stack,
    scale,
    stack_settings,
    stored_state,
)

EVENTS = scale(30, 150)

pytestmark = pytest.mark.backends  # tests/conftest.py: over SQLite and PostgreSQL
COPIES = 5
SNAPSHOT = ("participants", "answers", "progress", "events", "inbox", "registrations", "deletions")

MODES = [
    ("line", "sequential"),
    ("line", "concurrent"),
    ("line", "redelivery"),
    ("telegram", "webhook-sequential"),
    ("telegram", "webhook-concurrent"),
    ("telegram", "polling-batch"),
    ("telegram", "polling-reoffered"),
]


def journey(rng: random.Random, catalog: Catalog, model: Model, first: Inbound) -> Callable[[State, int], Inbound]:
    """The participant's next event: mostly answers, now and then a command or a sticker."""

    def nxt(state: State, n: int) -> Inbound:
        if n == 0:
            return first
        if n % 11 == 5:
            return Inbound("text", text=rng.choice(("/status", "/help", "/mydata", "ช่วยเหลือ")))
        if n % 13 == 7:
            return Inbound("unsupported")
        return next_input(rng, catalog, state, "replay", n)

    return nxt


def telegram_messages(replies: list[Reply]) -> int:
    """How many sendMessage calls the Telegram channel makes for these replies."""
    count = 0
    for r in replies:
        parts = [p for p in chunks(r.text, MAX_TEXT) if p.strip()]
        count += len(parts) or (1 if r.buttons else 0)
    return count


async def together(n: int, send: Callable[[], Awaitable[Any]]) -> list[Any]:
    return list(await asyncio.gather(*(send() for _ in range(n))))


class Replayer:
    def __init__(self, st: Stack, catalog: Catalog, mode: str):
        self.st = st
        self.catalog = catalog
        self.mode = mode
        self.db = st.app.settings.db
        self.problems: list[str] = []
        self.deliveries = 0
        self.http = httpx.AsyncClient(timeout=10.0)

    async def settle(self) -> None:
        await self.st.line.idle()

    def snapshot(self) -> dict:
        return dump(self.db, SNAPSHOT)

    def same_after(self, before: dict, what: str) -> None:
        after = self.snapshot()
        if after != before:
            changed = [t for t in SNAPSHOT if after[t] != before[t]]
            self.problems.append(f"{what}: the copies changed {changed}")

    # ---- LINE --------------------------------------------------------------------------------

    async def line_event(self, user: Any, event: Inbound, expected: Outcome) -> str:
        if event.kind == "follow":
            payload = user.follow()
        elif event.kind == "button":
            payload = user.postback(event.data)
        elif event.kind == "unsupported":
            payload = user.sticker()
        else:
            payload = user.text(event.text)
        platform = self.st.platform
        body = platform.body([payload])
        redelivered = platform.body([{**payload, "deliveryContext": {"isRedelivery": True}}])
        mark = len(self.st.line_api.calls)

        async def post(raw: bytes) -> int:
            self.deliveries += 1
            return (await platform.post(raw)).status_code

        statuses: list[int] = []
        if self.mode == "sequential":
            statuses.append(await post(body))
            await self.settle()
            before = self.snapshot()
            for _ in range(COPIES - 1):
                statuses.append(await post(body))
            await self.settle()
            self.same_after(before, f"LINE {event}")
        elif self.mode == "concurrent":
            statuses += await together(COPIES, lambda: post(body))
        else:
            statuses.append(await post(body))
            await self.settle()
            before = self.snapshot()
            statuses += [await post(redelivered), await post(redelivered)]
            statuses += await together(COPIES - 3, lambda: post(redelivered))
            await self.settle()
            self.same_after(before, f"LINE {event}")
        await self.settle()
        if statuses != [200] * COPIES:
            self.problems.append(f"LINE {event}: webhook answered {statuses}")
        calls = self.st.line_api.calls[mark:]
        if [(c.kind, c.status) for c in calls] != [("reply", 200)]:
            self.problems.append(f"LINE {event}: API calls {[(c.kind, c.status) for c in calls]}, one reply expected")
        elif len(calls[0].messages) != len(render(expected.replies)):
            self.problems.append(
                f"LINE {event}: {len(calls[0].messages)} messages, {len(render(expected.replies))} expected"
            )
        return payload["webhookEventId"]

    # ---- Telegram ----------------------------------------------------------------------------

    async def telegram_event(self, p: Participant, event: Inbound, expected: Outcome) -> str:
        api = self.st.tg_api
        uid = p.user_id
        if event.kind == "button":
            update = api.callback_update(uid, p.question(), event.data)
        elif event.kind == "unsupported":
            sticker = {"file_id": "CAAD", "file_unique_id": "AgAD", "type": "regular", "width": 512, "height": 512}
            update = api.message_update(uid, sticker={**sticker, "is_animated": False, "is_video": False})
        else:
            update = api.message_update(uid, event.text)
        update_id = update["update_id"]
        mark = len(api.calls)

        async def post() -> int:
            self.deliveries += 1
            r = await self.http.post(self.st.telegram_url, json=update, headers={SECRET_HEADER: self.st.secret})
            await self.st.telegram.idle()  # a stored update is processed and answered right after the 200
            return r.status_code

        async def acked_since(since: int) -> None:
            await api.wait_for(
                lambda: any(
                    c.method == "getUpdates" and (c.params.get("offset") or 0) > update_id for c in api.calls[since:]
                )
            )

        statuses: list[int] = []
        if self.mode == "webhook-sequential":
            statuses.append(await post())
            before = self.snapshot()
            for _ in range(COPIES - 1):
                statuses.append(await post())
            self.same_after(before, f"Telegram {event}")
        elif self.mode == "webhook-concurrent":
            statuses += await together(COPIES, post)
        elif self.mode == "polling-batch":
            self.deliveries += COPIES
            await api.deliver(*[update] * COPIES)
            await acked_since(mark)
        else:
            self.deliveries += COPIES
            await api.deliver(update)
            await acked_since(mark)
            before = self.snapshot()
            await restart_telegram(self.st)  # as if the confirmation had not reached Telegram
            again = len(api.calls)
            await api.deliver(*[update] * (COPIES - 1))
            await acked_since(again)
            self.same_after(before, f"Telegram {event}")
        if statuses and statuses != [200] * COPIES:
            self.problems.append(f"Telegram {event}: webhook answered {statuses}")
        calls = [c for c in api.calls[mark:] if c.params.get("chat_id") == uid or c.method == "answerCallbackQuery"]
        # a capability's next question may come as the tapped message edited in place (with its keyboard)
        sent = [
            c
            for c in calls
            if c.method == "sendMessage" or (c.method == "editMessageText" and c.params.get("reply_markup"))
        ]
        want = telegram_messages(expected.replies)
        if len(sent) != want or any(c.status != 200 for c in sent):
            self.problems.append(f"Telegram {event}: {len(sent)} messages sent, {want} expected")
        if event.kind == "button":
            answered = [c for c in calls if c.method == "answerCallbackQuery"]
            edits = [c for c in calls if c.method == "editMessageText"]
            if len(answered) != COPIES:
                self.problems.append(f"Telegram {event}: {len(answered)} callback answers, {COPIES} expected")
            # one edit for an accepted choice (marked, or the next question in place); back or skip within a
            # capability may edit the card in place too; never more than one
            if len(edits) > 1 or (expected.chosen and not expected.refused and len(edits) != 1):
                self.problems.append(f"Telegram {event}: {len(edits)} edits of the tapped question")
        return str(update_id)

    def check_state(self, channel: str, ref: str, state: State, event_id: str, event: Inbound) -> None:
        with connect(self.db) as conn:
            got = stored_state(conn, channel, ref)
            (count,) = conn.execute(
                "SELECT count(*) FROM events WHERE channel = ? AND event_id = ?", (channel, event_id)
            ).fetchone()
        if count != 1:
            self.problems.append(f"{channel} {event}: {count} rows in events")
        if got != expected_state(state):
            self.problems.append(f"{channel} {event}: stored {got}, the model says {expected_state(state)}")


@pytest.mark.parametrize(("channel", "mode"), MODES, ids=[f"{c}-{m}" for c, m in MODES])
async def test_every_event_five_times_one_effect_one_reply(
    tmp_path: Path, catalog: Catalog, channel: str, mode: str, request: pytest.FixtureRequest, pg_url: str | None
) -> None:
    rng = random.Random(f"{channel}-{mode}")
    model = Model(catalog)
    async with FakeBotAPI() as tg, FakeLineApi() as line:
        extra = {"db": pg_url} if pg_url else {}
        settings = stack_settings(tmp_path, tg, line, webhook=mode.startswith("webhook"), **extra)
        async with running_stack(settings, tg, line) as st:
            r = Replayer(st, catalog, mode)
            first = Inbound("follow") if channel == "line" else Inbound("text", text="/start")
            nxt = journey(rng, catalog, model, first)
            state = State()
            ref = "U" + "5e" * 16 if channel == "line" else "731904227"
            user = st.platform.user(ref) if channel == "line" else None
            person = Participant(tg, int(ref)) if channel == "telegram" else None
            answers = 0
            try:
                for n in range(EVENTS):
                    event = nxt(state, n)
                    expected = model.decide(state, event)
                    if expected.refused:
                        r.problems.append(f"the journey sent a refused event {event}")
                    if channel == "line":
                        event_id = await r.line_event(user, event, expected)
                    else:
                        assert person is not None
                        event_id = await r.telegram_event(person, event, expected)
                    answers += state.step == "survey" and len(expected.state.answers) > len(state.answers)
                    state = expected.state
                    r.check_state(channel, ref, state, event_id, event)
                    assert not r.problems, "\n".join(r.problems[:10])
            finally:
                await r.http.aclose()
    report(
        request,
        f"replay {channel} {mode}",
        {"events": EVENTS, "deliveries": r.deliveries, "new answers": answers, "problems": len(r.problems)},
    )
    assert answers > 0
