"""A generated consultation, end to end (issue 15's "Shown by"): ~2,000 participants across the six
areas with Thai and English comments, a Delphi round 2, the export set's themes.csv and summary.csv,
and the HTML report (optionally screenshotted in headless Chromium in both languages).

    python bench/consultation.py [--quick | --smoke] [--participants N] [--service N] [--keep DIR]
                                 [--screenshots DIR]

A real SQLite database in a temp dir. The first `--service` participants (default 400) go through the
real `bot.service.Service.handle` path, one inbound event at a time: /start, language, consent,
profile, an area, every level pick, and a typed comment for some "why?" and closing questions. The
rest are stored with storage.queries.bulk_load (the same rows, for speed). Comments are drawn from a
small bank per area in Thai and English, each with a planted recurring theme (internet in rural
schools, sharing patients' records between hospitals, the farmer registry, the welfare card, open
data, e-tax for SMEs) and some noise that must never become a theme (numbers, phone numbers, e-mail
addresses). Then round 2 of agriculture is opened through Admin.delphi (what `rabfang delphi open`
runs), a share of its round-1 completers answer it through Service.handle (most keep; some move
toward the group median and type why), and it is closed. The export set is written by write_export
(what `rabfang export` runs) and the report by write_report (what `rabfang report` runs).

Printed: participants, answers, time taken per phase, `frictionless validate` of datapackage.json (when
frictionless is installed), the top themes per area from themes.csv
(checked per language: the planted themes are among them; no theme is a cut Thai word, a number, a phone
number or an e-mail address, nor a pair of words across a clause; a campaign text pasted by many counts
once, so its words are no theme), the Delphi convergence lines of summary.csv (scope=round) and a few findings
sentences of the report. `--screenshots DIR` renders the report in headless Chromium in Thai and
English (the report of the Delphi round's area, one 1200x2000 viewport each, PNG
quantized) to DIR/report-th.png and DIR/report-en.png.
Baseline: the Service-path participants' time per participant against the bulk path's.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import re
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from random import Random

from _common import Verdicts, header, modes, tempdir

from bot.config import Settings
from bot.model import Inbound
from bot.service import Service
from bot.surveys import Catalog, load_catalog
from exports import write_export
from exports.report import write_report
from storage import Database
from storage import delphi as rounds
from storage.queries import bulk_load

DELPHI_AREA = "agriculture"
START = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)

# Per area: Thai and English comments, each naming the area's planted theme (first in PLANTED) or a
# second recurring one; a comment is one core sentence, sometimes with a tail from TAILS.
BANK: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "education": (
        (
            "อินเทอร์เน็ตในโรงเรียนชนบทช้ามาก นักเรียนเรียนออนไลน์ไม่ได้",
            "โรงเรียนชนบทยังไม่มีอินเทอร์เน็ตที่เสถียร ครูต้องใช้มือถือส่วนตัว",
            "ควรลงทุนอินเทอร์เน็ตความเร็วสูงให้โรงเรียนชนบทก่อน",
            "ครูขาดทักษะดิจิทัล ต้องมีการอบรมครูอย่างต่อเนื่อง",
            "ระบบข้อมูลนักเรียนซ้ำซ้อน ครูต้องกรอกข้อมูลหลายระบบ",
        ),
        (
            "Rural schools still have no reliable internet; students cannot study online.",
            "Internet in rural schools must come first, before new platforms.",
            "Teachers need digital skills training, not just new devices.",
        ),
    ),
    "health": (
        (
            "โรงพยาบาลแต่ละแห่งไม่แชร์ประวัติผู้ป่วย ต้องตรวจซ้ำทุกครั้งที่ย้ายโรงพยาบาล",
            "อยากให้ประวัติผู้ป่วยเชื่อมโยงกันทุกโรงพยาบาล ไม่ต้องถือแฟ้มเอง",
            "การแชร์ประวัติผู้ป่วยต้องขอความยินยอมและรักษาความเป็นส่วนตัว",
            "จองคิวออนไลน์แล้วยังต้องรอคิวนานที่โรงพยาบาล",
            "การแพทย์ทางไกลช่วยผู้ป่วยในพื้นที่ห่างไกลได้มาก",
        ),
        (
            "Hospitals do not share patient records, so every referral repeats the same tests.",
            "Patient records should follow the patient between hospitals, with consent.",
            "Online booking exists but the queue at the hospital is still long.",
        ),
    ),
    "agriculture": (
        (
            "ทะเบียนเกษตรกรไม่ตรงกับพื้นที่ปลูกจริง ทำให้ได้เงินชดเชยช้า",
            "ต้องไปปรับปรุงทะเบียนเกษตรกรที่อำเภอทุกปี ควรทำออนไลน์ได้",
            "ข้อมูลทะเบียนเกษตรกรควรเชื่อมกับข้อมูลที่ดินและน้ำ",
            "เงินชดเชยภัยพิบัติจ่ายช้า น้ำท่วมไร่แล้วรอหลายเดือน",
            "เกษตรกรสูงอายุใช้แอปไม่เป็น ต้องมีเจ้าหน้าที่ช่วย",
        ),
        (
            "The farmer registry does not match the land actually farmed, so payouts are late.",
            "Updating the farmer registry should not need a trip to the district office every year.",
            "Disaster payouts after floods take months to arrive.",
        ),
    ),
    "welfare": (
        (
            "บัตรสวัสดิการแห่งรัฐใช้ได้น้อยร้าน คนในหมู่บ้านใช้ไม่สะดวก",
            "คนจนจริงไม่ได้บัตรสวัสดิการ แต่คนมีฐานะกลับได้",
            "ควรตรวจสอบสิทธิ์บัตรสวัสดิการจากข้อมูลรายได้อัตโนมัติ",
            "ผู้สูงอายุและผู้พิการต้องมีช่องทางช่วยเหลือที่ไม่ต้องใช้สมาร์ตโฟน",
            "ลงทะเบียนสวัสดิการยุ่งยาก ต้องใช้เอกสารหลายอย่าง",
        ),
        (
            "The welfare card misses many poor households and reaches some who are not poor.",
            "Benefits should reach people without applying, from the data the state already has.",
            "Older people and people with disabilities need assisted channels, not only apps.",
        ),
    ),
    "participation": (
        (
            "ข้อมูลเปิดภาครัฐหายาก ไฟล์เป็นรูปภาพ นำไปใช้ต่อไม่ได้",
            "อยากให้เปิดเผยข้อมูลงบประมาณและการจัดซื้อจัดจ้างทุกเดือน",
            "ร้องเรียนไปแล้วไม่รู้ว่าเรื่องถึงไหน ไม่มีการติดตามผล",
            "ระบบร้องเรียนควรแจ้งผลการแก้ไขให้ผู้ร้องเรียนทราบ",
            "ข้อมูลการจัดซื้อจัดจ้างควรเป็นรูปแบบที่เครื่องอ่านได้ ร้องเรียนการทุจริตได้ง่าย",
        ),
        (
            "Open data is published as scanned PDFs that nobody can reuse.",
            "Complaints disappear; there is no way to track what happened to them.",
            "Budget and procurement should be open data, updated every month.",
        ),
    ),
    "sme": (
        (
            "ระบบภาษีอิเล็กทรอนิกส์ยังยุ่งยากสำหรับร้านค้าเล็ก ๆ",
            "อยากให้ยื่นภาษีอิเล็กทรอนิกส์ได้ง่ายเหมือนแอปธนาคาร",
            "ต้องยื่นเอกสารเดิมซ้ำหลายหน่วยงาน ทั้งที่รัฐมีข้อมูลอยู่แล้ว",
            "ผู้ประกอบการรายย่อยเข้าถึงสินเชื่อยาก ธนาคารไม่ใช้ข้อมูลจากรัฐ",
            "ลายมือชื่ออิเล็กทรอนิกส์ยังไม่เป็นที่ยอมรับทุกหน่วยงาน",
        ),
        (
            "E-tax filing is still too complicated for small shops.",
            "We submit the same documents to every agency; once only should be the rule.",
            "Small firms cannot get loans because banks do not see government data.",
        ),
    ),
}
# The planted themes each area's top 10 must hold, in each language (Thai as written, English lower case).
PLANTED = {
    "education": (("โรงเรียนชนบท", "อินเทอร์เน็ต"), ("rural schools", "internet")),
    "health": (("ประวัติผู้ป่วย", "โรงพยาบาล"), ("patient records",)),
    "agriculture": (("ทะเบียนเกษตรกร", "เงินชดเชย"), ("farmer registry",)),
    "welfare": (("บัตรสวัสดิการ",), ("welfare card",)),
    "participation": (("ร้องเรียน", "จัดซื้อจัดจ้าง", "ข้อมูลเปิด"), ("open data",)),
    "sme": (("ภาษีอิเล็กทรอนิกส์",), ("e-tax filing",)),
}
# Word pairs of the bank that straddle a clause (a subject and its predicate, words either side of a
# preposition or a clause), read by hand: pairs of adjacent content words that no theme may be.
CROSS_CLAUSE = frozenset(
    ["ชนบทช้า", "นักเรียนเรียน", "ซ้ำทุกครั้งที่", "ทุกครั้งที่ย้าย", "ผู้ป่วยเชื่อมโยง", "จ่ายช้า", "ทำให้ได้", "ภัยพิบัติจ่าย", "อำเภอทุกปี", "เงินชดเชยช้า", "ให้ได้เงินชดเชย", "รัฐใช้ได้", "ภาครัฐหา", "หายาก", "ร้องเรียนทราบ", "เครื่องอ่าน", "ข้อมูลอยู่แล้ว", "ง่ายเหมือน", "ผู้ประกอบการรายย่อยเข้าถึง", "ยุ่งยากสำหรับ", "สำหรับร้านค้า", "เดิมซ้ำ", "เหมือนแอ", "เปิดภาครัฐ"]
) | {
    "schools still", "still have", "come first", "booking exists", "referral repeats", "still long", "floods take",
    "take months", "land actually", "actually farmed", "card misses", "state already", "complaints disappear",
    "reach people", "see government",
}  # fmt: skip
# A campaign text pasted by many (PASTE_SHARE of participation's comments): one voice, so its own
# words ("ค่าธรรมเนียม", "fees") must not become themes however often it is pasted.
PASTE_SHARE = 0.05
PASTES = {
    "th": "ขอเรียกร้องให้ยกเลิกค่าธรรมเนียมทุกประเภทสำหรับประชาชนทันที ตามที่เพจรณรงค์เสนอไว้",
    "en": "We demand that all fees for citizens be abolished at once, as the campaign page proposes.",
}
PASTED_WORDS = ("ค่าธรรมเนียม", "fees")
# Noise: tails that carry numbers, phone numbers and e-mail addresses (never themes), or nothing.
TAILS = {
    "th": ("", "", "", " โทร 081-234-5678", " ติดต่อ somchai.k@example.co.th", " ปี 2567 ก็เป็นแบบนี้ 3 ครั้งแล้ว", " ๑๒ ครั้งแล้ว"),
    "en": ("", "", " Call me on 02 123 4567.", " Write to ann.w@example.org", " Since 2019, 3 times already."),
}
REASONS = (
    "เห็นผลรวมของทุกคนแล้วเปลี่ยนใจ",
    "ได้ข้อมูลเพิ่มจากค่ากลางของกลุ่ม",
    "After seeing the group's answer, level 3 looks more realistic.",
)
THAI = re.compile(r"[\u0e00-\u0e7f]")
# a Thai word never starts with a following vowel, tone mark or other combining sign, nor ends
# with a leading vowel: a theme that does was cut inside a word or a grapheme cluster
BAD_START = re.compile(r"^[\u0e30-\u0e3a\u0e45\u0e47-\u0e4e]")
BAD_END = re.compile(r"[\u0e40-\u0e44]$")
NOISE = re.compile(r"[0-9\u0e50-\u0e59@]|\bhttps?:|\.(com|th|org)\b")


def comment(rng: Random, area: str, lang: str) -> str:
    """One core sentence of the area's bank, sometimes a second one, and a tail; or the pasted campaign."""
    if area == "participation" and rng.random() < PASTE_SHARE:
        return PASTES[lang]
    bank = BANK[area][0 if lang == "th" else 1]
    core = rng.choice(bank)
    if rng.random() < 0.4:
        core += " " + rng.choice([c for c in bank if c != core])
    return core + rng.choice(TAILS[lang])


GROUPS = {"citizen": 40, "sme": 15, "farmer": 15, "government": 12, "academic": 6, "private": 6, "civil": 4, "other": 2}
REGIONS = {"bangkok": 30, "central": 15, "north": 15, "northeast": 20, "east": 6, "west": 4, "south": 9, "abroad": 1}
AGES = {"u20": 5, "a20_29": 20, "a30_39": 25, "a40_49": 22, "a50_59": 18, "a60": 10}
DROPOUT = 0.12  # of those who start an area, the share who stop before its end


def weighted(rng: Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def level_pick(rng: Random, plan: int) -> str:
    """Around the plan's level, more often below it than above; now and then don't know."""
    if rng.random() < 0.05:
        return "dk"
    offset = rng.choices((-2, -1, 0, 1, 2), weights=(5, 30, 45, 15, 5))[0]
    return str(max(1, min(5, plan + offset)))


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 3.0) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def buttons(handled) -> list[str]:
    return [b.data for r in (handled.replies if handled else []) for b in r.buttons if b.data]


async def via_service(service: Service, catalog: Catalog, clock: Clock, n: int, seed: int) -> dict[str, int]:
    """`n` participants through Service.handle; returns events sent and areas completed."""
    rng = Random(seed)
    areas = list(catalog.areas)
    events = completed = 0

    async def send(user: str, inbound: Inbound):
        nonlocal events
        events += 1
        return await service.handle("telegram", user, inbound)

    for i in range(n):
        user = str(7_000_000 + i)
        lang = "th" if rng.random() < 0.8 else "en"
        clock.now = START + timedelta(minutes=5 * i)
        await send(user, Inbound("text", text="/start", sent_at=clock.tick()))
        profile = (f"group={weighted(rng, GROUPS)}", f"region={weighted(rng, REGIONS)}", f"age={weighted(rng, AGES)}")
        for data in (f"lang={lang}", "consent=yes", *profile):
            await send(user, Inbound("button", data=data, sent_at=clock.tick()))
        chosen = [DELPHI_AREA] if rng.random() < 0.6 else []
        chosen += rng.sample([a for a in areas if a not in chosen], rng.choice((1, 1, 2)))
        stop_at = rng.randrange(3, 15) if rng.random() < DROPOUT else None  # then this person goes quiet
        for area in chosen:
            handled = await send(user, Inbound("button", data=f"area={area}", sent_at=clock.tick()))
            for asked in range(80):
                if asked == stop_at:
                    break
                state = await service.db.load_state("telegram", user)
                if state.step != "survey":
                    break
                step = catalog.step(state.key or "")
                assert step is not None, state.key
                if step.question.kind == "text":
                    if rng.random() < 0.55:
                        inbound = Inbound("text", text=comment(rng, area, lang), sent_at=clock.tick(20))
                    else:
                        inbound = Inbound("button", data=f"q.{step.key}=~skip", sent_at=clock.tick())
                else:
                    plan = step.item.target if step.question.marks == "target" else step.item.current
                    offered = [d for d in buttons(handled) if d.startswith(f"q.{step.key}=")]
                    want = f"q.{step.key}={level_pick(rng, plan)}"
                    data = want if want in offered else next(d for d in offered if not d.endswith(("~skip", "~back")))
                    inbound = Inbound("button", data=data, sent_at=clock.tick())
                handled = await send(user, inbound)
            if area in (await service.db.load_state("telegram", user)).completed:
                completed += 1
            if stop_at is not None:
                break
    return {"events": events, "completed": completed}


async def via_bulk(db: Database, catalog: Catalog, first_id: int, n: int, seed: int) -> int:
    """`n` participants stored with bulk_load (ids from `first_id`); returns their answers."""
    rng = Random(seed)
    areas = list(catalog.areas)
    people, answers, progress = [], [], []
    for pid in range(first_id, first_id + n):
        at = START + timedelta(seconds=rng.randrange(20 * 86400))
        lang = "th" if rng.random() < 0.8 else "en"
        people.append(
            (pid, rng.choice(("line", "telegram")), f"U{pid:032x}", f"b{pid:015x}", lang, "given", at.isoformat(),
             weighted(rng, GROUPS), weighted(rng, REGIONS), weighted(rng, AGES), at.isoformat())
        )  # fmt: skip
        for area in rng.sample(areas, rng.choice((1, 1, 2, 3))):
            started, flow = at, catalog.flow(area)
            done = rng.random() >= DROPOUT
            for step in flow if done else flow[: rng.randrange(1, len(flow))]:
                at += timedelta(seconds=rng.randrange(5, 60))
                base = (pid, area, step.item_id, step.question.id)
                if step.question.kind == "text":
                    if rng.random() < 0.55:
                        answers.append((*base, None, None, comment(rng, area, lang), 0, lang, at.isoformat()))
                    else:
                        answers.append((*base, None, None, None, 1, lang, at.isoformat()))
                    continue
                plan = step.item.target if step.question.marks == "target" else step.item.current
                pick = level_pick(rng, plan)
                answers.append((*base, pick, None if pick == "dk" else int(pick), None, 0, lang, at.isoformat()))
            progress.append((pid, area, started.isoformat(), at.isoformat() if done else None))
    await bulk_load(db, people, answers, progress)
    return sum(1 for a in answers if not a[7])


async def delphi_round(service: Service, catalog: Catalog, clock: Clock, share: float, seed: int) -> dict[str, int]:
    """Open round 2 of DELPHI_AREA as an organizer does, have `share` of the Service-path completers
    answer it (keep, or move toward the median with a reason), and close it."""
    rng = Random(seed)
    clock.now = START + timedelta(days=25)
    opened = await service.admin.delphi(
        argparse.Namespace(action="open", where=DELPHI_AREA, area=None, until=None, closes=None)
    )
    print(f"delphi open: {opened}")
    (view,) = [r for r in await rounds.open_rounds(service.db) if r.area == DELPHI_AREA]
    rows = await service.db.fetch_all(
        "SELECT p.user_ref, a.item, a.question, a.option FROM answers a JOIN participants p ON p.id = a.participant_id"
        " JOIN progress g ON g.participant_id = p.id AND g.area = a.area"
        " WHERE a.area = ? AND p.channel = 'telegram' AND g.completed_at IS NOT NULL AND a.round = 1"
        " AND a.option IS NOT NULL",
        (DELPHI_AREA,),
    )
    first: dict[str, dict[str, str]] = defaultdict(dict)
    for user, item, question, option in rows:
        if user.startswith("7"):
            first[user][f"{DELPHI_AREA}.{item}.{question}"] = option
    counts = Counter()
    for user in sorted(first):
        if rng.random() >= share:
            continue
        counts["panelists"] += 1
        handled = await service.handle(
            "telegram", user, Inbound("button", data=f"d2={DELPHI_AREA}", sent_at=clock.tick())
        )
        for _ in range(40):
            data = buttons(handled)
            keep = next((d for d in data if d.startswith("d2.") and d.endswith("=~keep")), None)
            if keep is None:
                skip = next((d for d in data if d.startswith("d2.") and d.endswith("=~skip")), None)
                if skip is None:
                    break  # the round's summary: done
                if rng.random() < 0.6:
                    inbound = Inbound("text", text=rng.choice(REASONS), sent_at=clock.tick(15))
                    counts["reasons"] += 1
                else:
                    inbound = Inbound("button", data=skip, sent_at=clock.tick())
                handled = await service.handle("telegram", user, inbound)
                continue
            key = keep[len("d2.") : -len("=~keep")]
            mine, group = first[user].get(key), view.feedback[key]
            choice = keep
            if mine and mine.isdigit() and group.median is not None and rng.random() < 0.45:
                toward = round(group.median)
                if int(mine) != toward:
                    step = 1 if toward > int(mine) else -1
                    choice = f"d2.{key}={int(mine) + step}"
                    counts["changed"] += 1
            if choice == keep:
                counts["kept"] += 1
            handled = await service.handle("telegram", user, Inbound("button", data=choice, sent_at=clock.tick()))
    closed = await service.admin.delphi(argparse.Namespace(action="close", where=DELPHI_AREA, area=None))
    print(f"delphi close: {closed}")
    counts["completers"] = len(first)  # of round 1 on the Service path (the bulk-loaded are invited too)
    return dict(counts)


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def check_themes(themes: list[dict[str, str]], comments: list[dict[str, str]], verdicts: Verdicts, top: int) -> None:
    from pythainlp.corpus import thai_words
    from pythainlp.tokenize import word_tokenize
    from pythainlp.util import dict_trie

    from exports.themes import TH_WORDS

    words = dict_trie(thai_words() | TH_WORDS)  # the dictionary themes use: PyThaiNLP's and the project's

    print(f"themes.csv: {len(themes)} rows; top {top} per area and language (comments mentioning it):")
    broken = []
    for row in themes:
        theme = row["theme"]
        if NOISE.search(theme) or BAD_START.search(theme) or BAD_END.search(theme):
            broken.append(theme)
        elif THAI.search(theme) and " " not in theme:  # whole words of its example, written together
            tokens = word_tokenize(row["example_1"], custom_dict=words, engine="newmm", keep_whitespace=True)
            if not any("".join(tokens[i:j]) == theme for i in range(len(tokens)) for j in range(i + 1, i + 3)):
                broken.append(theme)
    missing = []
    for area, planted in PLANTED.items():
        for lang, wanted in zip(("th", "en"), planted, strict=True):
            rows = [r for r in themes if r["scope"] == "area" and r["area"] == area and r["language"] == lang]
            rows.sort(key=lambda r: int(r["rank"]))
            print(f"  {area} {lang}: " + ", ".join(f"{r['theme']} ({r['comments']})" for r in rows[:top]))
            names = [r["theme"] for r in rows[:10]]
            missing += [f"{area} {lang}: {p}" for p in wanted if p not in names]
    pairs = [r["theme"] for r in themes if r["n_words"] == "2"]
    across = sorted({p for p in pairs if p in CROSS_CLAUSE})
    print(f"  two-word themes: {len(pairs)} rows, {len(set(pairs))} distinct; across a clause: {len(across)}")
    pasted = sum(1 for c in comments if c["text"] in PASTES.values())
    got = [r for r in themes if r["theme"] in PASTED_WORDS]
    print(f"  pasted campaign: {pasted} copies in comments.csv; its words among the themes: {len(got)}")
    planted = sum(len(w) for p in PLANTED.values() for w in p)
    print(f"  planted themes in their area's top 10: {planted - len(missing)} of {planted} (Thai and English)")
    verdicts.exactly("planted themes missing from their area's top 10 (per language)", len(missing), 0)
    verdicts.exactly("themes that are a cut word, a number, a phone number or an e-mail", len(broken), 0)
    verdicts.exactly("two-word themes across a clause", len(across), 0)
    verdicts.at_least("copies of the pasted campaign", pasted, 2, unit="")
    verdicts.exactly("themes from the pasted campaign's own words", len(got), 0)
    for what in missing + broken + across:
        print(f"  !! {what}")


def check_package(out: Path, verdicts: Verdicts) -> None:
    """`frictionless validate datapackage.json` on the export set (when frictionless is installed)."""
    try:
        from frictionless import validate
    except ImportError:
        print("datapackage.json: not validated (pip install frictionless)")
        return
    t0 = time.perf_counter()
    report = validate(str(out / "datapackage.json"))
    found = [f"{task.name}: {e.type}" for task in report.tasks for e in task.errors] + [e.type for e in report.errors]
    rows = sum(task.stats.get("rows", 0) or 0 for task in report.tasks)
    print(f"datapackage.json: frictionless validate: {'valid' if report.valid else 'INVALID'}, {len(report.tasks)}"
          f" resources, {rows:,} rows in {time.perf_counter() - t0:.1f} s")  # fmt: skip
    for what in found[:5]:
        print(f"  !! {what}")
    verdicts.exactly("datapackage.json validation errors", len(found), 0)


def convergence(summary: list[dict[str, str]]) -> list[str]:
    by = {(r["item_id"], r["question_id"], r["group"]): r for r in summary if r["scope"] == "round"}
    lines = []
    for (item, question, group), r2 in sorted(by.items()):
        if group != "2":
            continue
        r1 = by.get((item, question, "1"))
        lines.append(
            f"  {r2['area']}.{item}.{question}: median {r1['median']} → {r2['median']}, IQR {r1['iqr']} → {r2['iqr']},"
            f" n {r1['n']} → {r2['n']}, changed {r2['n_changed']} of {r2['n_both_rounds']}"
        )
    return lines


def findings(html: str, lang: str, items: int) -> list[str]:
    """The findings sentences (and the round-2 lines) of the first `items` capabilities of each area."""
    found = []
    per_area: Counter[str] = Counter()
    for m in re.finditer(r'<article class="item" id="item-([^"]*)"(.*?)</article>', html, re.S):
        area = m.group(1).split("-")[0]
        per_area[area] += 1
        if per_area[area] > items:
            continue
        for li in re.findall(r'<li class="(?:finding|round)"[^>]*>(.*?)</li>', m.group(2), re.S):
            said = re.search(rf'<span class="{lang}" lang="{lang}">(.*?)</span>', li, re.S)
            if said:
                found.append(f"{m.group(1)}: {unescape(re.sub(r'<[^>]+>', '', said.group(1)))}")
    return found


def screenshots(report: Path, out: Path, tmp: Path) -> list[Path]:
    from PIL import Image

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("chromium not found: no screenshots (apt-get install chromium fonts-thai-tlwg)", file=sys.stderr)
        return []
    out.mkdir(parents=True, exist_ok=True)
    made = []
    for lang in ("th", "en"):
        shot = tmp / f"report-{lang}.png"
        subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp / ('chromium-' + lang)}", "--window-size=1200,2000",
             f"--screenshot={shot}", f"{report.as_uri()}#{lang}"],
            capture_output=True, timeout=120, check=True,
        )  # fmt: skip
        target = out / f"report-{lang}.png"
        with Image.open(shot) as img:
            img.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)
        print(f"screenshot: {target} ({target.stat().st_size / 1024:.0f} KiB)")
        made.append(target)
    return made


async def run(args: argparse.Namespace, tmp: Path) -> int:
    verdicts = Verdicts(smoke=args.smoke)
    catalog = load_catalog()
    db_path = tmp / "consultation.db"
    settings = Settings(_env_file=None, db=db_path, flood_limit=10_000)  # answers come faster than a person's
    clock = Clock(START)
    total, service_n = args.participants, min(args.service, args.participants)
    async with await Database.open(db_path) as db:
        service = Service(db, catalog, settings, clock)
        t0 = time.perf_counter()
        sent = await via_service(service, catalog, clock, service_n, args.seed)
        t_service = time.perf_counter() - t0
        ((max_id,),) = await db.fetch_all("SELECT max(id) FROM participants")
        t0 = time.perf_counter()
        await via_bulk(db, catalog, max_id + 1, total - service_n, args.seed + 1)
        t_bulk = time.perf_counter() - t0
        ((people,),) = await db.fetch_all("SELECT count(*) FROM participants WHERE consent = 'given'")
        ((answers,),) = await db.fetch_all("SELECT count(*) FROM answers WHERE skipped = 0 AND round = 1")
        ((texts,),) = await db.fetch_all("SELECT count(*) FROM answers WHERE text IS NOT NULL AND round = 1")
        print(f"participants: {people:,} ({service_n:,} through Service.handle, {total - service_n:,} bulk-loaded)")
        print(f"answers: {answers:,} round-1 answers, of them {texts:,} comments")
        print(f"service path: {sent['events']:,} events, {sent['completed']} areas completed in {t_service:.1f} s"
              f" ({1000 * t_service / max(1, service_n):.0f} ms per participant)")  # fmt: skip
        print(f"bulk path: {total - service_n:,} participants in {t_bulk:.1f} s "
              f"({1000 * t_bulk / max(1, total - service_n):.1f} ms per participant; service/bulk "
              f"{(t_service / max(1, service_n)) / max(1e-9, t_bulk / max(1, total - service_n)):.0f}×)")  # fmt: skip

        t0 = time.perf_counter()
        delphi = await delphi_round(service, catalog, clock, args.share, args.seed + 2)
        print(f"delphi round 2 of {DELPHI_AREA}: {delphi} in {time.perf_counter() - t0:.1f} s")
        ((r2,),) = await db.fetch_all("SELECT count(*) FROM answers WHERE round = 2")
        verdicts.some("round-2 answers stored", r2)

        out = tmp / "export"
        t0 = time.perf_counter()
        result = await write_export(db, out, catalog=catalog)
        t_export = time.perf_counter() - t0
        print(f"export: {', '.join(f'{k} {v:,}' for k, v in result.rows.items())} rows in {t_export:.1f} s")
        t0 = time.perf_counter()
        report = await write_report(db, catalog, tmp / "report" / "report.html", now=clock.now)
        print(f"report: {report.stat().st_size / 1024:.0f} KiB in {time.perf_counter() - t0:.1f} s")
        # the screenshots show the area with the Delphi round: its themes, findings and round 1 → 2
        area_report = await write_report(db, catalog, tmp / "report" / f"report-{DELPHI_AREA}.html", area=DELPHI_AREA,
                                         now=clock.now)  # fmt: skip

    check_themes(read(out / "themes.csv"), read(out / "comments.csv"), verdicts, args.top)
    check_package(out, verdicts)
    lines = convergence(read(out / "summary.csv"))
    print(f"Delphi convergence (summary.csv, scope=round, round 1 → 2): {len(lines)} questions")
    print("\n".join(lines))
    verdicts.some("questions with a round-2 row in summary.csv", len(lines))
    html = report.read_text(encoding="utf-8")
    print("report findings (en), the first capability of each area:")
    for line in findings(html, "en", 1):
        print(f"  {line}")
    print(f"report findings (th), the first capability of {DELPHI_AREA}:")
    for line in findings(html, "th", 1):
        if line.startswith(DELPHI_AREA):
            print(f"  {line}")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        shutil.copytree(out, args.keep / "export", dirs_exist_ok=True)
        shutil.copy(report, args.keep / "report.html")
        print(f"kept: {args.keep}/export, {args.keep}/report.html")
    if args.screenshots:
        verdicts.exactly("screenshots", len(screenshots(area_report, args.screenshots, tmp)), 2)
    return verdicts.print()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    modes(ap, "300 participants, 100 through the service")
    ap.add_argument("--participants", type=int, help="participants in all (default 2,000)")
    ap.add_argument("--service", type=int, help="of them through Service.handle (default 400)")
    ap.add_argument("--share", type=float, default=0.7, help="share of the invited who answer round 2")
    ap.add_argument("--top", type=int, default=6, help="themes printed per area")
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--keep", type=Path, help="copy the export set and report.html here")
    ap.add_argument("--screenshots", type=Path, help="write report-th.png and report-en.png here (e.g. docs)")
    args = ap.parse_args()
    args.participants = args.participants or (120 if args.smoke else 300 if args.quick else 2000)
    args.service = args.service if args.service is not None else (40 if args.smoke else 100 if args.quick else 400)
    with tempdir("consultation") as tmp:
        header(f"consultation: {args.participants:,} participants, Delphi round 2 of {DELPHI_AREA}", args, tmp)
        t0 = time.perf_counter()
        rc = asyncio.run(run(args, tmp))
        print(f"time taken: {time.perf_counter() - t0:.1f} s")
        return rc


if __name__ == "__main__":
    sys.exit(main())
