"""Hostile and odd survey workbooks, built from a real export (`rabfang surveys export`): what an
organizer's spreadsheet may turn out to be. Each builder writes one file and returns its path.
The import must accept or refuse each within 10 s and 200 MB (tests/test_workbook_limits.py,
bench/workbooks.py)."""

from __future__ import annotations

import re
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl

from bot.surveys import load_catalog
from bot.surveys.xlsform import export_workbook

SURVEY_PART = "xl/worksheets/sheet2.xml"  # export_workbook writes capabilities, survey, choices, levels, settings


def exported(path: Path) -> Path:
    """The shipped surveys as a workbook."""
    export_workbook(load_catalog(), path)
    return path


def _rewrite(src: Path, out: Path, part: str, change: Callable[[str], str]) -> Path:
    """A copy of `src` with one part's XML changed."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == part:
                data = change(data.decode("utf-8")).encode("utf-8")
            zout.writestr(info, data)
    return out


def stray_cell(base: Path, out: Path) -> Path:
    """The export with one more cell, at the last row Excel has (1,048,576)."""
    book = openpyxl.load_workbook(base)
    book["survey"].cell(1_048_576, 1, "text")
    book.save(out)
    return out


def past_last_row(base: Path, out: Path) -> Path:
    """A cell one row past what Excel allows (row 1,048,577), as a broken writer may leave it."""
    row = '<row r="1048577"><c r="A1048577" t="inlineStr"><is><t>text</t></is></c></row>'
    return _rewrite(base, out, SURVEY_PART, lambda xml: xml.replace("</sheetData>", row + "</sheetData>"))


def claimed_dimension(base: Path, out: Path) -> Path:
    """A survey sheet that claims to fill A1:XFD1048576."""

    def claim(xml: str) -> str:
        return re.sub(r'<dimension ref="[^"]*"/>', '<dimension ref="A1:XFD1048576"/>', xml)

    return _rewrite(base, out, SURVEY_PART, claim)


def zip_bomb(base: Path, out: Path, megabytes: int = 200) -> Path:
    """The export with one more sheet part of `megabytes` of nearly nothing (a few hundred KB zipped)."""
    shutil.copy(base, out)
    chunk = ('<row r="1"><c r="A1" t="inlineStr"><is><t>x</t></is></c></row>' * 1000).encode()
    with (
        zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED, compresslevel=9) as z,
        z.open("xl/worksheets/sheet9.xml", "w", force_zip64=True) as f,
    ):
        written = 0
        while written < megabytes * 2**20:
            f.write(chunk)
            written += len(chunk)
    return out


def many_questions(out: Path, questions: int = 100_000) -> Path:
    """One area with `questions` text questions (about 2 MB on disk), its sheet XML written directly
    (openpyxl takes ~15 s to write it)."""
    book = openpyxl.Workbook()
    book.active.title = "survey"
    book.save(out)

    def cells(r: int, *values: str) -> str:
        return (
            f'<row r="{r}">'
            + "".join(
                f'<c r="{col}{r}" t="inlineStr"><is><t>{v}</t></is></c>' for col, v in zip("ABCD", values, strict=False)
            )
            + "</row>"
        )

    rows = [
        cells(1, "type", "name", "label::Thai (th)", "label::English (en)"),
        cells(2, "begin_group", "services", "บริการ", "Services"),
    ]
    rows += [cells(n + 3, "text", f"q{n}", f"คำถาม {n}", f"Question {n}") for n in range(questions)]
    rows.append(cells(questions + 3, "end_group", "services"))
    data = "<sheetData>" + "".join(rows) + "</sheetData>"
    return _rewrite(
        out,
        out.with_suffix(".big.xlsx"),
        "xl/worksheets/sheet1.xml",
        lambda xml: re.sub(r"<sheetData\s*/>|<sheetData>.*</sheetData>", lambda _: data, xml, flags=re.S),
    )


def xls_file(out: Path) -> Path:
    """The first bytes of an Excel 97-2003 (.xls) file, named .xlsx."""
    out.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 4096)
    return out


def formula_labels(base: Path, out: Path) -> Path:
    """The export with labels typed as text that begin like formulas (a link, a DDE command)."""
    book = openpyxl.load_workbook(base)
    ws = book["capabilities"]
    for row, text in ((2, '=HYPERLINK("http://example.org","click")'), (3, "=cmd|' /C calc'!A0")):
        cell = ws.cell(row, 4, text)
        cell.data_type = "s"
    book.save(out)
    return out


HOSTILE: dict[str, Callable[[Path, Path], Path]] = {
    "a stray cell at row 1,048,576": stray_cell,
    "a cell at row 1,048,577": past_last_row,
    "a sheet claiming A1:XFD1048576": claimed_dimension,
    "a zip bomb (200 MB sheet)": zip_bomb,
    "100,000 questions": lambda base, out: many_questions(out),
    "an .xls file": lambda base, out: xls_file(out),
}


_READ = """
import json, sys, time
t = time.perf_counter()
from bot.surveys.xlsform import read_workbook
imported = read_workbook(__import__("pathlib").Path(sys.argv[1]))
peak = next(int(line.split()[1]) / 1024 for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"accepted": imported.catalog is not None, "problems": [str(p) for p in imported.problems][:5],
                  "notes": len(imported.notes), "seconds": time.perf_counter() - t, "peak_mb": peak}))
"""


def measure(path: Path, timeout: float = 60.0) -> dict[str, object]:
    """Read a workbook as `rabfang surveys import` does, in a child process: accepted or the first
    problems, wall seconds (imports included), the child's own peak RSS in MB (its VmHWM, which
    unlike wait4's figure leaves out the pages of the process it was forked from), and whether it
    crashed (a traceback, a time-out)."""
    import json
    import os
    import subprocess
    import sys
    import tempfile
    import time

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", _READ, str(path)], stdout=out, stderr=err, env=env)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - t > timeout:
                proc.kill()
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        wall = time.perf_counter() - t
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    result: dict[str, object] = {"seconds": wall, "peak_mb": usage.ru_maxrss / 1024, "crashed": proc.returncode != 0}
    if proc.returncode == 0:
        result.update(json.loads(stdout.strip().splitlines()[-1]))
        result["seconds"] = wall
    else:
        result["problems"] = [stderr[-500:]]
    return result
