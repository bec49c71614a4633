"""The scheduler: APScheduler 3.11 in the bot's event loop, every trigger in Bangkok time.

A job is a bound coroutine method of an object that was given what it needs when it was built
(the database, the catalog, a folder, the clock): nothing is looked up at run time. Jobs live in
memory and are re-created on every start from settings and our own tables, so nothing depends
on a pickled job store. A feature adds its jobs with `add_setup` before `start`, or with
`cron`/`interval`/`at` once running. Every job runs tracked, so `stop` lets it finish.

Built in: the scheduled export (`RABFANG_EXPORT_CRON`, default 02:00 daily), which writes a
dated folder under `RABFANG_EXPORT_DIR` and keeps the newest `RABFANG_EXPORT_KEEP`; on start, a
run missed while the bot was down (within a week) is made at once. And the daily retention purge.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apscheduler.job import Job
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_RUNNING
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from starlette.routing import BaseRoute

from .cron import cron_trigger, previous_fire
from .i18n import BANGKOK
from .model import utcnow

if TYPE_CHECKING:
    from storage import Database

    from .config import Settings

log = logging.getLogger("rabfang.scheduler")

EXPORT_JOB = "export"
STOP_GRACE = 30.0  # seconds a running job may take to finish on shutdown

JobFunc = Callable[..., Awaitable[Any]]


class Scheduler:
    """A Component (see bot.runner) that owns an AsyncIOScheduler for the running bot."""

    name = "scheduler"

    def __init__(self, clock: Callable[[], datetime] = utcnow):
        self.clock = clock
        self.routes: list[BaseRoute] = []
        self.aps = AsyncIOScheduler(
            timezone=BANGKOK,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        )
        self._setups: list[Callable[[Scheduler], None]] = []
        self._running: set[asyncio.Task[Any]] = set()

    # ---- extension points -------------------------------------------------------------------

    def add_setup(self, setup: Callable[[Scheduler], None]) -> None:
        """Run `setup(self)` on start to add a feature's jobs (in the order they were added)."""
        self._setups.append(setup)

    def _add(self, job_id: str, func: JobFunc, trigger: BaseTrigger, args: tuple[Any, ...]) -> Job:
        # _run is a bound coroutine method, so APScheduler awaits it on the loop (a callable
        # object with an async __call__ would be sent to a thread instead).
        return self.aps.add_job(self._run, trigger, args=[func, *args], id=job_id, name=job_id, replace_existing=True)

    async def _run(self, func: JobFunc, *args: Any) -> Any:
        async with self.tracked():
            return await func(*args)

    def cron(self, job_id: str, func: JobFunc, expr: str, *args: Any) -> Job:
        return self._add(job_id, func, cron_trigger(expr, BANGKOK), args)

    def interval(self, job_id: str, func: JobFunc, every: timedelta, *args: Any) -> Job:
        return self._add(job_id, func, IntervalTrigger(seconds=every.total_seconds(), timezone=BANGKOK), args)

    def at(self, job_id: str, func: JobFunc, when: datetime, *args: Any) -> Job:
        return self._add(job_id, func, DateTrigger(run_date=when, timezone=BANGKOK), args)

    def remove(self, job_id: str) -> None:
        if self.aps.get_job(job_id):
            self.aps.remove_job(job_id)

    def jobs(self) -> list[Job]:
        return self.aps.get_jobs()

    def next_run(self, job_id: str, now: datetime | None = None) -> datetime | None:
        """When the job fires next after `now` (default: the scheduler's clock)."""
        job = self.aps.get_job(job_id)
        return job.trigger.get_next_fire_time(None, now or self.clock()) if job else None

    def run_now(self, job_id: str) -> None:
        """Fire a job at once (it keeps its schedule afterwards)."""
        job = self.aps.get_job(job_id)
        if job is None:
            raise KeyError(job_id)
        job.modify(next_run_time=datetime.now(BANGKOK))
        self.aps.wakeup()

    def wake(self, job_id: str) -> None:
        """run_now while running; before start or after stop, nothing (the job's schedule will do)."""
        if self.aps.state == STATE_RUNNING and self.aps.get_job(job_id) is not None:
            self.run_now(job_id)

    @asynccontextmanager
    async def tracked(self) -> AsyncIterator[None]:
        """Jobs run inside this so that stop() lets them finish (within STOP_GRACE)."""
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._running.discard(task)

    # ---- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        for setup in self._setups:
            setup(self)
        self.aps.start()
        for job in self.aps.get_jobs():
            log.info("job %s: next run %s", job.id, job.next_run_time)

    async def stop(self) -> None:
        """Start no new job, give running ones STOP_GRACE seconds, then shut down (cancelling the rest)."""
        if self.aps.running:
            self.aps.pause()
            await asyncio.sleep(0)  # a job just submitted gets to enter tracked()
            if self._running:
                await asyncio.wait(set(self._running), timeout=STOP_GRACE)
            self.aps.shutdown(wait=False)  # AsyncIOScheduler does this on the loop's next turn
            while self.aps.running:
                await asyncio.sleep(0)


# ---- the scheduled export -------------------------------------------------------------------


class ScheduledExport:
    """The nightly export job: `write(now)` writes a dated folder (and keeps the newest few);
    `newest()` says when the last one was written. Both come from the composition root, which
    alone knows exports/."""

    def __init__(
        self,
        write: Callable[[datetime], Awaitable[Path]],
        newest: Callable[[], datetime | None],
        clock: Callable[[], datetime],
    ):
        self.write = write
        self.newest = newest
        self.clock = clock

    def schedule(self, s: Scheduler, expr: str) -> None:
        """The export cron job; and, if a run was missed while the bot was down, one at once."""
        job = s.cron(EXPORT_JOB, self.run, expr)
        due = previous_fire(job.trigger, self.clock())
        newest = self.newest()
        # Only a schedule that ran before can have missed a run; folder names have minutes only.
        if due is not None and newest is not None and newest < due.replace(second=0, microsecond=0):
            log.info("the export due at %s was missed: running it now", due)
            job.modify(next_run_time=datetime.now(BANGKOK))

    async def run(self) -> str:
        """Write today's dated export folder and apply retention; returns the folder written."""
        try:
            folder = await self.write(self.clock())
        except Exception:
            log.exception("scheduled export failed")
            raise
        log.info("scheduled export written to %s", folder)
        return str(folder)


def add_export(s: Scheduler, export: ScheduledExport, expr: str) -> None:
    """The nightly export at `expr` (RABFANG_EXPORT_CRON)."""
    s.add_setup(lambda s: export.schedule(s, expr))


# ---- the retention purge ----------------------------------------------------------------------

RETENTION_JOB = "retention"
RETENTION_CRON = "30 3 * * *"  # daily, 03:30 Bangkok time


class RetentionPurge:
    """Deletes what is older than `days`, and what is kept of people who never consented after
    `unconsented_days`, as the privacy notice promises."""

    def __init__(self, db: Database, days: int, clock: Callable[[], datetime], unconsented_days: int | None = None):
        self.db = db
        self.days = days
        self.unconsented_days = unconsented_days or days
        self.clock = clock

    async def run(self) -> dict[str, int]:
        from storage.retention import purge_before

        now = self.clock()
        counts = await purge_before(
            self.db, now - timedelta(days=self.days), unconsented_before=now - timedelta(days=self.unconsented_days)
        )
        log.info("retention purge (%s days, %s without consent): %s", self.days, self.unconsented_days, counts)
        return counts


def add_retention(s: Scheduler, db: Database, settings: Settings) -> None:
    """Daily at 03:30: delete what is older than RABFANG_RETENTION_DAYS (RABFANG_UNCONSENTED_DAYS
    for people who never consented)."""
    purge = RetentionPurge(db, settings.retention_days, s.clock, settings.unconsented_days)
    s.add_setup(lambda s: s.cron(RETENTION_JOB, purge.run, RETENTION_CRON))
