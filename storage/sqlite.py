"""The SQLite backend: one file, one writer thread, group commit.

Every write runs on ONE thread that owns a plain sqlite3 connection; a unit of work goes there in
one hop (`run`: the coroutine runs to its end through `SyncConn`). Events that arrive while a
batch is being written are written together (`handle`): one `BEGIN IMMEDIATE … COMMIT`, a
SAVEPOINT per event so that one failing event rolls back alone. Nobody is answered before the
COMMIT that holds their event has returned; a failed COMMIT fails every event of its batch with
StorageError (none of them was kept, so all are redelivered). Under `synchronous=NORMAL` in WAL
mode a COMMIT is durable against a crash of the process, which is what "acknowledged" promises.

The writer's lock (`WriterLock`) keeps the transactions whole and lets urgent work (a webhook's
receipt, which a platform is waiting on) go ahead of queued processing. Readers (exports) get
their own read-only aiosqlite connection, so a long export never blocks a participant.

The files are private to the account that runs rabfang: the database, its -wal and -shm are
0600 and a folder made for them 0700, whatever the umask. After an erasure the WAL is checkpointed
and truncated without waiting for readers (a reader may still need the old page images); while one
does, a background task retries until the old images are gone from every file.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from .base import PRIVATE_FILE, Rejected, StorageError, database_files, iso, private_dir, private_file
from .conn import Conn, HopConn, Result, States, SyncConn, run_sync
from .dialect import SQLITE

log = logging.getLogger("rabfang.storage")

T = TypeVar("T")
Unit = Callable[[Conn], Awaitable[T]]
Item = tuple[Unit[Any], "asyncio.Future[Any]"]

BUSY_TIMEOUT_MS = 10_000
PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
    "PRAGMA foreign_keys=ON",
    "PRAGMA secure_delete=ON",  # an erased participant's bytes are overwritten, not left in free pages
)
MAX_BATCH = 64  # units per group commit
BURST = 0.05  # seconds: a webhook receipt this recent means a burst is on
EVENT_GAP = 0.1  # seconds between event batches during a burst
BURST_EVENTS = 4  # events per batch during a burst
STATES = 2000  # participants whose committed state is kept for their next event


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


def _storage_error(exc: BaseException) -> BaseException:
    """The driver's error as storage's: a value SQLite refuses (an integer beyond 64 bits, which
    the sqlite3 module raises as OverflowError while binding it) is Rejected, any other StorageError."""
    if isinstance(exc, (sqlite3.DataError, OverflowError)):
        return Rejected(str(exc))
    return StorageError(str(exc)) if isinstance(exc, sqlite3.Error) else exc


class SqliteBackend:
    dialect = SQLITE

    def __init__(self, path: Path):
        self.path = path
        self._lock = WriterLock()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rabfang-sqlite")
        self._reads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rabfang-sqlite-read")
        self._read_conn: sqlite3.Connection | None = None
        self._raw: sqlite3.Connection | None = None
        self._sync: SyncConn | None = None
        # units waiting for the next group commit: urgent ones (webhook receipts) first
        self._pending: tuple[list[Item], list[Item]] = ([], [])
        self._drainer: asyncio.Task[None] | None = None
        self._scrubber: asyncio.Task[None] | None = None  # retries the checkpoint a reader held up
        self.batches: deque[int] = deque(maxlen=1000)  # recent group-commit sizes (bench/durable.py)
        # Committed states, for events only: emptied by any other write (run, transaction,
        # fetch_all) and whenever another connection has committed (PRAGMA data_version).
        self.states = States(STATES)
        self._data_version: int | None = None
        self._wake = asyncio.Event()  # a receipt arrived (the drainer may be waiting out a gap)
        self._last_receipt = self._last_events = -1e9

    # ---- lifecycle ---------------------------------------------------------------------------

    async def _hop(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    async def connect(self) -> None:
        await self._hop(self._connect)

    def _connect(self) -> None:
        path = self.path
        private_dir(path.parent)
        # SQLite gives -wal and -shm the database file's own mode, so a private database file
        # makes private companions; files left by an older version are tightened here
        private_file(path)
        for companion in database_files(path)[1:]:
            with suppress(FileNotFoundError):
                os.chmod(companion, PRIVATE_FILE)
        raw = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            for pragma in PRAGMAS:
                raw.execute(pragma)
        except BaseException:
            raw.close()
            raise
        self._raw, self._sync = raw, SyncConn(raw, SQLITE)

    async def migrate(self, files: list[tuple[str, str]]) -> None:
        await self._hop(self._migrate, files)

    def _migrate(self, files: list[tuple[str, str]]) -> None:
        """Apply each migration not yet recorded, each in its own transaction."""
        raw = self._raw
        assert raw is not None
        raw.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        done = {row[0] for row in raw.execute("SELECT name FROM migrations")}
        for name, sql in files:
            if name in done:
                continue
            now = iso(datetime.now(UTC))
            script = f"BEGIN IMMEDIATE;\n{sql}\n;INSERT INTO migrations (name, applied_at) VALUES ('{name}', '{now}');\nCOMMIT;"
            try:
                raw.executescript(script)
            except sqlite3.Error:
                if raw.in_transaction:
                    raw.rollback()
                raise

    async def close(self) -> None:
        if self._scrubber is not None:
            self._scrubber.cancel()
            with suppress(asyncio.CancelledError):
                await self._scrubber
        if self._drainer is not None and not self._drainer.done():
            with suppress(Exception):
                await self._drainer
        if self._read_conn is not None:  # first: the last connection to close removes the WAL
            await asyncio.get_running_loop().run_in_executor(self._reads, self._read_conn.close)
            self._read_conn = None
        async with self._lock:
            if self._raw is not None:
                with suppress(sqlite3.Error):
                    await self._hop(self._truncate)  # SQLite checkpoints on close too, but only when it can wait
                await self._hop(self._raw.close)
        self._reads.shutdown(wait=True)
        self._thread.shutdown(wait=True)

    # ---- units of work -----------------------------------------------------------------------

    async def run(self, unit: Unit[T], urgent: bool = False, states: bool = False) -> T:
        """One write transaction in one hop: `unit(conn)` runs on the writer thread. `states`: the
        unit leaves every participant's state as it was (the kept states stay). An urgent unit that
        keeps the states (a webhook's receipt) is group-committed at the head of the next batch,
        so forty webhooks at once cost one COMMIT, not forty hops in a row."""
        if urgent and states:
            return await self.handle(unit, urgent=True)
        async with self._turn(urgent):
            try:
                return await self._hop(self._run_one, unit, states)
            except (sqlite3.Error, OverflowError) as exc:
                raise _storage_error(exc) from exc

    def _run_one(self, unit: Unit[T], keeps_states: bool = False) -> T:
        sync = self._sync
        assert sync is not None
        if not keeps_states:
            self.states.clear()  # any write may change a participant (purge, settle, erasure by id)
        sync.raw.execute("BEGIN IMMEDIATE")
        sync.cache.clear()
        try:
            result = run_sync(unit(sync))
            sync.raw.execute("COMMIT")
        except BaseException:
            if sync.raw.in_transaction:
                with suppress(sqlite3.Error):
                    sync.raw.execute("ROLLBACK")
            raise
        return result

    async def read(self, unit: Unit[T]) -> T:
        """`unit(conn)` in one hop, in a read transaction (BEGIN DEFERRED: allowed on a database
        that refuses writes, so a participant can still be told 'try later' in their language)."""
        async with self._turn():
            try:
                return await self._hop(self._read_one, unit)
            except (sqlite3.Error, OverflowError) as exc:
                raise _storage_error(exc) from exc

    def _read_one(self, unit: Unit[T]) -> T:
        sync = self._sync
        assert sync is not None
        sync.raw.execute("BEGIN")
        sync.cache.clear()
        try:
            return run_sync(unit(sync))
        finally:
            with suppress(sqlite3.Error):
                sync.raw.execute("ROLLBACK")

    @asynccontextmanager
    async def _turn(self, urgent: bool = False) -> AsyncIterator[None]:
        await self._lock.acquire(urgent)
        try:
            yield
        finally:
            self._lock.release()

    async def lock_event(self, conn: Conn, channel: str, user_ref: str) -> None:
        """Nothing to lock: there is one writer."""

    async def lock_sessions(self, conn: Conn, ids: Sequence[int]) -> None:
        """Nothing to lock: there is one writer."""

    async def handle(self, unit: Unit[T], urgent: bool = False) -> T:
        """An event's unit of work, committed with the others waiting (group commit)."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[0 if urgent else 1].append((unit, fut))
        if urgent:
            self._wake.set()
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.ensure_future(self._drain())
        return await fut

    def _next_batch(self) -> list[Item]:
        """Every urgent unit waiting, then events up to MAX_BATCH in all. During a burst of
        webhooks (a receipt within BURST seconds) events go in at most every EVENT_GAP seconds:
        the 200s come first, the inbox holds the backlog durably, and processing catches up
        when the burst eases, without stopping altogether while it lasts."""
        urgent, events = self._pending
        now = time.monotonic()
        if urgent:
            self._last_receipt = now
        room = 0
        if events and now - self._last_receipt >= BURST:
            room = max(1, MAX_BATCH - len(urgent))
        elif events and now - self._last_events >= EVENT_GAP:
            room = BURST_EVENTS
        if room:
            self._last_events = now
        self._pending = ([], events[room:])
        return urgent + events[:room]

    def _events_wait(self) -> float:
        """Seconds until events may go in again (0: now)."""
        now = time.monotonic()
        if now - self._last_receipt >= BURST:
            return 0.0
        return max(0.0, min(BURST - (now - self._last_receipt), EVENT_GAP - (now - self._last_events)))

    async def _drain(self) -> None:
        while any(self._pending):
            if not self._pending[0] and (wait := self._events_wait()) > 0:
                self._wake.clear()
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)  # a receipt, or the gap is over
                continue
            async with self._turn(urgent=bool(self._pending[0])):  # receipts go before queued work
                batch = self._next_batch()  # what waited for the turn too
                if not batch:
                    continue
                self.batches.append(len(batch))
                try:
                    results = await self._hop(self._write_batch, [unit for unit, _ in batch])
                except BaseException as exc:  # BEGIN or COMMIT failed: nothing of the batch was kept
                    err = _storage_error(exc)
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(err)
                    if not isinstance(exc, Exception):
                        raise
                    continue
            for (_, fut), (ok, value) in zip(batch, results, strict=True):
                if fut.done():
                    continue
                if ok:
                    fut.set_result(value)
                else:
                    fut.set_exception(_storage_error(value))

    def _write_batch(self, units: list[Unit[Any]]) -> list[tuple[bool, Any]]:
        """On the writer thread: one transaction, a savepoint per event."""
        sync = self._sync
        assert sync is not None
        raw, states = sync.raw, self.states
        raw.execute("BEGIN IMMEDIATE")
        (version,) = raw.execute("PRAGMA data_version").fetchone()
        if version != self._data_version:  # another connection committed: what we kept may be stale
            states.clear()
            self._data_version = version
        sync.cache.clear()
        sync.states = states
        try:
            results: list[tuple[bool, Any]] = []
            for unit in units:
                raw.execute("SAVEPOINT event")
                states.current = None
                try:
                    results.append((True, run_sync(unit(sync))))
                except Exception as exc:
                    raw.execute("ROLLBACK TO event")
                    sync.cache.clear()  # what it cached may be what was rolled back
                    if states.current is not None:
                        states.forget(states.current)
                    results.append((False, exc))
                raw.execute("RELEASE event")
            raw.execute("COMMIT")
            states.commit()
        except BaseException:
            states.rollback()
            if raw.in_transaction:
                with suppress(sqlite3.Error):
                    raw.execute("ROLLBACK")
            raise
        finally:
            sync.states = None
        return results

    @asynccontextmanager
    async def transaction(self, urgent: bool = False) -> AsyncIterator[Conn]:
        """A write transaction whose statements each hop to the writer thread (tests, tools)."""
        async with self._turn(urgent):
            sync = self._sync
            assert sync is not None
            self.states.clear()
            conn = HopConn(sync, self._hop)
            try:
                await conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StorageError(str(exc)) from exc
            try:
                yield conn
                await conn.execute("COMMIT")
            except BaseException as exc:
                with suppress(sqlite3.Error):
                    await conn.execute("ROLLBACK")
                if isinstance(exc, (sqlite3.Error, OverflowError)):
                    raise _storage_error(exc) from exc
                raise

    async def fetch_all(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
        """A SELECT reads on a connection and thread of its own (what is committed; it never
        waits for the writer nor holds it up); anything else (a PRAGMA, a test's write) runs on
        the writer, in its turn."""
        if sql.lstrip()[:6].upper() == "SELECT":
            return await asyncio.get_running_loop().run_in_executor(self._reads, self._read, sql, params)
        async with self._turn():
            sync = self._sync
            assert sync is not None
            self.states.clear()  # a write (tests, tools) or a PRAGMA
            result: Result = await self._hop(sync.now, sql, params)
            return await result.fetchall()

    def _read(self, sql: str, params: Sequence[Any] | dict[str, Any]) -> list[tuple[Any, ...]]:
        if self._read_conn is None:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            self._read_conn = conn
        return self._read_conn.execute(sql, params).fetchall()

    async def set_trace(self, callback: Callable[[str], None] | None) -> None:
        """Call `callback` with every statement the writer runs (tests count transactions)."""
        assert self._raw is not None
        await self._hop(self._raw.set_trace_callback, callback)

    # ---- erasure: no old page image left --------------------------------------------------------

    async def checkpoint(self) -> bool:
        async with self._turn():
            done = await self._hop(self._truncate)
        if not done:
            self._scrub_later()
        return done

    def _truncate(self) -> bool:
        """One TRUNCATE checkpoint that gives up at once when a reader or writer is in the way
        (it still copies what no reader needs). On the writer thread, with the writer's turn."""
        raw = self._raw
        assert raw is not None
        raw.execute("PRAGMA busy_timeout=0")
        try:
            row = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error:
            return False
        finally:
            raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
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
                async with self._turn():
                    if await self._hop(self._truncate):
                        log.info("the WAL is truncated: no old page image left (after %d tries)", tries)
                        return
            except (sqlite3.Error, ValueError, RuntimeError):  # closed underneath us: close() checkpoints
                return
            wait = min(wait * 2, longest)

    # ---- reading for exports -----------------------------------------------------------------

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[SqliteReader]:
        """A separate read-only connection: a consistent snapshot that never blocks writers."""
        conn = await aiosqlite.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
        try:
            await conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            await conn.execute("BEGIN")
            yield SqliteReader(conn)
        finally:
            await conn.close()


class SqliteReader:
    """A read-only snapshot on its own aiosqlite connection (see storage.queries.Snapshot)."""

    dialect = SQLITE

    def __init__(self, conn: aiosqlite.Connection):
        self.conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        cur = await self.conn.execute(sql, tuple(params))
        try:
            return Result(list(await cur.fetchall()), cur.rowcount)
        finally:
            await cur.close()

    async def batches(self, sql: str, params: Sequence[Any], size: int) -> AsyncIterator[list[tuple[Any, ...]]]:
        cur = await self.conn.execute(sql, tuple(params))
        try:
            while rows := await cur.fetchmany(size):
                yield list(rows)
        finally:
            await cur.close()
