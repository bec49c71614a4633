"""The Telegram channel, driven through a real PTB `Bot` over real HTTP against a fake Bot API
server on 127.0.0.1 (testbed/telegram_api.py), with a real SQLite file."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from bot.app import App, open_app
from bot.config import Settings
from bot.engine.commands import COMMANDS, help_text
from bot.handlers.telegram import (
    PRIVATE_ONLY,
    SECRET_HEADER,
    WEBHOOK_PATH,
    Pacer,
    TelegramChannel,
    keyboard,
)
from bot.i18n import tr
from bot.logs import configure
from bot.model import Attachment, Button, Reply
from bot.runner import http_app
from testbed.telegram_api import TOKEN, Call, FakeBotAPI, Participant, QuietServer, listening_socket

WEBHOOK_URL = "https://rabfang.example.org" + WEBHOOK_PATH


def fast_pacer() -> Pacer:
    return Pacer(rate=1000, chat_rate=1000, chat_burst=10)


@dataclass
class Bot:
    """A running channel: the app behind it, the fake API before it, the webhook URL if any."""

    app: App
    channel: TelegramChannel
    api: FakeBotAPI
    url: str | None = None

    async def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return await self.app.db.fetch_all(sql, params)

    async def answers(self, user_id: int) -> dict[str, tuple[Any, ...]]:
        rows = await self.rows(
            "SELECT a.area || '.' || a.item || '.' || a.question, a.option, a.value, a.text, a.skipped"
            " FROM answers a JOIN participants p ON p.id = a.participant_id WHERE p.user_ref = ?",
            str(user_id),
        )
        return {r[0]: r[1:] for r in rows}

    async def active(self, user_id: int) -> int | None:
        rows = await self.rows("SELECT active FROM participants WHERE user_ref = ?", str(user_id))
        return rows[0][0] if rows else None

    def participant(self, user_id: int) -> Participant:
        if self.url is None:
            return Participant(self.api, user_id)
        return Participant(self.api, user_id, send=self.post)

    async def post(self, update: dict[str, Any], secret: str | None = None) -> int:
        secret = self.api.webhook["secret_token"] if secret is None else secret
        assert self.url is not None
        async with httpx.AsyncClient() as client:
            r = await client.post(self.url, json=update, headers={SECRET_HEADER: secret} if secret else {})
        await self.channel.idle()  # a stored update is processed and answered right after the 200
        return r.status_code


@contextlib.asynccontextmanager
async def running(
    api: FakeBotAPI,
    tmp_path: Path,
    *,
    webhook: bool = False,
    pacer: Pacer | None = None,
    token: str = TOKEN,
    flood_limit: int = 1000,  # a test taps faster than any participant
    surveys_dir: Path | None = None,
) -> AsyncIterator[Bot]:
    """The channel on a fresh database; a stored update that cannot be processed is retried within 0.2 s."""
    settings = Settings(
        _env_file=None,
        db=tmp_path / "rabfang.db",
        telegram_bot_token=token,
        telegram_api_base_url=api.base_url,
        telegram_webhook_url=WEBHOOK_URL if webhook else None,
        telegram_webhook_secret=None,
        flood_limit=flood_limit,
        surveys_dir=surveys_dir,
    )
    async with open_app(settings) as app:
        channel = TelegramChannel(
            app, pacer=pacer or fast_pacer(), retry_delay=0.05, max_retry_delay=0.2, storage_retry=(0.05, 0.2)
        )
        await channel.start()
        server = task = None
        url = None
        try:
            if webhook:
                sock = listening_socket()
                url = f"http://127.0.0.1:{sock.getsockname()[1]}{WEBHOOK_PATH}"
                config = uvicorn.Config(http_app([channel]), log_config=None, access_log=False, lifespan="off")
                server = QuietServer(config)
                task = asyncio.create_task(server.serve(sockets=[sock]))
            yield Bot(app, channel, api, url)
        finally:
            if server is not None and task is not None:
                server.should_exit = True
                await task
            await channel.stop()


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as fake:
        yield fake


def question_key(buttons: list[tuple[str, str]]) -> str | None:
    """The survey question a keyboard belongs to, read from its `q.<key>=...` data."""
    for _, data in buttons:
        if data.startswith("q."):
            return data[2:].partition("=")[0]
    return None


def edits(calls: list[Call]) -> list[Call]:
    return [c for c in calls if c.method == "editMessageText"]


async def onboard(p: Participant, lang: str = "th", area: str | None = "health") -> None:
    """Language, consent and profile by taps, then (optionally) into an area."""
    await p.say("/start")
    await p.tap(f"lang={lang}")
    await p.tap("consent=yes")
    await p.tap(p.buttons()[0][1])  # group: the first one
    await p.tap(p.buttons()[1][1])  # region: the second one
    await p.tap("age=~skip")
    if area:
        await p.tap(f"area={area}")


# ---- a whole survey ----------------------------------------------------------------------


async def test_full_area_survey_by_taps_and_typing(api: FakeBotAPI, tmp_path: Path) -> None:
    async with running(api, tmp_path) as bot:
        p = bot.participant(5550001)
        calls = await p.say("/start")
        assert [c.method for c in calls] == ["sendMessage"]
        assert [d for _, d in p.buttons()] == ["lang=th", "lang=en"]

        calls = await p.tap("lang=th")
        # the three calls go side by side, so the API may see them in any order
        assert sorted(c.method for c in calls)[:2] == ["answerCallbackQuery", "editMessageText"]
        assert edits(calls)[0].params["text"].endswith("✓ ไทย")
        assert "reply_markup" not in edits(calls)[0].params  # the keyboard is gone: the chat is a record
        await p.tap("consent=yes")
        await p.tap("group=citizen")
        await p.say("2")  # region, typed as its number
        await p.tap("age=~skip")
        await p.tap("area=agriculture")

        expected: dict[str, tuple[Any, ...]] = {}
        taps = 0
        for n in range(60):
            buttons = p.buttons()
            key = question_key(buttons)
            assert key is not None, "every survey question carries its key in its buttons"
            options = [(label, d) for label, d in buttons if not d.partition("=")[2].startswith("~")]
            if not options:  # a text question
                if not any(e[2] for e in expected.values()):  # the first one: too long first
                    calls = await p.say("ก" * 2001)
                    assert p.texts(calls)[0].startswith(tr("th", "too_long", n=2001, max=2000))
                    assert question_key(p.buttons()) == key
                text = f"ความเห็นที่ {n}: ควรเชื่อมข้อมูลเกษตรกร"
                calls = await p.say(text)
                expected[key] = (None, None, text, 0)
            elif n % 2 == 0:  # tap level 5, never the plan's, so the follow-up "why" questions come too
                label, data = next((lb, d) for lb, d in options if lb.startswith("5"))
                calls = await p.tap(data)
                taps += 1
                edit = edits(calls)[0].params
                # marked answered, or turned in place into the same capability's next question
                assert edit["text"].endswith(f"\n\n✓ {label}") or "reply_markup" in edit
                expected[key] = (data.partition("=")[2], 5, None, 0)
            else:  # type the number of level 1
                calls = await p.say("1")
                expected[key] = (next(d for lb, d in options if lb.startswith("1")).partition("=")[2], 1, None, 0)
            if tr("th", "another") in p.texts(calls):
                break
        else:
            pytest.fail("the survey did not finish")

        assert await bot.answers(5550001) == expected
        assert len(expected) == 4 * 3 + 3  # four capabilities, each with its "why?", and three closing questions
        rows = await bot.rows("SELECT area, completed_at IS NOT NULL FROM progress")
        assert rows == [("agriculture", 1)]
        # Every tap was answered, and every accepted one edited its question to show the choice.
        assert len(api.method_calls("answerCallbackQuery")) == taps + 5  # + language, consent, group, age, area
        assert len(api.method_calls("editMessageText")) == taps + 5
        # Every button Telegram saw was short ASCII within 64 bytes.
        for call in api.sent(5550001):
            for row in call.params.get("reply_markup", {}).get("inline_keyboard", []):
                for b in row:
                    assert b["callback_data"].isascii() and len(b["callback_data"].encode()) <= 64


async def test_deep_link_opens_the_area_after_consent_and_profile(api: FakeBotAPI, tmp_path: Path) -> None:
    async with running(api, tmp_path) as bot:
        p = bot.participant(5550002)
        await p.say("/start health")
        await p.tap("lang=en")
        await p.tap("consent=yes")
        await p.tap(p.buttons()[0][1])
        await p.tap(p.buttons()[0][1])
        calls = await p.tap("age=~skip")
        assert question_key(p.buttons()) == "health.info_exchange.current_level"
        assert any("Capability 1/" in t for t in p.texts(calls))


async def test_commands_are_registered_in_thai_english_and_by_default(api: FakeBotAPI, tmp_path: Path) -> None:
    async with running(api, tmp_path):
        menus = {c.params.get("language_code"): c.params["commands"] for c in api.method_calls("setMyCommands")}
        assert set(menus) == {"th", "en", None}
        names = [c.name for c in COMMANDS if c.in_menu]
        for commands in menus.values():
            assert [c["command"] for c in commands] == names
        assert {"start", "help", "areas", "language", "back", "skip", "status", "privacy", "deleteme", "mydata"} <= set(
            names
        )
        assert menus["en"][0]["description"].startswith("Start")
        assert api.method_calls("deleteWebhook"), "polling needs any old webhook removed"
        assert not api.method_calls("setWebhook")


# ---- taps that must not count ----------------------------------------------------------------


async def test_stale_and_forged_taps_are_answered_and_refused(api: FakeBotAPI, tmp_path: Path) -> None:
    async with running(api, tmp_path) as bot:
        p = bot.participant(5550003)
        await onboard(p, "en")
        first = p.question()
        first_key = question_key(p.buttons(first))
        await p.tap(f"q.{first_key}=4", first)
        second_key = question_key(p.buttons())
        assert second_key != first_key
        answers = await bot.answers(5550003)

        for message, data in [
            (first, f"q.{first_key}=~back"),  # a control of an earlier question: stale
            (p.question(), "q.health.no_such_item.current=4"),  # forged: no such question
            (p.question(), f"q.{second_key}=99"),  # forged: no such option
            (p.question(), "consent=maybe"),
            (p.question(), "\u0e01" * 10),
        ]:
            calls = await p.tap(data, message)
            assert calls[0].method == "answerCallbackQuery"
            assert not edits(calls), "a refused tap edits nothing"
            assert any(tr("en", "stale") in t for t in p.texts(calls))
            assert question_key(p.buttons()) == second_key
        assert await bot.answers(5550003) == answers

        # A button of an earlier question changes that answer, never the current question's.
        calls = await p.tap(f"q.{first_key}=2", first)
        after = await bot.answers(5550003)
        assert after[first_key][1] == 2
        assert second_key not in after
        assert question_key(p.buttons()) == second_key
        assert edits(calls)[0].params["text"].endswith("✓ 2 (plan)")


async def test_deleteme_erases_the_participant(api: FakeBotAPI, tmp_path: Path) -> None:
    async with running(api, tmp_path) as bot:
        p = bot.participant(5550017)
        await onboard(p, "en")
        await p.tap(f"q.{question_key(p.buttons())}=3")
        assert await bot.answers(5550017)
        await p.say("/deleteme")
        calls = await p.tap("del=yes")
        assert edits(calls)[0].params["text"].endswith("✓ " + tr("en", "delete_yes"))
        assert await bot.rows("SELECT count(*) FROM participants") == [(0,)]
        assert await bot.rows("SELECT count(*) FROM answers") == [(0,)]


# ---- delivery ----------------------------------------------------------------------------


async def test_a_batch_runs_users_side_by_side_and_each_user_in_order(api: FakeBotAPI, tmp_path: Path) -> None:
    async with running(api, tmp_path) as bot:
        a, b = bot.participant(5550018), bot.participant(5550019)
        updates = [
            api.message_update(5550018, "/start"),
            api.message_update(5550019, "/start"),
            api.message_update(5550018, "English"),  # typed: only right after /start
            api.message_update(5550018, "/help"),
        ]
        await api.wait_acked(await api.deliver(*updates))
        batches = [c.result for c in api.method_calls("getUpdates") if c.result]
        assert batches == [[u["update_id"] for u in updates]]  # one batch
        texts = a.texts()
        assert texts[0].startswith(tr(None, "welcome")[:20])
        assert tr("en", "lang_set") in texts
        assert texts.index(tr("en", "lang_set")) < texts.index(help_text("en"))
        assert len(b.texts()) == 1
        assert await bot.rows("SELECT lang FROM participants WHERE user_ref = '5550018'") == [("en",)]


async def test_a_replayed_update_is_recorded_once(api: FakeBotAPI, tmp_path: Path) -> None:
    async with running(api, tmp_path) as bot:
        p = bot.participant(5550004)
        await onboard(p, "en")
        key = question_key(p.buttons())
        tap = api.callback_update(5550004, p.question(), f"q.{key}=5")
        api.updates.append(tap)  # Telegram delivering the same update twice
        calls = await p.send(tap)
        assert len(edits(calls)) == 1
        # the next question, once: a new message, or the tapped one edited in place (same capability)
        asked = [c for c in calls if c.method in ("sendMessage", "editMessageText") and c.params.get("reply_markup")]
        assert len(asked) == 1
        assert len([c for c in calls if c.method == "answerCallbackQuery"]) == 2  # every tap is answered
        assert (await bot.answers(5550004))[key][1] == 5
        next_key = question_key(p.buttons())
        assert next_key != key and next_key not in await bot.answers(5550004)
        assert await bot.rows("SELECT count(*) FROM events WHERE event_id = ?", str(tap["update_id"])) == [(1,)]


async def test_storage_failure_replies_try_later_and_does_not_advance(api: FakeBotAPI, tmp_path: Path) -> None:
    async with running(api, tmp_path) as bot:
        p = bot.participant(5550005)
        with sqlite3.connect(bot.app.db.path) as conn:
            conn.execute("CREATE TRIGGER broken BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disk I/O'); END")
        uid = await api.deliver(api.message_update(5550005, "/start"))
        try_later = tr(None, "try_later")
        await api.wait_for(lambda: len([c for c in api.method_calls("getUpdates") if uid in (c.result or [])]) >= 3)
        assert p.texts() == [try_later]  # fetched again and again, the participant told once
        assert all((c.params.get("offset") or 0) <= uid for c in api.method_calls("getUpdates"))
        assert await bot.rows("SELECT count(*) FROM participants") == [(0,)]

        with sqlite3.connect(bot.app.db.path) as conn:
            conn.execute("DROP TRIGGER broken")
        await api.wait_acked(uid)
        assert await bot.rows("SELECT count(*) FROM events WHERE event_id = ?", str(uid)) == [(1,)]
        assert await bot.rows("SELECT count(*) FROM participants") == [(1,)]
        assert p.texts()[-1].startswith(tr(None, "welcome").split("\n")[0])


async def test_a_blocked_user_is_marked_inactive(api: FakeBotAPI, tmp_path: Path) -> None:
    async with running(api, tmp_path) as bot:
        p = bot.participant(5550006)
        await p.say("/start")
        await p.tap("lang=en")
        assert await bot.active(5550006) == 1

        api.blocked.add(5550006)
        calls = await p.say("/help")
        assert [c.status for c in calls if c.method == "sendMessage"] == [403]  # stopped at the first refusal
        assert await bot.active(5550006) == 0
        assert await bot.channel.push("5550006", [Reply("reminder")], "reminder|1|1") == "blocked"

        api.blocked.clear()
        await p.say("/start")  # they came back
        assert await bot.active(5550006) == 1
        await p.send(api.blocked_update(5550006))  # Telegram tells us when they block the bot
        assert await bot.active(5550006) == 0


async def test_an_unblock_makes_the_participant_reachable_again(api: FakeBotAPI, tmp_path: Path) -> None:
    async with running(api, tmp_path) as bot:
        p = bot.participant(5550016)
        await p.say("/start")
        await p.send(api.blocked_update(5550016))
        assert await bot.active(5550016) == 0
        calls = await p.send(api.unblocked_update(5550016))
        assert await bot.active(5550016) == 1  # reminders reach them again
        assert [c for c in calls if c.method == "sendMessage"] == []  # an unblock says nothing by itself
        assert await bot.app.service.reachable("telegram", "5550016")


@pytest.mark.parametrize("legacy", [False, True], ids=["forward_origin", "forward_from"])
async def test_a_forwarded_message_is_not_an_answer(api: FakeBotAPI, tmp_path: Path, legacy: bool) -> None:
    async with running(api, tmp_path) as bot:
        p = bot.participant(5550017)
        await onboard(p, lang="en")
        asked = question_key(p.buttons())
        assert asked is not None and any(d.endswith("=4") for _, d in p.buttons())
        calls = await p.send(api.forwarded_update(5550017, "4", legacy=legacy))
        texts = p.texts(calls)
        assert texts[0] == tr("en", "forwarded")
        assert question_key(p.buttons()) == asked  # the question is asked again
        assert await bot.answers(5550017) == {}  # the forwarded "4" is nobody's rating
        await p.say("4")  # their own "4" is
        assert [v[1] for v in (await bot.answers(5550017)).values()] == [4]


async def test_forwarded_messages_count_toward_flood_control(api: FakeBotAPI, tmp_path: Path) -> None:
    async with running(api, tmp_path, flood_limit=3) as bot:
        p = bot.participant(5550018)
        await p.say("/start")
        for _ in range(2):
            await p.send(api.forwarded_update(5550018, "4"))
        calls = await p.send(api.forwarded_update(5550018, "4"))
        assert p.texts(calls) == [tr(None, "flood")]


async def test_flood_control_is_honoured(api: FakeBotAPI, tmp_path: Path) -> None:
    async with running(api, tmp_path) as bot:
        p = bot.participant(5550007)
        api.flood["sendMessage"] = [1]
        calls = [c for c in await p.say("/start") if c.method == "sendMessage"]
        assert [c.status for c in calls] == [429, 200]
        assert calls[1].at - calls[0].at >= 0.95


async def test_sends_are_paced_per_chat(api: FakeBotAPI, tmp_path: Path) -> None:
    async with running(api, tmp_path, pacer=Pacer(rate=1000, chat_rate=10, chat_burst=1)) as bot:
        assert await bot.channel.push("5550008", [Reply(f"m{i}") for i in range(4)]) == "sent"
        times = [c.at for c in api.sent(5550008)]
        assert len(times) == 4
        assert all(b - a >= 0.09 for a, b in itertools.pairwise(times))


def test_pacer_allows_a_short_burst_then_one_a_second() -> None:
    now = [100.0]
    pacer = Pacer(rate=10, chat_rate=1, chat_burst=3, clock=lambda: now[0])
    assert [pacer.chat_delay(1) for _ in range(5)] == [0, 0, 0, 1, 2]
    assert pacer.chat_delay(2) == 0  # another chat is not held up
    assert [round(pacer.overall_delay(), 3) for _ in range(3)] == [0, 0.1, 0.2]
    now[0] += 10
    assert pacer.chat_delay(1) == 0
    pacer.hold(5)
    assert pacer.overall_delay() == 5


# ---- what participants send that we cannot read ----------------------------------------------


async def test_stickers_photos_voice_locations_documents_are_unsupported(api: FakeBotAPI, tmp_path: Path) -> None:
    file = {"file_id": "AgAD", "file_unique_id": "AQAD"}
    contents: dict[str, Any] = {
        "sticker": {**file, "type": "regular", "width": 512, "height": 512, "is_animated": False, "is_video": False},
        "photo": [{**file, "width": 90, "height": 90}],
        "voice": {**file, "duration": 3},
        "location": {"latitude": 13.75, "longitude": 100.5},
        "document": {**file, "file_name": "plan.pdf"},
    }
    async with running(api, tmp_path) as bot:
        p = bot.participant(5550009)
        await p.say("/start")
        await p.tap("lang=en")
        before = await bot.rows("SELECT cursor FROM participants")
        for kind, content in contents.items():
            calls = await p.send(api.message_update(5550009, **{kind: content}))
            assert p.texts(calls)[0].startswith(tr("en", "unsupported")), kind
        assert await bot.rows("SELECT cursor FROM participants") == before


async def test_group_chats_get_a_bilingual_notice_and_nothing_is_stored(api: FakeBotAPI, tmp_path: Path) -> None:
    async with running(api, tmp_path) as bot:
        update = api.message_update(5550010, "/start@rabfang_test_bot", chat_id=-1001, chat_type="supergroup")
        await api.wait_acked(await api.deliver(update))
        notices = api.sent(-1001)
        assert [c.params["text"] for c in notices] == [PRIVATE_ONLY]
        assert "private chat" in PRIVATE_ONLY and "แชตส่วนตัว" in PRIVATE_ONLY
        await api.wait_acked(
            await api.deliver(api.message_update(5550010, "hello all", chat_id=-1001, chat_type="group"))
        )
        assert len(api.sent(-1001)) == 1  # chatter not addressed to the bot is left alone
        assert await bot.rows("SELECT count(*) FROM participants") == [(0,)]
        assert await bot.rows("SELECT count(*) FROM events") == [(0,)]


# ---- updates python-telegram-bot cannot read -------------------------------------------------


def old_api_poll(api: FakeBotAPI, user_id: int) -> dict[str, Any]:
    """A private message carrying a poll as a Bot API older than PTB 22.8's sends it: no
    `persistent_id`, which PTB requires (`Update.de_json` raises TypeError)."""
    poll = {
        "id": "5800000000000000001",
        "question": "ลับเฉพาะ: ใครควรได้งบ",
        "options": [{"text": "ก", "voter_count": 0}, {"text": "ข", "voter_count": 0}],
        "total_voter_count": 0,
        "is_closed": False,
        "is_anonymous": True,
        "type": "regular",
        "allows_multiple_answers": False,
    }
    return api.message_update(user_id, poll=poll)


@contextlib.asynccontextmanager
async def serving(components: list[Any]) -> AsyncIterator[str]:
    """`rabfang run`'s HTTP app over real HTTP on 127.0.0.1; yields its base URL."""
    sock = listening_socket()
    config = uvicorn.Config(http_app(components), log_config=None, access_log=False, lifespan="off")
    server = QuietServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


async def test_an_update_ptb_cannot_read_is_skipped_and_polling_goes_on(
    api: FakeBotAPI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="rabfang")
    async with running(api, tmp_path) as bot:
        a, b = bot.participant(5550019), bot.participant(5550020)
        bad = old_api_poll(api, 5550020)
        batch = [api.message_update(5550019, "/start"), bad, api.message_update(5550020, "/start")]
        last = await api.deliver(*batch)
        await api.wait_acked(last, timeout=5)  # the whole batch, the unreadable update with it
        assert len(a.texts()) == 1 and len(b.texts()) == 1
        later = await a.say("/help")  # and polling goes on
        assert a.texts(later)
        assert bot.channel.healthy()
        async with serving([bot.channel]) as base, httpx.AsyncClient() as client:
            r = await client.get(f"{base}/healthz")
        assert r.status_code == 200 and r.json()["ok"] is True
    said = [r.getMessage() for r in caplog.records if str(bad["update_id"]) in r.getMessage()]
    assert said == [f"telegram: update {bad['update_id']} could not be read (TypeError); skipped"]
    assert "ลับเฉพาะ" not in caplog.text and "persistent_id" not in caplog.text  # nothing of its contents


async def test_healthz_answers_503_once_polling_has_died(api: FakeBotAPI, tmp_path: Path) -> None:
    async with running(api, tmp_path) as bot, serving([bot.channel]) as base, httpx.AsyncClient() as client:
        assert (await client.get(f"{base}/healthz")).status_code == 200
        poller = bot.channel._poller
        assert poller is not None
        poller.cancel()  # however it ends without being asked to
        with contextlib.suppress(asyncio.CancelledError):
            await poller
        r = await client.get(f"{base}/healthz")
        assert r.status_code == 503
        assert r.json() == {"ok": False, "channels": ["telegram"], "failing": ["telegram"]}
        bot.channel._poller = None  # so that stopping does not wait for it


# ---- webhook mode --------------------------------------------------------------------------


async def test_webhook_checks_the_secret_and_absorbs_replays(api: FakeBotAPI, tmp_path: Path) -> None:
    async with running(api, tmp_path, webhook=True) as bot:
        hook = api.webhook
        assert hook["url"] == WEBHOOK_URL
        assert len(hook["secret_token"]) >= 32
        assert hook["allowed_updates"] == ["message", "callback_query", "my_chat_member"]
        assert not api.method_calls("getUpdates")

        update = api.message_update(5550011, "/start")
        assert await bot.post(update, secret="wrong") == 403
        assert await bot.post(update, secret="") == 403
        assert await bot.post(update, secret=hook["secret_token"][:-1]) == 403
        assert not api.sent(5550011)
        assert await bot.rows("SELECT count(*) FROM events") == [(0,)]

        assert await bot.post(update) == 200
        assert len(api.sent(5550011)) == 1
        assert await bot.post(update) == 200  # redelivered: absorbed
        assert len(api.sent(5550011)) == 1

        p = bot.participant(5550011)
        calls = await p.tap("lang=en")
        assert p.last == 200
        assert edits(calls) and p.texts(calls)


async def test_webhook_refuses_an_update_ptb_cannot_read_and_says_so_by_id(
    api: FakeBotAPI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="rabfang")
    async with running(api, tmp_path, webhook=True) as bot:
        bad = old_api_poll(api, 5550021)
        assert await bot.post(bad) == 400
        p = bot.participant(5550021)
        await p.say("/start")
        assert p.last == 200 and p.texts()
    assert f"telegram: update {bad['update_id']} could not be read (TypeError); answered 400" in caplog.messages
    assert "ลับเฉพาะ" not in caplog.text


async def test_webhook_storage_failure_is_a_500_so_telegram_redelivers(api: FakeBotAPI, tmp_path: Path) -> None:
    async with running(api, tmp_path, webhook=True) as bot:
        update = api.message_update(5550012, "/start")
        with sqlite3.connect(bot.app.db.path) as conn:
            conn.execute("CREATE TRIGGER broken BEFORE INSERT ON inbox BEGIN SELECT RAISE(ABORT, 'disk I/O'); END")
        assert await bot.post(update) == 500
        assert [c.params["text"] for c in api.sent(5550012)] == [tr(None, "try_later")]
        with sqlite3.connect(bot.app.db.path) as conn:
            conn.execute("DROP TRIGGER broken")
        assert await bot.post(update) == 200
        assert await bot.rows("SELECT count(*) FROM participants") == [(1,)]


async def test_webhook_update_stored_but_not_processable_is_retried_by_the_inbox(
    api: FakeBotAPI, tmp_path: Path
) -> None:
    async with running(api, tmp_path, webhook=True) as bot:
        update = api.message_update(5550016, "/start")
        with sqlite3.connect(bot.app.db.path) as conn:
            conn.execute("CREATE TRIGGER broken BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disk I/O'); END")
        assert await bot.post(update) == 200  # stored durably: Telegram need not deliver it again
        await api.wait_for(lambda: api.sent(5550016))
        assert [c.params["text"] for c in api.sent(5550016)] == [tr(None, "try_later")]  # told once
        await asyncio.sleep(0.3)  # retried meanwhile, still failing: nothing more is said
        assert len(api.sent(5550016)) == 1
        with sqlite3.connect(bot.app.db.path) as conn:
            conn.execute("DROP TRIGGER broken")
        await api.wait_for(lambda: len(api.sent(5550016)) == 2)
        assert await bot.rows("SELECT count(*) FROM participants") == [(1,)]
        assert await bot.rows("SELECT count(*) FROM events") == [(1,)]


# ---- push, rendering, lifecycle ---------------------------------------------------------------


async def test_push_splits_long_text_and_sends_attachments(api: FakeBotAPI, tmp_path: Path) -> None:
    async with running(api, tmp_path) as bot:
        long = "\n".join(f"บรรทัด {i} " + "ก" * 90 for i in range(80))
        replies = [
            Reply(long, (Button("ใช่", "x=1"), Button("ไม่", "x=2"))),
            Reply("รายงาน", attachment=Attachment("report.csv", b"a,b\n1,2\n", "text/csv")),
        ]
        assert await bot.channel.push("5550013", replies, "report|1") == "sent"
        texts = api.sent(5550013)
        assert len(texts) == 3
        assert all(len(c.params["text"]) <= 4096 for c in texts)
        assert "\n".join(c.params["text"] for c in texts[:2]) == long
        assert "reply_markup" not in texts[0].params and texts[1].params["reply_markup"]
        (doc,) = api.sent(5550013, "sendDocument")
        assert doc.files["document"] == ("report.csv", b"a,b\n1,2\n")
        api.blocked.add(5550014)
        assert await bot.channel.push("5550014", [Reply("x")]) == "blocked"
        assert await bot.channel.push("not-a-number", [Reply("x")]) == "failed"


def test_keyboard_rows_fit_the_labels() -> None:
    labels = ["1 Strongly disagree", "2 Disagree", "3 Not sure", "4 Agree", "5 Strongly agree", "Don't know"]
    rating = [Button(label, f"q.a.b.c={n}") for n, label in enumerate(labels)]
    controls = [Button("Skip", "q.a.b.c=~skip"), Button("Back", "q.a.b.c=~back")]
    rows = keyboard([*controls[:1], *rating, *controls[1:]]).inline_keyboard  # type: ignore[union-attr]
    assert [[b.text for b in r] for r in rows] == [
        ["1 Strongly disagree"],  # a long label alone
        ["2 Disagree", "3 Not sure"],
        ["4 Agree", "5 Strongly agree"],
        ["Don't know"],
        ["Skip", "Back"],  # the controls together, last
    ]
    short = [Button(x, f"age=a{i}") for i, x in enumerate(("20–29", "30–39", "40–49", "50–59"))]
    assert [len(r) for r in keyboard(short).inline_keyboard] == [3, 1]  # type: ignore[union-attr]
    thai = [Button("ผู้ประกอบการ SME", "group=sme"), Button("เกษตรกร", "group=farmer")]
    assert [len(r) for r in keyboard(thai).inline_keyboard] == [2]  # type: ignore[union-attr]
    assert keyboard([Button("x", "q." + "a" * 70)]) is None  # over 64 bytes: never sent


async def test_stop_finishes_in_flight_work_and_acknowledges_it(api: FakeBotAPI, tmp_path: Path) -> None:
    async with running(api, tmp_path) as bot:
        api.latency["sendMessage"] = 0.3
        uid = await api.deliver(api.message_update(5550015, "/start"))
        await api.wait_for(lambda: "sendMessage" in api.arrivals)  # the reply is on its way
        await bot.channel.stop()
        assert len(api.sent(5550015)) == 1  # the reply went out before the channel stopped
        assert any((c.params.get("offset") or 0) > uid for c in api.method_calls("getUpdates"))


async def test_a_wrong_token_stops_start_up_without_showing_it(api: FakeBotAPI, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError) as info:
        async with running(api, tmp_path, token="999:not-the-right-one"):
            pass
    assert "not-the-right-one" not in str(info.value)


async def test_logs_carry_neither_token_nor_user_ids(
    api: FakeBotAPI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    configure(Settings(_env_file=None, log_level="DEBUG", telegram_bot_token=TOKEN))  # as `rabfang` does
    async with running(api, tmp_path) as bot:
        p = bot.participant(5550016)
        await p.say("/start")
        api.blocked.add(5550016)
        await p.tap("lang=th")
    # The fake server's own access log shows its URLs; aiosqlite's DEBUG lines show SQL parameters
    # (storage's business, reported). Everything else is rabfang's, PTB's or httpx's.
    text = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith(("uvicorn.access", "aiosqlite")))
    assert "blocked the bot" in text
    assert TOKEN not in text and TOKEN.split(":")[1] not in text
    assert "5550016" not in text
