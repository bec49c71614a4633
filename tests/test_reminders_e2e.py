"""Issue 5, shown end to end: a session added with `rabfang sessions add`, a participant who
registers through the Telegram channel (fake Bot API), the bot killed with SIGKILL before the
reminder is due and restarted after: exactly one reminder, and a further restart sends none."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.i18n import BANGKOK
from testbed.telegram_api import FakeBotAPI, Participant
from tests.test_telegram_e2e import environment, launch, rabfang_command

USER = 640_117_385


def reminders(api: FakeBotAPI) -> list[str]:
    return [c.params["text"] for c in api.sent(USER) if c.params.get("text", "").startswith("Reminder:")]


async def test_one_reminder_across_a_kill_and_two_restarts(tmp_path: Path) -> None:
    lead = timedelta(seconds=30)  # when the reminder falls due, from now: time enough to register
    starts = datetime.now(UTC) + timedelta(minutes=2) + lead
    async with FakeBotAPI() as api:
        env = environment(api, tmp_path / "rabfang.db") | {"RABFANG_REMINDER_OFFSETS": "2m"}
        added = subprocess.run(
            [
                *rabfang_command(),
                "sessions",
                "add",
                "--area",
                "sme",
                "--title-th",
                "SME พบภาครัฐ",
                "--title-en",
                "SME meets government",
                "--starts",
                starts.astimezone(BANGKOK).isoformat(timespec="seconds"),
                "--place",
                "https://meet.example/sme",
            ],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert "session 1 added" in added.stdout
        deadline = time.monotonic() + lead.total_seconds()
        with (tmp_path / "rabfang.log").open("wb") as log:
            proc = None
            try:
                proc = await launch(api, env, tmp_path, log)
                p = Participant(api, USER)
                await p.say("/start")
                for step in ("lang=en", "consent=yes", "group=sme", "region=central", "age=~skip"):
                    await p.tap(step)
                calls = await p.say("/events")
                assert any("SME meets government" in t for t in p.texts(calls))
                calls = await p.tap("reg=1")
                assert any(t.startswith("You are registered") for t in p.texts(calls))
                assert any(c.method == "sendDocument" for c in calls), "an .ics file comes with the confirmation"
                assert time.monotonic() < deadline, "registered before the reminder was due"
                proc.kill()
                assert await asyncio.wait_for(proc.wait(), 20) == -signal.SIGKILL
                assert reminders(api) == []

                await asyncio.sleep(max(0.0, deadline - time.monotonic()) + 1)  # the bot is down when it falls due
                proc = await launch(api, env, tmp_path, log)
                await api.wait_for(lambda: reminders(api), timeout=20)
                proc.send_signal(signal.SIGTERM)
                assert await asyncio.wait_for(proc.wait(), 20) == 0

                proc = await launch(api, env, tmp_path, log)  # its start-up sweep must find nothing owed
                await asyncio.sleep(2)
                proc.send_signal(signal.SIGTERM)
                assert await asyncio.wait_for(proc.wait(), 20) == 0
            finally:
                if proc is not None and proc.returncode is None:  # a failed check must not leave it running
                    proc.kill()
                    await proc.wait()

    assert len(reminders(api)) == 1
    assert "SME meets government" in reminders(api)[0] and "https://meet.example/sme" in reminders(api)[0]
