"""Privacy: the notice, "my data", and deleting everything after a confirmation (PDPA)."""

from __future__ import annotations

from ..i18n import NOTICE_VERSION, tr, when
from ..model import Button, Outcome, Reply, State
from . import buttons
from .core import Context, Family, Turn, profile_option
from .input import yes_or_no
from .survey import rating_label, short_question


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
        yes = yes_or_no(raw)
        return t.reprompt() if yes is None else confirm_delete(t, yes)

    def back(self, t: Turn) -> Outcome:
        return confirm_delete(t, False)


def confirm_delete(t: Turn, yes: bool) -> Outcome:
    """Erase everything (the service deletes what storage holds), or go back to where they were."""
    s, lang = t.s, t.s.lang
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
        title = tr(s.lang, "privacy_title", version=NOTICE_VERSION)
        t.out.replies.append(Reply(title + "\n\n" + notice_text(t.ctx, t.lang)))
    return t.show()


def mydata(t: Turn, arg: str) -> Outcome:
    """The `mydata` command: everything kept about them."""
    return t.tell(mydata_text(t))


def notice_text(ctx: Context, lang: str) -> str:
    return tr(lang, "notice", retention=ctx.retention_days, unconsented=ctx.unconsented_days, contact=ctx.contact)


def mydata_text(t: Turn) -> str:
    s, lang = t.s, t.lang
    if s.consent != "given":
        if s.step == "new":  # nothing of theirs is stored yet (or any more), not even a row
            return tr(lang, "mydata_none")
        language = {"th": "ไทย", "en": "English"}.get(s.lang or "", tr(lang, "not_chosen"))
        return tr(lang, "mydata_conversation", language=language, days=t.ctx.unconsented_days)

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
    lines = [tr(lang, "mydata"), profile]
    for key, ans in sorted(s.answers.items()):
        question = t.catalog.step(key)
        if question is None or ans.skipped:
            continue
        value = ans.text if ans.text is not None else rating_label(s, key)
        lines.append(f"• {short_question(t, question)}: {value}")
    return "\n".join(lines)


CONFIRM_DELETE = ConfirmDelete()
