"""Issue 16, live focus-group sessions, as the room and the organizer live them: the organizer starts
a session from chat (a code, the LINE and Telegram links and their QR codes); participants check in
by the code or the deep link (someone new after consent and profile, someone known at once); the
facilitator opens two capabilities one after the other and each reaches everyone checked in (a LINE
multicast, a Telegram push); they answer in taps on both channels; a tap after the capability
closed is politely refused; the export carries each answer's source and session. And a wave that
would exceed the LINE Official Account's monthly quota is stopped before anything is sent."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bot.app import App, open_app
from bot.config import Settings
from bot.handlers.line import LineChannel
from bot.outreach import Outreach, add_outreach
from bot.runner import http_app
from bot.scheduler import Scheduler
from exports import write_export
from exports.presenter import Presenter, presenter_link
from storage.outreach import add_session
from testbed.line_api import CHANNEL_SECRET, FakeLineApi, LinePlatform, LineUser, serve
from testbed.telegram_api import TOKEN, FakeBotAPI, Participant
from tests.reliability import telegram_channel

ADMIN = 4242
ALICE = "U" + "a1" * 16  # known on LINE before the session
CAROL = "U" + "c3" * 16  # new on LINE
BOB = 7001  # new on Telegram
AREA = "education"


@dataclass
class Live:
    app: App
    line: LineChannel
    platform: LinePlatform
    tg: FakeBotAPI
    line_api: FakeLineApi
    outreach: Outreach
    presenter: Presenter
    base: str
    session: int

    def lu(self, user_id: str) -> LineUser:
        return self.platform.user(user_id)

    def tu(self, user_id: int) -> Participant:
        return Participant(self.tg, user_id)

    async def post(self, *events: dict[str, Any]) -> None:
        response = await self.platform.post(list(events))
        assert response.status_code == 200, response.text
        await self.line.idle()

    async def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        return await self.app.db.fetch_all(query, params)

    async def admin(self, command: str) -> str:
        """An organizer's `/live …` typed in Telegram; what the bot said back."""
        calls = await self.tu(ADMIN).say(command)
        return "\n".join(c.params.get("text", "") for c in calls if c.method == "sendMessage")


def actions(user: LineUser) -> list[dict[str, Any]]:
    return user.quick_replies() or user.bubble_buttons()


def live_taps(user: LineUser) -> list[str]:
    return [a["data"] for a in actions(user) if a["data"].startswith("lq.")]


async def tg_live_taps(p: Participant) -> list[str]:
    try:
        return [data for _, data in p.buttons() if data.startswith("lq.")]
    except AssertionError:
        return []


@contextlib.asynccontextmanager
async def live_stack(tmp_path: Path, **extra: Any) -> AsyncIterator[Live]:
    """Both channels, the outreach jobs and the presenter pages, wired as `rabfang run` wires them."""
    async with FakeBotAPI() as tg, FakeLineApi(**extra.pop("line_api", {})) as line_api:
        settings = Settings(
            _env_file=None,
            db=tmp_path / "rabfang.db",
            telegram_bot_token=TOKEN,
            telegram_api_base_url=tg.base_url,
            line_channel_secret=CHANNEL_SECRET,
            line_channel_access_token=line_api.token,
            line_api_base_url=line_api.url,
            flood_limit=1_000_000,
            admins=f"telegram:{ADMIN}",
            line_basic_id="@rabfang",
            telegram_bot_username="rabfang_bot",
            **extra,
        )
        async with open_app(settings) as app, contextlib.AsyncExitStack() as stack:
            session = await add_session(
                app.db,
                area=AREA,
                title_th="ระดมความคิดเห็น ด้านการศึกษา",
                title_en="Education focus group",
                starts_at=datetime.now(UTC) + timedelta(hours=1),
                ends_at=None,
                place="ห้องประชุม สพร.",
                capacity=None,
                now=datetime.now(UTC),
            )
            telegram = telegram_channel(app)
            await telegram.start()
            stack.push_async_callback(telegram.stop)
            line = LineChannel(app, retry_delays=(0.01, 0.02, 0.04))
            await line.start()
            stack.push_async_callback(line.stop)
            presenter = Presenter(app)
            await presenter.start()
            stack.push_async_callback(presenter.stop)
            outreach = Outreach(app.db, app.catalog, settings, {"telegram": telegram, "line": line})
            scheduler = Scheduler()
            add_outreach(scheduler, outreach, app.doorbell)
            await scheduler.start()
            stack.push_async_callback(scheduler.stop)
            server, task, port = await serve(http_app([telegram, line, presenter]))
            base = f"http://127.0.0.1:{port}"
            settings.public_url = base  # the presenter's links point here

            async def stop_server() -> None:
                server.should_exit = True
                await presenter.stop()
                await task

            stack.push_async_callback(stop_server)
            platform = LinePlatform(line_api, f"{base}/webhooks/line")
            stack.push_async_callback(platform.aclose)
            yield Live(app, line, platform, tg, line_api, outreach, presenter, base, session)


async def onboard_line(live: Live, user: LineUser) -> None:
    await live.post(user.follow())
    for prefix in ("lang=th", "consent=yes", "group=", "region=", "age="):
        await live.post(user.postback(next(a["data"] for a in actions(user) if a["data"].startswith(prefix))))


async def started(live: Live) -> str:
    said = await live.admin(f"/live start {live.session}")
    m = re.search(r"code: ([A-Z0-9]{6})", said)
    assert m, said
    return m.group(1)


async def test_a_live_session_end_to_end(tmp_path: Path) -> None:
    async with live_stack(tmp_path) as live:
        alice, carol, bob = live.lu(ALICE), live.lu(CAROL), live.tu(BOB)
        await onboard_line(live, alice)  # known before the session

        # a non-admin's /live is an unknown command, word for word
        stranger = await live.tu(9999).say("/live start 1")
        unknown = await live.tu(9998).say("/nosuchcommand")
        assert [c.params.get("text") for c in stranger] == [c.params.get("text") for c in unknown]

        code = await started(live)
        admin_calls = live.tg.sent(ADMIN, "sendDocument")
        assert len(admin_calls) == 2  # the QR codes of both links, as images
        said = "\n".join(c.params.get("text", "") for c in live.tg.sent(ADMIN))
        assert f"https://line.me/R/oaMessage/%40rabfang/?live%20{code}" in said
        assert f"https://t.me/rabfang_bot?start=live_{code}" in said
        assert f"{live.base}/live/{live.session}/" in said  # the presenter page's signed link

        # check-in: Alice (known) at once, by the text LINE's link fills in
        await live.post(alice.text(f"live {code}"))
        assert "ลงชื่อเข้าร่วม" in alice.messages()[-1]["text"]
        # Bob (new, Telegram's deep link): language, consent, group, region, then checked in
        calls = await bob.say(f"/start live_{code}")
        taps = 0
        for prefix in ("lang=th", "consent=yes", "group=", "region="):
            data = next(d for _, d in bob.buttons() if d.startswith(prefix))
            calls = await bob.tap(data)
            taps += 1
        assert taps == 4 and any("ลงชื่อเข้าร่วม" in t for t in bob.texts(calls))
        # Carol (new, LINE): the code typed, the same few taps
        await live.post(carol.follow())
        await live.post(carol.text(f"LIVE {code.lower()}"))  # however she types it
        for prefix in ("lang=en", "consent=yes", "group=", "region="):
            await live.post(carol.postback(next(a["data"] for a in actions(carol) if a["data"].startswith(prefix))))
        assert "checked in" in carol.messages()[-1]["text"]
        assert await live.sql("SELECT count(*) FROM checkins WHERE session_id = ?", live.session) == [(3,)]

        # the facilitator opens the first capability: one multicast on LINE, a push on Telegram
        assert "opened" in await live.admin("/live open 1")
        await live.line_api.wait_for(lambda: bool(live_taps(alice)) and bool(live_taps(carol)))
        await live.tg.wait_for(lambda: any(d.startswith("lq.") for _, d in bob.buttons()))
        assert live.line_api.multicasts >= 1
        first = {"alice": list(live_taps(alice)), "bob": await tg_live_taps(bob)}
        stale_alice = first["alice"][0]

        async def answer_line(user: LineUser, level: str) -> None:
            for _ in range(2):  # today, then 2027: two taps
                data = next(d for d in live_taps(user) if d.endswith("=" + level))
                await live.post(user.postback(data))

        async def answer_tg(p: Participant, level: str) -> None:
            for _ in range(2):
                data = next(d for d in await tg_live_taps(p) if d.endswith("=" + level))
                await p.tap(data)

        await answer_line(alice, "1")
        await live.post(alice.text("ครูยังขาดอุปกรณ์ในห้องเรียน"))  # the optional comment
        assert "ความเห็น" in alice.messages()[-1]["text"]
        await answer_line(carol, "3")
        await answer_tg(bob, "4")
        live_rows = await live.sql(
            "SELECT item, question, option, text FROM answers WHERE source = 'live' AND session_id = ?"
            " ORDER BY item, question, option",
            live.session,
        )
        assert len(live_rows) == 7, live_rows  # 3 people × 2 taps + Alice's comment

        # the next capability closes the first; everyone gets the second
        before = len(alice.messages())
        assert "opened" in await live.admin("/live next")
        await live.line_api.wait_for(lambda: len(alice.messages()) > before and bool(live_taps(alice)))
        second_item = live_taps(alice)[0].split(".")[2]
        assert second_item != stale_alice.split(".")[2]
        await live.tg.wait_for(lambda: any(second_item in d for _, d in bob.buttons()))
        await answer_line(alice, "2")
        await answer_tg(bob, "2")

        # a late tap on the first capability's buttons is politely refused, and changes nothing
        await live.post(alice.postback(stale_alice.rpartition("=")[0] + "=5"))
        assert "ปิดรับคำตอบ" in alice.messages()[-1]["text"]
        assert await live.sql("SELECT count(*) FROM answers WHERE source = 'live' AND option = '5'") == [(0,)]

        assert "stopped" in await live.admin(f"/live stop {live.session}")
        # the chat survey is untouched: Alice has no chat answers, only live ones
        assert await live.sql("SELECT count(*) FROM answers WHERE source = 'chat'") == [(0,)]

        await write_export(live.app.db, tmp_path / "export", catalog=live.app.catalog)
    with (tmp_path / "export" / "responses.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 11
    assert {r["source"] for r in rows} == {"live"}
    assert {r["session_id"] for r in rows} == {str(live.session)}
    assert {r["channel"] for r in rows} == {"line", "telegram"}
    assert any(r["text"] == "ครูยังขาดอุปกรณ์ในห้องเรียน" for r in rows)


async def test_a_wave_over_the_line_quota_is_stopped_before_any_send(tmp_path: Path) -> None:
    async with live_stack(tmp_path, line_api={"quota": 100, "quota_used": 99}) as live:
        alice, carol = live.lu(ALICE), live.lu(CAROL)
        await onboard_line(live, alice)
        await onboard_line(live, carol)
        code = await started(live)
        for user in (alice, carol):
            await live.post(user.text(f"live {code}"))
        pushes = len([c for c in live.line_api.calls if c.kind in ("push", "multicast")])
        said = await live.admin("/live open 1")
        assert "opened" in said
        # the organizer hears why nothing went out; LINE was asked, and sent nothing
        await live.tg.wait_for(lambda: any("quota" in c.params.get("text", "") for c in live.tg.sent(ADMIN)))
        notice = next(c.params["text"] for c in live.tg.sent(ADMIN) if "quota" in c.params.get("text", ""))
        assert "needs 2 LINE messages but only 1 are left" in notice
        assert live.line_api.quota_reads >= 1
        assert len([c for c in live.line_api.calls if c.kind in ("push", "multicast")]) == pushes
        assert live.line_api.multicasts == 0
        assert not live_taps(alice) and not live_taps(carol)
        assert await live.sql("SELECT status, count(*) FROM deliveries WHERE kind LIKE 'live:%' GROUP BY status") == [
            ("over_quota", 2)
        ]


async def test_the_presenter_link_is_signed_and_streams_the_state(tmp_path: Path) -> None:
    async with live_stack(tmp_path) as live:
        await started(live)
        url = await presenter_link(live.app.db, live.app.settings, live.session)
        assert url
        async with httpx.AsyncClient() as client:
            page = await client.get(url)
            assert page.status_code == 200
            assert "connect-src 'self'" in page.headers["content-security-policy"]
            assert "<svg" in page.text and "ระดมความคิดเห็น" in page.text
            assert not re.search(r"""(src|href)=["']https?://""", page.text)  # no external asset
            forged = await client.get(url[:-3] + "abc")
            assert forged.status_code == 403
            other = await client.get(url.replace(f"/live/{live.session}/", f"/live/{live.session + 1}/"))
            assert other.status_code == 403  # signed for one session only
            async with client.stream("GET", url + "/events") as stream:
                lines = stream.aiter_lines()
                first = ""
                while not first.startswith("data: "):
                    first = await asyncio.wait_for(anext(lines), 5)
                assert '"checked_in": 0' in first and '"item": null' in first
            # the page's buttons: the facilitator's next and close, with the signed link as credential
            assert (await client.post(forged.url.__str__() + "/next")).status_code == 403
            pressed = await client.post(url + "/next")
            assert pressed.status_code == 200 and "opened" in pressed.json()["message"]
            assert await live.sql("SELECT open_item FROM live_sessions") == [("education.learner_data",)]
            closed = await client.post(url + "/close")
            assert closed.status_code == 200 and "closed" in closed.json()["message"]
            assert await live.sql("SELECT open_item FROM live_sessions") == [(None,)]


# ---- the presenter page in headless Chromium -------------------------------------------------

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


class Browser:
    """Headless Chromium on one page, driven over the DevTools protocol (aiohttp's websocket)."""

    def __init__(self, proc: asyncio.subprocess.Process, ws: Any, session: Any):
        self.proc, self.ws, self.session = proc, ws, session
        self._ids = iter(range(1, 1_000_000))

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        n = next(self._ids)
        await self.ws.send_json({"id": n, "method": method, "params": params})
        while True:
            msg = await asyncio.wait_for(self.ws.receive_json(), 20)
            if msg.get("id") == n:
                assert "error" not in msg, msg
                return msg["result"]

    async def eval(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    async def until(self, expression: str, timeout: float = 10.0) -> Any:
        """Wait until `expression` is truthy in the page; its value."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            value = await self.eval(expression)
            if value:
                return value
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"not true within {timeout}s: {expression}")
            await asyncio.sleep(0.1)

    async def screenshot(self, path: Path) -> bytes:
        import base64

        data = base64.b64decode((await self.call("Page.captureScreenshot", format="png"))["data"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return data


@contextlib.asynccontextmanager
async def chromium_on(url: str, profile: Path, size: str = "1600,900") -> AsyncIterator[Browser]:
    import shutil

    import aiohttp

    from tests.test_report import CHROMIUM_FLAGS

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser
    proc = await asyncio.create_subprocess_exec(
        browser,
        *CHROMIUM_FLAGS,
        "--remote-debugging-port=0",
        f"--user-data-dir={profile}",
        f"--window-size={size}",
        url,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        active = profile / "DevToolsActivePort"
        for _ in range(300):
            if active.exists() and len(active.read_text().splitlines()) >= 2:
                break
            await asyncio.sleep(0.1)
        port = int(active.read_text().splitlines()[0])
        async with aiohttp.ClientSession() as session:
            for _ in range(100):
                pages = await (await session.get(f"http://127.0.0.1:{port}/json/list")).json()
                pages = [p for p in pages if p.get("type") == "page" and p.get("url", "").startswith("http")]
                if pages:
                    break
                await asyncio.sleep(0.1)
            async with session.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                yield Browser(proc, ws, session)
    finally:
        proc.terminate()
        await proc.wait()


def chromium_missing() -> bool:
    import shutil

    return not (shutil.which("chromium") or shutil.which("chromium-browser"))


@__import__("pytest").mark.skipif(chromium_missing(), reason="chromium is not installed (apt-get install chromium)")
async def test_the_presenter_page_updates_without_a_reload_and_after_a_dropped_connection(tmp_path: Path) -> None:
    async with live_stack(tmp_path) as live:
        people = [live.lu("U" + f"{n:032x}") for n in range(1, 4)]
        for user in people:
            await onboard_line(live, user)
        code = await started(live)
        for user in people:
            await live.post(user.text(f"live {code}"))
        await live.admin("/live open learner_data")
        await live.line_api.wait_for(lambda: all(live_taps(u) for u in people))
        url = await presenter_link(live.app.db, live.app.settings, live.session)
        assert url

        async with chromium_on(url, tmp_path / "chromium") as page:
            await page.until("document.getElementById('checked').textContent === '3'")
            assert await page.eval("document.body.classList.contains('idle')") is False
            cap = live.app.catalog.areas[AREA].items[0].capability
            assert await page.eval("document.getElementById('cap').textContent") == cap.th + cap.en
            await page.eval("window.__kept = 42")  # gone if the page reloads
            bar = "document.querySelector('[data-q=current_level] [data-option=\"{o}\"] .{part}')"
            count = bar.format(o="2", part="count") + ".textContent"
            width = bar.format(o="2", part="bar") + ".style.width"
            assert await page.eval(count) == "0"

            await live.post(people[0].postback(next(d for d in live_taps(people[0]) if d.endswith("=2"))))
            await page.until(f"{count} === '1'", timeout=2)
            assert await page.eval(width) == "100%"
            assert await page.eval("document.getElementById('answers').textContent") == "1"

            await live.post(people[1].postback(next(d for d in live_taps(people[1]) if d.endswith("=3"))))
            await page.until(f"{count} === '1' && " + bar.format(o="3", part="count") + ".textContent === '1'")
            assert await page.eval(width) == "100%"
            assert await page.eval("window.__kept") == 42  # the same page: no reload

            # the connection drops (the server ends every stream): the page reconnects by itself,
            # gets the whole state again, and goes on updating
            live.presenter.drop()
            await live.post(people[2].postback(next(d for d in live_taps(people[2]) if d.endswith("=3"))))
            await page.until(bar.format(o="3", part="count") + ".textContent === '2'", timeout=5)
            assert await page.eval(width) == "50%"
            assert await page.eval("window.__kept") == 42
            assert await page.eval("document.getElementById('answers').textContent") == "3"
            assert (await page.screenshot(ARTIFACTS / "live-presenter.png")).startswith(b"\x89PNG")


async def test_the_report_shows_the_rooms_answers_apart(tmp_path: Path) -> None:
    from exports.report import write_report

    async with live_stack(tmp_path) as live:
        alice = live.lu(ALICE)
        await onboard_line(live, alice)
        code = await started(live)
        await live.post(alice.text(f"live {code}"))
        await live.admin("/live open 1")
        await live.line_api.wait_for(lambda: bool(live_taps(alice)))
        await live.post(alice.postback(next(d for d in live_taps(alice) if d.endswith("=3"))))
        out = await write_report(live.app.db, live.app.catalog, tmp_path / "report.html")
    html = out.read_text(encoding="utf-8")
    assert "คำตอบในห้องประชุม" in html and "ระดมความคิดเห็น ด้านการศึกษา" in html
    section = html[html.index("คำตอบในห้องประชุม") :]
    assert re.search(r'<td class="num">0</td><td class="num">0</td><td class="num">1</td>', section)
