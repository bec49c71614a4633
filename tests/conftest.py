"""Shared fixtures: the shipped surveys, a real SQLite file in a temp dir, the service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import Settings
from bot.service import Service
from bot.surveys import Catalog, load_catalog
from storage import Database

AGREEMENT = Path(__file__).parent / "surveys" / "agreement"


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
def settings(tmp_path: Path) -> Settings:
    # Tests answer faster than any person: flood control is tested on its own (test_flood.py).
    return Settings(_env_file=None, db=tmp_path / "rabfang.db", flood_limit=10_000)


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
