"""`Leading` runs the leader-only parts (the scheduler, Telegram's long polling) while its lease is
held, stops them when the lease is lost, and starts them again when it is won back; on SQLite the
lease is the run's file lock, so they start at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from starlette.routing import BaseRoute

from bot.leader import Leading
from bot.runner import lead
from bot.scheduler import Scheduler
from storage.leases import FileLease


class Lease:
    name, required = "test", False

    def __init__(self) -> None:
        self.free = True
        self.held = False

    async def acquire(self) -> bool:
        if self.free:
            self.held, self.free = True, False
        return self.held

    async def alive(self) -> bool:
        return self.held

    def lose(self) -> None:
        self.held = False  # as when the session that held the lock ends

    async def release(self) -> None:
        if self.held:
            self.held, self.free = False, True


class Part:
    def __init__(self, name: str) -> None:
        self.name = name
        self.routes: list[BaseRoute] = []
        self.running = False
        self.starts = 0

    async def start(self) -> None:
        self.running = True
        self.starts += 1

    async def stop(self) -> None:
        self.running = False


async def until(test, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not test():
            await asyncio.sleep(0.01)


async def test_parts_run_only_while_the_lease_is_held() -> None:
    lease, part = Lease(), Part("scheduler")
    lease.free = False  # another worker leads
    leading = Leading(lease, [part], retry=0.02)
    await leading.start()
    try:
        assert not part.running and not leading.leading and leading.healthy()
        lease.free = True  # the leader died
        await until(lambda: part.running)
        assert leading.leading
        lease.lose()
        await until(lambda: not part.running)
        assert not leading.leading
        lease.free = True
        await until(lambda: part.running)
        assert part.starts == 2
    finally:
        await leading.stop()
    assert not part.running and not lease.held


async def test_on_sqlite_the_run_lock_leads_at_once(tmp_path: Path, settings) -> None:
    lease = FileLease(tmp_path / "rabfang.db")
    assert await lease.acquire()
    scheduler = Scheduler()
    [*rest, leading] = lead([Part("line"), scheduler], settings, lease)
    assert [c.name for c in rest] == ["line"] and isinstance(leading, Leading)
    await leading.start()
    try:
        assert leading.leading and scheduler.aps.running
    finally:
        await leading.stop()
    assert not lease.held


def test_telegram_polls_on_the_leader_but_webhooks_are_everyones(settings) -> None:
    from bot.runner import leader_only

    telegram = Part("telegram")
    assert leader_only(telegram, settings)
    hooked = settings.model_copy(update={"telegram_webhook_url": "https://x.example/webhooks/telegram"})
    assert not leader_only(telegram, hooked) and not leader_only(Part("line"), settings)
