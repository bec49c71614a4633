"""Reading what a participant typed: folding text, command words, numbers and named options."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from ..surveys.schema import Option
from . import commands

NUMBER = re.compile(r"[0-9]{1,6}")  # ASCII digits only: str.isdigit() also takes '²', which int() refuses
YES = ("yes", "y", "ok", "agree", "i agree", "ใช่", "ตกลง", "ยินยอม", "ยืนยัน", "ยืนยันลบ")
NO = ("no", "n", "cancel", "i do not agree", "ไม่", "ไม่ใช่", "ไม่ยินยอม", "ยกเลิก")


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
    """Fold typed text for matching: NFC, lower case, single spaces, no trailing punctuation."""
    text = unicodedata.normalize("NFC", text).casefold().strip()
    text = re.sub(r"\s+", " ", text)
    return text.strip(" .!。“”\"'")


def clean_text(text: str) -> str:
    """Free text as we store it: valid UTF-8 (lone surrogates replaced), no control characters."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = "".join(c for c in text if c in "\n\t" or unicodedata.category(c) != "Cc")
    return unicodedata.normalize("NFC", text).strip()


def number(word: str) -> int | None:
    """A typed or tapped number, or None: never raises, whatever the participant sent."""
    return int(word) if NUMBER.fullmatch(word) else None


def parse_command(text: str) -> tuple[str | None, str]:
    """`/start health`, `/start@bot`, or a typed command word → (command, argument)."""
    raw = text.strip()
    if raw.startswith("/"):
        head, _, arg = raw[1:].partition(" ")
        name = normalize(head.split("@", 1)[0])
        return (name if name in commands.NAMES else "unknown"), arg.strip()
    return commands.lookup(normalize(raw)), ""


def yes_or_no(raw: str) -> bool | None:
    """A typed yes (or 1) → True, no (or 2) → False, anything else None."""
    word = normalize(raw)
    if word in YES or word == "1":
        return True
    if word in NO or word == "2":
        return False
    return None


def match_option(raw: str, options: Sequence[Option | Choice]) -> Option | Choice | None:
    """A typed answer → the option it names: its number in the list, its id, label or alias."""
    word = normalize(raw)
    if not word:
        return None
    if (n := number(word)) is not None and 1 <= n <= len(options):
        return options[n - 1]
    for o in options:
        if isinstance(o, Option):
            names = [o.id, o.label.th, o.label.en, *o.aliases]
            if o.short:
                names += [o.short.th, o.short.en]
        else:
            names = [o.id, o.th, o.en, *o.aliases]
        if word in {normalize(n) for n in names}:
            return o
    return None
