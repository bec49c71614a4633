"""Onboarding: choosing a language, the consent question (with the privacy notice), and the three
profile questions (group, region, optional age band), then the menu or a deep link's area.

A consent given to an earlier notice that promised less than the current one (REASK_VERSIONS) is
asked again on the participant's next message (`outdated`, `reask`): until they agree, only reading
the notice or their data, deleting it, changing language and help go through; agreeing returns them
to where they were, declining withdraws their consent (their answers are no longer used and go with
the short purge of those who never consented)."""

from __future__ import annotations

from ..i18n import NOTICE_VERSION, REASK_VERSIONS, day, tr
from ..model import Button, Outcome, Reply, State
from . import buttons, live
from .core import PROFILE_STEPS, Family, Turn, choice_buttons, profile_option, profile_options, ready
from .input import Choice, match_option, normalize, yes_or_no
from .privacy import notice_text
from .survey import enter_area

LANG_CHOICES = (
    Choice("th", "ไทย", "ไทย", ("thai", "th", "ภาษาไทย")),
    Choice("en", "English", "English", ("en", "eng", "อังกฤษ", "ภาษาอังกฤษ")),
)


class Language(Family):
    """The `new` step (nothing said yet: welcome them) and the `lang` step."""

    owns = ("lang",)

    def ask(self, t: Turn) -> Reply:
        text = tr(None, "choose_lang")
        if not t.s.lang:
            text = tr(None, "welcome") + "\n\n" + text
        return Reply(text, choice_buttons("lang", LANG_CHOICES, t.lang))

    def notice(self, t: Turn, text: str) -> Reply:
        if t.s.step == "new":  # no language yet: the notice, then the choice
            return Reply(text + "\n\n" + tr(None, "choose_lang"), self.ask(t).buttons)
        return super().notice(t, text)

    def button(self, t: Turn, name: str, value: str) -> Outcome:
        return set_lang(t, value) if value in ("th", "en") else t.refuse()

    def typed(self, t: Turn, raw: str) -> Outcome:
        choice = match_option(raw, LANG_CHOICES)
        return set_lang(t, choice.id) if choice else t.reprompt()

    def reprompt(self, t: Turn) -> Outcome:
        return t.show()


class Consent(Family):
    """The `consent` step, and `declined` (where agreeing is still offered)."""

    owns = ("consent",)

    def ask(self, t: Turn) -> Reply:
        lang, notice = t.lang, notice_text(t.ctx, t.lang)
        if outdated(t.s):  # asked again: what changed first
            text = tr(lang, "consent_again", version=day(NOTICE_VERSION, lang), notice=notice)
        else:
            text = tr(lang, "consent", notice=notice)
        return Reply(text, (agree(lang), disagree(lang)))

    def button(self, t: Turn, name: str, value: str) -> Outcome:
        if value not in ("yes", "no"):
            return t.refuse()
        if t.s.consent == "given" and not outdated(t.s):
            return t.tell(tr(t.s.lang, "already_consented"))
        if t.s.step in ("consent", "declined"):
            return consent(t, value == "yes")
        return t.refuse()

    def typed(self, t: Turn, raw: str) -> Outcome:
        # "ค่ะ" answers the consent question yes; after declining it is only "noted", no consent
        yes = yes_or_no(raw, bare_yes=t.s.step == "consent")
        return t.reprompt() if yes is None else consent(t, yes)


class Profile(Family):
    """The `group`, `region` and `age` steps; an earlier answer can be changed from its buttons."""

    owns = PROFILE_STEPS

    def ask(self, t: Turn) -> Reply:
        step, lang = t.s.step, t.lang
        shown = choice_buttons(step, profile_options(t.catalog, step), lang)
        if step == "age":
            shown += (Button(tr(lang, "skip"), buttons.encode("age", buttons.SKIP)),)
        return Reply(tr(lang, f"ask_{step}"), shown)

    def button(self, t: Turn, name: str, value: str) -> Outcome:
        if t.s.consent != "given":
            return t.refuse()
        if value == buttons.SKIP and name == "age" and t.s.step == "age":
            return set_profile(t, name, None, None)
        option = profile_option(t.catalog, name, value)
        return set_profile(t, name, option.id, option.button(t.lang)) if option else t.refuse()

    def typed(self, t: Turn, raw: str) -> Outcome:
        step = t.s.step
        choice = match_option(raw, profile_options(t.catalog, step))
        return set_profile(t, step, choice.id, choice.button(t.lang)) if choice else t.reprompt()

    def back(self, t: Turn) -> Outcome:
        i = PROFILE_STEPS.index(t.s.step)
        if i == 0:
            return super().back(t)
        t.s.step = PROFILE_STEPS[i - 1]  # type: ignore[assignment]
        return t.show()

    def skip(self, t: Turn) -> Outcome:
        return set_profile(t, "age", None, None) if t.s.step == "age" else super().skip(t)


def agree(lang: str) -> Button:
    return Button(tr(lang, "consent_yes"), buttons.encode("consent", "yes"))


def disagree(lang: str) -> Button:
    return Button(tr(lang, "consent_no"), buttons.encode("consent", "no"))


def set_lang(t: Turn, lang: str) -> Outcome:
    """Set the language, then return to where they were (or go on to consent, or past it)."""
    s = t.s
    s.lang = lang  # type: ignore[assignment]
    t.take()
    t.out.chosen = "ไทย" if lang == "th" else "English"
    if s.resume:
        s.step, s.resume = s.resume, None
    elif s.consent == "given":
        s.step = after_consent(t)  # type: ignore[assignment]
    else:
        s.step = "consent"
    return t.tell(tr(lang, "lang_set"))


def consent(t: Turn, yes: bool) -> Outcome:
    """Record consent (when, and to which notice) and go on; or record the refusal and keep nothing."""
    s, lang = t.s, t.lang
    t.take()
    t.out.chosen = tr(lang, "consent_yes" if yes else "consent_no")
    again = outdated(s)  # asked again after a new notice: they have answers, and a place to return to
    if not yes:
        s.consent, s.step, s.resume = "declined", "declined", None
        said = "reconsent_declined" if again else "declined"
        t.out.replies.append(Reply(tr(lang, said, days=t.ctx.unconsented_days), (agree(lang),)))
        return t.out
    s.consent, s.consent_at, s.consent_version = "given", t.ctx.now, NOTICE_VERSION
    if again and s.resume and ready(s):
        s.step, s.resume = s.resume, None
        return t.tell(tr(lang, "reconsent_thanks"))
    s.resume = None
    s.step = after_consent(t)  # type: ignore[assignment]
    if s.step == "menu" and s.pending_live:  # profiled before: a live session's code brought them back
        t.out.replies.append(Reply(tr(lang, "consent_thanks")))
        if (checked := live.pending(t)) is not None:
            return checked
        t.out.replies.pop()
    return t.tell(tr(lang, "consent_thanks"))


def outdated(s: State) -> bool:
    """Whether they consented to an earlier notice that the current one says more than."""
    return s.consent == "given" and s.consent_version in REASK_VERSIONS


# What goes through while a consent is asked again: the notice, their data, deleting it, changing
# language, help, and answering the steps these lead to (consent, the language, the deletion)
PASS_COMMANDS = frozenset({"privacy", "mydata", "deleteme", "language", "help"})
PASS_TAPS = frozenset({"consent", "del", "lang"})
PASS_STEPS = frozenset({"consent", "lang", "confirm_delete"})


def passes(s: State, command: str | None, tap: str | None) -> bool:
    """Whether an event goes through while their consent is asked again (`tap`: the kind of a
    tapped button; `command`: the command typed, None for a typed answer)."""
    if tap is not None:
        return tap in PASS_TAPS
    return command in PASS_COMMANDS or (command is None and s.step in PASS_STEPS)


def reask(t: Turn) -> Outcome:
    """Ask for consent to the current notice, saying what changed; agreeing returns them to where
    they were (`resume`)."""
    s = t.s
    if s.step not in PASS_STEPS:
        s.resume = s.step
    s.step = "consent"
    return t.show()


def after_consent(t: Turn) -> str:
    """Where a consenting participant goes next: the first missing profile answer, or the menu."""
    return next((name for name in ("group", "region") if getattr(t.s, name) is None), "menu")


def set_profile(t: Turn, name: str, value: str | None, label: str | None) -> Outcome:
    """Record a profile answer (None: skipped); the next profile question, else the menu or deep link."""
    s = t.s
    t.take()
    t.out.chosen = label or tr(s.lang, "skip")
    setattr(s, name, value)
    if s.step != name:  # an earlier profile answer, changed from its old button
        return t.tell(tr(s.lang, "changed", question=tr(s.lang, f"ask_{name}"), choice=t.out.chosen))
    nxt = PROFILE_STEPS.index(name) + 1
    if s.pending_live and name == "region":  # on the way into a live session: the optional age can wait
        s.step = "menu"
        if (checked := live.pending(t)) is not None:
            return checked
        return t.show()
    if nxt < len(PROFILE_STEPS):
        s.step = PROFILE_STEPS[nxt]  # type: ignore[assignment]
    elif s.pending_area in t.catalog.areas:
        area, s.pending_area = s.pending_area, None
        return enter_area(t, area)
    else:
        s.step = "menu"
    return t.show()


def start(t: Turn, arg: str) -> Outcome:
    """The `start` command (and following the account): begin, or continue where they left off.
    `start <area>` is a deep link: that area, now or once consent and profile are done."""
    s = t.s
    if (checked := live.start_arg(t, arg)) is not None:  # `/start live_ABC123`, Telegram's deep link
        return checked
    area = normalize(arg)
    if area and area in t.catalog.areas:
        if ready(s):
            return enter_area(t, area)
        s.pending_area = area
    if s.step == "new":
        s.step = "lang"
    elif s.step == "survey" or t.stranded:
        t.out.replies.append(Reply(tr(s.lang, "resume")))
    return t.show()


def language(t: Turn, arg: str) -> Outcome:
    """The `language` command: choose again, then return to where they were."""
    s = t.s
    if s.step not in ("new", "lang") and s.step != "confirm_delete":
        s.resume = s.step
    s.step = "lang"
    return t.show()


LANGUAGE, CONSENT, PROFILE = Language(), Consent(), Profile()
