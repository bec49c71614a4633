"""What every step family shares: the context, the turn being decided, and a family's defaults."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from ..i18n import tr
from ..model import Button, Outcome, Reply, State
from ..surveys import Catalog
from ..surveys.schema import Option
from . import buttons
from .input import Choice

PROFILE_STEPS = ("group", "region", "age")


@dataclass(frozen=True)
class Context:
    """What the engine may know of the world besides the participant: surveys, time, policy."""

    catalog: Catalog
    now: datetime
    retention_days: int = 365
    unconsented_days: int = 7  # what is kept of someone who has not consented is deleted after this
    contact: str = "สำนักงานพัฒนารัฐบาลดิจิทัล (องค์การมหาชน) · www.dga.or.th"
    # the service's flood control: "ok", or the sender is over the limit and gets a "notice" (the
    # first time) or is dropped ("drop"); the engine still takes an answer it accepts (Engine.decide)
    flood: Literal["ok", "notice", "drop"] = "ok"


@dataclass
class Turn:
    """One event being decided: the context, the outcome being built, and the step table.

    `stranded`: the question the participant was on had been removed from the survey, and the
    turn began by finding their place again (what they typed answered a question that is gone).
    `compact`: the question to ask is about the capability just answered about, already on
    screen: ask it without repeating the capability's block."""

    ctx: Context
    out: Outcome
    steps: Mapping[str, Family]
    stranded: bool = False
    compact: bool = False

    @property
    def s(self) -> State:
        return self.out.state

    @property
    def catalog(self) -> Catalog:
        return self.ctx.catalog

    @property
    def lang(self) -> str:
        """The language to render in: Thai until they choose."""
        return self.s.lang or "th"

    def family(self) -> Family:
        return self.steps[self.s.step]

    def ask(self) -> Reply:
        """The prompt of the step the participant is on, with its buttons."""
        return self.family().ask(self)

    def notice(self, text: str) -> Reply:
        """A short notice carrying the current step's buttons, so the participant can go on."""
        return self.family().notice(self, text)

    def show(self) -> Outcome:
        """Ask the current step again."""
        self.out.replies.append(self.ask())
        return self.out

    def tell(self, text: str) -> Outcome:
        """Say `text`, then ask the current step."""
        self.out.replies.append(Reply(text))
        return self.show()

    def notify(self, text: str) -> Outcome:
        """Say `text` with the current step's buttons."""
        self.out.replies.append(self.notice(text))
        return self.out

    def take(self) -> None:
        """What they sent was taken as the answer to the question asked (typed or tapped): flood
        control lets it through and does not count it."""
        self.out.accepted = True

    def refuse(self) -> Outcome:
        """A stale or forged button: nothing changes, and the current step is asked again."""
        self.out.refused = True
        return self.notify(tr(self.s.lang, "stale"))

    def reprompt(self) -> Outcome:
        """Typed text that answers nothing here."""
        return self.family().reprompt(self)


class Family:
    """A family of steps: what its steps ask and how they take a tap, typed text, back and skip.

    `owns` names the kinds of button data (bot.engine.buttons) it issues; a tap is given to the
    family that issued it, whatever step the participant is on now, so `button` checks the state."""

    owns: tuple[str, ...] = ()

    def ask(self, t: Turn) -> Reply:
        raise NotImplementedError

    def notice(self, t: Turn, text: str) -> Reply:
        return Reply(text, self.ask(t).buttons)

    def button(self, t: Turn, name: str, value: str) -> Outcome:
        return t.refuse()

    def typed(self, t: Turn, raw: str) -> Outcome:
        return t.reprompt()

    def wants_text(self, t: Turn) -> bool:
        """Whether typed text is the answer itself (so a number is not taken as a button's)."""
        return False

    def reprompt(self, t: Turn) -> Outcome:
        return t.notify(tr(t.s.lang, "pick_option", n=len(t.ask().buttons)))

    def back(self, t: Turn) -> Outcome:
        return t.tell(tr(t.s.lang, "at_start"))

    def skip(self, t: Turn) -> Outcome:
        return t.notify(tr(t.s.lang, "nothing_to_skip"))


def ready(s: State) -> bool:
    """Consented and profiled: the survey, its menu and the sessions are open to them."""
    return s.consent == "given" and s.group is not None and s.region is not None and s.step not in PROFILE_STEPS


def choice_buttons(name: str, options: Sequence[Option | Choice], lang: str) -> tuple[Button, ...]:
    return tuple(Button(o.button(lang), buttons.encode(name, o.id)) for o in options)


def profile_options(catalog: Catalog, name: str) -> tuple[Option, ...]:
    return getattr(catalog.common.profile, name)


def profile_option(catalog: Catalog, name: str, value: str) -> Option | None:
    return next((o for o in profile_options(catalog, name) if o.id == value), None)
