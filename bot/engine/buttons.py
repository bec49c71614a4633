"""The button-data codec: the only code that builds or reads the data a button carries.

Data is short ASCII `name=value` naming what the button belongs to (Telegram allows 64 bytes,
a Thai character takes 3, so ids never hold Thai):

    lang=th|en          consent=yes|no        del=yes|no
    group=<id>          region=<id>           age=<id>|~skip
    area=<area>         reg=<session id>      unreg=<session id>
    q.<area>.<item>.<question>=<option>|~skip|~back|~levels
    d2=<area>           d2.<area>.<item>.<question>=<option>|~keep|~skip|~back   (a Delphi round 2)
    lq.<area>.<item>.<question>=<option>   (a question asked in the room, live session)
    cmd=<command>       a command of bot/engine/commands.py as a button ("พอแค่นี้ก่อน": cmd=pause)

`~skip`, `~back` and `~levels` (what the levels mean, with the examples of that question's
capability: it changes nothing, whichever question it was on) are controls rather than choices;
channels may show them apart.
"""

from __future__ import annotations

SKIP, BACK, LEVELS = "~skip", "~back", "~levels"
CONTROLS = (SKIP, BACK, LEVELS)
QUESTION = "q"  # the kind of a survey question's buttons: `q.<question key>=...`
DELPHI = "d2"  # a Delphi round 2's: `d2=<area>` starts it, `d2.<question key>=...` answers in it
KEEP = "~keep"  # in round 2: keep the round-1 answer
LIVE = "lq"  # the kind of a live session's question buttons: `lq.<question key>=...`
COMMAND = "cmd"  # a command's button: `cmd=<name>` does what typing the command's word does


def encode(name: str, value: str | int) -> str:
    """The data of a button `name=value`: `encode("lang", "th")` → `lang=th`."""
    return f"{name}={value}"


def question(key: str, value: str) -> str:
    """The data of a survey question's button: an option id, SKIP or BACK."""
    return encode(f"{QUESTION}.{key}", value)


def delphi(key: str, value: str) -> str:
    """The data of a round-2 question's button: an option id, KEEP, SKIP (the reason) or BACK."""
    return encode(f"{DELPHI}.{key}", value)


def command(name: str) -> str:
    """The data of a button that calls the command `name`."""
    return encode(COMMAND, name)


def decode(data: str) -> tuple[str, str] | None:
    """`name=value` → (name, value); None for data no button of ours carries."""
    name, sep, value = data.partition("=")
    return (name, value) if sep and value else None


def kind(name: str) -> str:
    """Which family of buttons a decoded name belongs to: its name, QUESTION for `q.<key>`, DELPHI
    for `d2.<key>`, LIVE for `lq.<key>`."""
    for family in (DELPHI, LIVE):
        if name.startswith(family + "."):
            return family
    return QUESTION if name.startswith(QUESTION + ".") else name


def question_key(name: str) -> str:
    """The question key of a decoded `q.<key>`, `d2.<key>` or `lq.<key>` name."""
    family = kind(name)
    return name.removeprefix(family + ".") if family in (QUESTION, DELPHI, LIVE) else name


def live_question(key: str, value: str) -> str:
    """The data of a live session question's button: an option id."""
    return encode(f"{LIVE}.{key}", value)


def levels(key: str) -> str:
    """The data of a question's "what do the levels mean" button."""
    return question(key, LEVELS)


def is_control(data: str) -> bool:
    """Whether the button is a control (skip, back, what the levels mean) rather than a choice."""
    decoded = decode(data)
    return decoded is not None and decoded[1] in CONTROLS
