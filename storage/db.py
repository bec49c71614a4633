"""The database: the only module with SQL.

One writer connection behind an asyncio lock; every unit of work is one `BEGIN IMMEDIATE`
transaction. Migrations are numbered SQL files in `storage/migrations/`, recorded in a table.
Readers (exports) get their own connection, so a long export never blocks a participant.

The files are private to the account that runs rabfang: the database, its -wal and -shm are
0600 and a folder made for them 0700, whatever the umask. After an erasure the WAL is checkpointed
and truncated without waiting for readers (a reader may still need the old page images); while one
does, a background task retries until the old images are gone from every file.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import secrets
import sqlite3
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

from bot.model import Answer, Outcome, SessionView, State, answer_key, key_parts

from .base import PRIVATE_FILE, database_files, iso, parse_time, private_dir, private_file
from .retention import erasures

log = logging.getLogger("rabfang.storage")

BUSY_TIMEOUT_MS = 10_000
PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
    "PRAGMA foreign_keys=ON",
    "PRAGMA secure_delete=ON",  # an erased participant's bytes are overwritten, not left in free pages
)


class StorageError(Exception):
    """A write could not be made durable (disk full, read-only file, corruption).

    Nothing of the unit of work was kept; the caller tells the participant to try again and
    the webhook answers with a status that makes the platform redeliver."""


def split_key(key: str) -> tuple[str, str, str, int, str]:
    """The answers table's key columns (area, item, question, round, source) of a State.answers key."""
    question_key, round, source = key_parts(key)
    area, item, question = question_key.split(".", 2)
    return area, item, question, round, source


class WriterLock:
    """The one writer's lock: first come, first served, except that urgent work goes first.

    Urgent work is what a platform is waiting on (a webhook that must store its events before it
    answers 200); the processing queued behind it can wait a moment longer."""

    def __init__(self) -> None:
        self._held = False
        self._waiting: tuple[deque[asyncio.Future[None]], deque[asyncio.Future[None]]] = (deque(), deque())

    def locked(self) -> bool:
        return self._held

    async def acquire(self, urgent: bool = False) -> None:
        if not self._held and not any(self._waiting):
            self._held = True
            return
        turn = asyncio.get_running_loop().create_future()
        queue = self._waiting[0 if urgent else 1]
        queue.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.release()  # it was handed to us as we were cancelled: hand it on
            else:
                queue.remove(turn)
            raise

    def release(self) -> None:
        """Hand the lock to the next waiter (urgent ones first), or free it."""
        for queue in self._waiting:
            while queue:
                turn = queue.popleft()
                if not turn.done():
                    turn.set_result(None)
                    return
        self._held = False

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self.release()


class Database:
    """An open rabfang database. Use `async with await Database.open(path) as db:`."""

    def __init__(self, path: Path, conn: aiosqlite.Connection, pseudonym_key: bytes):
        self.path = path
        self._conn = conn
        self._lock = WriterLock()
        self._key = pseudonym_key
        self._scrubber: asyncio.Task[None] | None = None  # retries the checkpoint a reader held up
        self._closed = False

    # ---- lifecycle ---------------------------------------------------------------------------

    @classmethod
    async def open(cls, path: str | Path, pseudonym_key: str | None = None) -> Database:
        path = Path(path)
        conn = await _connect(path)
        try:
            await _migrate(conn)
            key = pseudonym_key or await _stored_key(conn)
        except BaseException:
            await conn.close()
            raise
        return cls(path, conn, key.encode())

    async def close(self) -> None:
        """Close the database (once: a second call does nothing)."""
        if self._closed:
            return
        self._closed = True
        if self._scrubber is not None:
            self._scrubber.cancel()
            with suppress(asyncio.CancelledError):
                await self._scrubber
        async with self._lock:
            with suppress(sqlite3.Error):
                await self._truncate()  # SQLite checkpoints on close too, but only when it can wait
            await self._conn.close()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- units of work -----------------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self, urgent: bool = False) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction; rolled back on any error, which surfaces as StorageError.
        `urgent` goes ahead of work already waiting (see WriterLock)."""
        await self._lock.acquire(urgent)
        try:
            try:
                await self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StorageError(str(exc)) from exc
            try:
                yield self._conn
                await self._conn.commit()
            except BaseException as exc:
                with suppress(sqlite3.Error):
                    await self._conn.rollback()
                if isinstance(exc, sqlite3.Error):
                    raise StorageError(str(exc)) from exc
                raise
        finally:
            self._lock.release()

    def pseudonym(self, channel: str, user_ref: str) -> str:
        """The stable, keyed pseudonym exports show instead of the platform id. It starts with a
        letter so that Excel never reads it as a number (`12e45…`)."""
        return "P" + hmac.new(self._key, f"{channel}:{user_ref}".encode(), hashlib.sha256).hexdigest()[:15]

    async def handle_event(
        self,
        channel: str,
        user_ref: str,
        event_id: str | None,
        decide: Callable[[State], Outcome],
        now: datetime,
        *,
        inbox_seq: int | None = None,
        survey_version: str | None = None,
    ) -> Outcome | None:
        """The unit of work of one event, all or nothing: claim its id, load the participant, apply
        `decide` (a pure function of their state: the engine's decision, no I/O), store the result,
        and mark the inbox row it came from (`inbox_seq`) processed. One write transaction. Answers
        given now keep `survey_version`, the surveys they were given under.

        Returns None when the event id was seen before (a redelivery changes nothing)."""
        async with self.transaction() as db:
            if event_id is not None and not await _claim(db, channel, event_id, now):
                await _mark_processed(db, channel, inbox_seq, now)
                return None
            pid, state = await _load(db, channel, user_ref, now)
            outcome = decide(state)
            if outcome.erase:
                await _erase(db, pid, channel, user_ref, inbox_seq, now)
            else:
                if pid is not None or outcome.state != state:
                    await _save(
                        db,
                        pid,
                        (channel, user_ref, self.pseudonym(channel, user_ref)),
                        state,
                        outcome.state,
                        now,
                        survey_version,
                    )
                # else: someone we never heard from, whose event changed nothing (a forged tap, a
                # sticker): there is nothing about them worth keeping, not even their platform id
                await _mark_processed(db, channel, inbox_seq, now)
        if outcome.erase:
            await self.checkpoint()  # old page images in the WAL would still hold the erased rows
        return outcome

    async def checkpoint(self) -> bool:
        """Copy the WAL into the database file and truncate it, so that no old page image (an
        erased participant's rows, with secure_delete zeroed in the newer images) stays on disk.

        Never waits for a reader: an open export or download may still need the old images, and
        waiting for it would hold every participant's write. Returns whether the WAL is now empty;
        if not, a background task tries again, briefly taking the writer's turn each time, until
        the readers have let go."""
        async with self._lock:
            done = await self._truncate()
        if not done:
            self._scrub_later()
        return done

    async def _truncate(self) -> bool:
        """One TRUNCATE checkpoint that gives up at once when a reader or writer is in the way
        (it still copies what no reader needs). Call with the writer's lock held."""
        await self._conn.execute("PRAGMA busy_timeout=0")
        try:
            cur = await self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            row = await cur.fetchone()
        except sqlite3.Error:
            return False
        finally:
            await self._conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        return row is not None and row[0] == 0

    def _scrub_later(self) -> None:
        if self._scrubber is None or self._scrubber.done():
            self._scrubber = asyncio.get_running_loop().create_task(self._scrub())

    async def _scrub(self, first: float = 0.05, longest: float = 1.0) -> None:
        wait, tries = first, 0
        while True:
            await asyncio.sleep(wait)
            tries += 1
            try:
                async with self._lock:
                    if await self._truncate():
                        log.info("the WAL is truncated: no old page image left (after %d tries)", tries)
                        return
            except (sqlite3.Error, ValueError):  # closed underneath us: close() checkpoints
                return
            wait = min(wait * 2, longest)

    async def claim_event(
        self, channel: str, event_id: str | None, now: datetime, *, inbox_seq: int | None = None
    ) -> bool:
        """Record an event id (and mark its inbox row processed) on its own; False when it was
        already there. For events whose effects are not a participant's state (admin commands)."""
        async with self.transaction() as db:
            claimed = event_id is None or await _claim(db, channel, event_id, now)
            await _mark_processed(db, channel, inbox_seq, now)
            return claimed

    async def set_active(
        self,
        channel: str,
        user_ref: str,
        active: bool,
        now: datetime,
        *,
        event_id: str | None = None,
        inbox_seq: int | None = None,
    ) -> bool:
        """Mark a participant as following the bot or not (unfollow, block, unblock), claiming the
        event that said so; False when that event was handled before."""
        async with self.transaction() as db:
            if event_id is not None and not await _claim(db, channel, event_id, now):
                claimed = False
            else:
                claimed = True
                await db.execute(
                    "UPDATE participants SET active = ?, updated_at = ? WHERE channel = ? AND user_ref = ?",
                    (int(active), iso(now), channel, user_ref),
                )
            await _mark_processed(db, channel, inbox_seq, now)
            return claimed

    async def load_state(self, channel: str, user_ref: str, now: datetime | None = None) -> State:
        async with self._lock:
            return (await _load(self._conn, channel, user_ref, now or datetime.now(UTC)))[1]

    async def record_survey_version(self, version: str, content: str, now: datetime) -> bool:
        """Keep the surveys in use by their version, once; True when this version is new."""
        async with self.transaction() as db:
            cur = await db.execute(
                "INSERT INTO survey_versions (version, first_loaded_at, content) VALUES (?, ?, ?)"
                " ON CONFLICT (version) DO NOTHING",
                (version, iso(now), content),
            )
            return cur.rowcount == 1

    async def is_active(self, channel: str, user_ref: str) -> bool | None:
        """Whether a participant still follows the bot; None when there is no such participant."""
        async with self._lock:
            cur = await self._conn.execute(
                "SELECT active FROM participants WHERE channel = ? AND user_ref = ?", (channel, user_ref)
            )
            row = await cur.fetchone()
        return bool(row[0]) if row else None

    async def meta(self, key: str) -> str | None:
        async with self._lock:
            cur = await self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,))
            row = await cur.fetchone()
        return row[0] if row else None

    # ---- reading for exports -----------------------------------------------------------------

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[aiosqlite.Connection]:
        """A separate read-only connection: a consistent snapshot that never blocks writers."""
        conn = await aiosqlite.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
        try:
            await conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            await conn.execute("BEGIN")
            yield conn
        finally:
            await conn.close()

    async def fetch_all(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        async with self._lock:
            cur = await self._conn.execute(sql, params)
            return list(await cur.fetchall())


async def _connect(path: Path) -> aiosqlite.Connection:
    private_dir(path.parent)
    # SQLite gives -wal and -shm the database file's own mode, so a private database file
    # makes private companions; files left by an older version are tightened here
    private_file(path)
    for companion in database_files(path)[1:]:
        with suppress(FileNotFoundError):
            os.chmod(companion, PRIVATE_FILE)
    conn = await aiosqlite.connect(path, isolation_level=None)
    try:
        for pragma in PRAGMAS:
            await conn.execute(pragma)
    except BaseException:
        await conn.close()
        raise
    return conn


def migration_files() -> list[tuple[str, str]]:
    folder = resources.files("storage") / "migrations"
    files = sorted((f.name, f.read_text(encoding="utf-8")) for f in folder.iterdir() if f.name.endswith(".sql"))
    return files


async def _migrate(conn: aiosqlite.Connection) -> None:
    """Apply each migration not yet recorded, each in its own transaction."""
    await conn.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    cur = await conn.execute("SELECT name FROM migrations")
    done = {row[0] for row in await cur.fetchall()}
    for name, sql in migration_files():
        if name in done:
            continue
        now = iso(datetime.now(UTC))
        script = (
            f"BEGIN IMMEDIATE;\n{sql}\n;INSERT INTO migrations (name, applied_at) VALUES ('{name}', '{now}');\nCOMMIT;"
        )
        try:
            await conn.executescript(script)
        except sqlite3.Error:
            if conn.in_transaction:
                await conn.rollback()
            raise


async def _stored_key(conn: aiosqlite.Connection) -> str:
    """The pseudonym key: generated once, kept in the database's meta table, never exported."""
    cur = await conn.execute("SELECT value FROM meta WHERE key = 'pseudonym_key'")
    row = await cur.fetchone()
    if row:
        return row[0]
    key = secrets.token_hex(32)
    await conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('pseudonym_key', ?)", (key,))
    cur = await conn.execute("SELECT value FROM meta WHERE key = 'pseudonym_key'")
    return (await cur.fetchone())[0]


async def _mark_processed(db: aiosqlite.Connection, channel: str, seq: int | None, now: datetime) -> None:
    """Done with an inbox row: keep its event id for dedupe, drop what it said and how to answer it."""
    if seq is not None:
        await db.execute(
            "UPDATE inbox SET processed = 1, processed_at = ?, body = NULL, context = NULL WHERE channel = ? AND seq = ?",
            (iso(now), channel, seq),
        )


async def _claim(db: aiosqlite.Connection, channel: str, event_id: str, now: datetime) -> bool:
    cur = await db.execute(
        "INSERT INTO events (channel, event_id, received_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        (channel, event_id, iso(now)),
    )
    return cur.rowcount == 1


_PARTICIPANT_COLUMNS = "id, lang, consent, consent_at, consent_version, stakeholder, region, age_band, cursor"


async def _load(db: aiosqlite.Connection, channel: str, user_ref: str, now: datetime) -> tuple[int | None, State]:
    cur = await db.execute(
        f"SELECT {_PARTICIPANT_COLUMNS} FROM participants WHERE channel = ? AND user_ref = ?", (channel, user_ref)
    )
    row = await cur.fetchone()
    offers = await _offers(db, now)
    if row is None:
        return None, State(offers=offers)
    pid, lang, consent, consent_at, version, group, region, age, cursor = row
    answers = {}
    cur = await db.execute(
        "SELECT area, item, question, round, source, option, value, text, skipped, lang, answered_at, ref,"
        " session_id FROM answers WHERE participant_id = ?",
        (pid,),
    )
    rows = await cur.fetchall()
    for area, item, question, round, source, option, value, text, skipped, alang, at, ref, session in rows:
        answers[answer_key(f"{area}.{item}.{question}", round, source)] = Answer(
            option=option,
            value=value,
            text=text,
            skipped=bool(skipped),
            lang=alang,
            at=datetime.fromisoformat(at),
            ref=ref,
            session=session,
        )
    started, completed = {}, {}
    cur = await db.execute("SELECT area, started_at, completed_at FROM progress WHERE participant_id = ?", (pid,))
    for area, started_at, completed_at in await cur.fetchall():
        started[area] = datetime.fromisoformat(started_at)
        if completed_at:
            completed[area] = datetime.fromisoformat(completed_at)
    cur = await db.execute("SELECT session_id, registered_at FROM registrations WHERE participant_id = ?", (pid,))
    registrations = {sid: datetime.fromisoformat(at) for sid, at in await cur.fetchall()}
    state = State(
        registrations=registrations,
        lang=lang,
        consent=consent,
        consent_at=parse_time(consent_at),
        consent_version=version,
        group=group,
        region=region,
        age=age,
        answers=answers,
        started=started,
        completed=completed,
        offers=offers,
        **json.loads(cursor),
    )
    return pid, state


SESSION_COLUMNS = (
    "s.id, s.area, s.title_th, s.title_en, s.starts_at, s.ends_at, s.place, s.capacity,"
    " (SELECT count(*) FROM registrations r WHERE r.session_id = s.id), s.status"
)


def session_view(row: tuple) -> SessionView:
    sid, area, th, en, starts, ends, place, capacity, taken, status = row
    return SessionView(
        id=sid,
        area=area,
        title_th=th,
        title_en=en,
        starts_at=datetime.fromisoformat(starts),
        ends_at=parse_time(ends),
        place=place,
        capacity=capacity,
        taken=taken,
        status=status,
    )


async def _offers(db: aiosqlite.Connection, now: datetime) -> tuple[SessionView, ...]:
    """Sessions not yet started, for the engine to offer (read inside the event's transaction,
    so a capacity check and the registration it allows are one atomic step)."""
    cur = await db.execute(
        f"SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.status = 'scheduled' AND s.starts_at > ?"
        " ORDER BY s.starts_at, s.id LIMIT 50",
        (iso(now),),
    )
    return tuple(session_view(row) for row in await cur.fetchall())


_CURSOR_FIELDS = {"step", "area", "key", "resume", "pending_area"}


async def _save(
    db: aiosqlite.Connection,
    pid: int | None,
    who: tuple[str, str, str],
    old: State,
    new: State,
    now: datetime,
    survey_version: str | None,
) -> None:
    """Write what changed between `old` and `new`: the participant row, answers, progress.
    `who` is (channel, user_ref, pseudonym)."""
    channel, user_ref, pseudonym = who
    cursor = json.dumps(new.model_dump(mode="json", include=_CURSOR_FIELDS), ensure_ascii=False)
    values = (
        new.lang,
        new.consent,
        iso(new.consent_at) if new.consent_at else None,
        new.consent_version,
        new.group,
        new.region,
        new.age,
        cursor,
        iso(now),
    )
    if pid is None:
        cur = await db.execute(
            "INSERT INTO participants (lang, consent, consent_at, consent_version, stakeholder, region, age_band,"
            " cursor, updated_at, channel, user_ref, pseudonym, created_at, active)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
            (*values, channel, user_ref, pseudonym, iso(now)),
        )
        pid = cur.lastrowid
    else:
        await db.execute(
            "UPDATE participants SET lang = ?, consent = ?, consent_at = ?, consent_version = ?, stakeholder = ?,"
            " region = ?, age_band = ?, cursor = ?, updated_at = ?, active = 1 WHERE id = ?",
            (*values, pid),
        )
    changed = [(k, a) for k, a in new.answers.items() if old.answers.get(k) != a]
    if changed:
        await db.executemany(
            "INSERT INTO answers (participant_id, area, item, question, round, source, option, value, text,"
            " skipped, lang, answered_at, survey_version, ref, session_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (participant_id, area, item, question, round, source) DO UPDATE SET"
            " option = excluded.option, value = excluded.value, text = excluded.text, skipped = excluded.skipped,"
            " lang = excluded.lang, answered_at = excluded.answered_at, survey_version = excluded.survey_version,"
            " ref = excluded.ref, session_id = excluded.session_id",
            [
                (
                    pid,
                    *split_key(k),
                    a.option,
                    a.value,
                    a.text,
                    int(a.skipped),
                    a.lang,
                    iso(a.at),
                    survey_version,
                    a.ref,
                    a.session,
                )
                for k, a in changed
            ],
        )
    gone = [k for k in old.answers if k not in new.answers]
    if gone:
        await db.executemany(
            "DELETE FROM answers WHERE participant_id = ? AND area = ? AND item = ? AND question = ?"
            " AND round = ? AND source = ?",
            [(pid, *split_key(k)) for k in gone],
        )
    added = [(sid, at) for sid, at in new.registrations.items() if sid not in old.registrations]
    if added:
        await db.executemany(
            "INSERT INTO registrations (session_id, participant_id, registered_at) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            [(sid, pid, iso(at)) for sid, at in added],
        )
    removed = [sid for sid in old.registrations if sid not in new.registrations]
    if removed:
        await db.executemany(
            "DELETE FROM registrations WHERE session_id = ? AND participant_id = ?", [(sid, pid) for sid in removed]
        )
    for area in set(new.started) | set(old.started):
        before = (old.started.get(area), old.completed.get(area))
        after = (new.started.get(area), new.completed.get(area))
        if before == after:
            continue
        if after[0] is None:
            await db.execute("DELETE FROM progress WHERE participant_id = ? AND area = ?", (pid, area))
            continue
        await db.execute(
            "INSERT INTO progress (participant_id, area, started_at, completed_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (participant_id, area) DO UPDATE SET started_at = excluded.started_at,"
            " completed_at = excluded.completed_at",
            (pid, area, iso(after[0]), iso(after[1]) if after[1] else None),
        )


async def _erase(
    db: aiosqlite.Connection, pid: int | None, channel: str, user_ref: str, seq: int | None, now: datetime
) -> None:
    """Delete every row about a participant in every table retention covers (storage.retention
    .COVERAGE), leaving only a count in the log."""
    count = 0
    if pid is not None:
        cur = await db.execute("SELECT count(*) FROM answers WHERE participant_id = ? AND skipped = 0", (pid,))
        (count,) = await cur.fetchone()
    params = {"pid": pid, "channel": channel, "user_ref": user_ref, "seq": seq if seq is not None else -1}
    for sql in erasures():
        await db.execute(sql, params)
    if pid is not None:
        await db.execute(
            "INSERT INTO deletions (deleted_at, channel, answers) VALUES (?, ?, ?)", (iso(now), channel, count)
        )
