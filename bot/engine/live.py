"""Live focus-group sessions, the participant's side: checking in with a session's code (typed as
`live ABC123`, or a deep link `/start live_ABC123`), and answering the questions of the capability
the facilitator has open, in the room, in a tap or two. No step of its own: like sessions.py it
comes on top of whatever step the participant is on.

Someone new checks in after the fewest taps the consent asks for: a language, consent, their group
and region (the optional age is not asked on the way in). A live answer is stored beside the
participant's own survey answer to the same question (`…@live`, with the session), never over it.
Once the facilitator closes a capability, a late tap on its buttons is politely refused."""

from __future__ import annotations

import re

from ..i18n import tr
from ..model import MAX_TEXT, Answer, Button, LiveView, Outcome, Reply, State, answer_key
from ..surveys import Catalog, FlowQuestion
from . import buttons
from .core import Context, Family, Turn, ready
from .input import clean_text, normalize
from .survey import capability_card, choice_label, plan_line

LIVE_TYPED = re.compile(r"(?:live|ไลฟ์|เช็คอิน|check in|checkin)[ _]?([a-z0-9]{4,8})")
LIVE_ARG = re.compile(r"live_([a-z0-9]{4,8})")


class Live(Family):
    owns = (buttons.LIVE,)

    def button(self, t: Turn, name: str, value: str) -> Outcome:
        return tapped(t, buttons.question_key(name), value)


def questions(catalog: Catalog, item: str) -> tuple[list[FlowQuestion], FlowQuestion | None]:
    """The questions the room answers about a capability (`area.item`): its taps (level and rating
    questions, in survey order), and the text question a comment answers (its first), if any."""
    area, _, item_id = item.partition(".")
    asked = [q for q in catalog.flow(area) if q.item is not None and q.item.id == item_id]
    taps = [q for q in asked if q.question.kind != "text"]
    text = next((q for q in asked if q.question.kind == "text"), None)
    return taps, text


def prompt(ctx: Context, question: FlowQuestion, lang: str, title: str, *, compact: bool = False) -> Reply:
    """A live question with its buttons, the capability's first as a card (the survey's level
    rendering: a Flex bubble on LINE, an inline keyboard on Telegram), the next one under it alone
    (`compact`); the same for everyone of a language, so a LINE wave is one multicast per language."""
    t = Turn(ctx, Outcome(state=State(lang=lang)), {})  # type: ignore[arg-type]
    item = question.item
    assert item is not None
    heading = tr(lang, "live_heading", title=title)
    text = question.question.prompt(lang)
    lines = [heading]
    if not compact:
        lines += [tr(lang, "capability", text=item.capability(lang)), plan_line(t, "current", item.current)]
        lines.append(plan_line(t, "target", item.target))
        lines.append("")
    lines.append(text)
    shown = tuple(
        Button(choice_label(t, question, o), buttons.live_question(question.key, o.id))
        for o in ctx.catalog.options(question)
    )
    # the card once per capability, as in the survey: the question after it comes under it, alone
    card = capability_card(t, question, text, heading) if not compact else None
    return Reply("\n".join(lines), shown, card=card)


def first_prompt(ctx: Context, item: str, lang: str, title: str) -> Reply | None:
    """What a capability's push wave sends: its first question."""
    taps, _ = questions(ctx.catalog, item)
    return prompt(ctx, taps[0], lang, title) if taps else None


# ---- checking in -------------------------------------------------------------------------------


def typed(t: Turn, raw: str) -> Outcome | None:
    """`live ABC123` checks in; typed text while a live comment is wanted is that comment; None
    if neither."""
    m = LIVE_TYPED.fullmatch(normalize(raw))
    if m is not None:
        return check_in(t, m.group(1))
    s = t.s
    if s.live_text is None:
        return None
    session = _open_for(t, s.live_text)
    if session is None:  # the capability closed: the text is theirs for whatever they were doing
        s.live_text = None
        return None
    text = clean_text(raw)
    if not text or len(text) > MAX_TEXT:
        return t.notify(tr(t.lang, "too_long", n=len(text), max=MAX_TEXT)) if text else None
    key = answer_key(s.live_text, 1, "live")
    s.answers[key] = Answer(text=text, lang=t.lang, at=t.ctx.now, session=session.session_id)
    t.take()
    s.live_text = None
    t.out.replies.append(Reply(tr(t.lang, "live_comment_saved")))
    return t.out


def start_arg(t: Turn, arg: str) -> Outcome | None:
    """`/start live_ABC123` (Telegram's deep link): check in; None for any other argument."""
    m = LIVE_ARG.fullmatch(normalize(arg))
    return check_in(t, m.group(1)) if m else None


def check_in(t: Turn, code: str) -> Outcome:
    s = t.s
    view = next((v for v in s.live if v.code.casefold() == code.casefold()), None)
    if view is None:
        if s.step == "new":
            s.step = "lang"
            return t.tell(tr(None, "live_unknown"))
        return t.notify(tr(s.lang, "live_unknown"))
    if not ready(s):  # consent and profile first, then checked in (onboarding calls pending)
        s.pending_live = view.code
        first = s.step == "new"
        if first:
            s.step = "lang"
        t.out.replies.append(Reply(tr(s.lang, "live_first", title=view.title(s.lang))))
        return t.show()
    return _checked_in(t, view)


def pending(t: Turn) -> Outcome | None:
    """Consent and profile are done: check in to the session whose code brought them, if any."""
    code, t.s.pending_live = t.s.pending_live, None
    view = next((v for v in t.s.live if v.code == code), None) if code else None
    return _checked_in(t, view) if view is not None else None


def _checked_in(t: Turn, view: LiveView) -> Outcome:
    s, lang = t.s, t.lang
    s.pending_live = None
    if view.session_id in s.checkins:
        t.out.replies.append(Reply(tr(lang, "live_already", title=view.title(lang))))
    else:
        s.checkins[view.session_id] = t.ctx.now
        t.out.replies.append(Reply(tr(lang, "live_checked_in", title=view.title(lang))))
    if view.open_item:  # late: the capability open now, at once
        nxt = _next_question(t, view.open_item, None)
        if nxt is not None:
            t.out.replies.append(prompt(t.ctx, nxt, lang, view.title(lang)))
    return t.out


# ---- answering -----------------------------------------------------------------------------


def _open_for(t: Turn, key: str) -> LiveView | None:
    """The live session they checked in to that has this question's capability open now."""
    area, item_id, _ = key.split(".", 2)
    item = f"{area}.{item_id}"
    return next((v for v in t.s.live if v.session_id in t.s.checkins and v.open_item == item), None)


def _next_question(t: Turn, item: str, after: str | None) -> FlowQuestion | None:
    taps, _ = questions(t.catalog, item)
    keys = [q.key for q in taps]
    start = keys.index(after) + 1 if after in keys else 0
    return next((q for q in taps[start:] if answer_key(q.key, 1, "live") not in t.s.answers), None)


def tapped(t: Turn, key: str, value: str) -> Outcome:
    s, lang = t.s, t.lang
    question = t.catalog.step(key)
    if question is None or question.item is None or question.question.kind == "text" or s.consent != "given":
        return t.refuse()
    option = next((o for o in t.catalog.options(question) if o.id == value), None)
    if option is None:
        return t.refuse()
    session = _open_for(t, key)
    if session is None:  # closed (or the session is over): politely, and nothing is stored
        t.out.replies.append(Reply(tr(lang, "live_closed")))
        return t.out
    t.take()
    t.out.chosen = choice_label(t, question, option)
    s.answers[answer_key(key, 1, "live")] = Answer(
        option=option.id, value=option.value, lang=lang, at=t.ctx.now, session=session.session_id
    )
    item = f"{question.area}.{question.item.id}"
    nxt = _next_question(t, item, key)
    if nxt is not None:
        t.out.replies.append(prompt(t.ctx, nxt, lang, session.title(lang), compact=True))
        return t.out
    _, text = questions(t.catalog, item)
    if text is not None and answer_key(text.key, 1, "live") not in s.answers:
        s.live_text = text.key
        t.out.replies.append(Reply(tr(lang, "live_comment")))
    else:
        t.out.replies.append(Reply(tr(lang, "live_thanks")))
    return t.out


LIVE = Live()
