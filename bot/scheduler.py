"""The scheduler: APScheduler 3.11 in the bot's event loop, every trigger in Bangkok time.

Jobs are module-level functions with plain arguments, the first of which is the scheduler's
`ref`; `scheduler_for(ref)` gives them the running Scheduler, hence the app, the clock and
whatever other components `provide` (reminders will want the channel senders). Jobs live in
memory and are re-created on every start from settings and our own tables, so nothing depends
on a pickled job store. Another feature adds its jobs with `add_setup` before `start`, or with
`cron`/`interval`/`at` once running.

Built in: the scheduled export (`RABFANG_EXPORT_CRON`, default 02:00 daily), which writes a
dated folder under `RABFANG_EXPORT_DIR` and keeps the newest `RABFANG_EXPORT_KEEP`. On start,
a run missed while the bot was down (within a week) is made at once.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.job import Job
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from starlette.routing import BaseRoute

from .app import App
from .i18n import BANGKOK

log = logging.getLogger("rabfang.scheduler")
# APScheduler announces every run at INFO; the sweep runs every 30 s, so keep only its warnings.
logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)

EXPORT_JOB = "export"
CATCH_UP_WINDOW = timedelta(days=7)
STOP_GRACE = 30.0  # seconds a running job may take to finish on shutdown

# Running schedulers by ref: how a job with plain arguments reaches live objects.
_RUNNING: dict[str, Scheduler] = {}


def utcnow() -> datetime:
    return datetime.now(UTC)


def scheduler_for(ref: str) -> Scheduler | None:
    """The running scheduler a job belongs to; None once it has stopped."""
    return _RUNNING.get(ref)


_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _day(token: str) -> int:
    if token in _DAYS:
        return _DAYS.index(token)
    if token.isascii() and token.isdigit() and int(token) <= 7:
        return int(token)
    raise ValueError(f"not a weekday: {token!r}")


def crontab_weekdays(field: str) -> str:
    """Crontab's weekday field (0 or 7 = Sunday) in APScheduler 3's terms (0 = Monday), as names.

    APScheduler 3's `CronTrigger.from_crontab` passes the numbers through unchanged, so `1`
    would mean Tuesday there; names say the same thing to both."""
    field = field.strip().lower()
    if field in ("*", "?"):
        return "*"
    days: set[int] = set()
    for part in field.split(","):
        span, _, step = part.partition("/")
        if span == "*":
            lo, hi = 0, 6
        elif "-" in span:
            first, last = span.split("-", 1)
            lo, hi = _day(first), _day(last)
        else:
            lo = hi = _day(span)
        if hi < lo or (step and not (step.isdigit() and int(step) > 0)):
            raise ValueError(f"not a weekday range: {part!r}")
        days.update(d % 7 for d in range(lo, hi + 1, int(step) if step else 1))
    return ",".join(_DAYS[d] for d in sorted(days))


def cron_trigger(expr: str) -> CronTrigger:
    """A standard crontab expression (minute hour day month weekday, Sunday = 0) in Bangkok time.

    As everywhere in APScheduler 3, a day-of-month and a weekday both given must both match."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"crontab needs 5 fields (minute hour day month weekday), got {len(fields)}: {expr!r}")
    minute, hour, day, month, weekday = fields
    return CronTrigger(
        minute=minute, hour=hour, day=day, month=month, day_of_week=crontab_weekdays(weekday), timezone=BANGKOK
    )


def previous_fire(trigger: BaseTrigger, now: datetime, window: timedelta = CATCH_UP_WINDOW) -> datetime | None:
    """The last time `trigger` fired at or before `now`, looking back at most `window`."""
    last, t = None, trigger.get_next_fire_time(None, now - window)
    for _ in range(20_000):  # an every-minute cron over a week is ~10,000 steps
        if t is None or t > now:
            break
        last = t
        t = trigger.get_next_fire_time(t, t + timedelta(seconds=1))
    return last


class Scheduler:
    """A Component (see bot.runner) that owns an AsyncIOScheduler for the running bot."""

    name = "scheduler"

    def __init__(self, app: App, clock: Callable[[], datetime] = utcnow, *, export: bool = True):
        self.app = app
        self.clock = clock
        self.ref = secrets.token_hex(6)
        self.routes: list[BaseRoute] = []
        self.provided: dict[str, Any] = {}
        self.aps = AsyncIOScheduler(
            timezone=BANGKOK,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        )
        self._setups: list[Callable[[Scheduler], None]] = [add_export_job] if export else []
        self._running: set[asyncio.Task[Any]] = set()

    # ---- extension points -------------------------------------------------------------------

    def add_setup(self, setup: Callable[[Scheduler], None]) -> None:
        """Run `setup(self)` on start to add a feature's jobs (after the built-in ones)."""
        self._setups.append(setup)

    def provide(self, name: str, value: Any) -> None:
        """Make a live object (a channel sender, a service) available to jobs by name."""
        self.provided[name] = value

    def _add(self, job_id: str, func: Callable[..., Any], trigger: BaseTrigger, args: tuple[Any, ...]) -> Job:
        return self.aps.add_job(func, trigger, args=[self.ref, *args], id=job_id, name=job_id, replace_existing=True)

    def cron(self, job_id: str, func: Callable[..., Any], expr: str, *args: Any) -> Job:
        return self._add(job_id, func, cron_trigger(expr), args)

    def interval(self, job_id: str, func: Callable[..., Any], every: timedelta, *args: Any) -> Job:
        return self._add(job_id, func, IntervalTrigger(seconds=every.total_seconds(), timezone=BANGKOK), args)

    def at(self, job_id: str, func: Callable[..., Any], when: datetime, *args: Any) -> Job:
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
        _RUNNING[self.ref] = self
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
        _RUNNING.pop(self.ref, None)


# ---- the scheduled export -------------------------------------------------------------------


def add_export_job(s: Scheduler) -> None:
    """The export cron job; and, if a run was missed while the bot was down, one at once."""
    from exports.export import dated_exports

    settings = s.app.settings
    job = s.cron(EXPORT_JOB, export_job, settings.export_cron, str(settings.export_dir), settings.export_keep)
    now = s.clock()
    due = previous_fire(job.trigger, now)
    folders = dated_exports(Path(settings.export_dir))
    newest = folders[-1][0] if folders else None
    # Only a schedule that ran before can have missed a run; folder names have minutes only.
    if due is not None and newest is not None and newest < due.replace(second=0, microsecond=0):
        log.info("the export due at %s was missed: running it now", due)
        job.modify(next_run_time=datetime.now(BANGKOK))


async def export_job(ref: str, export_dir: str, keep: int) -> str | None:
    """Write today's dated export folder and apply retention; returns the folder written."""
    from exports.export import write_dated_export

    s = scheduler_for(ref)
    if s is None:
        log.warning("export job: scheduler %s is not running", ref)
        return None
    async with s.tracked():
        try:
            folder = await write_dated_export(s.app.db, Path(export_dir), keep, catalog=s.app.catalog, now=s.clock())
        except Exception:
            log.exception("scheduled export failed")
            raise
    log.info("scheduled export written to %s", folder)
    return str(folder)


# ---- the retention purge ----------------------------------------------------------------------

RETENTION_JOB = "retention"
RETENTION_CRON = "30 3 * * *"  # daily, 03:30 Bangkok time


def add_retention(s: Scheduler) -> None:
    """Daily: delete what is older than RABFANG_RETENTION_DAYS, as the privacy notice promises."""
    s.cron(RETENTION_JOB, retention_job, RETENTION_CRON, s.app.settings.retention_days)


async def retention_job(ref: str, days: int) -> dict[str, int] | None:
    from storage.retention import purge_before

    s = scheduler_for(ref)
    if s is None:
        return None
    async with s.tracked():
        counts = await purge_before(s.app.db, s.clock() - timedelta(days=days))
    log.info("retention purge (%s days): %s", days, counts)
    return counts
