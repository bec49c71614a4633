"""The survey: the menu of areas, and asking, recording and advancing through an area's questions
(back, skip, changing an earlier answer, finishing an area with its summary), plus `status`.

Progress is kept by question key and shown by capability ("ขีดความสามารถ 2/5"), a count that never
changes on the way. A capability's block (its name, assessed level, 2027 target) and its card come
with its first question; the questions after it in the same turn of answering show only themselves. A
question that only applies after a low rating (`needs`) or a level pick that differs from the plan
(`differs`) is asked only then."""

from __future__ import annotations

from ..i18n import tr
from ..model import MAX_TEXT, Answer, Button, Card, Outcome, Reply, State
from ..surveys import FlowQuestion
from ..surveys.schema import Option
from . import buttons, levels
from .core import Family, Turn, ready
from .input import Choice, clean_text, match_option, says_nothing
from .sessions import offers, sessions_reply


class Menu(Family):
    """The `menu` step: choose an area."""

    owns = ("area",)

    def ask(self, t: Turn) -> Reply:
        return Reply(tr(t.lang, "menu"), area_buttons(t))

    def button(self, t: Turn, name: str, value: str) -> Outcome:
        if value not in t.catalog.areas or not ready(t.s):
            return t.refuse()
        t.take()
        t.out.chosen = t.catalog.areas[value].short(t.lang)
        return enter_area(t, value)

    def typed(self, t: Turn, raw: str) -> Outcome:
        areas = [Choice(a.id, a.short.th, a.short.en, (a.title.th, a.title.en)) for a in t.catalog.areas.values()]
        choice = match_option(raw, areas)
        if choice is None:
            return t.reprompt()
        t.take()
        return enter_area(t, choice.id)


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
            if not text or says_nothing(text):  # "ค่ะ" alone is no reason: ask for words, or Skip
                return t.notify(tr(t.lang, "empty_text"))
            s.answers[question.key] = Answer(text=text, lang=t.lang, at=t.ctx.now)
            t.take()
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
        t.take()
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
    if value == buttons.LEVELS:
        return levels.explain(t, key)
    if value in buttons.CONTROLS:
        if not current:
            return t.refuse()
        return QUESTION.skip(t) if value == buttons.SKIP else QUESTION.back(t)
    option = next((o for o in t.catalog.options(question) if o.id == value), None)
    if option is None:
        return t.refuse()
    if current:
        t.out.chosen = choice_label(t, question, option)
        record(t, question, option)
        return advance(t)
    if key in s.answers and not s.answers[key].skipped and applies(t, question):
        t.out.chosen = choice_label(t, question, option)
        record(t, question, option)
        said = chosen_label(t, question, option)
        return t.tell(tr(s.lang, "changed", question=short_question(t, question), choice=said))
    return t.refuse()


def ask_question(t: Turn, question: FlowQuestion) -> Reply:
    """A survey question: where it stands, the capability it is about (unless it was just shown),
    its prompt and its buttons; a capability's question also carries its card, unless the
    capability was just shown (`compact`)."""
    s, lang, key = t.s, t.lang, question.key
    memo = t.catalog.memo
    fixed = memo.get(("ask", key, lang, t.compact))
    if fixed is None:  # what depends on the survey and the language only, worked out once
        fixed = memo[("ask", key, lang, t.compact)] = fixed_question(t, question)
    head, tail, shown, card = fixed  # type: ignore[misc]
    lines = [*head]
    if question.differs:  # "why?": what they picked beside the plan
        picks = [t.catalog.step(k) for k in question.differs]
        said = [tr(lang, f"sum_{q.question.marks}", pick=rating_label(s, q.key), plan=q.plan_level) for q in picks if q]
        lines.append(tr(lang, "your_picks", picks=" · ".join(said)))
    previous = s.answers.get(key)
    if previous is not None and not previous.skipped:  # back at an answered question: show it
        option = next((o for o in t.catalog.options(question) if o.id == previous.option), None)
        shown_answer = option.label(lang) if option else previous.text or ""
        lines.append(
            tr(lang, "previous_answer", answer=shown_answer if len(shown_answer) <= 200 else shown_answer[:199] + "…")
        )
    lines += tail
    return Reply("\n".join(lines), shown, card=card)


def fixed_question(
    t: Turn, question: FlowQuestion
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[Button, ...], Card | None]:
    """The parts of a question's message that are the same for everyone in a language: the lines
    before what they picked and answered, the lines after, the buttons and the card."""
    lang, key = t.lang, question.key
    item, prompt = question.item, question.question.prompt(lang)
    # a question after its capability's card (just shown): the question alone, under the card
    head = [] if item and t.compact else [progress(t, question)]
    if item and not t.compact:
        head += [tr(lang, "capability", text=item.capability(lang)), plan_line(t, "current", item.current)]
        head += [plan_line(t, "target", item.target), ""]
    head.append(prompt)
    tail = (tr(lang, "type_text", max=MAX_TEXT),) if question.question.kind == "text" else ()
    options = t.catalog.options(question)
    choices = tuple(Button(choice_label(t, question, o), buttons.question(key, o.id)) for o in options)
    controls = (Button(tr(lang, "skip"), buttons.question(key, buttons.SKIP)),) if question.question.optional else ()
    if item:  # what the levels mean, one tap away on every question of a capability
        controls += (Button(tr(lang, "levels_button"), buttons.levels(key)),)
    controls += (Button(tr(lang, "back"), buttons.question(key, buttons.BACK)),)
    card = capability_card(t, question, prompt) if item and not t.compact else None
    return tuple(head), tail, choices + controls, card


def progress(t: Turn, question: FlowQuestion) -> str:
    """Where a question stands in its area: its capability of all of them, or its closing question
    of all of those. Both counts are fixed by the survey, whatever is answered."""
    lang, area = t.lang, t.catalog.areas[question.area]
    if question.item is not None:
        n = next(i for i, item in enumerate(area.items, 1) if item.id == question.item.id)
        return tr(lang, "progress", n=n, total=len(area.items), area=area.title(lang))
    n = next(i for i, q in enumerate(area.closing, 1) if q.id == question.question.id)
    return tr(lang, "progress_closing", n=n, total=len(area.closing), area=area.title(lang))


def plan_line(t: Turn, which: str, level: int) -> str:
    """ "ระดับปัจจุบัน: ระดับ 2 เปิดเผยข้อมูล" or the 2027 target's line."""
    return tr(t.lang, which, level=t.catalog.common.named(level, t.lang))


def capability_card(t: Turn, question: FlowQuestion, prompt: str, heading: str | None = None) -> Card:
    """The capability of a question as a card: a short heading (where it stands in its area: the
    area was just chosen and the body names the capability), the two plan lines with the levels
    named, the question."""
    item = question.item
    assert item is not None
    area = t.catalog.areas[question.area]
    if heading is None:
        n = next(i for i, it in enumerate(area.items, 1) if it.id == item.id)
        heading = tr(t.lang, "card_heading", n=n, total=len(area.items))
    return Card(
        key=f"{question.area}.{item.id}",
        heading=heading,
        capability=item.capability(t.lang),
        current=item.current,
        current_line=plan_line(t, "current", item.current),
        target=item.target,
        target_line=plan_line(t, "target", item.target),
        question=prompt,
        levels=len(t.catalog.common.levels),
    )


def choice_label(t: Turn, question: FlowQuestion, option: Option) -> str:
    """A choice's button: a level is just its number, the plan's level marked ("3 ✓ตามแผน")."""
    if question.question.kind != "level" or option.value is None:
        return option.button(t.lang)
    if option.value == question.plan_level:
        return tr(t.lang, f"mark_{question.question.marks}", level=option.value)
    return str(option.value)


def chosen_label(t: Turn, question: FlowQuestion, option: Option) -> str:
    """A choice said in full: a level named ("ระดับ 3 ใช้ข้อมูลเป็นศูนย์กลาง"), anything else as
    its button says."""
    return option.label(t.lang) if question.question.kind == "level" else choice_label(t, question, option)


# ---- moving through an area --------------------------------------------------------------------


def enter_area(t: Turn, area_id: str) -> Outcome:
    """Open an area at their place in it, introducing it when they start (or restart) it."""
    s = t.s
    area = t.catalog.areas[area_id]
    first = area_id not in s.started or area_id in s.completed
    open_area(t, area_id)
    if first:
        levels = "\n".join(lv.named(t.lang) for lv in t.catalog.common.levels)
        t.out.replies.append(Reply(tr(t.lang, "area_intro", intro=area.intro(t.lang), levels=levels)))
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
    was = t.catalog.step(s.key or "")
    nxt = next_unanswered(t, s.area or "", s.key)
    if nxt is None:
        return finish_area(t)
    s.key = nxt.key
    # the capability they just answered about is on screen: ask only the question
    t.compact = was is not None and was.item is not None and was.area == nxt.area and same_item(was, nxt)
    return t.show()


def finish_area(t: Turn) -> Outcome:
    """The area is done: its summary, its sessions, and another area to choose beside a pause (or
    thanks)."""
    s, lang = t.s, t.lang
    area = t.catalog.areas[s.area or ""]
    s.completed[area.id] = t.ctx.now
    leave(t)
    t.out.replies.append(Reply(tr(lang, "area_done", area=area.title(lang)) + "\n" + summary(t, area.id)))
    # one set of choices (LINE shows quick replies on the last message only): the areas to go on
    # with, then the area's sessions to register for, then a pause, on one message (in the order a
    # typed number reads them: bot.engine.typed)
    if all(a in s.completed for a in t.catalog.areas):
        texts, shown = [tr(lang, "all_done")], ()
    else:
        texts, shown = [tr(lang, "another")], area_buttons(t)
    if offers(t, {area.id}):  # listed as `events` lists them, so "ลงทะเบียน 2" means the same
        listed = sessions_reply(t, None)
        texts.insert(0, listed.text)
        shown += listed.buttons
    if shown:
        shown += (pause_button(lang),)
    t.out.replies.append(Reply("\n\n".join(texts), shown))
    return t.out


def record(t: Turn, question: FlowQuestion, option: Option) -> None:
    """Store the option as their answer to the question (tapped or typed): an answer taken."""
    t.take()
    t.s.answers[question.key] = Answer(option=option.id, value=option.value, lang=t.lang, at=t.ctx.now)


def applies(t: Turn, question: FlowQuestion) -> bool:
    """Whether a conditional question is asked: one of the ratings it needs is low enough, or one
    of the level picks it follows differs from the plan ("don't know" differs from nothing)."""
    answers = t.s.answers
    for key in question.needs:
        ans = answers.get(key)
        if ans and ans.value is not None and ans.value <= question.limit:
            return True
    for key in question.differs:
        ans, asked = answers.get(key), t.catalog.step(key)
        if ans and ans.value is not None and asked is not None and ans.value != asked.plan_level:
            return True
    return not question.needs and not question.differs


def applicable(t: Turn, area: str) -> list[FlowQuestion]:
    # most questions are always asked: only the conditional ones need their answers looked at
    return [q for q in t.catalog.flow(area) if not (q.needs or q.differs) or applies(t, q)]


def same_item(a: FlowQuestion, b: FlowQuestion) -> bool:
    """Whether two questions are about the same capability (the catalog's questions share their
    item objects: identity first, then pydantic's field-by-field comparison)."""
    return a.item is b.item or a.item == b.item


def next_unanswered(t: Turn, area: str, after: str | None) -> FlowQuestion | None:
    """The first applicable unanswered question after `after`, else any before it."""
    flow = applicable(t, area)
    start = next((i + 1 for i, q in enumerate(flow) if q.key == after), 0)
    for q in [*flow[start:], *flow[:start]]:
        if q.key not in t.s.answers and q.key != after:
            return q
    return None


# ---- commands and texts ------------------------------------------------------------------------


def pause_button(lang: str) -> Button:
    """ "That's all for now": the `pause` command as a button (what typing its word does)."""
    return Button(tr(lang, "pause_button"), buttons.command("pause"))


def pause(t: Turn, arg: str) -> Outcome:
    """The `pause` command: their answers are saved; say how to carry on, and offer nothing to tap
    (their place stays as it is, so "เริ่ม" / "start" resumes it)."""
    if t.s.consent != "given":  # nothing of theirs is saved: just where they are
        return t.show()
    t.out.chosen = tr(t.lang, "pause_button")
    t.out.replies.append(Reply(tr(t.lang, "paused")))
    return t.out


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
            open_items = {p.item_id for p in flow if p.item is not None and p.key not in s.answers}
            done = sum(1 for item in area.items if item.id not in open_items)
            state = tr(lang, "st_doing", n=done, total=len(area.items))
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
    """An area's answers capability by capability (a level beside the plan's), and how many
    comments they wrote."""
    s, lang = t.s, t.lang
    area = t.catalog.areas[area_id]
    lines = []
    memo = t.catalog.memo
    if (by_item := memo.get(("summary", area_id))) is None:  # each capability's closed questions, once
        flow = t.catalog.flow(area_id)
        by_item = memo[("summary", area_id)] = tuple(
            (item, tuple(q for q in flow if q.item == item and q.question.kind != "text")) for item in area.items
        )
    for item, asked in by_item:  # type: ignore[attr-defined]
        parts = []
        for n, q in enumerate(asked, 1):
            value = rating_label(s, q.key)
            if q.question.marks is not None:
                parts.append(tr(lang, f"sum_{q.question.marks}", pick=value, plan=q.plan_level))
            else:
                parts.append(tr(lang, "sum_rating", n=n, value=value))
        lines.append(tr(lang, "summary_item", capability=item.capability(lang), answers=" · ".join(parts)))
    texts = sum(1 for k, a in s.answers.items() if k.startswith(area_id + ".") and "@" not in k and a.text)  # round 1
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
