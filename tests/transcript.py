"""Golden transcripts: conversations of inputs, the exact replies, and the state after each turn.

`tests/transcripts/<name>.txt`: lines starting with `» ` are the participant's input: `» text` is
typed, `» [n]` taps the n-th button of the last reply, `» [data:...]` taps a button carrying that
data, `» <sticker>` is something unreadable, `» <follow>` follows the account. A line
`§ offer {...}` puts a focus-group session on offer from then on (a SessionView as JSON, as
storage loads them with every event). Everything else is the expected output, rendered as the
console channel renders it.

`<name>.states.jsonl`, beside it: one line per input, the outcome's flags and the participant's
state after that turn, as JSON. After every turn the runner serialises the state, reads it back
(`State.model_validate_json`) and goes on with the reloaded copy, as storage would, so a state that
does not survive the round trip, or that differs while rendering the same, fails the transcript
(the model: nyaruka/goflow, test/runner_test.go).

RABFANG_UPDATE_TRANSCRIPTS=1 rewrites both files from the engine's current behaviour (then read the
diff before committing).
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.engine import Context, Engine
from bot.handlers.console import render
from bot.model import Inbound, Outcome, Reply, SessionView, State
from bot.surveys import Catalog

START = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
OFFER = "§ offer "


def updating() -> bool:
    return bool(os.environ.get("RABFANG_UPDATE_TRANSCRIPTS"))


class Conversation:
    """One participant talking to the pure engine, with a clock that ticks a minute per input.

    Between turns the state only exists as JSON, as it would in storage; the sessions on offer
    are attached afresh to every event, as storage does."""

    def __init__(self, catalog: Catalog, state: State | None = None):
        self.catalog = catalog
        self.offers: tuple[SessionView, ...] = state.offers if state else ()
        self.saved = snapshot(state or State())
        self.state = self.reload()  # what the next turn starts from (a test may change it first)
        self.now = START
        self.last: list[Reply] = []
        self.erased = False
        self.outcome: Outcome | None = None

    def reload(self) -> State:
        """The participant's state as stored: read back from its JSON, with the sessions on offer."""
        return State.model_validate_json(self.saved).model_copy(update={"offers": self.offers})

    def send(self, line: str) -> str:
        self.now += timedelta(minutes=1)
        state = self.state.model_copy(update={"offers": self.offers})
        outcome = Engine(Context(self.catalog, self.now)).decide(state, self.inbound(line))
        self.saved = snapshot(outcome.state)
        self.state = self.reload()
        assert self.state == outcome.state.model_copy(update={"offers": self.offers}), "state does not survive JSON"
        self.outcome, self.last, self.erased = outcome, outcome.replies, outcome.erase
        return render(outcome.replies)

    def record(self, line: str) -> str:
        """The turn just played, as a line of the states file."""
        assert self.outcome is not None
        out = self.outcome
        turn: dict[str, Any] = {"input": line}
        turn |= {"chosen": out.chosen} if out.chosen is not None else {}
        turn |= {"refused": True} if out.refused else {}
        turn |= {"erase": True} if out.erase else {}
        files = [r.attachment.filename for r in out.replies if r.attachment]
        turn |= {"files": files} if files else {}
        turn["state"] = json.loads(self.saved)
        return json.dumps(turn, ensure_ascii=False)

    def inbound(self, line: str) -> Inbound:
        if m := re.fullmatch(r"\[(\d+)\]", line):
            buttons = self.last[-1].buttons if self.last else ()
            return Inbound("button", data=buttons[int(m.group(1)) - 1].data)
        if line.startswith("[data:") and line.endswith("]"):
            return Inbound("button", data=line[6:-1])
        if line == "<sticker>":
            return Inbound("unsupported")
        if line == "<follow>":
            return Inbound("follow")
        return Inbound("text", text=line)


def snapshot(state: State) -> str:
    """The state as storage keeps it: everything but the sessions on offer (loaded per event)."""
    return state.model_dump_json(exclude={"offers"}, exclude_defaults=True)


def play(catalog: Catalog, script: str) -> tuple[str, list[str]]:
    """Run the inputs of a transcript: the transcript the engine produces, and its states file."""
    convo = Conversation(catalog)
    out: list[str] = []
    states: list[str] = []
    for line in script.splitlines():
        if line.startswith(OFFER):
            convo.offers += (SessionView.model_validate_json(line.removeprefix(OFFER)),)
            out.append(line)
        elif line.startswith("» "):
            out += [line, convo.send(line[2:]), ""]
            states.append(convo.record(line[2:]))
    return "\n".join(out), states


def check(catalog: Catalog, path: Path, update: bool = False) -> None:
    """Play a transcript and compare its text and every turn's state with the files (or rewrite them)."""
    states_path = path.with_suffix(".states.jsonl")
    expected = path.read_text(encoding="utf-8")
    text, states = play(catalog, expected)
    if update:
        path.write_text(text + "\n", encoding="utf-8")
        states_path.write_text("".join(s + "\n" for s in states), encoding="utf-8")
        return
    assert text + "\n" == expected
    stored = states_path.read_text(encoding="utf-8").splitlines() if states_path.exists() else []
    for n, (actual, kept) in enumerate(zip(states, stored, strict=False), 1):
        turn, want = json.loads(actual), json.loads(kept)
        assert turn == want, f"{states_path.name}: turn {n} (» {turn['input']}) differs"
    assert len(states) == len(stored), f"{states_path.name}: {len(stored)} turns stored, {len(states)} played"
