"""The conversation engine: a pure function of (state, inbound event, surveys, now).

It knows no channel, does no I/O and reads no clock. `Engine(ctx).decide(state, event)` returns the
participant's new state and the replies to send; the service persists the one and the channel
renders the other.

One event is decided in this order: a participant whose question was removed from the survey is
first put back on one that exists (survey.rehome); then a tap goes to the family that issued the
button (buttons.py is the codec), a command to its action (commands.py is the table), and typed
text to the family of the step they are on (STEPS). A tap on a button of an earlier question changes
that answer (and says so); a stale or forged one is refused and the current question asked again.

Two rules hold for every turn. One set of choices: at most the last reply carries buttons (LINE
shows quick replies on the last message only), so choices offered earlier in a turn join the last
reply's. Flood control: when the service says the sender is over its limit (`Context.flood`), what
the engine takes as the answer to the question asked (`Turn.take`: a language, consent, a profile
answer, an area, a survey or round-2 answer typed or tapped, a skip of an optional question) is
still taken (a fast person is not an attacker); anything else changes nothing and gets one notice,
then silence.

    onboarding.py  new, lang · consent, declined · group, region, age
    survey.py      menu · survey (a question of an area)
    privacy.py     confirm_delete, the privacy, mydata, deleteme commands, and messages taken
                   back or edited (the answers they gave go or change with them)
    sessions.py    focus-group sessions (no step: buttons, the events command, "ลงทะเบียน 2")
    delphi.py      delphi (a Delphi round 2 of an area), and the menu with its open rounds
    live.py        live sessions in the room (no step: checking in, the open capability's taps)
    levels.py      what the levels mean (no step: a question's `~levels` button, the levels command)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ..i18n import tr
from ..model import Inbound, Outcome, Reply, State, Step
from . import buttons, delphi, levels, live, onboarding, privacy, sessions, survey
from .buttons import BACK, SKIP
from .commands import COMMANDS, help_text
from .core import Context, Family, Turn, ready
from .input import clean_text, normalize, number, parse_command, typed_number
from .onboarding import LANG_CHOICES

STEPS: dict[Step, Family] = {
    "new": onboarding.LANGUAGE,
    "lang": onboarding.LANGUAGE,
    "consent": onboarding.CONSENT,
    "declined": onboarding.CONSENT,
    "group": onboarding.PROFILE,
    "region": onboarding.PROFILE,
    "age": onboarding.PROFILE,
    "menu": delphi.MENU,  # survey.MENU with the open Delphi rounds of the areas they completed
    "survey": survey.QUESTION,
    "confirm_delete": privacy.CONFIRM_DELETE,
    "delphi": delphi.DELPHI_STEP,
}

# Who takes a tap: the family that issued the button, whatever step the participant is on now.
TAPS: dict[str, Family] = {
    kind: family for family in (*STEPS.values(), sessions.SESSIONS, live.LIVE) for kind in family.owns
}


def _help(t: Turn, arg: str) -> Outcome:
    return t.tell(help_text(t.s.lang))


def _back(t: Turn, arg: str) -> Outcome:
    if t.stranded:  # their question is gone: back is out of the area
        survey.leave(t)
        return t.show()
    return t.family().back(t)


def _skip(t: Turn, arg: str) -> Outcome:
    if t.stranded:  # their question is gone: there is nothing of theirs to skip
        return t.notify(tr(t.s.lang, "nothing_to_skip"))
    return t.family().skip(t)


ACTIONS: dict[str, Callable[[Turn, str], Outcome]] = {
    "start": onboarding.start,
    "pause": survey.pause,
    "areas": survey.areas,
    "status": survey.status,
    "levels": levels.command,
    "events": sessions.events,
    "back": _back,
    "skip": _skip,
    "language": onboarding.language,
    "privacy": privacy.privacy,
    "mydata": privacy.mydata,
    "deleteme": privacy.deleteme,
    "help": _help,
}


def working_copy(state: State) -> State:
    """A copy of `state` the engine may change without touching the original (storage diffs the two).

    Only the containers are copied: answers and sessions are frozen and the other fields immutable,
    so this equals a deep copy at a fraction of its cost (the deep copy was 12% of an event)."""
    return state.model_copy(
        update={
            "answers": dict(state.answers),
            "started": dict(state.started),
            "completed": dict(state.completed),
            "registrations": dict(state.registrations),
            "checkins": dict(state.checkins),
        }
    )


class Engine:
    """Decides one inbound event at a time; holds nothing but the context it was given."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.catalog = ctx.catalog

    def decide(self, state: State, event: Inbound) -> Outcome:
        out = self._decide(state, event)
        out.accepted = out.accepted and not out.refused  # set where an answer is taken (Turn.take)
        if self.ctx.flood != "ok" and not out.accepted:
            notice = [Reply(tr(state.lang, "flood"))] if self.ctx.flood == "notice" else []
            return Outcome(state=state, replies=notice)
        out.replies = one_choice_set(out.replies)
        return out

    def _decide(self, state: State, event: Inbound) -> Outcome:
        t = Turn(self.ctx, Outcome(state=working_copy(state)), STEPS)
        t.stranded = survey.rehome(t)
        if event.kind == "unsend":
            return privacy.unsent(t, event.ref)
        if event.kind == "edited":
            return privacy.edited(t, event.ref, event.text)
        out = self._route(t, event)
        if event.kind == "text" and event.ref:
            privacy.remember_message(state, out.state, event.ref)
        return out

    def _route(self, t: Turn, event: Inbound) -> Outcome:
        if onboarding.outdated(t.s) and not passes_reask(t.s, event):  # consent to an earlier notice
            return onboarding.reask(t)
        if event.kind == "follow":
            return onboarding.start(t, "")
        if event.kind == "unsupported":
            return t.notify(tr(t.s.lang, "unsupported"))
        if event.kind == "forwarded":  # someone else's words are not the participant's answer
            return t.tell(tr(t.s.lang, "forwarded"))
        if event.kind == "button":
            return tap(t, event.data)
        command, arg = parse_command(event.text)
        if command == "unknown":
            return t.notify(help_text(t.s.lang))
        if command:
            return ACTIONS[command](t, arg)
        return typed(t, event.text)

    def ask(self, state: State) -> Reply:
        """The prompt for the step the participant is on, with its buttons (changes nothing)."""
        return Turn(self.ctx, Outcome(state=state), STEPS).ask()


def passes_reask(s: State, event: Inbound) -> bool:
    """Whether an event goes through while a consent to an earlier notice is asked again."""
    if event.kind == "button":
        decoded = buttons.decode(event.data)
        return onboarding.passes(s, None, buttons.kind(decoded[0]) if decoded else "")
    if event.kind == "text":
        return onboarding.passes(s, parse_command(event.text)[0], None)
    return event.kind != "follow"  # something unreadable or forwarded is answered as always


def one_choice_set(replies: list[Reply]) -> list[Reply]:
    """At most the last reply carries buttons: an earlier reply's join the last one's, after them
    (so a typed number still means the step's own button), each once."""
    if len(replies) < 2 or not any(r.buttons for r in replies[:-1]):
        return replies
    last = replies[-1]
    shown = list(last.buttons)
    for r in replies[:-1]:
        shown += [b for b in r.buttons if all(b.data != s.data for s in shown)]
    return [replace(r, buttons=()) for r in replies[:-1]] + [replace(last, buttons=tuple(shown))]


def tap(t: Turn, data: str) -> Outcome:
    """A tapped button, given to the family that issued it."""
    decoded = buttons.decode(data)
    if decoded is not None and decoded[0] == buttons.COMMAND and decoded[1] in ACTIONS:
        return ACTIONS[decoded[1]](t, "")  # a command's button: as if its word were typed
    family = TAPS.get(buttons.kind(decoded[0])) if decoded else None
    if decoded is None or family is None:
        return t.refuse()
    return family.button(t, *decoded)


def typed(t: Turn, raw: str) -> Outcome:
    """Typed text that is no command: a live session's code or comment, a session number, a button's
    number, or the step's answer."""
    if (in_the_room := live.typed(t, raw)) is not None:
        return in_the_room
    if (registered := sessions.typed_register(t, raw)) is not None:
        return registered
    if t.s.step == "new":
        return onboarding.start(t, "")
    if t.stranded:  # it answered a question that is gone: show where they are now
        return t.show()
    family = t.family()
    if (n := typed_number(raw)) is not None and not family.wants_text(t):
        # a number answers with the n-th button shown, Skip and Back included, for clients
        # that show no buttons (LINE on desktop) and for the console's numbered options
        shown = t.ask().buttons
        if 1 <= n <= len(shown):
            return tap(t, shown[n - 1].data)
        # on the menu, the sessions' buttons follow the areas', then the pause (the end of an area)
        extra = (
            (*sessions.sessions_reply(t, None).buttons, survey.pause_button(t.lang))
            if t.s.step == "menu" and ready(t.s)
            else ()
        )
        if 1 <= n - len(shown) <= len(extra):
            return tap(t, extra[n - len(shown) - 1].data)
    return family.typed(t, raw)


__all__ = [
    "BACK",
    "COMMANDS",
    "LANG_CHOICES",
    "SKIP",
    "STEPS",
    "Context",
    "Engine",
    "clean_text",
    "normalize",
    "number",
    "parse_command",
    "working_copy",
]
