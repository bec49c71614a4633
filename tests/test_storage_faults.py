"""Storage faults: a full disk and a read-only database while participants answer, on both channels.

The app runs as `rabfang run` wires it (both channels behind the HTTP server on 127.0.0.1) in the
test's loop, and the faults are made on its own database connection:

- a full disk: `PRAGMA max_page_count` set to the current page count (free pages vacuumed away
  first), so that anything needing a new page fails with SQLITE_FULL, as on a full disk; the
  answer sent is a long comment, which needs new pages. A second test puts the database on a tiny
  tmpfs and fills it (skipped where mounting is impossible);
- a read-only database: `PRAGMA query_only` (works even as root, unlike file permissions).

For each: the write fails cleanly (participants, answers, progress, events, and the LINE inbox
where nothing was kept, are byte for byte as before; `PRAGMA integrity_check` says ok); the
participant is told to try again later, in their language (Service.try_later); the platform is
made to retry (LINE: 5xx when the inbox insert fails; Telegram webhook: 500; polling: the offset
does not move past the update). After the fault is removed, the retried event is processed once:
one row in `events`, the answer stored, the next question asked. Where the LINE inbox kept the
event but processing failed, the channel retries it by itself (the participant was told it would be
saved without sending it again). However often an event is retried or redelivered, its sender
hears "try later" once.

CI: one fault cycle per scenario (~15 s). RABFANG_LONG=1: ten cycles per scenario.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.handlers.telegram import SECRET_HEADER
from bot.i18n import tr
from bot.surveys import Catalog
from storage import Database
from testbed.line_api import FakeLineApi, LineUser
from testbed.telegram_api import FakeBotAPI, Participant
from tests.reliability import Stack, dump, integrity, running_stack, scale, stack_settings

ROUNDS = scale(1, 10)

pytestmark = pytest.mark.backends  # tests/conftest.py: over SQLite and PostgreSQL
COMMENT = "ความเห็นยาว " * 150  # ~5.4 KB in UTF-8: it needs new pages wherever it is written
KEPT = ("participants", "answers", "progress", "events", "registrations", "deletions")
TG_USER, LINE_USER = 731_904_300, "U" + "5a" * 16


# ---- faults ------------------------------------------------------------------------------------


async def full_disk(db: Database) -> None:
    """Nothing that needs a new page can be written: SQLITE_FULL, as on a full disk. PostgreSQL:
    every write fails with SQLSTATE 53100 (disk_full), as when the server cannot extend a file."""
    if db.backend == "postgresql":
        await pg_admin(db, *REFUSE_WRITES)
        return
    if (await db.fetch_all("PRAGMA freelist_count"))[0][0]:
        await db.fetch_all("VACUUM")
    assert (await db.fetch_all("PRAGMA freelist_count"))[0][0] == 0
    (pages,) = (await db.fetch_all("PRAGMA page_count"))[0]
    assert (await db.fetch_all(f"PRAGMA max_page_count = {pages}"))[0][0] == pages


async def disk_freed(db: Database) -> None:
    if db.backend == "postgresql":
        await pg_admin(db, *(f"DROP TRIGGER full_disk ON {t}" for t in WRITTEN))
        return
    await db.fetch_all("PRAGMA max_page_count = 2147483646")


async def read_only(db: Database) -> None:
    """SQLite: `PRAGMA query_only`. PostgreSQL: the server made read-only for every session
    (ALTER SYSTEM, reloaded), as a database failed over to a standby would be."""
    if db.backend == "postgresql":
        await pg_admin(db, "ALTER SYSTEM SET default_transaction_read_only = on", "SELECT pg_reload_conf()")
        await asyncio.sleep(0.3)  # every backend re-reads the configuration before its next statement
        return
    await db.fetch_all("PRAGMA query_only = ON")


async def writable(db: Database) -> None:
    if db.backend == "postgresql":
        await pg_admin(db, "ALTER SYSTEM RESET default_transaction_read_only", "SELECT pg_reload_conf()")
        await asyncio.sleep(0.3)
        return
    await db.fetch_all("PRAGMA query_only = OFF")


WRITTEN = ("participants", "answers", "progress", "events", "inbox", "registrations", "deliveries", "deletions")
REFUSE_WRITES = (
    "CREATE OR REPLACE FUNCTION full_disk() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = '53100'; END $$",
    *(
        f"CREATE TRIGGER full_disk BEFORE INSERT OR UPDATE ON {t} FOR EACH ROW EXECUTE FUNCTION full_disk()"
        for t in WRITTEN
    ),
)


async def pg_admin(db: Database, *statements: str) -> None:
    """Statements on a connection of the test's own (ALTER SYSTEM cannot run in a transaction)."""
    import psycopg

    assert db.url is not None
    async with await psycopg.AsyncConnection.connect(db.url, autocommit=True) as conn:
        for sql in statements:
            await conn.execute(sql)


FAULTS: dict[str, tuple[Callable[[Database], Awaitable[None]], Callable[[Database], Awaitable[None]]]] = {
    "full-disk": (full_disk, disk_freed),
    "read-only": (read_only, writable),
}


# ---- the participants ------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def stack(tmp_path: Path, *, webhook: bool, db: Path | str | None = None) -> AsyncIterator[Stack]:
    async with FakeBotAPI() as tg, FakeLineApi() as line:
        extra = {"db": db} if db is not None else {}
        settings = stack_settings(tmp_path, tg, line, webhook=webhook, **extra)
        async with running_stack(settings, tg, line, storage_retry=(0.05, 0.2)) as st:
            yield st


def telegram_participant(st: Stack) -> Participant:
    if not st.webhook:
        return Participant(st.tg_api, TG_USER)

    async def post(update: dict[str, Any]) -> int:
        async with httpx.AsyncClient() as client:
            r = await client.post(st.telegram_url, json=update, headers={SECRET_HEADER: st.secret})
        await st.telegram.idle()  # a stored update is processed and answered right after the 200
        return r.status_code

    return Participant(st.tg_api, TG_USER, send=post)


async def line_send(st: Stack, *events: dict[str, Any]) -> int:
    response = await st.platform.post(list(events))
    await st.line.idle()
    return response.status_code


async def to_a_comment(st: Stack, channel: str, catalog: Catalog) -> Any:
    """Onboard a participant (Telegram in English, LINE in Thai); `next_comment` takes them on."""
    profile = catalog.common.profile
    taps = ["consent=yes", f"group={profile.group[0].id}", f"region={profile.region[0].id}", "age=~skip", "area=sme"]
    if channel == "telegram":
        p = telegram_participant(st)
        await p.say("/start")
        for data in ["lang=en", *taps]:
            await p.tap(data)
        who: Any = p
    else:
        user = st.platform.user(LINE_USER)
        assert await line_send(st, user.follow()) == 200
        for data in ["lang=th", *taps]:
            assert await line_send(st, user.postback(data)) == 200
        who = user
    return who


async def next_comment(st: Stack, channel: str, who: Any, catalog: Catalog) -> str:
    """Pick "2" (a 2027 target below the plan's brings the item's "why" question) until the participant is at a
    comment question, opening the next area when one is done; the question's key."""
    ref = str(TG_USER) if channel == "telegram" else LINE_USER
    for _ in range(60):
        state = await st.app.db.load_state(channel, ref)
        if state.step == "menu":
            area = next(a for a in catalog.areas if a not in state.completed)
            if channel == "telegram":
                await who.tap(f"area={area}")
            else:
                assert await line_send(st, who.postback(f"area={area}")) == 200
            continue
        step = catalog.step(state.key or "")
        assert step is not None
        if step.question.kind == "text":
            return step.key
        if channel == "telegram":
            await who.say("2")
        else:
            assert await line_send(st, who.text("2")) == 200
    raise AssertionError("no comment question reached")


def snapshot(st: Stack, *extra: str) -> dict:
    return dump(st.app.settings.db, (*KEPT, *extra))


async def comment_stored_once(st: Stack, channel: str, ref: str, event_id: str, key: str) -> None:
    rows = await st.sql(
        "SELECT a.text FROM answers a JOIN participants p ON p.id = a.participant_id"
        " WHERE p.channel = ? AND p.user_ref = ? AND a.area || '.' || a.item || '.' || a.question = ?",
        channel,
        ref,
        key,
    )
    assert rows == [(COMMENT.strip(),)]
    assert await st.sql("SELECT count(*) FROM events WHERE channel = ? AND event_id = ?", channel, event_id) == [(1,)]
    state = await st.app.db.load_state(channel, ref)
    assert state.key != key  # moved on to the next question
    assert integrity(st.app.settings.db) == "ok"


# ---- Telegram ---------------------------------------------------------------------------------------


async def telegram_webhook_round(st: Stack, p: Participant, catalog: Catalog, break_it: Any, mend_it: Any) -> None:
    api = st.tg_api
    key = await next_comment(st, "telegram", p, catalog)
    update = api.message_update(TG_USER, COMMENT)
    before = snapshot(st)
    await break_it(st.app.db)
    try:
        calls = await p.send(update)
        assert p.last == 500  # Telegram delivers the update again
        assert p.texts(calls) == [tr("en", "try_later")]
        calls = await p.send(update)
        assert p.last == 500 and p.texts(calls) == []  # still failing: told once is enough
        assert snapshot(st) == before  # nothing half-written
        assert integrity(st.app.settings.db) == "ok"
    finally:
        await mend_it(st.app.db)
    calls = await p.send(update)  # Telegram's retry
    assert p.last == 200
    assert p.texts(calls) and tr("en", "try_later") not in p.texts(calls)  # the next question
    await comment_stored_once(st, "telegram", str(TG_USER), str(update["update_id"]), key)
    calls = await p.send(update)  # and once more: absorbed
    assert p.last == 200 and p.texts(calls) == []
    await comment_stored_once(st, "telegram", str(TG_USER), str(update["update_id"]), key)


@pytest.mark.parametrize("fault", FAULTS)
async def test_telegram_webhook_answers_500_says_try_later_and_stores_the_retry_once(
    tmp_path: Path, catalog: Catalog, fault: str, pg_url: str | None
) -> None:
    break_it, mend_it = FAULTS[fault]
    async with stack(tmp_path, webhook=True, db=pg_url) as st:
        p = await to_a_comment(st, "telegram", catalog)
        for _ in range(ROUNDS):
            await telegram_webhook_round(st, p, catalog, break_it, mend_it)


async def telegram_polling_round(st: Stack, p: Participant, catalog: Catalog, break_it: Any, mend_it: Any) -> None:
    api = st.tg_api
    key = await next_comment(st, "telegram", p, catalog)
    before = snapshot(st)
    mark = len(api.calls)
    await break_it(st.app.db)
    try:
        uid = await api.deliver(api.message_update(TG_USER, COMMENT))

        def refetched() -> bool:
            fetched = [c for c in api.calls[mark:] if c.method == "getUpdates" and uid in (c.result or [])]
            return len(fetched) >= 3

        await api.wait_for(refetched)  # it failed, and was fetched again
        assert p.texts(api.calls[mark:]) == [tr("en", "try_later")]  # told once
        assert all((c.params.get("offset") or 0) <= uid for c in api.method_calls("getUpdates"))
        assert snapshot(st) == before
        assert integrity(st.app.settings.db) == "ok"
    finally:
        await mend_it(st.app.db)
    await api.wait_acked(uid)
    await comment_stored_once(st, "telegram", str(TG_USER), str(uid), key)
    after = p.texts(api.calls[mark:])
    assert after[-1] != tr("en", "try_later") and after.count(after[-1]) == 1  # the next question, once


@pytest.mark.parametrize("fault", FAULTS)
async def test_telegram_polling_keeps_the_offset_says_try_later_and_stores_the_retry_once(
    tmp_path: Path, catalog: Catalog, fault: str, pg_url: str | None
) -> None:
    break_it, mend_it = FAULTS[fault]
    async with stack(tmp_path, webhook=False, db=pg_url) as st:
        p = await to_a_comment(st, "telegram", catalog)
        for _ in range(ROUNDS):
            await telegram_polling_round(st, p, catalog, break_it, mend_it)


# ---- LINE ------------------------------------------------------------------------------------------


async def line_inbox_round(st: Stack, user: LineUser, catalog: Catalog, break_it: Any, mend_it: Any) -> None:
    api = st.line_api
    key = await next_comment(st, "line", user, catalog)
    event = user.text(COMMENT)
    redelivery = {**event, "deliveryContext": {"isRedelivery": True}}
    before = snapshot(st, "inbox")
    mark = len(api.calls)
    await break_it(st.app.db)
    try:
        assert 500 <= await line_send(st, event) < 600  # LINE delivers it again
        await api.wait_for(lambda: len(api.calls) > mark)
        assert [m["text"] for c in api.calls[mark:] for m in c.messages] == [tr("th", "try_later")]
        assert 500 <= await line_send(st, redelivery) < 600  # still failing: not told again
        assert snapshot(st, "inbox") == before
        assert integrity(st.app.settings.db) == "ok"
    finally:
        await mend_it(st.app.db)
    told = len(api.calls)
    assert len(api.calls) == mark + 1
    assert await line_send(st, redelivery) == 200
    await comment_stored_once(st, "line", LINE_USER, event["webhookEventId"], key)
    last = user.messages()[-1]
    assert last.get("text", last.get("altText")) != tr("th", "try_later")
    assert await line_send(st, redelivery) == 200  # once more: absorbed
    assert len([c for c in api.calls[told:] if c.delivered]) == 1  # the next question, once
    await comment_stored_once(st, "line", LINE_USER, event["webhookEventId"], key)


@pytest.mark.parametrize("fault", FAULTS)
async def test_line_inbox_failure_answers_5xx_says_try_later_once_and_stores_the_redelivery_once(
    tmp_path: Path, catalog: Catalog, fault: str, pg_url: str | None
) -> None:
    break_it, mend_it = FAULTS[fault]
    async with stack(tmp_path, webhook=True, db=pg_url) as st:
        user: LineUser = await to_a_comment(st, "line", catalog)
        for _ in range(ROUNDS):
            await line_inbox_round(st, user, catalog, break_it, mend_it)


async def line_processing_round(
    st: Stack, user: LineUser, catalog: Catalog, break_it: Any, mend_it: Any, caplog: Any
) -> None:
    api = st.line_api
    key = await next_comment(st, "line", user, catalog)
    # The inbox takes the event (LINE gets its 200) but its chat's worker does not start yet:
    # the fault comes between the durable receipt and the processing.
    inbox = st.line.inbox
    kick, held = inbox._kick, []
    inbox._kick = held.append  # type: ignore[method-assign]
    event = user.text(COMMENT)
    mark = len(api.calls)
    try:
        assert (await st.platform.post([event])).status_code == 200
    finally:
        inbox._kick = kick  # type: ignore[method-assign]
    assert held == [LINE_USER]
    before = snapshot(st)
    await break_it(st.app.db)
    try:
        kick(LINE_USER)
        await api.wait_for(lambda: any(c.body.get("replyToken") == event["replyToken"] for c in api.calls))
        told = [m["text"] for c in api.replies_to(event["replyToken"]) for m in c.messages]
        assert told == [tr("th", "try_later")]

        def attempts() -> int:
            return sum("will come again" in r.getMessage() for r in caplog.records)

        seen = attempts()
        async with asyncio.timeout(10):
            while attempts() < seen + 2:  # the channel retries by itself, twice at least
                await asyncio.sleep(0.02)
        assert [m["text"] for c in api.replies_to(event["replyToken"]) for m in c.messages] == told
        assert snapshot(st) == before
        assert integrity(st.app.settings.db) == "ok"
    finally:
        await mend_it(st.app.db)
    stuck = await st.sql("SELECT processed FROM inbox WHERE event_id = ?", event["webhookEventId"])
    assert stuck in ([(0,)], [(1,)])  # kept to be tried again (or just processed by the retry)

    def pushed() -> bool:
        return any(c.kind == "push" and c.status == 200 for c in api.calls[mark:])

    await api.wait_for(pushed, timeout=10)  # no new event needed: the retry does it
    await st.line.idle()
    await comment_stored_once(st, "line", LINE_USER, event["webhookEventId"], key)
    for_it = [c for c in api.calls[mark:] if c.delivered]
    assert [c.kind for c in for_it] == ["reply", "push"]  # "try later" once, the next question once
    assert [m["text"] for m in for_it[0].messages] == [tr("th", "try_later")]


@pytest.mark.parametrize("fault", FAULTS)
async def test_line_processing_failure_keeps_the_event_says_try_later_once_and_retries_it_alone(
    tmp_path: Path, catalog: Catalog, fault: str, caplog: pytest.LogCaptureFixture, pg_url: str | None
) -> None:
    """The inbox took the event (LINE got its 200), then the disk filled before it was processed."""
    break_it, mend_it = FAULTS[fault]
    caplog.set_level(logging.WARNING, logger="rabfang.inbox")
    async with stack(tmp_path, webhook=True, db=pg_url) as st:
        user: LineUser = await to_a_comment(st, "line", catalog)
        for _ in range(ROUNDS):
            await line_processing_round(st, user, catalog, break_it, mend_it, caplog)


# ---- a real full disk -------------------------------------------------------------------------------


@contextlib.contextmanager
def tiny_tmpfs(where: Path) -> Any:
    """A 2 MB tmpfs at `where`; the test is skipped where mounting is impossible."""
    if shutil.which("mount") is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(where)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def fill(folder: Path) -> Path:
    """Write a file until the file system is full."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 4096)
    return filler


@pytest.mark.sqlite_only  # the database file on a file system that fills up
async def test_a_real_full_disk_on_tmpfs(tmp_path: Path, catalog: Catalog) -> None:
    with tiny_tmpfs(tmp_path / "small") as small:
        async with stack(tmp_path, webhook=True, db=small / "rabfang.db") as st:
            p = await to_a_comment(st, "telegram", catalog)
            key = await next_comment(st, "telegram", p, catalog)
            update = st.tg_api.message_update(TG_USER, COMMENT)
            await st.app.db.checkpoint()  # the WAL starts empty, so the next write must grow it
            before = snapshot(st)
            filler = fill(small)
            try:
                calls = await p.send(update)
                assert p.last == 500
                assert p.texts(calls) == [tr("en", "try_later")]
                assert snapshot(st) == before
            finally:
                filler.unlink()
            assert integrity(st.app.settings.db) == "ok"
            calls = await p.send(update)
            assert p.last == 200 and len(p.texts(calls)) == 1
            await comment_stored_once(st, "telegram", str(TG_USER), str(update["update_id"]), key)
            with contextlib.closing(sqlite3.connect(st.app.settings.db)) as conn:
                assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
