"""Golden transcripts: a conversation file of inputs and the exact replies the engine gives.

Lines starting with `» ` are the participant's input: `» text` is typed, `» [n]` taps the
n-th button of the last reply, `» <sticker>` is something unreadable. Everything else is the
expected output, rendered as the console channel renders it. Set RABFANG_UPDATE_GOLDEN=1 to
rewrite the files from the engine's current behaviour (then read the diff before committing)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from bot.engine import Context, Engine
from bot.handlers.console import render
from bot.model import Inbound, Reply, State
from bot.surveys import Catalog

START = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


class Conversation:
    """One participant talking to the pure engine, with a clock that ticks a minute per input."""

    def __init__(self, catalog: Catalog, state: State | None = None):
        self.catalog = catalog
        self.state = state or State()
        self.now = START
        self.last: list[Reply] = []
        self.erased = False

    def send(self, line: str) -> str:
        self.now += timedelta(minutes=1)
        outcome = Engine(Context(self.catalog, self.now)).decide(self.state, self.inbound(line))
        self.state, self.last, self.erased = outcome.state, outcome.replies, outcome.erase
        return render(outcome.replies)

    def inbound(self, line: str) -> Inbound:
        if m := re.fullmatch(r"\[(\d+)\]", line):
            buttons = self.last[-1].buttons if self.last else ()
            return Inbound("button", data=buttons[int(m.group(1)) - 1].data)
        if line.startswith("[data:") and line.endswith("]"):
            return Inbound("button", data=line[6:-1])
        if line == "<sticker>":
            return Inbound("unsupported")
        return Inbound("text", text=line)


def play(catalog: Catalog, script: str) -> str:
    """Run the inputs of a transcript and return the transcript the engine produces."""
    convo = Conversation(catalog)
    out: list[str] = []
    for line in script.splitlines():
        if line.startswith("» "):
            out += [line, convo.send(line[2:]), ""]
    return "\n".join(out)
