"""SQL for live focus-group sessions: starting and stopping one, the capability open now, who
checked in, and the room's answers as the presenter page shows them.

`load` and `save` are the unit of work's hooks (storage.db `_load` / `_save`): the live sessions
running now reach the engine with the participant's state, their check-ins go back with it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.model import LiveView, State

from .base import iso, parse_time

# storage.outreach's Recipient columns and reachability (that module builds on storage.db, which
# builds on this one: the fragments are repeated rather than imported)
_RECIPIENT = "p.id, p.channel, p.user_ref, p.lang, p.pseudonym"
_REACHABLE = "p.active = 1 AND p.consent = 'given'"

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off a projector
CODE_LENGTH = 6


@dataclass(frozen=True)
class LiveSession:
    session_id: int
    code: str
    started_at: datetime
    stopped_at: datetime | None
    open_item: str | None
    opened_at: datetime | None
    requested_by: str | None
    area: str
    title_th: str
    title_en: str

    @property
    def running(self) -> bool:
        return self.stopped_at is None


_LIVE = (
    "l.session_id, l.code, l.started_at, l.stopped_at, l.open_item, l.opened_at, l.requested_by,"
    " s.area, s.title_th, s.title_en FROM live_sessions l JOIN sessions s ON s.id = l.session_id"
)


def _live(row: tuple[Any, ...]) -> LiveSession:
    sid, code, started, stopped, item, opened, by, area, th, en = row
    return LiveSession(
        sid, code, datetime.fromisoformat(started), parse_time(stopped), item, parse_time(opened), by, area, th, en
    )


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


# ---- the unit of work's hooks ------------------------------------------------------------------


async def load(db: Any, pid: int | None) -> tuple[tuple[LiveView, ...], dict[int, datetime]]:
    """The live sessions running now (with the capabilities each opened so far), and the ones this
    participant checked in to. Read inside the event's transaction."""
    cur = await db.execute(
        "SELECT l.session_id, l.code, s.title_th, s.title_en, l.open_item FROM live_sessions l"
        " JOIN sessions s ON s.id = l.session_id WHERE l.stopped_at IS NULL ORDER BY l.session_id"
    )
    running = await cur.fetchall()
    views: tuple[LiveView, ...] = ()
    if running:
        cur = await db.execute(
            "SELECT i.session_id, i.item FROM live_items i JOIN live_sessions l ON l.session_id = i.session_id"
            " WHERE l.stopped_at IS NULL ORDER BY i.opened_at"
        )
        opened: dict[int, list[str]] = {}
        for sid, item in await cur.fetchall():
            opened.setdefault(sid, []).append(item)
        views = tuple(
            LiveView(
                session_id=sid, code=code, title_th=th, title_en=en, open_item=item, opened=tuple(opened.get(sid, ()))
            )
            for sid, code, th, en, item in running
        )
    checkins: dict[int, datetime] = {}
    if pid is not None:
        cur = await db.execute("SELECT session_id, checked_in_at FROM checkins WHERE participant_id = ?", (pid,))
        checkins = {sid: datetime.fromisoformat(at) for sid, at in await cur.fetchall()}
    return views, checkins


async def save(db: Any, pid: int, old: State, new: State) -> None:
    """Store the check-ins the engine added."""
    added = [(sid, at) for sid, at in new.checkins.items() if sid not in old.checkins]
    if added:
        await db.executemany(
            "INSERT INTO checkins (session_id, participant_id, checked_in_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            [(sid, pid, iso(at)) for sid, at in added],
        )


# ---- the organizer's controls ------------------------------------------------------------------


async def start(db: Any, session_id: int, requested_by: str | None, now: datetime) -> LiveSession | None:
    """Run a session live (again, if it was stopped: same code); None when there is no such session."""
    async with db.transaction() as conn:
        cur = await conn.execute("SELECT id FROM sessions WHERE id = ?", (session_id,))
        if await cur.fetchone() is None:
            return None
        cur = await conn.execute("SELECT code FROM live_sessions WHERE session_id = ?", (session_id,))
        row = await cur.fetchone()
        if row is None:
            while True:  # a code no other live session has
                code = new_code()
                cur = await conn.execute(
                    "INSERT INTO live_sessions (session_id, code, started_at, requested_by) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT DO NOTHING",
                    (session_id, code, iso(now), requested_by),
                )
                if cur.rowcount == 1:
                    break
        else:
            await conn.execute(
                "UPDATE live_sessions SET stopped_at = NULL, requested_by = coalesce(?, requested_by)"
                " WHERE session_id = ?",
                (requested_by, session_id),
            )
        cur = await conn.execute(f"SELECT {_LIVE} WHERE l.session_id = ?", (session_id,))
        return _live(await cur.fetchone())  # type: ignore[arg-type]


async def get(db: Any, session_id: int) -> LiveSession | None:
    rows = await db.fetch_all(f"SELECT {_LIVE} WHERE l.session_id = ?", (session_id,))
    return _live(rows[0]) if rows else None


async def running(db: Any) -> list[LiveSession]:
    rows = await db.fetch_all(f"SELECT {_LIVE} WHERE l.stopped_at IS NULL ORDER BY l.started_at DESC")
    return [_live(r) for r in rows]


async def open_item(db: Any, session_id: int, item: str, requested_by: str | None, now: datetime) -> bool:
    """Open a capability (closing the one open before); False when the session is not running."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "UPDATE live_sessions SET open_item = ?, opened_at = ?, requested_by = coalesce(?, requested_by)"
            " WHERE session_id = ? AND stopped_at IS NULL",
            (item, iso(now), requested_by, session_id),
        )
        if cur.rowcount != 1:
            return False
        await conn.execute(
            "UPDATE live_items SET closed_at = ? WHERE session_id = ? AND closed_at IS NULL", (iso(now), session_id)
        )
        await conn.execute(
            "INSERT INTO live_items (session_id, item, opened_at) VALUES (?, ?, ?)"
            " ON CONFLICT (session_id, item) DO UPDATE SET opened_at = excluded.opened_at, closed_at = NULL",
            (session_id, item, iso(now)),
        )
        return True


async def close_item(db: Any, session_id: int, now: datetime) -> str | None:
    """Close the capability open now; returns it (None: nothing was open)."""
    async with db.transaction() as conn:
        cur = await conn.execute("SELECT open_item FROM live_sessions WHERE session_id = ?", (session_id,))
        row = await cur.fetchone()
        if row is None or row[0] is None:
            return None
        await conn.execute("UPDATE live_sessions SET open_item = NULL WHERE session_id = ?", (session_id,))
        await conn.execute(
            "UPDATE live_items SET closed_at = ? WHERE session_id = ? AND closed_at IS NULL", (iso(now), session_id)
        )
        return str(row[0])


async def stop(db: Any, session_id: int, now: datetime) -> bool:
    """End a live session: whatever was open closes; False when it was not running."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "UPDATE live_sessions SET stopped_at = ?, open_item = NULL WHERE session_id = ? AND stopped_at IS NULL",
            (iso(now), session_id),
        )
        if cur.rowcount != 1:
            return False
        await conn.execute(
            "UPDATE live_items SET closed_at = ? WHERE session_id = ? AND closed_at IS NULL", (iso(now), session_id)
        )
        return True


async def opened_items(db: Any, session_id: int) -> list[str]:
    rows = await db.fetch_all("SELECT item FROM live_items WHERE session_id = ? ORDER BY opened_at", (session_id,))
    return [r[0] for r in rows]


async def wave_recipients(db: Any, session: LiveSession) -> list[tuple[Any, ...]]:
    """Who the open capability's push wave goes to: those checked in by the time it opened (anyone
    checking in later gets its questions with their check-in), still reachable."""
    if session.opened_at is None:
        return []
    rows = await db.fetch_all(
        f"SELECT {_RECIPIENT} FROM checkins c JOIN participants p ON p.id = c.participant_id"
        f" WHERE c.session_id = ? AND c.checked_in_at <= ? AND {_REACHABLE} ORDER BY p.id",
        (session.session_id, iso(session.opened_at)),
    )
    return rows  # storage.outreach.Recipient(*row)


# ---- the presenter page --------------------------------------------------------------------


async def fingerprint(db: Any, session_id: int) -> tuple[Any, ...]:
    """Changes whenever what the presenter page shows may have: an answer given or changed, a
    check-in, a capability opened or closed."""
    rows = await db.fetch_all(
        "SELECT (SELECT count(*) FROM answers WHERE session_id = ? AND source = 'live'),"
        " (SELECT max(answered_at) FROM answers WHERE session_id = ? AND source = 'live'),"
        " (SELECT count(*) FROM checkins WHERE session_id = ?),"
        " l.open_item, l.opened_at, l.stopped_at FROM live_sessions l WHERE l.session_id = ?",
        (session_id, session_id, session_id, session_id),
    )
    return tuple(rows[0]) if rows else ()


@dataclass(frozen=True)
class Tally:
    checked_in: int
    counts: dict[str, dict[str, int]]  # question id -> option id -> answers
    comments: list[str]


async def tally(db: Any, session_id: int, item: str | None) -> Tally:
    """The room's answers to one capability (`area.item`) in a live session."""
    ((checked_in,),) = await db.fetch_all("SELECT count(*) FROM checkins WHERE session_id = ?", (session_id,))
    counts: dict[str, dict[str, int]] = {}
    comments: list[str] = []
    if item:
        area, _, item_id = item.partition(".")
        rows = await db.fetch_all(
            "SELECT question, option, count(*) FROM answers WHERE session_id = ? AND source = 'live'"
            " AND area = ? AND item = ? AND skipped = 0 AND option IS NOT NULL GROUP BY question, option",
            (session_id, area, item_id),
        )
        for question, option, n in rows:
            counts.setdefault(question, {})[option] = int(n)
        rows = await db.fetch_all(
            "SELECT text FROM answers WHERE session_id = ? AND source = 'live' AND area = ? AND item = ?"
            " AND skipped = 0 AND text IS NOT NULL AND text != '' ORDER BY answered_at",
            (session_id, area, item_id),
        )
        comments = [r[0] for r in rows]
    return Tally(int(checked_in), counts, comments)
