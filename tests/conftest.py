"""Shared fixtures: the shipped surveys, a real database (a SQLite file in a temp dir, or a fresh
database in a throwaway PostgreSQL cluster), the service.

Backends: a module marked `pytestmark = pytest.mark.backends` runs each of its tests over every
backend (`backend` is 'sqlite' or 'postgresql', and `settings.db` is the file or the URL); a test
marked `sqlite_only` (WAL scrubbing, file modes, …) runs on SQLite alone. Without PostgreSQL
installed the postgresql variants skip, except under CI=true, where they fail (.ci/run installs it)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import Settings
from bot.service import Service
from bot.surveys import Catalog, load_catalog
from storage import Database
from testbed.postgres import Cluster, binaries

AGREEMENT = Path(__file__).parent / "surveys" / "agreement"
BACKENDS = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "backends: run each test of the module over SQLite and PostgreSQL")
    config.addinivalue_line("markers", "sqlite_only: SQLite by nature (files, WAL, PRAGMA), in a `backends` module")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker("backends"):
        names = ("sqlite",) if metafunc.definition.get_closest_marker("sqlite_only") else BACKENDS
        metafunc.parametrize("backend", names, indirect=True)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """One throwaway PostgreSQL cluster for the whole run (fsync off), started on first use."""
    if binaries() is None:
        message = "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{message}: CI must run the PostgreSQL tests (.ci/run installs it)")
        pytest.skip(message)
    cluster = Cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return getattr(request, "param", "sqlite")


@pytest.fixture
def pg_url(backend: str, request: pytest.FixtureRequest) -> str | None:
    """A fresh, empty PostgreSQL database for this test (None on SQLite)."""
    if backend != "postgresql":
        return None
    return request.getfixturevalue("pg_cluster").fresh_database()


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="session")
def agreement_catalog() -> Catalog:
    """The shipped areas asked in the agreement form (three ratings, "why?" after a low one): the
    form an organizer may still choose (tests/surveys/agreement: its common.yaml, and links to the
    shipped area files)."""
    return load_catalog(AGREEMENT)


@pytest.fixture
def settings(tmp_path: Path, pg_url: str | None) -> Settings:
    # Tests answer faster than any person: flood control is tested on its own (test_flood.py).
    return Settings(_env_file=None, db=pg_url or tmp_path / "rabfang.db", flood_limit=10_000)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = await Database.open(settings.db)
    try:
        yield database
    finally:
        await database.close()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)):
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(db: Database, catalog: Catalog, settings: Settings, clock: Clock) -> Service:
    return Service(db, catalog, settings, clock)
