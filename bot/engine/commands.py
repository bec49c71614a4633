"""The one command table: the words that call each command, its line in the platforms' command
menus, and its line in the help text. Menus and help are made from it; nothing else lists commands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from ..i18n import tr


class Bilingual(NamedTuple):
    th: str
    en: str

    def __call__(self, lang: str | None) -> str:
        return self.en if lang == "en" else self.th


class Hint(NamedTuple):
    """A command's line in the help text: the word to type and what it does."""

    word: Bilingual
    does: Bilingual


@dataclass(frozen=True)
class Command:
    name: str  # also the slash command, `/name`
    words: tuple[str, ...]  # typed words that call it, Thai and English (its name does too)
    description: Bilingual  # its line in the platform's command menu
    in_menu: bool = True
    hint: Hint | None = None  # its line in the help text; None: not listed there


def _hint(th_word: str, en_word: str, th: str, en: str) -> Hint:
    return Hint(Bilingual(th_word, en_word), Bilingual(th, en))


# In the order of the platforms' menus (and of the help text).
COMMANDS: tuple[Command, ...] = (
    Command(
        "start",
        ("เริ่ม", "เริ่มต้น", "เริ่มใหม่", "สวัสดี", "hi", "hello"),
        Bilingual("เริ่มหรือทำต่อจากข้อเดิม", "Start, or continue where you left off"),
        hint=_hint("เริ่ม", "start", "ทำต่อจากข้อที่ค้างไว้", "carry on where you left off"),
    ),
    Command(
        "pause",
        ("พอแค่นี้ก่อน", "พอก่อน", "พักก่อน", "ไว้ก่อน", "that's all for now", "that’s all for now", "stop for now"),
        Bilingual("พอแค่นี้ก่อน (คำตอบบันทึกไว้แล้ว)", "That's all for now (your answers are saved)"),
        in_menu=False,
        hint=_hint("พอแค่นี้ก่อน", "that's all for now", "พักไว้ก่อน คำตอบบันทึกไว้แล้ว", "stop here; your answers are saved"),
    ),
    Command(
        "areas",
        ("menu", "เมนู", "เลือกด้าน"),
        Bilingual("เลือกด้านที่จะแสดงความคิดเห็น", "Choose an area to comment on"),
        hint=_hint("เมนู", "menu", "เลือกด้านอื่น", "choose another area"),
    ),
    Command(
        "status",
        ("progress", "สถานะ", "ความคืบหน้า"),
        Bilingual("ดูความคืบหน้า", "See your progress"),
        hint=_hint("สถานะ", "status", "ดูความคืบหน้า", "your progress"),
    ),
    Command(
        "levels",
        (
            "ระดับ",
            "ระดับหมายถึงอะไร",
            "ระดับหมายถึงอะไร?",
            "ความหมายของระดับ",
            "what do the levels mean",
            "what do the levels mean?",
            "what do levels mean",
            "what do levels mean?",
            "what levels mean?",
        ),
        Bilingual("ระดับความพร้อมดิจิทัลแต่ละระดับหมายถึงอะไร", "What the maturity levels mean"),
        hint=_hint("ระดับ", "levels", "ดูว่าแต่ละระดับหมายถึงอะไร", "what each maturity level means"),
    ),
    Command(
        "events",
        ("focus group", "กิจกรรม", "ประชุม", "การประชุม", "ลงทะเบียน"),
        Bilingual("การประชุมระดมสมองที่เปิดรับลงทะเบียน", "Focus-group sessions you can join"),
        hint=_hint("กิจกรรม", "events", "การประชุมระดมสมองที่เปิดรับลงทะเบียน", "focus-group sessions you can join"),
    ),
    Command(
        "back",
        ("ย้อนกลับ", "ย้อน", "กลับ"),
        Bilingual("ย้อนกลับไปข้อก่อนหน้า", "Go back to the previous question"),
        hint=_hint("ย้อนกลับ", "back", "กลับไปแก้คำถามก่อนหน้า", "return to the previous question"),
    ),
    Command(
        "skip",
        ("ข้าม",),
        Bilingual("ข้ามข้อนี้ (ถ้าข้ามได้)", "Skip this question (if optional)"),
        hint=_hint("ข้าม", "skip", "ข้ามคำถามที่ไม่บังคับ", "skip an optional question"),
    ),
    Command(
        "language",
        ("lang", "ภาษา", "เปลี่ยนภาษา"),
        Bilingual("เปลี่ยนภาษา", "Change language"),
        hint=_hint("ภาษา", "language", "เปลี่ยนภาษา", "change language"),
    ),
    Command(
        "privacy",
        ("ความเป็นส่วนตัว", "ประกาศความเป็นส่วนตัว"),
        Bilingual("ประกาศความเป็นส่วนตัว", "Privacy notice"),
        hint=_hint("ความเป็นส่วนตัว", "privacy", "อ่านประกาศ", "read the notice"),
    ),
    Command(
        "mydata",
        ("my data", "ข้อมูลของฉัน"),
        Bilingual("ดูข้อมูลของฉันที่เก็บไว้", "See the data kept about you"),
        hint=_hint("ข้อมูลของฉัน", "my data", "ดูข้อมูลของท่าน", "see your data"),
    ),
    Command(
        "deleteme",
        ("delete my data", "ลบข้อมูล", "ลบข้อมูลของฉัน"),
        Bilingual("ลบข้อมูลของฉันและถอนความยินยอม", "Delete your data and withdraw consent"),
        hint=_hint("ลบข้อมูล", "delete my data", "ลบข้อมูลทั้งหมดของท่าน", "erase everything about you"),
    ),
    Command(
        "help",
        ("ช่วยเหลือ", "ความช่วยเหลือ", "วิธีใช้", "ช่วย", "ช่วยด้วย", "?"),
        Bilingual("วิธีใช้", "How to use this bot"),
    ),
)

NAMES = frozenset(c.name for c in COMMANDS)
WORDS: dict[str, str] = {w: c.name for c in COMMANDS for w in (c.name, *c.words)}  # compared folded (input.py)


def menu(lang: str | None) -> list[tuple[str, str]]:
    """(command, description) pairs for a platform's command menu; None: both languages, Thai first."""
    return [
        (c.name, c.description(lang) if lang else f"{c.description.th} · {c.description.en}")
        for c in COMMANDS
        if c.in_menu
    ]


def help_text(lang: str | None) -> str:
    """How to answer, then the commands one can type; both languages while the language is unknown."""
    if lang is None:
        return f"{help_text('th')}\n\n{help_text('en')}"
    lines = [tr(lang, "help_intro")]
    lines += [f"• {c.hint.word(lang)}: {c.hint.does(lang)}" for c in COMMANDS if c.hint]
    return "\n".join(lines)
