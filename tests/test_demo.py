"""`rabfang demo` end to end from a piped script, then `rabfang export`: what was typed is what
the analysts get, Thai intact, formulas neutralised, and a second run resumes."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.surveys import Catalog

PROBLEM = "อินเทอร์เน็ตในโรงเรียนชนบทช้ามาก ครูต้องใช้มือถือส่วนตัว"
EXPECT = "อยากให้มีระบบข้อมูลผู้เรียนเชื่อมกันทุกกระทรวง 🙏"
INJECTION = '=HYPERLINK("http://evil.example","คลิก")'


def rabfang(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RABFANG_DB": str(tmp_path / "demo.db")}
    result = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result


def education_script(catalog: Catalog) -> tuple[list[str], list[str]]:
    """Inputs for the whole education survey, and the levels they pick, item by item."""
    lines = ["1", "1", "2", "3", "3", "1"]  # ไทย, consent, SME owner, North, 30–39, education
    ratings = []
    for n, item in enumerate(catalog.areas["education"].items):
        given = ["4", "5"] if n == 0 else [str(item.current), "6"]  # 6 = don't know
        lines += given
        ratings += given
        if n == 0:
            lines.append("งบไม่พอ")  # the "why?" after picks that differ from the plan
    lines += [PROBLEM, EXPECT, INJECTION]
    return lines, ratings


def read_csv(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM for Excel"
    return list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))


def test_demo_walkthrough_then_export(tmp_path: Path, catalog: Catalog) -> None:
    lines, ratings = education_script(catalog)
    first = rabfang(tmp_path, "demo", stdin="\n".join(lines[:10]) + "\n")
    assert "  1. ไทย" in first.stdout and "ความสามารถ 2/5" in first.stdout
    second = rabfang(tmp_path, "demo", stdin="\n".join(lines[10:]) + "\n")
    assert "ยินดีต้อนรับกลับ" in second.stdout, "a second run resumes"
    assert "กรุณาเลือกภาษา" not in second.stdout
    assert "ท่านตอบด้านการศึกษาครบแล้ว" in second.stdout

    rabfang(tmp_path, "export", "--out", "x")
    rows = read_csv(tmp_path / "x" / "responses.csv")
    items = [i.id for i in catalog.areas["education"].items]
    rated = [r for r in rows if r["question_id"] in ("current_level", "target_level")]
    assert [(r["item_id"], r["question_id"]) for r in rated] == [
        (i, q) for i in items for q in ("current_level", "target_level")
    ]
    assert [r["value"] or "6" for r in rated] == ratings
    assert {r["option_id"] for r in rated if not r["value"]} == {"dk"}
    texts = {r["question_id"]: r["text"] for r in rows if r["text"]}
    assert texts == {"why": "งบไม่พอ", "problems": PROBLEM, "expectations": EXPECT, "missed": "'" + INJECTION}
    assert PROBLEM.encode() in (tmp_path / "x" / "responses.csv").read_bytes(), "Thai byte-exact"
    assert all(r["channel"] == "console" and r["stakeholder_group"] == "sme" and r["region"] == "north" for r in rows)
    assert all(r["answered_at"].endswith("+07:00") for r in rows)
    assert len({r["respondent"] for r in rows}) == 1 and "demo" not in rows[0]["respondent"]

    people = read_csv(tmp_path / "x" / "participants.csv")
    assert len(people) == 1
    assert people[0]["areas_completed"] == "education" and people[0]["age_band"] == "a30_39"


def test_demo_exits_cleanly_at_end_of_input(tmp_path: Path) -> None:
    result = rabfang(tmp_path, "demo", stdin="")
    assert "Please choose a language" in result.stdout


@pytest.mark.parametrize("payload", ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tTAB", "\rCR"])
def test_formula_cells_are_neutralised(payload: str) -> None:
    from exports.csvfiles import neutralise

    assert neutralise(payload) == "'" + payload
    assert neutralise("ปกติ " + payload) == "ปกติ " + payload
