"""The one connection shape storage's SQL is written against, whatever the backend.

`Conn.execute(sql, params)` takes SQLite-style SQL (`?` or `:name`), translates it for the
backend (storage.dialect), and returns a `Result`: its rows already fetched and its rowcount. The
helpers in storage/ are `async def f(conn, ...)`; on PostgreSQL their awaits reach psycopg, on
SQLite's writer thread they reach `SyncConn`, whose awaits never suspend: `run_sync` drives such a
coroutine to its end in one `send`, so a whole unit of work costs one hop to the writer thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Coroutine, Sequence
from typing import Any, Protocol

from .dialect import Dialect

Params = Sequence[Any] | dict[str, Any]


class Result:
    """A statement's outcome: its rows (fetched) and how many rows it changed."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[tuple[Any, ...]], rowcount: int):
        self._rows = rows
        self.rowcount = rowcount

    async def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None

    async def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows


class Conn(Protocol):
    dialect: Dialect
    cache: dict[Any, Any]  # what a unit of work may reuse within its transaction (see db._offers)
    states: States | None  # participants' committed states, where the backend keeps them (SQLite)

    async def execute(self, sql: str, params: Params = ()) -> Result: ...

    async def executemany(self, sql: str, rows: Any) -> Result: ...


class States:
    """Participants' states as last committed, so that an event need not read and rebuild what
    the previous event of the same participant just wrote (SQLite, where one process is the only
    writer of participants' states; see storage/sqlite.py for when it is emptied).

    A unit of work reads through `get` and records what it wrote with `put` (or `forget`); those
    are staged and become what `get` answers for later units only once the COMMIT holding them
    has returned (`commit`); a unit rolled back to its savepoint forgets its participant."""

    def __init__(self, size: int):
        from collections import OrderedDict

        self.size = size
        self._committed: OrderedDict[Any, tuple[int, Any]] = OrderedDict()
        self._staged: dict[Any, tuple[int, Any] | None] = {}
        self.current: Any = None  # the participant of the unit running now
        self.hits = self.misses = 0

    def get(self, key: Any) -> tuple[int, Any] | None:
        self.current = key
        if key in self._staged:
            found = self._staged[key]
        else:
            found = self._committed.get(key)
            if found is not None:
                self._committed.move_to_end(key)
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def put(self, key: Any, pid: int, state: Any) -> None:
        self._staged[key] = (pid, state)

    def forget(self, key: Any) -> None:
        self._staged[key] = None

    def commit(self) -> None:
        for key, value in self._staged.items():
            if value is None:
                self._committed.pop(key, None)
            else:
                self._committed[key] = value
                self._committed.move_to_end(key)
        self._staged.clear()
        while len(self._committed) > self.size:
            self._committed.popitem(last=False)

    def rollback(self) -> None:
        """The transaction is gone: forget what it staged (and, to be sure, what it read)."""
        for key in self._staged:
            self._committed.pop(key, None)
        self._staged.clear()

    def clear(self) -> None:
        self._committed.clear()
        self._staged.clear()


def run_sync(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never really suspends (its awaits all reach `SyncConn`), here and now."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("a unit of work tried to suspend on SQLite's writer thread")


class SyncConn:
    """A plain sqlite3 connection behind the async `Conn` shape, for SQLite's writer thread."""

    def __init__(self, conn: sqlite3.Connection, dialect: Dialect):
        self.raw = conn
        self.dialect = dialect
        self.cache: dict[Any, Any] = {}
        self.states: States | None = None  # set for an event batch (storage/sqlite.py)

    async def execute(self, sql: str, params: Params = ()) -> Result:
        return self.now(sql, params)

    def now(self, sql: str, params: Params = ()) -> Result:
        cur = self.raw.execute(sql, params)
        rows = cur.fetchall() if cur.description else []
        return Result(rows, cur.rowcount)

    async def executemany(self, sql: str, rows: Any) -> Result:
        cur = self.raw.executemany(sql, rows)
        return Result([], cur.rowcount)


class HopConn:
    """SQLite's writer connection seen from the event loop: each statement one hop to the writer
    thread. For `Database.transaction()` (tests, rare admin work); storage itself uses one hop per
    unit of work (`Database.run`)."""

    def __init__(self, sync: SyncConn, hop: Any):
        self._sync = sync
        self._hop = hop
        self.dialect = sync.dialect
        self.cache: dict[Any, Any] = {}
        self.states: States | None = None

    async def execute(self, sql: str, params: Params = ()) -> Result:
        return await self._hop(self._sync.now, sql, params)

    async def executemany(self, sql: str, rows: Any) -> Result:
        rows = list(rows)
        return await self._hop(lambda: run_sync(self._sync.executemany(sql, rows)))


class PgConn:
    """A psycopg AsyncConnection behind the `Conn` shape (in a transaction its owner opened)."""

    def __init__(self, conn: Any, dialect: Dialect):
        self.raw = conn
        self.dialect = dialect
        self.cache: dict[Any, Any] = {}
        self.states: States | None = None  # several processes may write: nothing is kept across transactions

    async def execute(self, sql: str, params: Params = ()) -> Result:
        # without parameters psycopg reads no placeholders: the statement goes as written
        cur = await self.raw.execute(self.dialect.sql(sql) if params else sql, params if params else None)
        rows = await cur.fetchall() if cur.description else []
        return Result(rows, cur.rowcount)

    async def executemany(self, sql: str, rows: Any) -> Result:
        async with self.raw.cursor() as cur:
            await cur.executemany(self.dialect.sql(sql), list(rows))
            return Result([], cur.rowcount)
