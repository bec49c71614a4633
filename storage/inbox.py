"""The inbox table: events written durably before a webhook answers 200, read back chat by chat.

Rows hold the event as the bot understands it (an `Incoming`), so reading one back needs no
channel. A row is marked processed inside its event's own unit of work (`Database.handle_event`
with `inbox_seq`), which also claims the event id: a crash anywhere leaves either both or neither.
The processing itself (order per chat, retries, "try later") is bot/inbox.py's.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.model import Inbound, Incoming

from .base import iso
from .conn import Conn
from .db import Database
from .leases import chat_key


@dataclass(frozen=True)
class Row:
    """One unprocessed inbox row. `item` is None for a row stored before the inbox was
    channel-neutral: its `legacy` body is the platform's own event, which its channel reads."""

    seq: int
    event_id: str
    user_ref: str
    item: Incoming | None
    retry_key: str  # a UUID: a retried push of this event's replies is delivered once
    received_at: datetime
    legacy: tuple[str, str | None] | None = None  # (platform event JSON, reply token)


def encode(item: Incoming) -> tuple[str, str]:
    """(body, context) columns for an item."""
    ev = item.inbound
    body = {
        "kind": ev.kind,
        "text": ev.text,
        "data": ev.data,
        "sent_at": ev.sent_at.isoformat() if ev.sent_at else None,
        "ref": ev.ref,
    }
    return _json(body), _json(item.context)


def _json(value: object) -> str:
    """JSON as readable text, or escaped where the text is not valid UTF-8 (lone surrogates,
    which a JSON webhook body can carry and SQLite cannot store); reading it back restores them."""
    text = json.dumps(value, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value)
    return text


def decode(event_id: str, user_ref: str, body: str, context: str | None) -> Incoming | None:
    """The item a row holds; None for a row in the older, platform-shaped form."""
    try:
        value = json.loads(body)
        ctx = json.loads(context) if context else {}
    except ValueError:
        return None
    if not isinstance(value, dict) or "kind" not in value or not isinstance(ctx, dict):
        return None
    sent = value.get("sent_at")
    inbound = Inbound(
        value["kind"],
        text=value.get("text") or "",
        data=value.get("data") or "",
        sent_at=datetime.fromisoformat(sent) if sent else None,
        ref=value.get("ref") or "",
    )
    return Incoming(event_id, user_ref, inbound, {str(k): str(v) for k, v in ctx.items()})


async def add(db: Database, channel: str, items: Sequence[Incoming], now: datetime) -> list[Incoming]:
    """Store new events in one transaction; return those that were new, in order.

    An event whose id is already in the inbox (a replay or a redelivery) is left out.
    Raises StorageError when nothing could be stored."""

    async def unit(conn: Conn) -> list[Incoming]:
        new: list[Incoming] = []
        for item in items:
            body, context = encode(item)
            cur = await conn.execute(
                "INSERT INTO inbox (channel, event_id, user_ref, body, context, retry_key, received_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (channel, event_id) DO NOTHING",
                (channel, item.event_id, item.user_ref, body, context, str(uuid.uuid4()), iso(now)),
            )
            if cur.rowcount == 1:
                new.append(item)
        return new

    return await db.run(unit, urgent=True, keeps_states=True)  # the platform is waiting for our 200


async def pending(db: Database, channel: str, user_ref: str) -> list[Row]:
    """A chat's unprocessed rows in arrival order."""
    rows = await _read(
        db,
        "SELECT seq, event_id, user_ref, body, context, retry_key, received_at FROM inbox"
        " WHERE channel = ? AND user_ref = ? AND processed = 0 ORDER BY seq",
        (channel, user_ref),
    )
    out = []
    for seq, event_id, user, body, context, key, received in rows:
        item = decode(event_id, user, body or "", context)
        legacy = None if item is not None else (body or "", context)
        out.append(Row(seq, event_id, user, item, key, datetime.fromisoformat(received), legacy))
    return out


async def pending_chats(db: Database, channel: str) -> list[str]:
    """Chats with unprocessed rows, the one waiting longest first (drained on start-up)."""
    rows = await _read(
        db,
        "SELECT user_ref FROM inbox WHERE channel = ? AND processed = 0 GROUP BY user_ref ORDER BY min(seq)",
        (channel,),
    )
    return [r[0] for r in rows]


async def count_pending(db: Database, channel: str) -> int:
    """How many of a channel's rows are unprocessed (the inbox_pending index answers it)."""
    rows = await _read(db, "SELECT count(*) FROM inbox WHERE channel = ? AND processed = 0", (channel,))
    return int(rows[0][0])


async def mark_processed(db: Database, channel: str, seq: int, now: datetime) -> None:
    """Done with a row that had no unit of work of its own (nothing to decide)."""
    await db.claim_event(channel, None, now, inbox_seq=seq)


async def prune(db: Database, channel: str, before: datetime) -> int:
    """Forget processed rows received before `before`; `events` still dedupes their ids."""

    async def unit(conn: Conn) -> int:
        cur = await conn.execute(
            "DELETE FROM inbox WHERE channel = ? AND processed = 1 AND received_at < ?", (channel, iso(before))
        )
        return cur.rowcount

    return await db.run(unit, keeps_states=True)


async def _read(db: Database, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    return await db.fetch_all(sql, params)  # a driver's error arrives as StorageError


# ---- several workers (PostgreSQL): leases on a chat's rows ------------------------------------


def shared(db: Database) -> bool:
    """Whether other processes may work on the same inbox (PostgreSQL); on SQLite one process
    owns the file (storage.leases), and a chat's rows are simply read."""
    return db.dialect.postgres


CLAIM_BATCH = 20  # rows leased at a time: a worker re-claims (renewing its lease) after each batch


async def claim(db: Database, channel: str, user_ref: str, worker: str, now: datetime, lease: float) -> list[Row]:
    """The chat's next unprocessed rows in arrival order, leased to `worker` until now + `lease`
    seconds; none while another worker holds a live lease on any of them (it is processing the
    chat, and will see these rows when it claims again).

    On SQLite: `pending`. On PostgreSQL, one transaction: the chat's advisory lock (claims of one
    chat never interleave), then the rows taken `FOR UPDATE SKIP LOCKED` (a row whose unit of
    work is committing right now is not waited for) and leased in the same statement."""
    if not shared(db):
        return await pending(db, channel, user_ref)
    until = iso(now + timedelta(seconds=lease))

    async def unit(conn: Conn) -> list[tuple[Any, ...]]:
        await conn.execute("SELECT pg_advisory_xact_lock(?)", (chat_key(channel, user_ref),))
        cur = await conn.execute(
            "UPDATE inbox SET leased_by = ?, leased_until = ? WHERE seq IN ("
            " SELECT seq FROM inbox WHERE channel = ? AND user_ref = ? AND processed = 0"
            " ORDER BY seq LIMIT ? FOR UPDATE SKIP LOCKED)"
            " AND NOT EXISTS (SELECT 1 FROM inbox o WHERE o.channel = ? AND o.user_ref = ? AND o.processed = 0"
            " AND o.leased_by <> ? AND o.leased_until > ?)"
            " RETURNING seq, event_id, user_ref, body, context, retry_key, received_at",
            (worker, until, channel, user_ref, CLAIM_BATCH, channel, user_ref, worker, iso(now)),
        )
        return await cur.fetchall()

    found = await db.run(unit)
    return sorted((_row(*r) for r in found), key=lambda r: r.seq)


async def stray_chats(db: Database, channel: str, now: datetime, grace: float, limit: int = 200) -> list[str]:
    """Chats whose unprocessed rows no live worker holds: leased by a worker whose lease ran out
    (it died, or lost the database), or never leased and older than `grace` seconds (the worker
    that stored them died first). The one waiting longest first. Empty on SQLite."""
    if not shared(db):
        return []
    rows = await _read(
        db,
        "SELECT i.user_ref FROM inbox i WHERE i.channel = ? AND i.processed = 0 AND i.received_at < ?"
        " AND NOT EXISTS (SELECT 1 FROM inbox o WHERE o.channel = i.channel AND o.user_ref = i.user_ref"
        " AND o.processed = 0 AND o.leased_until > ?)"
        " GROUP BY i.user_ref ORDER BY min(i.seq) LIMIT ?",
        (channel, iso(now - timedelta(seconds=grace)), iso(now), limit),
    )
    return [r[0] for r in rows]


def _row(seq: int, event_id: str, user: str, body: str | None, context: str | None, key: str, received: str) -> Row:
    item = decode(event_id, user, body or "", context)
    legacy = None if item is not None else (body or "", context)
    return Row(seq, event_id, user, item, key, datetime.fromisoformat(received), legacy)
