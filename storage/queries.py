"""Queries for exports and reports: rows streamed from a cursor, aggregates computed in SQL.

Exports read through a `Snapshot` only (`async with snapshot(db) as snap:`), never a driver
connection: the SQL and the driver stay here, so another backend is another Snapshot. Nothing here
ever selects `participants.user_ref` (the platform id), and only participants who gave consent
appear in a row; the completion funnel alone counts the others, as bare numbers.
The two writers at the end keep the download-link key and load benchmark data.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .base import iso
from .conn import Conn
from .db import Database

BATCH = 2000
CONSENTED = "p.consent = 'given'"


@dataclass(frozen=True)
class Filter:
    """Which answers an export covers; None means no limit."""

    area: str | None = None
    channel: str | None = None
    since: datetime | None = None  # answered at or after
    until: datetime | None = None  # answered before

    def where(self, answers: str = "a", participants: str = "p") -> tuple[str, list[Any]]:
        """The WHERE clause for answers joined to their (consenting) participants."""
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


class Rows:
    """The rows of one query, fetched a batch at a time so memory stays bounded whatever the table
    size: `async for row in rows`, or `async for batch in rows.batches()` for a writer that takes
    a list at a time (a million rows cost a million async-generator steps otherwise)."""

    def __init__(self, reader: Any, sql: str, params: Sequence[Any] = ()):
        self.reader = reader
        self.sql = sql
        self.params = tuple(params)

    async def batches(self) -> AsyncIterator[list[tuple[Any, ...]]]:
        async with aclosing(self.reader.batches(self.sql, self.params, BATCH)) as batches:
            async for rows in batches:
                yield rows

    async def __aiter__(self) -> AsyncIterator[tuple[Any, ...]]:
        # Closed here, not by the garbage collector, when a reader stops early: the cursor must
        # close while the snapshot's connection is still open.
        async with aclosing(self.batches()) as batches:
            async for rows in batches:
                for row in rows:
                    yield row


_ANSWERS = "FROM answers a JOIN participants p ON p.id = a.participant_id"


def responses_sql(flt: Filter) -> tuple[str, list[Any]]:
    """The responses query (bench/export.py gives the same one to the sqlite3 command line)."""
    where, params = flt.where()
    sql = (
        "SELECT p.pseudonym, p.channel, p.stakeholder, p.region, a.area, a.item, a.question, a.round,"
        f" a.value, a.option, a.text, a.lang, a.answered_at, a.survey_version, a.source, a.session_id {_ANSWERS}"
        f" WHERE a.skipped = 0 AND {where} ORDER BY p.id, a.area, a.round, a.answered_at, a.item, a.question"
    )
    return sql, params


_TEXT = "a.skipped = 0 AND a.text IS NOT NULL AND a.text != ''"


def _order_cte(order: Sequence[tuple[str, str, str]]) -> tuple[str, list[Any]]:
    """A CTE `ord(area, item, question, pos)` giving questions their survey position."""
    if not order:
        return "ord(area, item, question, pos) AS (SELECT '', '', '', 0 WHERE 1 = 0)", []
    values = ", ".join("(?, ?, ?, ?)" for _ in order)
    params = [v for pos, key in enumerate(order) for v in (*key, pos)]
    return f"ord(area, item, question, pos) AS (VALUES {values})", params


def _funnel_where(flt: Filter, started: str) -> tuple[str, list[Any]]:
    clauses, params = ["1 = 1"], []
    if flt.channel:
        clauses.append("p.channel = ?")
        params.append(flt.channel)
    if flt.since:
        clauses.append(f"{started} >= ?")
        params.append(iso(flt.since))
    if flt.until:
        clauses.append(f"{started} < ?")
        params.append(iso(flt.until))
    return " AND ".join(clauses), params


class Snapshot:
    """A consistent, read-only view of the database for exports and reports: every method reads the
    same moment, whatever is written meanwhile. Rows come as `Rows` (streamed in batches), totals
    as ints. Get one with `async with snapshot(db) as snap:`; it is valid inside that block only.

    It reads through `Database.reader()` (SQLite: a read-only connection; PostgreSQL: a REPEATABLE
    READ transaction streaming through server-side cursors); callers never see the driver."""

    def __init__(self, reader: Any):
        self._reader = reader
        self._d = reader.dialect

    def _stream(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        return Rows(self._reader, sql, params)

    async def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = await (await self._reader.execute(sql, tuple(params))).fetchone()
        return row[0] if row else None

    # ---- answers ----------------------------------------------------------------------------------

    def responses(self, flt: Filter) -> Rows:
        """One row per answer given (skips are not answers), per participant, area and Delphi round in the
        order answered: (pseudonym, channel, stakeholder, region, area, item, question, round, value, option,
        text, lang, answered_at, survey_version, source, session_id)."""
        return self._stream(*responses_sql(flt))

    async def count_responses(self, flt: Filter) -> int:
        where, params = flt.where()
        return await self._scalar(f"SELECT count(*) {_ANSWERS} WHERE a.skipped = 0 AND {where}", params)

    def comments(
        self, flt: Filter, order: Sequence[tuple[str, str, str]] = (), *, unquotable: Iterable[str] = ()
    ) -> Rows:
        """Every free-text answer, grouped by question in survey `order` (unknown questions last):
        (pseudonym, channel, stakeholder, region, area, item, question, text, lang, answered_at).
        `unquotable`: notice versions whose consenters' comments are left out (what is quoted in a
        report: those notices promised aggregate results only)."""
        cte, cte_params = _order_cte(order)
        where, params = flt.where()
        versions = sorted(unquotable)
        if versions:
            marks = ", ".join("?" * len(versions))
            where += f" AND (p.consent_version IS NULL OR p.consent_version NOT IN ({marks}))"
            params = [*params, *versions]
        sql = (
            f"WITH {cte} SELECT p.pseudonym, p.channel, p.stakeholder, p.region, a.area, a.item, a.question,"
            f" a.text, a.lang, a.answered_at {_ANSWERS}"
            " LEFT JOIN ord o ON o.area = a.area AND o.item = a.item AND o.question = a.question"
            f" WHERE {_TEXT} AND {where}"
            " ORDER BY o.pos IS NULL, o.pos, a.area, a.item, a.question, a.answered_at, p.id"
        )
        return self._stream(sql, [*cte_params, *params])

    async def survey_versions(self, flt: Filter) -> list[tuple[str, str, int]]:
        """The survey versions of the answers `flt` selects: (version or '', first loaded at or '',
        answers), oldest first (answers stored before versions were recorded: '')."""
        where, params = flt.where()
        sql = (
            "SELECT coalesce(a.survey_version, ''), coalesce(min(v.first_loaded_at), ''), count(*)"
            f" {_ANSWERS} LEFT JOIN survey_versions v ON v.version = a.survey_version"
            f" WHERE a.skipped = 0 AND {where} GROUP BY coalesce(a.survey_version, '') ORDER BY 2, 1"
        )
        cur = await self._reader.execute(sql, tuple(params))
        return [(v, at, n) for v, at, n in await cur.fetchall()]

    async def count_comments(self, flt: Filter) -> int:
        where, params = flt.where()
        return await self._scalar(f"SELECT count(*) {_ANSWERS} WHERE {_TEXT} AND {where}", params)

    def rating_counts(self, flt: Filter) -> Rows:
        """Counts of each rating per question and (stakeholder, region, channel, Delphi round) cell,
        aggregated in SQL: (area, item, question, stakeholder, region, channel, round, n1, n2, n3, n4, n5,
        dont_know). Answers given in the room (source 'live') are not counted here: they are the
        room's second say, counted apart (live_counts).

        The result has at most questions × groups × regions × channels rows, whatever the number
        of answers; "don't know" is the option `dk`, which has no value."""
        where, params = flt.where()
        counts = ", ".join(f"count(CASE WHEN a.value = {v} THEN 1 END)" for v in range(1, 6))
        sql = (
            f"SELECT a.area, a.item, a.question, p.stakeholder, p.region, p.channel, a.round, {counts},"
            f" count(CASE WHEN a.option = 'dk' THEN 1 END) {_ANSWERS}"
            f" WHERE a.skipped = 0 AND a.option IS NOT NULL AND a.source = 'chat' AND {where}"
            " GROUP BY a.area, a.item, a.question, p.stakeholder, p.region, p.channel, a.round"
            " ORDER BY a.area, a.item, a.question, p.stakeholder, p.region, p.channel, a.round"
        )
        return self._stream(sql, params)

    def round_changes(self, flt: Filter) -> Rows:
        """Delphi convergence per question and round beyond the first: how many answered it both in
        round 1 and in that round (a level or rating, or don't know, each time), and how many of
        them changed their answer: (area, item, question, round, both, changed)."""
        where, params = flt.where("b")
        sql = (
            "SELECT b.area, b.item, b.question, b.round, count(*), count(CASE WHEN a.option <> b.option THEN 1 END)"
            " FROM answers b JOIN participants p ON p.id = b.participant_id"
            " JOIN answers a ON a.participant_id = b.participant_id AND a.area = b.area AND a.item = b.item"
            " AND a.question = b.question AND a.round = 1 AND a.source = b.source"
            " WHERE b.round > 1 AND b.skipped = 0 AND b.option IS NOT NULL AND a.skipped = 0"
            f" AND a.option IS NOT NULL AND {where}"
            " GROUP BY b.area, b.item, b.question, b.round ORDER BY b.area, b.item, b.question, b.round"
        )
        return self._stream(sql, params)

    def live_counts(self) -> Rows:
        """The answers given in the room during live sessions, counted per option:
        (session_id, title_th, title_en, area, item, question, option, answers), by session."""
        sql = (
            "SELECT s.id, s.title_th, s.title_en, a.area, a.item, a.question, a.option, count(*)"
            f" {_ANSWERS} JOIN sessions s ON s.id = a.session_id"
            f" WHERE a.source = 'live' AND a.skipped = 0 AND a.option IS NOT NULL AND {CONSENTED}"
            " GROUP BY s.id, s.title_th, s.title_en, a.area, a.item, a.question, a.option"
            " ORDER BY s.starts_at, s.id, a.area, a.item, a.question, a.option"
        )
        return self._stream(sql)

    def respondents(self, flt: Filter) -> Rows:
        """Distinct respondents per area, channel and region, and how many of them completed the area:
        (area, channel, region, respondents, completed)."""
        where, params = flt.where()
        sql = (
            "SELECT a.area, p.channel, p.region, count(DISTINCT p.id),"
            " count(DISTINCT CASE WHEN g.completed_at IS NOT NULL THEN p.id END)"
            f" {_ANSWERS} LEFT JOIN progress g ON g.participant_id = p.id AND g.area = a.area"
            f" WHERE a.skipped = 0 AND {where}"
            " GROUP BY a.area, p.channel, p.region ORDER BY a.area, p.channel, p.region"
        )
        return self._stream(sql, params)

    # ---- participants and the funnel ------------------------------------------------------------

    def participants(self, flt: Filter) -> Rows:
        """Consenting participants with the areas they started and completed (space-separated ids):
        (pseudonym, channel, stakeholder, region, age_band, lang, consent_at, consent_version,
        areas_started, areas_completed). With an area filter: those who started that area, and
        only that area listed. The time window does not apply: this is the key to responses."""
        clauses, params = [CONSENTED], []
        area = ""
        if flt.area:
            area = " AND g.area = ?"
            params = [flt.area, flt.area]
            clauses.append("EXISTS (SELECT 1 FROM progress g WHERE g.participant_id = p.id AND g.area = ?)")
        if flt.channel:
            clauses.append("p.channel = ?")
        params += [v for v in (flt.area, flt.channel) if v]
        joined = self._d.group_concat("area", " ")
        sql = (
            "SELECT p.pseudonym, p.channel, p.stakeholder, p.region, p.age_band, p.lang, p.consent_at,"
            " p.consent_version,"
            f" (SELECT {joined} FROM"
            f" (SELECT g.area FROM progress g WHERE g.participant_id = p.id{area} ORDER BY g.area) x),"
            f" (SELECT {joined} FROM (SELECT g.area FROM progress g WHERE g.participant_id = p.id"
            f" AND g.completed_at IS NOT NULL{area} ORDER BY g.area) y)"
            f" FROM participants p WHERE {' AND '.join(clauses)} ORDER BY p.id"
        )
        return self._stream(sql, params)

    def funnel(self, flt: Filter) -> Rows:
        """The completion funnel per area and channel, as counts only: (area, channel, started,
        consented, completed).

        An area is started when a participant opened it, or arrived through its deep link and has not
        yet reached it (consent and profile come first); consented counts those who gave consent;
        completed, those who finished it. The row with area '' is the bot as a whole: everyone who
        started a conversation, those who consented, those who completed at least one area. The time
        window applies to when the area (or conversation) was started."""
        where, params = _funnel_where(flt, "coalesce(g.started_at, p.created_at)")
        area_where, area_params = "", []
        if flt.area:
            area_where, area_params = " AND e.area = ?", [flt.area]
        pending = self._d.json_text("cursor", "pending_area")
        per_area = (
            "WITH entered(pid, area) AS (SELECT participant_id, area FROM progress"
            f" UNION SELECT id, {pending} FROM participants"
            f" WHERE {pending} IS NOT NULL)"
            " SELECT e.area, p.channel, count(*), count(CASE WHEN p.consent = 'given' THEN 1 END),"
            " count(CASE WHEN p.consent = 'given' AND g.completed_at IS NOT NULL THEN 1 END)"
            " FROM entered e JOIN participants p ON p.id = e.pid"
            " LEFT JOIN progress g ON g.participant_id = e.pid AND g.area = e.area"
            f" WHERE {where}{area_where} GROUP BY e.area, p.channel"
        )
        total_where, total_params = _funnel_where(flt, "p.created_at")
        done = "EXISTS (SELECT 1 FROM progress d WHERE d.participant_id = p.id AND d.completed_at IS NOT NULL)"
        overall = (
            "SELECT '', p.channel, count(*), count(CASE WHEN p.consent = 'given' THEN 1 END),"
            f" count(CASE WHEN p.consent = 'given' AND {done} THEN 1 END)"
            f" FROM participants p WHERE {total_where} GROUP BY p.channel"
        )
        if flt.area:  # the bot-wide row means nothing for one area
            sql, all_params = f"{per_area} ORDER BY 1, 2", [*params, *area_params]
        else:
            sql, all_params = f"{per_area} UNION ALL {overall} ORDER BY 1, 2", [*params, *total_params]
        return self._stream(sql, all_params)

    # ---- focus-group sessions -------------------------------------------------------------------

    def sessions(self, flt: Filter) -> Rows:
        """Focus-group sessions with their count of (consenting) registrations:
        (id, area, title_th, title_en, starts_at, ends_at, place, capacity, status, registrations,
        created_at, updated_at). Only the area filter applies."""
        clauses, params = ["1 = 1"], []
        if flt.area:
            clauses.append("s.area = ?")
            params.append(flt.area)
        sql = (
            "SELECT s.id, s.area, s.title_th, s.title_en, s.starts_at, s.ends_at, s.place, s.capacity, s.status,"
            " (SELECT count(*) FROM registrations r JOIN participants p ON p.id = r.participant_id"
            f" WHERE r.session_id = s.id AND {CONSENTED}), s.created_at, s.updated_at"
            f" FROM sessions s WHERE {' AND '.join(clauses)} ORDER BY s.starts_at, s.id"
        )
        return self._stream(sql, params)

    def registrations(self, flt: Filter) -> Rows:
        """One row per registration of a consenting participant:
        (session_id, area, pseudonym, channel, stakeholder, region, registered_at)."""
        clauses, params = [CONSENTED], []
        if flt.area:
            clauses.append("s.area = ?")
            params.append(flt.area)
        if flt.channel:
            clauses.append("p.channel = ?")
            params.append(flt.channel)
        sql = (
            "SELECT s.id, s.area, p.pseudonym, p.channel, p.stakeholder, p.region, r.registered_at"
            " FROM registrations r JOIN sessions s ON s.id = r.session_id"
            " JOIN participants p ON p.id = r.participant_id"
            f" WHERE {' AND '.join(clauses)} ORDER BY s.starts_at, s.id, r.registered_at, p.id"
        )
        return self._stream(sql, params)


@asynccontextmanager
async def snapshot(db: Database) -> AsyncIterator[Snapshot]:
    """A read-only snapshot of `db` for the duration of the block."""
    async with db.reader() as conn:
        yield Snapshot(conn)


# ---- writers ----------------------------------------------------------------------------------


async def meta_key(db: Database, key: str) -> str:
    """A secret kept in the meta table, generated on first use; concurrent first uses agree."""

    async def unit(conn: Conn) -> str:
        await conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", (key, secrets.token_hex(32))
        )
        cur = await conn.execute("SELECT value FROM meta WHERE key = ?", (key,))
        (value,) = await cur.fetchone()  # type: ignore[misc]
        return value

    return await db.run(unit)


async def bulk_load(
    db: Database,
    participants: Iterable[tuple[Any, ...]],
    answers: Iterable[tuple[Any, ...]],
    progress: Iterable[tuple[Any, ...]] = (),
) -> None:
    """Insert prepared rows in one transaction, bypassing the engine (benchmarks and big tests).

    participants: (id, channel, user_ref, pseudonym, lang, consent, consent_at, stakeholder, region,
    age_band, created_at); answers: (participant_id, area, item, question, option, value, text,
    skipped, lang, answered_at); progress: (participant_id, area, started_at, completed_at)."""

    async def unit(conn: Conn) -> None:
        await conn.executemany(
            "INSERT INTO participants (id, channel, user_ref, pseudonym, lang, consent, consent_at, stakeholder,"
            " region, age_band, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ((*row, row[-1]) for row in participants),
        )
        await conn.executemany(
            "INSERT INTO answers (participant_id, area, item, question, option, value, text, skipped, lang,"
            " answered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            answers,
        )
        await conn.executemany(
            "INSERT INTO progress (participant_id, area, started_at, completed_at) VALUES (?, ?, ?, ?)", progress
        )
        if conn.dialect.postgres:  # ids given explicitly: the identity must start after them
            await conn.execute(
                "SELECT setval(pg_get_serial_sequence('participants', 'id'), coalesce(max(id), 0) + 1, false)"
                " FROM participants"
            )
            await conn.execute(
                "ANALYZE participants, answers, progress"
            )  # the planner's statistics, as autovacuum would

    await db.run(unit)
