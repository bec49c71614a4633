"""Replies the Telegram way: inline keyboards packed by label width, the tapped question edited
to show the choice, the command menu per language."""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Sequence

from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup

from bot.engine.buttons import is_control
from bot.engine.commands import menu
from bot.model import Button

MAX_TEXT = 4096  # Telegram's limit for one message
MAX_CALLBACK_DATA = 64  # bytes

log = logging.getLogger("rabfang.telegram")


def command_menus() -> dict[str | None, list[BotCommand]]:
    """The command menu per `language_code` (Thai, English, and a bilingual default), made from
    the engine's one command table."""
    return {lang: [BotCommand(name, about) for name, about in menu(lang)] for lang in ("th", "en", None)}


def label_width(label: str) -> int:
    """How wide a label looks: Thai vowel and tone marks stack on their consonant and add nothing."""
    return sum(0 if unicodedata.category(c) in ("Mn", "Me", "Cf") else 1 for c in label)


def _per_row(widest: int) -> int:
    return 3 if widest <= 8 else 2 if widest <= 16 else 1


def _rows(buttons: Sequence[Button]) -> list[list[Button]]:
    """Pack buttons in order: three short ones a row, two middling ones, a long one alone."""
    rows: list[list[Button]] = []
    for b in buttons:
        row = rows[-1] if rows else None
        if row is not None and len(row) < _per_row(max(label_width(x.label) for x in [*row, b])):
            row.append(b)
        else:
            rows.append([b])
    return rows


def keyboard(buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
    """An inline keyboard for a reply's buttons; a button whose data Telegram would refuse is left out."""
    usable = []
    for b in buttons:
        if len(b.data.encode()) > MAX_CALLBACK_DATA or not b.data.isascii():
            log.error("button data longer than %d bytes or not ASCII, left out: %r", MAX_CALLBACK_DATA, b.data)
            continue
        usable.append(b)
    if not usable:
        return None
    choices = [b for b in usable if not is_control(b.data)]  # skip and back go last, together
    controls = [b for b in usable if is_control(b.data)]
    rows = _rows(choices) + _rows(controls)
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in rows])


def answered_text(question: str, chosen: str) -> str:
    """The question message after a tap: its text and the accepted choice, keyboard gone."""
    suffix = f"\n\n✓ {chosen}"
    return question[: MAX_TEXT - len(suffix)] + suffix
