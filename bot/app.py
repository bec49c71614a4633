"""Wiring: settings → surveys, storage, service, channels, scheduler; `async with` lifecycles."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from storage import Database

from .admin import Doorbell
from .config import Settings
from .service import Service
from .surveys import Catalog, load_catalog

log = logging.getLogger("rabfang")


@dataclass
class App:
    settings: Settings
    catalog: Catalog
    db: Database
    service: Service
    doorbell: Doorbell = field(default_factory=Doorbell)  # Admin rings it; the outreach sweep answers


@asynccontextmanager
async def open_app(settings: Settings) -> AsyncIterator[App]:
    """Load and validate the surveys, open the database; close it on the way out."""
    catalog = load_catalog(settings.surveys_dir)
    key = settings.pseudonym_key.get_secret_value() if settings.pseudonym_key else None
    db = await Database.open(settings.db, key)
    try:
        doorbell = Doorbell()
        yield App(settings, catalog, db, Service(db, catalog, settings, doorbell=doorbell), doorbell)
    finally:
        await db.close()
