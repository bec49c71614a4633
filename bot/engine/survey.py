"""The survey: the menu of areas, and asking, recording and advancing through an area's questions
(back, skip, changing an earlier answer, finishing an area with its summary), plus `status`.

Progress is kept by question key. A question that only applies after a low rating (`needs`) is
asked only when one of those ratings is low enough."""

from __future__ import annotations

from ..i18n import tr
from ..model import MAX_TEXT, Answer, Button, Outcome, Reply, State
from ..surveys import FlowQuestion
from ..surveys.schema import Option
from . import buttons
from .core import Family, Turn, ready
from .input import Choice, clean_text, match_option
from .sessions import offers, sessions_reply


class Menu(Family):
    """The `menu` step: choose an area."""

    owns = ("area",)

    def ask(self, t: Turn) -> Reply:
        return Reply(tr(t.lang, "menu"), area_buttons(t))

    def button(self, t: Turn, name: str, value: str) -> Outcome:
        if value not in t.catalog.areas or not ready(t.s):
            return t.refuse()
        t.out.chosen = t.catalog.areas[value].short(t.lang)
        return enter_area(t, value)

    def typed(self, t: Turn, raw: str) -> Outcome:
        areas = [Choice(a.id, a.short.th, a.short.en, (a.title.th, a.title.en)) for a in t.catalog.areas.values()]
        choice = match_option(raw, areas)
        return enter_area(t, choice.id) if choice else t.reprompt()


class Question(Family):
    """The `survey` step: the question `state.key` of the area `state.area`."""

    owns = (buttons.QUESTION,)

    def ask(self, t: Turn) -> Reply:
        question = t.catalog.step(t.s.key or "")
        if question is None:  # asked of a state whose question was removed: show where it would go
            moved = Turn(t.ctx, Outcome(state=t.s.model_copy(deep=True)), t.steps)
            open_area(moved, moved.s.area or "")
            return moved.ask()
        return ask_question(t, question)

    def button(self, t: Turn, name: str, value: str) -> Outcome:
        if not ready(t.s):
            return t.refuse()
        return tapped(t, buttons.question_key(name), value)

    def typed(self, t: Turn, raw: str) -> Outcome:
        s = t.s
        question = t.catalog.step(s.key or "")
        if question is None:
            return t.show()
        if question.question.kind == "text":
            text = clean_text(raw)
            if len(text) > MAX_TEXT:
                return t.notify(tr(t.lang, "too_long", n=len(text), max=MAX_TEXT))
            if not text:
                return t.notify(tr(t.lang, "empty_text"))
            s.answers[question.key] = Answer(text=text, lang=t.lang, at=t.ctx.now)
            return advance(t)
        option = match_option(raw, t.catalog.options(question))
        if option is None:
            return t.reprompt()
        record(t, question, option)  # type: ignore[arg-type]
        return advance(t)

    def wants_text(self, t: Turn) -> bool:
        question = t.catalog.step(t.s.key or "")
        return question is not None and question.question.kind == "text"

    def back(self, t: Turn) -> Outcome:
        s = t.s
        flow = applicable(t, s.area or "")
        i = next((i for i, p in enumerate(flow) if p.key == s.key), 0)
        if i == 0:
            leave(t)
        else:
            s.key = flow[i - 1].key
        return t.show()

    def skip(self, t: Turn) -> Outcome:
        s = t.s
        question = t.catalog.step(s.key or "")
        if question is None:
            return super().skip(t)
        if not question.question.optional:
            return t.notify(tr(s.lang, "not_optional"))
        t.out.chosen = tr(s.lang, "skip")
        s.answers[question.key] = Answer(skipped=True, lang=t.lang, at=t.ctx.now)
        return advance(t)


def tapped(t: Turn, key: str, value: str) -> Outcome:
    """A survey button: answers the current question, or changes an earlier answer and says so."""
    s = t.s
    question = t.catalog.step(key)
    if question is None:
        return t.refuse()
    current = s.step == "survey" and s.key == key and not t.stranded  # not a question they saw
    if value in buttons.CONTROLS:
        if not current:
            return t.refuse()
        return QUESTION.skip(t) if value == buttons.SKIP else QUESTION.back(t)
    option = next((o for o in t.catalog.options(question) if o.id == value), None)
    if option is None:
        return t.refuse()
    if current:
        t.out.chosen = option.button(t.lang)
        record(t, question, option)
        return advance(t)
    if key in s.answers and not s.answers[key].skipped and applies(s, question):
        t.out.chosen = option.button(t.lang)
        record(t, question, option)
        return t.tell(tr(s.lang, "changed", question=short_question(t, question), choice=t.out.chosen))
    return t.refuse()


def ask_question(t: Turn, question: FlowQuestion) -> Reply:
    """A survey question: where it stands, the item it is about, its prompt and its buttons."""
    s, lang, key = t.s, t.lang, question.key
    flow = applicable(t, question.area)
    n = next((i for i, p in enumerate(flow) if p.key == key), 0) + 1
    lines = [tr(lang, "progress", n=n, total=len(flow), area=t.catalog.areas[question.area].title(lang))]
    if item := question.item:
        common = t.catalog.common
        cur, tgt = common.level(item.current), common.level(item.target)
        lines += [
            tr(lang, "capability", text=item.capability(lang)),
            tr(lang, "current", level=item.current, name=cur.name(lang) if cur else ""),
            tr(lang, "target", level=item.target, name=tgt.name(lang) if tgt else ""),
        ]
    lines += ["", question.question.prompt(lang)]
    previous = s.answers.get(key)
    if previous is not None and not previous.skipped:  # back at an answered question: show it
        option = next((o for o in t.catalog.options(question) if o.id == previous.option), None)
        shown = option.label(lang) if option else previous.text or ""
        lines.append(tr(lang, "previous_answer", answer=shown if len(shown) <= 200 else shown[:199] + "…"))
    choices = tuple(Button(o.button(lang), buttons.question(key, o.id)) for o in t.catalog.options(question))
    if question.question.kind == "text":
        lines.append(tr(lang, "type_text", max=MAX_TEXT))
    controls = (Button(tr(lang, "skip"), buttons.question(key, buttons.SKIP)),) if question.question.optional else ()
    controls += (Button(tr(lang, "back"), buttons.question(key, buttons.BACK)),)
    return Reply("\n".join(lines), choices + controls)


# ---- moving through an area --------------------------------------------------------------------


def enter_area(t: Turn, area_id: str) -> Outcome:
    """Open an area at their place in it, introducing it when they start (or restart) it."""
    s = t.s
    area = t.catalog.areas[area_id]
    first = area_id not in s.started or area_id in s.completed
    open_area(t, area_id)
    if first:
        t.out.replies.append(Reply(tr(t.lang, "area_intro", intro=area.intro(t.lang))))
    return t.show()


def open_area(t: Turn, area_id: str) -> None:
    """Point the state at the first unanswered question of the area (or its first question)."""
    s = t.s
    if area_id not in t.catalog.areas:
        leave(t)
        return
    s.started.setdefault(area_id, t.ctx.now)
    if area_id in s.completed:
        s.completed.pop(area_id)
        first = applicable(t, area_id)[0]
    else:
        first = next_unanswered(t, area_id, None) or applicable(t, area_id)[0]
    s.step, s.area, s.key = "survey", area_id, first.key


def rehome(t: Turn) -> bool:
    """A participant whose question was removed from the survey: put them on one that exists.

    True when they were on it (the event is then no answer to it); False when nothing moved or when
    they were only to return to it after changing language or not deleting their data."""
    s = t.s
    on_it = s.step == "survey"
    returning = s.resume == "survey" and s.step in ("lang", "confirm_delete")
    if not (on_it or returning) or t.catalog.step(s.key or "") is not None:
        return False
    step = s.step
    open_area(t, s.area or "")
    if returning:
        s.step, s.resume = step, s.step
    return on_it


def leave(t: Turn) -> None:
    """Back to the menu of areas."""
    t.s.step, t.s.area, t.s.key = "menu", None, None


def advance(t: Turn) -> Outcome:
    """On to the next unanswered question, or finish the area."""
    s = t.s
    nxt = next_unanswered(t, s.area or "", s.key)
    if nxt is None:
        return finish_area(t)
    s.key = nxt.key
    return t.show()


def finish_area(t: Turn) -> Outcome:
    """The area is done: its summary, its sessions, and another area to choose (or thanks)."""
    s, lang = t.s, t.lang
    area = t.catalog.areas[s.area or ""]
    s.completed[area.id] = t.ctx.now
    leave(t)
    t.out.replies.append(Reply(tr(lang, "area_done", area=area.title(lang)) + "\n" + summary(t, area.id)))
    if offers(t, {area.id}):
        t.out.replies.append(sessions_reply(t, {area.id}))
    if all(a in s.completed for a in t.catalog.areas):
        t.out.replies.append(Reply(tr(lang, "all_done")))
    else:
        t.out.replies.append(Reply(tr(lang, "another"), area_buttons(t)))
    return t.out


def record(t: Turn, question: FlowQuestion, option: Option) -> None:
    t.s.answers[question.key] = Answer(option=option.id, value=option.value, lang=t.lang, at=t.ctx.now)


def applies(s: State, question: FlowQuestion) -> bool:
    """Whether a conditional question is asked: one of the ratings it needs is low enough."""
    if not question.needs:
        return True
    for key in question.needs:
        ans = s.answers.get(key)
        if ans and ans.value is not None and ans.value <= question.limit:
            return True
    return False


def applicable(t: Turn, area: str) -> list[FlowQuestion]:
    return [q for q in t.catalog.flow(area) if applies(t.s, q)]


def next_unanswered(t: Turn, area: str, after: str | None) -> FlowQuestion | None:
    """The first applicable unanswered question after `after`, else any before it."""
    flow = applicable(t, area)
    start = next((i + 1 for i, q in enumerate(flow) if q.key == after), 0)
    for q in [*flow[start:], *flow[:start]]:
        if q.key not in t.s.answers and q.key != after:
            return q
    return None


# ---- commands and texts ------------------------------------------------------------------------


def areas(t: Turn, arg: str) -> Outcome:
    """The `areas` command: the menu, once they may choose."""
    if ready(t.s):
        t.s.step = "menu"
    return t.show()


def status(t: Turn, arg: str) -> Outcome:
    """The `status` command: how far they are in each area."""
    return t.tell(status_text(t))


def status_text(t: Turn) -> str:
    s, lang = t.s, t.lang
    if not s.started:
        return tr(lang, "status_none")
    lines = [tr(lang, "status")]
    for area in t.catalog.areas.values():
        if area.id in s.completed:
            state = tr(lang, "st_done")
        elif area.id in s.started:
            flow = applicable(t, area.id)
            state = tr(lang, "st_doing", n=sum(1 for p in flow if p.key in s.answers), total=len(flow))
        else:
            state = tr(lang, "st_none")
        lines.append(tr(lang, "status_area", area=area.title(lang), state=state))
    return "\n".join(lines)


def short_question(t: Turn, question: FlowQuestion) -> str:
    lang = t.lang
    head = question.item.capability(lang) if question.item else t.catalog.areas[question.area].title(lang)
    return f"{head} · {question.question.prompt(lang)}"


def rating_label(s: State, key: str) -> str:
    ans = s.answers.get(key)
    if ans is None or ans.skipped:
        return "–"
    return str(ans.value) if ans.value is not None else tr(s.lang, "dk_short")


def summary(t: Turn, area_id: str) -> str:
    """An area's ratings item by item, and how many comments they wrote."""
    s, lang = t.s, t.lang
    area = t.catalog.areas[area_id]
    lines = []
    for item in area.items:
        base = f"{area_id}.{item.id}."
        ratings = {q: rating_label(s, base + q) for q in ("current", "feasible", "appropriate")}
        lines.append(tr(lang, "summary_item", capability=item.capability(lang), **ratings))
    texts = sum(1 for k, a in s.answers.items() if k.startswith(area_id + ".") and a.text)
    lines.append(tr(lang, "summary_texts", n=texts))
    return "\n".join(lines)


def area_buttons(t: Turn) -> tuple[Button, ...]:
    out = []
    for area in t.catalog.areas.values():
        label = area.short(t.lang)
        if area.id in t.s.completed:
            label = ("✓ " + label)[:20]
        out.append(Button(label, buttons.encode("area", area.id)))
    return tuple(out)


MENU, QUESTION = Menu(), Question()
