"""The scheduler: Bangkok-time triggers, the dated export with retention, catch-up after downtime,
jobs from other features, and a shutdown that lets a running job finish. The clock is injected."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from bot.app import App, nightly_export, open_app
from bot.config import Settings
from bot.cron import cron_trigger, crontab_weekdays, previous_fire
from bot.i18n import BANGKOK
from bot.runner import build_components
from bot.scheduler import EXPORT_JOB, RETENTION_JOB, Scheduler, add_export, add_retention
from exports.links import ExportLinks
from tests.conftest import AGREEMENT, Clock
from tests.test_export import FILES, seed

BKK = ZoneInfo("Asia/Bangkok")


def bkk(*args: int) -> datetime:
    return datetime(*args, tzinfo=BKK)


@pytest.fixture
async def app(settings: Settings, agreement_catalog, tmp_path: Path) -> AsyncIterator[App]:
    # the seeded answers are ratings on the agreement scale: the survey form that asks them
    update = {"export_dir": tmp_path / "exports", "export_keep": 3, "surveys_dir": AGREEMENT}
    settings = settings.model_copy(update=update)
    async with open_app(settings) as app:
        await seed(app.db, agreement_catalog)
        yield app


def scheduler(app: App, clock: Clock) -> Scheduler:
    """A scheduler with the nightly export, as `rabfang run` has it."""
    s = Scheduler(clock)
    add_export(s, nightly_export(app, clock), app.settings.export_cron)
    return s


def make_folders(root: Path, *names: str) -> None:
    for name in names:
        (root / name).mkdir(parents=True)
        (root / name / "responses.csv").write_text("old")


async def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.02)


def test_bad_cron_stops_start_up() -> None:
    with pytest.raises(ValidationError, match="crontab"):
        Settings(_env_file=None, export_cron="every night")
    assert Settings(_env_file=None).export_cron == "0 2 * * *"
    assert Settings(_env_file=None).export_keep == 14
    assert Settings(_env_file=None).export_dir == Path("data/exports")


async def test_export_runs_at_two_in_bangkok_whatever_the_host_zone(app: App, clock: Clock) -> None:
    s = scheduler(app, clock)
    await s.start()
    try:
        job = s.aps.get_job(EXPORT_JOB)
        assert job is not None and job.trigger.timezone == BKK
        assert job.next_run_time.tzinfo is not None and job.next_run_time.astimezone(BKK).hour == 2
        clock.now = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # 10:00 in Bangkok
        assert s.next_run(EXPORT_JOB) == bkk(2026, 11, 26, 2, 0)
        clock.now = datetime(2026, 11, 25, 18, 59, tzinfo=UTC)  # 01:59 on the 26th in Bangkok, 18:59 UTC
        assert s.next_run(EXPORT_JOB) == bkk(2026, 11, 26, 2, 0)
        assert all(j.trigger.timezone == BKK for j in s.jobs())
    finally:
        await s.stop()
    assert not s.aps.running


async def test_scheduled_export_writes_a_dated_folder_and_keeps_the_newest(app: App, clock: Clock) -> None:
    root = app.settings.export_dir
    make_folders(root, "2026-11-21_0200", "2026-11-22_0200", "2026-11-23_0200", "2026-11-24_0200", "2026-11-25_0200")
    (root / "notes").mkdir()  # not ours: never touched
    (root / "2020-01-01_0200.txt").write_text("not a folder")
    clock.now = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # 10:00; the 02:00 run is there: nothing to catch up
    s = scheduler(app, clock)
    await s.start()
    try:
        await asyncio.sleep(0.2)
        assert not (root / "2026-11-25_1000").exists()
        s.run_now(EXPORT_JOB)
        await wait_for(lambda: (root / "2026-11-25_1000").exists())
        job = s.aps.get_job(EXPORT_JOB)
        assert job is not None and job.next_run_time.astimezone(BKK).hour == 2  # still nightly after a manual run
    finally:
        await s.stop()
    folder = root / "2026-11-25_1000"
    assert {p.name for p in folder.iterdir()} == FILES
    assert "Generated: 2026-11-25T10:00:00+07:00" in (folder / "README.txt").read_text(encoding="utf-8-sig")
    assert sorted(p.name for p in root.iterdir()) == [
        "2020-01-01_0200.txt",
        "2026-11-24_0200",
        "2026-11-25_0200",
        "2026-11-25_1000",
        "notes",
    ]


async def test_a_run_missed_while_down_is_made_on_start(app: App, clock: Clock) -> None:
    root = app.settings.export_dir
    make_folders(root, "2026-11-23_0200")
    clock.now = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # down since the 24th: the 25th 02:00 run is missing
    s = scheduler(app, clock)
    await s.start()
    try:
        await wait_for(lambda: (root / "2026-11-25_1000").exists())
        job = s.aps.get_job(EXPORT_JOB)
        assert job is not None  # still scheduled for the nights to come
    finally:
        await s.stop()


async def test_no_catch_up_on_the_very_first_start(app: App, clock: Clock) -> None:
    s = scheduler(app, clock)
    await s.start()
    await asyncio.sleep(0.3)
    await s.stop()
    assert not app.settings.export_dir.exists() or not any(app.settings.export_dir.iterdir())


def test_weekdays_mean_what_crontab_means() -> None:
    assert crontab_weekdays("1") == "mon"  # APScheduler 3's from_crontab would take 1 as Tuesday
    assert crontab_weekdays("0") == crontab_weekdays("7") == "sun"
    assert crontab_weekdays("1-5") == "mon,tue,wed,thu,fri"
    assert crontab_weekdays("*/2") == "sun,tue,thu,sat"
    assert crontab_weekdays("5-7") == "sun,fri,sat"
    assert crontab_weekdays("MON,wed") == "mon,wed"
    assert crontab_weekdays("*") == "*"
    wednesday = bkk(2026, 11, 25, 10, 0)
    assert cron_trigger("0 9 * * 0", BANGKOK).get_next_fire_time(None, wednesday) == bkk(2026, 11, 29, 9, 0)  # Sunday
    assert cron_trigger("0 9 * * 1-5", BANGKOK).get_next_fire_time(None, wednesday) == bkk(2026, 11, 26, 9, 0)
    for bad in ("8", "fri-mon", "1/0", "x", "0 2 * *"):
        with pytest.raises(ValueError):
            cron_trigger(f"0 2 * * {bad}" if len(bad) < 6 else bad, BANGKOK)
        with pytest.raises(ValidationError):
            Settings(_env_file=None, export_cron=f"0 2 * * {bad}" if len(bad) < 6 else bad)


def test_previous_fire() -> None:
    trigger = cron_trigger("0 2 * * *", BANGKOK)
    assert previous_fire(trigger, bkk(2026, 11, 25, 10, 0)) == bkk(2026, 11, 25, 2, 0)
    assert previous_fire(trigger, bkk(2026, 11, 25, 2, 0)) == bkk(2026, 11, 25, 2, 0)
    assert previous_fire(trigger, bkk(2026, 11, 25, 1, 59)) == bkk(2026, 11, 24, 2, 0)
    assert previous_fire(cron_trigger("0 2 1 1 *", BANGKOK), bkk(2026, 11, 25, 10, 0)) is None  # beyond a week
    assert previous_fire(cron_trigger("* * * * *", BANGKOK), bkk(2026, 11, 25, 10, 0, 30)) == bkk(2026, 11, 25, 10, 0)


# ---- other features' jobs ---------------------------------------------------------------------


class SlowFeature:
    """A feature's jobs: bound methods of an object built with what they need (no lookup at run time)."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.done: list[str] = []

    async def run(self, label: str) -> None:
        self.started.set()
        await asyncio.sleep(0.3)
        self.done.append(label)


async def test_features_add_jobs_and_stop_lets_them_finish(app: App, clock: Clock) -> None:
    s = Scheduler(clock)
    feature = SlowFeature()
    s.add_setup(lambda s: s.interval("sweep", feature.run, timedelta(minutes=1), "sweep"))
    s.add_setup(lambda s: s.cron("nightly", feature.run, "30 6 * * 1", "nightly"))
    await s.start()
    assert {j.id for j in s.jobs()} == {"sweep", "nightly"}
    assert all(j.trigger.timezone == BKK for j in s.jobs())
    assert s.next_run("nightly", bkk(2026, 11, 25, 10, 0)) == bkk(2026, 11, 30, 6, 30)  # the next Monday
    s.at("once", feature.run, datetime.now(BKK), "once")
    await asyncio.wait_for(feature.started.wait(), 5)
    await s.stop()
    assert feature.done == ["once"]  # the running job finished before stop() returned


async def test_a_job_holds_what_it_needs_and_runs_without_a_scheduler(app: App, clock: Clock) -> None:
    export = nightly_export(app, clock)
    folder = await export.run()
    assert Path(folder) == app.settings.export_dir / "2026-11-25_1000"
    assert {p.name for p in Path(folder).iterdir()} == FILES


async def test_wake_runs_a_job_at_once_only_while_running(app: App, clock: Clock) -> None:
    s = Scheduler(clock)
    feature = SlowFeature()
    s.add_setup(lambda s: s.interval("sweep", feature.run, timedelta(hours=1), "woken"))
    s.wake("sweep")  # not started: nothing, and no error
    await s.start()
    try:
        assert not feature.started.is_set()
        s.wake("sweep")
        s.wake("no such job")
        await asyncio.wait_for(feature.started.wait(), 5)
    finally:
        await s.stop()
    s.wake("sweep")  # stopped: nothing


async def test_retention_is_scheduled_daily_in_bangkok(app: App, clock: Clock) -> None:
    s = Scheduler(clock)
    add_retention(s, app.db, app.settings)
    await s.start()
    try:
        assert s.next_run(RETENTION_JOB, bkk(2026, 11, 25, 10, 0)) == bkk(2026, 11, 26, 3, 30)
    finally:
        await s.stop()


async def test_runner_adds_the_scheduler_and_the_link_route(app: App) -> None:
    names = [c.name for c in build_components(app)]
    assert names[-1] == "scheduler" and "exports" not in names
    app.settings = app.settings.model_copy(update={"public_url": "https://example.go.th"})
    components = build_components(app)
    assert isinstance(next(c for c in components if c.name == "exports"), ExportLinks)
    assert [r.path for c in components for r in c.routes if c.name == "exports"] == ["/exports/{token}"]
