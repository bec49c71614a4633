"""Reading what a participant typed, as Thai people type it: folding text, command words, numbers
and named options.

Matching never reads the text as stored (a free-text answer is kept exactly as typed, see
`clean_text`): it reads `readings(raw)`, the folded text (NFC, lower case, Thai and full-width
digits as 0–9, no zero-width characters, no spaces, a doubled vowel or tone mark once, เเ as แ), then the
same without each polite particle or filler at its end in turn ("ข้ามค่ะ" → "ข้าม", "ค่ะๆ" → "ค่ะ",
"ครับครับ" → "ครับ"), then without a filler or a "level"/"number" word at its start ("ระดับ 3" → "3").
The most literal reading that means something wins, so a word that merely ends like a particle
("ชนะ") is read as itself before anything is taken off it."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from ..surveys.schema import Option
from . import commands

# Polite particles and fillers Thai (and English) speakers end a typed answer with; a particle's last
# letter may be held ("ค่าาา", "ครับบบ") and the whole repeated ("ค่ะๆ", "ครับครับ").
PARTICLES = (
    *("ค่ะ", "คะ", "ค่า", "ค้า", "คับ", "ครับ", "คร้าบ", "ค้าบ", "ครับผม", "ฮะ", "ฮับ"),
    *("นะ", "นะคะ", "นะครับ", "จ้า", "จ้ะ", "จ๊ะ"),
    *("please", "pls", "plz", "thanks", "thankyou"),
)
# Said alone, a polite particle is Thai for "yes" (not คะ, which asks, nor นะ, which urges).
BARE_YES = ("ค่ะ", "ค่า", "ค้า", "คับ", "ครับ", "คร้าบ", "ค้าบ", "ครับผม", "ฮะ", "ฮับ", "จ้า", "จ้ะ", "จ๊ะ")
LEADING = re.compile(r"(?:เอ่อ|อืม|ขอ)(?=.)")  # "ขอข้ามค่ะ", "เอ่อ ไทย"
NUMBERED = re.compile(r"(?:ระดับที่|ระดับ|ข้อที่|ข้อ|ตอบ|เลือก|หมายเลข|เลข|level|option|answer|choice)(?=[0-9])")

YES = ("yes", "y", "ok", "okay", "sure", "agree", "i agree", "ใช่", "ตกลง", "ได้", "โอเค", "ยินยอม", "ยอมรับ")
YES += ("เห็นด้วย", "ยืนยัน", "ยืนยันลบ")
NO = ("no", "n", "nope", "cancel", "disagree", "i do not agree", "i don't agree", "ไม่", "ไม่ใช่", "ไม่ได้")
NO += ("ไม่ตกลง", "ไม่เอา", "ไม่ยินยอม", "ไม่ยอมรับ", "ไม่เห็นด้วย", "ไม่ยืนยัน", "ยกเลิก")

LONGEST = 80  # characters (folded) of the longest typed word worth taking particles off
NUMBER = re.compile(r"[0-9]{1,6}")  # ASCII digits only: str.isdigit() also takes '²', which int() refuses
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
FOLD = {ord(c): None for c in ZERO_WIDTH}
FOLD |= {ord(d): str(n) for n, d in enumerate("๐๑๒๓๔๕๖๗๘๙")}
FOLD |= {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: " "}  # full-width ASCII, ideographic space
HELD = re.compile(r"([\u0e30-\u0e3a\u0e45\u0e47-\u0e4e])\1+")  # a vowel or tone mark typed twice: once
TAILS = (*(re.compile(re.escape(p) + "+ๆ*$") for p in PARTICLES), re.compile("ๆ+$"))  # "ค่ะๆ": once


@dataclass(frozen=True)
class Choice:
    """An option of a non-survey step, in the same shape as a survey Option."""

    id: str
    th: str
    en: str
    aliases: tuple[str, ...] = ()

    def button(self, lang: str) -> str:
        return self.en if lang == "en" else self.th


def normalize(text: str) -> str:
    """Fold typed text: NFC, lower case, digits as 0–9, no zero-width characters, single spaces,
    no punctuation at either end."""
    text = unicodedata.normalize("NFC", text.translate(FOLD)).casefold().strip()
    text = HELD.sub(r"\1", re.sub(r"\s+", " ", text)).replace("เเ", "แ")  # two เ typed for แ
    return text.strip(" .!?,…()。“”\"'") or text.strip()  # "?" alone stays: it asks for help


def key(text: str) -> str:
    """`normalize`d with no spaces at all: how a name or a typed word is compared."""
    return normalize(text).replace(" ", "")


def unpolite(word: str) -> list[str]:
    """A folded word, then without each particle at its end in turn: "ชนะครับ", "ชนะ", "ช" (never
    empty: "ค่ะๆ" ends as "ค่ะ")."""
    out = [word]
    while len(word) <= LONGEST:  # no name or command is longer: a comment is read as it is
        starts = [m.start() for p in TAILS if (m := p.search(word)) and m.start() > 0]
        if not starts:
            break
        word = word[: max(starts)]  # the shortest particle first
        out.append(word)
    return out


def readings(raw: str) -> tuple[str, ...]:
    """The ways to read what was typed, most literal first (see the module's docstring). Short
    texts are read once: the same few answers ("2", "ข้ามค่ะ") come from everyone, and an event
    asks for them several times (a command? a number? an option?)."""
    return _readings(raw) if len(raw) <= 2 * LONGEST else _read(raw)


def _read(raw: str) -> tuple[str, ...]:
    out = unpolite(key(raw))
    for pattern in (LEADING, NUMBERED):
        out += [w[m.end() :] for w in list(out) if len(w) <= LONGEST and (m := pattern.match(w))]
    return tuple(dict.fromkeys(out))


_readings = lru_cache(maxsize=4096)(_read)


def says_nothing(raw: str) -> bool:
    """Only polite particles ("ค่ะ", "นะคะ", "ครับผม"): no answer to a question that asks for words."""
    return unpolite(key(raw))[-1] in PARTICLES


def clean_text(text: str) -> str:
    """Free text as we store it: valid UTF-8 (lone surrogates replaced), no control characters."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = "".join(c for c in text if c in "\n\t" or unicodedata.category(c) != "Cc")
    return unicodedata.normalize("NFC", text).strip()


def number(word: str) -> int | None:
    """A tapped number (or a folded word), or None: never raises, whatever the participant sent."""
    return int(word) if NUMBER.fullmatch(word) else None


def typed_number(raw: str) -> int | None:
    """The number a typed answer gives ("๓", "3 ค่ะ", "ระดับ 3", "ข้อ 2"), or None."""
    return next((n for w in readings(raw) if (n := number(w)) is not None), None)


COMMAND_WORDS: dict[str, str] = {key(w): name for w, name in commands.WORDS.items()}


def parse_command(text: str) -> tuple[str | None, str]:
    """`/start health`, `/start@bot`, or a typed command word ("ข้ามค่ะ") → (command, argument)."""
    raw = text.strip()
    if raw.startswith("/"):
        head, _, arg = raw[1:].partition(" ")
        name = normalize(head.split("@", 1)[0])
        return (name if name in commands.NAMES else "unknown"), arg.strip()
    return next((COMMAND_WORDS[w] for w in readings(raw) if w in COMMAND_WORDS), None), ""


YES_KEYS, NO_KEYS = frozenset(map(key, YES)), frozenset(map(key, NO))


def yes_or_no(raw: str, *, bare_yes: bool = True) -> bool | None:
    """A typed yes (or 1) → True, no (or 2) → False, anything else None. A polite particle alone
    ("ค่ะ", "ครับ") is yes where `bare_yes`; nothing with ไม่ ("not") in it is ever yes."""
    words = readings(raw)
    for word in words:
        if word in NO_KEYS or word == "2":
            return False
        if "ไม่" not in words[0] and (word in YES_KEYS or word == "1" or (bare_yes and word in BARE_YES)):
            return True
    return None


def match_option(raw: str, options: Sequence[Option | Choice]) -> Option | Choice | None:
    """A typed answer → the option it names: its number in the list, its id, label or alias."""
    named: dict[str, Option | Choice] = {}
    for o in reversed(options):  # an earlier option wins a name two share
        if isinstance(o, Option):
            names = [o.id, o.label.th, o.label.en, *o.aliases]
            if o.short:
                names += [o.short.th, o.short.en]
        else:
            names = [o.id, o.th, o.en, *o.aliases]
        named |= {key(n): o for n in names}
    for word in readings(raw):
        if (n := number(word)) is not None:
            return options[n - 1] if 1 <= n <= len(options) else None
        if word and word in named:
            return named[word]
    return None
