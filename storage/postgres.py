"""The PostgreSQL backend: psycopg 3 (async) and a small connection pool (psycopg_pool).

Why psycopg 3 rather than asyncpg (docs/operations.md says it too): storage's SQL is written once
with `?` placeholders, and psycopg's `%s` is a mechanical translation of them (storage.dialect),
while asyncpg's `$1` needs the parameters renumbered and its `executemany`/status strings give no
DB-API rowcount, which the claims (`INSERT … ON CONFLICT DO NOTHING` → 1 or 0) read everywhere.
psycopg has named server-side cursors (exports stream a million rows in flat memory), prepares
statements it sees repeatedly on its own, ships as one binary wheel (psycopg-binary, libpq
inside), and psycopg_pool reconnects after the server restarts.

A unit of work is one transaction on a pooled connection (READ COMMITTED). `lock_event` is the
one place a unit of work takes a lock before it reads the participant: a per-participant
`pg_advisory_xact_lock`, so several workers sharing the database decide one person's events one
at a time (storage/leases.py, bot/inbox.py). `lock_sessions` is the other: the rows of the sessions
an event registers for, so that a session's seats are counted by one worker at a time.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
import psycopg_pool

from .base import Rejected, StorageError, iso
from .conn import Conn, PgConn, Result
from .dialect import POSTGRES
from .leases import chat_key

log = logging.getLogger("rabfang.storage")

T = TypeVar("T")
Unit = Callable[[Conn], Awaitable[T]]

POOL_SIZE = 8  # connections per process: events of different participants are written side by side
CONNECT_TIMEOUT = 10.0  # seconds to wait for a connection (the server restarting, the pool busy)
URGENT_WAIT = 2.0  # seconds a webhook's receipt waits for one while the server is unreachable; then 503
MIGRATION_LOCK = 0x72616266  # 'rabf': one process migrates at a time


class PostgresBackend:
    dialect = POSTGRES

    def __init__(self, url: str):
        self.url = url
        self._pool = psycopg_pool.AsyncConnectionPool(
            url,
            min_size=1,
            max_size=POOL_SIZE,
            kwargs={"autocommit": True},
            timeout=CONNECT_TIMEOUT,
            open=False,
            name="rabfang",
        )
        self._cursors = itertools.count(1)
        self._unreachable = False  # the last attempt failed to reach the server (set until one succeeds)

    async def connect(self) -> None:
        try:
            await self._pool.open(wait=True, timeout=CONNECT_TIMEOUT)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            await self._pool.close()
            raise StorageError(f"cannot connect to PostgreSQL: {exc}") from exc

    async def close(self) -> None:
        await self._pool.close()

    async def migrate(self, files: list[tuple[str, str]]) -> None:
        """Apply each migration not yet recorded, each in its own transaction, one process at a time."""
        async with self._pool.connection() as conn:
            async with conn.transaction():  # under the lock too: CREATE … IF NOT EXISTS races otherwise
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                await conn.execute(
                    'CREATE TABLE IF NOT EXISTS migrations (name TEXT COLLATE "C" PRIMARY KEY, applied_at TEXT NOT NULL)'
                )
            for name, sql in files:
                async with conn.transaction():
                    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                    cur = await conn.execute("SELECT 1 FROM migrations WHERE name = %s", (name,))
                    if await cur.fetchone():
                        continue
                    await conn.execute(POSTGRES.ddl(sql))
                    await conn.execute(
                        "INSERT INTO migrations (name, applied_at) VALUES (%s, %s)", (name, iso(datetime.now(UTC)))
                    )

    # ---- units of work -----------------------------------------------------------------------

    async def run(self, unit: Unit[T], urgent: bool = False, states: bool = False) -> T:
        """One transaction on a pooled connection. `urgent` is a webhook's receipt: while the server
        is known to be unreachable it waits at most URGENT_WAIT for a connection, so the webhook
        answers 503 at once and the platform delivers again, rather than holding the request for
        CONNECT_TIMEOUT (a burst, with the server up, waits its turn for the pool as everyone does)."""
        async with self.transaction(urgent) as conn:
            return await unit(conn)

    async def handle(self, unit: Unit[T]) -> T:
        return await self.run(unit)

    async def read(self, unit: Unit[T]) -> T:
        return await self.run(unit)

    async def lock_event(self, conn: Conn, channel: str, user_ref: str) -> None:
        """Called first in an event's unit of work: the participant's advisory lock, held until the
        transaction ends, so that however many workers share the database one participant's
        events are decided one at a time (each sees the state the one before left)."""
        await conn.execute("SELECT pg_advisory_xact_lock(?)", (chat_key(channel, user_ref),))

    async def lock_sessions(self, conn: Conn, ids: Sequence[int]) -> None:
        """The rows of sessions an event registers for, locked until its transaction ends (in id
        order, so two events never wait on each other), so their seats are counted one worker at a time."""
        await conn.execute(
            f"SELECT id FROM sessions WHERE id IN ({', '.join('?' * len(ids))}) ORDER BY id FOR UPDATE", tuple(ids)
        )

    @asynccontextmanager
    async def transaction(self, urgent: bool = False) -> AsyncIterator[Conn]:
        try:
            wait = URGENT_WAIT if urgent and self._unreachable else None
            async with self._pool.connection(timeout=wait) as raw, raw.transaction():
                yield PgConn(raw, POSTGRES)
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            self._unreachable = True
            raise StorageError(str(exc)) from exc
        except psycopg.DataError as exc:  # a NUL in text, a number out of range: it fails every time
            raise Rejected(str(exc)) from exc
        except psycopg.Error as exc:
            raise StorageError(str(exc)) from exc
        self._unreachable = False

    async def fetch_all(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
        async with self.transaction() as conn:
            return await (await conn.execute(sql, params)).fetchall()

    async def checkpoint(self) -> bool:
        """Nothing to do: PostgreSQL reuses the space of deleted rows (VACUUM) and its WAL is
        recycled by the server; the rows are gone from every query at COMMIT."""
        return True

    # ---- reading for exports -----------------------------------------------------------------

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[PgReader]:
        """A REPEATABLE READ, READ ONLY transaction: one consistent snapshot for a whole export."""
        try:
            async with self._pool.connection() as raw:
                await raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                # an export reads every row of its cursor: plan for all of them, not the first 10 %
                await raw.execute("SET LOCAL cursor_tuple_fraction = 1.0")
                try:
                    yield PgReader(raw, self._cursors)
                finally:
                    await raw.execute("ROLLBACK")
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise StorageError(str(exc)) from exc


class PgReader:
    """A read-only snapshot; `batches` streams through a named (server-side) cursor, so an export
    of a million rows holds one batch in memory at a time."""

    dialect = POSTGRES

    def __init__(self, conn: psycopg.AsyncConnection, names: itertools.count):
        self.conn = conn
        self._names = names

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        return await PgConn(self.conn, POSTGRES).execute(sql, tuple(params))

    async def batches(self, sql: str, params: Sequence[Any], size: int) -> AsyncIterator[list[tuple[Any, ...]]]:
        async with self.conn.cursor(name=f"rabfang_rows_{next(self._names)}") as cur:
            await cur.execute(POSTGRES.sql(sql) if params else sql, tuple(params) if params else None)
            while rows := await cur.fetchmany(size):
                yield rows
