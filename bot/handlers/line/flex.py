"""A capability as one LINE Flex bubble: the heading, the capability, where it stands now and
where the plan aims for 2027 drawn as a gauge of the maturity scale's steps with the two plan
lines, the question, and the reply's buttons inside the bubble as postbacks (LINE for PC and Mac
shows those; it shows no quick replies). And the guide to what the levels mean as one bubble.
Built with the SDK's Flex models, once per card or guide; None where LINE's limits would refuse
it, and the caller sends the reply's text instead. Every word comes from the engine."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache

from linebot.v3.messaging import (
    FlexBox,
    FlexBubble,
    FlexButton,
    FlexComponent,
    FlexFiller,
    FlexMessage,
    FlexSeparator,
    FlexText,
    PostbackAction,
    QuickReply,
)

from bot.engine.buttons import is_control
from bot.model import Button, Card, Guide, Reply

MAX_ALT = 400  # characters of altText we send: what a notification or the chat list shows
MAX_BUBBLE = 30_000  # bytes of a bubble's JSON (LINE: 30 KB)
MAX_LABEL = 20
MAX_DATA = 300  # postback data, and displayText

# Steps reached (amber), the planned climb (light green) up to the 2027 target (green), the rest (grey).
REACHED, CLIMB, TARGET, AHEAD = "#F5A524", "#BDEBCB", "#06A94D", "#E8EAED"
INK, MUTED, HEADER = "#1F2328", "#5F6368", "#0B3D91"


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters (counted as LINE counts text, in UTF-16 units), ending in … when cut."""
    if utf16(text) <= limit:
        return text
    out = ""
    for c in text:
        if utf16(out + c) > limit - 1:
            break
        out += c
    return out + "…"


def numbered(n: int, label: str) -> str:
    """A button's label as the legend of a text message shows it, for typing the number: `n label`,
    or the label alone when it already begins with its number ("1", "2 ✓ตามแผน")."""
    return label if label == str(n) or label.startswith(f"{n} ") else f"{n} {label}"


def label(text: str) -> str:
    """An action label within LINE's 20 (counted here in code points, never fewer than LINE counts)."""
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def postback(button: Button) -> PostbackAction:
    """A button inside a bubble, labelled as the engine labels it: a bubble's buttons are tapped,
    never answered by typing their number, so no number goes before a label."""
    return PostbackAction(label=label(button.label), data=button.data, display_text=button.label[:MAX_DATA])


def _step(card: Card, step: int) -> FlexBox:
    """One step of the gauge: a numbered box coloured by where it stands (the plan lines below the
    gauge say what the colours are)."""
    if step == card.target:
        colour, ink = TARGET, "#FFFFFF"
    elif step <= card.current:
        colour, ink = REACHED, "#FFFFFF"
    elif step < card.target:
        colour, ink = CLIMB, INK
    else:
        colour, ink = AHEAD, MUTED
    box = FlexBox(
        layout="vertical",
        contents=[FlexText(text=str(step), size="sm", weight="bold", color=ink, align="center")],
        background_color=colour,
        corner_radius="4px",
        padding_all="6px",
        # the current step keeps its amber edge where it is also the target
        border_width="medium" if step == card.current else None,
        border_color=REACHED if step == card.current else None,
    )
    return FlexBox(layout="vertical", flex=1, contents=[box])


def gauge(card: Card) -> FlexBox:
    """The maturity scale as `levels` boxes side by side, the current and the target step marked."""
    return FlexBox(
        layout="horizontal",
        spacing="xs",
        margin="lg",
        contents=[_step(card, n) for n in range(1, max(card.levels, card.target, card.current, 1) + 1)],
    )


def _legend(card: Card) -> list[FlexComponent]:
    rows = [(REACHED, card.current_line), (TARGET, card.target_line)]
    return [
        FlexBox(
            layout="horizontal",
            spacing="sm",
            margin="sm" if n else "md",
            align_items="center",
            contents=[
                # a dot in the step's colour, drawn (not a character to read)
                FlexBox(
                    layout="vertical",
                    flex=0,
                    width="8px",
                    height="8px",
                    corner_radius="4px",
                    background_color=colour,
                    contents=[FlexFiller()],
                ),
                FlexText(text=text, size="xs", color=MUTED, wrap=True, flex=1),
            ],
        )
        for n, (colour, text) in enumerate(rows)
    ]


def _footer(buttons: Sequence[Button]) -> FlexBox | None:
    """Choices one a row in the reply's order (the order the numbers answer); skip and back below."""
    choices = [
        FlexButton(action=postback(b), style="secondary", height="sm", adjust_mode="shrink-to-fit")
        for b in buttons
        if not is_control(b.data)
    ]
    controls = [
        FlexButton(action=postback(b), style="link", height="sm", flex=1) for b in buttons if is_control(b.data)
    ]
    contents: list[FlexComponent] = list(choices)
    if controls:
        contents.append(FlexBox(layout="horizontal", spacing="sm", contents=list(controls)))
    return FlexBox(layout="vertical", spacing="sm", contents=contents) if contents else None


def bubble(card: Card, buttons: Sequence[Button]) -> FlexBubble:
    body = [
        FlexText(text=card.capability, weight="bold", size="md", color=INK, wrap=True),
        gauge(card),
        *_legend(card),
        FlexSeparator(margin="lg"),
        FlexText(text=card.question, size="sm", color=INK, wrap=True, margin="lg"),
    ]
    return FlexBubble(
        size="mega",
        header=FlexBox(
            layout="vertical",
            background_color=HEADER,
            padding_all="12px",
            contents=[FlexText(text=card.heading, size="xs", color="#FFFFFF", wrap=True)],
        ),
        body=FlexBox(layout="vertical", contents=body),
        footer=_footer(buttons),
    )


def size(container: FlexBubble) -> int:
    """The bytes of a container's JSON, as LINE measures its limit."""
    return len(json.dumps(container.to_dict(), ensure_ascii=False, separators=(",", ":")).encode())


@lru_cache(maxsize=1024)
def fitting_bubble(card: Card, buttons: tuple[Button, ...]) -> FlexBubble | None:
    """The card's bubble, or None when it is too large for one. The same question shows everyone
    the same card and buttons, and building and measuring a bubble through the SDK's models costs
    milliseconds of the event loop: made once per card (the SDK copies it into each message)."""
    container = bubble(card, buttons)
    return container if size(container) <= MAX_BUBBLE else None


def card_message(reply: Reply, quick: QuickReply | None) -> FlexMessage | None:
    """The reply's card as a Flex message (with `quick` as its quick replies), or None when it has
    no card or LINE would refuse it: a button whose data is too long, a card too large for a bubble,
    an empty text, which Flex does not allow."""
    card = reply.card
    if card is None or not (card.heading.strip() and card.capability.strip() and card.question.strip()):
        return None
    if any(not b.data or len(b.data) > MAX_DATA or not b.label for b in reply.buttons):
        return None
    container = fitting_bubble(card, tuple(reply.buttons))
    if container is None:
        return None
    alt = shorten(reply.text.strip() or f"{card.capability}\n{card.question}", MAX_ALT)
    return FlexMessage(alt_text=alt, contents=container, quick_reply=quick)


def guide_bubble(guide: Guide) -> FlexBubble:
    """What the levels mean as one bubble: each level named (its number is in its name), what it
    means, and the capability's example below it."""
    rows: list[FlexComponent] = []
    for n, lv in enumerate(guide.levels):
        rows.append(
            FlexText(text=lv.name, weight="bold", size="sm", color=HEADER, wrap=True, margin="lg" if n else None)
        )
        if lv.means:
            rows.append(FlexText(text=lv.means, size="xs", color=INK, wrap=True, margin="xs"))
        if lv.example:
            rows.append(FlexText(text=lv.example, size="xs", color=MUTED, wrap=True, style="italic", margin="xs"))
    header: list[FlexComponent] = [FlexText(text=guide.title, size="sm", weight="bold", color="#FFFFFF", wrap=True)]
    if guide.about:
        header.append(FlexText(text=guide.about, size="xs", color="#FFFFFF", wrap=True))
    return FlexBubble(
        size="mega",
        header=FlexBox(layout="vertical", background_color=HEADER, padding_all="12px", spacing="xs", contents=header),
        body=FlexBox(layout="vertical", contents=rows),
    )


@lru_cache(maxsize=256)
def fitting_guide(guide: Guide) -> FlexBubble | None:
    """The guide's bubble, or None when it is too large for one: made once per guide (one per
    capability and language), as cards are."""
    container = guide_bubble(guide)
    return container if size(container) <= MAX_BUBBLE else None


def guide_message(reply: Reply, quick: QuickReply | None) -> FlexMessage | None:
    """The reply's guide as a Flex message, or None when it has none or LINE would refuse it."""
    guide = reply.guide
    if guide is None or not guide.title.strip() or any(not lv.name.strip() for lv in guide.levels):
        return None
    container = fitting_guide(guide)
    if container is None:
        return None
    return FlexMessage(
        alt_text=shorten(reply.text.strip() or guide.title, MAX_ALT), contents=container, quick_reply=quick
    )
