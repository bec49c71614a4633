"""Issue 13, as a participant shows it: someone who taps as fast as the bot answers, with the default
flood limits, finishes the education area in at most two taps per capability (plus a "why?" where a
pick differs from the plan), registers for its focus-group session with one tap where LINE lets them
tap (the last message's quick replies, or the buttons inside its bubble), and every answer is in the
export exactly once. The same on Telegram; and a LINE user who types every answer finishes too."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.app import open_app
from bot.config import Settings
from exports import write_export
from storage.outreach import add_session
from testbed.line_api import CHANNEL_SECRET, FakeLineApi
from testbed.telegram_api import FakeBotAPI
from tests.test_line import Harness
from tests.test_telegram import running

ALICE = "U" + "f" * 32
AREA = "education"


async def education_session(settings: Settings) -> int:
    async with open_app(settings) as app:
        return await add_session(
            app.db,
            area=AREA,
            title_th="ระดมความคิดเห็น ด้านการศึกษา",
            title_en="Education focus group",
            starts_at=datetime.now(UTC) + timedelta(days=3),
            ends_at=None,
            place="กรุงเทพฯ",
            capacity=30,
            now=datetime.now(UTC),
        )


async def exported(settings: Settings, out: Path) -> list[dict[str, str]]:
    async with open_app(settings) as app:
        await write_export(app.db, out, catalog=app.catalog)
    with (out / "responses.csv").open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def line_actions(user: Any) -> list[dict[str, Any]]:
    """What the participant can tap now: the last message's quick replies, else its bubble's buttons."""
    return user.quick_replies() or user.bubble_buttons()


async def test_a_fast_line_participant_two_taps_a_capability_and_registers_with_one(tmp_path: Path) -> None:
    async with FakeLineApi() as api:
        settings = Settings(  # the default flood limits: a fast thumb is not a spammer
            _env_file=None,
            db=tmp_path / "line.db",
            line_channel_secret=CHANNEL_SECRET,
            line_channel_access_token=api.token,
            line_api_base_url=api.url,
        )
        session = await education_session(settings)
        line = await Harness(settings, api).start()
        try:
            user = line.user(ALICE)
            await line.send(user.follow())
            for prefix in ("lang=th", "consent=yes", "group=", "region=", "age="):
                await line.send(
                    user.postback(next(a["data"] for a in line_actions(user) if a["data"].startswith(prefix)))
                )
            await line.send(user.postback(f"area={AREA}"))
            taps: dict[str, int] = {}
            for _ in range(60):
                actions = [a for a in line_actions(user) if a["data"].startswith(f"q.{AREA}.")]
                if not actions:
                    break
                key = actions[0]["data"][2:].partition("=")[0]
                item = key.split(".")[1]
                levels = [a for a in actions if a["data"].rpartition("=")[2] in ("1", "2", "3", "4", "5")]
                if not levels:  # "why?" or a closing question: written
                    await line.send(user.text("ครูยังขาดอุปกรณ์และอินเทอร์เน็ต"))
                    continue
                await line.send(user.postback(levels[0]["data"]))  # level 1: off the plan, so "why?" follows
                taps[item] = taps.get(item, 0) + 1
            assert taps and all(n <= 2 for n in taps.values()), taps
            # the area is done: registering is one tap among what LINE shows last
            register = [a for a in line_actions(user) if a["data"] == f"reg={session}"]
            assert register, [a["data"] for a in line_actions(user)]
            await line.send(user.postback(register[0]["data"]))
            assert await line.sql("SELECT count(*) FROM registrations WHERE session_id = ?", session) == [(1,)]
            flood = "ส่งข้อความเร็วเกินไป"
            assert not any(flood in m.get("text", m.get("altText", "")) for m in user.messages())
        finally:
            await line.stop()
        rows = await exported(settings, tmp_path / "export")
        keys = [(r["area"], r["item_id"], r["question_id"]) for r in rows]
        assert len(keys) == len(set(keys))  # every answer exactly once
        assert {k[1] for k in keys if k[1]} == set(taps)
        assert sum(1 for k in keys if k[1] and k[2] != "why") == sum(taps.values())


async def test_a_line_participant_who_types_every_answer_finishes(tmp_path: Path) -> None:
    async with FakeLineApi() as api:
        settings = Settings(
            _env_file=None,
            db=tmp_path / "typed.db",  # the default flood limits: a typed answer is an answer
            line_channel_secret=CHANNEL_SECRET,
            line_channel_access_token=api.token,
            line_api_base_url=api.url,
        )
        line = await Harness(settings, api).start()
        try:
            user = line.user(ALICE)
            for typed in ("สวัสดี", "1", "ยินยอม", "1", "1", "ข้าม", "1"):
                await line.send(user.text(typed))
            for _ in range(60):
                last = user.messages()[-1]
                shown = last.get("text", last.get("altText", ""))
                if (
                    "ขอบคุณ" in shown
                    or "another" in shown
                    or await line.sql("SELECT count(*) FROM progress WHERE completed_at IS NOT NULL") == [(1,)]
                ):
                    break
                await line.send(user.text("3" if "ระดับ" in shown else "ไม่มีความเห็นเพิ่มเติม"))
            assert await line.sql("SELECT area FROM progress WHERE completed_at IS NOT NULL") == [(AREA,)]
        finally:
            await line.stop()


async def test_a_fast_telegram_participant_two_taps_a_capability(tmp_path: Path) -> None:
    async with FakeBotAPI() as api:
        folder = tmp_path / "tg"
        folder.mkdir()
        async with running(api, folder) as bot:
            p = bot.participant(5550777)
            await p.say("/start")
            for prefix in ("lang=th", "consent=yes", "group=", "region=", "age="):
                await p.tap(next(d for _, d in p.buttons() if d.startswith(prefix)))
            await p.tap(f"area={AREA}")
            taps: dict[str, int] = {}
            for _ in range(60):
                data = [d for _, d in p.buttons() if d.startswith(f"q.{AREA}.")]
                if not data:
                    break
                key = data[0][2:].partition("=")[0]
                if not any(d.endswith("=1") for d in data):  # "why?" or a closing question: written
                    await p.say("ครูยังขาดอุปกรณ์")
                    continue
                await p.tap(next(d for d in data if d.endswith("=1")))
                item = key.split(".")[1]
                taps[item] = taps.get(item, 0) + 1
            assert taps and all(n <= 2 for n in taps.values()), taps
            answers = await bot.answers(5550777)
            picked = [k for k in answers if k.endswith("_level")]
            assert len(picked) == sum(taps.values())


async def test_a_telegram_participant_who_types_with_particles_at_the_bots_pace_loses_nothing(tmp_path: Path) -> None:
    """Typed as Thai people type ("ยินยอมค่ะ", "๓", "ข้ามครับ"), each message sent as soon as the bot
    answered the last, at the default flood limits: every answer is stored, no "too fast" notice."""
    async with FakeBotAPI() as api:
        folder = tmp_path / "tg"
        folder.mkdir()
        async with running(api, folder, flood_limit=Settings(_env_file=None).flood_limit) as bot:
            p = bot.participant(5550888)
            for typed in ("สวัสดีค่ะ", "ไทยค่ะ", "ยินยอมค่ะ", "๑", "ภาคอีสานค่ะ", "ข้ามค่ะ", "การศึกษาค่ะ"):
                await p.say(typed)
            picks = iter(["๓ ครับ", "ระดับ ๔ ค่ะ", "ข้ามครับ"] + ["๒ค่ะ", "ข้อ ๓ ค่ะ"] * 4)
            for _ in range(40):
                data = [d for _, d in p.buttons() if d.startswith(f"q.{AREA}.")]
                if not data:
                    break
                if any(d.endswith("=1") for d in data):
                    await p.say(next(picks))
                else:  # "why?" or a closing question
                    await p.say("ข้ามครับ" if "why" in data[0] else "ครูยังขาดอุปกรณ์ค่ะ")
            assert not any("เร็วเกินไป" in t for t in p.texts())
            answers = await bot.answers(5550888)
            levels = {k: v[1] for k, v in answers.items() if k.endswith("_level")}
            assert levels["education.learner_data.current_level"] == 3
            assert levels["education.learner_data.target_level"] == 4
            assert answers["education.learner_data.why"][3] == 1  # skipped, not a reason "ข้ามครับ"
            assert len(levels) == 10 and all(v is not None for v in levels.values()), levels
            assert await bot.rows("SELECT area FROM progress WHERE completed_at IS NOT NULL") == [(AREA,)]
