"""The database: the one storage interface callers use, over SQLite or PostgreSQL.

`Database.open(target)` takes what `RABFANG_DB` says: a file path (SQLite, the embedded default:
storage/sqlite.py) or a `postgresql://user:password@host:port/dbname` URL (storage/postgres.py).
Anything else is refused (`UnsupportedDatabase`). Both run the same SQL, written once in this
package (storage/dialect.py keeps the differences), and the same numbered migrations in
`storage/migrations/`, recorded in a table.

A unit of work is one call: `handle_event` (claim the event id, load the participant, decide,
save, mark the inbox row) or `run(unit)` for any other write, one transaction each, all or
nothing. On SQLite it runs on the writer thread in one hop and events are group-committed; on
PostgreSQL it is one transaction on a pooled connection.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from bot.model import (
    Answer,
    FloodMarks,
    GroupResult,
    Outcome,
    RoundView,
    SessionView,
    State,
    answer_key,
    key_parts,
)

from . import live
from .base import Rejected, StorageError, iso, parse_time
from .conn import Conn
from .retention import erasures
from .sqlite import BUSY_TIMEOUT_MS, PRAGMAS, SqliteBackend, WriterLock

__all__ = ["BUSY_TIMEOUT_MS", "PRAGMAS", "Database", "Rejected", "StorageError", "UnsupportedDatabase", "WriterLock"]

T = TypeVar("T")

# Flood control, as the service decides it: given the state and the sender's marks, what to do
# instead of the decision (None: let it through) and the marks to keep (bot/service.py FloodGate).
Flood = Callable[[State, FloodMarks], tuple[Outcome | None, FloodMarks]]

POSTGRES_SCHEMES = ("postgresql", "postgres")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")


class UnsupportedDatabase(ValueError):
    """RABFANG_DB names a database rabfang cannot use."""


def database_target(value: str | Path) -> Path | str:
    """What RABFANG_DB means: a Path (a SQLite file) or a PostgreSQL URL (kept as the string).

    Refused, with what to write instead: any other scheme (`mysql://…`, `sqlite:///…`), and a
    PostgreSQL URL that lost a slash on its way (`postgresql:/host/db`, what a path would make of it)."""
    if isinstance(value, Path):
        text = str(value)
        if _SCHEME.match(text):  # a URL that went through Path() lost its '//': say so, never open it
            raise UnsupportedDatabase(_refusal(text))
        return value
    text = value.strip()
    m = _SCHEME.match(text)
    if m is None:
        return Path(text)
    scheme = m.group(1).lower()
    if scheme in POSTGRES_SCHEMES and text[m.end() : m.end() + 2] == "//":
        return text
    raise UnsupportedDatabase(_refusal(text))


def _refusal(text: str) -> str:
    scheme = text.split(":", 1)[0]
    return (
        f"RABFANG_DB: cannot use a {scheme!r} database ({scheme}:…). rabfang stores its data in SQLite"
        " (RABFANG_DB=path/to/rabfang.db, a file path, no scheme) or PostgreSQL"
        " (RABFANG_DB=postgresql://user:password@host:5432/dbname)."
    )


def split_key(key: str) -> tuple[str, str, str, int, str]:
    """The answers table's key columns (area, item, question, round, source) of a State.answers key."""
    question_key, round, source = key_parts(key)
    area, item, question = question_key.split(".", 2)
    return area, item, question, round, source


class Database:
    """An open rabfang database. Use `async with await Database.open(target) as db:`."""

    def __init__(self, backend: Any, pseudonym_key: bytes, path: Path | None, url: str | None):
        self._b = backend
        self._key = pseudonym_key
        self._pseudonyms: dict[tuple[str, str], str] = {}  # HMACs already worked out: one per event adds up
        self.path = path  # the SQLite file; None on PostgreSQL
        self.url = url  # the PostgreSQL URL; None on SQLite
        self.dialect = backend.dialect
        self._closed = False

    @property
    def backend(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self.dialect.name

    # ---- lifecycle ---------------------------------------------------------------------------

    @classmethod
    async def open(cls, target: str | Path, pseudonym_key: str | None = None) -> Database:
        where = database_target(target)
        if isinstance(where, Path):
            backend: Any = SqliteBackend(where)
        else:
            from .postgres import PostgresBackend  # psycopg is needed only for PostgreSQL

            backend = PostgresBackend(where)
        await backend.connect()
        try:
            await backend.migrate(migration_files())
            key = pseudonym_key or await backend.run(_stored_key)
        except BaseException:
            await backend.close()
            raise
        path, url = (where, None) if isinstance(where, Path) else (None, where)
        return cls(backend, key.encode(), path, url)

    async def close(self) -> None:
        """Close the database (once: a second call does nothing)."""
        if self._closed:
            return
        self._closed = True
        await self._b.close()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- units of work -----------------------------------------------------------------------

    async def run(self, unit: Callable[[Conn], Awaitable[T]], *, urgent: bool = False, keeps_states: bool = False) -> T:
        """One write transaction around `unit(conn)`, all or nothing; a database error surfaces as
        StorageError. `unit` uses only `await conn.execute(...)`/`executemany` (on SQLite it runs on
        the writer thread, where those never suspend). `urgent` goes ahead of queued work
        (SQLite's WriterLock). `keeps_states`: the unit changes no participant's state (their
        profile, place, answers, progress, registrations), so the states SQLite keeps for the next
        event stay valid; by default any write forgets them."""
        return await self._b.run(unit, urgent, keeps_states)

    @asynccontextmanager
    async def transaction(self, urgent: bool = False) -> AsyncIterator[Conn]:
        """A write transaction whose statements are awaited one by one (tests and tools; storage
        itself uses `run`, one hop per unit of work)."""
        async with self._b.transaction(urgent) as conn:
            yield conn

    def pseudonym(self, channel: str, user_ref: str) -> str:
        """The stable, keyed pseudonym exports show instead of the platform id. It starts with a
        letter so that Excel never reads it as a number (`12e45…`)."""
        known = self._pseudonyms.get((channel, user_ref))
        if known is None:
            if len(self._pseudonyms) >= 10_000:  # a bound, not an LRU: refilling costs one HMAC each
                self._pseudonyms.clear()
            known = "P" + hmac.new(self._key, f"{channel}:{user_ref}".encode(), hashlib.sha256).hexdigest()[:15]
            self._pseudonyms[(channel, user_ref)] = known
        return known

    async def handle_event(
        self,
        channel: str,
        user_ref: str,
        event_id: str | None,
        decide: Callable[[State], Outcome],
        now: datetime,
        *,
        inbox_seq: int | None = None,
        survey_version: str | None = None,
        flood: Flood | None = None,
    ) -> Outcome | None:
        """The unit of work of one event, all or nothing: claim its id, load the participant, apply
        `decide` (a pure function of their state: the engine's decision, no I/O), store the result,
        and mark the inbox row it came from (`inbox_seq`) processed. One write transaction (on
        SQLite committed with the events beside it). Answers given now keep `survey_version`, the
        surveys they were given under.

        A registration for a session with a capacity is decided again from the session's count as
        it is under the session's lock (`_seats`). `flood` judges a decision that took no answer
        from the sender's stored marks, read and kept here: one limit, whichever worker decides.

        Returns None when the event id was seen before (a redelivery changes nothing)."""
        backend = self._b

        async def unit(db: Conn) -> Outcome | None:
            await backend.lock_event(db, channel, user_ref)
            if event_id is not None and not await _claim(db, channel, event_id, now):
                await _mark_processed(db, channel, inbox_seq, now)
                return None
            states, key = db.states, (channel, user_ref)
            kept = states.get(key) if states is not None else None
            if kept is not None:  # what the previous event of theirs committed: no need to read it back
                fresh = {"offers": await _offers(db, now), "rounds": await _rounds(db), "live": await _running(db)}
                pid, state = kept[0], kept[1].model_copy(update=fresh)
            else:
                pid, state = await _load(db, channel, user_ref, now)
            outcome = decide(state)
            state, outcome = await _seats(db, backend, state, outcome, decide)
            if flood is not None and not outcome.accepted:  # an answer taken is never held nor counted
                marks = await _flood_marks(db, channel, user_ref)
                held, kept = flood(state, marks)
                outcome = held if held is not None else outcome
                if kept != marks:
                    await _keep_flood_marks(db, channel, user_ref, kept, now)
            if outcome.erase:
                await _erase(db, pid, channel, user_ref, inbox_seq, now)
                if states is not None:
                    states.forget(key)
            else:
                if pid is not None or outcome.state != state:
                    pid = await _save(
                        db,
                        pid,
                        (channel, user_ref, self.pseudonym(channel, user_ref)),
                        state,
                        outcome.state,
                        now,
                        survey_version,
                    )
                    if states is not None:
                        if reloads_as_is(outcome.state):
                            states.put(key, pid, outcome.state)
                        else:
                            states.forget(key)
                # else: someone we never heard from, whose event changed nothing (a forged tap, a
                # sticker): there is nothing about them worth keeping, not even their platform id
                await _mark_processed(db, channel, inbox_seq, now)
            return outcome

        outcome = await backend.handle(unit)
        if outcome is not None and outcome.erase:
            await self.checkpoint()  # old page images in the WAL would still hold the erased rows
        return outcome

    async def checkpoint(self) -> bool:
        """SQLite: copy the WAL into the database file and truncate it, so that no old page image
        (an erased participant's rows, with secure_delete zeroed in the newer images) stays on disk.

        Never waits for a reader: an open export or download may still need the old images, and
        waiting for it would hold every participant's write. Returns whether the WAL is now empty;
        if not, a background task tries again, briefly taking the writer's turn each time, until
        the readers have let go. PostgreSQL: nothing to do (True)."""
        return await self._b.checkpoint()

    async def claim_event(
        self, channel: str, event_id: str | None, now: datetime, *, inbox_seq: int | None = None
    ) -> bool:
        """Record an event id (and mark its inbox row processed) on its own; False when it was
        already there. For events whose effects are not a participant's state (admin commands)."""

        async def unit(db: Conn) -> bool:
            claimed = event_id is None or await _claim(db, channel, event_id, now)
            await _mark_processed(db, channel, inbox_seq, now)
            return claimed

        return await self._b.run(unit, False, True)

    async def set_active(
        self,
        channel: str,
        user_ref: str,
        active: bool,
        now: datetime,
        *,
        event_id: str | None = None,
        inbox_seq: int | None = None,
    ) -> bool:
        """Mark a participant as following the bot or not (unfollow, block, unblock), claiming the
        event that said so; False when that event was handled before."""

        async def unit(db: Conn) -> bool:
            if event_id is not None and not await _claim(db, channel, event_id, now):
                claimed = False
            else:
                claimed = True
                await db.execute(
                    "UPDATE participants SET active = ?, updated_at = ? WHERE channel = ? AND user_ref = ?",
                    (int(active), iso(now), channel, user_ref),
                )
            await _mark_processed(db, channel, inbox_seq, now)
            return claimed

        return await self._b.run(unit, False, True)  # `active` is no part of the state

    async def load_state(self, channel: str, user_ref: str, now: datetime | None = None) -> State:
        async def unit(db: Conn) -> State:
            return (await _load(db, channel, user_ref, now or datetime.now(UTC)))[1]

        return await self._b.read(unit)

    async def record_survey_version(self, version: str, content: str, now: datetime) -> bool:
        """Keep the surveys in use by their version, once; True when this version is new."""

        async def unit(db: Conn) -> bool:
            cur = await db.execute(
                "INSERT INTO survey_versions (version, first_loaded_at, content) VALUES (?, ?, ?)"
                " ON CONFLICT (version) DO NOTHING",
                (version, iso(now), content),
            )
            return cur.rowcount == 1

        return await self._b.run(unit, False, True)

    async def is_active(self, channel: str, user_ref: str) -> bool | None:
        """Whether a participant still follows the bot; None when there is no such participant."""
        rows = await self.fetch_all(
            "SELECT active FROM participants WHERE channel = ? AND user_ref = ?", (channel, user_ref)
        )
        return bool(rows[0][0]) if rows else None

    async def meta(self, key: str) -> str | None:
        rows = await self.fetch_all("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    # ---- reading -------------------------------------------------------------------------------

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[Any]:
        """A separate read-only snapshot that never blocks writers (storage.queries.Snapshot reads
        through it): `await r.execute(sql, params)` for a result, `r.batches(sql, params, n)` to
        stream (PostgreSQL: a server-side cursor)."""
        async with self._b.reader() as reader:
            yield reader

    async def fetch_all(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one statement (SQLite-style placeholders), on the writer's connection."""
        try:
            return await self._b.fetch_all(sql, params)
        except StorageError:
            raise
        except OverflowError as exc:  # sqlite3 binding an integer beyond 64 bits
            raise Rejected(str(exc)) from exc
        except Exception as exc:
            if type(exc).__module__.startswith(("sqlite3", "psycopg")):
                raise (Rejected if type(exc).__name__ == "DataError" else StorageError)(str(exc)) from exc
            raise

    async def set_trace(self, callback: Callable[[str], None] | None) -> None:
        """SQLite only: call `callback` with each statement the writer runs (tests count them)."""
        await self._b.set_trace(callback)

    @property
    def batches(self) -> Sequence[int]:
        """SQLite: the sizes of recent group commits (bench/durable.py reports them)."""
        return getattr(self._b, "batches", ())


def migration_files() -> list[tuple[str, str]]:
    folder = resources.files("storage") / "migrations"
    files = sorted((f.name, f.read_text(encoding="utf-8")) for f in folder.iterdir() if f.name.endswith(".sql"))
    return files


async def _stored_key(conn: Conn) -> str:
    """The pseudonym key: generated once, kept in the database's meta table, never exported."""
    cur = await conn.execute("SELECT value FROM meta WHERE key = 'pseudonym_key'")
    row = await cur.fetchone()
    if row:
        return row[0]
    key = secrets.token_hex(32)
    await conn.execute("INSERT INTO meta (key, value) VALUES ('pseudonym_key', ?) ON CONFLICT (key) DO NOTHING", (key,))
    cur = await conn.execute("SELECT value FROM meta WHERE key = 'pseudonym_key'")
    return (await cur.fetchone())[0]


async def _mark_processed(db: Conn, channel: str, seq: int | None, now: datetime) -> None:
    """Done with an inbox row: keep its event id for dedupe, drop what it said and how to answer it."""
    if seq is not None:
        await db.execute(
            "UPDATE inbox SET processed = 1, processed_at = ?, body = NULL, context = NULL WHERE channel = ? AND seq = ?",
            (iso(now), channel, seq),
        )


async def _claim(db: Conn, channel: str, event_id: str, now: datetime) -> bool:
    cur = await db.execute(
        "INSERT INTO events (channel, event_id, received_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        (channel, event_id, iso(now)),
    )
    return cur.rowcount == 1


_PARTICIPANT_COLUMNS = "id, lang, consent, consent_at, consent_version, stakeholder, region, age_band, cursor"


async def _load(db: Conn, channel: str, user_ref: str, now: datetime) -> tuple[int | None, State]:
    cur = await db.execute(
        f"SELECT {_PARTICIPANT_COLUMNS} FROM participants WHERE channel = ? AND user_ref = ?", (channel, user_ref)
    )
    row = await cur.fetchone()
    offers, rounds = await _offers(db, now), await _rounds(db)
    running, checkins = await live.load(db, row[0] if row else None)
    if row is None:
        return None, State(offers=offers, rounds=rounds, live=running)
    pid, lang, consent, consent_at, version, group, region, age, cursor = row
    answers = {}
    cur = await db.execute(
        "SELECT area, item, question, round, source, option, value, text, skipped, lang, answered_at, ref,"
        " session_id FROM answers WHERE participant_id = ?",
        (pid,),
    )
    rows = await cur.fetchall()
    for area, item, question, round, source, option, value, text, skipped, alang, at, ref, session in rows:
        answers[answer_key(f"{area}.{item}.{question}", round, source)] = Answer(
            option=option,
            value=value,
            text=text,
            skipped=bool(skipped),
            lang=alang,
            at=datetime.fromisoformat(at),
            ref=ref,
            session=session,
        )
    started, completed = {}, {}
    cur = await db.execute("SELECT area, started_at, completed_at FROM progress WHERE participant_id = ?", (pid,))
    for area, started_at, completed_at in await cur.fetchall():
        started[area] = datetime.fromisoformat(started_at)
        if completed_at:
            completed[area] = datetime.fromisoformat(completed_at)
    cur = await db.execute("SELECT session_id, registered_at FROM registrations WHERE participant_id = ?", (pid,))
    registrations = {sid: datetime.fromisoformat(at) for sid, at in await cur.fetchall()}
    state = State(
        registrations=registrations,
        lang=lang,
        consent=consent,
        consent_at=parse_time(consent_at),
        consent_version=version,
        group=group,
        region=region,
        age=age,
        answers=answers,
        started=started,
        completed=completed,
        offers=offers,
        rounds=rounds,
        live=running,
        checkins=checkins,
        **json.loads(cursor),
    )
    return pid, state


SESSION_COLUMNS = (
    "s.id, s.area, s.title_th, s.title_en, s.starts_at, s.ends_at, s.place, s.capacity,"
    " (SELECT count(*) FROM registrations r WHERE r.session_id = s.id), s.status"
)


def session_view(row: tuple) -> SessionView:
    sid, area, th, en, starts, ends, place, capacity, taken, status = row
    return SessionView(
        id=sid,
        area=area,
        title_th=th,
        title_en=en,
        starts_at=datetime.fromisoformat(starts),
        ends_at=parse_time(ends),
        place=place,
        capacity=capacity,
        taken=taken,
        status=status,
    )


async def _seats(
    db: Conn, backend: Any, state: State, outcome: Outcome, decide: Callable[[State], Outcome]
) -> tuple[State, Outcome]:
    """Registrations for sessions with a capacity, checked under the sessions' locks (PostgreSQL:
    their rows FOR UPDATE until the commit; SQLite's one writer is serial already). The seats
    `state` counted were read before the lock, and another worker may have taken the last one
    since: when a session's count has changed, the event is decided again from the fresh count,
    and the engine says the session is full. Returns the state decided from and its outcome."""
    locked: set[int] = set()
    while wanted := _new_seats(state, outcome) - locked:
        locked |= wanted
        await backend.lock_sessions(db, sorted(wanted))
        # a statement of its own after the lock: under READ COMMITTED it sees what the holder committed
        cur = await db.execute(
            f"SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.id IN ({', '.join('?' * len(wanted))})",
            tuple(sorted(wanted)),
        )
        fresh = {v.id: v for v in map(session_view, await cur.fetchall())}
        offers = tuple(fresh.get(o.id, o) for o in state.offers if o.id not in wanted or o.id in fresh)
        if offers == state.offers:
            break
        db.cache.pop("offers", None)
        state = state.model_copy(update={"offers": offers})
        outcome = decide(state)
    return state, outcome


def _new_seats(old: State, outcome: Outcome) -> set[int]:
    """The sessions `outcome` registers for that may have a capacity (any not offered unlimited)."""
    unlimited = {o.id for o in old.offers if o.capacity is None}
    return {sid for sid in outcome.state.registrations if sid not in old.registrations and sid not in unlimited}


async def _flood_marks(db: Conn, channel: str, user_ref: str) -> FloodMarks:
    cur = await db.execute("SELECT seen, noticed_at FROM flood WHERE channel = ? AND user_ref = ?", (channel, user_ref))
    row = await cur.fetchone()
    if row is None:
        return FloodMarks()
    return FloodMarks(tuple(map(datetime.fromisoformat, json.loads(row[0]))), parse_time(row[1]))


async def _keep_flood_marks(db: Conn, channel: str, user_ref: str, marks: FloodMarks, now: datetime) -> None:
    await db.execute(
        "INSERT INTO flood (channel, user_ref, seen, noticed_at, updated_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (channel, user_ref) DO UPDATE SET seen = excluded.seen, noticed_at = excluded.noticed_at,"
        " updated_at = excluded.updated_at",
        (
            channel,
            user_ref,
            json.dumps([iso(t) for t in marks.seen]),
            iso(marks.noticed) if marks.noticed else None,
            iso(now),
        ),
    )


async def _offers(db: Conn, now: datetime) -> tuple[SessionView, ...]:
    """Sessions not yet started, for the engine to offer (read inside the event's transaction,
    so a capacity check and the registration it allows are one atomic step).

    Within one transaction (a group commit's batch) the list is read once and filtered for later
    events, until a registration changes (`_save`, `_erase` drop it): what the query would give."""
    cached = db.cache.get("offers")
    if cached is not None:
        at, offers, whole = cached
        if now >= at:
            kept = tuple(s for s in offers if s.starts_at > now)
            if whole or len(kept) == len(offers):
                return kept
    cur = await db.execute(
        f"SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.status = 'scheduled' AND s.starts_at > ?"
        f" ORDER BY s.starts_at, s.id LIMIT {OFFERS}",
        (iso(now),),
    )
    offers = tuple(session_view(row) for row in await cur.fetchall())
    db.cache["offers"] = (now, offers, len(offers) < OFFERS)
    return offers


OFFERS = 50  # sessions offered at most

ROUND_COLUMNS = "area, round, opened_at, closes_at, closed_at, feedback"


def round_view(row: tuple) -> RoundView:
    """A delphi_rounds row (ROUND_COLUMNS) as the engine sees it."""
    area, number, opened, closes, closed, feedback = row
    return RoundView(
        area=area,
        round=number,
        opened_at=datetime.fromisoformat(opened),
        closes_at=parse_time(closes),
        closed_at=parse_time(closed),
        feedback={k: GroupResult(**v) for k, v in json.loads(feedback).items()},
    )


async def _rounds(db: Conn) -> tuple[RoundView, ...]:
    """The Delphi rounds beyond the first (a handful of rows: see storage.delphi), for the engine;
    read once per transaction (events never change them)."""
    if (cached := db.cache.get("rounds")) is not None:
        return cached
    cur = await db.execute(f"SELECT {ROUND_COLUMNS} FROM delphi_rounds ORDER BY area, round")
    rounds = tuple(round_view(row) for row in await cur.fetchall())
    db.cache["rounds"] = rounds
    return rounds


async def _running(db: Conn) -> tuple:
    """The live sessions running now, read once per transaction (events never change them)."""
    if (cached := db.cache.get("live")) is None:
        cached = db.cache["live"] = (await live.load(db, None))[0]
    return cached


_CURSOR_ORDER = ("step", "area", "key", "resume", "pending_area", "pending_live", "live_text")


async def _save(
    db: Conn,
    pid: int | None,
    who: tuple[str, str, str],
    old: State,
    new: State,
    now: datetime,
    survey_version: str | None,
) -> int:
    """Write what changed between `old` and `new`: the participant row, answers, progress.
    `who` is (channel, user_ref, pseudonym). Returns the participant's id."""
    channel, user_ref, pseudonym = who
    # the cursor's fields are all text or None: json straight from them, as model_dump would give
    cursor = json.dumps({f: getattr(new, f) for f in _CURSOR_ORDER}, ensure_ascii=False)
    values = (
        new.lang,
        new.consent,
        iso(new.consent_at) if new.consent_at else None,
        new.consent_version,
        new.group,
        new.region,
        new.age,
        cursor,
        iso(now),
    )
    if pid is None:
        cur = await db.execute(
            "INSERT INTO participants (lang, consent, consent_at, consent_version, stakeholder, region, age_band,"
            " cursor, updated_at, channel, user_ref, pseudonym, created_at, active)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) RETURNING id",
            (*values, channel, user_ref, pseudonym, iso(now)),
        )
        (pid,) = await cur.fetchone()  # type: ignore[misc]
    else:
        await db.execute(
            "UPDATE participants SET lang = ?, consent = ?, consent_at = ?, consent_version = ?, stakeholder = ?,"
            " region = ?, age_band = ?, cursor = ?, updated_at = ?, active = 1 WHERE id = ?",
            (*values, pid),
        )
    before = old.answers  # answers are frozen and the engine keeps the ones it did not change: `is` first
    changed = [(k, a) for k, a in new.answers.items() if (b := before.get(k)) is not a and b != a]
    if changed:
        await db.executemany(
            "INSERT INTO answers (participant_id, area, item, question, round, source, option, value, text,"
            " skipped, lang, answered_at, survey_version, ref, session_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (participant_id, area, item, question, round, source) DO UPDATE SET"
            " option = excluded.option, value = excluded.value, text = excluded.text, skipped = excluded.skipped,"
            " lang = excluded.lang, answered_at = excluded.answered_at, survey_version = excluded.survey_version,"
            " ref = excluded.ref, session_id = excluded.session_id",
            [
                (
                    pid,
                    *split_key(k),
                    a.option,
                    a.value,
                    a.text,
                    int(a.skipped),
                    a.lang,
                    iso(a.at),
                    survey_version,
                    a.ref,
                    a.session,
                )
                for k, a in changed
            ],
        )
    gone = [k for k in old.answers if k not in new.answers]
    if gone:
        await db.executemany(
            "DELETE FROM answers WHERE participant_id = ? AND area = ? AND item = ? AND question = ?"
            " AND round = ? AND source = ?",
            [(pid, *split_key(k)) for k in gone],
        )
    added = [(sid, at) for sid, at in new.registrations.items() if sid not in old.registrations]
    removed = [sid for sid in old.registrations if sid not in new.registrations]
    if added or removed:
        db.cache.pop("offers", None)  # their counts of seats taken change
    if added:
        await db.executemany(
            "INSERT INTO registrations (session_id, participant_id, registered_at) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            [(sid, pid, iso(at)) for sid, at in added],
        )
    if removed:
        await db.executemany(
            "DELETE FROM registrations WHERE session_id = ? AND participant_id = ?", [(sid, pid) for sid in removed]
        )
    await live.save(db, pid, old, new)
    for area in set(new.started) | set(old.started):
        before = (old.started.get(area), old.completed.get(area))
        after = (new.started.get(area), new.completed.get(area))
        if before == after:
            continue
        if after[0] is None:
            await db.execute("DELETE FROM progress WHERE participant_id = ? AND area = ?", (pid, area))
            continue
        await db.execute(
            "INSERT INTO progress (participant_id, area, started_at, completed_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (participant_id, area) DO UPDATE SET started_at = excluded.started_at,"
            " completed_at = excluded.completed_at",
            (pid, area, iso(after[0]), iso(after[1]) if after[1] else None),
        )
    return pid


def reloads_as_is(state: State) -> bool:
    """Whether reading `state` back after `_save` gives it again (a completion is stored only with
    its area's start): only such a state is kept for the participant's next event."""
    return set(state.completed) <= set(state.started)


async def _erase(db: Conn, pid: int | None, channel: str, user_ref: str, seq: int | None, now: datetime) -> None:
    """Delete every row about a participant in every table retention covers (storage.retention
    .COVERAGE), leaving only a count in the log."""
    count = 0
    db.cache.pop("offers", None)  # their registrations go too
    if pid is not None:
        cur = await db.execute("SELECT count(*) FROM answers WHERE participant_id = ? AND skipped = 0", (pid,))
        (count,) = await cur.fetchone()
    params = {"pid": pid, "channel": channel, "user_ref": user_ref, "seq": seq if seq is not None else -1}
    for sql in erasures():
        await db.execute(sql, params)
    if pid is not None:
        await db.execute(
            "INSERT INTO deletions (deleted_at, channel, answers) VALUES (?, ?, ?)", (iso(now), channel, count)
        )
