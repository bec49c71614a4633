"""Storage against a real database, over both backends (a SQLite file, a PostgreSQL database):
one transaction per event, dedupe, erasure, migrations; the SQLite-only facts (files, WAL, backup)
are marked so."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from pathlib import Path

import pytest

from bot.config import Settings
from bot.model import Answer, Inbound, Outcome, State, answer_key, key_parts
from bot.service import Service
from bot.surveys import Catalog
from storage import Database, StorageError
from storage.db import migration_files

from .conftest import Clock


async def walk(service: Service, user: str, *inputs: str, channel: str = "telegram", ids: str = "") -> None:
    """Send `inputs` as `user`; event ids are `<user>-<n>`, or `<ids>-<n>` (ids that name no one)."""
    for n, text in enumerate(inputs):
        kind = "button" if "=" in text else "text"
        event = Inbound(kind, text=text if kind == "text" else "", data=text if kind == "button" else "")
        await service.handle(channel, user, event, event_id=f"{ids or user}-{n}")


pytestmark = pytest.mark.backends


def rows(path: Path, sql: str) -> list[tuple]:
    """A SQLite file read by another connection (backups, SQLite-only tests)."""
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


CONSENTED = ("hi", "lang=th", "consent=yes", "group=farmer", "region=north", "age=~skip", "area=agriculture")


async def test_a_repeated_event_id_changes_nothing(service: Service, settings) -> None:  # type: ignore[no-untyped-def]
    await walk(service, "u1", *CONSENTED)
    first = await service.handle("telegram", "u1", Inbound("text", text="4"), event_id="e-42")
    assert first is not None and first.replies
    again = await service.handle("telegram", "u1", Inbound("text", text="2"), event_id="e-42")
    assert again is None
    assert await service.db.fetch_all("SELECT question, value FROM answers") == [("current_level", 4)]
    # the same id on another channel is another event
    await walk(service, "u1", *CONSENTED, channel="line")
    assert await service.handle("line", "u1", Inbound("text", text="3"), event_id="e-42") is not None


async def test_state_survives_reopening_the_database(settings, catalog, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    async with await Database.open(settings.db) as db:
        await walk(Service(db, catalog, settings, clock), "u2", *CONSENTED, "4", "5")
    async with await Database.open(settings.db) as db:
        state = await db.load_state("telegram", "u2")
    assert state.step == "survey" and state.key == "agriculture.farmer_registry.why"  # 4 is not the assessed 2
    assert state.group == "farmer" and state.answers["agriculture.farmer_registry.target_level"].value == 5


async def test_pseudonyms_are_keyed_and_stable(tmp_path: Path, db: Database) -> None:
    p = db.pseudonym("line", "U123")
    assert p == db.pseudonym("line", "U123") != db.pseudonym("telegram", "U123")
    assert "U123" not in p and len(p) == 16 and p.startswith("P")
    other = await Database.open(tmp_path / "other.db")
    try:
        assert other.pseudonym("line", "U123") != p  # a different key per database
    finally:
        await other.close()


async def test_erasure_removes_every_row_and_logs_a_count(service: Service, settings, backend: str) -> None:  # type: ignore[no-untyped-def]
    await walk(service, "u3", *CONSENTED, "4", "5", "ข้อความลับเฉพาะตัว", "2")
    await walk(service, "u4", *CONSENTED, "3")
    await service.handle("telegram", "u3", Inbound("text", text="/deleteme"))
    handled = await service.handle("telegram", "u3", Inbound("button", data="del=yes"))
    assert handled is not None and handled.erased
    assert await service.db.fetch_all("SELECT count(*) FROM participants WHERE user_ref = 'u3'") == [(0,)]
    assert await service.db.fetch_all("SELECT count(*) FROM answers") == [(1,)]  # only u4's
    assert await service.db.fetch_all("SELECT channel, answers FROM deletions") == [("telegram", 4)]
    if backend == "sqlite":  # no old page image in the file or its WAL (PostgreSQL: see docs/operations.md)
        raw = b"".join(p.read_bytes() for p in settings.db.parent.glob("rabfang.db*"))
        assert "ข้อความลับเฉพาะตัว".encode() not in raw


async def test_migrations_are_recorded_once(settings, db: Database) -> None:  # type: ignore[no-untyped-def]
    names = [r[0] for r in await db.fetch_all("SELECT name FROM migrations ORDER BY name")]
    assert names and names[0] == "0001_core.sql"
    again = await Database.open(settings.db)  # a second open migrates nothing
    await again.close()
    assert [r[0] for r in await db.fetch_all("SELECT name FROM migrations ORDER BY name")] == names


@pytest.mark.sqlite_only
async def test_a_write_that_cannot_be_made_fails_cleanly(service: Service, db: Database, settings) -> None:  # type: ignore[no-untyped-def]
    await walk(service, "u5", *CONSENTED)
    await db.fetch_all("PRAGMA query_only=ON")  # as a read-only file would refuse, even to root
    with pytest.raises(StorageError):
        await service.handle("telegram", "u5", Inbound("text", text="4"), event_id="ro-1")
    await db.fetch_all("PRAGMA query_only=OFF")
    assert await service.db.fetch_all("SELECT count(*) FROM answers") == [(0,)]
    assert await service.db.fetch_all("SELECT count(*) FROM events WHERE event_id = 'ro-1'") == [(0,)]
    # the same event, redelivered once the disk is writable again, is handled
    assert await service.handle("telegram", "u5", Inbound("text", text="4"), event_id="ro-1") is not None
    assert await service.db.fetch_all("SELECT count(*) FROM answers") == [(1,)]


async def test_closing_leaves_no_thread_behind(settings) -> None:  # type: ignore[no-untyped-def]
    before = set(threading.enumerate())
    db = await Database.open(settings.db)
    async with db.reader() as conn:
        await conn.execute("SELECT 1")
    await db.close()
    for thread in set(threading.enumerate()) - before:
        thread.join(timeout=5)
        assert not thread.is_alive()


async def test_retention_purge_removes_what_is_older_than_the_cutoff(
    service: Service, db: Database, clock: Clock, settings
) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from storage.retention import purge_before

    await walk(service, "old", *CONSENTED, "4", "5")
    clock.now += timedelta(days=400)
    await walk(service, "new", *CONSENTED, "3")
    counts = await purge_before(db, clock.now - timedelta(days=365))
    assert counts["answers"] == 2 and counts["participants"] == 1
    assert await service.db.fetch_all("SELECT user_ref FROM participants") == [("new",)]
    assert await service.db.fetch_all("SELECT count(*) FROM answers") == [(1,)]


@pytest.mark.sqlite_only
async def test_online_backup_while_writing(service: Service, settings) -> None:  # type: ignore[no-untyped-def]
    from storage.retention import backup

    await walk(service, "b1", *CONSENTED, "4")
    target = settings.db.with_name("backup") / "rabfang-backup.db"
    assert backup(settings.db, target) > 0
    await walk(service, "b2", *CONSENTED, "5")  # the live database goes on
    assert rows(target, "SELECT user_ref FROM participants") == [("b1",)]
    assert rows(target, "PRAGMA integrity_check") == [("ok",)]


async def test_the_writer_lock_serves_urgent_work_first_and_survives_cancellation() -> None:
    import asyncio

    from storage.db import WriterLock

    lock, order = WriterLock(), []
    await lock.acquire()

    async def take(name: str, urgent: bool) -> None:
        await lock.acquire(urgent)
        order.append(name)
        lock.release()

    tasks = [asyncio.create_task(take(n, u)) for n, u in (("a", False), ("b", False), ("webhook", True))]
    doomed = asyncio.create_task(take("cancelled", False))
    await asyncio.sleep(0)
    doomed.cancel()
    lock.release()
    await asyncio.gather(*tasks)
    assert order == ["webhook", "a", "b"] and not lock.locked()


async def test_each_survey_version_is_recorded_once_and_answers_keep_theirs(
    db: Database, catalog: Catalog, clock: Clock
) -> None:
    assert await db.record_survey_version(catalog.version, catalog.canonical, clock())
    assert not await db.record_survey_version(catalog.version, catalog.canonical, clock())
    rows = await db.fetch_all("SELECT version, content FROM survey_versions")
    assert [r[0] for r in rows] == [catalog.version]
    assert json.loads(rows[0][1])["areas"][0]["id"] == next(iter(catalog.areas))
    service = Service(db, catalog, Settings(_env_file=None, db=db.path or db.url, flood_limit=10_000), clock)
    for typed in ("hi", "1", "ยินยอม", "1", "1", "ข้าม", "1", "4"):  # to the first answer of the first area
        await service.handle("console", "v", Inbound("text", text=typed))
    answers = await db.fetch_all("SELECT survey_version FROM answers")
    assert answers == [(catalog.version,)]


@pytest.mark.sqlite_only
async def test_database_files_and_backups_are_private_whatever_the_umask(tmp_path: Path, catalog, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    import os
    import stat

    from bot.config import Settings
    from storage.retention import backup

    def mode(p: Path) -> int:
        return stat.S_IMODE(p.stat().st_mode)

    path = tmp_path / "made" / "by" / "rabfang" / "rabfang.db"
    os.chmod(tmp_path, 0o755)
    old = os.umask(0)
    try:
        settings = Settings(_env_file=None, db=path, flood_limit=10_000)
        async with await Database.open(path) as db:
            await walk(Service(db, catalog, settings, clock), "p1", *CONSENTED, "4")
            files = {p.name: mode(p) for p in path.parent.glob("rabfang.db*")}
            assert set(files) == {"rabfang.db", "rabfang.db-wal", "rabfang.db-shm"}, files
            assert set(files.values()) == {0o600}, files
            target = tmp_path / "backups" / "nightly" / "b.db"
            backup(path, target)
        assert mode(target) == 0o600
        for folder in (path.parent, path.parent.parent, tmp_path / "made", target.parent, tmp_path / "backups"):
            assert mode(folder) == 0o700, folder
        assert mode(tmp_path) == 0o755  # a folder rabfang did not make is left as it was
        # a database left world-readable by an older version is tightened when opened
        os.chmod(path, 0o644)
        async with await Database.open(path):
            assert mode(path) == 0o600
    finally:
        os.umask(old)


def test_answer_keys_carry_round_and_source() -> None:
    assert answer_key("education.e1.current_level") == "education.e1.current_level"
    for round, source in ((1, "chat"), (2, "chat"), (1, "live"), (2, "live")):
        key = answer_key("education.e1.current_level", round, source)
        assert key_parts(key) == ("education.e1.current_level", round, source)
    with pytest.raises(ValueError):
        key_parts("education.e1.current_level@bogus")
    with pytest.raises(ValueError):
        answer_key("education.e1.current_level", 0)


async def test_the_same_question_answered_in_chat_in_round_two_and_live_keeps_three_answers(
    db: Database, catalog: Catalog, clock: Clock
) -> None:
    service = Service(db, catalog, Settings(_env_file=None, db=db.path or db.url, flood_limit=10_000), clock)
    for typed in ("hi", "1", "ยินยอม", "1", "1", "ข้าม", "1", "4"):  # to the first answer of the first area
        await service.handle("console", "v", Inbound("text", text=typed))
    ((session_id,),) = await db.fetch_all(
        "INSERT INTO sessions (area, title_th, title_en, starts_at, created_at, updated_at)"
        " VALUES ('education', 'ก', 'a', '2026-12-01T00:00:00+00:00', '', '') RETURNING id"
    )
    (key,) = (await db.load_state("console", "v")).answers

    def add(state: State) -> Outcome:
        answers = dict(state.answers)
        answers[answer_key(key, 2)] = Answer(option="3", value=3, at=clock())
        answers[answer_key(key, 1, "live")] = Answer(option="2", value=2, at=clock(), session=session_id)
        return Outcome(state=state.model_copy(update={"answers": answers}))

    await db.handle_event("console", "v", None, add, clock())
    rows = await db.fetch_all("SELECT round, source, value, session_id FROM answers ORDER BY round, source")
    assert rows == [(1, "chat", rows[0][2], None), (1, "live", 2, session_id), (2, "chat", 3, None)]
    reloaded = (await db.load_state("console", "v")).answers
    assert reloaded[answer_key(key, 1, "live")].session == session_id
    assert set(reloaded) == {key, answer_key(key, 2), answer_key(key, 1, "live")}


async def test_answers_stored_before_rounds_keep_their_values_through_the_migration(settings, backend: str) -> None:  # type: ignore[no-untyped-def]
    """A database at migration 0007 with an answer in it: migration 0008 rebuilds the table (a new
    primary key) on either backend, and the answer is round 1 of the chat survey afterwards."""
    from storage.db import database_target, migration_files
    from storage.postgres import PostgresBackend
    from storage.sqlite import SqliteBackend

    where = database_target(settings.db)
    old = SqliteBackend(where) if backend == "sqlite" else PostgresBackend(where)
    await old.connect()
    files = migration_files()
    await old.migrate([f for f in files if f[0] < "0008"])

    async def stored_before(conn) -> None:  # type: ignore[no-untyped-def]
        await conn.execute(
            "INSERT INTO participants (id, channel, user_ref, pseudonym, created_at, updated_at)"
            " VALUES (7, 'line', 'U7', 'P7', '2026-11-01', '2026-11-01')"
        )
        await conn.execute(
            "INSERT INTO answers (participant_id, area, item, question, option, value, lang, answered_at, ref)"
            " VALUES (7, 'health', 'h1', 'current_level', '3', 3, 'th', '2026-11-01T00:00:00+00:00', 'm-7')"
        )

    await old.run(stored_before)
    await old.close()
    async with await Database.open(settings.db) as db:
        names = [r[0] for r in await db.fetch_all("SELECT name FROM migrations ORDER BY name")]
        assert names == [f[0] for f in files]
        rows = await db.fetch_all("SELECT participant_id, question, round, source, value, ref, session_id FROM answers")
        assert rows == [(7, "current_level", 1, "chat", 3, "m-7", None)]
        state = await db.load_state("line", "U7")
        assert state.answers["health.h1.current_level"].value == 3


async def test_workers_opening_a_new_database_at_once_migrate_it_once(settings, backend: str) -> None:  # type: ignore[no-untyped-def]
    """Several `rabfang run` started together on an empty database: one applies the migrations,
    the others wait for it and find them done (on PostgreSQL, CREATE TABLE IF NOT EXISTS alone
    races: a duplicate key in pg_type)."""
    if backend == "sqlite":
        pytest.skip("one process owns a SQLite file (a second `rabfang run` is refused)")
    opened = await asyncio.gather(*(Database.open(settings.db) for _ in range(4)))
    try:
        names = [r[0] for r in await opened[0].fetch_all("SELECT name FROM migrations ORDER BY name")]
        assert names == [name for name, _ in migration_files()]
    finally:
        for db in opened:
            await db.close()
