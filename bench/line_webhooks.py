"""LINE webhooks: signed requests/s and time-to-200 at 40 concurrent connections against
`rabfang run` serving POST /webhooks/line (uvicorn, the real LineChannel: signature check, the
event written to the inbox in a transaction, 200, then the engine and a reply in the background),
against a bare Starlette endpoint that reads the body and returns 200 under the same uvicorn
configuration, in the same run.

    python bench/line_webhooks.py [--quick | --smoke] [--seconds S] [--rounds R] [--connections 40]

Three processes on 127.0.0.1: the server under test; a fake LINE Messaging API that accepts
every reply and push (so rabfang's background replies cost what they cost); and this one, the
load: `connections` aiohttp clients in a closed loop, each request one signed event (a text
message from one of 4,000 users, a fresh webhookEventId, reply token and timestamp). After a
warm-up, requests are counted for S seconds. For rabfang, the inbox backlog left when the load
stops is reported, and how long the background took to drain it (events fully processed/s).
Goals: rabfang ≥ 0.5× the bare endpoint's requests/s; p99 time-to-200 ≤ 100 ms; events fully
processed (decided, stored, answered) ≥ 0.3× the bare endpoint's requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from _common import ROOT, Verdicts, header, modes, percentile, tempdir

GOAL, P99_GOAL_MS, PROCESSED_GOAL = 0.5, 100.0, 0.3
SECRET, TOKEN = "bench-line-channel-secret", "bench-line-access-token"
USERS = 4000
PATH = "/webhooks/line"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- the child processes ------------------------------------------------------------------------


def uvicorn_config(app, port: int):
    """uvicorn exactly as `rabfang run` serves (bot/runner.server_config: its protocol, header and
    body limits, timeouts), so that a faster server raises the bare endpoint's floor too."""
    from bot.config import Settings
    from bot.runner import server_config

    return server_config(app, Settings(_env_file=None, http_host="127.0.0.1", http_port=port))


def serve_bare(port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    async def webhook(request) -> Response:
        await request.body()
        return Response(status_code=200)

    async def healthz(request) -> JSONResponse:
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route(PATH, webhook, methods=["POST"]), Route("/healthz", healthz)])
    uvicorn.Server(uvicorn_config(app, port)).run()


def serve_fake_line(port: int) -> None:
    """LINE's reply and push endpoints, accepting everything; GET /count says how many came."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    calls = itertools.count()

    async def send(request) -> JSONResponse:
        body = json.loads(await request.body())
        next(calls)
        return JSONResponse({"sentMessages": [{"id": "1", "quoteToken": "q"} for _ in body.get("messages", [])]})

    async def count(request) -> JSONResponse:
        return JSONResponse({"calls": next(calls)})

    app = Starlette(
        routes=[
            Route("/v2/bot/message/reply", send, methods=["POST"]),
            Route("/v2/bot/message/push", send, methods=["POST"]),
            Route("/count", count),
        ]
    )
    uvicorn.Server(uvicorn_config(app, port)).run()


@contextlib.contextmanager
def child(args: list[str], env: dict[str, str], cwd: Path, log: Path):
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def wait_ready(url: str, proc: subprocess.Popen, log: Path) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as s:
        for _ in range(300):
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
            with contextlib.suppress(aiohttp.ClientError):
                async with s.get(url) as r:
                    if r.status == 200:
                        return
            await asyncio.sleep(0.05)
    raise RuntimeError(f"server not ready: {log.read_text()[-2000:]}")


# ---- the load -----------------------------------------------------------------------------------


class Load:
    """Signed webhook bodies, one event each, made as they are sent."""

    def __init__(self) -> None:
        self.n = itertools.count()

    def request(self) -> tuple[bytes, dict[str, str]]:
        n = next(self.n)
        user = f"U{(n * 7919) % USERS:032x}"
        event = {
            "type": "message",
            "mode": "active",
            "timestamp": int(time.time() * 1000),
            "source": {"type": "user", "userId": user},
            "webhookEventId": f"01BENCH{uuid.uuid4().hex[:19].upper()}",
            "deliveryContext": {"isRedelivery": False},
            "replyToken": uuid.uuid4().hex,
            "message": {"id": str(10**12 + n), "type": "text", "quoteToken": "q", "text": "1"},
        }
        body = json.dumps({"destination": "Ubench", "events": [event]}, ensure_ascii=False).encode()
        signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
        return body, {
            "content-type": "application/json; charset=utf-8",
            "user-agent": "LineBotWebhook/2.0",
            "x-line-signature": signature,
        }


async def hammer(url: str, connections: int, warmup: float, seconds: float) -> tuple[int, list[float], int]:
    """Closed-loop load; (requests answered 200 while measuring, their latencies, others)."""
    import aiohttp

    load = Load()
    latencies: list[float] = []
    bad = 0
    t_start = time.perf_counter()
    t_measure, t_end = t_start + warmup, t_start + warmup + seconds
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as s:

        async def worker() -> None:
            nonlocal bad
            while time.perf_counter() < t_end:
                body, headers = load.request()
                t0 = time.perf_counter()
                async with s.post(url, data=body, headers=headers) as r:
                    await r.read()
                    status = r.status
                t1 = time.perf_counter()
                if t0 >= t_measure and t1 <= t_end:
                    if status == 200:
                        latencies.append(t1 - t0)
                    else:
                        bad += 1

        await asyncio.gather(*(worker() for _ in range(connections)))
    return len(latencies), latencies, bad


def backlog(db: Path) -> tuple[int, int]:
    """(unprocessed inbox rows, all inbox rows), read-only."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as conn:
        pending = conn.execute("SELECT count(*) FROM inbox WHERE processed = 0").fetchone()[0]
        total = conn.execute("SELECT count(*) FROM inbox").fetchone()[0]
    return pending, total


async def measure(kind: str, tmp: Path, args: argparse.Namespace, n: int) -> dict[str, float]:
    port = free_port()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "LINE_", "RABFANG_"))}
    base_env["PYTHONPATH"] = str(ROOT)
    out: dict[str, float] = {}
    if kind == "bare":
        cmd = [sys.executable, __file__, "--serve-bare", str(port)]
        with child(cmd, base_env, tmp, tmp / f"bare-{n}.log") as proc:
            await wait_ready(f"http://127.0.0.1:{port}/healthz", proc, tmp / f"bare-{n}.log")
            count, lat, bad = await hammer(
                f"http://127.0.0.1:{port}{PATH}", args.connections, args.warmup, args.seconds
            )
    else:
        api_port = free_port()
        db = tmp / f"line-{n}.db"
        env = {
            **base_env,
            "RABFANG_DB": str(db),
            "RABFANG_HTTP_PORT": str(port),
            "RABFANG_LOG_LEVEL": "WARNING",
            "LINE_CHANNEL_SECRET": SECRET,
            "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
            "LINE_API_BASE_URL": f"http://127.0.0.1:{api_port}",
        }
        fake = [sys.executable, __file__, "--serve-fake-line", str(api_port)]
        with child(fake, base_env, tmp, tmp / f"fake-{n}.log") as api:
            await wait_ready(f"http://127.0.0.1:{api_port}/count", api, tmp / f"fake-{n}.log")
            with child([sys.executable, "-m", "bot", "run"], env, tmp, tmp / f"rabfang-{n}.log") as proc:
                await wait_ready(f"http://127.0.0.1:{port}/healthz", proc, tmp / f"rabfang-{n}.log")
                spy = None
                if args.profile_server:  # py-spy attached to the server for the measured seconds
                    spy = subprocess.Popen(
                        ["py-spy", "record", "--pid", str(proc.pid), "--duration", str(int(args.seconds)),
                         "--rate", "250", "--format", "raw", "--output", args.profile_server],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    )  # fmt: skip
                t_load = time.perf_counter()
                count, lat, bad = await hammer(
                    f"http://127.0.0.1:{port}{PATH}", args.connections, args.warmup, args.seconds
                )
                load_time = time.perf_counter() - t_load
                if spy is not None:
                    spy.wait()
                pending, total = backlog(db)
                out["backlog"], out["received"] = pending, total
                t0 = time.perf_counter()
                while pending and time.perf_counter() - t0 < args.drain:
                    await asyncio.sleep(0.5)
                    pending, _ = backlog(db)
                out["drained_in"] = time.perf_counter() - t0 if not pending else float("nan")
                out["left"] = pending
                out["processed_rate"] = (total - pending) / (load_time + time.perf_counter() - t0)
    out.update(rate=count / args.seconds, p50=percentile(lat, 50) * 1000, p99=percentile(lat, 99) * 1000, bad=bad)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    modes(ap, "4 s per server, one round: under 30 s")
    ap.add_argument("--seconds", type=float, help="measured seconds per server (default 15; 4 with --quick)")
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, help="alternating rounds (default 2; 1 with --quick)")
    ap.add_argument("--connections", type=int, default=40)
    ap.add_argument("--drain", type=float, default=120.0, help="seconds to wait for rabfang's backlog to drain")
    ap.add_argument("--profile-server", metavar="OUT", help="py-spy the rabfang server while measured (raw)")
    ap.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--serve-fake-line", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return 0
    if args.serve_fake_line:
        serve_fake_line(args.serve_fake_line)
        return 0
    return asyncio.run(bench(args))


async def bench(args: argparse.Namespace) -> int:
    args.seconds = args.seconds or (1.0 if args.smoke else 4.0 if args.quick else 15.0)
    rounds = args.rounds or (1 if args.quick or args.smoke else 2)
    if args.quick or args.smoke:
        args.warmup, args.drain = (0.3, 60.0) if args.smoke else (1.0, 10.0)
    if args.smoke:
        args.connections = min(args.connections, 8)
    verdicts = Verdicts(smoke=args.smoke)
    with tempdir("line") as tmp:
        header(f"LINE webhooks: rabfang vs a bare Starlette endpoint, {args.connections} connections", args, tmp)
        kinds = ("bare", "rabfang")
        results: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
        n = itertools.count()
        for r in range(rounds):
            for kind in kinds:
                res = await measure(kind, tmp, args, next(n))
                results[kind].append(res)
                extra = ""
                if kind != "bare":
                    drained = "not drained" if res["left"] else f"drained in {res['drained_in']:.1f} s"
                    extra = (f" · backlog when the load stopped {res['backlog']:.0f} of {res['received']:.0f},"
                             f" {drained}; {res['processed_rate']:.0f} events processed/s")  # fmt: skip
                print(f"round {r + 1} {kind:<13}: {res['rate']:6.0f} req/s · p50 {res['p50']:5.1f} ms · "
                      f"p99 {res['p99']:6.1f} ms · non-200 {res['bad']:.0f}{extra}")  # fmt: skip
        med = {k: {m: statistics.median(x[m] for x in v) for m in ("rate", "p99", "p50")} for k, v in results.items()}
        ratio = med["rabfang"]["rate"] / med["bare"]["rate"]
        print(f"median: bare {med['bare']['rate']:.0f} req/s (p99 {med['bare']['p99']:.1f} ms) · rabfang "
              f"{med['rabfang']['rate']:.0f} req/s (p99 {med['rabfang']['p99']:.1f} ms) · ratio {ratio:.2f}")  # fmt: skip
        verdicts.at_least("signed webhooks/s vs the bare endpoint", ratio, GOAL)
        verdicts.at_most("p99 time-to-200", med["rabfang"]["p99"], P99_GOAL_MS, " ms")
        processed = statistics.median(x["processed_rate"] for x in results["rabfang"])
        verdicts.at_least("events processed/s vs the bare endpoint's requests/s", processed / med["bare"]["rate"],
                          PROCESSED_GOAL)  # fmt: skip
        verdicts.exactly("non-200 answers from rabfang", sum(x["bad"] for x in results["rabfang"]), 0)
        if args.smoke:  # at full load the backlog is measured, not judged: it is what the goal is about
            verdicts.exactly("events acknowledged but not processed", sum(x["left"] for x in results["rabfang"]), 0)
    return verdicts.print()


if __name__ == "__main__":
    sys.exit(main())
