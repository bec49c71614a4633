"""One conversation, three channels: the console, LINE (signed webhooks over HTTP, the real SDK to
a fake Messaging API) and Telegram (long polling through the real python-telegram-bot against a fake
Bot API). A participant who types the same answers gets the same questions in the same order and
ends with the same stored state, whichever channel they use: the channels only translate."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import open_app
from bot.config import Settings
from bot.handlers.console import run_console
from testbed.line_api import CHANNEL_SECRET, FakeLineApi
from testbed.telegram_api import FakeBotAPI
from tests.test_line import Harness
from tests.test_telegram import running

# Typed, not tapped: typing works on every channel (LINE for PC shows no quick replies).
SCRIPT = (
    "สวัสดี",  # start
    "1",  # ไทย
    "ยินยอม",  # consent
    "1",  # stakeholder group
    "2",  # region
    "ข้าม",  # age: skipped
    "1",  # the first area
    "3",  # today: not the assessed level, so the "why?" question follows
    "5",  # 2027 target
    "ย้อนกลับ",  # back to the target
    "4",
    "ระบบอินเทอร์เน็ตในโรงเรียนยังช้า",  # the comment
    "2",  # the second capability, today: as assessed
    "/status",
    "ข้อมูลของฉัน",
)
TIME = re.compile(r"\b\d{1,2}:\d{2}\b")
OPTION = re.compile(r"^  \d+\. ")
LINE_USER, TELEGRAM_USER, CONSOLE_USER = "U" + "c" * 32, 5550099, "contract"


def in_order(part: list[str], whole: list[str]) -> bool:
    """Whether `part` is `whole` with some lines left out, the rest in the same order."""
    rest = iter(whole)
    return all(line in rest for line in part)


def lines(texts: list[str]) -> list[str]:
    """Every line the participant read, in order, without blank lines (clock times masked: the
    conversations run one after another)."""
    return [TIME.sub("hh:mm", line.strip()) for text in texts for line in text.splitlines() if line.strip()]


async def stored(db: Path, channel: str, user_ref: str) -> dict[str, Any]:
    """The participant's rows, without ids and times."""
    async with open_app(Settings(_env_file=None, db=db)) as app:
        rows = await app.db.fetch_all(
            "SELECT lang, consent, stakeholder, region, age_band, cursor FROM participants"
            " WHERE channel = ? AND user_ref = ?",
            (channel, user_ref),
        )
        answers = await app.db.fetch_all(
            "SELECT a.area, a.item, a.question, a.option, a.value, a.text, a.skipped FROM answers a"
            " JOIN participants p ON p.id = a.participant_id WHERE p.user_ref = ? ORDER BY 1, 2, 3",
            (user_ref,),
        )
        progress = await app.db.fetch_all(
            "SELECT g.area, g.completed_at IS NULL FROM progress g JOIN participants p ON p.id = g.participant_id"
            " WHERE p.user_ref = ?",
            (user_ref,),
        )
    return {"participant": rows, "answers": answers, "progress": progress}


def settings_in(folder: Path, **extra: Any) -> Settings:
    folder.mkdir(exist_ok=True)
    return Settings(_env_file=None, db=folder / "rabfang.db", flood_limit=10_000, **extra)


async def console_conversation(folder: Path) -> list[str]:
    out = io.StringIO()
    async with open_app(settings_in(folder)) as app:
        await run_console(app.service, CONSOLE_USER, io.StringIO("\n".join(SCRIPT[1:]) + "\n"), out)
    # the console starts itself (with /start); its buttons are the numbered lines under a message
    return [line for line in out.getvalue().splitlines() if not OPTION.match(line)]


async def line_conversation(folder: Path) -> list[str]:
    async with FakeLineApi() as api:
        settings = settings_in(
            folder, line_channel_secret=CHANNEL_SECRET, line_channel_access_token=api.token, line_api_base_url=api.url
        )
        line = await Harness(settings, api).start()
        try:
            user = line.user(LINE_USER)
            texts: list[str] = []
            for typed in SCRIPT:
                for m in await line.send(user.text(typed)):
                    if m["type"] == "flex":  # a capability's card: its alt text is the reply's text, cut at 400
                        texts.append(m["altText"].rpartition("\n")[0] if len(m["altText"]) >= 400 else m["altText"])
                    else:  # a message with quick replies ends with their numbered legend, for LINE on PC
                        texts.append(m["text"].rpartition("\n\n")[0] if m.get("quickReply") else m["text"])
        finally:
            await line.stop()
    return texts


async def telegram_conversation(folder: Path) -> list[str]:
    texts: list[str] = []
    folder.mkdir(exist_ok=True)
    async with FakeBotAPI() as api, running(api, folder) as bot:  # its database: folder / "rabfang.db"
        p = bot.participant(TELEGRAM_USER)
        for typed in SCRIPT:
            texts += [c.params["text"] for c in await p.say(typed) if c.method == "sendMessage"]
    return texts


@pytest.fixture
async def conversations(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    results: dict[str, Any] = {}
    for name, run, user in (
        ("console", console_conversation, CONSOLE_USER),
        ("line", line_conversation, LINE_USER),
        ("telegram", telegram_conversation, str(TELEGRAM_USER)),
    ):
        texts = await run(tmp_path / name)
        results[name] = (texts, await stored(tmp_path / name / "rabfang.db", name, user))
    yield results


async def test_the_same_conversation_on_every_channel(conversations: dict[str, Any]) -> None:
    console_texts, console_state = conversations["console"]
    for channel in ("line", "telegram"):
        texts, state = conversations[channel]
        if channel == "line":  # a card shows what its text says, the alt text up to 400 characters of it
            assert in_order(lines(texts), lines(console_texts)), channel
        else:
            assert lines(texts) == lines(console_texts), channel
        assert state == console_state, channel
    # and the conversation did what the script says
    answers = console_state["answers"]
    assert [a[6] for a in answers].count(0) >= 4
    assert any(a[5] == "ระบบอินเทอร์เน็ตในโรงเรียนยังช้า" for a in answers)
    (participant,) = console_state["participant"]
    assert participant[:5] == ("th", "given", "citizen", participant[3], None)
    assert re.search(r'"step": ?"survey"', participant[5])
