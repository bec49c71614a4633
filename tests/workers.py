"""Several `rabfang run` workers on one PostgreSQL database, for the multi-worker tests
(tests/test_workers.py): start, SIGKILL and restart them; a round-robin "reverse proxy" that the
fake LINE platform posts through (each webhook to the next worker, the next one again when a
worker is down, as nginx's `proxy_next_upstream error` does); LINE participants driven by the
pure engine's model (tests/reliability.py); and the database read back the way the tests read
SQLite, through `?` placeholders.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bot.model import Inbound, State
from bot.surveys import Catalog
from testbed.line_api import CHANNEL_SECRET, FakeLineApi, LinePlatform, LineUser, free_port
from testbed.participants import Model, next_input
from tests.test_line_e2e import wait_healthy
from tests.test_telegram_e2e import rabfang_command


def worker_env(api: FakeLineApi, db: str, **extra: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "LINE_", "RABFANG_"))}
    env.update(
        LINE_CHANNEL_SECRET=CHANNEL_SECRET,
        LINE_CHANNEL_ACCESS_TOKEN=api.token,
        LINE_API_BASE_URL=api.url,
        RABFANG_DB=db,
        RABFANG_HTTP_HOST="127.0.0.1",
        RABFANG_FLOOD_LIMIT="1000000",  # simulated people answer faster than real ones
        RABFANG_INBOX_LEASE="2",  # a dead worker's chats are taken within ~2.5 s
        RABFANG_LEADER_RETRY="0.3",
        RABFANG_LOG_LEVEL="INFO",
        NO_PROXY="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class Workers:
    """`n` `rabfang run` processes on one database, each on its own port."""

    def __init__(self, tmp: Path, api: FakeLineApi, db: str, n: int, **extra: str):
        self.tmp = tmp
        self.env = worker_env(api, db, **extra)
        self.ports = [free_port() for _ in range(n)]
        self.procs: list[asyncio.subprocess.Process | None] = [None] * n
        self.log = (tmp / "workers.log").open("ab")

    def url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.ports[i]}"

    async def start(self, i: int) -> None:
        env = {**self.env, "RABFANG_HTTP_PORT": str(self.ports[i])}
        proc = await asyncio.create_subprocess_exec(
            *rabfang_command(), "run", cwd=self.tmp, env=env, stdout=self.log, stderr=self.log
        )
        self.procs[i] = proc
        try:
            await wait_healthy(self.url(i), proc, timeout=30)
        except (AssertionError, TimeoutError) as exc:  # say why: the workers' log, its end
            self.log.flush()
            tail = (self.tmp / "workers.log").read_bytes()[-4000:].decode(errors="replace")
            raise AssertionError(f"worker {i} on port {self.ports[i]} did not start ({exc!r}):\n{tail}") from exc

    async def start_all(self) -> None:
        await asyncio.gather(*(self.start(i) for i in range(len(self.ports))))

    async def kill(self, i: int) -> None:
        proc = self.procs[i]
        assert proc is not None
        proc.kill()
        await proc.wait()
        self.procs[i] = None

    async def stop_all(self) -> None:
        for proc in self.procs:
            if proc is not None and proc.returncode is None:
                proc.terminate()
        for proc in self.procs:
            if proc is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), 30)
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
        self.log.close()

    async def health(self, i: int) -> dict[str, Any] | None:
        async with httpx.AsyncClient(timeout=2) as http:
            try:
                response = await http.get(self.url(i) + "/healthz")
            except httpx.TransportError:
                return None
        return response.json()

    async def leader(self, timeout: float = 15.0) -> int:
        """The worker that leads (runs the scheduler), waiting for one to."""
        async with asyncio.timeout(timeout):
            while True:
                for i in range(len(self.ports)):
                    if self.procs[i] is not None and ((await self.health(i)) or {}).get("leader"):
                        return i
                await asyncio.sleep(0.1)


class Spread:
    """The reverse proxy in front of the workers: each webhook to the next worker in turn; a worker
    that refuses the connection is skipped (nginx: proxy_next_upstream error). A 5xx goes back to
    "LINE", which delivers the same event again (isRedelivery)."""

    def __init__(self, api: FakeLineApi, workers: Workers):
        self.workers = workers
        self.platforms = [LinePlatform(api, workers.url(i) + "/webhooks/line") for i in range(len(workers.ports))]
        self.turn = 0
        self.statuses: Counter[int] = Counter()
        self.skipped = 0

    def user(self, user_id: str) -> LineUser:
        return self.platforms[0].user(user_id)

    async def deliver(self, event: dict[str, Any], timeout: float = 60.0) -> None:
        """POST until a worker answers 2xx (then the event is stored: acknowledged)."""
        attempt = 0
        async with asyncio.timeout(timeout):
            while True:
                platform = self.platforms[self.turn % len(self.platforms)]
                self.turn += 1
                body = event if attempt == 0 else {**event, "deliveryContext": {"isRedelivery": True}}
                attempt += 1
                try:
                    response = await platform.post([body])
                except httpx.TransportError:
                    self.skipped += 1
                    await asyncio.sleep(0.01)
                    continue
                self.statuses[response.status_code] += 1
                if 200 <= response.status_code < 300:
                    return
                if response.status_code < 500:
                    raise AssertionError(f"webhook answered {response.status_code}: {response.text}")
                await asyncio.sleep(0.1)

    async def aclose(self) -> None:
        for p in self.platforms:
            await p.aclose()


@dataclass
class Person:
    """A LINE participant and the model of what they did (acknowledged inputs, once each, in order)."""

    user: LineUser
    rng: random.Random
    state: State = field(default_factory=State)
    events: list[str] = field(default_factory=list)
    answers: int = 0
    last_token: str | None = None

    @property
    def ref(self) -> str:
        return self.user.user_id

    async def finish_an_area(self, spread: Spread, model: Model, catalog: Catalog, pause: asyncio.Event) -> None:
        """Input after input until the model says an area is complete; waits while `pause` is clear."""
        n = 0
        while not self.state.completed:
            await pause.wait()
            if not self.events:
                event, payload = Inbound("follow"), self.user.follow()
            else:
                event = next_input(self.rng, catalog, self.state, self.ref[-6:], n)
                button = event.kind == "button"
                payload = self.user.postback(event.data) if button else self.user.text(event.text)
            expected = model.decide(self.state, event)
            answer = self.state.step == "survey" and event.text not in ("back", "/start") and "~back" not in event.data
            await spread.deliver(payload)
            self.events.append(payload["webhookEventId"])
            self.last_token = payload.get("replyToken")
            self.state = expected.state
            self.answers += answer
            n += 1


class Sql:
    """A PostgreSQL connection read the way tests read SQLite: `conn.execute(sql, params)` with `?`."""

    def __init__(self, url: str):
        import psycopg

        self.conn = psycopg.connect(url, autocommit=True)

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self.conn.execute(sql.replace("?", "%s"), params)

    def close(self) -> None:
        self.conn.close()
