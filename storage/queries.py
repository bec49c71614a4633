"""Read-only queries for exports: rows streamed from the cursor, never the raw platform id."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite

from .db import iso

BATCH = 2000


@dataclass(frozen=True)
class Filter:
    """Which answers an export covers; None means no limit."""

    area: str | None = None
    channel: str | None = None
    since: datetime | None = None  # answered at or after
    until: datetime | None = None  # answered before

    def where(self, answers: str = "a", participants: str = "p") -> tuple[str, list[Any]]:
        clauses, params = [f"{participants}.consent = 'given'"], []
        if self.area:
            clauses.append(f"{answers}.area = ?")
            params.append(self.area)
        if self.channel:
            clauses.append(f"{participants}.channel = ?")
            params.append(self.channel)
        if self.since:
            clauses.append(f"{answers}.answered_at >= ?")
            params.append(iso(self.since))
        if self.until:
            clauses.append(f"{answers}.answered_at < ?")
            params.append(iso(self.until))
        return " AND ".join(clauses), params


async def stream(
    conn: aiosqlite.Connection, sql: str, params: list[Any] | tuple[Any, ...] = ()
) -> AsyncIterator[tuple]:
    cur = await conn.execute(sql, params)
    try:
        while rows := await cur.fetchmany(BATCH):
            for row in rows:
                yield row
    finally:
        await cur.close()


RESPONSE_COLUMNS = (
    "respondent",
    "channel",
    "stakeholder_group",
    "region",
    "area",
    "item_id",
    "question_id",
    "value",
    "option_id",
    "text",
    "language",
    "answered_at",
)


def responses(conn: aiosqlite.Connection, flt: Filter) -> AsyncIterator[tuple]:
    """One row per answer given (skips are not answers), in a stable order."""
    where, params = flt.where()
    sql = (
        "SELECT p.pseudonym, p.channel, p.stakeholder, p.region, a.area, a.item, a.question,"
        " a.value, a.option, a.text, a.lang, a.answered_at"
        " FROM answers a JOIN participants p ON p.id = a.participant_id"
        f" WHERE a.skipped = 0 AND {where} ORDER BY p.id, a.area, a.answered_at, a.item, a.question"
    )
    return stream(conn, sql, params)


PARTICIPANT_COLUMNS = (
    "respondent",
    "channel",
    "stakeholder_group",
    "region",
    "age_band",
    "language",
    "consent_at",
    "consent_version",
    "areas_started",
    "areas_completed",
)


def participants(conn: aiosqlite.Connection, flt: Filter) -> AsyncIterator[tuple]:
    """Consenting participants with the areas they started and completed (space-separated ids)."""
    clauses, params = ["p.consent = 'given'"], []
    if flt.channel:
        clauses.append("p.channel = ?")
        params.append(flt.channel)
    area = ""
    if flt.area:
        area = " AND g.area = ?"
        params = [flt.area, flt.area, *params]
    sql = (
        "SELECT p.pseudonym, p.channel, p.stakeholder, p.region, p.age_band, p.lang, p.consent_at,"
        " p.consent_version,"
        f" (SELECT group_concat(area, ' ') FROM (SELECT g.area FROM progress g WHERE g.participant_id = p.id{area} ORDER BY g.area)),"
        f" (SELECT group_concat(area, ' ') FROM (SELECT g.area FROM progress g WHERE g.participant_id = p.id"
        f" AND g.completed_at IS NOT NULL{area} ORDER BY g.area))"
        f" FROM participants p WHERE {' AND '.join(clauses)} ORDER BY p.id"
    )
    return stream(conn, sql, params)
