"""Limits that hold across workers (issue 22, item 3), on PostgreSQL: each worker is a Service on
its own database pool, as each `rabfang run` process has, all on one database.

- Session capacity: participants (Thai and English in turn) tapping "register" at the same
  moment, spread over the workers, get exactly as many seats as the session has; the rest are told
  it is full in their language (no calendar file), and what each was told is what is stored.
- Flood control: one participant's flood, spread over the workers, is answered as often as one
  worker answers it (5 with the default limits, then one notice, then silence), whether the
  messages arrive one after another or all at once.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Settings
from bot.model import Inbound
from bot.service import Handled, Service
from bot.surveys import Catalog
from storage import Database
from storage import outreach as q
from testbed.line_api import FakeLineApi

from .conftest import Clock
from .reliability import report
from .test_organizers import PROFILE, T0
from .workers import Spread, Sql, Workers

REGISTERED = ("ลงทะเบียนแล้วค่ะ", "You are registered")  # the engine's own words, Thai and English
FULL = ("มีผู้ลงทะเบียนเต็มแล้ว", "is full.")
FLOOD_TH = "ส่งข้อความเร็วเกินไป"


@pytest.fixture
async def url(pg_cluster) -> str:  # type: ignore[no-untyped-def]
    return pg_cluster.fresh_database()


@pytest.fixture
async def pools(url: str, request: pytest.FixtureRequest) -> AsyncIterator[list[Database]]:
    """`request.param` database handles on one PostgreSQL database: one per worker."""
    dbs = [await Database.open(url) for _ in range(request.param)]
    try:
        yield dbs
    finally:
        for db in dbs:
            await db.close()


def workers(pools: list[Database], catalog: Catalog, url: str, clock: Clock, **settings: object) -> list[Service]:
    s = Settings(_env_file=None, db=url, **settings)  # type: ignore[arg-type]
    return [Service(db, catalog, s, clock) for db in pools]


async def onboard(services: list[Service], users: list[str]) -> None:
    """Each participant (Thai, English, Thai, …) consents and gives a profile, on the workers in turn."""

    async def one(n: int, user: str) -> None:
        for k, said in enumerate(("hi", f"lang={'th' if n % 2 == 0 else 'en'}", *PROFILE[2:])):
            event = Inbound("button", data=said) if "=" in said else Inbound("text", text=said)
            handled = await services[(n + k) % len(services)].handle("line", user, event)
            assert handled is not None and not handled.refused, (user, said)

    await asyncio.gather(*(one(n, u) for n, u in enumerate(users)))


async def session(db: Database, clock: Clock, capacity: int, starts: datetime = T0) -> int:
    return await q.add_session(
        db,
        area="health",
        title_th="ประชุมกลุ่มย่อยด้านสุขภาพ",
        title_en="Health focus group",
        starts_at=starts,
        ends_at=None,
        place="สพร. กรุงเทพฯ",
        capacity=capacity,
        now=clock(),
    )


def told(handled: Handled | None) -> str:
    """'registered' (with its calendar file), 'full' (and no file), or what else it was."""
    assert handled is not None
    first = handled.replies[0]
    if any(w in first.text for w in REGISTERED):
        assert first.attachment is not None and first.attachment.filename.endswith(".ics")
        return "registered"
    if any(w in first.text for w in FULL):
        assert all(r.attachment is None for r in handled.replies)
        return "full"
    return first.text


@pytest.mark.parametrize(
    ("pools", "capacity", "people", "rounds"),
    [(2, 1, 4, 3), (4, 1, 4, 3), (2, 10, 20, 1), (4, 10, 20, 1)],
    ids=["2 workers, 1 seat, 4 people", "4 workers, 1 seat, 4 people", "2 workers, 10 of 20", "4 workers, 10 of 20"],
    indirect=["pools"],
)
async def test_a_sessions_seats_are_given_once_across_workers(
    pools: list[Database], url: str, catalog: Catalog, clock: Clock, capacity: int, people: int, rounds: int
) -> None:
    services = workers(pools, catalog, url, clock, flood_limit=10_000)
    users = [f"U{n:04d}" + "c" * 28 for n in range(people)]
    await onboard(services, users)
    for r in range(rounds):
        sid = await session(pools[0], clock, capacity)
        taps = [
            services[n % len(services)].handle("line", u, Inbound("button", data=f"reg={sid}"), f"reg{sid}-{u}")
            for n, u in enumerate(users)
        ]
        said = dict(zip(users, map(told, await asyncio.gather(*taps)), strict=True))
        stored = {
            pid
            for (pid,) in await pools[0].fetch_all(
                "SELECT participant_id FROM registrations WHERE session_id = ?", (sid,)
            )
        }
        assert len(stored) == capacity, f"round {r}: {len(stored)} registered for {capacity} seats"
        assert sorted(said.values()) == ["full"] * (people - capacity) + ["registered"] * capacity, said
        for u, what in said.items():  # each was told what is stored for them, whichever worker it was
            state = await pools[0].load_state("line", u, clock())
            assert (sid in state.registrations) == (what == "registered"), u


@pytest.mark.parametrize("pools", [1, 2, 4], ids=lambda n: f"{n} worker{'s' * (n > 1)}", indirect=True)
@pytest.mark.parametrize("burst", [False, True], ids=["in order", "all at once"])
async def test_a_flood_gets_the_same_answers_however_many_workers(
    pools: list[Database], url: str, catalog: Catalog, clock: Clock, burst: bool
) -> None:
    """30 messages in 3 s with the default limits (5 per 10 s): 5 answered, one notice, then silence."""
    services = workers(pools, catalog, url, clock)
    assert services[0].flood.limit == 5 and services[0].flood.window == timedelta(seconds=10)

    async def send(n: int) -> Handled | None:
        event = Inbound("text", text=f"spam {n}", sent_at=clock() + timedelta(milliseconds=100 * n))
        return await services[n % len(services)].handle("line", "Uflood" + "f" * 27, event, f"s{n}")

    if burst:
        handled = await asyncio.gather(*(send(n) for n in range(30)))
    else:
        handled = [await send(n) for n in range(30)]
    said = [[r.text for r in h.replies] if h else [] for h in handled]
    answered = [s for s in said if s and not any(FLOOD_TH in t for t in s)]
    notices = [s for s in said if s and any(FLOOD_TH in t for t in s)]
    assert (len(answered), len(notices)) == (5, 1), said
    if not burst:
        assert said[5] == notices[0] and all(s == [] for s in said[6:])
    # a valid answer still gets through, on any worker, and the stored counts are one sender's
    tap = await services[-1].handle("line", "Uflood" + "f" * 27, Inbound("button", data="lang=en", sent_at=clock()))
    assert tap is not None and tap.replies[0].text == "Language set to English."
    [(seen,)] = await pools[0].fetch_all("SELECT seen FROM flood")
    assert seen.count(",") == 4  # five times kept, whatever worker counted them


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("n", [2, 4], ids=["2 workers", "4 workers"])
async def test_real_workers_behind_a_proxy_keep_one_limit(
    tmp_path: Path, url: str, clock: Clock, n: int, request: pytest.FixtureRequest
) -> None:
    """`rabfang run` processes behind the round-robin proxy, with the default flood limits: a flood
    of 30 messages in 3 s is answered 5 times and noticed once, and four people tapping register
    for the last seat at once get one seat and three "full"."""
    async with FakeLineApi() as api:
        workers = Workers(tmp_path, api, url, n, RABFANG_FLOOD_LIMIT="5", RABFANG_FLOOD_WINDOW="10")
        spread = Spread(api, workers)
        spread.platforms[0].pace = 0.1  # LINE's timestamps: a message every 100 ms
        try:
            await workers.start_all()
            flooder = spread.user("Uf100d" + "0" * 27)
            for k in range(30):
                await spread.deliver(flooder.text(f"spam {k}"))
            spread.platforms[0].pace = 3.0  # the people who register type at a human pace
            people = [spread.user(f"U{k:04d}5ea7" + "0" * 24) for k in range(4)]
            for p in people:
                for said in ("hi", *PROFILE[1:]):
                    await spread.deliver(p.postback(said) if "=" in said else p.text(said))
            async with await Database.open(url) as db:
                sid = await session(db, clock, capacity=1, starts=datetime.now(UTC) + timedelta(days=7))
            await asyncio.gather(*(spread.deliver(p.postback(f"reg={sid}")) for p in people))
            sql = Sql(url)
            try:
                async with asyncio.timeout(60):
                    while sql.execute("SELECT count(*) FROM inbox WHERE processed = 0").fetchone()[0]:
                        await asyncio.sleep(0.1)
                registered = sql.execute("SELECT count(*) FROM registrations WHERE session_id = ?", (sid,)).fetchone()
            finally:
                sql.close()
            await asyncio.sleep(1.0)  # the last replies on their way

            def texts(user: str) -> list[str]:
                return [m.get("text", "") for c in api.calls if c.to == user and c.status == 200 for m in c.messages]

            flood_calls = [c for c in api.calls if c.to == flooder.user_id and c.status == 200]
            notices = [t for t in texts(flooder.user_id) if FLOOD_TH in t]
            heard = [" ".join(texts(p.user_id)) for p in people]
        finally:
            await workers.stop_all()
            await spread.aclose()
    assert (len(flood_calls), len(notices)) == (6, 1), texts(flooder.user_id)
    assert registered == (1,)
    told = [(REGISTERED[0] in t, FULL[0] in t) for t in heard]
    assert sorted(told) == [(False, True)] * 3 + [(True, False)], heard
    report(request, f"{n} real workers", {"flood answered": len(flood_calls) - 1, "seats given": registered[0]})
