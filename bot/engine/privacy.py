"""Privacy: the notice, "my data", deleting everything after a confirmation, and the answers of
messages taken back or edited (PDPA)."""

from __future__ import annotations

from ..i18n import NOTICE_VERSION, day, tr, when
from ..model import MAX_TEXT, Answer, Attachment, Button, Outcome, Reply, State, chunks, key_parts
from . import buttons, delphi
from .core import Context, Family, Turn, profile_option
from .input import clean_text, match_option, normalize, number, yes_or_no
from .survey import applies, rating_label, short_question


class ConfirmDelete(Family):
    """The `confirm_delete` step: asked twice before everything is erased."""

    owns = ("del",)

    def ask(self, t: Turn) -> Reply:
        lang = t.lang
        return Reply(
            tr(lang, "confirm_delete"),
            (
                Button(tr(lang, "delete_yes"), buttons.encode("del", "yes")),
                Button(tr(lang, "delete_no"), buttons.encode("del", "no")),
            ),
        )

    def button(self, t: Turn, name: str, value: str) -> Outcome:
        if value in ("yes", "no") and t.s.step == "confirm_delete":
            return confirm_delete(t, value == "yes")
        return t.refuse()

    def typed(self, t: Turn, raw: str) -> Outcome:
        yes = yes_or_no(raw, bare_yes=False)  # erasing everything takes a word, not a polite "ค่ะ"
        return t.reprompt() if yes is None else confirm_delete(t, yes)

    def back(self, t: Turn) -> Outcome:
        return confirm_delete(t, False)


def confirm_delete(t: Turn, yes: bool) -> Outcome:
    """Erase everything (the service deletes what storage holds), or go back to where they were."""
    s, lang = t.s, t.s.lang
    t.take()
    if yes:
        t.out.erase = True
        t.out.chosen = tr(lang, "delete_yes")
        t.out.state = State(lang=s.lang, step="new")
        t.out.replies.append(Reply(tr(lang, "deleted")))
        return t.out
    t.out.chosen = tr(lang, "delete_no")
    s.step, s.resume = s.resume or "new", None
    if s.step == "new":
        s.step = "lang"
    return t.tell(tr(lang, "delete_cancelled"))


def deleteme(t: Turn, arg: str) -> Outcome:
    """The `deleteme` command: ask to confirm, remembering where to return if they do not."""
    s = t.s
    if s.step != "confirm_delete":
        s.resume = s.step
    s.step = "confirm_delete"
    return t.show()


def privacy(t: Turn, arg: str) -> Outcome:
    """The `privacy` command: the notice (the consent question already carries it)."""
    s = t.s
    if s.step not in ("consent", "declined"):
        title = tr(s.lang, "privacy_title", version=day(NOTICE_VERSION, t.lang))
        t.out.replies.append(Reply(title + "\n\n" + notice_text(t.ctx, t.lang)))
    return t.show()


# "My data" answers within one reply on every channel: a summary that fits one message (LINE takes
# 5,000 UTF-16 units, Telegram 4,096 characters), the full copy as a file where the channel sends
# files, and page by page (`/mydata 2`) where it does not.
PAGE = 3500  # characters of the summary, or of one page of the full copy
SHORT_QUESTION, SHORT_ANSWER = 70, 100  # characters of a question and of its answer in the summary


def mydata(t: Turn, arg: str) -> Outcome:
    """The `mydata` command: everything kept about them, within one reply."""
    s, lang = t.s, t.lang
    if s.consent != "given" and not (s.answers or s.group):  # (answers kept after a consent withdrawn)
        return t.tell(mydata_text(t))
    head, answers = mydata_parts(t)
    lines = [f"• {question}: {value}" for question, value in answers]
    pages = chunks("\n".join(lines), PAGE) if lines else []
    n = number(normalize(arg)) if arg else None
    if n is not None and 1 <= n <= len(pages):
        return t.tell(tr(lang, "mydata_page", n=n, pages=len(pages)) + "\n\n" + pages[n - 1])
    full = "\n".join([head, *lines])
    if len(full) <= PAGE:  # it all fits one message: the copy itself
        return t.tell(full)
    copy = Attachment("rabfang-my-data.txt", (full + "\n").encode("utf-8"), "text/plain")
    t.out.replies.append(Reply(summary_text(t, head, answers, len(pages)), attachment=copy))
    return t.show()


def summary_text(t: Turn, head: str, lines: list[tuple[str, str]], pages: int) -> str:
    """Their data in one message: each question and answer cut short, as many as fit."""
    out, size = [head], len(head)
    for n, (question, value) in enumerate(lines):
        short = f"• {_cut(question, SHORT_QUESTION)}: {_cut(value, SHORT_ANSWER)}"
        if size + len(short) + 1 > PAGE - 400:  # room for the note below
            out.append(f"… (+{len(lines) - n})")
            break
        out.append(short)
        size += len(short) + 1
    out.append(tr(t.lang, "mydata_more", pages=pages))
    return "\n".join(out)


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def notice_text(ctx: Context, lang: str) -> str:
    return tr(lang, "notice", retention=ctx.retention_days, unconsented=ctx.unconsented_days, contact=ctx.contact)


def mydata_text(t: Turn) -> str:
    """What is kept of someone who has not consented (they have no answers to copy)."""
    s, lang = t.s, t.lang
    if s.step == "new":  # nothing of theirs is stored yet (or any more), not even a row
        return tr(lang, "mydata_none")
    language = {"th": "ไทย", "en": "English"}.get(s.lang or "", tr(lang, "not_chosen"))
    return tr(lang, "mydata_conversation", language=language, days=t.ctx.unconsented_days)


def mydata_parts(t: Turn) -> tuple[str, list[tuple[str, str]]]:
    """The heading with their profile, and each answer with its question, in full."""
    s, lang = t.s, t.lang

    def label(name: str) -> str:
        value = getattr(s, name)
        option = profile_option(t.catalog, name, value) if value else None
        return option.button(lang) if option else tr(lang, "not_given")

    profile = tr(
        lang,
        "mydata_profile",
        language="ไทย" if lang == "th" else "English",
        group=label("group"),
        region=label("region"),
        age=label("age"),
        consent_at=when(s.consent_at, lang) if s.consent_at else "-",
    )
    lines = []
    for key, ans in sorted(s.answers.items()):
        base, round, source = key_parts(key)
        question = t.catalog.step(base)
        if question is None or ans.skipped:
            continue
        label = short_question(t, question)
        if round != 1:  # a Delphi round's answer, with the reason given for it
            label = tr(lang, "delphi_round_label", question=label, round=round)
            value = rating_label(s, key) + (f" — {ans.text}" if ans.text else "")
        else:
            value = ans.text if ans.text is not None else rating_label(s, key)
        if source == "live":  # given in the room, a live session
            label += tr(lang, "live_mark")
        lines.append((label, value))
    return tr(lang, "mydata") + "\n" + profile, lines


# ---- messages taken back or edited ----------------------------------------------------------


def remember_message(old: State, new: State, ref: str) -> None:
    """Mark the answers a typed message gave with that message's id (Inbound.ref)."""
    for key, ans in new.answers.items():
        if old.answers.get(key) != ans and not ans.skipped and ans.ref is None:
            new.answers[key] = ans.model_copy(update={"ref": ref})


def _answer_of(s: State, ref: str) -> str | None:
    return next((k for k, a in s.answers.items() if ref and a.ref == ref), None) if ref else None


def unsent(t: Turn, ref: str) -> Outcome:
    """They took a message back: the answer it gave is erased, and they are told which. A required
    question in the area they are answering is asked again; a finished area with a required
    answer gone is no longer finished. A message that gave no stored answer changes nothing."""
    s, lang = t.s, t.lang
    key = _answer_of(s, ref)
    if key is None:
        return t.out
    base, round, _source = key_parts(key)
    if round != 1:  # the reason given in a Delphi round: it goes, the answer it explained stays
        s.answers[key] = s.answers[key].model_copy(update={"text": None, "ref": None})
        question = t.catalog.step(base)
        return t.notify(tr(lang, "unsent", question=short_question(t, question))) if question else t.out
    del s.answers[key]
    question = t.catalog.step(key)
    if question is None:
        return t.out
    said = tr(lang, "unsent", question=short_question(t, question))
    if question.question.optional or not applies(t, question):
        return t.notify(said)
    s.completed.pop(question.area, None)
    if s.step == "survey" and s.area == question.area:
        s.key = key  # still in their flow: ask it again
        return t.tell(said)
    return t.notify(said + "\n" + tr(lang, "unsent_later"))


def edited(t: Turn, ref: str, raw: str) -> Outcome:
    """They edited a message: the answer it gave takes the new text, while that answer is still the
    one stored (a later answer to the same question is theirs too, and newer). The answer keeps its
    round, source and live session; once its Delphi round or its live capability has closed, the
    edit is politely refused and nothing changes (an answer is never given after the close)."""
    s, lang = t.s, t.lang
    key = _answer_of(s, ref)
    question = t.catalog.step(key_parts(key)[0]) if key else None
    if key is None or question is None:
        return t.out
    label = short_question(t, question)
    given, (base, round, source) = s.answers[key], key_parts(key)
    if closed_to_edits(t, base, round, source, given):
        t.out.refused = True
        return t.notify(tr(lang, "edit_closed", question=label))
    if round != 1:  # the reason given in a Delphi round takes the new text
        text = clean_text(raw)
        if not text or len(text) > MAX_TEXT:
            return t.notify(tr(lang, "edit_unclear", question=label))
        s.answers[key] = given.model_copy(update={"text": text, "at": t.ctx.now})
        return t.notify(tr(lang, "changed", question=label, choice=text if len(text) <= 60 else text[:59] + "…"))
    if question.question.kind == "text":
        text = clean_text(raw)
        if not text or len(text) > MAX_TEXT:
            return t.notify(tr(lang, "edit_unclear", question=label))
        s.answers[key] = Answer(text=text, lang=given.lang, at=t.ctx.now, ref=ref, session=given.session)
        shown = text if len(text) <= 60 else text[:59] + "…"
    else:
        option = match_option(raw, t.catalog.options(question))
        if option is None:
            return t.notify(tr(lang, "edit_unclear", question=label))
        t.take()
        s.answers[key] = Answer(
            option=option.id, value=option.value, lang=lang, at=t.ctx.now, ref=ref, session=given.session
        )
        shown = option.button(lang)
    return t.notify(tr(lang, "changed", question=label, choice=shown))


def closed_to_edits(t: Turn, base: str, round: int, source: str, given: Answer) -> bool:
    """Whether the answer was given where answers are no longer taken: a Delphi round that has
    closed, or a live capability (of the session it was given in) that the facilitator closed."""
    if round != 1 and not delphi.is_open(t, base.split(".", 1)[0]):
        return True
    if source == "live":
        item = base.rsplit(".", 1)[0]
        return not any(v.open_item == item and v.session_id == given.session for v in t.s.live)
    return False


CONFIRM_DELETE = ConfirmDelete()
