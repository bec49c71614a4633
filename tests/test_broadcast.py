"""A broadcast through the real Telegram channel against a fake Bot API that enforces a rate
limit over real HTTP: everyone reached exactly once, 429s waited out, a report to the admin."""

from __future__ import annotations

import time
from pathlib import Path

from bot.app import open_app
from bot.config import Settings
from bot.handlers.telegram import TelegramChannel
from bot.model import Inbound
from bot.outreach import Outreach
from storage import outreach as q
from testbed.telegram_api import TOKEN, FakeBotAPI

PEOPLE = 90
ADMIN = 5_550_001
LIMIT = 30


async def test_paced_broadcast_with_429s_reaches_everyone_once(tmp_path: Path) -> None:
    async with FakeBotAPI() as api:
        api.rate_limit = LIMIT
        settings = Settings(
            _env_file=None,
            db=tmp_path / "rabfang.db",
            telegram_bot_token=TOKEN,
            telegram_api_base_url=api.base_url,
            flood_limit=1000,
            broadcast_rate=45,  # deliberately over the platform's limit: the 429s must be honoured
            admins=f"telegram:{ADMIN}",
        )
        async with open_app(settings) as app:
            for n in range(PEOPLE):  # consented participants, a third of them in English
                for text in ("hi", "lang=en" if n % 3 == 0 else "lang=th", "consent=yes"):
                    kind = "button" if "=" in text else "text"
                    await app.service.handle("telegram", str(1000 + n), Inbound(kind, text=text, data=text))
            channel = TelegramChannel(app)
            await channel.start()
            try:
                outreach = Outreach(app.db, app.catalog, app.settings, {"telegram": channel})
                await q.create_broadcast(
                    app.db, "all", "ประกาศจาก สพร.", "A word from DGA", f"telegram:{ADMIN}", app.service.clock()
                )
                started = time.monotonic()
                await outreach.broadcasts()
                elapsed = time.monotonic() - started
                await outreach.broadcasts()  # nothing left to send: a second run sends nothing
            finally:
                await channel.stop()
    got: dict[int, list[str]] = {}
    for call in api.sent():
        if call.status == 200:
            got.setdefault(int(call.params["chat_id"]), []).append(call.params["text"])
    people = {1000 + n for n in range(PEOPLE)}
    assert {c for c in got if c in people} == people
    assert all(got[c] == ["A word from DGA" if (c - 1000) % 3 == 0 else "ประกาศจาก สพร."] for c in people)
    assert any(c.status == 429 for c in api.method_calls("sendMessage")), "the limit was hit and honoured"
    assert got[ADMIN] == [
        f"ประกาศ #1 ส่งเสร็จแล้ว: สำเร็จ {PEOPLE} · ไม่สำเร็จ 0 · ถูกบล็อก 0\n\nBroadcast #1 finished: sent {PEOPLE} · failed 0 · blocked 0"
    ]
    assert elapsed > (PEOPLE / LIMIT) - 1.5, "never faster than the platform allows"


async def test_line_broadcasts_go_out_as_multicasts_grouped_by_language(tmp_path: Path) -> None:
    from bot.handlers.line import LineChannel
    from testbed.line_api import CHANNEL_SECRET, FakeLineApi

    async with FakeLineApi() as api:
        settings = Settings(
            _env_file=None,
            db=tmp_path / "rabfang.db",
            line_channel_secret=CHANNEL_SECRET,
            line_channel_access_token=api.token,
            line_api_base_url=api.url,
            flood_limit=1000,
        )
        async with open_app(settings) as app:
            users = [f"U{n:032x}" for n in range(12)]
            for n, user in enumerate(users):
                for text in ("hi", "lang=en" if n % 4 == 0 else "lang=th", "consent=yes"):
                    kind = "button" if "=" in text else "text"
                    await app.service.handle("line", user, Inbound(kind, text=text, data=text))
            await app.db.set_active("line", users[5], False, app.service.clock())  # unfollowed
            channel = LineChannel(app)
            await channel.start()
            try:
                outreach = Outreach(app.db, app.catalog, app.settings, {"line": channel})
                await q.create_broadcast(app.db, "all", "ประกาศ", "Notice", None, app.service.clock())
                await outreach.broadcasts()
                await outreach.broadcasts()
            finally:
                await channel.stop()
    assert api.multicasts == 2  # one for Thai, one for English: not one call per participant
    for n, user in enumerate(users):
        texts = [m["text"] for m in api.delivered(user)]
        expected = [] if n == 5 else ["Notice" if n % 4 == 0 else "ประกาศ"]
        assert texts == expected, user
