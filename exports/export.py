"""`write_export`: the one function that writes the export set, used by the CLI, the scheduler,
the download link and the chat command; plus dated folders with retention, and zips."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from bot.model import Attachment
from bot.surveys import Catalog
from storage import Database
from storage.queries import Filter, snapshot

from .csvfiles import BANGKOK, Progress, XlsxBook, atomic_file, private_dir, write_csv, write_text
from .datapackage import CKAN, DEFAULT_LICENSE, PACKAGE, datapackage, write_ckan, write_package
from .tables import TABLES, Context, readme

log = logging.getLogger("rabfang.export")

Format = Literal["csv", "xlsx"]
FORMATS: tuple[Format, ...] = ("csv", "xlsx")
XLSX_NAME = "rabfang-export.xlsx"
README = "README.txt"
STAMP = "%Y-%m-%d_%H%M"  # dated folder names, Bangkok time; they sort in time order
_DATED = re.compile(r"^\d{4}-\d{2}-\d{2}_\d{4}$")
TELEGRAM_MAX_UPLOAD = 50 * 1024 * 1024  # a bot may send documents up to 50 MB


@dataclass
class ExportResult:
    folder: Path
    fmt: Format = "csv"
    rows: dict[str, int] = field(default_factory=dict)  # by file (csv) or sheet (xlsx)
    files: list[str] = field(default_factory=list)


async def write_export(
    db: Database,
    out: Path,
    flt: Filter | None = None,
    progress: Progress | None = None,
    fmt: Format = "csv",
    *,
    catalog: Catalog | None = None,
    now: datetime | None = None,
    license: str = DEFAULT_LICENSE,
    ckan: bool = False,
) -> ExportResult:
    """Write the export set into `out` (created if needed) from one consistent read snapshot.

    Every file is streamed under a temporary name and renamed when complete; then (CSV only) the
    Data Package descriptor datapackage.json under `license`, and with `ckan` the CKAN dataset
    metadata ckan.json; README.txt comes last. Pass the survey `catalog` so that summary.csv lists
    unanswered questions and the capability levels, and comments.csv the wording; without it they
    hold ids only."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    flt = flt or Filter()
    ctx = Context(catalog, flt, now or datetime.now(UTC))
    private_dir(out)
    result = ExportResult(out, fmt)
    book = XlsxBook(out / XLSX_NAME) if fmt == "xlsx" else None
    try:
        async with snapshot(db) as snap:
            for table in TABLES:
                name = table.file if book is None else table.name
                total = await table.total(snap, flt) if progress and table.total else None
                tick = (lambda n, name=name, total=total: progress(name, n, total)) if progress else None
                rows = table.rows(snap, ctx)
                if book is None:
                    result.rows[name] = await write_csv(out / name, table.spec, rows, tick)
                    result.files.append(name)
                else:
                    result.rows[name] = await book.write(name, table.spec, rows, tick)
            versions = await snap.survey_versions(flt) if book is None else []
        if book is not None:
            book.close()
            result.files.append(XLSX_NAME)
    except BaseException:
        if book is not None:
            book.abort()
        raise
    if book is None:
        package = datapackage(ctx, result.rows, license=license, survey_versions=versions)
        write_package(out, package)
        result.files.append(PACKAGE)
        if ckan:
            write_ckan(out, package, license)
            result.files.append(CKAN)
    result.files.append(README)
    write_text(out / README, readme(ctx, result.rows, result.files, fmt, license if book is None else ""))
    return result


# ---- dated folders --------------------------------------------------------------------------


def stamp(now: datetime) -> str:
    return now.astimezone(BANGKOK).strftime(STAMP)


def dated_exports(root: Path) -> list[tuple[datetime, Path]]:
    """The dated export folders under `root`, oldest first; anything else there is not ours."""
    found = []
    if root.is_dir():
        for p in root.iterdir():
            if p.is_dir() and _DATED.match(p.name):
                found.append((datetime.strptime(p.name, STAMP).replace(tzinfo=BANGKOK), p))
    return sorted(found)


def prune(root: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` dated folders, and abandoned partial ones; return the deleted."""
    folders = dated_exports(root)
    gone = [p for _, p in folders[: max(0, len(folders) - keep)]]
    for p in gone:
        shutil.rmtree(p, ignore_errors=True)
    day_ago = time.time() - 86400
    for p in root.glob(".*.partial-*"):
        if p.is_dir() and p.stat().st_mtime < day_ago:  # a crashed run; a live one is younger
            shutil.rmtree(p, ignore_errors=True)
            gone.append(p)
    return gone


async def write_dated_export(
    db: Database,
    root: Path,
    keep: int,
    *,
    catalog: Catalog | None = None,
    now: datetime | None = None,
    license: str = DEFAULT_LICENSE,
    fmt: Format = "csv",
) -> Path:
    """Write a full export into `root/YYYY-MM-DD_HHMM` (Bangkok time) and keep the newest `keep`.

    The folder appears complete or not at all: it is written under a hidden name and renamed."""
    now = now or datetime.now(UTC)
    name = stamp(now)
    private_dir(root)
    token = secrets.token_hex(4)
    tmp = root / f".{name}.partial-{token}"
    final = root / name
    try:
        await write_export(db, tmp, fmt=fmt, catalog=catalog, now=now, license=license)
        if final.exists():  # a second run in the same minute replaces the first
            old = root / f".{name}.old-{token}"
            final.rename(old)
            tmp.rename(final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for p in prune(root, keep):
        log.info("export retention: removed %s", p.name)
    return final


# ---- zips for chat and download links -------------------------------------------------------


def _zip_folder(folder: Path, dest: Path) -> None:
    with atomic_file(dest) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for f in sorted(folder.iterdir()):
            zf.write(f, f"{folder.name}/{f.name}")


def zip_name(now: datetime) -> str:
    return f"rabfang-export-{stamp(now)}.zip"


async def export_zip(
    db: Database,
    dest: Path,
    flt: Filter | None = None,
    fmt: Format = "csv",
    *,
    catalog: Catalog | None = None,
    now: datetime | None = None,
    license: str = DEFAULT_LICENSE,
) -> Path:
    """Write the export set as one zip file at `dest` (atomically); the files sit in a dated folder."""
    now = now or datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="rabfang-export-") as tmp:
        folder = Path(tmp) / zip_name(now).removesuffix(".zip")
        await write_export(db, folder, flt, None, fmt, catalog=catalog, now=now, license=license)
        await asyncio.to_thread(_zip_folder, folder, dest)
    return dest


async def export_zip_bytes(
    db: Database,
    flt: Filter | None = None,
    fmt: Format = "csv",
    *,
    catalog: Catalog | None = None,
    now: datetime | None = None,
    license: str = DEFAULT_LICENSE,
) -> tuple[str, bytes]:
    """The export set as (file name, zip bytes), for sending as a Telegram document.

    Check the size against TELEGRAM_MAX_UPLOAD and send a link instead when it is larger."""
    now = now or datetime.now(UTC)
    name = zip_name(now)
    with tempfile.TemporaryDirectory(prefix="rabfang-zip-") as tmp:
        path = await export_zip(db, Path(tmp) / name, flt, fmt, catalog=catalog, now=now, license=license)
        return name, await asyncio.to_thread(path.read_bytes)


async def export_attachment(
    db: Database,
    flt: Filter | None = None,
    fmt: Format = "csv",
    *,
    catalog: Catalog | None = None,
    now: datetime | None = None,
    license: str = DEFAULT_LICENSE,
) -> Attachment:
    """The export zip as a reply attachment (Telegram sends it as a document)."""
    name, content = await export_zip_bytes(db, flt, fmt, catalog=catalog, now=now, license=license)
    return Attachment(filename=name, content=content, mime="application/zip")
