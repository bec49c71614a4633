"""The HTML report: self-contained, escaped, and showing the right numbers, checked as text and
as rendered by headless Chromium (a screenshot is kept in test-artifacts/)."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bot.surveys import Catalog
from exports.report import write_report
from storage import Database
from tests.test_export import PEOPLE, at, seed


@pytest.fixture(scope="session")
def catalog(agreement_catalog: Catalog) -> Catalog:
    """These answers are ratings on the agreement scale: the survey form that asks them."""
    return agreement_catalog


ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


class Text(HTMLParser):
    """The text a reader sees in one language (the other's spans are hidden by CSS), and every tag."""

    def __init__(self, lang: str) -> None:
        super().__init__()
        self.hide = "en" if lang == "th" else "th"
        self.parts: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self._hiding = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "span" and dict(attrs).get("class") == self.hide:
            self._hiding = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "span":
            self._hiding = False

    def handle_data(self, data: str) -> None:
        if not self._hiding:
            self.parts.append(data)

    @property
    def text(self) -> str:
        return re.sub(r"\s+", " ", "".join(self.parts))


def parse(html: str, lang: str = "th") -> Text:
    p = Text(lang)
    p.feed(html)
    return p


@pytest.fixture
async def report(db: Database, catalog: Catalog, tmp_path: Path) -> Path:
    await seed(db, catalog)
    return await write_report(db, catalog, tmp_path / "out" / "report.html", now=at(100))


async def test_the_report_header_gives_its_date_as_people_read_it(
    db: Database, catalog: Catalog, tmp_path: Path
) -> None:
    out = await write_report(db, catalog, tmp_path / "r.html", now=datetime(2026, 12, 7, 11, 54, tzinfo=UTC))
    html = out.read_text(encoding="utf-8")
    assert "จัดทำเมื่อ จ. 7 ธ.ค. 2569 เวลา 18:54 น." in parse(html).text  # Bangkok time, Buddhist Era
    assert "Generated Mon 7 Dec 2026, 18:54 (Bangkok time)" in parse(html, "en").text
    assert "2026-12-07T18:54" not in html


async def test_report_is_self_contained_and_escaped(report: Path) -> None:
    html = report.read_text(encoding="utf-8")
    doc = parse(html)
    tags = {t for t, _ in doc.tags}
    assert not tags & {"link", "img", "iframe", "object", "embed", "base"}
    assert not [a for _, a in doc.tags if "src" in a or "srcset" in a]
    assert "@import" not in html and "url(" not in html
    csp = next(a["content"] for t, a in doc.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert csp and "default-src 'none'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert [t for t, _ in doc.tags].count("script") == 1  # only the language switch
    # the participant's <script> is text, not a tag
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; ยาไม่พอ &amp; คิวยาว" in html
    assert "<script>alert(1)</script> ยาไม่พอ & คิวยาว" in doc.text
    assert "declined secret" not in html  # a participant without consent is never shown


async def test_report_numbers_and_items(report: Path, catalog: Catalog) -> None:
    text = parse(report.read_text(encoding="utf-8")).text
    english = parse(report.read_text(encoding="utf-8"), "en").text
    for item in catalog.areas["education"].items:
        assert item.capability.th in text and item.capability.en in english
    # education / learner_data: current 4,2,3 → n 3, 33% agree, Wilson 95% CI 6–79%; feasible 5,4,1 → 67%
    # (21–94%); appropriate dk,4,5 → n 2 and 1 don't know, 100% (34–100%); each flagged as n < 30
    assert "ระดับปัจจุบันถูกต้องและครบถ้วน — เห็นด้วยร้อยละ 33 (ช่วงความเชื่อมั่น 95%: 6–79%, n = 3) ⚠" in text
    assert "เป้าหมายปี 2570 เป็นไปได้ — เห็นด้วยร้อยละ 67 (ช่วงความเชื่อมั่น 95%: 21–94%, n = 3)" in text
    assert "เป้าหมายปี 2570 เหมาะสม — เห็นด้วยร้อยละ 100 (ช่วงความเชื่อมั่น 95%: 34–100%, n = 2; ไม่ทราบ 1)" in text
    assert "2027 target appropriate — 100% agree (95% CI 34–100%, n = 2; 1 don't know) ⚠ fewer than 30" in english
    assert "ระดับปัจจุบัน: ระดับ 2 เปิดเผยข้อมูล → เป้าหมายปี 2570: ระดับ 4 ดิจิทัลเต็มรูปแบบ" in text
    assert "Current level: Level 2 Developing (Open) → 2027 target: Level 4 Managed (Fully digital)" in english
    # the diverging bars' numbers: feasible 5,4,1 → 1 of 3 disagrees, 2 agree
    assert "ไม่เห็นด้วย 33% · เห็นด้วย 67%" in text and "disagree 0% · agree 100% · DK 1" in english
    # the stakeholder breakdown: citizens rated current 4 and 3 → 50%, Wilson 9–91%, n 2, flagged
    assert "ประชาชนทั่วไป50% ⚠9–91%n = 2" in text
    # comments grouped per question, in survey order (after the area's themes, which quote some of them)
    listed = text[text.index("ขีดความสามารถ ระดับปัจจุบัน และเป้าหมายปี 2570") :]
    assert listed.index("-2+3+cmd") < listed.index("ข้อมูลไม่ครบ") < listed.index("=HYPERLINK") < listed.index("@SUM(1+1)")
    # counts by channel and region for education: 3 respondents, 2 completed
    assert "ผู้ตอบ: 3 · ตอบครบทั้งด้าน: 2" in text


async def test_report_for_one_area(db: Database, catalog: Catalog, tmp_path: Path) -> None:
    await seed(db, catalog)
    path = await write_report(db, catalog, tmp_path / "h.html", area="health", lang="en")
    html = path.read_text(encoding="utf-8")
    assert '<html lang="en" data-lang="en">' in html
    assert 'id="area-health"' in html and 'id="area-education"' not in html
    with pytest.raises(ValueError, match="unknown area"):
        await write_report(db, catalog, tmp_path / "x.html", area="nope")


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(chromium() is None, reason="chromium is not installed (apt-get install chromium fonts-thai-tlwg)")
async def test_report_renders_in_headless_chromium(report: Path, catalog: Catalog, tmp_path: Path) -> None:
    browser = chromium()
    assert browser
    ARTIFACTS.mkdir(exist_ok=True)
    url = report.as_uri()

    def run(*args: str, profile: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / profile}", *args, url],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )

    dom = run("--dump-dom", profile="dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    text = parse(dom.stdout).text
    for item in catalog.areas["education"].items:
        assert item.capability.th in text
    assert "เป้าหมายปี 2570 เป็นไปได้ — เห็นด้วยร้อยละ 67 (ช่วงความเชื่อมั่น 95%: 21–94%, n = 3)" in text
    assert "<script>alert(1)</script> ยาไม่พอ & คิวยาว" in text  # still text after parsing by a browser
    assert re.search(r'<html lang="th" data-lang="th"', dom.stdout)

    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    result = run("--window-size=1200,2400", f"--screenshot={shot}", profile="shot")
    assert result.returncode == 0, result.stderr[-2000:]
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 20_000  # a rendered page, not a blank one
    assert PEOPLE  # the seeded data is what the screenshot shows


async def test_the_report_file_is_private(db: Database, catalog: Catalog, tmp_path: Path) -> None:
    import os

    old = os.umask(0)
    try:
        out = await write_report(db, catalog, tmp_path / "new" / "report.html", now=at(100))
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o600
    assert out.parent.stat().st_mode & 0o777 == 0o700
