"""Replies as LINE messages: a capability's card as a Flex bubble, everything else as text with
quick-reply buttons, split for LINE's limits."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from linebot.v3.messaging import FlexMessage, PostbackAction, QuickReply, QuickReplyItem, TextMessage

from bot.engine.buttons import is_control
from bot.model import Button, Reply, chunks

from .flex import MAX_DATA, card_message, guide_message, label, numbered

Message = TextMessage | FlexMessage

MAX_TEXT = 5000  # characters of a text message, counted in UTF-16 code units
MAX_QUICK_REPLIES = 13


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str) -> list[str]:
    """Text for LINE's 5,000-unit limit (an emoji outside the BMP counts twice)."""
    out: list[str] = []
    for part in chunks(text, MAX_TEXT):
        out += [part] if _utf16(part) <= MAX_TEXT else chunks(part, MAX_TEXT // 2)
    return out


def legend(buttons: Sequence[Button]) -> str:
    """`1 ประชาชนทั่วไป · 2 ผู้ประกอบการ SME · …`, `1 · 2 ✓ตามแผน · 3 · … · 6 ไม่ทราบ`: the choices by
    the number that answers them, never numbered twice. The controls (skip, back, what the levels
    mean) come after the choices and are typed as the words they are labelled with."""
    return " · ".join(numbered(n, b.label) for n, b in enumerate(buttons, 1) if not is_control(b.data))


def quick_replies(buttons: Sequence[Button]) -> QuickReply | None:
    """Buttons as quick replies: postbacks carrying the button data, showing the label in the chat
    when tapped; None when there are none or more than LINE shows."""
    return _quick_replies(tuple(buttons))


@lru_cache(maxsize=1024)
def _quick_replies(buttons: tuple[Button, ...]) -> QuickReply | None:
    # the same question offers everyone the same buttons: the SDK's validated models are built
    # once per set of buttons, not once per message (the SDK copies them into each message)
    if not buttons or len(buttons) > MAX_QUICK_REPLIES or any(len(b.data) > MAX_DATA for b in buttons):
        return None
    return QuickReply(
        items=[
            QuickReplyItem(action=PostbackAction(label=label(b.label), data=b.data, display_text=b.label[:MAX_DATA]))
            for b in buttons
        ]
    )


def render(replies: Sequence[Reply]) -> list[Message]:
    """Replies as LINE messages. A reply with a card becomes one Flex bubble with its buttons
    inside (and as quick replies too, for phones); a reply with a guide, one Flex bubble. Otherwise buttons become quick replies on a
    reply's last message; more than fit become a numbered list instead. Typing the number (or the
    label) answers either way, as it does on LINE for desktop, which shows no quick replies.
    Attachments cannot be sent: the text goes."""
    messages: list[Message] = []
    for reply in replies:
        text, buttons, quick = reply.text, reply.buttons, quick_replies(reply.buttons)
        if (flex := card_message(reply, quick) or guide_message(reply, quick)) is not None:
            messages.append(flex)
            continue
        if quick is not None:
            # LINE for PC and Mac shows no quick replies: a one-line legend lets those users type.
            text = text + "\n\n" + typed if (typed := legend(buttons)) else text
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
