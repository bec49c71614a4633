"""An .xlsx workbook read safely: its size checked before anything is parsed, then each sheet's
cells streamed, only those really present.

An organizer's workbook may be anything: an export with one stray cell at row 1,048,576, a sheet
claiming a dimension it does not fill, a zip bomb (a few hundred KB holding a 200 MB sheet), a
hundred thousand rows. openpyxl's normal mode makes a cell object for every position up to the
dimension a sheet claims (minutes and gigabytes for the stray cell), so a workbook is read in three
steps, each bounded:

1. the file: its size on disk, and that it is an .xlsx (an .xls is refused in one sentence);
2. the zip: every part's uncompressed size and its compression ratio, from the zip directory
   (Python's zipfile never inflates a part past the size the directory states);
3. each sheet's XML, streamed (`iterparse`, elements cleared as read): rows and cells that hold a
   value or a formula are counted, not the dimension claimed, and reading stops at a limit;
   merged ranges are collected here (openpyxl's streaming mode does not read them).

Only then does openpyxl read the values, in its streaming (read-only) mode, up to the last row
really present: once as saved values and once as formulas, so that a formula without a saved value
can be named. Any failure is a `WorkbookError` whose message names the sheet and says what to do.
"""

from __future__ import annotations

import posixpath
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError, iterparse

import openpyxl
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
DOC_RELS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the header of an .xls (Excel 97-2003) file


@dataclass(frozen=True)
class Limits:
    """What a survey workbook may hold. A consultation's survey is tens to hundreds of rows; the
    largest public XLSForms (long choice lists of places) have a few thousand."""

    file_bytes: int = 10 * 2**20  # on disk
    part_bytes: int = 50 * 2**20  # one part of the zip, uncompressed
    total_bytes: int = 100 * 2**20  # all parts, uncompressed
    ratio: int = 100  # uncompressed ÷ compressed, for a part over 1 MiB (XML compresses ~10-20×)
    rows: int = 20_000  # rows holding something, per sheet
    cells: int = 300_000  # cells holding something, in all sheets
    columns: int = 500  # the rightmost column holding something


LIMITS = Limits()


class WorkbookError(Exception):
    """The workbook cannot be read, or is past a limit: `where` (a sheet, or "workbook") and why."""

    def __init__(self, where: str, message: str):
        super().__init__(message)
        self.where = where
        self.message = message


@dataclass(frozen=True)
class Cell:
    """One cell that holds something: its saved value, and its formula when it has one."""

    row: int
    column: int
    value: Any
    formula: str | None = None

    @property
    def column_letter(self) -> str:
        return get_column_letter(self.column)

    @property
    def coordinate(self) -> str:
        return f"{self.column_letter}{self.row}"


@dataclass
class Sheet:
    name: str
    rows: list[list[Cell]] = field(default_factory=list)  # rows holding something, in order; cells in order
    merged: list[str] = field(default_factory=list)  # merged ranges, e.g. "A1:B2"


def read(path: Path, limits: Limits = LIMITS) -> dict[str, Sheet]:
    """Every sheet of the workbook by name, in the workbook's order; WorkbookError when it cannot be."""
    _check_file(path, limits)
    try:
        with zipfile.ZipFile(path) as archive:
            _check_parts(archive, limits)
            parts = _sheet_parts(archive)
            found = {name: _scan(archive, part, name, limits) for name, part in parts.items()}
    except zipfile.BadZipFile as exc:
        raise WorkbookError("workbook", f"is not a readable .xlsx file ({exc})") from None
    cells = sum(n for _, n, _ in found.values())
    if cells > limits.cells:
        raise WorkbookError("workbook", f"holds {cells:,} filled cells; a survey workbook may hold {limits.cells:,}")
    try:
        values = openpyxl.load_workbook(path, read_only=True, data_only=True)
        formulas = openpyxl.load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise WorkbookError("workbook", f"cannot be read as an Excel workbook (.xlsx): {exc}") from None
    try:
        sheets = {}
        for name in values.sheetnames:
            present, _, merged = found.get(name, ([], 0, []))
            sheets[name] = Sheet(name, _rows(values[name], formulas[name], present), merged)
        return sheets
    finally:
        values.close()
        formulas.close()


def _check_file(path: Path, limits: Limits) -> None:
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise WorkbookError("workbook", f"cannot be opened: {exc.strerror or exc}") from None
    if head == OLE2:
        raise WorkbookError("workbook", "is an .xls file (Excel 97-2003): open it and save it as .xlsx")
    if not head.startswith(b"PK"):
        raise WorkbookError(
            "workbook", "cannot be read as an Excel workbook (.xlsx): save it as .xlsx from Excel or LibreOffice"
        )
    if size > limits.file_bytes:
        raise WorkbookError(
            "workbook", f"is {size / 2**20:.1f} MB; a survey workbook may be {limits.file_bytes / 2**20:.0f} MB"
        )


def _check_parts(archive: zipfile.ZipFile, limits: Limits) -> None:
    total = 0
    for info in archive.infolist():
        total += info.file_size
        if info.file_size > limits.part_bytes:
            raise WorkbookError(
                "workbook", f"part {info.filename} is {info.file_size / 2**20:.0f} MB unpacked; the limit is "
                f"{limits.part_bytes / 2**20:.0f} MB",
            )  # fmt: skip
        if info.file_size > 2**20 and info.file_size > limits.ratio * max(1, info.compress_size):
            raise WorkbookError(
                "workbook", f"part {info.filename} unpacks to {info.file_size // max(1, info.compress_size):,}× its "
                "size: refused as a zip bomb",
            )  # fmt: skip
    if total > limits.total_bytes:
        raise WorkbookError(
            "workbook", f"unpacks to {total / 2**20:.0f} MB; the limit is {limits.total_bytes / 2**20:.0f} MB"
        )


def _sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> its part in the zip, from xl/workbook.xml and its relationships."""
    try:
        targets = {}
        with archive.open("xl/_rels/workbook.xml.rels") as f:
            for _, el in iterparse(f):
                if el.tag == f"{RELS}Relationship":
                    target = el.get("Target", "")
                    targets[el.get("Id")] = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
                        posixpath.join("xl", target)
                    )  # fmt: skip
        parts = {}
        with archive.open("xl/workbook.xml") as f:
            for _, el in iterparse(f):
                if el.tag == f"{MAIN}sheet" and el.get(f"{DOC_RELS}id") in targets:
                    parts[el.get("name", "")] = targets[el.get(f"{DOC_RELS}id")]
        return parts
    except (KeyError, ParseError) as exc:
        raise WorkbookError("workbook", f"is not a readable .xlsx file (its sheet list: {exc})") from None


def _scan(archive: zipfile.ZipFile, part: str, name: str, limits: Limits) -> tuple[list[int], int, list[str]]:
    """A sheet's rows holding something (their numbers), its filled cells, its merged ranges; past
    a limit, WorkbookError (reading stops there)."""
    present: list[int] = []
    last = cells = 0
    merged: list[str] = []
    row_filled = False
    try:
        with archive.open(part) as f:
            for _, el in iterparse(f):
                tag = el.tag
                if tag == f"{MAIN}c":
                    if any(child.tag in (f"{MAIN}v", f"{MAIN}is", f"{MAIN}f") for child in el):
                        cells += 1
                        row_filled = True
                        ref = el.get("r")
                        if ref and column_index_from_string(coordinate_from_string(ref)[0]) > limits.columns:
                            raise WorkbookError(name, f"has a value in column {ref}; at most {limits.columns} columns")
                    el.clear()
                elif tag == f"{MAIN}row":
                    last = int(el.get("r") or last + 1)
                    if row_filled:
                        present.append(last)
                        if len(present) > limits.rows:
                            raise WorkbookError(name, f"has more than {limits.rows:,} filled rows")
                    row_filled = False
                    el.clear()
                elif tag == f"{MAIN}mergeCell":
                    merged.append(el.get("ref", ""))
    except (KeyError, ParseError, ValueError) as exc:
        raise WorkbookError(name, f"cannot be read ({exc})") from None
    return present, cells, merged


GAP = 1000  # rows: past a gap this long, the rows after it are read on their own


def _bands(present: list[int]) -> list[tuple[int, int]]:
    """Runs of rows to read: openpyxl's streaming reader yields an empty row for every row
    missing between two it reads, so a stray cell a million rows down is read by itself."""
    bands: list[tuple[int, int]] = []
    for n in present:
        if bands and n - bands[-1][1] <= GAP:
            bands[-1] = (bands[-1][0], n)
        else:
            bands.append((n, n))
    return bands


def _rows(values: Any, formulas: Any, present: list[int]) -> list[list[Cell]]:
    """The sheet's rows holding something, as the two streaming readers give them."""
    values.reset_dimensions()  # not the dimension the sheet claims
    formulas.reset_dimensions()
    out = []
    for first, last in _bands(present):
        vrows = values.iter_rows(min_row=first, max_row=last)
        frows = formulas.iter_rows(min_row=first, max_row=last)
        for vrow, frow in zip(vrows, frows, strict=True):
            cells = []
            for v, f in zip(vrow, frow, strict=True):
                formula = f.value if getattr(f, "data_type", None) == "f" else None
                if v.value is not None or formula is not None:
                    cells.append(Cell(v.row, v.column, v.value, formula))
            if cells:
                out.append(cells)
    return out
