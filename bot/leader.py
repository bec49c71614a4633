"""The parts of `rabfang run` that must run on one process at a time: the scheduler's jobs
(reminders, nudges, broadcasts, the nightly export, the retention purge) and Telegram's long
polling. `Leading` wraps them as one component: they start when this process holds the lease
(storage.leases: a lock file on SQLite, an advisory lock on PostgreSQL) and stop when it loses it.

A worker that does not lead tries again every `retry` seconds, so when the leader dies (its
database session ends and with it the lock) another worker takes over within about that long.
The leader checks every `retry` seconds that its session is still there; if not, it stops its
parts at once, since another worker may already lead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

if TYPE_CHECKING:
    from storage.leases import Leadership

    from .runner import Component

log = logging.getLogger("rabfang.leader")


def _healthy(part: object) -> bool:
    check = getattr(part, "healthy", None)
    try:
        return check is None or bool(check())
    except Exception:
        return False


class Leading:
    """A component of `rabfang run` (see bot.runner.Component) holding the leader-only ones."""

    name = "leader"

    def __init__(self, lease: Leadership, parts: list[Component], *, retry: float = 2.0):
        self.lease = lease
        self.parts = parts
        self.retry = retry
        self.routes: list[BaseRoute] = [r for p in parts for r in p.routes]
        self._started: list[Component] = []
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    @property
    def leading(self) -> bool:
        return bool(self._started) or (self.lease.held and not self.parts)

    def healthy(self) -> bool:
        """The parts' health while leading; a worker that does not lead has nothing to fail."""
        return all(_healthy(p) for p in self._started)

    async def start(self) -> None:
        """Lead at once if the lease is free (else keep trying in the background)."""
        await self._try()
        self._task = asyncio.create_task(self._watch(), name="leadership")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._step_down()
        await self.lease.release()

    async def wait_changed(self) -> None:
        """Wait until this process starts or stops leading (for tests)."""
        self._changed.clear()
        await self._changed.wait()

    async def _try(self) -> None:
        if not await self.lease.acquire():
            return
        log.info("leading (%s): starting %s", self.lease.name, ", ".join(p.name for p in self.parts) or "nothing")
        for part in self.parts:
            try:
                await part.start()
            except Exception:
                log.exception("starting %s failed; giving up the lead", part.name)
                await self._step_down()
                await self.lease.release()
                return
            self._started.append(part)
            log.info("%s channel started", part.name)  # as bot.runner says of the others
        self._changed.set()

    async def _step_down(self) -> None:
        for part in reversed(self._started):
            try:
                await part.stop()
            except Exception:
                log.exception("stopping %s failed", part.name)
        if self._started:
            self._changed.set()
        self._started.clear()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.retry)
            try:
                if self._started or self.lease.held:
                    if not await self.lease.alive():
                        log.warning(
                            "lost the lead (%s): stopping %s", self.lease.name, ", ".join(p.name for p in self._started)
                        )
                        await self._step_down()
                else:
                    await self._try()
            except Exception:
                log.exception("leadership check failed")
