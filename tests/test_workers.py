"""Several `rabfang run` workers on one PostgreSQL database (issue 12, items 2 and 5).

- Three workers behind a round-robin proxy, LINE participants spread across them; one worker is
  SIGKILLed mid-survey (the leader, while a broadcast is going out) and restarted: every
  participant finishes an area, every acknowledged input is stored once and in order (the stored
  state equals the pure engine's over the acknowledged inputs), the broadcast reaches nobody twice,
  every participant's last input is answered, and `rabfang export` against PostgreSQL holds every
  answer exactly once.
- PostgreSQL restarted during load: while it is down the webhooks answer 503 (LINE delivers
  again), never 200; afterwards every acknowledged event is processed and nothing is lost.
- Claims under concurrency: many connections claiming one delivery, one chat's inbox rows, or the
  leadership at once: exactly one wins.
"""

from __future__ import annotations

import asyncio
import csv
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from bot.surveys import Catalog
from testbed.line_api import FakeLineApi
from testbed.participants import Model, expected_state
from tests.reliability import report, stored_state
from tests.test_telegram_e2e import rabfang_command
from tests.workers import Person, Spread, Sql, Workers, worker_env

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

PEOPLE = 15


@pytest.fixture
def pg_db(pg_cluster) -> str:
    """A fresh database in the session's throwaway cluster (testbed/postgres.py)."""
    return pg_cluster.fresh_database()


def check_stored(url: str, people: list[Person]) -> list[str]:
    """Every participant's stored state against the model; every acknowledged event id claimed."""
    problems = []
    sql = Sql(url)
    try:
        for p in people:
            got = stored_state(sql, "line", p.ref)  # type: ignore[arg-type]
            if got != expected_state(p.state):
                problems.append(f"{p.ref}: stored {got} != model {expected_state(p.state)}")
        claimed = {r[0] for r in sql.execute("SELECT event_id FROM events WHERE channel = 'line'").fetchall()}
        for p in people:
            missing = [e for e in p.events if e not in claimed]
            if missing:
                problems.append(f"{p.ref}: acknowledged events never processed: {missing}")
    finally:
        sql.close()
    return problems


async def test_three_workers_one_sigkilled_mid_survey_and_restarted(
    tmp_path: Path, pg_db: str, catalog: Catalog, request: pytest.FixtureRequest
) -> None:
    pg_url = pg_db
    began = time.monotonic()
    model = Model(catalog)
    async with FakeLineApi() as api:
        workers = Workers(tmp_path, api, pg_url, 3)
        spread = Spread(api, workers)
        try:
            await workers.start_all()
            rng = random.Random(12)
            people = [
                Person(spread.user(f"U{n:04d}a1b2" + "c" * 24), random.Random(rng.randrange(2**32)))
                for n in range(PEOPLE)
            ]
            go = asyncio.Event()
            go.set()
            drivers = [asyncio.create_task(p.finish_an_area(spread, model, catalog, go)) for p in people]
            # mid-survey: everyone has consented and some have answered
            async with asyncio.timeout(60):
                while sum(p.answers for p in people) < PEOPLE * 3 or not all(
                    p.state.consent == "given" for p in people
                ):
                    await asyncio.sleep(0.05)
            leader = await workers.leader()
            broadcast = subprocess.run(
                [*rabfang_command(), "broadcast", "--to", "all", "--th", "ข่าว", "--en", "news"],
                env=worker_env(api, pg_url),
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert broadcast.returncode == 0, broadcast.stderr
            await asyncio.sleep(0.3)  # the leader's sweep may be sending it now
            await workers.kill(leader)
            killed_at = time.monotonic()
            new_leader = await workers.leader()  # the lead moves to a survivor
            moved = time.monotonic() - killed_at
            assert new_leader != leader
            await workers.start(leader)
            async with asyncio.timeout(120):
                await asyncio.gather(*drivers)
            # every participant's last input is answered (a reply, or a push when it came late)
            async with asyncio.timeout(30):
                for p in people:
                    await api.wait_for(lambda p=p: bool(api.replies_to(p.last_token or "") or api.pushes_to(p.ref)))
                    while not any(c.status == 200 for c in api.replies_to(p.last_token or "")):
                        if any(c.status == 200 for c in api.pushes_to(p.ref)):
                            break
                        await asyncio.sleep(0.05)
            # the inbox drains, the broadcast finishes (on whichever worker leads now)
            sql = Sql(pg_url)
            try:
                async with asyncio.timeout(30):
                    while sql.execute("SELECT count(*) FROM inbox WHERE processed = 0").fetchone()[0]:
                        await asyncio.sleep(0.1)
                    while sql.execute("SELECT count(*) FROM broadcasts WHERE finished_at IS NULL").fetchone()[0]:
                        await asyncio.sleep(0.1)
                dupes = sql.execute(
                    "SELECT participant_id, count(*) FROM deliveries GROUP BY kind, ref, participant_id"
                    " HAVING count(*) > 1"
                ).fetchall()
            finally:
                sql.close()
            assert dupes == []
        finally:
            await workers.stop_all()
            await spread.aclose()
        got = Counter(c.to for c in api.calls if c.kind in ("multicast", "push") and _is_news(c.messages))
        assert got and max(got.values()) == 1, f"the broadcast reached someone twice: {got}"

    assert check_stored(pg_url, people) == []
    out = tmp_path / "export"
    exported = subprocess.run(
        [*rabfang_command(), "export", "--out", str(out)],
        env=worker_env(api, pg_url),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert exported.returncode == 0, exported.stderr
    with (out / "responses.csv").open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    keys = Counter((r["respondent"], r["area"], r["item_id"], r["question_id"]) for r in rows)
    assert max(keys.values()) == 1  # no answer twice
    expected = sum(len([a for a in p.state.answers.values() if not a.skipped]) for p in people)
    assert len(rows) == expected
    log = (tmp_path / "workers.log").read_text(errors="replace")
    report(
        request,
        "three workers, the leader SIGKILLed",
        {
            "participants": PEOPLE,
            "inputs acknowledged": sum(len(p.events) for p in people),
            "answers exported": len(rows),
            "lead moved in s": f"{moved:.1f}",
            "chats taken over": log.count("taking over"),
            "webhooks refused by the dead worker": spread.skipped,
            "broadcast recipients": len(got),
            "seconds": f"{time.monotonic() - began:.1f}",
        },
    )


def _is_news(messages: list[dict]) -> bool:
    return any(m.get("text") in ("ข่าว", "news") for m in messages)


async def test_postgresql_restarted_during_load(tmp_path: Path, pg_cluster, catalog: Catalog) -> None:
    pg_url = pg_cluster.fresh_database()
    model = Model(catalog)
    async with FakeLineApi() as api:
        workers = Workers(tmp_path, api, pg_url, 2, RABFANG_INBOX_LEASE="2")
        spread = Spread(api, workers)
        try:
            await workers.start_all()
            rng = random.Random(5)
            people = [
                Person(spread.user(f"U{n:04d}d00d" + "e" * 24), random.Random(rng.randrange(2**32))) for n in range(8)
            ]
            go = asyncio.Event()
            go.set()
            drivers = [asyncio.create_task(p.finish_an_area(spread, model, catalog, go)) for p in people]
            async with asyncio.timeout(60):
                while sum(p.answers for p in people) < 16:
                    await asyncio.sleep(0.05)
            await asyncio.to_thread(pg_cluster.pg_ctl, "stop", "-m", "fast")
            # while it is down: a webhook is never acknowledged (nothing can be stored)
            probe = spread.user("U9999dead" + "f" * 24)
            statuses, waited = [], []
            for n in range(4):
                t0 = time.monotonic()
                response = await spread.platforms[n % 2].post([probe.text("hello")])
                statuses.append(response.status_code)
                waited.append(time.monotonic() - t0)
            assert statuses == [503] * 4, statuses
            assert max(waited) < 5, waited  # promptly: the platform is waiting
            await asyncio.sleep(1.0)
            # starts it again with its options (postmaster.opts); its output to the log, not to our pipes
            await asyncio.to_thread(pg_cluster.pg_ctl, "restart", "-l", str(pg_cluster.root / "log"))
            async with asyncio.timeout(120):
                await asyncio.gather(*drivers)
            sql = Sql(pg_url)
            try:
                async with asyncio.timeout(60):
                    while sql.execute("SELECT count(*) FROM inbox WHERE processed = 0").fetchone()[0]:
                        await asyncio.sleep(0.1)
            finally:
                sql.close()
        finally:
            await workers.stop_all()
            await spread.aclose()
    assert check_stored(pg_url, people) == []
