"""What a LINE participant sees, read from the requests the fake LINE API received: each message
flattened to its visible text (a Flex bubble's texts and buttons in reading order, a text message
and its quick replies), and the characters a capability makes them read.

`education_on_line` taps through the education area as a LINE participant (the plan's levels, so
no "why?"; "what do the levels mean" once, on the first capability) through the real webhook, the
running app and the real SDK, and returns the transcript and the characters per capability.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bot.surveys import Catalog

Message = dict[str, Any]


def quick_labels(message: Message) -> list[str]:
    return [i["action"]["label"] for i in (message.get("quickReply") or {}).get("items") or []]


def _lines(node: Any) -> list[str]:
    """A Flex component's visible lines: texts as they are, buttons as [label]; a horizontal box's
    one-line children side by side, a box of one-line and longer children as prefix and lines."""
    if not isinstance(node, dict):
        return []
    kind = node.get("type")
    if kind == "text":
        return [node["text"]]
    if kind == "button":
        return [f"[{node['action']['label']}]"]
    if kind == "bubble":
        return [line for part in ("header", "hero", "body", "footer") for line in _lines(node.get(part))]
    if kind == "carousel":
        return [line for b in node["contents"] for line in [*_lines(b), ""]]
    if kind != "box":
        return []
    children = [_lines(c) for c in node.get("contents", [])]
    children = [c for c in children if c]
    if node.get("layout") in ("horizontal", "baseline") and children:
        if all(len(c) == 1 for c in children):
            return [" ".join(c[0] for c in children)]
        first, rest = children[0], children[1:]
        lines = [f"{first[0]} {rest[0][0]}", *rest[0][1:]] if len(first) == 1 else [*first, *rest[0]]
        return lines + [line for c in rest[1:] for line in c]
    out: list[str] = []
    for c in children:  # a column of buttons reads as one row of them
        if out and out[-1].startswith("[") and len(c) == 1 and c[0].startswith("["):
            out[-1] += " " + c[0]
        else:
            out += c
    return out


def texts(message: Message) -> list[str]:
    """The texts a message shows (not its buttons)."""
    if message["type"] == "text":
        return [message["text"]]

    def walk(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["text"]] if node.get("type") == "text" else []
            return own + [t for v in node.values() for t in walk(v)]
        return [t for v in node for t in walk(v)] if isinstance(node, list) else []

    return walk(message["contents"])


def labels(message: Message) -> list[str]:
    """The button labels a message shows: inside a bubble, and its quick replies."""
    inside: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "button":
                inside.append(node["action"]["label"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    if message["type"] == "flex":
        walk(message["contents"])
    return inside + quick_labels(message)


def shown(message: Message) -> str:
    """A message as LINE shows it, flattened."""
    flex = message["type"] == "flex"
    body = "\n".join(["[Flex]", *_lines(message["contents"])]) if flex else message["text"]
    quick = quick_labels(message)
    return body + ("\nquick replies: " + " ".join(f"[{q}]" for q in quick) if quick else "")


def characters(messages: list[Message]) -> int:
    """What the messages make a participant read: every text (line breaks aside), and each distinct
    button label once."""
    read = sum(len(t.replace("\n", "")) for m in messages for t in texts(m))
    return read + sum(len(label) for label in {lb for m in messages for lb in labels(m)})


DOUBLED = re.compile(r"^([0-9]+) \1(?![0-9])")


def doubled_numbers(messages: list[Message]) -> list[str]:
    """Labels and legend entries that put a number before the same number ("1 1", "2 2 ✓ตามแผน")."""
    entries = [lb for m in messages for lb in labels(m)]
    for m in messages:
        if m["type"] == "text":
            entries += [e for line in m["text"].splitlines() for e in line.split(" · ")]
    return [e for e in entries if DOUBLED.match(e)]


@dataclass
class Capability:
    """One capability as the participant went through it."""

    key: str
    messages: list[Message] = field(default_factory=list)  # its card and its next question
    guide: list[Message] = field(default_factory=list)  # what "what do the levels mean" brought

    @property
    def characters(self) -> int:
        return characters(self.messages)


@dataclass
class Walk:
    lang: str
    lines: list[str] = field(default_factory=list)
    capabilities: list[Capability] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)

    def show(self, messages: list[Message]) -> None:
        self.messages += messages
        self.lines += [shown(m) + "\n" for m in messages]

    def tapped(self, label: str) -> None:
        self.lines.append(f"» {label}")

    @property
    def text(self) -> str:
        return "\n".join(self.lines).rstrip("\n") + "\n"


def action(message: Message, test: Any) -> dict[str, Any]:
    """The first quick reply of `message` that passes `test`."""
    found = [i["action"] for i in message["quickReply"]["items"] if test(i["action"])]
    assert found, [i["action"]["data"] for i in message["quickReply"]["items"]]
    return found[0]


async def education_on_line(line: Any, user_id: str, lang: str, catalog: Catalog) -> Walk:
    """Tap through the education area on LINE as `user_id` in `lang` (`line`: a running
    tests.test_line.Harness). Per capability: the plan's level today, then the plan's 2027 target;
    on the first capability "what do the levels mean" between the two."""
    user = line.user(user_id)
    walk = Walk(lang)
    header = {
        "th": "การศึกษา บน LINE: ผู้เข้าร่วมแตะระดับตามร่างแผนทุกขีดความสามารถ (จึงไม่มีคำถาม “เพราะเหตุใด”)",
        "en": "Education on LINE: the participant taps the draft plan's levels (so no “why?” question)",
    }
    walk.lines += [
        header[lang],
        "Each message as LINE shows it: a Flex bubble's texts and [buttons], a text message's quick replies.",
        "Characters per capability: message text plus each distinct button label once (line breaks aside).",
        "Made by tests/line_screen.py; RABFANG_UPDATE_TRANSCRIPTS=1 pytest tests/test_reading_load.py rewrites it.",
        "",
    ]

    async def tap(test: Any) -> list[Message]:
        last = user.messages()[-1]
        chosen = action(last, test)
        walk.tapped(f"tap “{chosen['label']}”")
        return await line.send(user.postback(chosen["data"]))

    await line.send(user.follow())
    for prefix in (f"lang={lang}", "consent=yes", "group=citizen", "region=north", "age=~skip"):
        await line.send(user.tap(lambda a, p=prefix: a["data"].startswith(p)))
    walk.tapped("(language, consent and the profile tapped: the area menu)")
    batch = await tap(lambda a: a["data"] == "area=education")
    area = catalog.areas["education"]
    for n, item in enumerate(area.items):
        key = f"q.education.{item.id}."
        at = next(i for i, m in enumerate(batch) if any(a.startswith(key) for a in _data(m)))
        walk.show(batch[:at])  # what came before the capability (the area's intro)
        cap = Capability(f"education.{item.id}", batch[at:])
        walk.show(batch[at:])
        asked = await tap(lambda a, v=item.current, k=key: a["data"] == f"{k}current_level={v}")
        walk.show(asked)
        cap.messages += asked
        if n == 0:
            cap.guide = await tap(lambda a: a["data"].endswith("=~levels"))
            walk.show(cap.guide)
        walk.lines.append(f"characters this capability: {cap.characters}" + _guide_note(cap) + "\n")
        walk.capabilities.append(cap)
        batch = await tap(lambda a, v=item.target, k=key: a["data"] == f"{k}target_level={v}")
    while batch and any(d.endswith("=~skip") for d in _data(batch[-1])):  # the area's closing questions
        walk.show(batch)
        batch = await tap(lambda a: a["data"].endswith("=~skip"))
    walk.show(batch)
    return walk


def _guide_note(cap: Capability) -> str:
    if not cap.guide:
        return ""
    return f" (and “what do the levels mean”, tapped once: {characters(cap.guide)} more)"


def _data(message: Message) -> list[str]:
    """The postback data a message offers: its quick replies (a bubble's buttons carry the same)."""
    return [i["action"]["data"] for i in (message.get("quickReply") or {}).get("items") or []]
