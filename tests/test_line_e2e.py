"""`rabfang run` as a real process with LINE configured: a follower taps the quick replies the
bot sent, through consent, profile and a whole area; after SIGTERM, `rabfang export` holds
every answer exactly once, on channel `line`."""

from __future__ import annotations

import asyncio
import csv
import os
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from testbed.line_api import CHANNEL_SECRET, FakeLineApi, LinePlatform, LineUser, free_port

USER = "U" + "e2e0" * 8
RATINGS = ("5", "4", "3", "dk")  # tapped in turn, so a duplicated or shifted answer shows


def env_for(tmp_path: Path, api: FakeLineApi, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RABFANG_", "LINE_", "TELEGRAM_"))}
    env.update(
        LINE_CHANNEL_SECRET=CHANNEL_SECRET,
        LINE_CHANNEL_ACCESS_TOKEN=api.token,
        LINE_API_BASE_URL=api.url,
        RABFANG_DB=str(tmp_path / "rabfang.db"),
        RABFANG_HTTP_HOST="127.0.0.1",
        RABFANG_HTTP_PORT=str(port),
        RABFANG_LOG_LEVEL="INFO",
        NO_PROXY="127.0.0.1,localhost",
    )
    return env


async def wait_healthy(base: str, proc: asyncio.subprocess.Process, timeout: float = 20.0) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        async with asyncio.timeout(timeout):
            while True:
                if proc.returncode is not None:
                    raise AssertionError(f"rabfang run exited with {proc.returncode}")
                try:
                    response = await http.get(f"{base}/healthz")
                    if response.status_code == 200:
                        return response.json()
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)


async def act(platform: LinePlatform, api: FakeLineApi, event: dict[str, Any]) -> None:
    """Send one event and wait for the bot's reply to it."""
    response = await platform.post([event])
    assert response.status_code == 200, response.text
    token = event["replyToken"]
    await api.wait_for(lambda: any(c.status == 200 for c in api.replies_to(token)), timeout=10)


def tap(user: LineUser, prefix: str) -> dict[str, Any]:
    return user.tap(lambda a: a["data"].startswith(prefix))


async def test_rabfang_run_takes_a_follower_through_an_area_then_export(tmp_path: Path, catalog) -> None:
    async with FakeLineApi() as api:
        port = free_port()
        env = env_for(tmp_path, api, port)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", env=env, cwd=tmp_path, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            health = await wait_healthy(f"http://127.0.0.1:{port}", proc)
            assert "line" in health["channels"]
            platform = LinePlatform(api, f"http://127.0.0.1:{port}/webhooks/line")
            user = platform.user(USER)

            await act(platform, api, user.follow())
            for prefix in ("lang=th", "consent=yes", "group=farmer", "region=northeast", "age=a30_39", "area=health"):
                await act(platform, api, tap(user, prefix))
            expected: Counter[tuple[str, str, str, str]] = Counter()
            n = 0
            replayed = False
            while any(a["data"].startswith("q.") for a in user.quick_replies()):
                offered = [a["data"] for a in user.quick_replies()]
                rating = RATINGS[n % len(RATINGS)]
                choice = next((d for d in offered if d.endswith(f"={rating}")), None)
                event = user.postback(choice or next(d for d in offered if d.endswith("~skip")))
                await act(platform, api, event)
                if choice:
                    _, item, question = choice.split("=")[0].split(".")[1:]
                    expected[("health", item, question, rating)] += 1
                    n += 1
                if choice and not replayed:  # LINE delivering the same body again changes nothing
                    assert (
                        await platform.post([{**event, "deliveryContext": {"isRedelivery": True}}])
                    ).status_code == 200
                    replayed = True
            assert "✓" in " ".join(a["label"] for a in user.quick_replies())  # back at the menu, health done
            await platform.aclose()
            # Every action was seen by LINE's rules: replies only, at most 13 quick replies, labels ≤ 20.
            assert all(c.kind == "reply" and c.status == 200 for c in api.calls)
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(20):
                stderr = (await proc.communicate())[1].decode("utf-8", "replace")
        assert proc.returncode == 0, stderr
        assert USER not in stderr and api.token not in stderr and CHANNEL_SECRET not in stderr

    items = catalog.areas["health"].items
    assert sum(expected.values()) == len(items) * 2 and set(expected.values()) == {1}  # two levels each

    out = tmp_path / "export"
    export = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "export", "--out", str(out), env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr_b = await export.communicate()
    assert export.returncode == 0, stderr_b.decode()
    rows = list(csv.DictReader((out / "responses.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert {r["channel"] for r in rows} == {"line"}
    got = Counter((r["area"], r["item_id"], r["question_id"], r["option_id"]) for r in rows)
    assert got == expected
    assert len({r["respondent"] for r in rows}) == 1 and USER not in (out / "responses.csv").read_text("utf-8-sig")
