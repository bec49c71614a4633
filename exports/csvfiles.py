"""Cells and files: typed cell values, OWASP CSV-injection neutralisation, Bangkok times, and
atomic CSV and XLSX writers that stream rows from an async iterator."""

from __future__ import annotations

import contextlib
import csv
import os
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

BANGKOK = ZoneInfo("Asia/Bangkok")
TICK = 10_000  # rows between progress reports

# A cell starting with one of these is a formula to Excel, LibreOffice or Sheets (OWASP "CSV
# Injection"); the full-width forms are included because some spreadsheet locales accept them.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")

Kind = Literal["text", "integer", "decimal", "datetime"]
Progress = Callable[[str, int, "int | None"], None]  # (file or sheet, rows written, total if known)


def neutralise(value: str) -> str:
    """Prefix a cell that a spreadsheet would read as a formula with an apostrophe."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def local_time(value: str | datetime | None) -> str:
    """A stored UTC time → ISO 8601 in Bangkok time, e.g. 2026-11-25T17:04:05+07:00."""
    if not value:
        return ""
    dt = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return dt.astimezone(BANGKOK).isoformat(timespec="seconds")


def cell(kind: Kind, value: Any) -> Any:
    """The value as written: '' for missing, numbers as numbers, times in +07:00, text neutralised."""
    if value is None or value == "":
        return ""
    if kind == "datetime":
        return local_time(value)
    if kind == "integer":
        return int(value)
    if kind == "decimal":
        return float(value)
    return neutralise(str(value))


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be opened
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def replace_atomically(tmp: Path, path: Path) -> None:
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def write_text(path: Path, text: str) -> None:
    """Write a small text file atomically (UTF-8 with BOM, CRLF: Windows Notepad shows it right)."""
    tmp = _tmp_name(path)
    try:
        with open(tmp, "w", encoding="utf-8-sig", newline="\r\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        replace_atomically(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


async def write_csv(
    path: Path,
    columns: Sequence[tuple[str, Kind]],
    rows: AsyncIterator[Sequence[Any]],
    progress: Callable[[int], None] | None = None,
) -> int:
    """Stream rows into `path` under a temporary name, then rename; returns the number of data rows.

    On any error the temporary file is removed and an older `path` is left as it was."""
    tmp = _tmp_name(path)
    count = 0
    kinds = [k for _, k in columns]
    try:
        with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\r\n")
            writer.writerow([name for name, _ in columns])
            async for row in rows:
                writer.writerow([cell(k, v) for k, v in zip(kinds, row, strict=True)])
                count += 1
                if progress and count % TICK == 0:
                    progress(count)
            fh.flush()
            os.fsync(fh.fileno())
        replace_atomically(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if progress:
        progress(count)
    return count


class XlsxBook:
    """One workbook, a sheet per table, streamed with XlsxWriter's constant-memory mode.

    Text cells are always written as strings (never formulas) and still neutralised, so a sheet
    saved back as CSV stays safe. A table longer than a sheet continues on `name_2`, `name_3`…"""

    MAX_ROWS = 1_048_576  # Excel's limit, header included

    def __init__(self, path: Path):
        import xlsxwriter

        self.path = path
        self._tmp = _tmp_name(path)
        self._book = xlsxwriter.Workbook(
            str(self._tmp),
            {
                "constant_memory": True,
                "strings_to_formulas": False,
                "strings_to_numbers": False,
                "strings_to_urls": False,
            },
        )
        self._bold = self._book.add_format({"bold": True})

    def _sheet(self, name: str, columns: Sequence[tuple[str, Kind]]):  # -> xlsxwriter Worksheet
        sheet = self._book.add_worksheet(name[:31])
        for i, (col, kind) in enumerate(columns):
            sheet.set_column(i, i, 26 if kind == "datetime" else max(10, min(40, len(col) + 2)))
            sheet.write_string(0, i, col, self._bold)
        sheet.freeze_panes(1, 0)
        return sheet

    async def write(
        self,
        name: str,
        columns: Sequence[tuple[str, Kind]],
        rows: AsyncIterator[Sequence[Any]],
        progress: Callable[[int], None] | None = None,
    ) -> int:
        kinds = [k for _, k in columns]
        part, sheet, r, count = 1, self._sheet(name, columns), 0, 0
        async for row in rows:
            r += 1
            if r >= self.MAX_ROWS:
                part += 1
                sheet, r = self._sheet(f"{name}_{part}", columns), 1
            for c, (kind, value) in enumerate(zip(kinds, row, strict=True)):
                v = cell(kind, value)
                if v == "":
                    continue
                if kind in ("integer", "decimal"):
                    sheet.write_number(r, c, v)
                else:
                    sheet.write_string(r, c, v)
            count += 1
            if progress and count % TICK == 0:
                progress(count)
        if progress:
            progress(count)
        return count

    def close(self) -> None:
        try:
            self._book.close()
            replace_atomically(self._tmp, self.path)
        except BaseException:
            self._tmp.unlink(missing_ok=True)
            raise

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._book.close()
        self._tmp.unlink(missing_ok=True)
