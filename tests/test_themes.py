"""Themes of the free text: Thai segmented into whole words, English by words, contact details and
numbers never themes; themes.csv in the export set and a themes section in the report."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pythainlp.corpus import thai_words
from pythainlp.tokenize import word_tokenize

from bot.surveys import Catalog
from exports import write_export
from exports.report import write_report
from exports.tables import TABLES
from exports.themes import Phraser, Themes, find_themes, phrase_text, segments, shorten, tokens
from storage import Database
from storage.queries import Filter, bulk_load, snapshot


@pytest.fixture(scope="session")
def catalog(agreement_catalog: Catalog) -> Catalog:
    """These answers are ratings on the agreement scale: the survey form that asks them."""
    return agreement_catalog


T0 = datetime(2026, 11, 1, tzinfo=UTC)

# Comments written for the test: (area, item, question, stakeholder group, text).
# education: the internet, in Thai and English; health: online appointments; agriculture: crop prices.
# Phone numbers, e-mail addresses, URLs and numbers recur in many of them: none may become a theme.
COMMENTS = [
    ("education", "", "problems", "citizen", "อินเทอร์เน็ตในหมู่บ้านช้ามาก นักเรียนเรียนออนไลน์ไม่ได้ โทร 081-234-5678"),
    ("education", "", "problems", "citizen", "โรงเรียนไม่มีสัญญาณอินเทอร์เน็ต ติดต่อ somchai.j@example.co.th"),
    ("education", "", "problems", "government", "สัญญาณอินเทอร์เน็ตไม่เสถียร ครูสอนออนไลน์ลำบาก 02 123 4567"),
    ("education", "", "problems", "academic", "ค่าอินเทอร์เน็ตแพงเกินไปสำหรับครอบครัวรายได้น้อย 300 บาทต่อเดือน"),
    (
        "education",
        "",
        "expectations",
        "citizen",
        "อยากให้รัฐติดตั้งอินเทอร์เน็ตฟรีในโรงเรียนทุกแห่ง ดูที่ https://www.egov.go.th/th/news",
    ),
    ("education", "", "expectations", "citizen", "อินเทอร์เน็ตความเร็วสูงในโรงเรียนต่างจังหวัด +66 81 234 5678"),
    ("education", "learner_data", "why", "government", "ข้อมูลนักเรียนกระจายหลายหน่วยงาน ไม่เชื่อมโยงกัน 2566"),
    ("education", "learner_data", "why", "academic", "ข้อมูลนักเรียนซ้ำซ้อน แต่ละกระทรวงเก็บข้อมูลนักเรียนเอง 2566"),
    ("education", "learner_data", "why", "citizen", "Student data is not shared between ministries, call 081-234-5678"),
    ("education", "", "problems", "sme", "Rural schools have no internet access. Mail me: ann@example.org"),
    ("education", "", "problems", "sme", "The internet is too slow for online classes in rural schools (2566)"),
    ("education", "", "expectations", "sme", "Free internet access for every school, see www.example.org/plan"),
    ("health", "", "problems", "citizen", "ระบบนัดหมายออนไลน์ของโรงพยาบาลใช้ยาก ผู้สูงอายุทำเองไม่ได้ 081-234-5678"),
    ("health", "", "problems", "citizen", "นัดหมายออนไลน์แล้วยังต้องรอคิวที่โรงพยาบาลนาน 3 ชั่วโมง"),
    ("health", "", "problems", "government", "แอปนัดหมายออนไลน์ของแต่ละโรงพยาบาลไม่เหมือนกัน somchai.j@example.co.th"),
    ("health", "", "expectations", "citizen", "อยากให้มีระบบนัดหมายออนไลน์เดียวทุกโรงพยาบาล 02 123 4567"),
    ("health", "", "expectations", "academic", "Online appointment booking should work for every hospital, 2566"),
    ("health", "", "problems", "academic", "Hospital appointment queues are long even after booking online"),
    ("health", "telemedicine", "why", "citizen", "แพทย์ทางไกลต้องใช้อินเทอร์เน็ตที่ดี ต่างจังหวัดยังเข้าไม่ถึง"),
    ("health", "telemedicine", "why", "citizen", "ผู้สูงอายุใช้แพทย์ทางไกลไม่เป็น ต้องมีคนช่วย"),
    ("agriculture", "", "problems", "farmer", "ราคาผลผลิตตกต่ำ เกษตรกรขาดทุน ราคาข้าว 8,500 บาทต่อตัน"),
    ("agriculture", "", "problems", "farmer", "ราคาผลผลิตไม่แน่นอน พ่อค้าคนกลางกดราคา โทร 089 999 8888"),
    ("agriculture", "", "expectations", "farmer", "อยากได้ข้อมูลราคาผลผลิตล่วงหน้าผ่านมือถือ somchai.j@example.co.th"),
    ("agriculture", "", "expectations", "farmer", "ระบบพยากรณ์อากาศสำหรับเกษตรกรที่แม่นยำ https://www.tmd.go.th/"),
    ("agriculture", "", "problems", "farmer", "Crop prices fall every harvest and farmers lose money, 2566"),
    ("agriculture", "", "problems", "farmer", "Farmers need fair crop prices, contact +66812345678"),
]
CONTACT_AND_NUMBERS = re.compile(r"\d|@|http|www|\.co|example|somchai|ann\b|\bth\b|\bcom\b|\borg\b|tmd|egov", re.I)


async def load(db: Database, comments: list[tuple[str, str, str, str, str]] = COMMENTS) -> None:
    """One participant per comment, loaded directly (no engine): the themes only read comments."""
    people, answers = [], []
    for pid, (area, item, question, group, text) in enumerate(comments, 1):
        at = (T0 + timedelta(minutes=pid)).isoformat()
        lang = "th" if re.search("[\u0e00-\u0e7f]", text) else "en"
        people.append((pid, "line", f"u{pid}", f"{pid:016x}", lang, "given", at, group, "north", None, at))
        answers.append((pid, area, item, question, None, None, text, 0, lang, at))
    await bulk_load(db, people, answers)


async def themes_of(db: Database, catalog: Catalog, flt: Filter | None = None) -> Themes:
    async with snapshot(db) as snap:
        return await find_themes(snap, flt or Filter(), catalog)


def texts(themes: list) -> list[str]:
    return [t.text for t in themes]


# ---- tokens -------------------------------------------------------------------------------------


def test_thai_is_segmented_into_newmm_words() -> None:
    text = "ระบบนัดหมายออนไลน์ของโรงพยาบาลใช้ยาก ผู้สูงอายุเข้าไม่ถึงอินเทอร์เน็ต"
    assert tokens(text) == word_tokenize(text, engine="newmm", keep_whitespace=False)
    assert "อินเทอร์เน็ต" in tokens(text) and "โรงพยาบาล" in tokens(text)
    # English by words, lower-cased, apostrophes and hyphens inside a word kept
    assert tokens("Don't rely on E-learning; the Internet is slow.") == [
        "don't",
        "rely",
        "on",
        "e-learning",
        "the",
        "internet",
        "is",
        "slow",
    ]


def test_contact_details_and_numbers_are_masked_before_tokenizing() -> None:
    for text in (
        "โทร 081-234-5678 หรือ 02 123 4567 หรือ +66 81 234 5678 หรือ +66812345678 หรือ (02) 123-4567",
        "เขียนมาที่ somchai.j@example.co.th หรือ ann+dga@mail.example.org",
        "ดูที่ https://www.egov.go.th/th/news?id=5 และ www.dga.or.th และ example.com/plan",
        "ราคา 8,500 บาท ปี ๒๕๖๖ ร้อยละ 12.5% เวลา 10:30 ไลน์ @rabfang_bot",
    ):
        for tok in tokens(text):
            assert not CONTACT_AND_NUMBERS.search(tok), (tok, text)
            assert not re.search("[๐-๙]", tok), tok
        assert tokens(text)[0] in ("โทร", "เขียน", "ดู", "ราคา")  # the Thai around them survives


def test_a_phrase_never_spans_a_mask_or_punctuation() -> None:
    phrases = Phraser()("อินเทอร์เน็ต 081-234-5678 โรงเรียน, internet (schools) internet!access")
    assert ("อินเทอร์เน็ต", "โรงเรียน") not in phrases
    assert ("internet", "schools") not in phrases and ("internet", "access") not in phrases
    assert ("โรงเรียน",) in phrases and ("access",) in phrases
    assert list(segments("สัญญาณอินเทอร์เน็ต")) == [["สัญญาณ", "อินเทอร์เน็ต"]]
    assert ("สัญญาณ", "อินเทอร์เน็ต") in Phraser()("สัญญาณอินเทอร์เน็ต")
    assert phrase_text(("สัญญาณ", "อินเทอร์เน็ต")) == "สัญญาณอินเทอร์เน็ต"  # Thai as written
    assert phrase_text(("internet", "access")) == "internet access"
    # a space between Thai words ends a clause: no theme joins them as if they were written together
    phrases = Phraser()("ระบบข้อมูลนักเรียนซ้ำซ้อน ครูต้องกรอกข้อมูลหลายระบบ")
    assert ("ซ้ำซ้อน", "ครู") not in phrases and ("นักเรียน", "ซ้ำซ้อน") in phrases and ("ครู",) in phrases
    assert ("ระบบ", "e-tax") in Phraser()("ระบบ e-tax ยุ่งยาก")  # Thai then English: one phrase, shown spaced


def test_a_thai_phrase_is_a_noun_and_its_modifier_never_across_a_clause() -> None:
    """PyThaiNLP's tagger splits the clause at the preposition and the verb: no ชนบทช้า."""
    phrases = Phraser()("อินเทอร์เน็ตในชนบทช้า")
    assert {("อินเทอร์เน็ต",), ("ชนบท",), ("ช้า",)} <= phrases
    assert ("ชนบท", "ช้า") not in phrases and ("อินเทอร์เน็ต", "ชนบท") not in phrases
    assert ("โรงเรียน", "ชนบท") in Phraser()("อินเทอร์เน็ตในโรงเรียนชนบทช้ามาก")  # noun + noun modifier
    phrases = Phraser()("เว็บไซต์ภาครัฐโหลดช้ามาก")
    assert ("เว็บไซต์", "ภาครัฐ") in phrases and ("ภาครัฐ", "โหลด") not in phrases and ("โหลด", "ช้า") not in phrases
    assert ("มือถือ", "ส่วนตัว") in Phraser()("ครูต้องใช้มือถือส่วนตัว")  # noun + adjective
    assert ("สำหรับ",) not in Phraser()("ยุ่งยากสำหรับร้านค้า")  # a preposition PyThaiNLP keeps is dropped


def test_open_data_is_a_thai_phrase() -> None:
    """เปิด is a PyThaiNLP stopword and a verb to its tagger; the project keeps it as a noun's modifier."""
    phrases = Phraser()("ข้อมูลเปิดภาครัฐหายาก")
    assert ("ข้อมูล", "เปิด") in phrases and phrase_text(("ข้อมูล", "เปิด")) == "ข้อมูลเปิด"
    assert ("เปิด", "ภาครัฐ") not in phrases  # เปิด modifies ข้อมูล; ภาครัฐ does not modify เปิด
    assert "แอป" in tokens("ใช้แอปธนาคารไม่เป็น")  # a project word newmm alone cuts into แอ + ป
    assert ("ไม่มี",) not in Phraser()("ไม่มี")  # a survey filler PyThaiNLP keeps is dropped


def test_mistyped_thai_is_normalised_and_invisible_characters_do_not_split_words() -> None:
    assert tokens("เเปลก") == ["แปลก"]  # เ typed twice for แ
    assert tokens("อินเทอร์\u200bเน็ต") == tokens("อินเทอร์ เน็ต")  # a zero-width space is a space
    assert "อินเทอร์เน็ต" in tokens("\ufeffอินเทอร์เน็ต")


def test_shorten_cuts_between_whole_words_only() -> None:
    text = "ระบบนัดหมายออนไลน์ของโรงพยาบาลใช้ยากมาก ผู้สูงอายุเข้าไม่ถึงอินเทอร์เน็ตและไม่มีคนช่วยเหลือ" * 4
    for limit in range(10, 120, 7):
        short = shorten(text, limit)
        assert short.endswith("…") and len(short) <= limit + 1
        kept = short[:-1]
        assert text.startswith(kept)
        rest = text[len(kept) :]
        assert not unicodedata.category(rest[0]).startswith("M"), (limit, rest[:3])  # no cluster cut
        # the cut falls on a newmm boundary of the words around it
        window = text[max(0, len(kept) - 30) : len(kept) + 30]
        bounds = {0}
        for tok in word_tokenize(window, engine="newmm"):
            bounds.add(max(bounds) + len(tok))
        assert len(kept) - max(0, len(kept) - 30) in bounds or kept.endswith(" "), limit
    assert shorten("สั้น") == "สั้น"


# ---- themes -------------------------------------------------------------------------------------


async def test_known_themes_come_out(db: Database, catalog: Catalog) -> None:
    await load(db)
    themes = await themes_of(db, catalog)
    education = texts(themes.of("area", "education"))
    assert "อินเทอร์เน็ต" in education[:3] and "internet" in texts(themes.of("area", "education", lang="en"))[:2]
    health = texts(themes.of("area", "health"))
    assert "นัดหมายออนไลน์" in health[:2] or "นัดหมาย" in health[:2], health
    assert "โรงพยาบาล" in health and "appointment" in health, health
    agriculture = texts(themes.of("area", "agriculture"))
    assert "ราคาผลผลิต" in agriculture[:2] and "crop prices" in agriculture, agriculture
    # a capability of its own, and a stakeholder group across the areas
    assert "ข้อมูลนักเรียน" in texts(themes.of("item", "education", "learner_data"))[:2]
    assert "แพทย์ทางไกล" in texts(themes.of("item", "health", "telemedicine"))[:2]
    assert "ราคาผลผลิต" in texts(themes.of("stakeholder_group", group="farmer"))[:2]
    top = themes.of("area", "education")[0]
    assert top.comments >= 6 and top.share == round(
        100 * top.comments / themes.totals[("area", "education", "", "")], 1
    )
    # a theme particular to an area outranks the same count of a word every area uses
    assert all(t.score >= t.comments for t in themes.of("area", "education"))


async def test_themes_are_whole_words_never_contact_details_or_numbers(db: Database, catalog: Catalog) -> None:
    await load(db)
    themes = await themes_of(db, catalog)
    dictionary = thai_words()
    assert themes.groups
    for key, found in themes.groups.items():
        for t in found:
            assert not CONTACT_AND_NUMBERS.search(t.text), (key, t.text)
            assert 1 <= len(t.tokens) <= 2 and t.text == phrase_text(t.tokens)
            assert 1 <= len(t.examples) <= 2 and len(set(t.examples)) == len(t.examples)
            for ex in t.examples:  # an example never shows a way to reach its writer
                assert not re.search(r"@|081|089", ex), ex
            for ex in t.examples:
                ex_tokens = tokens(ex)
                for tok in t.tokens:  # every word of a theme is a whole newmm token of its examples
                    assert tok in ex_tokens, (t.text, tok, ex)
            for tok in t.tokens:
                assert not unicodedata.category(tok[0]).startswith("M"), tok  # no isolated combining mark
                assert not unicodedata.category(tok[-1]).startswith("P"), tok
                if re.search("[\u0e00-\u0e7f]", tok):
                    assert tok in dictionary, tok  # a dictionary word, not a fragment


async def test_themes_need_two_comments_and_respect_the_filter(db: Database, catalog: Catalog) -> None:
    await load(db)
    only_health = await themes_of(db, catalog, Filter(area="health"))
    assert {k[1] for k in only_health.groups if k[0] != "stakeholder_group"} == {"health"}
    assert all(t.comments >= 2 for found in only_health.groups.values() for t in found)
    lone = await themes_of(db, catalog, Filter(area="nowhere"))
    assert lone.groups == {} and lone.totals == {}


async def test_the_same_words_in_every_area_are_not_all_that_is_shown(db: Database, catalog: Catalog) -> None:
    """With the areas as documents, a word used everywhere weighs less than one particular to an area."""
    filler = [(a, "", "problems", "citizen", "ระบบ") for a in ("education", "health", "agriculture")]
    await load(db, COMMENTS + filler * 3)
    themes = await themes_of(db, catalog)
    for area in ("education", "health", "agriculture"):
        found = {t.text: t for t in themes.of("area", area)}
        assert found["ระบบ"].score == found["ระบบ"].comments  # in all three areas: idf 1
    education = {t.text: t for t in themes.of("area", "education")}
    assert education["อินเทอร์เน็ต"].score > education["ระบบ"].score


async def test_each_language_is_ranked_on_its_own(db: Database, catalog: Catalog) -> None:
    """Many Thai comments with many recurring words no longer crowd out the few English ones."""
    thai = [
        ("participation", "", "problems", "citizen", f"{a}{b}")
        for a in ("งบประมาณ", "ร้องเรียน", "ประชาพิจารณ์", "เว็บไซต์", "ภาษี", "ทะเบียน")
        for b in ("โรงพยาบาล", "สวัสดิการ", "เกษตรกร", "ข้าราชการ", "อำเภอ", "จังหวัด")
    ]
    english = [("participation", "", "problems", "citizen", t) for t in ("Open data, please", "We need open data")]
    await load(db, thai * 2 + english)
    themes = await themes_of(db, catalog)
    found = themes.of("area", "participation")
    assert len([t for t in found if t.language == "th"]) == 10  # Thai fills its own top 10
    assert [t.text for t in found if t.language == "en"][:1] == ["open data"]  # and English has its own
    assert texts(themes.of("area", "participation", lang="en"))[0] == "open data"
    assert found == themes.of("area", "participation", lang="th") + themes.of("area", "participation", lang="en")


async def test_open_data_and_no_cross_clause_pair_among_the_themes(db: Database, catalog: Catalog) -> None:
    said = [
        "ข้อมูลเปิดภาครัฐหายาก",
        "อยากให้มีข้อมูลเปิดมากขึ้น",
        "อินเทอร์เน็ตในชนบทช้า",
        "อินเทอร์เน็ตในชนบทช้ามาก",
        "อินเทอร์เน็ตในชนบทช้าเกินไป",
    ]
    await load(db, [("participation", "", "problems", "citizen", t) for t in said])
    found = texts((await themes_of(db, catalog)).of("area", "participation"))
    assert "ข้อมูลเปิด" in found and "ชนบท" in found and "ช้า" in found, found
    assert "ชนบทช้า" not in found, found


async def test_pasted_comments_count_once_and_are_shown_once(db: Database, catalog: Catalog) -> None:
    """The same long text pasted by five people (spacing, case and punctuation aside) is one comment;
    short answers that people type alike each count."""
    paste = "ขอให้รัฐเปิดเผยงบประมาณจัดซื้อจัดจ้างทุกโครงการ และแจ้งผลการร้องเรียน Transparency now"
    variants = [paste, paste + "!", paste.replace(" ", "  "), paste.upper(), " " + paste + " "]
    short = ["งบประมาณโปร่งใส"] * 3
    rows = [("participation", "", "problems", "citizen", t) for t in variants + short]
    await load(db, rows)
    themes = await themes_of(db, catalog)
    found = {t.text: t for t in themes.of("area", "participation")}
    assert themes.totals[("area", "participation", "", "")] == 1 + 3
    assert "transparency" not in found  # one comment only: below the two a theme needs
    budget = found["งบประมาณ"]
    assert budget.comments == 1 + 3  # the paste once, and each short answer
    assert len(budget.examples) == 2 and budget.examples[0] == paste and budget.examples[1] == "งบประมาณโปร่งใส"


# ---- themes.csv and the report ------------------------------------------------------------------


def read(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


async def test_themes_csv_is_in_the_export_and_described(db: Database, catalog: Catalog, tmp_path: Path) -> None:
    formula = '=HYPERLINK("http://evil.example","x") อินเทอร์เน็ต ช้า'
    await load(db, [*COMMENTS, ("education", "", "missed", "citizen", formula)])
    result = await write_export(db, tmp_path / "x", catalog=catalog)
    assert "themes.csv" in result.files
    rows = read(tmp_path / "x" / "themes.csv")
    table = next(t for t in TABLES if t.name == "themes")
    assert list(rows[0]) == [c.name for c in table.columns]
    assert result.rows["themes.csv"] == len(rows)
    readme = (tmp_path / "x" / "README.txt").read_text(encoding="utf-8-sig")
    assert "themes.csv" in readme
    for c in table.columns:
        assert re.search(rf"^  {c.name}\s+{c.kind}\s+\S", readme, re.M), c.name
    # areas in survey order, then capabilities, then stakeholder groups; ranks from 1
    scopes = [r["scope"] for r in rows]
    assert scopes == sorted(scopes, key=["area", "item", "stakeholder_group"].index)
    area = [r for r in rows if r["scope"] == "area" and r["area"] == "education"]
    assert [r["language"] for r in area] == sorted((r["language"] for r in area), key=["th", "en"].index)
    for lang in ("th", "en"):  # each language ranked on its own, from 1
        ranks = [r["rank"] for r in area if r["language"] == lang]
        assert ranks == [str(i) for i in range(1, len(ranks) + 1)] and ranks, lang
    first = [r for r in area if r["language"] == "th"]
    internet = next(r for r in first if r["theme"] == "อินเทอร์เน็ต")
    assert int(internet["comments"]) >= 6 and internet["n_words"] == "1" and internet["example_1"]
    assert internet["example_1"] != internet["example_2"]
    assert "อินเทอร์เน็ต" in internet["example_1"]
    for r in rows:
        for cell in (r["example_1"], r["example_2"], r["theme"]):
            assert not cell.startswith(("=", "+", "-", "@")), cell  # participant text, neutralised
        assert not CONTACT_AND_NUMBERS.search(r["theme"]), r["theme"]
    examples = {r["example_1"] for r in rows} | {r["example_2"] for r in rows}
    assert "'" + formula in examples  # the formula comment is an example, with its apostrophe


async def test_the_report_has_a_themes_section(db: Database, catalog: Catalog, tmp_path: Path) -> None:
    await load(db)
    html = (await write_report(db, catalog, tmp_path / "report.html")).read_text(encoding="utf-8")
    assert 'id="themes-education"' in html and "Recurring themes in the comments" in html
    assert "ประเด็นที่พบบ่อยในความคิดเห็น" in html
    section = html[html.index('id="themes-education"') : html.index('id="item-education-')]
    assert "อินเทอร์เน็ต" in section and "internet" in section
    thai, english = section.index("Comments in Thai"), section.index("Comments in English")  # each its own table
    assert thai < section.index("อินเทอร์เน็ต") < english < section.index(">internet<")
    item = html[html.index('id="item-health-telemedicine"') :]
    item = item[: item.index("</article>")]
    assert "ประเด็นหลัก" in item and "แพทย์ทางไกล" in item  # the capability's own themes
    assert 'id="themes-groups"' in html
    assert "081-234-5678" not in section.split("<tbody>")[1].split("</td>")[1]  # a theme cell, not a number


# ---- PyThaiNLP stays offline ----------------------------------------------------------------------


def test_pythainlp_needs_no_download_and_writes_nothing(tmp_path: Path) -> None:
    """Themes use only the data inside PyThaiNLP's wheel: no network, no ~/pythainlp-data."""
    script = (
        "import socket\n"
        "def refuse(*a, **k): raise OSError('network used')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "from exports.themes import tokens, Phraser\n"
        "assert tokens('อินเทอร์เน็ตช้ามาก') == ['อินเทอร์เน็ต', 'ช้า', 'มาก'], tokens('อินเทอร์เน็ตช้ามาก')\n"
        "assert ('ช้า',) in Phraser()('อินเทอร์เน็ตช้ามาก')\n"
        "print('ok')\n"
    )
    home = tmp_path / "home"
    home.mkdir(mode=0o500)  # read-only home, as under systemd's ProtectHome=read-only
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHAINLP")}
    env["HOME"] = str(home)
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=root, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    assert list(home.iterdir()) == []


@pytest.mark.parametrize("text", ["", "   ", "081-234-5678", "https://example.com", "ๆ ๆ", "่่่", "!!!", "😀"])
def test_text_without_words_has_no_phrases(text: str) -> None:
    assert Phraser()(text) == frozenset()
