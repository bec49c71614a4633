"""What several workers rely on, on PostgreSQL, claimed from separate databases handles (separate
pools, as separate processes have) at the same moment: a delivery is claimed by exactly one; a
chat's inbox rows are leased by one worker at a time and taken over once its lease runs out; one
participant's events are decided one at a time (each decision sees the one before); the leader's
lock is held by one session and moves when that session ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.model import Answer, Inbound, Incoming, Outcome, State
from storage import Database
from storage import inbox as rows
from storage import outreach as q
from storage.leases import AdvisoryLease

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
HANDLES = 4


@pytest.fixture
async def handles(pg_cluster) -> AsyncIterator[list[Database]]:
    url = pg_cluster.fresh_database()
    dbs = [await Database.open(url) for _ in range(HANDLES)]
    try:
        yield dbs
    finally:
        for db in dbs:
            await db.close()


async def participant(db: Database, ref: str) -> int:
    await db.handle_event("line", ref, None, lambda s: Outcome(s.model_copy(update={"lang": "th"})), NOW)
    [(pid,)] = await db.fetch_all("SELECT id FROM participants WHERE user_ref = ?", (ref,))
    return int(pid)


async def test_a_delivery_is_claimed_once_across_workers(handles: list[Database]) -> None:
    pids = [await participant(handles[0], f"U{n}") for n in range(5)]
    for round_ in range(10):
        claims = [q.claim(db, "reminder:1h", str(round_), pid, NOW) for pid in pids for db in handles]
        won = await asyncio.gather(*claims)
        assert sum(won) == len(pids)  # one per participant, whichever handle got there first
    many = await asyncio.gather(*(q.claim_many(db, "broadcast", "7", pids, NOW) for db in handles))
    assert sorted(pid for got in many for pid in got) == sorted(pids)


async def test_a_chats_rows_are_leased_by_one_worker_at_a_time(handles: list[Database]) -> None:
    a, b = handles[0], handles[1]
    items = [Incoming(f"e{n}", "U1", Inbound("text", text=str(n)), {}) for n in range(30)]
    await rows.add(a, "line", items, NOW)
    got = await asyncio.gather(*(rows.claim(db, "line", "U1", f"w{n}", NOW, 10) for n, db in enumerate(handles)))
    winners = [g for g in got if g]
    assert len(winners) == 1  # the others found the chat leased
    [first] = winners
    assert [r.event_id for r in first] == [f"e{n}" for n in range(rows.CLAIM_BATCH)]  # in arrival order
    holder = f"w{got.index(first)}"
    assert await rows.claim(a, "line", "U1", holder, NOW, 10)  # the holder renews its lease
    assert await rows.stray_chats(b, "line", NOW + timedelta(seconds=5), grace=1) == []
    # the holder dies: once its lease has run out, the chat is a stray, and another worker takes it
    later = NOW + timedelta(seconds=11)
    assert await rows.stray_chats(b, "line", later, grace=1) == ["U1"]
    taken = await rows.claim(b, "line", "U1", "other", later, 10)
    assert [r.event_id for r in taken] == [f"e{n}" for n in range(rows.CLAIM_BATCH)]
    assert await rows.claim(a, "line", "U1", holder, later, 10) == []  # the old holder, back: not now


async def test_one_participants_events_are_decided_one_at_a_time(handles: list[Database]) -> None:
    """Each decision adds the answer numbered by how many it saw: were two decided side by side,
    they would see the same count and one answer would overwrite the other."""

    def decide(state: State) -> Outcome:
        n = len(state.answers)
        answer = Answer(option="4", value=4, lang="th", at=NOW)
        return Outcome(state.model_copy(update={"answers": {**state.answers, f"education.c{n}.current": answer}}))

    await participant(handles[0], "U2")
    events = [
        db.handle_event("line", "U2", f"ev{n}-{i}", decide, NOW) for n in range(10) for i, db in enumerate(handles)
    ]
    await asyncio.gather(*events)
    [(count,)] = await handles[0].fetch_all("SELECT count(*) FROM answers")
    assert count == 10 * HANDLES


async def test_the_leaders_lock_moves_when_its_session_ends(pg_cluster) -> None:
    url = pg_cluster.fresh_database()
    a, b = AdvisoryLease(url), AdvisoryLease(url)
    try:
        assert await a.acquire() and await a.alive()
        assert not await b.acquire()
        [(pid,)] = await (await a._conn.execute("SELECT pg_backend_pid()")).fetchall()
        async with await Database.open(url) as db:
            await db.fetch_all("SELECT pg_terminate_backend(?)", (pid,))  # as if its worker died
        assert not await a.alive() and not a.held
        assert await b.acquire()
        assert not await a.acquire()
    finally:
        await a.release()
        await b.release()
