"""The retention purge: what is older than RABFANG_RETENTION_DAYS goes, as the notice promises."""

from __future__ import annotations

from datetime import datetime

from .db import Database, iso


async def purge_before(db: Database, cutoff: datetime) -> dict[str, int]:
    """Delete answers given before `cutoff`, participants silent since then (with all that is
    theirs), and processed event ids older than it. Returns counts by table."""
    at = iso(cutoff)
    counts: dict[str, int] = {}
    async with db.transaction() as conn:
        for table, sql in (
            ("answers", "DELETE FROM answers WHERE answered_at < ?"),
            ("participants", "DELETE FROM participants WHERE updated_at < ?"),
            ("events", "DELETE FROM events WHERE received_at < ?"),
        ):
            cur = await conn.execute(sql, (at,))
            counts[table] = cur.rowcount
    if any(counts.values()):
        await db.checkpoint()
    return counts
