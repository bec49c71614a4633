"""The composition root: settings → surveys, storage, the service and its admin commands; the glue
to exports/ that the admin commands and the scheduler use. `async with open_app(...)` closes what
it opened. Channels and the scheduler are added by bot/runner.py."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from exports import export_attachment, write_dated_export
from exports.export import TELEGRAM_MAX_UPLOAD, dated_exports
from exports.links import export_link
from exports.presenter import presenter_link
from storage import Database

from .admin import Admin, Doorbell
from .config import Settings
from .live import LiveControl
from .model import Reply, utcnow
from .scheduler import ScheduledExport
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
        if await db.record_survey_version(catalog.version, catalog.canonical, utcnow()):
            log.info("surveys: version %s recorded", catalog.version)
        doorbell = Doorbell()
        live = LiveControl(
            db,
            catalog,
            utcnow,
            doorbell.ring,
            line_basic_id=settings.line_basic_id,
            telegram_username=settings.telegram_bot_username,
            presenter=lambda session_id: presenter_link(db, settings, session_id),
        )
        admin = Admin(
            db, catalog, settings, utcnow, doorbell, export=_chat_export(db, catalog, settings, utcnow), live=live
        )
        yield App(settings, catalog, db, Service(db, catalog, settings, utcnow, admin=admin), doorbell)
    finally:
        await db.close()


def _chat_export(
    db: Database, catalog: Catalog, settings: Settings, now: Callable[[], datetime]
) -> Callable[[str], Awaitable[Reply]]:
    """An admin's `/export` in chat: a zip where the channel can send files, else a signed link."""

    async def export(channel: str) -> Reply:
        if channel == "telegram":
            zipped = await export_attachment(db, catalog=catalog, now=now(), license=settings.open_data_license)
            if len(zipped.content) <= TELEGRAM_MAX_UPLOAD:
                return Reply(f"export {zipped.filename} ({len(zipped.content):,} bytes)", attachment=zipped)
        if not settings.public_url:
            return Reply("this channel cannot receive files: set RABFANG_PUBLIC_URL to get a download link")
        url = await export_link(db, settings, now)
        return Reply(f"export download (valid for 1 hour, admins only — do not forward):\n{url}")

    return export


def nightly_export(app: App, clock: Callable[[], datetime]) -> ScheduledExport:
    """The scheduled export set, written as a dated folder under RABFANG_EXPORT_DIR."""
    folder, keep = Path(app.settings.export_dir), app.settings.export_keep

    async def write(now: datetime) -> Path:
        return await write_dated_export(
            app.db, folder, keep, catalog=app.catalog, now=now, license=app.settings.open_data_license
        )

    def newest() -> datetime | None:
        folders = dated_exports(folder)
        return folders[-1][0] if folders else None

    return ScheduledExport(write, newest, clock)
