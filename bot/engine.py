"""The conversation engine: a pure function of (state, inbound event, surveys, now).

It knows no channel, does no I/O and reads no clock. `decide` returns the participant's new
state and the replies to send; the service persists the one and the channel renders the other.

Button data is short ASCII naming the step it belongs to: `lang=th`, `consent=yes`,
`group=sme`, `area=health`, `q.<area>.<item>.<question>=<option>`, with `~skip` and `~back`
as the controls of a survey question. A tap on a button of an earlier question changes that
answer (and says so); a stale or forged one is refused and the current question asked again.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from .i18n import NOTICE_VERSION, tr, when
from .ics import session_ics
from .model import MAX_TEXT, Answer, Attachment, Button, Inbound, Outcome, Reply, SessionView, State
from .surveys import Catalog, FlowQuestion
from .surveys.schema import Option

PROFILE_STEPS = ("group", "region", "age")
REGISTER_TYPED = re.compile(r"(ลงทะเบียน|register|ยกเลิกลงทะเบียน|unregister)\s*([0-9]{1,6})")
NUMBER = re.compile(r"[0-9]{1,6}")  # ASCII digits only: str.isdigit() also takes '²', which int() refuses


def number(word: str) -> int | None:
    """A typed or tapped number, or None: never raises, whatever the participant sent."""
    return int(word) if NUMBER.fullmatch(word) else None


SKIP, BACK = "~skip", "~back"

COMMANDS: dict[str, tuple[str, ...]] = {
    "start": ("start", "เริ่ม", "เริ่มต้น", "เริ่มใหม่", "สวัสดี", "hi", "hello"),
    "help": ("help", "ช่วยเหลือ", "วิธีใช้", "ช่วย", "?"),
    "back": ("back", "ย้อนกลับ", "ย้อน", "กลับ"),
    "skip": ("skip", "ข้าม"),
    "language": ("language", "lang", "ภาษา", "เปลี่ยนภาษา"),
    "areas": ("areas", "menu", "เมนู", "เลือกด้าน"),
    "status": ("status", "progress", "สถานะ", "ความคืบหน้า"),
    "privacy": ("privacy", "ความเป็นส่วนตัว", "ประกาศความเป็นส่วนตัว"),
    "deleteme": ("deleteme", "delete my data", "ลบข้อมูล", "ลบข้อมูลของฉัน"),
    "mydata": ("mydata", "my data", "ข้อมูลของฉัน"),
    "events": ("events", "focus group", "กิจกรรม", "ประชุม", "การประชุม", "ลงทะเบียน"),
}
MAX_OFFERS = 6  # sessions listed at once: two buttons' worth each stays within LINE's 13
_WORD_TO_COMMAND = {w: cmd for cmd, words in COMMANDS.items() for w in words}
YES = ("yes", "y", "ok", "agree", "i agree", "ใช่", "ตกลง", "ยินยอม", "ยืนยัน", "ยืนยันลบ")
NO = ("no", "n", "cancel", "i do not agree", "ไม่", "ไม่ใช่", "ไม่ยินยอม", "ยกเลิก")


@dataclass(frozen=True)
class Context:
    """What the engine may know of the world besides the participant: surveys, time, policy."""

    catalog: Catalog
    now: datetime
    retention_days: int = 365
    contact: str = "สำนักงานพัฒนารัฐบาลดิจิทัล (องค์การมหาชน) · www.dga.or.th"


@dataclass(frozen=True)
class Choice:
    """An option of a non-survey step, in the same shape as a survey Option."""

    id: str
    th: str
    en: str
    aliases: tuple[str, ...] = ()

    def button(self, lang: str) -> str:
        return self.en if lang == "en" else self.th


def normalize(text: str) -> str:
    """Fold typed text for matching: NFC, lower case, single spaces, no trailing punctuation."""
    text = unicodedata.normalize("NFC", text).casefold().strip()
    text = re.sub(r"\s+", " ", text)
    return text.strip(" .!。“”\"'")


def clean_text(text: str) -> str:
    """Free text as we store it: valid UTF-8 (lone surrogates replaced), no control characters."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = "".join(c for c in text if c in "\n\t" or unicodedata.category(c) != "Cc")
    return unicodedata.normalize("NFC", text).strip()


def parse_command(text: str) -> tuple[str | None, str]:
    """`/start health`, `/start@bot`, or a typed command word → (command, argument)."""
    raw = text.strip()
    if raw.startswith("/"):
        head, _, arg = raw[1:].partition(" ")
        name = normalize(head.split("@", 1)[0])
        return (name if name in COMMANDS else "unknown"), arg.strip()
    return _WORD_TO_COMMAND.get(normalize(raw)), ""


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
        }
    )


class Engine:
    """Decides one inbound event at a time; holds nothing but the context it was given."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.catalog = ctx.catalog

    # ---- entry point -------------------------------------------------------------------

    def decide(self, state: State, event: Inbound) -> Outcome:
        s = working_copy(state)
        out = Outcome(state=s)
        if event.kind == "follow":
            return self._command(out, "start", "")
        if event.kind == "unsupported":
            out.replies.append(self._notice(s, tr(s.lang, "unsupported")))
            return out
        if event.kind == "button":
            return self._button(out, event.data)
        command, arg = parse_command(event.text)
        if command == "unknown":
            out.replies.append(self._notice(s, tr(s.lang, "help")))
            return out
        if command:
            return self._command(out, command, arg)
        return self._typed(out, event.text)

    # ---- what each step asks ---------------------------------------------------------------

    def ask(self, s: State) -> Reply:
        """The prompt for the step the participant is on, with its buttons."""
        lang = s.lang or "th"
        if s.step in ("new", "lang"):
            text = tr(None, "choose_lang") if s.lang else tr(None, "welcome") + "\n\n" + tr(None, "choose_lang")
            return Reply(text, self._buttons("lang", LANG_CHOICES, lang))
        if s.step in ("consent", "declined"):
            return Reply(tr(lang, "consent", notice=self._notice_text(lang)), self._consent_buttons(lang))
        if s.step in PROFILE_STEPS:
            buttons = self._buttons(s.step, self._profile(s.step), lang)
            if s.step == "age":
                buttons += (Button(tr(lang, "skip"), f"age={SKIP}"),)
            return Reply(tr(lang, f"ask_{s.step}"), buttons)
        if s.step == "menu":
            return Reply(tr(lang, "menu"), self._area_buttons(s))
        if s.step == "confirm_delete":
            return Reply(
                tr(lang, "confirm_delete"),
                (Button(tr(lang, "delete_yes"), "del=yes"), Button(tr(lang, "delete_no"), "del=no")),
            )
        step = self.catalog.step(s.key or "")
        if step is None:  # the survey changed under the participant: find their place again
            self._open_area(s, s.area or "")
            return self.ask(s)
        return self._ask_question(s, step)

    def _ask_question(self, s: State, step: FlowQuestion) -> Reply:
        lang = s.lang or "th"
        area = self.catalog.areas[step.area]
        key = step.key
        flow = self._applicable(s, step.area)
        n = next((i for i, p in enumerate(flow) if p.key == key), 0) + 1
        lines = [tr(lang, "progress", n=n, total=len(flow), area=area.title(lang))]
        if step.item:
            common = self.catalog.common
            cur, tgt = common.level(step.item.current), common.level(step.item.target)
            lines += [
                tr(lang, "capability", text=step.item.capability(lang)),
                tr(lang, "current", level=step.item.current, name=cur.name(lang) if cur else ""),
                tr(lang, "target", level=step.item.target, name=tgt.name(lang) if tgt else ""),
            ]
        lines += ["", step.question.prompt(lang)]
        previous = s.answers.get(step.key)
        if previous is not None and not previous.skipped:  # back at an answered question: show it
            option = next((o for o in self.catalog.options(step) if o.id == previous.option), None)
            shown = option.label(lang) if option else previous.text or ""
            lines.append(tr(lang, "previous_answer", answer=shown if len(shown) <= 200 else shown[:199] + "…"))
        buttons = tuple(Button(o.button(lang), f"q.{key}={o.id}") for o in self.catalog.options(step))
        if step.question.kind == "text":
            lines.append(tr(lang, "type_text", max=MAX_TEXT))
        if step.question.optional:
            buttons += (Button(tr(lang, "skip"), f"q.{key}={SKIP}"),)
        buttons += (Button(tr(lang, "back"), f"q.{key}={BACK}"),)
        return Reply("\n".join(lines), buttons)

    def _notice(self, s: State, text: str) -> Reply:
        """A short notice carrying the current step's buttons, so the participant can go on."""
        if s.step == "new":
            return Reply(text + "\n\n" + tr(None, "choose_lang"), self._buttons("lang", LANG_CHOICES, "th"))
        return Reply(text, self.ask(s).buttons)

    # ---- buttons ---------------------------------------------------------------------------

    def _button(self, out: Outcome, data: str) -> Outcome:
        s = out.state
        name, sep, value = data.partition("=")
        if not sep or not value:
            return self._refuse(out)
        if name == "lang":
            return self._set_lang(out, value) if value in ("th", "en") else self._refuse(out)
        if name == "consent" and value in ("yes", "no"):
            if s.consent == "given":
                out.replies += [Reply(tr(s.lang, "already_consented")), self.ask(s)]
                return out
            if s.step in ("consent", "declined"):
                return self._consent(out, value == "yes")
            return self._refuse(out)
        if name == "del" and value in ("yes", "no") and s.step == "confirm_delete":
            return self._confirm_delete(out, value == "yes")
        if name in PROFILE_STEPS and s.consent == "given":
            option = self._profile_option(name, value)
            if value == SKIP and name == "age" and s.step == "age":
                return self._set_profile(out, name, None, None)
            if option:
                return self._set_profile(out, name, option.id, option.button(s.lang or "th"))
            return self._refuse(out)
        if name == "area" and value in self.catalog.areas and self._ready(s):
            out.chosen = self.catalog.areas[value].short(s.lang or "th")
            self._enter_area(out, value)
            return out
        if name.startswith("q.") and self._ready(s):
            return self._survey_button(out, name[2:], value)
        if name in ("reg", "unreg") and (sid := number(value)) is not None and s.consent == "given":
            return self._register(out, sid, name == "reg")
        return self._refuse(out)

    def _survey_button(self, out: Outcome, key: str, value: str) -> Outcome:
        s = out.state
        step = self.catalog.step(key)
        if step is None:
            return self._refuse(out)
        current = s.step == "survey" and s.key == key
        if value in (SKIP, BACK):
            if not current:
                return self._refuse(out)
            return self._skip(out) if value == SKIP else self._back(out)
        option = next((o for o in self.catalog.options(step) if o.id == value), None)
        if option is None:
            return self._refuse(out)
        out.chosen = option.button(s.lang or "th")
        if current:
            self._record_option(s, step, option)
            return self._advance(out)
        if key in s.answers and not s.answers[key].skipped and self._applies(s, step):
            self._record_option(s, step, option)
            out.replies += [
                Reply(tr(s.lang, "changed", question=self._short_question(s, step), choice=out.chosen)),
                self.ask(s),
            ]
            return out
        out.chosen = None
        return self._refuse(out)

    def _refuse(self, out: Outcome) -> Outcome:
        out.refused = True
        out.replies.append(self._notice(out.state, tr(out.state.lang, "stale")))
        return out

    # ---- commands --------------------------------------------------------------------------

    def _command(self, out: Outcome, command: str, arg: str) -> Outcome:
        s = out.state
        lang = s.lang
        if command == "start":
            area = normalize(arg)
            if area and area in self.catalog.areas:
                if self._ready(s):
                    self._enter_area(out, area)
                    return out
                s.pending_area = area
            if s.step == "new":
                s.step = "lang"
            elif s.step == "survey":
                out.replies.append(Reply(tr(lang, "resume")))
            out.replies.append(self.ask(s))
            return out
        if command == "help":
            out.replies += [Reply(tr(lang, "help")), self.ask(s)]
        elif command == "back":
            return self._back(out)
        elif command == "skip":
            return self._skip(out)
        elif command == "language":
            if s.step not in ("new", "lang"):
                s.resume = s.step if s.step != "confirm_delete" else s.resume
            s.step = "lang"
            out.replies.append(self.ask(s))
        elif command == "areas":
            if self._ready(s):
                s.step = "menu"
            out.replies.append(self.ask(s))
        elif command == "status":
            out.replies += [Reply(self._status_text(s)), self.ask(s)]
        elif command == "privacy":
            text = tr(lang, "privacy_title", version=NOTICE_VERSION) + "\n\n" + self._notice_text(lang or "th")
            # the consent question already carries the notice
            out.replies += [self.ask(s)] if s.step in ("consent", "declined") else [Reply(text), self.ask(s)]
        elif command == "mydata":
            out.replies += [Reply(self._mydata_text(s)), self.ask(s)]
        elif command == "events":
            out.replies += [
                self._sessions_reply(s, None) if self._ready(s) else Reply(tr(lang, "sessions_later")),
                self.ask(s),
            ]
        elif command == "deleteme":
            if s.step != "confirm_delete":
                s.resume = s.step
            s.step = "confirm_delete"
            out.replies.append(self.ask(s))
        return out

    # ---- typed answers ---------------------------------------------------------------------

    def _typed(self, out: Outcome, raw: str) -> Outcome:
        s = out.state
        lang = s.lang or "th"
        if m := REGISTER_TYPED.fullmatch(normalize(raw)):
            offers = self._offers(s, None) if self._ready(s) else []
            n = int(m.group(2))
            if 1 <= n <= len(offers):
                return self._register(out, offers[n - 1].id, not m.group(1).startswith(("ยกเลิก", "un")))
        if s.step == "new":
            return self._command(out, "start", "")
        stranded = s.step == "survey" and self.catalog.step(s.key or "") is None  # the survey was edited
        if (n := number(normalize(raw))) is not None and not stranded and not self._asks_text(s):
            # a number answers with the n-th button shown, Skip and Back included, for clients
            # that show no buttons (LINE on desktop) and for the console's numbered options
            buttons = self.ask(s).buttons
            if 1 <= n <= len(buttons):
                return self._button(out, buttons[n - 1].data)
        if s.step == "lang":
            choice = _match(raw, LANG_CHOICES)
            return self._set_lang(out, choice.id) if choice else self._reprompt(out)
        if s.step in ("consent", "declined"):
            word = normalize(raw)
            if word in YES or word == "1":
                return self._consent(out, True)
            if word in NO or word == "2":
                return self._consent(out, False)
            return self._reprompt(out)
        if s.step == "confirm_delete":
            word = normalize(raw)
            if word in YES or word == "1":
                return self._confirm_delete(out, True)
            if word in NO or word == "2":
                return self._confirm_delete(out, False)
            return self._reprompt(out)
        if s.step in PROFILE_STEPS:
            options = self._profile(s.step)
            choice = _match(raw, options)
            if choice is None:
                return self._reprompt(out)
            return self._set_profile(out, s.step, choice.id, choice.button(lang))
        if s.step == "menu":
            areas = [
                Choice(a.id, a.short.th, a.short.en, (a.title.th, a.title.en)) for a in self.catalog.areas.values()
            ]
            choice = _match(raw, areas)
            if choice is None:
                return self._reprompt(out)
            self._enter_area(out, choice.id)
            return out
        step = self.catalog.step(s.key or "")
        if step is None:
            out.replies.append(self.ask(s))
            return out
        if step.question.kind == "text":
            text = clean_text(raw)
            if len(text) > MAX_TEXT:
                out.replies.append(self._notice(s, tr(lang, "too_long", n=len(text), max=MAX_TEXT)))
                return out
            if not text:
                out.replies.append(self._notice(s, tr(lang, "empty_text")))
                return out
            s.answers[step.key] = Answer(text=text, lang=lang, at=self.ctx.now)
            return self._advance(out)
        options = self.catalog.options(step)
        option = _match(raw, options)
        if option is None:
            return self._reprompt(out)
        self._record_option(s, step, option)
        return self._advance(out)

    def _reprompt(self, out: Outcome) -> Outcome:
        s = out.state
        if s.step in ("new", "lang"):
            out.replies.append(self.ask(s))
        else:
            out.replies.append(self._notice(s, tr(s.lang, "pick_option", n=len(self.ask(s).buttons))))
        return out

    def _asks_text(self, s: State) -> bool:
        step = self.catalog.step(s.key or "") if s.step == "survey" else None
        return step is not None and step.question.kind == "text"

    # ---- transitions -----------------------------------------------------------------------

    def _set_lang(self, out: Outcome, lang: str) -> Outcome:
        s = out.state
        s.lang = lang  # type: ignore[assignment]
        out.chosen = "ไทย" if lang == "th" else "English"
        if s.resume:
            s.step, s.resume = s.resume, None
        elif s.consent == "given":
            s.step = self._after_consent(s)
        else:
            s.step = "consent"
        out.replies += [Reply(tr(lang, "lang_set")), self.ask(s)]
        return out

    def _consent(self, out: Outcome, yes: bool) -> Outcome:
        s = out.state
        lang = s.lang or "th"
        out.chosen = tr(lang, "consent_yes" if yes else "consent_no")
        if not yes:
            s.consent, s.step = "declined", "declined"
            out.replies.append(Reply(tr(lang, "declined"), (Button(tr(lang, "consent_yes"), "consent=yes"),)))
            return out
        s.consent, s.consent_at, s.consent_version = "given", self.ctx.now, NOTICE_VERSION
        s.step = self._after_consent(s)
        out.replies += [Reply(tr(lang, "consent_thanks")), self.ask(s)]
        return out

    def _after_consent(self, s: State) -> str:
        """Where a consenting participant goes next: the first missing profile answer, or the menu."""
        return next((name for name in ("group", "region") if getattr(s, name) is None), "menu")

    def _set_profile(self, out: Outcome, name: str, value: str | None, label: str | None) -> Outcome:
        s = out.state
        out.chosen = label or tr(s.lang, "skip")
        setattr(s, name, value)
        if s.step != name:  # an earlier profile answer, changed from its old button
            out.replies += [
                Reply(tr(s.lang, "changed", question=tr(s.lang, f"ask_{name}"), choice=out.chosen)),
                self.ask(s),
            ]
            return out
        nxt = PROFILE_STEPS.index(name) + 1
        if nxt < len(PROFILE_STEPS):
            s.step = PROFILE_STEPS[nxt]  # type: ignore[assignment]
            out.replies.append(self.ask(s))
        elif s.pending_area in self.catalog.areas:
            area, s.pending_area = s.pending_area, None
            self._enter_area(out, area)
        else:
            s.step = "menu"
            out.replies.append(self.ask(s))
        return out

    def _enter_area(self, out: Outcome, area_id: str) -> None:
        s = out.state
        lang = s.lang or "th"
        area = self.catalog.areas[area_id]
        first = area_id not in s.started or area_id in s.completed
        self._open_area(s, area_id)
        if first:
            out.replies.append(Reply(tr(lang, "area_intro", intro=area.intro(lang))))
        out.replies.append(self.ask(s))

    def _open_area(self, s: State, area_id: str) -> None:
        """Point the state at the first unanswered question of the area (or its first question)."""
        if area_id not in self.catalog.areas:
            s.step, s.area, s.key = "menu", None, None
            return
        s.started.setdefault(area_id, self.ctx.now)
        if area_id in s.completed:
            s.completed.pop(area_id)
            first = self._applicable(s, area_id)[0]
        else:
            first = self._next_unanswered(s, area_id, None) or self._applicable(s, area_id)[0]
        s.step, s.area, s.key = "survey", area_id, first.key

    def _advance(self, out: Outcome) -> Outcome:
        s = out.state
        area = s.area or ""
        nxt = self._next_unanswered(s, area, s.key)
        if nxt is not None:
            s.key = nxt.key
            out.replies.append(self.ask(s))
            return out
        return self._finish_area(out)

    def _finish_area(self, out: Outcome) -> Outcome:
        s = out.state
        lang = s.lang or "th"
        area = self.catalog.areas[s.area or ""]
        s.completed[area.id] = self.ctx.now
        s.step, s.area, s.key = "menu", None, None
        out.replies.append(Reply(tr(lang, "area_done", area=area.title(lang)) + "\n" + self._summary(s, area.id)))
        if self._offers(s, {area.id}):
            out.replies.append(self._sessions_reply(s, {area.id}))
        if all(a in s.completed for a in self.catalog.areas):
            out.replies.append(Reply(tr(lang, "all_done")))
        else:
            out.replies.append(Reply(tr(lang, "another"), self._area_buttons(s)))
        return out

    # ---- focus-group sessions ----------------------------------------------------------------

    def _offers(self, s: State, areas: set[str] | None) -> list[SessionView]:
        """Upcoming sessions of the given areas (default: the areas they started, else all),
        plus any they registered for."""
        wanted = areas if areas is not None else (set(s.started) or set(self.catalog.areas))
        return [
            o
            for o in s.offers
            if o.status == "scheduled" and o.starts_at > self.ctx.now and (o.area in wanted or o.id in s.registrations)
        ][:MAX_OFFERS]

    def _sessions_reply(self, s: State, areas: set[str] | None) -> Reply:
        lang = s.lang or "th"
        offers = self._offers(s, areas)
        if not offers:
            return Reply(tr(lang, "no_sessions"))
        lines, buttons = [tr(lang, "sessions")], []
        for n, o in enumerate(offers, 1):
            area = self.catalog.areas.get(o.area)
            if o.id in s.registrations:
                status = tr(lang, "registered_mark")
                buttons.append(Button(tr(lang, "unregister_n", n=n), f"unreg={o.id}"))
            elif o.full:
                status = tr(lang, "full_mark")
            else:
                left = "" if o.capacity is None else tr(lang, "seats_left", n=o.capacity - o.taken)
                status = left
                buttons.append(Button(tr(lang, "register_n", n=n), f"reg={o.id}"))
            head = f"{n}. [{area.short(lang) if area else o.area}] {o.title(lang)}"
            detail = " · ".join(x for x in (when(o.starts_at, lang), o.place or "", status) if x)
            lines.append(f"{head}\n   {detail}")
        return Reply("\n".join(lines), tuple(buttons))

    def _register(self, out: Outcome, session_id: int, register: bool) -> Outcome:
        s = out.state
        lang = s.lang or "th"
        offer = next((o for o in self._offers(s, set(self.catalog.areas)) if o.id == session_id), None)
        if offer is None or not self._ready(s):
            return self._refuse(out)
        if not register:
            if s.registrations.pop(session_id, None) is None:
                return self._refuse(out)
            out.chosen = tr(lang, "unregister_n", n="").strip()
            out.replies += [Reply(tr(lang, "unregistered", title=offer.title(lang))), self.ask(s)]
            return out
        if session_id in s.registrations:
            out.replies += [Reply(tr(lang, "already_registered", title=offer.title(lang))), self.ask(s)]
            return out
        if offer.full:
            out.replies += [Reply(tr(lang, "session_full", title=offer.title(lang))), self.ask(s)]
            return out
        s.registrations[session_id] = self.ctx.now
        out.chosen = tr(lang, "register_n", n="").strip()
        text = tr(
            lang, "registered", title=offer.title(lang), when=when(offer.starts_at, lang), place=offer.place or "-"
        )
        ics = Attachment(f"rabfang-session-{offer.id}.ics", session_ics(offer, lang, self.ctx.now), "text/calendar")
        out.replies += [Reply(text, attachment=ics), self.ask(s)]
        return out

    def _back(self, out: Outcome) -> Outcome:
        s = out.state
        if s.step == "confirm_delete":
            return self._confirm_delete(out, False)
        if s.step in ("region", "age"):
            s.step = PROFILE_STEPS[PROFILE_STEPS.index(s.step) - 1]  # type: ignore[assignment]
        elif s.step == "survey":
            flow = self._applicable(s, s.area or "")
            i = next((i for i, p in enumerate(flow) if p.key == s.key), 0)
            if i == 0:
                s.step, s.area, s.key = "menu", None, None
            else:
                s.key = flow[i - 1].key
        else:
            out.replies.append(Reply(tr(s.lang, "at_start")))
        out.replies.append(self.ask(s))
        return out

    def _skip(self, out: Outcome) -> Outcome:
        s = out.state
        if s.step == "age":
            return self._set_profile(out, "age", None, None)
        step = self.catalog.step(s.key or "") if s.step == "survey" else None
        if step is None:
            out.replies.append(self._notice(s, tr(s.lang, "nothing_to_skip")))
            return out
        if not step.question.optional:
            out.replies.append(self._notice(s, tr(s.lang, "not_optional")))
            return out
        out.chosen = tr(s.lang, "skip")
        s.answers[step.key] = Answer(skipped=True, lang=s.lang or "th", at=self.ctx.now)
        return self._advance(out)

    def _confirm_delete(self, out: Outcome, yes: bool) -> Outcome:
        s = out.state
        lang = s.lang
        if yes:
            out.erase = True
            out.chosen = tr(lang, "delete_yes")
            out.state = State(lang=s.lang, step="new")
            out.replies.append(Reply(tr(lang, "deleted")))
            return out
        out.chosen = tr(lang, "delete_no")
        s.step, s.resume = s.resume or "new", None
        if s.step == "new":
            s.step = "lang"
        out.replies += [Reply(tr(lang, "delete_cancelled")), self.ask(s)]
        return out

    # ---- survey helpers --------------------------------------------------------------------

    def _record_option(self, s: State, step: FlowQuestion, option: Option) -> None:
        s.answers[step.key] = Answer(option=option.id, value=option.value, lang=s.lang or "th", at=self.ctx.now)

    def _applies(self, s: State, step: FlowQuestion) -> bool:
        """Whether a conditional question is asked: one of the ratings it needs is low enough."""
        if not step.needs:
            return True
        for key in step.needs:
            ans = s.answers.get(key)
            if ans and ans.value is not None and ans.value <= step.limit:
                return True
        return False

    def _applicable(self, s: State, area: str) -> list[FlowQuestion]:
        return [st for st in self.catalog.flow(area) if self._applies(s, st)]

    def _next_unanswered(self, s: State, area: str, after: str | None) -> FlowQuestion | None:
        """The first applicable unanswered question after `after`, else any before it."""
        flow = self._applicable(s, area)
        start = next((i + 1 for i, st in enumerate(flow) if st.key == after), 0)
        for st in [*flow[start:], *flow[:start]]:
            if st.key not in s.answers and st.key != after:
                return st
        return None

    def _ready(self, s: State) -> bool:
        return s.consent == "given" and s.group is not None and s.region is not None and s.step not in PROFILE_STEPS

    # ---- texts -----------------------------------------------------------------------------

    def _notice_text(self, lang: str) -> str:
        return tr(lang, "notice", retention=self.ctx.retention_days, contact=self.ctx.contact)

    def _short_question(self, s: State, step: FlowQuestion) -> str:
        lang = s.lang or "th"
        head = step.item.capability(lang) if step.item else self.catalog.areas[step.area].title(lang)
        return f"{head} · {step.question.prompt(lang)}"

    def _rating_label(self, s: State, key: str) -> str:
        ans = s.answers.get(key)
        if ans is None or ans.skipped:
            return "–"
        return str(ans.value) if ans.value is not None else tr(s.lang, "dk_short")

    def _summary(self, s: State, area_id: str) -> str:
        lang = s.lang or "th"
        area = self.catalog.areas[area_id]
        lines = []
        for item in area.items:
            base = f"{area_id}.{item.id}."
            lines.append(
                tr(
                    lang,
                    "summary_item",
                    capability=item.capability(lang),
                    current=self._rating_label(s, base + "current"),
                    feasible=self._rating_label(s, base + "feasible"),
                    appropriate=self._rating_label(s, base + "appropriate"),
                )
            )
        texts = sum(1 for k, a in s.answers.items() if k.startswith(area_id + ".") and a.text)
        lines.append(tr(lang, "summary_texts", n=texts))
        return "\n".join(lines)

    def _status_text(self, s: State) -> str:
        lang = s.lang or "th"
        if not s.started:
            return tr(lang, "status_none")
        lines = [tr(lang, "status")]
        for area in self.catalog.areas.values():
            if area.id in s.completed:
                state = tr(lang, "st_done")
            elif area.id in s.started:
                flow = self._applicable(s, area.id)
                done = sum(1 for p in flow if p.key in s.answers)
                state = tr(lang, "st_doing", n=done, total=len(flow))
            else:
                state = tr(lang, "st_none")
            lines.append(tr(lang, "status_area", area=area.title(lang), state=state))
        return "\n".join(lines)

    def _mydata_text(self, s: State) -> str:
        lang = s.lang or "th"
        if s.consent != "given":
            return tr(lang, "mydata_none")

        def label(name: str) -> str:
            value = getattr(s, name)
            option = self._profile_option(name, value) if value else None
            return option.button(lang) if option else tr(lang, "not_given")

        lines = [
            tr(lang, "mydata"),
            tr(
                lang,
                "mydata_profile",
                language="ไทย" if lang == "th" else "English",
                group=label("group"),
                region=label("region"),
                age=label("age"),
                consent_at=when(s.consent_at, lang) if s.consent_at else "-",
            ),
        ]
        for key, ans in sorted(s.answers.items()):
            step = self.catalog.step(key)
            if step is None or ans.skipped:
                continue
            value = ans.text if ans.text is not None else self._rating_label(s, key)
            lines.append(f"• {self._short_question(s, step)}: {value}")
        return "\n".join(lines)

    # ---- option helpers --------------------------------------------------------------------

    def _profile(self, name: str) -> tuple[Option, ...]:
        return getattr(self.catalog.common.profile, name)

    def _profile_option(self, name: str, value: str) -> Option | None:
        return next((o for o in self._profile(name) if o.id == value), None)

    def _buttons(self, name: str, options: Sequence[Option | Choice], lang: str) -> tuple[Button, ...]:
        return tuple(Button(o.button(lang), f"{name}={o.id}") for o in options)

    def _consent_buttons(self, lang: str) -> tuple[Button, ...]:
        return (Button(tr(lang, "consent_yes"), "consent=yes"), Button(tr(lang, "consent_no"), "consent=no"))

    def _area_buttons(self, s: State) -> tuple[Button, ...]:
        lang = s.lang or "th"
        out = []
        for area in self.catalog.areas.values():
            label = area.short(lang)
            if area.id in s.completed:
                label = ("✓ " + label)[:20]
            out.append(Button(label, f"area={area.id}"))
        return tuple(out)


LANG_CHOICES = (
    Choice("th", "ไทย", "ไทย", ("thai", "th", "ภาษาไทย")),
    Choice("en", "English", "English", ("en", "eng", "อังกฤษ", "ภาษาอังกฤษ")),
)


def _match(raw: str, options: Sequence[Option | Choice]) -> Option | Choice | None:
    """A typed answer → the option it names: its number in the list, its id, label or alias."""
    word = normalize(raw)
    if not word:
        return None
    if (n := number(word)) is not None and 1 <= n <= len(options):
        return options[n - 1]
    for o in options:
        if isinstance(o, Option):
            names = [o.id, o.label.th, o.label.en, *o.aliases]
            if o.short:
                names += [o.short.th, o.short.en]
        else:
            names = [o.id, o.th, o.en, *o.aliases]
        if word in {normalize(n) for n in names}:
            return o
    return None
