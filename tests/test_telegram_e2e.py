"""`rabfang run` as a real process against the fake Bot API: a participant is walked through
consent, profile and part of a survey over getUpdates, the process is killed with SIGKILL right
after an answer is committed but before Telegram was told, and a restart must neither lose nor
double anything."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.i18n import tr
from testbed.telegram_api import TOKEN, Call, FakeBotAPI, Participant, free_port

USER = 731_904_226  # distinctive, so a leak into the log would be found

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def rabfang_command() -> list[str]:
    script = Path(sys.executable).with_name("rabfang")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


def environment(api: FakeBotAPI, db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "LINE_", "RABFANG_"))}
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=api.base_url,
        RABFANG_DB=str(db),
        RABFANG_HTTP_PORT=str(free_port()),
        RABFANG_LOG_LEVEL="INFO",
        RABFANG_FLOOD_LIMIT="1000",  # the test answers faster than a person can
        PYTHONUNBUFFERED="1",
    )
    return env


async def launch(api: FakeBotAPI, env: dict[str, str], cwd: Path, log: Any) -> asyncio.subprocess.Process:
    """Start `rabfang run` and wait until it polls."""
    polls = len(api.method_calls("getUpdates"))
    proc = await asyncio.create_subprocess_exec(*rabfang_command(), "run", cwd=cwd, env=env, stdout=log, stderr=log)
    waiting = asyncio.ensure_future(api.wait_for(lambda: len(api.method_calls("getUpdates")) > polls, timeout=20))
    exited = asyncio.ensure_future(proc.wait())
    await asyncio.wait({waiting, exited}, return_when=asyncio.FIRST_COMPLETED)
    if exited.done():
        waiting.cancel()
        raise AssertionError(f"rabfang run exited with {proc.returncode}")
    exited.cancel()
    await waiting
    return proc


def question_key(p: Participant) -> str:
    return next(d[2:].partition("=")[0] for _, d in p.buttons() if d.startswith("q."))


def stored(db: Path) -> tuple[dict[str, int | str | None], dict[str, Any], int]:
    """The participant's answers (a rating's value, or a text), their cursor, the events count."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        answers = {
            f"{a}.{i}.{q}": v if v is not None else t
            for a, i, q, v, t in conn.execute(
                "SELECT a.area, a.item, a.question, a.value, a.text FROM answers a"
                " JOIN participants p ON p.id = a.participant_id WHERE p.user_ref = ?",
                (str(USER),),
            )
        }
        (cursor,) = conn.execute("SELECT cursor FROM participants WHERE user_ref = ?", (str(USER),)).fetchone()
        (events,) = conn.execute("SELECT count(*) FROM events WHERE channel = 'telegram'").fetchone()
    return answers, json.loads(cursor), events


async def test_killed_mid_survey_the_participant_continues_where_they_were(tmp_path: Path) -> None:
    db = tmp_path / "rabfang.db"
    log_path = tmp_path / "rabfang.log"
    async with FakeBotAPI() as api:
        env = environment(api, db)
        with log_path.open("wb") as log:
            proc = await launch(api, env, tmp_path, log)
            try:
                p = Participant(api, USER)
                await p.say("/start")
                await p.tap("lang=en")
                await p.tap("consent=yes")
                await p.tap("group=citizen")
                await p.say("3")  # region, typed
                await p.tap("age=~skip")
                await p.tap("area=health")
                first = question_key(p)
                await p.tap(f"q.{first}=2")  # as assessed
                second = question_key(p)
                await p.say("4")  # as planned: no "why?", the next capability
                third = question_key(p)
                assert len({first, second, third}) == 3

                # The third answer: kill the process the moment it answers the tap, i.e. after the
                # answer is committed but before its replies went out or the update was confirmed.
                tap = api.callback_update(USER, p.question(), f"q.{third}=2")
                killed = asyncio.Event()

                def crash(call: Call) -> None:
                    if call.method == "answerCallbackQuery" and not killed.is_set():
                        proc.kill()
                        killed.set()

                api.on_call = crash
                await api.deliver(tap)
                assert await asyncio.wait_for(proc.wait(), 20) == -signal.SIGKILL
                api.on_call = None
                assert not any((c.params.get("offset") or 0) > tap["update_id"] for c in api.method_calls("getUpdates"))

                answers, cursor, _ = stored(db)
                assert answers == {first: 2, second: 4, third: 2}  # committed before the kill
                where = cursor["key"]
                assert where not in (first, second, third)

                # Restart: Telegram hands out the unconfirmed tap again; it is absorbed.
                mark = len(api.calls)
                proc = await launch(api, env, tmp_path, log)
                await api.wait_acked(tap["update_id"], timeout=20)
                redelivered = [
                    c for c in api.calls[mark:] if c.method == "getUpdates" and tap["update_id"] in (c.result or [])
                ]
                assert redelivered, "the unconfirmed update came again"
                assert not p.texts(api.calls[mark:]), "a redelivered update sends nothing again"

                calls = await p.say("/start")
                assert tr("en", "resume") in p.texts(calls)
                assert question_key(p) == where  # the question they were on
                await p.say("4")

                answers, _, events = stored(db)
                assert answers[first] == 2 and answers[second] == 4 and answers[third] == 2
                assert answers[where] in (4, "4")  # a rating, or the text of a "why" question
                assert len(answers) == 4
                assert events == 12  # one per update: none lost, none counted twice
            finally:
                if proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 20) == 0  # a clean stop on SIGTERM

    text = log_path.read_text(encoding="utf-8", errors="replace")
    assert "telegram channel started" in text and "stopped" in text
    assert TOKEN.split(":")[1] not in text
    assert str(USER) not in text
    assert not (tmp_path / "rabfang.db-wal").exists(), "the database was closed (WAL checkpointed)"
