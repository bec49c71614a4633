"""Keeping data as promised: the retention purge, and online backups."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from datetime import datetime
from pathlib import Path

from .db import PRIVATE_FILE, Database, iso, private_dir, private_file


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


def backup(source: Path, target: Path) -> int:
    """An online backup (SQLite's backup API): consistent while the bot keeps writing. Written
    to a temporary name and renamed, so a backup on disk is always whole. Returns its pages."""
    private_dir(target.parent)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    private_file(tmp)  # a backup holds everything the database does: 0600 from its first byte
    with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src, closing(sqlite3.connect(tmp)) as dst:
        src.backup(dst, pages=1024)
        (pages,) = dst.execute("PRAGMA page_count").fetchone()
        (check,) = dst.execute("PRAGMA integrity_check").fetchone()
    if check != "ok":
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"backup failed its integrity check: {check}")
    os.chmod(tmp, PRIVATE_FILE)
    os.replace(tmp, target)
    return int(pages)
