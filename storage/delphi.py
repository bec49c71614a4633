"""SQL for Delphi rounds: opening and closing round 2 of an area, round 1's group result (computed
once, when the round opens), who is invited, and the rounds the engine is told about with every event.

Why the group result is computed at open time and stored with the round, rather than read with
every event: Delphi feedback is the panel's round-1 result as it stood when round 2 began, the same
figures for every panelist (an answer changed or added later would otherwise move the figures
between two participants, or between two questions of one participant); and an event then reads
one small row per round instead of aggregating the answers table inside its transaction.
"""

from __future__ import annotations

import json
from datetime import datetime

from bot.model import GroupResult, RoundView, quantile

from .conn import Conn
from .db import ROUND_COLUMNS as _COLUMNS
from .db import Database, iso, round_view
from .outreach import _REACHABLE, _RECIPIENT, Recipient

ROUND = 2  # the round an organizer opens; round 1 is the survey itself
INVITATION = "delphi"  # the deliveries kind of an invitation (storage.outreach.claim: each once)


def invitation_ref(area: str, round: int) -> str:
    """The deliveries ref of the invitations to a round: one per round, however often it is opened."""
    return f"{area}:{round}"


def group_result(counts: list[int]) -> GroupResult:
    """n, median and quartiles of counts of the values 1..len(counts), and the counts themselves
    (what a participant is shown in whole levels: bot.engine.delphi.overview)."""
    return GroupResult(
        n=sum(counts),
        median=quantile(counts, 0.5),
        q1=quantile(counts, 0.25),
        q3=quantile(counts, 0.75),
        counts=tuple(counts),
    )


async def _feedback(conn: Conn, area: str, questions: list[str], levels: int) -> str:
    """Round 1's group result of each question key (`area.item.question`) as JSON: consenting
    participants' answers 1..levels in chat, don't know and skips excluded."""
    cur = await conn.execute(
        "SELECT a.item, a.question, a.value, count(*) FROM answers a JOIN participants p ON p.id = a.participant_id"
        " WHERE a.area = ? AND a.round = 1 AND a.source = 'chat' AND a.skipped = 0 AND a.value IS NOT NULL"
        " AND p.consent = 'given' GROUP BY a.item, a.question, a.value",
        (area,),
    )
    counts: dict[str, list[int]] = {key: [0] * levels for key in questions}
    for item, question, value, n in await cur.fetchall():
        key = f"{area}.{item}.{question}"
        if key in counts and 1 <= value <= levels:
            counts[key][value - 1] += n
    return json.dumps({k: group_result(c).model_dump() for k, c in counts.items()}, ensure_ascii=False)


async def open_round(
    db: Database, area: str, questions: list[str], closes_at: datetime | None, now: datetime, levels: int = 5
) -> tuple[RoundView, bool]:
    """Open round 2 of `area` for `questions` (their keys), computing round 1's group result; returns
    the round and whether it was opened now. Already open: nothing changes but `closes_at`, when
    given. Closed before: opened again with the group result it had (what its panelists were shown)."""
    async with db.transaction() as conn:
        cur = await conn.execute(f"SELECT {_COLUMNS} FROM delphi_rounds WHERE area = ? AND round = ?", (area, ROUND))
        row = await cur.fetchone()
        if row is None:
            feedback = await _feedback(conn, area, questions, levels)
            await conn.execute(
                f"INSERT INTO delphi_rounds ({_COLUMNS}) VALUES (?, ?, ?, ?, NULL, ?)",
                (area, ROUND, iso(now), iso(closes_at) if closes_at else None, feedback),
            )
            opened = True
        else:
            opened = row[4] is not None  # closed: open it again (until `closes_at`, or until closed)
            if opened or closes_at is not None:
                await conn.execute(
                    "UPDATE delphi_rounds SET closed_at = NULL, closes_at = ? WHERE area = ? AND round = ?",
                    (iso(closes_at) if closes_at else None, area, ROUND),
                )
        cur = await conn.execute(f"SELECT {_COLUMNS} FROM delphi_rounds WHERE area = ? AND round = ?", (area, ROUND))
        return round_view(await cur.fetchone()), opened  # type: ignore[arg-type]


async def close_round(db: Database, area: str, now: datetime) -> RoundView | None:
    """Close the open round of `area`; None when none is open."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "UPDATE delphi_rounds SET closed_at = ? WHERE area = ? AND closed_at IS NULL", (iso(now), area)
        )
        if cur.rowcount != 1:
            return None
        cur = await conn.execute(f"SELECT {_COLUMNS} FROM delphi_rounds WHERE area = ? AND round = ?", (area, ROUND))
        return round_view(await cur.fetchone())  # type: ignore[arg-type]


async def close_expired(db: Database, now: datetime) -> list[RoundView]:
    """Close every open round whose closing time has come (the outreach sweep calls this)."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            f"UPDATE delphi_rounds SET closed_at = closes_at WHERE closed_at IS NULL AND closes_at IS NOT NULL"
            f" AND closes_at <= ? RETURNING {_COLUMNS}",
            (iso(now),),
        )
        return [round_view(r) for r in await cur.fetchall()]


async def rounds(db: Database) -> list[RoundView]:
    return [round_view(r) for r in await db.fetch_all(f"SELECT {_COLUMNS} FROM delphi_rounds ORDER BY area, round")]


async def open_rounds(db: Database) -> list[RoundView]:
    rows = await db.fetch_all(f"SELECT {_COLUMNS} FROM delphi_rounds WHERE closed_at IS NULL ORDER BY area, round")
    return [round_view(r) for r in rows]


async def invitees(db: Database, area: str) -> list[Recipient]:
    """Who round 2 of `area` is for: reachable (consenting, following) participants who completed
    round 1 of it."""
    rows = await db.fetch_all(
        f"SELECT {_RECIPIENT} FROM progress g JOIN participants p ON p.id = g.participant_id"
        f" WHERE g.area = ? AND g.completed_at IS NOT NULL AND {_REACHABLE} ORDER BY p.id",
        (area,),
    )
    return [Recipient(*r) for r in rows]
