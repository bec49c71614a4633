"""Replies as LINE messages: text with quick-reply buttons, split for LINE's limits."""

from __future__ import annotations

from collections.abc import Sequence

from linebot.v3.messaging import PostbackAction, QuickReply, QuickReplyItem, TextMessage

from bot.model import Button, Reply, chunks

MAX_TEXT = 5000  # characters of a text message, counted in UTF-16 code units
MAX_QUICK_REPLIES = 13
MAX_LABEL = 20
MAX_DATA = 300  # postback data, and displayText


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str) -> list[str]:
    """Text for LINE's 5,000-unit limit (an emoji outside the BMP counts twice)."""
    out: list[str] = []
    for part in chunks(text, MAX_TEXT):
        out += [part] if _utf16(part) <= MAX_TEXT else chunks(part, MAX_TEXT // 2)
    return out


def _label(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def legend(buttons: Sequence[Button]) -> str:
    """`1 ประชาชนทั่วไป · 2 ผู้ประกอบการ SME · …`: the choices by the number that answers them."""
    return " · ".join(b.label if b.label.startswith(f"{n} ") else f"{n} {b.label}" for n, b in enumerate(buttons, 1))


def render(replies: Sequence[Reply]) -> list[TextMessage]:
    """Replies as LINE text messages. Buttons become quick replies on a reply's last message:
    postbacks carrying the button data, showing the label in the chat when tapped. More than
    fit become a numbered list instead; typing the number (or the label) answers, as it does on
    LINE for desktop, which shows no quick replies. Attachments cannot be sent: the text goes."""
    messages: list[TextMessage] = []
    for reply in replies:
        text, buttons, quick = reply.text, reply.buttons, None
        fits = len(buttons) <= MAX_QUICK_REPLIES and all(len(b.data) <= MAX_DATA for b in buttons)
        if buttons and fits:
            # LINE for PC and Mac shows no quick replies: a one-line legend lets those users type.
            text = text + "\n\n" + legend(buttons)
            quick = QuickReply(
                items=[
                    QuickReplyItem(
                        action=PostbackAction(label=_label(b.label), data=b.data, display_text=b.label[:MAX_DATA])
                    )
                    for b in buttons
                ]
            )
        elif buttons:
            text = text + "\n\n" + "\n".join(f"{n}. {b.label}" for n, b in enumerate(buttons, 1))
        parts = [p for p in split_text(text) if p.strip()]
        if not parts:
            if quick is None:
                continue
            parts = ["⋯"]
        messages += [TextMessage(text=p) for p in parts[:-1]]
        messages.append(TextMessage(text=parts[-1], quick_reply=quick))
    return messages
