"""A Delphi round 2 of an area (the `delphi` step): per capability, each closed question again,
the participant's round-1 answer beside round 1's anonymised group result in plain words and whole
levels (`overview`: how many answered, the level answered most, the levels half of them answered
between; staff read the median and IQR in the report), kept with one tap or changed, with an
optional reason when changed.

The rounds come with the state (`State.rounds`, loaded with every event like the sessions on
offer); a round's group result was fixed when it opened (storage.delphi). A round-2 answer is kept
under `answer_key(key, 2)`; keeping stores the round-1 answer again as round 2's, so that "changed"
is a comparison of two rows. The reason is the text of that round-2 answer. While the round is at
`state.key` the participant is on its question (`area.item.question`), or on the reason for their
change (that key + REASON). Once the round has closed (by an organizer, or at its closing time) a
round-2 answer is politely refused and nothing is stored.

Where round 2 starts: the invitation's button (bot.outreach) or the menu, which lists an open
round 2 of every area the participant completed."""

from __future__ import annotations

from ..i18n import tr, when
from ..model import MAX_TEXT, Answer, Button, GroupResult, Outcome, Reply, RoundView, answer_key, nth_value
from ..surveys import FlowQuestion
from ..surveys.schema import Option
from . import buttons, survey
from .buttons import BACK, DELPHI, KEEP, SKIP
from .core import Family, Turn, ready
from .input import clean_text, match_option, readings, says_nothing

ROUND = 2
REASON = "#reason"  # state.key suffix: asking why they changed their answer
CLOSED = ("rating", "level")
KEEP_WORDS = {"keep", "same", "คงเดิม", "เหมือนเดิม", "เท่าเดิม"}


def round_of(t: Turn, area: str) -> RoundView | None:
    """The area's round 2, open or closed; None when it never opened."""
    return next((r for r in t.s.rounds if r.area == area and r.round == ROUND), None)


def is_open(t: Turn, area: str) -> bool:
    r = round_of(t, area)
    return r is not None and r.is_open(t.ctx.now)


def questions(t: Turn, area: str) -> list[FlowQuestion]:
    """Round 2's questions: the area's closed capability questions that round 1's result covers."""
    r = round_of(t, area)
    if r is None:
        return []
    return [q for q in t.catalog.flow(area) if q.item is not None and q.question.kind in CLOSED and q.key in r.feedback]


def invitations(t: Turn) -> tuple[Button, ...]:
    """Buttons to an open round 2 of each area they completed (the menu shows them)."""
    if not ready(t.s):
        return ()
    shown = []
    for area in t.catalog.areas.values():
        if area.id in t.s.completed and is_open(t, area.id):
            label = tr(t.lang, "delphi_menu_button", area=area.short(t.lang))
            if next_question(t, area.id, None) is None:  # answered: still there, to change an answer
                label = "✓ " + label
            label = label20(label)
            shown.append(Button(label, buttons.encode(DELPHI, area.id)))
    return tuple(shown)


def invitation(lang: str | None, area_title: str, area: str, closes_at_text: str) -> Reply:
    """The message that invites a participant to round 2 (sent by bot.outreach), with its button."""
    closes = tr(lang, "delphi_closes", when=closes_at_text) if closes_at_text else ""
    return Reply(
        tr(lang, "delphi_invite", area=area_title, closes=closes),
        (Button(tr(lang, "delphi_start"), buttons.encode(DELPHI, area)),),
    )


def closes_text(r: RoundView, lang: str | None) -> str:
    """When the round closes, as its last minute ("อา. 20 ธ.ค. 2569 เวลา 23:59 น." for 00:00 on the 21st)."""
    return when(r.closes_at, lang if lang == "en" else "th", until=True) if r.closes_at else ""


class Menu(survey.Menu):
    """The menu of areas, with an open round 2 of the areas they completed after the areas."""

    def ask(self, t: Turn) -> Reply:
        reply = super().ask(t)
        return Reply(reply.text, reply.buttons + invitations(t))


class Delphi(Family):
    """The `delphi` step: round 2 of `state.area`, at the question (or reason) `state.key`."""

    owns = (DELPHI,)

    def ask(self, t: Turn) -> Reply:
        s = t.s
        area = s.area or ""
        if not is_open(t, area):  # it closed while they were on it: what they may do now
            return Reply(closed_text(t, area, "delphi_over"), MENU.ask(t).buttons)
        key, reason = _split(s.key or "")
        question = t.catalog.step(key)
        if question is None or question not in questions(t, area):
            moved = next_question(t, area, None)
            if moved is None:
                return MENU.ask(t)
            question, reason = moved, False
        if reason:
            return ask_reason(t, question)
        return ask_pick(t, question)

    def button(self, t: Turn, name: str, value: str) -> Outcome:
        if name == DELPHI:
            return start(t, value)
        key = buttons.question_key(name)
        question = t.catalog.step(key)
        if question is None or not ready(t.s):
            return t.refuse()
        if not is_open(t, question.area):
            return closed(t, question.area)
        on_it = t.s.step == "delphi" and t.s.area == question.area and _split(t.s.key or "")[0] == key
        if not on_it or question not in questions(t, question.area):
            return t.refuse()
        reason = _split(t.s.key or "")[1]
        if value == BACK:
            return self.back(t)
        if value == SKIP:
            return advance(t) if reason else t.refuse()
        if value == KEEP:
            return keep(t, question)
        option = next((o for o in t.catalog.options(question) if o.id == value), None)
        if option is None:
            return t.refuse()
        return pick(t, question, option)

    def typed(self, t: Turn, raw: str) -> Outcome:
        s = t.s
        area = s.area or ""
        if not is_open(t, area):
            return closed(t, area)
        key, reason = _split(s.key or "")
        question = t.catalog.step(key)
        if question is None or question not in questions(t, area):
            return t.show()
        if reason:
            text = clean_text(raw)
            if len(text) > MAX_TEXT:
                return t.notify(tr(t.lang, "too_long", n=len(text), max=MAX_TEXT))
            if not text or says_nothing(text):  # "ค่ะ" alone is no reason
                return t.notify(tr(t.lang, "empty_text"))
            given = s.answers.get(answer_key(key, ROUND))
            t.take()
            if given is not None:
                s.answers[answer_key(key, ROUND)] = given.model_copy(update={"text": text, "at": t.ctx.now})
            return advance(t)
        if any(w in KEEP_WORDS for w in readings(raw)):
            return keep(t, question)
        option = match_option(raw, t.catalog.options(question))
        if option is None:
            return t.reprompt()
        return pick(t, question, option)  # type: ignore[arg-type]

    def wants_text(self, t: Turn) -> bool:
        return _split(t.s.key or "")[1]

    def reprompt(self, t: Turn) -> Outcome:
        return t.notify(tr(t.lang, "delphi_pick"))

    def back(self, t: Turn) -> Outcome:
        s = t.s
        key, reason = _split(s.key or "")
        if reason:
            s.key = key
            return t.show()
        flow = questions(t, s.area or "")
        i = next((i for i, q in enumerate(flow) if q.key == key), 0)
        if i == 0:
            survey.leave(t)
        else:
            s.key = flow[i - 1].key
        return t.show()

    def skip(self, t: Turn) -> Outcome:
        if _split(t.s.key or "")[1]:
            t.take()
            t.out.chosen = tr(t.lang, "skip")
            return advance(t)
        return t.notify(tr(t.lang, "delphi_pick"))


def _split(key: str) -> tuple[str, bool]:
    """(question key, whether it is their reason that is asked) of a `delphi` step's state.key."""
    return (key.removesuffix(REASON), True) if key.endswith(REASON) else (key, False)


# ---- entering, answering, moving on ----------------------------------------------------------


def start(t: Turn, area_id: str) -> Outcome:
    """Their tap on the invitation (or the menu): round 2 of the area, at its first open question."""
    s = t.s
    area = t.catalog.areas.get(area_id)
    if area is None or not ready(s) or round_of(t, area_id) is None:
        return t.refuse()
    if not is_open(t, area_id):
        return closed(t, area_id, "delphi_over")
    if area_id not in s.completed:
        return t.tell(tr(t.lang, "delphi_not_eligible", area=area.title(t.lang)))
    first = next_question(t, area_id, None) or (questions(t, area_id) or [None])[0]
    if first is None:
        return t.refuse()
    t.take()
    t.out.chosen = tr(t.lang, "delphi_start")
    s.step, s.area, s.key, s.resume = "delphi", area_id, first.key, None
    t.out.replies.append(Reply(tr(t.lang, "delphi_intro", area=area.title(t.lang))))
    return t.show()


def closed(t: Turn, area: str, says: str = "delphi_closed") -> Outcome:
    """The round has closed: say so, store nothing, and (if they were in it) back to the menu."""
    if t.s.step == "delphi":
        survey.leave(t)
    t.out.refused = True
    return t.tell(closed_text(t, area, says))


def closed_text(t: Turn, area: str, says: str = "delphi_closed") -> str:
    found = t.catalog.areas.get(area)
    return tr(t.lang, says, area=found.title(t.lang) if found else area)


def keep(t: Turn, question: FlowQuestion) -> Outcome:
    first = t.s.answers.get(question.key)
    if first is None or first.skipped:
        return t.reprompt()
    t.take()
    t.out.chosen = label20(tr(t.lang, "delphi_keep", answer=answer_label(t, question, first.option)))
    t.s.answers[answer_key(question.key, ROUND)] = Answer(
        option=first.option, value=first.value, lang=t.lang, at=t.ctx.now
    )
    return advance(t)


def pick(t: Turn, question: FlowQuestion, option: Option) -> Outcome:
    """A new (or the same) answer in round 2; a changed one asks why."""
    s = t.s
    t.take()
    t.out.chosen = survey.choice_label(t, question, option)
    s.answers[answer_key(question.key, ROUND)] = Answer(option=option.id, value=option.value, lang=t.lang, at=t.ctx.now)
    first = s.answers.get(question.key)
    if first is not None and not first.skipped and first.option == option.id:
        return advance(t)
    s.key = question.key + REASON
    return t.show()


def next_question(t: Turn, area: str, after: str | None) -> FlowQuestion | None:
    """The first round-2 question after `after` not yet answered in round 2, else any before it."""
    flow = questions(t, area)
    start_at = next((i + 1 for i, q in enumerate(flow) if q.key == after), 0)
    for q in [*flow[start_at:], *flow[:start_at]]:
        if answer_key(q.key, ROUND) not in t.s.answers and q.key != after:
            return q
    return None


def advance(t: Turn) -> Outcome:
    s = t.s
    key = _split(s.key or "")[0]
    nxt = next_question(t, s.area or "", key)
    if nxt is None:
        return finish(t)
    s.key = nxt.key
    return t.show()


def finish(t: Turn) -> Outcome:
    """Round 2 of the area is done: how many they kept and changed, then the menu."""
    s, lang = t.s, t.lang
    area = t.catalog.areas[s.area or ""]
    kept = changed = 0
    for q in questions(t, area.id):
        second, first = s.answers.get(answer_key(q.key, ROUND)), s.answers.get(q.key)
        if second is None:
            continue
        if first is not None and not first.skipped and first.option == second.option:
            kept += 1
        else:
            changed += 1
    survey.leave(t)
    t.out.replies.append(Reply(tr(lang, "delphi_done", area=area.title(lang), kept=kept, changed=changed)))
    return t.show()


# ---- what is shown ---------------------------------------------------------------------------


def label20(text: str) -> str:
    """A button label within LINE's 20 characters."""
    return text if len(text) <= 20 else text[:19] + "…"


def overview(lang: str, result: GroupResult) -> str:
    """Round 1's result of a question as a citizen reads it, in whole levels only: "ภาพรวมคำตอบรอบแรก:
    ผู้ตอบ 23 คน ส่วนใหญ่ตอบระดับ 3 (ครึ่งหนึ่งตอบระหว่างระดับ 3–4)".

    From the counts per level fixed when the round opened (storage.delphi.group_result):
    - the level answered most is the mode; "ส่วนใหญ่" / "most" only when more than half answered it
      (as the report's findings word it), "answered most often" when fewer did, every tied level
      named when several share it;
    - "half answered between" is the middle half of the answers: with the n answers in order, ranks
      ⌊n/4⌋+1 to n−⌊n/4⌋ (at least half of the answers, the same number cut from each end) lie between
      the levels at those two ranks. Unlike the interpolated quartiles staff read (q1 = 2, q3 = 2.25),
      both ends are levels someone answered. When both ends are one level, at least half answered it
      (said only when "most" does not say it already).
    A round opened before the counts were stored has only the median: it is said as "the middle
    answer is level 3" (or "between levels 2 and 3"), which the median means, in whole levels."""
    n, counts = result.n, result.counts
    if sum(counts) != n:  # stored before the counts were: the median only
        return tr(lang, "delphi_group", n=n, most=_middle(lang, result.median))
    top = max(counts)
    modes = [level for level, c in enumerate(counts, 1) if c == top]
    if top == n:  # one level only: nothing more to say
        return tr(lang, "delphi_group", n=n, most=tr(lang, "delphi_one" if n == 1 else "delphi_all", level=modes[0]))
    if len(modes) > 1:
        *head, last = map(str, modes)
        most = tr(lang, "delphi_most_tied", levels=tr(lang, "delphi_and", head=", ".join(head), last=last))
    else:
        most = tr(lang, "delphi_most" if 2 * top > n else "delphi_most_often", level=modes[0])
    cut = n // 4
    low, high = nth_value(counts, cut), nth_value(counts, n - 1 - cut)
    if low == high:  # then it is the mode, answered by at least half
        if 2 * top > n:
            return tr(lang, "delphi_group", n=n, most=most)
        half = tr(lang, "delphi_half_one", level=low)
    else:
        half = tr(lang, "delphi_half", low=low, high=high)
    return tr(lang, "delphi_group", n=n, most=tr(lang, "delphi_group_half", most=most, half=half))


def _middle(lang: str, median: float | None) -> str:
    """The median in whole levels: one level, or the two it lies between."""
    if median is None:
        return ""
    if median == int(median):
        return tr(lang, "delphi_middle", level=int(median))
    return tr(lang, "delphi_middle_between", low=int(median), high=int(median) + 1)


def answer_label(t: Turn, question: FlowQuestion, option_id: str | None) -> str:
    """An answer as a short label: its level or rating, or "don't know"."""
    option = next((o for o in t.catalog.options(question) if o.id == option_id), None)
    if option is None:
        return tr(t.lang, "delphi_none")
    return str(option.value) if option.value is not None else tr(t.lang, "dk_short")


def ask_pick(t: Turn, question: FlowQuestion) -> Reply:
    s, lang = t.s, t.lang
    area = t.catalog.areas[question.area]
    item = question.item
    assert item is not None
    flow = questions(t, area.id)
    items = list(dict.fromkeys(q.item_id for q in flow))
    lines = [
        tr(lang, "delphi_progress", n=items.index(question.item_id) + 1, total=len(items), area=area.title(lang)),
        tr(lang, "capability", text=item.capability(lang)),
    ]
    marks = question.question.marks
    if marks is not None:
        lines.append(survey.plan_line(t, marks, question.plan_level or 0))
    lines += ["", question.question.prompt(lang)]
    first = s.answers.get(question.key)
    first_label = answer_label(t, question, first.option if first and not first.skipped else None)
    lines.append(tr(lang, "delphi_yours", answer=first_label))
    result = round_of(t, question.area).feedback.get(question.key)  # type: ignore[union-attr]
    lines.append(overview(lang, result) if result is not None and result.n else tr(lang, "delphi_group_none"))
    second = s.answers.get(answer_key(question.key, ROUND))
    if second is not None:
        lines.append(tr(lang, "delphi_yours_now", answer=answer_label(t, question, second.option)))
    # the choices first, so that a typed number is still the level (or rating) it says; keep after them
    shown = tuple(
        Button(survey.choice_label(t, question, o), buttons.delphi(question.key, o.id))
        for o in t.catalog.options(question)
    )
    if first is not None and not first.skipped:
        shown += (Button(label20(tr(lang, "delphi_keep", answer=first_label)), buttons.delphi(question.key, KEEP)),)
    shown += (Button(tr(lang, "back"), buttons.delphi(question.key, BACK)),)
    return Reply("\n".join(lines), shown)


def ask_reason(t: Turn, question: FlowQuestion) -> Reply:
    s, lang = t.s, t.lang
    first, second = s.answers.get(question.key), s.answers.get(answer_key(question.key, ROUND))
    old = answer_label(t, question, first.option if first and not first.skipped else None)
    new = answer_label(t, question, second.option if second else None)
    item = question.item
    head = f"{item.capability(lang)} · {question.question.prompt(lang)}" if item else question.question.prompt(lang)
    text = "\n".join([head, tr(lang, "delphi_reason", old=old, new=new), tr(lang, "type_text", max=MAX_TEXT)])
    return Reply(
        text,
        (
            Button(tr(lang, "skip"), buttons.delphi(question.key, SKIP)),
            Button(tr(lang, "back"), buttons.delphi(question.key, BACK)),
        ),
    )


MENU, DELPHI_STEP = Menu(), Delphi()
