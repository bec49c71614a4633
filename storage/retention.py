"""Keeping data as promised: which tables hold personal data and how each is erased and purged
(COVERAGE, declared as data and checked against the schema by tests/test_pdpa.py), the retention
purge, and online backups."""

from __future__ import annotations

import os
import re
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .base import PRIVATE_FILE, iso, private_dir, private_file

if TYPE_CHECKING:  # the database builds on the coverage declared here
    from .conn import Conn
    from .db import Database

CASCADE = "cascade"  # rows that go with their participant (ON DELETE CASCADE from participants)

# A column whose name looks like this holds personal data: its table must be in COVERAGE.
LOOKS_PERSONAL = re.compile(r"user|participant|pseudonym|requested_by|^(body|context|text|ref|cursor)$")


@dataclass(frozen=True)
class Coverage:
    """How one table's personal data is kept as promised.

    `erase` removes one participant's rows when they ask (named parameters :pid, :channel,
    :user_ref, :seq, the inbox row of the request); `purge` removes what is older than :cutoff (the
    retention period) or, for people who never consented, older than :unconsented. Either may be
    CASCADE: the rows go when their participant row goes."""

    personal: tuple[str, ...]
    erase: str
    purge: str


# In purge order: participants last, so that each table's own count is its own rows.
COVERAGE: dict[str, Coverage] = {
    "answers": Coverage(
        ("participant_id", "text", "ref"), erase=CASCADE, purge="DELETE FROM answers WHERE answered_at < :cutoff"
    ),
    "progress": Coverage(("participant_id",), erase=CASCADE, purge=CASCADE),
    "registrations": Coverage(("participant_id",), erase=CASCADE, purge=CASCADE),
    "checkins": Coverage(("participant_id",), erase=CASCADE, purge=CASCADE),  # live sessions checked in to
    "live_sessions": Coverage(
        ("requested_by",),  # the organizer driving it, told how each wave went
        erase="UPDATE live_sessions SET requested_by = NULL WHERE requested_by = :channel || ':' || :user_ref",
        purge="UPDATE live_sessions SET requested_by = NULL WHERE requested_by IS NOT NULL AND started_at < :cutoff",
    ),
    "deliveries": Coverage(("participant_id", "ref"), erase=CASCADE, purge=CASCADE),  # ref: what was sent
    "inbox": Coverage(
        ("user_ref", "body", "context"),
        # the rows up to the request hold their id and words; later ones are still to be handled
        erase="DELETE FROM inbox WHERE channel = :channel AND user_ref = :user_ref AND seq <= :seq",
        # a processed row is only a dedupe key (`events` dedupes too): it goes with the short window
        purge="DELETE FROM inbox WHERE received_at < :cutoff OR (processed = 1 AND received_at < :unconsented)",
    ),
    "flood": Coverage(
        ("user_ref", "seen", "noticed_at"),  # when a sender wrote: useful for one flood window only
        erase="DELETE FROM flood WHERE channel = :channel AND user_ref = :user_ref",
        purge="DELETE FROM flood WHERE updated_at < :unconsented",
    ),
    "broadcasts": Coverage(
        ("requested_by",),  # the admin who asked, to report to
        erase="UPDATE broadcasts SET requested_by = NULL"
        " WHERE requested_by = CAST(:channel AS TEXT) || ':' || CAST(:user_ref AS TEXT)",
        purge="UPDATE broadcasts SET requested_by = NULL WHERE requested_by IS NOT NULL AND created_at < :cutoff",
    ),
    "participants": Coverage(
        ("user_ref", "pseudonym", "lang", "consent", "stakeholder", "region", "age_band", "cursor"),
        erase="DELETE FROM participants WHERE id = :pid",
        # silent for the retention period, or never consented and silent for the short window
        purge="DELETE FROM participants WHERE updated_at < :cutoff"
        " OR (consent IS DISTINCT FROM 'given' AND updated_at < :unconsented)",
    ),
}


def erasures() -> list[str]:
    """The statements that erase one participant from every covered table (the rest cascade)."""
    return [c.erase for c in COVERAGE.values() if c.erase != CASCADE]


async def purge_before(db: Database, cutoff: datetime, *, unconsented_before: datetime | None = None) -> dict[str, int]:
    """Delete what is older than `cutoff` in every covered table (participants silent since then
    go with all that is theirs), the rows of people who never consented and are silent since
    `unconsented_before`, and event ids older than `cutoff`. Returns counts by table."""
    params = {"cutoff": iso(cutoff), "unconsented": iso(unconsented_before or cutoff)}

    async def unit(conn: Conn) -> dict[str, int]:
        counts: dict[str, int] = {}
        for table, coverage in COVERAGE.items():
            if coverage.purge != CASCADE:
                cur = await conn.execute(coverage.purge, params)
                counts[table] = cur.rowcount
        cur = await conn.execute("DELETE FROM events WHERE received_at < :cutoff", params)
        counts["events"] = cur.rowcount
        return counts

    counts = await db.run(unit)
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
