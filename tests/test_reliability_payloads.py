"""Issue 17: hostile and broken traffic against the HTTP server as `rabfang run` configures it
(bot.runner.server_config: uvicorn with rabfang's head timeout and connection cap), on 127.0.0.1
with real sockets: nesting beyond reason, a full inbox, slow and vanishing clients. Both
channels run behind it (Telegram by webhook) against the fake platform APIs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import open_app
from bot.handlers.http import TALLY
from bot.handlers.line import LineChannel
from bot.handlers.telegram import SECRET_HEADER, WEBHOOK_PATH, TelegramChannel
from bot.runner import _Server, http_app, server_config
from testbed.line_api import CHANNEL_SECRET, FakeLineApi, LinePlatform, sign
from testbed.telegram_api import TOKEN, FakeBotAPI, listening_socket
from tests.test_telegram import fast_pacer

ALICE = "U" + "a" * 32
WEBHOOK_URL = "https://rabfang.example.org" + WEBHOOK_PATH
HEAD = b"POST /webhooks/line HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"


class Stack:
    """Both channels behind `rabfang run`'s HTTP server; `port` is where it listens."""

    def __init__(self, line: LineChannel, telegram: TelegramChannel, tg: FakeBotAPI, port: int, platform: LinePlatform):
        self.line, self.telegram, self.tg, self.port, self.platform = line, telegram, tg, port, platform
        self.base = f"http://127.0.0.1:{port}"

    async def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        return await self.line.inbox.service.db.fetch_all(query, params)

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.port)

    async def post_line(self, body: bytes) -> httpx.Response:
        headers = {"content-type": "application/json", "x-line-signature": sign(body)}
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.post(f"{self.base}/webhooks/line", content=body, headers=headers)

    async def post_telegram(self, body: bytes) -> httpx.Response:
        headers = {"content-type": "application/json", SECRET_HEADER: self.tg.webhook["secret_token"]}
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.post(f"{self.base}{WEBHOOK_PATH}", content=body, headers=headers)


@contextlib.asynccontextmanager
async def running(tmp_path: Path, line_api: FakeLineApi, tg: FakeBotAPI, **settings: Any) -> AsyncIterator[Stack]:
    from bot.config import Settings

    values: dict[str, Any] = {
        "db": tmp_path / "rabfang.db",
        "telegram_bot_token": TOKEN,
        "telegram_api_base_url": tg.base_url,
        "telegram_webhook_url": WEBHOOK_URL,
        "line_channel_secret": CHANNEL_SECRET,
        "line_channel_access_token": line_api.token,
        "line_api_base_url": line_api.url,
        "flood_limit": 1_000_000,
        "http_header_timeout": 1.0,
        "http_body_timeout": 1.0,
        **settings,
    }
    s = Settings(_env_file=None, **values)
    async with open_app(s) as app:
        fast = {"storage_retry": (0.05, 0.2)}
        telegram = TelegramChannel(app, pacer=fast_pacer(), retry_delay=0.05, max_retry_delay=0.2, **fast)
        line = LineChannel(app, retry_delays=(0.01, 0.02), **fast)
        await telegram.start()
        await line.start()
        sock = listening_socket()
        server = _Server(server_config(http_app([telegram, line]), s))
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            await asyncio.sleep(0.01)
        port = sock.getsockname()[1]
        platform = LinePlatform(line_api, f"http://127.0.0.1:{port}/webhooks/line")
        try:
            yield Stack(line, telegram, tg, port, platform)
        finally:
            server.should_exit = True
            await task
            await platform.aclose()
            await line.stop()
            await telegram.stop()


@pytest.fixture
async def apis() -> AsyncIterator[tuple[FakeLineApi, FakeBotAPI]]:
    async with FakeLineApi() as line_api, FakeBotAPI() as tg:
        yield line_api, tg


@pytest.fixture(autouse=True)
def fresh_tally() -> None:
    TALLY.reset()  # each test sees its first summary at once


def noisy(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Records a flood would be made of: warnings and worse, and anything with a traceback."""
    return [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info or "Traceback" in r.getMessage()]


async def closed_by_server(reader: asyncio.StreamReader, timeout: float) -> bool:
    """Whether the server closes the connection within `timeout` seconds (EOF, or a reset)."""

    async def eof() -> None:
        while await reader.read(65536):
            pass

    try:
        await asyncio.wait_for(eof(), timeout)
    except TimeoutError:
        return False
    except ConnectionError:
        pass
    return True


# ---- nesting beyond reason ---------------------------------------------------------------------


DEEP = 100_000


@pytest.mark.parametrize("shape", ["arrays", "objects"])
async def test_a_signed_body_nested_100000_deep_is_a_400_without_a_traceback(
    tmp_path: Path, apis: tuple[FakeLineApi, FakeBotAPI], caplog: pytest.LogCaptureFixture, shape: str
) -> None:
    line_api, tg = apis
    inner = b"[" * DEEP + b"]" * DEEP if shape == "arrays" else b'{"a":' * DEEP + b"1" + b"}" * DEEP
    body = b'{"destination":"U0","events":[' + inner + b"]}"
    assert len(body) < 1 << 20  # under the size limit: the nesting itself must be refused
    async with running(tmp_path, line_api, tg) as st:
        r = await st.post_line(body)
        assert r.status_code == 400 and r.text == "not a LINE webhook body"
        r = await st.post_telegram(inner)
        assert r.status_code == 400
        assert (await st.post_line(st.platform.body([]))).status_code == 200  # and it still answers
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


# ---- a bounded inbox -------------------------------------------------------------------------


async def test_a_full_inbox_answers_503_until_it_drains(tmp_path: Path, apis: tuple[FakeLineApi, FakeBotAPI]) -> None:
    line_api, tg = apis
    async with running(tmp_path, line_api, tg, inbox_limit=5) as st:
        user = st.platform.user(ALICE)
        db = st.line.inbox.service.db
        async with db.transaction() as conn:  # processing fails, so the backlog stays
            await conn.execute(
                "CREATE TEMP TRIGGER stuck BEFORE INSERT ON main.events BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            )
        for n in range(5):
            r = await st.platform.post([user.text(f"ข้อความ {n}")])
            assert r.status_code == 200
        r = await st.platform.post([user.text("one too many")])
        assert r.status_code == 503 and "inbox full" in r.text
        r = await st.post_telegram(json.dumps(st.tg.message_update(5550030, "/start")).encode())
        assert r.status_code == 200  # each channel has its own backlog
        assert await st.sql("SELECT count(*) FROM inbox WHERE channel = 'line' AND processed = 0") == [(5,)]
        async with db.transaction() as conn:
            await conn.execute("DROP TRIGGER temp.stuck")
        while st.line.inbox.backlog:  # the stuck chat is tried again, and drains
            await asyncio.sleep(0.02)
        r = await st.platform.post([user.text("after")])  # LINE's redelivery, say
        assert r.status_code == 200
        await st.line.idle()
        assert await st.sql("SELECT count(*) FROM inbox WHERE channel = 'line' AND processed = 0") == [(0,)]


async def test_the_backlog_is_read_again_on_start(tmp_path: Path, apis: tuple[FakeLineApi, FakeBotAPI]) -> None:
    line_api, tg = apis
    async with running(tmp_path, line_api, tg, inbox_limit=3) as st:
        async with st.line.inbox.service.db.transaction() as conn:
            await conn.execute(
                "CREATE TRIGGER stuck BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            )
        user = st.platform.user(ALICE)
        for n in range(3):
            assert (await st.platform.post([user.text(f"m{n}")])).status_code == 200
    async with running(tmp_path, line_api, tg, inbox_limit=3) as st:
        assert st.line.inbox.backlog == 3  # counted from the table, not started at zero
        assert (await st.platform.post([st.platform.user(ALICE).text("m3")])).status_code == 503
        async with st.line.inbox.service.db.transaction() as conn:
            await conn.execute("DROP TRIGGER stuck")


async def test_storing_never_waits_for_a_slow_platform_api(
    tmp_path: Path, apis: tuple[FakeLineApi, FakeBotAPI]
) -> None:
    line_api, tg = apis
    line_api.latency = 0.4  # every reply and push takes this long
    async with running(tmp_path, line_api, tg) as st:
        user = st.platform.user(ALICE)
        await st.platform.post([user.follow()])
        started = time.monotonic()
        for n in range(10):
            assert (await st.platform.post([user.text(f"/help {n}")])).status_code == 200
        while await st.sql("SELECT count(*) FROM inbox WHERE processed = 0") != [(0,)]:
            await asyncio.sleep(0.01)
        stored = time.monotonic() - started
        answered = len(line_api.calls)
        await st.line.idle()
    # 11 answers chained in one chat take 11 × 0.4 s; storing them all took a fraction of that
    assert stored < 2.0 and answered <= 1 + int(stored / 0.4), (stored, answered)
    assert len(line_api.calls) == 11


# ---- slow and vanishing clients ----------------------------------------------------------------


async def test_clients_that_disconnect_mid_body_leave_no_tracebacks(
    tmp_path: Path, apis: tuple[FakeLineApi, FakeBotAPI], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    line_api, tg = apis
    async with running(tmp_path, line_api, tg) as st:
        for path in (b"/webhooks/line", WEBHOOK_PATH.encode()):
            for _ in range(100):
                _, writer = await st.connect()
                head = HEAD.replace(b"/webhooks/line", path)
                secret = st.tg.webhook["secret_token"].encode()
                writer.write(head + SECRET_HEADER.encode() + b": " + secret + b"\r\nContent-Length: 1000\r\n\r\n{")
                await writer.drain()
                await asyncio.sleep(0.002)  # the handler is reading the body
                writer.transport.abort()
        await asyncio.sleep(0.3)
        assert (await st.post_line(st.platform.body([]))).status_code == 200
    assert noisy(caplog) == []
    summaries = [r.getMessage() for r in caplog.records if r.name == "rabfang.http"]
    assert len(summaries) <= 2, summaries  # told once, and counted, not one line each


async def test_a_body_that_does_not_arrive_in_time_is_a_408(
    tmp_path: Path, apis: tuple[FakeLineApi, FakeBotAPI], caplog: pytest.LogCaptureFixture
) -> None:
    line_api, tg = apis
    async with running(tmp_path, line_api, tg) as st:
        reader, writer = await st.connect()
        writer.write(HEAD + b'x-line-signature: c2ln\r\nContent-Length: 100\r\n\r\n{"events":')
        await writer.drain()
        started = time.monotonic()
        answer = await asyncio.wait_for(reader.read(65536), 5)
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert 0.9 < time.monotonic() - started < 3
        writer.close()
    assert noisy(caplog) == []


async def test_half_open_and_idle_connections_are_closed_and_webhooks_keep_answering(
    tmp_path: Path, apis: tuple[FakeLineApi, FakeBotAPI], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    line_api, tg = apis
    async with running(tmp_path, line_api, tg) as st:
        held = []
        for n in range(200):
            reader, writer = await st.connect()
            if n % 2 == 0:
                writer.write(HEAD + b"X-Slow: 1\r\n")  # half a head, and nothing more
                await writer.drain()
            held.append((reader, writer))  # the odd ones say nothing at all
        started = time.monotonic()
        user = st.platform.user(ALICE)
        r = await st.platform.post([user.follow()])  # the platforms are still served meanwhile
        assert r.status_code == 200
        r = await st.post_telegram(json.dumps(st.tg.message_update(5550031, "/start")).encode())
        assert r.status_code == 200
        closed = await asyncio.gather(*(closed_by_server(reader, 3.0) for reader, _ in held))
        assert all(closed) and time.monotonic() - started < 3.5
        for _, writer in held:
            writer.close()
        assert (await st.platform.post([user.text("ยังอยู่")])).status_code == 200
    assert noisy(caplog) == []
    summaries = [r.getMessage() for r in caplog.records if r.name == "rabfang.http"]
    assert 1 <= len(summaries) <= 2, summaries


async def test_connections_over_the_cap_are_closed_on_arrival(
    tmp_path: Path, apis: tuple[FakeLineApi, FakeBotAPI], caplog: pytest.LogCaptureFixture
) -> None:
    line_api, tg = apis
    async with running(tmp_path, line_api, tg, http_max_connections=20, http_header_timeout=30.0) as st:
        held = [await st.connect() for _ in range(20)]
        await asyncio.sleep(0.1)
        extra = [await st.connect() for _ in range(10)]
        closed = await asyncio.gather(*(closed_by_server(reader, 1.0) for reader, _ in extra))
        assert all(closed)
        still = await asyncio.gather(*(closed_by_server(reader, 0.2) for reader, _ in held))
        assert not any(still)  # those within the cap are left alone
        for _, writer in held + extra:
            writer.close()
        await asyncio.sleep(0.1)
        assert (await st.post_line(st.platform.body([]))).status_code == 200
    assert noisy(caplog) == []


async def test_garbage_and_oversized_heads_are_400s_counted_not_logged_each(
    tmp_path: Path, apis: tuple[FakeLineApi, FakeBotAPI], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    line_api, tg = apis
    async with running(tmp_path, line_api, tg) as st:
        for n in range(100):
            reader, writer = await st.connect()
            writer.write(b"\x16\x03\x01 not http\r\n\r\n" if n % 2 else HEAD + b"X-Big: " + b"a" * 20_000)
            await writer.drain()
            assert (await asyncio.wait_for(reader.read(65536), 3)).startswith(b"HTTP/1.1 400")
            writer.close()
        assert (await st.post_line(st.platform.body([]))).status_code == 200
    assert noisy(caplog) == []
    summaries = [r.getMessage() for r in caplog.records if r.name == "rabfang.http"]
    assert 1 <= len(summaries) <= 2, summaries
