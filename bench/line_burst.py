"""A burst on LINE: 500 participants answering at once against `rabfang run` (the real LINE
channel, the inbox, the engine, storage) with the fake LINE Messaging API, which refuses a reply
token older than its life (60 s, as LINE's "use it within about a minute").

    python bench/line_burst.py [--quick | --smoke] [--people 500] [--seconds 60] [--backend sqlite postgresql]
                               [--workers 1] [--pg postgresql://...]

Each participant starts at the same moment and goes through the conversation the way a person
does: send one input (a signed webhook: /start, language, consent, profile, an area, then answers
to its questions, tapped or typed, as tests/reliability.py's model picks them), wait until the
bot's answer reaches them, think for 0-0.5 s, send the next; for `seconds`, then they stop and the
rest drains. On PostgreSQL `--workers N` runs N `rabfang run` processes, the webhooks spread over
them in turn (what a reverse proxy does).

Reported, for each backend: the share of answers sent as replies within the token's life (goal:
all; a push spends the Official Account's monthly quota), the pushes, replies refused as too late,
the inbox backlog's peak (unprocessed rows, polled every 0.1 s), and how long it took to drain
once the load stopped; inputs acknowledged/s and time from webhook to answer (p50/p99).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import sqlite3
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from _common import ROOT, Verdicts, header, modes, percentile, tempdir

from bot.model import Inbound, State
from bot.surveys import load_catalog
from testbed.line_api import CHANNEL_SECRET, FakeLineApi, LinePlatform, free_port
from testbed.participants import Model, next_input

ANSWER_TIMEOUT = 120.0  # seconds a participant waits for an answer before giving up on it


class CountingApi(FakeLineApi):
    """The fake API, telling each participant when something reached them."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.reached: Counter[str] = Counter()
        self.arrived: dict[str, asyncio.Event] = {}

    async def _record(self, call: Any) -> Any:
        if call.to is not None:
            self.reached[call.to] += 1
            event = self.arrived.get(call.to)
            if event is not None:
                event.set()
        return await super()._record(call)


def worker_env(api: FakeLineApi, db: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "LINE_", "RABFANG_"))}
    env.update(
        LINE_CHANNEL_SECRET=CHANNEL_SECRET,
        LINE_CHANNEL_ACCESS_TOKEN=api.token,
        LINE_API_BASE_URL=api.url,
        RABFANG_DB=db,
        RABFANG_HTTP_HOST="127.0.0.1",
        RABFANG_HTTP_PORT=str(port),
        RABFANG_FLOOD_LIMIT="1000000",
        RABFANG_LOG_LEVEL="WARNING",
        RABFANG_EXPORT_DIR=str(Path(db).parent / "exports")
        if not db.startswith("postgresql")
        else "/tmp/rabfang-bench-x",
        NO_PROXY="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
    )
    return env


async def wait_up(url: str, proc: asyncio.subprocess.Process) -> None:
    import httpx

    async with httpx.AsyncClient() as http:
        for _ in range(600):
            if proc.returncode is not None:
                raise SystemExit(f"rabfang run exited with {proc.returncode}")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(url + "/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.05)
    raise SystemExit("rabfang run did not come up")


class Backlog:
    """Polls the inbox's unprocessed rows."""

    def __init__(self, db: str):
        self.db = db
        self.peak = 0
        self.now = 0
        self._stop = False

    def count(self) -> int:
        if self.db.startswith("postgresql"):
            import psycopg

            with psycopg.connect(self.db, autocommit=True) as conn:
                return int(conn.execute("SELECT count(*) FROM inbox WHERE processed = 0").fetchone()[0])
        with contextlib.closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)) as conn:
            return int(conn.execute("SELECT count(*) FROM inbox WHERE processed = 0").fetchone()[0])

    async def run(self) -> None:
        while not self._stop:
            with contextlib.suppress(Exception):
                self.now = await asyncio.to_thread(self.count)
                self.peak = max(self.peak, self.now)
            await asyncio.sleep(0.1)

    def stop(self) -> None:
        self._stop = True


async def burst(backend: str, db: str, people: int, seconds: float, workers: int) -> dict[str, Any]:
    catalog = load_catalog()
    model = Model(catalog)
    async with CountingApi(token_life=60.0) as api:
        ports = [free_port() for _ in range(workers)]
        procs = []
        log = open(os.devnull, "wb")  # noqa: SIM115
        for port in ports:
            procs.append(
                await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bot", "run", env=worker_env(api, db, port), cwd=ROOT, stdout=log, stderr=log
                )
            )
            await wait_up(f"http://127.0.0.1:{port}", procs[-1])
        platforms = [LinePlatform(api, f"http://127.0.0.1:{p}/webhooks/line") for p in ports]
        for p in platforms:
            p.http.timeout = 60.0
        turn = [0]
        backlog = Backlog(db)
        poller = asyncio.create_task(backlog.run())
        stats: Counter[str] = Counter()
        latencies: list[float] = []
        tokens: list[str] = []  # of the inputs that get an answer
        load_ends = time.monotonic() + seconds

        async def person(n: int) -> None:
            rng = random.Random(n)
            ref = f"U{n:05d}b0a5" + "f" * 22
            user = platforms[0].user(ref)
            arrived = api.arrived.setdefault(ref, asyncio.Event())
            state = State()
            first = True
            while time.monotonic() < load_ends:
                if first:
                    payload, event = user.follow(), Inbound("follow")
                else:
                    event = next_input(rng, catalog, state, ref[-6:], stats["inputs"])
                    payload = user.postback(event.data) if event.kind == "button" else user.text(event.text)
                expected = model.decide(state, event)
                before = api.reached[ref]
                arrived.clear()
                sent = time.monotonic()
                while True:
                    platform = platforms[turn[0] % len(platforms)]
                    turn[0] += 1
                    try:
                        response = await platform.post([payload])
                    except Exception:
                        stats["redeliveries"] += 1
                        await asyncio.sleep(0.5)
                        continue
                    if response.status_code == 200:
                        break
                    stats[f"webhook {response.status_code}"] += 1
                    await asyncio.sleep(0.5)
                stats["inputs"] += 1
                state = expected.state
                first = False
                if not expected.replies:
                    continue
                tokens.append(payload["replyToken"])
                try:
                    async with asyncio.timeout(ANSWER_TIMEOUT):
                        while api.reached[ref] == before:
                            await arrived.wait()
                            arrived.clear()
                except TimeoutError:
                    stats["answers never seen"] += 1
                    continue
                latencies.append(time.monotonic() - sent)
                await asyncio.sleep(rng.uniform(0, 0.5))

        started = time.monotonic()
        await asyncio.gather(*(person(n) for n in range(people)))
        load_time = time.monotonic() - started
        stopped = time.monotonic()
        while True:  # the rest drains
            await asyncio.sleep(0.1)
            if backlog.now == 0 and backlog.count() == 0:
                break
            if time.monotonic() - stopped > 300:
                break
        drain = time.monotonic() - stopped
        backlog.stop()
        await poller
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            await proc.wait()
        for p in platforms:
            await p.aclose()
        calls = Counter((c.kind, c.status) for c in api.calls)
        pushes = calls[("push", 200)]
        # An answer goes out as a reply while its token is fresh and unused, else as a push. A
        # token can also be spent on "try again later" (a webhook answered 503), so the answer
        # behind it is pushed: every push call is counted as an answer that missed its reply.
        pushed = min(pushes, len(tokens))
        replies = len(tokens) - pushed
        return {
            "backend": backend,
            "workers": workers,
            "people": people,
            "inputs": stats["inputs"],
            "inputs/s": stats["inputs"] / load_time,
            "answers": len(tokens),
            "replies": replies,
            "pushed answers": pushed,
            "pushes": pushes,
            "late replies": api.late_replies,
            "reply share": replies / max(1, len(tokens)),
            "backlog peak": backlog.peak,
            "drain s": drain,
            "p50 s": percentile(latencies, 50) if latencies else 0.0,
            "p99 s": percentile(latencies, 99) if latencies else 0.0,
            "problems": {k: v for k, v in stats.items() if k not in ("inputs",)},
        }


def pg_url(given: str | None) -> tuple[str, contextlib.AbstractContextManager[Any]]:
    if given:
        return given, contextlib.nullcontext()
    from testbed.postgres import Cluster  # a throwaway cluster (initdb, pg_ctl) on a free loopback port

    cluster = Cluster.start(durable=True)
    return cluster.fresh_database(), _stopping(cluster)


@contextlib.contextmanager
def _stopping(cluster: Any) -> Any:
    try:
        yield cluster
    finally:
        cluster.stop()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    modes(parser, "100 participants for 10 s")
    parser.add_argument("--people", type=int)
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--backend", nargs="+", default=["sqlite", "postgresql"], choices=("sqlite", "postgresql"))
    parser.add_argument("--workers", type=int, default=1, help="rabfang run processes on PostgreSQL (default 1)")
    parser.add_argument("--pg", help="a PostgreSQL URL to use (default: a throwaway cluster)")
    args = parser.parse_args()
    people = args.people or (10 if args.smoke else 100 if args.quick else 500)
    seconds = args.seconds or (3.0 if args.smoke else 10.0 if args.quick else 60.0)
    header("LINE burst", args)
    print(f"{people} participants for {seconds:.0f} s; reply tokens live 60 s on the fake API")
    verdicts = Verdicts(smoke=args.smoke)
    for backend in args.backend:
        if backend == "sqlite":
            with tempdir("burst") as tmp:
                result = await burst("sqlite", str(tmp / "rabfang.db"), people, seconds, 1)
        else:
            url, holder = pg_url(args.pg)
            with holder:
                _reset(url)
                result = await burst("postgresql", url, people, seconds, args.workers)
        print(
            f"{result['backend']:>10} × {result['workers']} worker(s): {result['inputs']} inputs"
            f" ({result['inputs/s']:.0f}/s acknowledged), webhook→answer p50 {result['p50 s']:.2f} s"
            f" p99 {result['p99 s']:.2f} s; {result['answers']} answers: {result['replies']} as replies,"
            f" {result['pushed answers']} as pushes (late replies refused {result['late replies']}):"
            f" reply share {result['reply share']:.3f};"
            f" backlog peak {result['backlog peak']}, drained {result['drain s']:.1f} s after the load stopped"
        )
        if result["problems"]:
            print(f"            problems: {result['problems']}")
        verdicts.at_least(f"{backend}: reply share", result["reply share"], 1.0, unit="")
        verdicts.some(f"{backend}: inputs acknowledged", result["inputs"])
        verdicts.exactly(f"{backend}: answers never seen", result["problems"].get("answers never seen", 0), 0)
    return verdicts.print()


def _reset(url: str) -> None:
    """An empty database for the run."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
