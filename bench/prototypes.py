"""PROTOTYPE, for measurement only — not used by the bot: the change recommended for
`Database.handle_event` in docs/benchmarks.md, so its effect can be measured before anyone
changes storage/db.py.

Today one event costs ~16 hops between the event loop and aiosqlite's thread (BEGIN, the claim,
five SELECTs each with a fetch, the writes, COMMIT), and each hop is a GIL hand-off. Here:

- the whole unit of work (claim, load, decide, save) runs in ONE hop on the writer thread, reusing
  storage.db's own `_claim/_load/_save/_erase` through a synchronous adapter (their awaits never
  suspend, so the coroutine runs to completion in one `send`);
- events that queue up while a batch is being written are written together: one
  `BEGIN IMMEDIATE … COMMIT`, a SAVEPOINT per event so one failing event rolls back alone;
- no caller is answered before the COMMIT that holds its event has returned, and a failed COMMIT
  fails every event of its batch with StorageError (none was claimed, so all are redelivered).

`max_batch=1` is the single-hop change alone, without grouping.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

import storage.db as sdb
from bot.model import Outcome, State
from storage import Database, StorageError


class _SyncCursor:
    def __init__(self, cur: sqlite3.Cursor):
        self._cur = cur
        self.rowcount = cur.rowcount
        self.lastrowid = cur.lastrowid

    async def fetchone(self) -> Any:
        return self._cur.fetchone()

    async def fetchall(self) -> list[Any]:
        return self._cur.fetchall()


class _SyncConn:
    """Looks like an aiosqlite connection to storage.db's helpers, runs on a plain sqlite3 one."""

    def __init__(self, conn: sqlite3.Connection):
        self._c = conn

    async def execute(self, sql: str, params: Any = ()) -> _SyncCursor:
        return _SyncCursor(self._c.execute(sql, params))

    async def executemany(self, sql: str, rows: Any) -> _SyncCursor:
        return _SyncCursor(self._c.executemany(sql, rows))


def run_sync(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never really suspends, here and now."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("the unit of work tried to suspend on the writer thread")


Item = tuple[str, str, "str | None", Callable[[State], Outcome], datetime, asyncio.Future]


class GroupCommitDatabase(Database):
    """storage.Database with handle_event replaced by the one-hop, group-committing version."""

    max_batch = 64

    def __init__(self, path: Path, conn: aiosqlite.Connection, pseudonym_key: bytes):
        super().__init__(path, conn, pseudonym_key)
        self._pending: list[Item] = []
        self._drainer: asyncio.Task[None] | None = None
        self.batches: list[int] = []  # sizes, for the report

    async def handle_event(self, channel, user_ref, event_id, decide, now):  # type: ignore[override]
        fut = asyncio.get_running_loop().create_future()
        self._pending.append((channel, user_ref, event_id, decide, now, fut))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.ensure_future(self._drain())
        outcome = await fut
        if outcome is not None and outcome.erase:
            await self.checkpoint()
        return outcome

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            self.batches.append(len(batch))
            try:
                async with self._lock:
                    results = await self._conn._execute(self._write_batch, batch)
            except BaseException as exc:  # BEGIN or COMMIT failed: nothing of the batch was kept
                err = StorageError(str(exc)) if isinstance(exc, sqlite3.Error) else exc
                for *_, fut in batch:
                    if not fut.done():
                        fut.set_exception(err)
                if not isinstance(exc, Exception):
                    raise
                continue
            for (*_, fut), (ok, value) in zip(batch, results, strict=True):
                if fut.done():
                    continue
                if ok:
                    fut.set_result(value)
                else:
                    fut.set_exception(StorageError(str(value)) if isinstance(value, sqlite3.Error) else value)

    def _write_batch(self, batch: list[Item]) -> list[tuple[bool, Any]]:
        """On the writer thread: one transaction, a savepoint per event."""
        c: sqlite3.Connection = self._conn._conn
        db = _SyncConn(c)
        c.execute("BEGIN IMMEDIATE")
        try:
            results: list[tuple[bool, Any]] = []
            for channel, user_ref, event_id, decide, now, _ in batch:
                c.execute("SAVEPOINT event")
                try:
                    results.append((True, run_sync(self._unit(db, channel, user_ref, event_id, decide, now))))
                except Exception as exc:
                    c.execute("ROLLBACK TO event")
                    results.append((False, exc))
                c.execute("RELEASE event")
            c.execute("COMMIT")
        except BaseException:
            if c.in_transaction:
                c.execute("ROLLBACK")
            raise
        return results

    async def _unit(self, db, channel, user_ref, event_id, decide, now) -> Outcome | None:
        """storage.Database.handle_event's body, unchanged."""
        if event_id is not None and not await sdb._claim(db, channel, event_id, now):
            return None
        pid, state = await sdb._load(db, channel, user_ref, now)
        outcome = decide(state)
        if outcome.erase:
            if pid is not None:
                await sdb._erase(db, pid, channel, now)
        else:
            who = (channel, user_ref, self.pseudonym(channel, user_ref))
            await sdb._save(db, pid, who, state, outcome.state, now, None)
        return outcome


class SingleHopDatabase(GroupCommitDatabase):
    """The one-hop unit of work alone: one transaction per event, no grouping."""

    max_batch = 1


def serve() -> int:
    """`rabfang run` with what-ifs in place (bench/line_webhooks.py --what-if), from BENCH_WHAT_IF:
    `storage` swaps in the prototype above for storage.Database; `limit` lets at most 8 LINE
    events be processed at once, so a webhook's inbox write queues behind 8 units of work at most."""
    import asyncio
    import os
    import sys

    import bot.app
    from bot.cli import main
    from bot.handlers.line import LineChannel

    what = set(os.environ.get("BENCH_WHAT_IF", "storage").split(","))
    if "storage" in what:
        bot.app.Database = GroupCommitDatabase  # type: ignore[misc]
    if "limit" in what:
        guarded = LineChannel._guarded
        slots: list[asyncio.Semaphore] = []

        async def limited(self, row):  # type: ignore[no-untyped-def]
            if not slots:
                slots.append(asyncio.Semaphore(8))
            async with slots[0]:
                return await guarded(self, row)

        LineChannel._guarded = limited  # type: ignore[method-assign]
    print(f"what-if: {sorted(what)}", file=sys.stderr)
    return main(["run"])


if __name__ == "__main__":
    import sys

    sys.exit(serve())
