"""SQL for organizers: sessions, who to remind or nudge, broadcasts, exactly-once deliveries, stats."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.model import SessionView

from .base import iso
from .conn import Conn
from .db import SESSION_COLUMNS, Database, session_view


@dataclass(frozen=True)
class Recipient:
    """Someone to send to. `user_ref` leaves storage only toward the channel that sends."""

    participant_id: int
    channel: str
    user_ref: str
    lang: str | None
    pseudonym: str


_RECIPIENT = "p.id, p.channel, p.user_ref, p.lang, p.pseudonym"
_REACHABLE = "p.active = 1 AND p.consent = 'given'"


# ---- sessions ------------------------------------------------------------------------------


async def add_session(
    db: Database,
    *,
    area: str,
    title_th: str,
    title_en: str,
    starts_at: datetime,
    ends_at: datetime | None,
    place: str | None,
    capacity: int | None,
    now: datetime,
) -> int:
    async def unit(conn: Conn) -> int:
        cur = await conn.execute(
            "INSERT INTO sessions (area, title_th, title_en, starts_at, ends_at, place, capacity, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                area,
                title_th,
                title_en,
                iso(starts_at),
                iso(ends_at) if ends_at else None,
                place,
                capacity,
                iso(now),
                iso(now),
            ),
        )
        (sid,) = await cur.fetchone()  # type: ignore[misc]
        return int(sid)

    return await db.run(unit)


async def list_sessions(db: Database, *, since: datetime | None = None) -> list[SessionView]:
    sql = f"SELECT {SESSION_COLUMNS} FROM sessions s"
    params: tuple = ()
    if since is not None:
        sql += " WHERE s.starts_at > ?"
        params = (iso(since),)
    return [session_view(r) for r in await db.fetch_all(sql + " ORDER BY s.starts_at, s.id", params)]


async def cancel_session(db: Database, session_id: int, now: datetime) -> bool:
    async def unit(conn: Conn) -> bool:
        cur = await conn.execute(
            "UPDATE sessions SET status = 'cancelled', updated_at = ? WHERE id = ? AND status = 'scheduled'",
            (iso(now), session_id),
        )
        return cur.rowcount == 1

    return await db.run(unit)


async def move_session(
    db: Database, session_id: int, starts_at: datetime, ends_at: datetime | None, now: datetime
) -> bool:
    async def unit(conn: Conn) -> bool:
        cur = await conn.execute(
            "UPDATE sessions SET starts_at = ?, ends_at = ?, moved_at = ?, updated_at = ?"
            " WHERE id = ? AND status = 'scheduled'",
            (iso(starts_at), iso(ends_at) if ends_at else None, iso(now), iso(now), session_id),
        )
        return cur.rowcount == 1

    return await db.run(unit)


async def registrants(db: Database, session_id: int) -> list[Recipient]:
    rows = await db.fetch_all(
        f"SELECT {_RECIPIENT} FROM registrations r JOIN participants p ON p.id = r.participant_id"
        f" WHERE r.session_id = ? AND {_REACHABLE} ORDER BY p.id",
        (session_id,),
    )
    return [Recipient(*r) for r in rows]


async def sessions_to_notify(db: Database, now: datetime) -> list[tuple[SessionView, datetime | None]]:
    """Sessions whose registrants may be owed something: upcoming ones, or cancelled ones that
    had not started. With each, when it was last moved."""
    rows = await db.fetch_all(
        f"SELECT {SESSION_COLUMNS}, s.moved_at FROM sessions s WHERE s.starts_at > ? ORDER BY s.starts_at",
        (iso(now),),
    )
    return [(session_view(r[:-1]), datetime.fromisoformat(r[-1]) if r[-1] else None) for r in rows]


# ---- exactly-once deliveries ---------------------------------------------------------------


async def claim(db: Database, kind: str, ref: str, participant_id: int, now: datetime) -> bool:
    """Record a send before it is made; False if this (kind, ref, participant) was already claimed."""

    async def unit(conn: Conn) -> bool:
        cur = await conn.execute(
            "INSERT INTO deliveries (kind, ref, participant_id, status, at) VALUES (?, ?, ?, 'sending', ?)"
            " ON CONFLICT DO NOTHING",
            (kind, ref, participant_id, iso(now)),
        )
        return cur.rowcount == 1

    return await db.run(unit)


async def settle(db: Database, kind: str, ref: str, participant_id: int, status: str, now: datetime) -> None:
    """The outcome of a claimed send: 'sent', 'failed' or 'blocked' (which also marks them inactive)."""

    async def unit(conn: Conn) -> None:
        await conn.execute(
            "UPDATE deliveries SET status = ?, at = ? WHERE kind = ? AND ref = ? AND participant_id = ?",
            (status, iso(now), kind, ref, participant_id),
        )
        if status == "blocked":
            await conn.execute("UPDATE participants SET active = 0 WHERE id = ?", (participant_id,))

    await db.run(unit)


async def claim_many(db: Database, kind: str, ref: str, participant_ids: list[int], now: datetime) -> list[int]:
    """Claim many sends in one transaction; returns those not claimed before (see `claim`)."""

    async def unit(conn: Conn) -> list[int]:
        claimed = []
        for pid in participant_ids:
            cur = await conn.execute(
                "INSERT INTO deliveries (kind, ref, participant_id, status, at) VALUES (?, ?, ?, 'sending', ?)"
                " ON CONFLICT DO NOTHING",
                (kind, ref, pid, iso(now)),
            )
            if cur.rowcount == 1:
                claimed.append(pid)
        return claimed

    return await db.run(unit)


async def settle_many(
    db: Database, kind: str, ref: str, participant_ids: list[int], status: str, now: datetime
) -> None:
    async def unit(conn: Conn) -> None:
        await conn.executemany(
            "UPDATE deliveries SET status = ?, at = ? WHERE kind = ? AND ref = ? AND participant_id = ?",
            [(status, iso(now), kind, ref, pid) for pid in participant_ids],
        )

    await db.run(unit)


async def unclaimed(db: Database, kind: str, ref: str, candidates: list[Recipient]) -> list[Recipient]:
    rows = await db.fetch_all("SELECT participant_id FROM deliveries WHERE kind = ? AND ref = ?", (kind, ref))
    done = {r[0] for r in rows}
    return [c for c in candidates if c.participant_id not in done]


# ---- nudges --------------------------------------------------------------------------------


async def nudge_candidates(db: Database, quiet_since: datetime) -> list[tuple[Recipient, str]]:
    """Participants who started an area, have not finished it, have been quiet since
    `quiet_since`, and were never nudged about it."""
    rows = await db.fetch_all(
        f"SELECT {_RECIPIENT}, g.area FROM progress g JOIN participants p ON p.id = g.participant_id"
        f" WHERE g.completed_at IS NULL AND {_REACHABLE} AND p.updated_at < ?"
        " AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.kind = 'nudge' AND d.ref = g.area"
        " AND d.participant_id = p.id) ORDER BY p.id, g.area",
        (iso(quiet_since),),
    )
    return [(Recipient(*r[:5]), r[5]) for r in rows]


async def answered_keys(db: Database, participant_id: int, area: str) -> set[str]:
    """The question keys (`area.item.question`) someone has answered or skipped in an area's survey."""
    rows = await db.fetch_all(
        "SELECT item, question FROM answers WHERE participant_id = ? AND area = ? AND round = 1 AND source = 'chat'",
        (participant_id, area),
    )
    return {f"{area}.{item}.{question}" for item, question in rows}


# ---- broadcasts ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Broadcast:
    id: int
    audience: str
    text_th: str
    text_en: str
    requested_by: str | None


async def create_broadcast(
    db: Database, audience: str, text_th: str, text_en: str, requested_by: str | None, now: datetime
) -> int:
    async def unit(conn: Conn) -> int:
        cur = await conn.execute(
            "INSERT INTO broadcasts (audience, text_th, text_en, requested_by, created_at) VALUES (?, ?, ?, ?, ?)"
            " RETURNING id",
            (audience, text_th, text_en, requested_by, iso(now)),
        )
        (bid,) = await cur.fetchone()  # type: ignore[misc]
        return int(bid)

    return await db.run(unit)


async def open_broadcasts(db: Database) -> list[Broadcast]:
    rows = await db.fetch_all(
        "SELECT id, audience, text_th, text_en, requested_by FROM broadcasts WHERE finished_at IS NULL ORDER BY id"
    )
    return [Broadcast(*r) for r in rows]


async def audience(db: Database, spec: str) -> list[Recipient]:
    """Reachable participants of an audience: `all`, `area:<id>` (answered it), `session:<id>`."""
    kind, _, ref = spec.partition(":")
    if kind == "session":
        return await registrants(db, int(ref))
    if kind == "area":
        sql = (
            f"SELECT {_RECIPIENT} FROM participants p WHERE {_REACHABLE}"
            " AND EXISTS (SELECT 1 FROM answers a WHERE a.participant_id = p.id AND a.area = ?) ORDER BY p.id"
        )
        return [Recipient(*r) for r in await db.fetch_all(sql, (ref,))]
    return [
        Recipient(*r)
        for r in await db.fetch_all(f"SELECT {_RECIPIENT} FROM participants p WHERE {_REACHABLE} ORDER BY p.id")
    ]


async def finish_broadcast(db: Database, broadcast_id: int, now: datetime) -> tuple[int, int, int]:
    """Close a broadcast with its tally of deliveries: (sent, failed, blocked)."""

    async def unit(conn: Conn) -> tuple[int, int, int]:
        cur = await conn.execute(
            "SELECT count(CASE WHEN status = 'sent' THEN 1 END),"
            " count(CASE WHEN status IN ('failed', 'sending') THEN 1 END),"
            " count(CASE WHEN status = 'blocked' THEN 1 END)"
            " FROM deliveries WHERE kind = 'broadcast' AND ref = ?",
            (str(broadcast_id),),
        )
        sent, failed, blocked = (int(x or 0) for x in await cur.fetchone())  # type: ignore[union-attr]
        await conn.execute(
            "UPDATE broadcasts SET finished_at = ?, sent = ?, failed = ?, blocked = ? WHERE id = ?",
            (iso(now), sent, failed, blocked, broadcast_id),
        )
        return sent, failed, blocked

    return await db.run(unit)


# ---- stats ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stats:
    participants: dict[str, tuple[int, int, int]]  # channel -> (all, consented, active)
    areas: dict[tuple[str, str], tuple[int, int]]  # (area, channel) -> (started, completed)
    answers: int
    registrations: int
    deletions: int


async def stats(db: Database) -> Stats:
    people = await db.fetch_all(
        "SELECT channel, count(*), count(CASE WHEN consent = 'given' THEN 1 END), count(CASE WHEN active = 1 THEN 1 END)"
        " FROM participants GROUP BY channel"
    )
    areas = await db.fetch_all(
        "SELECT g.area, p.channel, count(*), count(g.completed_at) FROM progress g"
        " JOIN participants p ON p.id = g.participant_id GROUP BY g.area, p.channel"
    )
    ((answers,),) = await db.fetch_all("SELECT count(*) FROM answers WHERE skipped = 0")
    ((registrations,),) = await db.fetch_all("SELECT count(*) FROM registrations")
    ((deletions,),) = await db.fetch_all("SELECT count(*) FROM deletions")
    return Stats(
        participants={c: (n, int(k or 0), int(a or 0)) for c, n, k, a in people},
        areas={(area, ch): (s, c) for area, ch, s, c in areas},
        answers=answers,
        registrations=registrations,
        deletions=deletions,
    )
