"""The CSV export: UTF-8 with BOM for Excel, OWASP CSV-injection neutralised, streamed from the
cursor, written to a temporary name and renamed so a reader never sees half a file."""

from __future__ import annotations

import csv
import os
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from storage import Database
from storage.queries import PARTICIPANT_COLUMNS, RESPONSE_COLUMNS, Filter, participants, responses

BANGKOK = ZoneInfo("Asia/Bangkok")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_TIME_COLUMNS = {"answered_at", "consent_at"}


def neutralise(value: str) -> str:
    """Prefix a cell that a spreadsheet would read as a formula (OWASP CSV injection)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def local_time(value: str | None) -> str:
    """Stored UTC → ISO 8601 in Bangkok time, e.g. 2026-11-25T17:04:05+07:00."""
    if not value:
        return ""
    return datetime.fromisoformat(value).astimezone(BANGKOK).isoformat(timespec="seconds")


def cell(column: str, value: object) -> object:
    if value is None:
        return ""
    if column in _TIME_COLUMNS:
        return local_time(str(value))
    if isinstance(value, str):
        return neutralise(value)
    return value


@dataclass
class ExportResult:
    folder: Path
    rows: dict[str, int] = field(default_factory=dict)


async def write_csv(
    path: Path, columns: Sequence[str], rows: AsyncIterator[tuple], progress: Callable[[int], None] | None = None
) -> int:
    """Stream rows into `path` atomically; returns the number of data rows."""
    tmp = path.with_name(f".{path.name}.tmp")
    count = 0
    with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(columns)
        async for row in rows:
            writer.writerow([cell(c, v) for c, v in zip(columns, row, strict=True)])
            count += 1
            if progress and count % 10000 == 0:
                progress(count)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return count


async def write_export(
    db: Database, out: Path, flt: Filter | None = None, progress: Callable[[str, int], None] | None = None
) -> ExportResult:
    """Write the export set into `out` (created if needed) from one consistent snapshot."""
    flt = flt or Filter()
    out.mkdir(parents=True, exist_ok=True)
    result = ExportResult(out)
    files = (
        ("responses.csv", RESPONSE_COLUMNS, responses),
        ("participants.csv", PARTICIPANT_COLUMNS, participants),
    )
    async with db.reader() as conn:
        for name, columns, query in files:
            tick = (lambda n, name=name: progress(name, n)) if progress else None
            result.rows[name] = await write_csv(out / name, columns, query(conn, flt), tick)
    return result
