"""Shared pieces of the reliability suites (test_crash, test_replay, test_fuzz, test_storage_faults,
test_no_secrets_in_logs): the long-run switch, `rabfang run` with both channels, the app with both
channels behind its HTTP server in the test's own loop, a model of what a participant did, and the
figures a suite prints.

RABFANG_LONG=1 selects each suite's larger setting; without it every suite is sized for CI.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.app import App, open_app
from bot.config import Settings
from bot.handlers.line import LineChannel
from bot.handlers.telegram import WEBHOOK_PATH, Pacer, TelegramChannel
from bot.runner import http_app
from testbed.line_api import CHANNEL_SECRET, FakeLineApi, LinePlatform, QuietServer, serve
from testbed.participants import CURSOR_FIELDS
from testbed.telegram_api import TOKEN, FakeBotAPI
from tests.test_line_e2e import wait_healthy
from tests.test_telegram_e2e import environment, launch

LONG = os.environ.get("RABFANG_LONG", "").strip() not in ("", "0")
WEBHOOK_URL = "https://rabfang.example.org" + WEBHOOK_PATH  # what setWebhook is told; tests post locally


def scale(ci: int, long: int) -> int:
    """A suite's size: `ci` by default, `long` with RABFANG_LONG=1."""
    return long if LONG else ci


def report(request: pytest.FixtureRequest, title: str, figures: dict[str, object]) -> str:
    """Print a suite's figures on the terminal (captured output is only shown on failure)."""
    line = f"{title}: " + ", ".join(f"{k} {v}" for k, v in figures.items())
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("")
        reporter.write_line(line)
    print(line)
    return line


# ---- `rabfang run` with both channels --------------------------------------------------------


def both_environment(tg: FakeBotAPI, line: FakeLineApi, db: Path, **extra: str) -> dict[str, str]:
    """The environment of `rabfang run` with Telegram (polling, unless extra says otherwise) and LINE."""
    env = environment(tg, db)
    env.update(
        LINE_CHANNEL_SECRET=CHANNEL_SECRET,
        LINE_CHANNEL_ACCESS_TOKEN=line.token,
        LINE_API_BASE_URL=line.url,
        RABFANG_HTTP_HOST="127.0.0.1",
        RABFANG_FLOOD_LIMIT="1000000",  # simulated people answer faster than real ones
        NO_PROXY="127.0.0.1,localhost",
    )
    env.update(extra)
    return env


def base_url(env: dict[str, str]) -> str:
    return f"http://127.0.0.1:{env['RABFANG_HTTP_PORT']}"


async def start_run(tg: FakeBotAPI, env: dict[str, str], cwd: Path, log: Any) -> asyncio.subprocess.Process:
    """Start `rabfang run` and wait until it polls Telegram and its HTTP server answers."""
    proc = await launch(tg, env, cwd, log)
    try:
        await wait_healthy(base_url(env), proc)
    except BaseException:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    return proc


# ---- both channels in this event loop ----------------------------------------------------------


def fast_pacer() -> Pacer:
    return Pacer(rate=1000, chat_rate=1000, chat_burst=10)


@dataclass
class Stack:
    """The app, both channels and the HTTP server, wired as `rabfang run` wires them, in the test's loop."""

    app: App
    telegram: TelegramChannel
    line: LineChannel
    tg_api: FakeBotAPI
    line_api: FakeLineApi
    base: str
    platform: LinePlatform
    webhook: bool
    server: QuietServer | None = None
    task: asyncio.Task[None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def telegram_url(self) -> str:
        return self.base + WEBHOOK_PATH

    @property
    def secret(self) -> str:
        return self.tg_api.webhook["secret_token"]

    async def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        return await self.app.db.fetch_all(query, params)


def stack_settings(tmp_path: Path, tg: FakeBotAPI, line: FakeLineApi, *, webhook: bool, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "db": tmp_path / "rabfang.db",
        "telegram_bot_token": TOKEN,
        "telegram_api_base_url": tg.base_url,
        "telegram_webhook_url": WEBHOOK_URL if webhook else None,
        "line_channel_secret": CHANNEL_SECRET,
        "line_channel_access_token": line.token,
        "line_api_base_url": line.url,
        "flood_limit": 1_000_000,
    }
    values.update(extra)
    return Settings(_env_file=None, **values)


def telegram_channel(app: App) -> TelegramChannel:
    return TelegramChannel(app, pacer=fast_pacer(), retry_delay=0.05, max_retry_delay=0.2)


@contextlib.asynccontextmanager
async def running_stack(
    settings: Settings, tg: FakeBotAPI, line: FakeLineApi, **line_options: Any
) -> AsyncIterator[Stack]:
    """Both channels started, the HTTP server listening on 127.0.0.1; all stopped on the way out."""
    async with open_app(settings) as app, contextlib.AsyncExitStack() as stack:
        telegram = telegram_channel(app)
        await telegram.start()
        channel = LineChannel(app, **{"retry_delays": (0.01, 0.02, 0.04), **line_options})
        try:
            await channel.start()
        except BaseException:
            await telegram.stop()
            raise
        server, task, port = await serve(http_app([telegram, channel]))
        base = f"http://127.0.0.1:{port}"
        platform = LinePlatform(line, f"{base}/webhooks/line")
        webhook = bool(settings.telegram_webhook_url)
        st = Stack(app, telegram, channel, tg, line, base, platform, webhook, server, task)

        async def stop() -> None:
            server.should_exit = True
            await task
            await platform.aclose()
            await st.line.stop()
            await st.telegram.stop()  # the one running now: a test may have restarted it

        stack.push_async_callback(stop)
        yield st


async def restart_telegram(st: Stack) -> None:
    """A new Telegram channel in place of the old (polling mode): its offset starts afresh, as after a
    restart, so Telegram offers again whatever it holds."""
    await st.telegram.stop()
    st.telegram = telegram_channel(st.app)
    await st.telegram.start()


# ---- the database as the tests read it ---------------------------------------------------------


def integrity(db: Path | str) -> str:
    """`PRAGMA integrity_check` on the file, from a connection of our own. PostgreSQL keeps its own
    files whole (WAL and crash recovery are the server's): there, that a new connection reads."""
    with connect(db) as conn:
        if isinstance(db, Path):
            return "; ".join(str(r[0]) for r in conn.execute("PRAGMA integrity_check"))
        conn.execute("SELECT count(*) FROM participants").fetchone()
        return "ok"


class _Postgres:
    """A psycopg connection that takes the tests' SQLite-style SQL (`?`), as storage's own does."""

    def __init__(self, conn: Any):
        self.conn = conn

    def execute(self, sql: str, params: Any = ()) -> Any:
        from storage.dialect import POSTGRES

        return self.conn.execute(POSTGRES.sql(sql) if params else sql, params or None)


@contextlib.contextmanager
def connect(db: Path | str) -> Iterator[Any]:
    """A connection of the test's own to the database the app uses: a SQLite file (a Path) or a
    PostgreSQL URL; `.execute(sql, params)` with `?` placeholders on both."""
    if isinstance(db, Path):
        with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
            yield conn
        return
    import psycopg

    with psycopg.connect(db, autocommit=True) as conn:
        yield _Postgres(conn)


def columns(conn: Any, db: Path | str, table: str) -> list[str]:
    if isinstance(db, Path):
        return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
    return [
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = ?"
            " ORDER BY ordinal_position",
            (table,),
        )
    ]


def dump(db: Path | str, tables: tuple[str, ...] = ("participants", "answers"), skip: tuple[str, ...] = ()) -> dict:
    """The rows of `tables`, in a stable order, leaving out the columns named in `skip`."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with connect(db) as conn:
        for table in tables:
            cols = [c for c in columns(conn, db, table) if c not in skip]
            rows = conn.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall()
            out[table] = sorted((tuple(r) for r in rows), key=repr)
    return out


# ---- a model of a participant ---------------------------------------------------------------------


def stored_state(conn: sqlite3.Connection, channel: str, user_ref: str) -> dict[str, Any] | None:
    """What the database holds about one participant, in the shape `expected_state` gives."""
    row = conn.execute(
        "SELECT id, lang, consent, stakeholder, region, age_band, cursor FROM participants"
        " WHERE channel = ? AND user_ref = ?",
        (channel, user_ref),
    ).fetchone()
    if row is None:
        return None
    pid, lang, consent, group, region, age, cursor = row
    answers = {
        f"{a}.{i}.{q}": (o, v, t, s)
        for a, i, q, o, v, t, s in conn.execute(
            "SELECT area, item, question, option, value, text, skipped FROM answers WHERE participant_id = ?", (pid,)
        )
    }
    progress = conn.execute("SELECT area, completed_at IS NOT NULL FROM progress WHERE participant_id = ?", (pid,))
    started, completed = set(), set()
    for area, done in progress:
        started.add(area)
        if done:
            completed.add(area)
    loaded = json.loads(cursor)
    return {
        "profile": (lang, consent, group, region, age),
        "cursor": {k: loaded.get(k) for k in CURSOR_FIELDS},
        "answers": answers,
        "started": started,
        "completed": completed,
    }
