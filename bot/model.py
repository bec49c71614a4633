"""The channel-neutral vocabulary shared by the engine, the service, storage and the channels."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


def utcnow() -> datetime:
    """The one clock every layer defaults to (tests pass their own)."""
    return datetime.now(UTC)


MAX_TEXT = 2000  # longest free-text answer we accept, in characters

InboundKind = Literal["text", "button", "unsupported", "forwarded", "follow", "unfollow", "unblock", "unsend", "edited"]


@dataclass(frozen=True)
class Inbound:
    """What a participant did: typed `text` (commands start with "/"), tapped a button carrying
    `data`, sent something we cannot read (`unsupported`), forwarded someone else's message
    (`forwarded`: not their answer, and nothing of it is kept), followed the account, or left it
    (`unfollow`: unfollowed or blocked the bot) and came back without a word (`unblock`), took a
    message back (`unsend`) or changed its text (`edited`, the new `text`).

    `ref` is the platform's id of the message (LINE: message.id): a typed answer keeps it, so
    that taking the message back or editing it reaches the answer it gave."""

    kind: InboundKind
    text: str = ""
    data: str = ""
    sent_at: datetime | None = None  # the platform's timestamp, when it gives one (flood control)
    ref: str = ""


@dataclass(frozen=True)
class Incoming:
    """One event as a channel received it, converted: whose it is, what they did, and the
    channel's own way of answering it (`context`: a LINE reply token, the Telegram message a tap
    came from). Stored as it is in the inbox, so a stored event needs no second parse."""

    event_id: str
    user_ref: str  # the participant's platform id: it never leaves storage and the channel
    inbound: Inbound
    context: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Button:
    label: str  # fits LINE's 20-character label limit
    data: str  # short ASCII, fits Telegram's 64-byte callback_data


@dataclass(frozen=True)
class Reply:
    """One message: its text (complete on its own: every channel can show it), its buttons, and
    optionally a file, a card or a guide that a channel may draw instead of the text."""

    text: str
    buttons: tuple[Button, ...] = ()
    attachment: Attachment | None = None
    card: Card | None = None
    guide: Guide | None = None


@dataclass(frozen=True)
class Card:
    """A capability as one card, shown with its first question: where the DGA assessed it, where
    the plan aims for 2027, and the question asked of it now. LINE draws it as a Flex bubble with
    the reply's buttons inside; a channel without cards shows the reply's text, which says the
    same. `key` is the capability's (`area.item`): a channel that edits in place knows two cards of
    one capability apart from two. The lines come worded in the participant's language."""

    key: str
    heading: str  # e.g. "ด้านการศึกษา · 2/5"
    capability: str
    current: int
    current_line: str  # e.g. "ระดับปัจจุบัน: ระดับ 2 เปิดเผยข้อมูล"
    target: int
    target_line: str  # e.g. "เป้าหมายปี 2570: ระดับ 4 ดิจิทัลเต็มรูปแบบ"
    question: str
    levels: int = 5  # the steps of the maturity scale


@dataclass(frozen=True)
class GuideLevel:
    """One level in the guide: its number, its name as every screen names it ("ระดับ 4 ดิจิทัล
    เต็มรูปแบบ"), what it means, and what it looks like for the capability asked about (or None)."""

    level: int
    name: str
    means: str
    example: str | None = None


@dataclass(frozen=True)
class Guide:
    """What the maturity levels mean, as one compact message: a title, the capability the examples
    come from ("" when there are none) and the levels. LINE draws it as a Flex bubble; other
    channels show the reply's text, which says the same."""

    title: str  # "ระดับความพร้อมดิจิทัล"
    about: str  # "ตัวอย่างจาก: การรับสมัคร…", or ""
    levels: tuple[GuideLevel, ...]


@dataclass(frozen=True)
class Attachment:
    """A file to send where the channel can (Telegram); others fall back to the text alone."""

    filename: str
    content: bytes
    mime: str


class Answer(BaseModel):
    """One stored answer: a chosen option (with its numeric value), a text, or a skip."""

    model_config = ConfigDict(frozen=True)

    option: str | None = None
    value: int | None = None
    text: str | None = None
    skipped: bool = False
    lang: str = "th"
    at: datetime
    ref: str | None = None  # the message that gave it, when it was typed (see Inbound.ref)
    session: int | None = None  # the focus-group session a live answer was given in


# An answer's key in State.answers is its question's key (`area.item.question`) for the survey in
# chat, round 1. The same question can be answered again elsewhere without losing that answer: in a
# Delphi round 2 (`…@r2`) or in the room during a live session (`…@live`). Storage keeps the two
# parts apart as the answers table's `round` and `source` columns.
SOURCES = ("chat", "live")


def answer_key(question_key: str, round: int = 1, source: str = "chat") -> str:
    """The State.answers key of `question_key` answered in `round` from `source`."""
    if source not in SOURCES or round < 1:
        raise ValueError(f"no answer key for round {round} from {source!r}")
    return question_key + (f"@{source}" if source != "chat" else "") + (f"@r{round}" if round != 1 else "")


def key_parts(key: str) -> tuple[str, int, str]:
    """(question key, round, source) of a State.answers key; the inverse of answer_key."""
    question_key, *tags = key.split("@")
    round, source = 1, "chat"
    for tag in tags:
        if tag.startswith("r") and tag[1:].isdigit():
            round = int(tag[1:])
        elif tag in SOURCES:
            source = tag
        else:
            raise ValueError(f"not an answer key: {key!r}")
    return question_key, round, source


class SessionView(BaseModel):
    """A focus-group session as a participant sees it; `taken` counts its registrations."""

    model_config = ConfigDict(frozen=True)

    id: int
    area: str
    title_th: str
    title_en: str
    starts_at: datetime
    ends_at: datetime | None = None
    place: str | None = None
    capacity: int | None = None
    taken: int = 0
    status: str = "scheduled"

    def title(self, lang: str | None) -> str:
        return self.title_en if lang == "en" else self.title_th

    @property
    def full(self) -> bool:
        return self.capacity is not None and self.taken >= self.capacity


Step = Literal[
    "new", "lang", "consent", "declined", "group", "region", "age", "menu", "survey", "confirm_delete", "delphi"
]


def quantile(counts: tuple[int, ...] | list[int], p: float) -> float | None:
    """The p-quantile of values 1..len(counts) given as counts, by linear interpolation between
    order statistics (Excel's QUARTILE.INC, numpy's default); p = 0.5 is the usual median. None
    when there are no values. The Delphi feedback and the summary both use it, so a participant is
    shown exactly the figures staff read."""
    n = sum(counts)
    if n == 0:
        return None
    h = (n - 1) * p
    lo = int(h)
    low = nth_value(counts, lo)
    return float(low) if h == lo else low + (h - lo) * (nth_value(counts, lo + 1) - low)


def nth_value(counts: tuple[int, ...] | list[int], k: int) -> int:
    """The k-th smallest (from 0) of values 1..len(counts) given as counts."""
    seen = 0
    for value, c in enumerate(counts, 1):
        seen += c
        if seen > k:
            return value
    raise ValueError(k)


class GroupResult(BaseModel):
    """The anonymised group result of one question in round 1, as a Delphi round 2 shows it: how
    many answered 1..5 (don't know and skips excluded), the median and the quartiles, and how many
    answered each level (`counts[0]` level 1; empty in rounds opened before it was stored)."""

    model_config = ConfigDict(frozen=True)

    n: int
    median: float | None = None
    q1: float | None = None
    q3: float | None = None
    counts: tuple[int, ...] = ()


class RoundView(BaseModel):
    """A Delphi round of an area beyond the first, as the engine sees it: when it closes (or
    closed), and round 1's group result by question key (fixed when the round opened, so every
    panelist sees the same feedback)."""

    model_config = ConfigDict(frozen=True)

    area: str
    round: int
    opened_at: datetime
    closes_at: datetime | None = None
    closed_at: datetime | None = None
    feedback: dict[str, GroupResult] = Field(default_factory=dict)

    def is_open(self, now: datetime) -> bool:
        return self.closed_at is None and (self.closes_at is None or now < self.closes_at)


class LiveView(BaseModel):
    """A live focus-group session running now, as the engine sees it: loaded fresh with every
    event (never stored as state). `open_item` is the capability (`area.item`) the facilitator has
    open, whose questions the room answers now; `opened` every capability opened so far."""

    model_config = ConfigDict(frozen=True)

    session_id: int
    code: str
    title_th: str
    title_en: str
    open_item: str | None = None
    opened: tuple[str, ...] = ()

    def title(self, lang: str | None) -> str:
        return self.title_en if lang == "en" else self.title_th


class State(BaseModel):
    """Everything the engine knows about one participant. Storage persists it; the engine
    returns a new one for every inbound event. Progress is kept by question key, never by index."""

    lang: Literal["th", "en"] | None = None
    consent: Literal["given", "declined"] | None = None
    consent_at: datetime | None = None
    consent_version: str | None = None
    group: str | None = None
    region: str | None = None
    age: str | None = None
    step: Step = "new"
    area: str | None = None
    key: str | None = None  # the question being asked when step == "survey"
    resume: Step | None = None  # where an interruption (language, delete) returns to
    pending_area: str | None = None  # a deep link's area, opened once consent and profile are done
    answers: dict[str, Answer] = Field(default_factory=dict)  # by question key
    started: dict[str, datetime] = Field(default_factory=dict)  # area -> when first opened
    completed: dict[str, datetime] = Field(default_factory=dict)  # area -> when finished
    registrations: dict[int, datetime] = Field(default_factory=dict)  # session id -> when registered
    checkins: dict[int, datetime] = Field(default_factory=dict)  # live session id -> when checked in
    pending_live: str | None = None  # a live session's code, checked in to once consent and profile are done
    live_text: str | None = None  # the live question (a capability's comment) that typed text answers now
    # Loaded fresh with every event, never stored as state: the upcoming sessions on offer, and
    # the live sessions running now.
    offers: tuple[SessionView, ...] = ()
    # Loaded fresh with every event too: the Delphi rounds beyond the first (bot.engine.delphi).
    rounds: tuple[RoundView, ...] = ()
    live: tuple[LiveView, ...] = ()


@dataclass
class Outcome:
    """What the engine decided: the new state, the replies, and whether to erase everything."""

    state: State
    replies: list[Reply] = field(default_factory=list)
    chosen: str | None = None  # label of the tapped choice, when a button was accepted
    erase: bool = False
    refused: bool = False  # a stale or forged button, politely refused
    accepted: bool = False  # an answer taken, typed or tapped: flood control never drops it nor counts it


@dataclass(frozen=True)
class FloodMarks:
    """What flood control keeps of one sender (storage's `flood` table, so every worker sees it):
    when the messages it counted were sent, and when the sender was last told to slow down."""

    seen: tuple[datetime, ...] = ()
    noticed: datetime | None = None


def chunks(text: str, limit: int) -> list[str]:
    """Split text for a platform's message limit, preferring line breaks."""
    out: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        if cut <= 0:
            cut = limit
        out.append(text[:cut])
        text = text[cut:].lstrip("\n")
    out.append(text)
    return out


def storable(text: str) -> str:
    """`text` with any lone surrogate (a JSON escape that is no character) as U+FFFD and no NUL
    (PostgreSQL's text cannot hold one): the rest of what the participant wrote is kept, and it
    can be stored and sent (both need valid UTF-8)."""
    text = text.replace("\x00", "") if "\x00" in text else text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
    return text
