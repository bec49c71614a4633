"""Leadership: one holder at a time among every process that uses a database.

One small abstraction, two backings:

- SQLite (`FileLease`): an OS lock (`fcntl.flock`) on `<db>.lock` beside the database file. One
  process runs the bot on a file, so the lease is *required*: a second `rabfang run` on the same
  file is refused. The kernel drops the lock when its process ends, however it ends, so a lock
  left by a dead process never blocks (the pid written into the file is only for the message).
- PostgreSQL (`AdvisoryLease`): `pg_try_advisory_lock` on a session connection of its own. Many
  workers share the database; whichever holds the lock leads, and when it dies its session ends,
  the server releases the lock, and another worker takes it at its next try.

The runner (bot/leader.py) uses one of these, whichever the backend gives (`leadership`), to run
the scheduler's jobs and Telegram's long polling on one process at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger("rabfang.storage")


class AlreadyRunning(Exception):
    """Another process holds a lease that only one process may hold."""


class Leadership(Protocol):
    """A lease held by at most one process at a time.

    `required`: a process that cannot hold it must not run at all (SQLite: one process per file);
    otherwise a process that does not hold it simply does not lead (PostgreSQL workers)."""

    name: str
    required: bool

    @property
    def held(self) -> bool: ...

    async def acquire(self) -> bool:
        """Try once, without waiting; True when this process holds the lease now."""
        ...

    async def alive(self) -> bool:
        """Whether the lease is still held (False once whatever holds it is gone)."""
        ...

    async def release(self) -> None: ...


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


class FileLease:
    """An exclusive `flock` on `<db>.lock`, held until `release` or the process's end."""

    required = True

    def __init__(self, db_path: Path, name: str = "run"):
        self.name = name
        self.path = lock_path(Path(db_path))
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def holder(self) -> str:
        """What the lock file says about its holder (a pid), for the message."""
        try:
            return self.path.read_text().strip() or "?"
        except OSError:
            return "?"

    async def acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    async def alive(self) -> bool:
        return self._fd is not None  # the kernel keeps it for as long as this process lives

    async def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def advisory_key(*parts: str) -> int:
    """A signed 64-bit key for PostgreSQL's advisory locks, the same in every process."""
    digest = hashlib.blake2b(":".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def chat_key(channel: str, user_ref: str) -> int:
    """The advisory-lock key of one chat (one participant): the claims of its inbox rows and the
    units of work of its events take it, so two workers never decide for one person at once."""
    return advisory_key("rabfang", "chat", channel, user_ref)


class AdvisoryLease:
    """`pg_try_advisory_lock` on a session connection of its own (autocommit, never pooled), so the
    lock lives exactly as long as that session: a worker that dies, or loses its connection, stops
    leading, and the server lets the next one in."""

    required = False

    def __init__(self, url: str, name: str = "leader", *, connect_timeout: float = 5.0):
        self.name = name
        self.url = url
        self.key = advisory_key("rabfang", "leader", name)
        self._timeout = connect_timeout
        self._conn: Any = None

    @property
    def held(self) -> bool:
        return self._conn is not None

    async def acquire(self) -> bool:
        if self._conn is not None:
            return True
        import psycopg

        try:
            conn = await asyncio.wait_for(
                psycopg.AsyncConnection.connect(self.url, autocommit=True, connect_timeout=int(self._timeout)),
                self._timeout + 1,
            )
        except (OSError, TimeoutError, psycopg.Error):
            return False
        try:
            cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,))
            row = await cur.fetchone()
        except (OSError, psycopg.Error):
            await _close(conn)
            return False
        if not (row and row[0]):
            await _close(conn)
            return False
        self._conn = conn
        return True

    async def alive(self) -> bool:
        if self._conn is None:
            return False
        import psycopg

        try:
            await asyncio.wait_for(self._conn.execute("SELECT 1"), self._timeout)
        except (OSError, TimeoutError, psycopg.Error):
            conn, self._conn = self._conn, None
            await _close(conn)
            return False
        return True

    async def release(self) -> None:
        if self._conn is None:
            return
        conn, self._conn = self._conn, None
        with contextlib.suppress(Exception):
            await conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
        await _close(conn)


async def _close(conn: Any) -> None:
    with contextlib.suppress(Exception):
        await conn.close()


def leadership(db: Any, name: str = "leader") -> Leadership:
    """The lease the database's backend offers: a lock file beside a SQLite database, an advisory
    lock on PostgreSQL."""
    url = postgres_url(db)
    if url is not None:
        return AdvisoryLease(url, name)
    return FileLease(Path(db.path), name)


def postgres_url(db: Any) -> str | None:
    """The PostgreSQL URL of an open database, or None for SQLite."""
    return str(db.url) if db.dialect.postgres else None


async def run_lease(db: Any) -> Leadership:
    """The lease `rabfang run` leads with. On SQLite it is taken now, and AlreadyRunning raised
    when another process holds it: one process per file."""
    lease = leadership(db)
    if lease.required and not await lease.acquire():
        assert isinstance(lease, FileLease)
        raise AlreadyRunning(
            f"another `rabfang run` (pid {lease.holder()}) is using {db.path}: one process per SQLite file"
            f" (it holds {lease.path}). Stop it first, or use PostgreSQL (RABFANG_DB=postgresql://...)"
            " to run several workers."
        )
    return lease
