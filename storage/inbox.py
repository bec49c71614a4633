"""The webhook inbox: platform events written durably before the webhook answers 200.

A channel stores each event here, answers the platform, then processes the rows chat by chat in
arrival order. An event is handled exactly once because the service claims its id in `events`
in the same transaction as its effects (`Database.handle_event`); `mark_processed` then clears
the row's body, so a crash between the two only means the row is looked at again and found
already claimed. Events without effects of that kind (unfollow, group chats) are idempotent.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .db import Database, StorageError, iso


@dataclass(frozen=True)
class Incoming:
    """One event as the webhook received it."""

    event_id: str
    user_ref: str  # the chat it came from: a user, group or room id
    body: str  # the event's raw JSON
    reply_token: str | None = None


@dataclass(frozen=True)
class Row:
    """One unprocessed inbox row."""

    seq: int
    event_id: str
    user_ref: str
    body: str
    reply_token: str | None
    retry_key: str
    received_at: datetime


async def add(db: Database, channel: str, events: Sequence[Incoming], now: datetime) -> list[str]:
    """Store new events in one transaction; return the chats that got a new row, in order.

    An event whose id is already in the inbox (a replay or a redelivery) is left out.
    Raises StorageError when nothing could be stored."""
    chats: list[str] = []
    async with db.transaction(urgent=True) as conn:  # LINE is waiting for our 200
        for ev in events:
            cur = await conn.execute(
                "INSERT INTO inbox (channel, event_id, user_ref, body, reply_token, retry_key, received_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (channel, event_id) DO NOTHING",
                (channel, ev.event_id, ev.user_ref, ev.body, ev.reply_token, str(uuid.uuid4()), iso(now)),
            )
            if cur.rowcount == 1 and ev.user_ref not in chats:
                chats.append(ev.user_ref)
    return chats


async def pending(db: Database, channel: str, user_ref: str) -> list[Row]:
    """A chat's unprocessed rows in arrival order."""
    rows = await _read(
        db,
        "SELECT seq, event_id, user_ref, body, reply_token, retry_key, received_at FROM inbox"
        " WHERE channel = ? AND user_ref = ? AND processed = 0 ORDER BY seq",
        (channel, user_ref),
    )
    return [
        Row(seq, event_id, user, body or "", token, key, datetime.fromisoformat(received))
        for seq, event_id, user, body, token, key, received in rows
    ]


async def pending_chats(db: Database, channel: str) -> list[str]:
    """Chats with unprocessed rows, the one waiting longest first (drained on start-up)."""
    rows = await _read(
        db,
        "SELECT user_ref FROM inbox WHERE channel = ? AND processed = 0 GROUP BY user_ref ORDER BY min(seq)",
        (channel,),
    )
    return [r[0] for r in rows]


async def mark_processed(db: Database, channel: str, seq: int, now: datetime) -> None:
    """Done with a row: keep its key for dedupe, drop the body and the reply token."""
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE inbox SET processed = 1, processed_at = ?, body = NULL, reply_token = NULL"
            " WHERE channel = ? AND seq = ?",
            (iso(now), channel, seq),
        )


async def purge(db: Database, channel: str, user_ref: str, up_to: int) -> int:
    """Delete a participant's rows up to and including `up_to` (their data was erased: the bodies
    held their id and words). Later rows are new events, processed as a new participant's.
    The WAL is checkpointed so the old pages go too."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "DELETE FROM inbox WHERE channel = ? AND user_ref = ? AND seq <= ?", (channel, user_ref, up_to)
        )
        count = cur.rowcount
    await db.checkpoint()
    return count


async def prune(db: Database, channel: str, before: datetime) -> int:
    """Forget processed rows received before `before`; `events` still dedupes their ids."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "DELETE FROM inbox WHERE channel = ? AND processed = 1 AND received_at < ?", (channel, iso(before))
        )
        return cur.rowcount


async def is_active(db: Database, channel: str, user_ref: str) -> bool | None:
    """Whether a participant still follows the account; None when there is no such participant."""
    rows = await _read(db, "SELECT active FROM participants WHERE channel = ? AND user_ref = ?", (channel, user_ref))
    return bool(rows[0][0]) if rows else None


async def _read(db: Database, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    try:
        return await db.fetch_all(sql, params)
    except sqlite3.Error as exc:
        raise StorageError(str(exc)) from exc
