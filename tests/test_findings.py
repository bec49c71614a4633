"""The report's findings and summary.csv against an independent computation on generated data.

A few hundred participants with known distributions of level picks (health, asked as level picks)
and of agreement ratings (sme, asked on the agreement scale) are stored in a real SQLite database
through storage's unit of work; the test computes n, the shares, their Wilson score intervals,
medians and the most picked level from the same plain data with its own formula, and compares them
with what summary.csv and the report say. Plus: the n < 30 warning at its threshold, Thai text
intact in the report and the CSV files, and both languages rendered by headless Chromium (screen and
A4 print-to-PDF).
"""

from __future__ import annotations

import math
import random
import re
import statistics
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bot.model import Answer, Outcome, State
from bot.surveys import Catalog
from exports import write_export
from exports.report import write_report
from storage import Database
from tests.kinds import levels_catalog
from tests.test_export import at, read_csv
from tests.test_report import ARTIFACTS, CHROMIUM_FLAGS, chromium, parse

Z = 1.959963984540054  # two-sided 95%
GROUPS = {"citizen": 0.45, "sme": 0.25, "farmer": 0.15, "government": 0.1, "academic": 0.05}
REGIONS = {"bangkok": 0.4, "northeast": 0.3, "north": 0.2, "south": 0.1}
# level picks: health items are 2 → 4 (info_exchange, telemedicine); "dk" = don't know
CURRENT_PICKS = {"1": 0.1, "2": 0.45, "3": 0.3, "4": 0.1, "dk": 0.05}
TARGET_PICKS = {"2": 0.05, "3": 0.45, "4": 0.35, "5": 0.1, "dk": 0.05}
RATINGS = {"1": 0.05, "2": 0.15, "3": 0.2, "4": 0.4, "5": 0.15, "dk": 0.05}
THAI_WHY = "น้ำท่วมไร่ ข้าวเสียหาย ต้องการเงินชดเชยที่เร็วขึ้น “ด่วน” ๑๒๓"


def wilson(x: int, n: int) -> tuple[float, float]:
    """Wilson (1927) score interval, written out here from the textbook formula."""
    p = x / n
    denominator = 1 + Z**2 / n
    centre = p + Z**2 / (2 * n)
    spread = Z * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2))
    return (centre - spread) / denominator, (centre + spread) / denominator


def test_the_reference_interval_matches_the_literature() -> None:
    # Newcombe (1998), Statistics in Medicine 17:857, table I: 81/263 → 0.2553 to 0.3662
    lo, hi = wilson(81, 263)
    assert (round(lo, 4), round(hi, 4)) == (0.2553, 0.3662)


@dataclass
class Person:
    group: str
    region: str
    consent: str = "given"
    answers: dict[str, str] = field(default_factory=dict)  # key -> option id or text


def pick(rng: random.Random, dist: dict[str, float]) -> str:
    return rng.choices(list(dist), weights=list(dist.values()))[0]


def generate(n: int = 360, seed: int = 2570) -> list[Person]:
    rng = random.Random(seed)
    people = []
    for i in range(n):
        p = Person(pick(rng, GROUPS), pick(rng, REGIONS))
        p.answers["health.info_exchange.current_level"] = pick(rng, CURRENT_PICKS)
        p.answers["health.info_exchange.target_level"] = pick(rng, TARGET_PICKS)
        if i % 3:  # fewer answer the second capability
            p.answers["health.telemedicine.current_level"] = pick(rng, CURRENT_PICKS)
            p.answers["health.telemedicine.target_level"] = pick(rng, TARGET_PICKS)
        if i % 7 == 0:
            p.answers["health.info_exchange.why"] = THAI_WHY
        if i % 2 == 0:
            for q in ("current", "feasible", "appropriate"):
                p.answers[f"sme.biz_portal.{q}"] = pick(rng, RATINGS)
        people.append(p)
    # a participant who declined: their answers exist but must count nowhere
    people.append(Person("citizen", "bangkok", "declined", {"health.info_exchange.current_level": "5"}))
    return people


async def store(db: Database, catalog: Catalog, people: list[Person], start: int = 0) -> None:
    """Through storage's unit of work, as the service stores what the engine decided."""
    for i, p in enumerate(people, start):
        answers = {}
        for key, value in p.answers.items():
            step = catalog.step(key)
            assert step is not None, key
            if step.question.kind == "text":
                answers[key] = Answer(text=value, lang="th", at=at(i))
            else:
                answers[key] = Answer(option=value, value=None if value == "dk" else int(value), lang="th", at=at(i))
        state = State(
            lang="th",
            consent=p.consent,  # type: ignore[arg-type]
            consent_at=at(0) if p.consent == "given" else None,
            consent_version="1" if p.consent == "given" else None,
            group=p.group,
            region=p.region,
            step="menu",
            answers=answers,
            started={key.split(".")[0]: at(i) for key in p.answers},
        )
        await db.handle_event("telegram", f"tg-{9_000_000 + i}", None, lambda _old, s=state: Outcome(state=s), at(i))


@dataclass
class Expected:
    """One question in one group, computed here from the plain data."""

    n: int
    dk: int
    counts: Counter[int]
    hits: int  # agree (4–5), or picks of the plan's level
    lower: int = 0
    higher: int = 0
    picks: list[int] = field(default_factory=list)

    @property
    def pct(self) -> float:
        return 100 * self.hits / self.n

    @property
    def ci(self) -> tuple[float, float]:
        lo, hi = wilson(self.hits, self.n)
        return 100 * lo, 100 * hi

    @property
    def median(self) -> float:
        return float(statistics.median(self.picks))

    @property
    def modes(self) -> list[int]:
        top = max(self.counts.values())
        return sorted(v for v, c in self.counts.items() if c == top)


def expected(catalog: Catalog, people: list[Person], key: str, group: tuple[str, str] | None = None) -> Expected:
    step = catalog.step(key)
    assert step is not None and step.item is not None
    values = [
        p.answers[key]
        for p in people
        if p.consent == "given" and key in p.answers and (group is None or getattr(p, group[0]) == group[1])
    ]
    picks = [int(v) for v in values if v != "dk"]
    counts = Counter(picks)
    if step.question.kind == "level":
        plan = step.item.target if step.question.marks == "target" else step.item.current
        return Expected(
            len(picks),
            values.count("dk"),
            counts,
            counts[plan],
            sum(1 for v in picks if v < plan),
            sum(1 for v in picks if v > plan),
            picks,
        )
    return Expected(len(picks), values.count("dk"), counts, counts[4] + counts[5], picks=picks)


def close(reported: str, exact: float, decimals: int) -> bool:
    """A rounded figure is right when it is within half its last digit of the exact value."""
    return abs(float(reported) - exact) <= 0.5 * 10**-decimals + 1e-9


class Findings(HTMLParser):
    """What the report says, in one language: each capability's sentences and its comparison cells."""

    def __init__(self, lang: str) -> None:
        super().__init__()
        self.hide = "en" if lang == "th" else "th"
        self.article = ""
        self.dimension = ""
        self.group = ""
        self.sentences: dict[tuple[str, str], str] = {}
        self.cells: dict[tuple[str, str, str, str], str] = {}
        self.warnings: set[tuple[str, str]] = set()
        self._into: tuple[dict, tuple] | None = None
        self._depth = 0
        self._hiding = 0
        self._li: tuple[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if self._hiding:
            self._hiding += tag == "span"
            return
        if tag == "span" and a.get("class") == self.hide:
            self._hiding = 1
            return
        if tag == "article":
            self.article = a.get("id", "")
        elif tag == "table" and "compare" in a.get("class", ""):
            self.dimension = a.get("data-dimension", "")
        elif tag == "tr" and "data-group" in a:
            self.group = a["data-group"]
        elif tag == "li" and "finding" in a.get("class", ""):
            self._li = (self.article, a["data-q"])
            self._into = (self.sentences, self._li)
            self.sentences[self._li] = ""
        elif tag == "td" and self.dimension and "data-q" in a:
            key = (self.article, self.dimension, self.group, a["data-q"])
            self.cells[key] = ""
            self._into = (self.cells, key)
        elif tag == "span" and a.get("class") == "warn" and self._li:
            self.warnings.add(self._li)
            self._into = None  # the sentence ends where its warning begins

    def handle_endtag(self, tag: str) -> None:
        if self._hiding:
            self._hiding -= tag == "span"
            return
        if tag in ("li", "td"):
            self._into = None
            if tag == "li":
                self._li = None
        if tag == "table":
            self.dimension = ""

    def handle_data(self, data: str) -> None:
        if self._into and not self._hiding:
            target, key = self._into
            target[key] += data


def findings(html: str, lang: str) -> Findings:
    p = Findings(lang)
    p.feed(html)
    p.sentences = {k: re.sub(r"\s+", " ", v).strip() for k, v in p.sentences.items()}
    p.cells = {k: re.sub(r"\s+", " ", v).strip() for k, v in p.cells.items()}
    return p


LEVEL_EN = re.compile(
    r"^The draft plan's (?P<which>current level|2027 target) \(level (?P<plan>\d)\) — (?P<pct>\d+)% (?:pick the same level|find it "
    r"feasible and appropriate) \(95% CI (?P<lo>\d+)–(?P<hi>\d+)%, n = (?P<n>\d+)(?:; (?P<dk>\d+) don't know)?\); "
    r"(?P<lower>\d+)% pick lower, (?P<higher>\d+)% higher; (?:most pick level (?P<major>\d)|most often picked: "
    r"levels? (?P<modes>[\d, and]+?)) \((?P<mode_pct>\d+)%(?: each)?\)$"
)
LEVEL_TH = re.compile(
    r"^(?:ระดับปัจจุบัน|เป้าหมายปี 2570 )ตามร่างแผน \(ระดับ (?P<plan>\d)\) — ร้อยละ (?P<pct>\d+) "
    r"(?:เลือกระดับเดียวกัน|เห็นว่าเป็นไปได้และเหมาะสม) "
    r"\(ช่วงความเชื่อมั่น 95%: (?P<lo>\d+)–(?P<hi>\d+)%, n = (?P<n>\d+)(?:; ไม่ทราบ (?P<dk>\d+))?\); "
    r"ร้อยละ (?P<lower>\d+) เลือกระดับที่ต่ำกว่า ร้อยละ (?P<higher>\d+) สูงกว่า; "
)
RATING_EN = re.compile(
    r"— (?P<pct>\d+)% agree \(95% CI (?P<lo>\d+)–(?P<hi>\d+)%, n = (?P<n>\d+)(?:; (?P<dk>\d+) don't know)?\)$"
)
RATING_TH = re.compile(
    r"— เห็นด้วยร้อยละ (?P<pct>\d+) \(ช่วงความเชื่อมั่น 95%: (?P<lo>\d+)–(?P<hi>\d+)%, n = (?P<n>\d+)(?:; ไม่ทราบ (?P<dk>\d+))?\)$"
)
CELL = re.compile(
    r"^(?P<pct>\d+)%(?: ⚠)?(?P<lo>\d+)–(?P<hi>\d+)%n = (?P<n>\d+)(?:↓(?P<lower>\d+)% ↑(?P<higher>\d+)%)?$"
)


def check_numbers(m: re.Match[str], e: Expected, where: str) -> None:
    assert int(m["n"]) == e.n, where
    if "dk" in m.groupdict():
        assert int(m["dk"] or 0) == e.dk, where
    assert close(m["pct"], e.pct, 0), (where, m["pct"], e.pct)
    assert close(m["lo"], e.ci[0], 0) and close(m["hi"], e.ci[1], 0), (where, m["lo"], m["hi"], e.ci)
    if "lower" in m.groupdict() and m["lower"] is not None:
        assert close(m["lower"], 100 * e.lower / e.n, 0), where
        assert close(m["higher"], 100 * e.higher / e.n, 0), where


LEVEL_KEYS = [f"health.{i}.{q}" for i in ("info_exchange", "telemedicine") for q in ("current_level", "target_level")]
RATING_KEYS = [f"sme.biz_portal.{q}" for q in ("current", "feasible", "appropriate")]


@pytest.fixture(scope="module")
def people() -> list[Person]:
    return generate()


@pytest.fixture
async def filled(db: Database, people: list[Person]) -> Catalog:
    catalog = levels_catalog()
    await store(db, catalog, people)
    return catalog


async def test_summary_csv_matches_an_independent_computation(
    db: Database, filled: Catalog, people: list[Person], tmp_path: Path
) -> None:
    await write_export(db, tmp_path / "e", catalog=filled, now=at(1000))
    rows = read_csv(tmp_path / "e" / "summary.csv")
    got = {(r["scope"], r["group"], f"{r['area']}.{r['item_id']}.{r['question_id']}"): r for r in rows}
    checked = 0
    for key in LEVEL_KEYS + RATING_KEYS:
        step = filled.step(key)
        assert step is not None
        for scope, group in (
            [("all", "")] + [("stakeholder_group", g) for g in GROUPS] + [("region", r) for r in REGIONS]
        ):
            e = expected(filled, people, key, None if scope == "all" else (scope.replace("stakeholder_", ""), group))
            row = got[(scope, group, key)]
            assert row["section"] == step.question.kind
            assert int(row["n"]) == e.n and int(row["n_dont_know"]) == e.dk, (scope, group, key)
            assert [int(row[f"n_{v}"]) for v in range(1, 6)] == [e.counts[v] for v in range(1, 6)]
            assert float(row["median"]) == e.median
            assert close(row["ci95_low"], e.ci[0], 1) and close(row["ci95_high"], e.ci[1], 1), (key, scope, group)
            if step.question.kind == "level":
                assert close(row["pct_plan"], e.pct, 1) and row["pct_agree"] == ""
                assert (int(row["n_lower"]), int(row["n_higher"])) == (e.lower, e.higher)
                plan = step.item.target if step.question.marks == "target" else step.item.current  # type: ignore[union-attr]
                assert int(row["plan_level"]) == plan
            else:
                assert close(row["pct_agree"], e.pct, 1) and row["pct_plan"] == row["n_lower"] == ""
            checked += 1
    assert checked == 7 * (1 + len(GROUPS) + len(REGIONS))
    # the generated data is what the test thinks it is: several hundred answers, the plan's level not the mode
    overall = expected(filled, people, "health.info_exchange.target_level")
    assert overall.n > 300 and overall.modes == [3]
    readme = (tmp_path / "e" / "README.txt").read_text(encoding="utf-8-sig")
    for column in ("pct_plan", "n_lower", "n_higher", "plan_level", "ci95_low", "ci95_high"):
        assert f"  {column} " in readme
    assert "Wilson score interval" in readme and "section=level" in readme


async def test_report_findings_match_an_independent_computation(
    db: Database, filled: Catalog, people: list[Person], tmp_path: Path
) -> None:
    html = (await write_report(db, filled, tmp_path / "r.html", now=at(1000))).read_text(encoding="utf-8")
    en, th = findings(html, "en"), findings(html, "th")
    for key in LEVEL_KEYS:
        area, item, q = key.split(".")
        where = (f"item-{area}-{item}", q)
        e = expected(filled, people, key)
        m = LEVEL_EN.match(en.sentences[where])
        assert m, en.sentences[where]
        check_numbers(m, e, key)
        step = filled.step(key)
        assert step is not None and step.item is not None
        assert int(m["plan"]) == (step.item.target if q == "target_level" else step.item.current)
        assert m["which"] == ("2027 target" if q == "target_level" else "current level")
        modes = [int(v) for v in re.findall(r"\d", m["major"] or m["modes"])]
        assert modes == e.modes
        assert close(m["mode_pct"], 100 * e.counts[e.modes[0]] / e.n, 0)
        assert (m["major"] is not None) == (2 * e.counts[e.modes[0]] > e.n)  # "most pick" only for a majority
        t = LEVEL_TH.match(th.sentences[where])
        assert t, th.sentences[where]
        check_numbers(t, e, key)
        assert where not in en.warnings  # n ≥ 30 overall
    for key in RATING_KEYS:
        area, item, q = key.split(".")
        where = (f"item-{area}-{item}", q)
        e = expected(filled, people, key)
        m, t = RATING_EN.search(en.sentences[where]), RATING_TH.search(th.sentences[where])
        assert m and t, (en.sentences[where], th.sentences[where])
        check_numbers(m, e, key)
        check_numbers(t, e, key)
    # the same findings per stakeholder group and region, small groups flagged
    flagged = 0
    for key in LEVEL_KEYS + RATING_KEYS:
        area, item, q = key.split(".")
        for dimension, attr, values in (("stakeholder_group", "group", GROUPS), ("region", "region", REGIONS)):
            for g in values:
                e = expected(filled, people, key, (attr, g))
                text = en.cells[(f"item-{area}-{item}", dimension, g, q)]
                m = CELL.match(text)
                assert m, text
                check_numbers(m, e, f"{key} {g}")
                assert ("⚠" in text) == (e.n < 30), (key, g, e.n)
                flagged += "⚠" in text
    assert flagged  # the generated groups include small ones (academic: ~5%)


async def test_small_n_warning_at_the_threshold(db: Database, tmp_path: Path) -> None:
    catalog = levels_catalog()
    key, where = "sme.biz_portal.current", ("item-sme-biz_portal", "current")
    await store(db, catalog, [Person("citizen", "bangkok", answers={key: "4"}) for _ in range(29)])
    await store(db, catalog, [Person("citizen", "bangkok", answers={key: "dk"})], start=100)  # not in n

    async def report(name: str) -> Findings:
        html = (await write_report(db, catalog, tmp_path / name, area="sme")).read_text(encoding="utf-8")
        return findings(html, "en")

    before = await report("29.html")
    assert "n = 29; 1 don't know" in before.sentences[where] and where in before.warnings
    assert "⚠" in before.cells[("item-sme-biz_portal", "stakeholder_group", "citizen", "current")]
    await store(db, catalog, [Person("citizen", "bangkok", answers={key: "2"})], start=200)
    after = await report("30.html")
    assert "n = 30; 1 don't know" in after.sentences[where] and where not in after.warnings
    assert "⚠" not in after.cells[("item-sme-biz_portal", "stakeholder_group", "citizen", "current")]
    # 29 of 30 agree: Wilson 83–99%, where a normal approximation would reach past 100%
    assert "97% agree (95% CI 83–99%, n = 30; 1 don't know)" in after.sentences[where]


async def test_thai_text_is_intact_in_the_report_and_the_csv(
    db: Database, filled: Catalog, people: list[Person], tmp_path: Path
) -> None:
    await write_export(db, tmp_path / "e", catalog=filled)
    html = (await write_report(db, filled, tmp_path / "r.html")).read_text(encoding="utf-8")
    written = sum(1 for p in people if p.consent == "given" and "health.info_exchange.why" in p.answers)
    assert html.count(THAI_WHY) >= written  # every comment, as typed, with its combining marks
    for name in ("responses.csv", "comments.csv"):
        texts = [r["text"] for r in read_csv(tmp_path / "e" / name)]
        assert texts.count(THAI_WHY) == written, name
    comments = read_csv(tmp_path / "e" / "comments.csv")
    assert {r["capability"] for r in comments} == {"การแลกเปลี่ยนข้อมูลสุขภาพระหว่างสถานพยาบาล"}
    th = findings(html, "th")
    sentence = th.sentences[("item-health-info_exchange", "target_level")]
    assert sentence.startswith("เป้าหมายปี 2570 ตามร่างแผน (ระดับ 4) — ร้อยละ ") and "เห็นว่าเป็นไปได้และเหมาะสม" in sentence
    assert "ระดับ 4 ดิจิทัลเต็มรูปแบบ" in parse(html).text


@pytest.mark.skipif(chromium() is None, reason="chromium is not installed (apt-get install chromium fonts-thai-tlwg)")
async def test_report_renders_in_both_languages_and_prints_on_a4(db: Database, filled: Catalog, tmp_path: Path) -> None:
    browser = chromium()
    assert browser
    ARTIFACTS.mkdir(exist_ok=True)
    report = await write_report(db, filled, tmp_path / "report.html", now=at(1000))

    def run(*args: str, url: str, profile: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / profile}", *args, url],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    for lang in ("th", "en"):
        url = f"{report.as_uri()}#{lang}"
        dom = run("--dump-dom", url=url, profile=f"dom-{lang}")
        assert dom.returncode == 0, dom.stderr[-2000:]
        assert f'data-lang="{lang}"' in dom.stdout  # the page's own switch ran under the CSP
        said = findings(dom.stdout, lang).sentences[("item-health-info_exchange", "target_level")]
        assert said.startswith(
            "เป้าหมายปี 2570 ตามร่างแผน (ระดับ 4) — ร้อยละ " if lang == "th" else "The draft plan's 2027 target (level 4) — "
        )
        shot = ARTIFACTS / f"report-levels-{lang}.png"
        shot.unlink(missing_ok=True)
        result = run("--window-size=1200,3000", f"--screenshot={shot}", url=url, profile=f"shot-{lang}")
        assert result.returncode == 0, result.stderr[-2000:]
        assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 20_000

        pdf = ARTIFACTS / f"report-levels-{lang}.pdf"
        pdf.unlink(missing_ok=True)
        result = run("--no-pdf-header-footer", f"--print-to-pdf={pdf}", url=url, profile=f"pdf-{lang}")
        assert result.returncode == 0 and pdf.exists(), result.stderr[-2000:]
        data = pdf.read_bytes()
        boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data)
        assert boxes and all(abs(float(w) - 595.3) < 2 and abs(float(h) - 841.9) < 2 for w, h in boxes)  # A4
        assert len(boxes) > len(filled.areas)  # a page (at least) per area, after the overview
        if (pdftoppm := shutil_which("pdftoppm")) is not None:
            page = ARTIFACTS / f"report-levels-{lang}-page"
            subprocess.run(
                [pdftoppm, "-png", "-gray", "-r", "60", "-f", "3", "-l", "3", str(pdf), str(page)],
                check=True,
                timeout=60,
            )
            rendered = sorted(ARTIFACTS.glob(f"{page.name}*.png"))
            assert rendered and rendered[-1].stat().st_size > 5_000


def shutil_which(name: str) -> str | None:
    import shutil

    return shutil.which(name)


async def test_a_question_the_survey_no_longer_has_is_read_as_a_rating(db: Database, tmp_path: Path) -> None:
    """Answers to the agreement questions, exported with surveys that now ask level picks instead."""
    from tests.test_export import PEOPLE, seed

    await seed(db, levels_catalog(), PEOPLE)
    await write_export(db, tmp_path / "e", catalog=levels_catalog())
    rows = read_csv(tmp_path / "e" / "summary.csv")
    old = next(
        r for r in rows if r["scope"] == "all" and r["item_id"] == "learner_data" and r["question_id"] == "current"
    )
    assert (old["section"], old["n"], old["pct_agree"], old["pct_plan"]) == ("rating", "3", "33.3", "")
    new = next(
        r
        for r in rows
        if r["scope"] == "all" and r["item_id"] == "learner_data" and r["question_id"] == "current_level"
    )
    assert (new["section"], new["n"], new["plan_level"], new["pct_plan"]) == ("level", "0", "2", "")


async def test_a_round_dimension_slots_into_the_comparisons(tmp_path: Path) -> None:
    """Delphi rounds are a later issue: a "round" scope in the statistics is compared like a group."""
    import io

    from exports.report import Peekable, Report
    from exports.summary import Stats

    catalog = levels_catalog()
    key = ("health", "info_exchange", "target_level")
    stats = Stats()
    for scope, group, counts in (
        ("all", "", (0, 10, 40, 30, 0)),
        ("round", "1", (0, 8, 25, 7, 0)),
        ("round", "2", (0, 2, 15, 23, 0)),
    ):
        stats.add(scope, group, key, counts, 0)

    async def nothing():  # no comments
        return
        yield

    out = io.StringIO()
    await Report(catalog, out, stats, {}).area(catalog.areas["health"], Peekable(nothing()))
    en = findings(out.getvalue(), "en")
    first = CELL.match(en.cells[("item-health-info_exchange", "round", "1", "target_level")])
    second = CELL.match(en.cells[("item-health-info_exchange", "round", "2", "target_level")])
    assert first and second
    assert (first["pct"], first["n"]) == ("18", "40") and (second["pct"], second["n"]) == ("58", "40")
    assert "Round 2" in parse(out.getvalue(), "en").text
