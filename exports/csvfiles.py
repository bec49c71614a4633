"""Cells and files: typed cell values, OWASP CSV-injection neutralisation, Bangkok times, and
atomic CSV and XLSX writers that stream rows from an async iterator.

Exports hold personal data: every file is created 0600 and every folder we create 0700, whatever
the umask (FILE_MODE, DIR_MODE; `private_dir`, `atomic_file`)."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import unicodedata
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator, Sequence
from datetime import datetime, timedelta
from operator import getitem
from pathlib import Path
from typing import Any, Literal

from bot.i18n import BANGKOK

TICK = 10_000  # rows between progress reports
FILE_MODE = 0o600  # export files: the owner only
DIR_MODE = 0o700  # export folders we create

# A cell starting with one of these is a formula to Excel, LibreOffice or Sheets (OWASP "CSV
# Injection"); the full-width forms are included because some spreadsheet locales accept them.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
_FORMULA = frozenset(_FORMULA_START)
# Characters that show nothing, so that "\u200b=HYPERLINK(…)" looks like, and may be taken for, a
# formula: format characters (Cf: zero-width space and joiners, BOM, bidi marks and isolates U+200E,
# U+200F, U+202A-U+202E, U+2066-U+2069, soft hyphen, word joiner), controls, spaces and separators,
# and the default-ignorable code points that are not Cf (combining grapheme joiner, Hangul fillers,
# Mongolian and other variation selectors).
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Cc", "Zs", "Zl", "Zp"})
_INVISIBLE_OTHERS = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180f\u3164\uffa0" + "".join(map(chr, range(0xFE00, 0xFE10)))
)

Kind = Literal["text", "integer", "decimal", "datetime"]
Progress = Callable[[str, int, "int | None"], None]  # (file or sheet, rows written, total if known)


def _invisible(ch: str) -> bool:
    return ch in _INVISIBLE_OTHERS or unicodedata.category(ch) in _INVISIBLE_CATEGORIES


def looks_like_formula(value: str) -> bool:
    """True when the first visible character (or a tab or line break before it) starts a formula."""
    for ch in value:
        if ch in _FORMULA:
            return True
        if not _invisible(ch):
            return False
    return False


def neutralise(value: str) -> str:
    """Prefix a cell that a spreadsheet would read as a formula with an apostrophe, also when
    invisible characters (a zero-width space, a BOM, bidi controls, spaces) come before the sign."""
    return "'" + value if looks_like_formula(value) else value


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


# ---- CSV lines ---------------------------------------------------------------------------------
# The csv module's dialect as we use it (comma, double quote, QUOTE_MINIMAL, CRLF), rendered here so
# that a column's repeated values are rendered once: a million-row file has a few thousand
# distinct ids and options, and rendering each cell anew was most of an export's time.

CACHED = 4096  # distinct values remembered per column; the memo is emptied when it fills
SLICE = 200  # rows rendered and written at a time


def csv_field(value: Any) -> str:
    """One already-converted cell as csv.writer writes it: quoted when it holds a comma, a quote
    or a line break, quotes doubled; numbers as str() (repr() for floats, as csv does)."""
    if type(value) is str:
        if "," in value or '"' in value or "\n" in value or "\r" in value:
            return '"' + value.replace('"', '""') + '"'
        return value
    return repr(value) if isinstance(value, float) else str(value)


class _Column(dict):
    """value → its rendered field, for one column kind; a miss renders through `cell`."""

    def __init__(self, kind: Kind):
        super().__init__()
        self.kind = kind

    def __missing__(self, value: Any) -> str:
        field = csv_field(cell(self.kind, value))
        # Only str and None are remembered: numbers that are equal render differently (1, 1.0,
        # True; 0.0 and -0.0), and a remembered one would answer for all of them.
        if value is None or type(value) is str:
            if len(self) >= CACHED:
                self.clear()
            self[value] = field
        return field


# A stored UTC time: (the hour, the minutes and seconds), fractions of a second dropped as isoformat does.
_UTC = re.compile(r"(\d{4}-\d\d-\d\dT\d\d)(:[0-5]\d:[0-5]\d)(?:\.\d{6})?\+00:00", re.ASCII)


class _Times(_Column):
    """Stored times are UTC, `YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00`, and almost all distinct: the
    conversion of each hour is remembered instead (Bangkok's offset is whole hours) and the minutes
    and seconds are carried over. Anything else goes through `cell`, unchanged."""

    def __init__(self) -> None:
        super().__init__("datetime")
        self.hours: dict[str, tuple[str, str] | None] = {}

    def __missing__(self, value: Any) -> str:
        m = _UTC.fullmatch(value) if type(value) is str else None
        if m is not None:
            head = m[1]
            hour = self.hours[head] if head in self.hours else self._hour(head)
            if hour is not None:
                return hour[0] + m[2] + hour[1]
        return csv_field(cell("datetime", value))

    def _hour(self, head: str) -> tuple[str, str] | None:
        """`YYYY-MM-DDTHH` in UTC → (that hour in Bangkok, the offset), when the offset is whole
        hours and the same all hour long; else None (and `cell` converts each time itself)."""
        found = None
        try:
            start = datetime.fromisoformat(head + ":00:00+00:00")
            local = start.astimezone(BANGKOK)
            last = (start + timedelta(hours=1, microseconds=-1)).astimezone(BANGKOK)
        except (ValueError, OverflowError):
            pass
        else:
            offset = local.utcoffset()
            if offset is not None and offset == last.utcoffset() and offset % timedelta(hours=1) == timedelta(0):
                text = local.isoformat(timespec="seconds")
                found = (text[:13], text[19:])
        if len(self.hours) >= CACHED:
            self.hours.clear()
        self.hours[head] = found
        return found


class CsvLines:
    """Renders rows of the given column kinds as CSV text, exactly as csv.writer would write the
    cells `cell` makes of them (tests/test_export_fast.py holds the two side by side)."""

    def __init__(self, kinds: Sequence[Kind]):
        self.width = len(kinds)
        self.columns = [_Times() if k == "datetime" else _Column(k) for k in kinds]

    def row(self, row: Sequence[Any]) -> str:
        if len(row) != self.width:
            raise ValueError(f"a row of {len(row)} cells for {self.width} columns")
        try:
            line = ",".join(map(getitem, self.columns, row))
        except TypeError:  # an unhashable value: no memo for it
            line = ",".join(csv_field(cell(c.kind, v)) for c, v in zip(self.columns, row, strict=True))
        return line if line or self.width != 1 else '""'  # csv quotes a lone empty field

    def lines(self, rows: Sequence[Sequence[Any]]) -> str:
        if not rows:
            return ""
        cols = self.columns
        if self.width > 1 and min(map(len, rows)) == max(map(len, rows)) == self.width:
            try:  # the common case, with no Python code per row but the memo's misses
                return "\r\n".join([",".join(map(getitem, cols, r)) for r in rows]) + "\r\n"
            except TypeError:
                pass
        return "".join([self.row(r) + "\r\n" for r in rows])


async def batches(rows: AsyncIterable[Sequence[Any]], size: int = SLICE) -> AsyncIterator[Sequence[Sequence[Any]]]:
    """Rows a list at a time: the source's own batches when it has them (storage.queries.Rows)."""
    own = getattr(rows, "batches", None)
    if own is not None:
        async for batch in own():
            yield batch
        return
    batch: list[Sequence[Any]] = []
    async for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")


def private_dir(path: Path) -> Path:
    """Create `path` and any missing parents as 0700 (a folder that already exists is left as it is)."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:  # made meanwhile by someone else: theirs
            continue
        os.chmod(folder, DIR_MODE)  # mkdir's mode is narrowed by the umask, never widened; be exact
    if not path.is_dir():
        raise NotADirectoryError(path)
    return path


def _create_private(tmp: Path) -> None:
    """Create `tmp` empty with mode 0600 before anything is written to it (O_EXCL: never an old file)."""
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be opened
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def replace_atomically(tmp: Path, path: Path) -> None:
    os.chmod(tmp, FILE_MODE)  # also for files a library created (XlsxWriter)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """A temporary name beside `path` to write to. On success the file is made durable and
    renamed over `path`; on any error it is removed and an older `path` is left as it was, so a
    reader only ever sees a whole file."""
    tmp = _tmp_name(path)
    try:
        _create_private(tmp)
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        replace_atomically(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """Write a small text file atomically (UTF-8 with BOM, CRLF: Windows Notepad shows it right)."""
    with atomic_file(path) as tmp, open(tmp, "w", encoding="utf-8-sig", newline="\r\n") as fh:
        fh.write(text)


async def write_csv(
    path: Path,
    columns: Sequence[tuple[str, Kind]],
    rows: AsyncIterable[Sequence[Any]],
    progress: Callable[[int], None] | None = None,
) -> int:
    """Stream rows into `path` under a temporary name, then rename; returns the number of data rows.

    On any error the temporary file is removed and an older `path` is left as it was."""
    count = 0
    render = CsvLines([k for _, k in columns])
    with atomic_file(path) as tmp, open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
        fh.write(",".join(csv_field(name) for name, _ in columns) + "\r\n")
        async for batch in batches(rows):
            for i in range(0, len(batch), SLICE):  # the text of a whole batch could be megabytes
                fh.write(render.lines(batch[i : i + SLICE]))
            before, count = count, count + len(batch)
            if progress:
                for n in range((before // TICK + 1) * TICK, count + 1, TICK):
                    progress(n)
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
        _create_private(self._tmp)  # XlsxWriter then writes into it, keeping the mode
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
        rows: AsyncIterable[Sequence[Any]],
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
