"""Simulated participants: what a participant's state must be after the inputs the platform
acknowledged (`Model`, the pure engine), and a plausible next input for one in a given state.
The crash and worker suites check storage against it; the LINE burst benchmark drives with it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.engine import Context, Engine
from bot.model import Inbound, Outcome, State
from bot.surveys import Catalog

CURSOR_FIELDS = ("step", "area", "key", "resume", "pending_area")

MODEL_NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # the model's clock: no cursor depends on it


class Model:
    """What a participant's state must be after the inputs the platform saw acknowledged: the same
    inputs, once each and in order, through the pure engine. Storage, channels and crashes must not
    make the stored state differ from it."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self.engine = Engine(Context(catalog, MODEL_NOW))

    def decide(self, state: State, event: Inbound) -> Outcome:
        return self.engine.decide(state, event)


def cursor_of(state: State) -> dict[str, Any]:
    return {k: getattr(state, k) for k in CURSOR_FIELDS}


def answers_of(state: State) -> dict[str, tuple[Any, ...]]:
    return {k: (a.option, a.value, a.text, int(a.skipped)) for k, a in state.answers.items()}


def expected_state(state: State) -> dict[str, Any]:
    return {
        "profile": (state.lang, state.consent, state.group, state.region, state.age),
        "cursor": cursor_of(state),
        "answers": answers_of(state),
        "started": set(state.started),
        "completed": set(state.completed),
    }


def next_input(rng: Any, catalog: Catalog, state: State, tag: str, n: int) -> Inbound:
    """A plausible next thing for a participant in `state` to do: a tap on one of the buttons the
    bot offers for their step, or the same answer typed (a number, a word, a comment). `tag` and
    `n` make typed comments distinctive."""
    s = state
    tap = rng.random() < 0.6

    def pick(name: str, ids: list[str]) -> Inbound:
        i = rng.randrange(len(ids))
        return Inbound("button", data=f"{name}={ids[i]}") if tap else Inbound("text", text=str(i + 1))

    if s.step == "new":
        return Inbound("text", text="/start")
    if s.step == "lang":
        lang = rng.choice(("th", "en"))
        return Inbound("button", data=f"lang={lang}") if tap else Inbound("text", text=rng.choice(("English", "ไทย")))
    if s.step in ("consent", "declined"):
        return Inbound("button", data="consent=yes") if tap else Inbound("text", text=rng.choice(("yes", "ยินยอม")))
    if s.step in ("group", "region"):
        return pick(s.step, [o.id for o in getattr(catalog.common.profile, s.step)])
    if s.step == "age":
        if rng.random() < 0.3:
            return Inbound("button", data="age=~skip") if tap else Inbound("text", text="skip")
        return pick("age", [o.id for o in catalog.common.profile.age])
    if s.step == "menu":
        areas = [a for a in catalog.areas if a not in s.completed] or list(catalog.areas)
        area = rng.choice(areas)
        return Inbound("button", data=f"area={area}") if tap else Inbound("text", text=area)
    if s.step == "confirm_delete":
        return Inbound("button", data="del=no")
    step = catalog.step(s.key or "") if s.step == "survey" else None
    if step is None:
        return Inbound("text", text="/start")
    name = f"q.{step.key}"
    if rng.random() < 0.04:
        return Inbound("button", data=f"{name}=~back") if tap else Inbound("text", text="back")
    if step.question.optional and rng.random() < 0.25:
        return Inbound("button", data=f"{name}=~skip") if tap else Inbound("text", text="ข้าม")
    if step.question.kind == "text":
        return Inbound("text", text=f"ความเห็นที่ {n} จาก {tag}: ระบบควรเชื่อมข้อมูลกัน")
    return pick(name, [o.id for o in catalog.options(step)])


def buttons_of(outcome: Outcome) -> list[str]:
    """The button data of the last reply that has buttons: what the participant can tap next."""
    for reply in reversed(outcome.replies):
        if reply.buttons:
            return [b.data for b in reply.buttons]
    return []
