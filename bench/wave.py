"""A broadcast wave on LINE: the DGA posts to its Official Account and participants arrive over
the next minutes, a fast rise and then a long tail, each answering one area against `rabfang run`
(the real LINE channel, the inbox, the engine, storage) through the fake LINE Messaging API, which
refuses a reply token older than its life (60 s: LINE's "use it within about a minute").

    python bench/wave.py [--quick | --smoke] [--people N] [--window S] [--think S]
                         [--backend sqlite postgresql] [--workers 1 2 4] [--shape broadcast|burst]
                         [--find] [--pg postgresql://...]

Arrivals: `--shape broadcast` (the default) draws each participant's arrival from a gamma
distribution (shape 2, scale window/8, redrawn past the window): the busiest minute comes early,
the tail lasts the whole window. `--shape burst` brings everyone at once. A participant follows
the account, then goes through the conversation the way a person does (language, consent,
profile, an area, every question of it; tapped or typed, as testbed/participants.py picks them),
waiting for each answer and thinking 0.5-2×`think` seconds before the next input; they leave when
the area is done. On PostgreSQL with N workers the webhooks go to the workers in turn, the next
one when a worker does not answer (what a round-robin reverse proxy does).

Reported for each backend and worker count: the share of answers sent as free replies (goal 1.000;
a push spends the Official Account's quota), time from the tap to the next question p50/p99, the
inbox backlog's peak (polled every 0.1 s) and how long it took to drain after the last arrival,
and the workers' CPU per event (user + system time from /proc over the events they processed).
The baseline, in the same run on the same workers: one participant alone answering an area without
pausing (its p50 and its CPU per event); latencies and CPU are also printed as ratios to it.

`--find` doubles the participants from --people until the reply share drops below 1.000, and
reports the largest that kept it (for SQLite and one worker, unless told otherwise).
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
MAX_INPUTS = 120  # a participant who has not finished their area after this many inputs gives up
TICKS = os.sysconf("SC_CLK_TCK")


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
        RABFANG_FLOOD_LIMIT="1000000",  # simulated people may think faster than real ones
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (/proc/<pid>/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


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


def arrivals(people: int, window: float, shape: str, rng: random.Random) -> list[float]:
    """When each participant arrives, seconds from the broadcast, sorted."""
    if shape == "burst" or window <= 0:
        return [0.0] * people
    times = []
    for _ in range(people):
        t = rng.gammavariate(2.0, window / 8)
        while t > window:
            t = rng.gammavariate(2.0, window / 8)
        times.append(t)
    return sorted(times)


class Workers:
    """`rabfang run` processes on one database, and the webhooks spread over them in turn."""

    def __init__(self, api: CountingApi, db: str, count: int):
        self.api, self.db, self.count = api, db, count
        self.procs: list[asyncio.subprocess.Process] = []
        self.platforms: list[LinePlatform] = []
        self.turn = 0

    async def __aenter__(self) -> Workers:
        log = open(os.devnull, "wb")  # noqa: SIM115
        for _ in range(self.count):
            port = free_port()
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", env=worker_env(self.api, self.db, port), cwd=ROOT,
                stdout=log, stderr=log,
            )  # fmt: skip
            self.procs.append(proc)
            await wait_up(f"http://127.0.0.1:{port}", proc)
            platform = LinePlatform(self.api, f"http://127.0.0.1:{port}/webhooks/line")
            platform.http.timeout = 60.0
            self.platforms.append(platform)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            await proc.wait()
        for p in self.platforms:
            await p.aclose()

    def cpu(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self.procs)

    async def post(self, payload: dict[str, Any], stats: Counter[str]) -> None:
        """Deliver one webhook: to the next worker, and again (to the next) until one says 200."""
        while True:
            platform = self.platforms[self.turn % len(self.platforms)]
            self.turn += 1
            try:
                response = await platform.post([payload])
            except Exception:
                stats["webhook not answered"] += 1
                await asyncio.sleep(0.5)
                continue
            if response.status_code == 200:
                return
            stats[f"webhook {response.status_code}"] += 1
            await asyncio.sleep(0.5)


async def run_wave(workers: Workers, people: list[tuple[str, float]], think: float, seed: int) -> dict[str, Any]:
    """Everyone in `people` (user id, arrival second) answers one area; the figures."""
    catalog = load_catalog()
    model = Model(catalog)
    api = workers.api
    backlog = Backlog(workers.db)
    poller = asyncio.create_task(backlog.run())
    stats: Counter[str] = Counter()
    latencies: list[float] = []
    tokens: list[str] = []  # of the inputs that get an answer
    seconds: Counter[int] = Counter()  # inputs acknowledged in each second of the wave
    pushes_before, late_before = sum(1 for c in api.calls if c.kind == "push" and c.status == 200), api.late_replies
    cpu_before = workers.cpu()
    started = time.monotonic()

    async def person(ref: str, at: float, n: int) -> None:
        rng = random.Random(f"{seed}:{ref}")
        await asyncio.sleep(max(0.0, started + at - time.monotonic()))
        user = workers.platforms[0].user(ref)
        arrived = api.arrived.setdefault(ref, asyncio.Event())
        state = State()
        for k in range(MAX_INPUTS):
            if k == 0:
                payload, event = user.follow(), Inbound("follow")
            else:
                event = next_input(rng, catalog, state, ref[-6:], n)
                payload = user.postback(event.data) if event.kind == "button" else user.text(event.text)
            expected = model.decide(state, event)
            before = api.reached[ref]
            arrived.clear()
            sent = time.monotonic()
            await workers.post(payload, stats)
            stats["inputs"] += 1
            seconds[int(time.monotonic() - started)] += 1
            state = expected.state
            if expected.replies:
                tokens.append(payload["replyToken"])
                try:
                    async with asyncio.timeout(ANSWER_TIMEOUT):
                        while api.reached[ref] == before:
                            await arrived.wait()
                            arrived.clear()
                except TimeoutError:
                    stats["answers never seen"] += 1
                else:
                    latencies.append(time.monotonic() - sent)
            if state.completed:
                stats["areas completed"] += 1
                return
            await asyncio.sleep(rng.uniform(0.5, 2.0) * think)
        stats["gave up"] += 1

    await asyncio.gather(*(person(ref, at, n) for n, (ref, at) in enumerate(people)))
    last = time.monotonic()
    while True:  # the rest drains
        await asyncio.sleep(0.1)
        if backlog.now == 0 and backlog.count() == 0:
            break
        if time.monotonic() - last > 300:
            break
    drain = time.monotonic() - last
    backlog.stop()
    await poller
    cpu = workers.cpu() - cpu_before
    # An answer goes out as a reply while its token is fresh and unused, else as a push; every
    # push call is counted as an answer that missed its reply.
    pushes = sum(1 for c in api.calls if c.kind == "push" and c.status == 200) - pushes_before
    pushed = min(pushes, len(tokens))
    return {
        "people": len(people),
        "inputs": stats["inputs"],
        "answers": len(tokens),
        "pushed": pushed,
        "late replies": api.late_replies - late_before,
        "reply share": (len(tokens) - pushed) / max(1, len(tokens)),
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "backlog peak": backlog.peak,
        "drain": drain,
        "wall": last - started,
        "cpu per event ms": 1000 * cpu / max(1, stats["inputs"]),
        "peak inputs/s": max(seconds.values(), default=0),
        "mean inputs/s": stats["inputs"] / max(1e-9, last - started),
        "completed": stats["areas completed"],
        "problems": {k: v for k, v in stats.items() if k not in ("inputs", "areas completed")},
    }


def user_ids(prefix: int, count: int) -> list[str]:
    return [f"U{prefix:04x}{n:06x}" + "b" * 22 for n in range(count)]


async def measure(
    backend: str, db: str, workers: int, people: int, args: argparse.Namespace, verdicts: Verdicts | None
) -> dict[str, Any]:
    rng = random.Random(args.seed)
    async with CountingApi(token_life=60.0) as api, Workers(api, db, workers) as pool:
        quiet = await run_wave(pool, [(user_ids(0xFFFF, 1)[0], 0.0)], 0.0, args.seed)  # alone, without pause
        times = arrivals(people, args.window, args.shape, rng)
        wave = await run_wave(pool, list(zip(user_ids(people, people), times, strict=True)), args.think, args.seed)
    base_p50 = max(quiet["p50"], 1e-3)
    print(
        f"{backend:>10} × {workers} worker(s), {people:,} participants over {args.window:.0f} s ({args.shape}):"
        f" {wave['inputs']:,} inputs, {wave['completed']:,} areas completed in {wave['wall']:.0f} s ·"
        f" reply share {wave['reply share']:.3f} ({wave['pushed']} pushed, {wave['late replies']} late replies"
        f" refused) · tap → next question p50 {wave['p50']:.2f} s ({wave['p50'] / base_p50:.1f}× alone)"
        f" p99 {wave['p99']:.2f} s ({wave['p99'] / base_p50:.1f}×) · backlog peak {wave['backlog peak']},"
        f" drained {wave['drain']:.1f} s after the last input · inputs/s peak {wave['peak inputs/s']}"
        f" (mean {wave['mean inputs/s']:.0f}) · CPU {wave['cpu per event ms']:.1f} ms/event"
        f" ({wave['cpu per event ms'] / max(quiet['cpu per event ms'], 1e-3):.2f}× alone:"
        f" {quiet['cpu per event ms']:.1f} ms, p50 {quiet['p50'] * 1000:.0f} ms)"
    )
    if wave["problems"]:
        print(f"{'':>12}problems: {wave['problems']}")
    if verdicts is not None:
        what = f"{backend} × {workers}"
        verdicts.at_least(f"{what}: reply share", wave["reply share"], 1.0, unit="")
        verdicts.exactly(f"{what}: answers never seen", wave["problems"].get("answers never seen", 0), 0)
        verdicts.exactly(f"{what}: participants who did not finish their area", people - wave["completed"], 0)
    return wave


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


def _reset(url: str) -> None:
    """An empty database for the run."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    modes(parser, "300 participants over 60 s, SQLite and PostgreSQL × 1, 2")
    parser.add_argument("--people", type=int, help="participants (default 1,200)")
    parser.add_argument("--window", type=float, help="seconds over which they arrive (default 300)")
    parser.add_argument("--think", type=float, default=2.0, help="a participant's mean seconds between inputs")
    parser.add_argument("--shape", choices=("broadcast", "burst"), default="broadcast")
    parser.add_argument("--backend", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite", "postgresql"])
    parser.add_argument("--workers", type=int, nargs="+", help="PostgreSQL worker counts (default 1 2 4)")
    parser.add_argument("--find", action="store_true", help="double the participants until replies turn to pushes")
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--pg", help="a PostgreSQL URL to use (default: a throwaway cluster)")
    args = parser.parse_args()
    if args.smoke:
        people, args.window, args.think, pg_workers = args.people or 12, args.window or 2.0, 0.1, args.workers or [2]
    elif args.quick:
        people, args.window, pg_workers = args.people or 300, args.window or 60.0, args.workers or [1, 2]
    else:
        people, args.window, pg_workers = args.people or 1200, args.window or 300.0, args.workers or [1, 2, 4]
    header("a broadcast wave on LINE", args)
    verdicts = Verdicts(smoke=args.smoke)
    if args.find:
        return await find(args, people)
    for backend in args.backend:
        if backend == "sqlite":
            with tempdir("wave") as tmp:
                await measure("sqlite", str(tmp / "rabfang.db"), 1, people, args, verdicts)
            continue
        url, holder = pg_url(args.pg)
        with holder:
            for n in pg_workers:
                _reset(url)
                await measure("postgresql", url, n, people, args, verdicts)
    return verdicts.print()


async def find(args: argparse.Namespace, people: int) -> int:
    """The most participants this machine carries with every answer a free reply."""
    backend, workers = args.backend[0], (args.workers or [1])[0]
    carried = 0
    while True:
        with tempdir("wave") as tmp:
            if backend == "sqlite":
                wave = await measure("sqlite", str(tmp / "rabfang.db"), 1, people, args, None)
            else:
                url, holder = pg_url(args.pg)
                with holder:
                    _reset(url)
                    wave = await measure("postgresql", url, workers, people, args, None)
        if wave["reply share"] < 1.0 or wave["problems"].get("answers never seen"):
            break
        carried = people
        people *= 2
    print(f"carried with a reply share of 1.000: {carried:,} participants over {args.window:.0f} s"
          f" ({backend} × {workers}); {people:,} was too many")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
