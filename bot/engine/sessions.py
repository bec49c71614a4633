"""Focus-group sessions: listing the ones on offer, registering and unregistering (by button or
by typing `ลงทะเบียน 2` / `register 2`, the number as listed). Sessions are no step of their own:
the list and its buttons come on top of whatever step the participant is on."""

from __future__ import annotations

import re

from ..i18n import tr, when
from ..ics import session_ics
from ..model import Attachment, Button, Outcome, Reply, SessionView
from . import buttons
from .core import Family, Turn, ready
from .input import number, readings

REGISTER_TYPED = re.compile(r"(ลงทะเบียน|register|ยกเลิกลงทะเบียน|unregister)\s*([0-9]{1,6})")
MAX_OFFERS = 6  # sessions listed at once: two buttons' worth each stays within LINE's 13


class Sessions(Family):
    owns = ("reg", "unreg")

    def button(self, t: Turn, name: str, value: str) -> Outcome:
        if (session_id := number(value)) is not None and t.s.consent == "given":
            return register(t, session_id, name == "reg")
        return t.refuse()


def events(t: Turn, arg: str) -> Outcome:
    """The `events` command: the sessions on offer, once they may register."""
    t.out.replies.append(sessions_reply(t, None) if ready(t.s) else Reply(tr(t.s.lang, "sessions_later")))
    return t.show()


def typed_register(t: Turn, raw: str) -> Outcome | None:
    """`ลงทะเบียน 2`: register for (or unregister from) the second session listed; None if not that."""
    m = next((m for w in readings(raw) if (m := REGISTER_TYPED.fullmatch(w))), None)
    if m is None:
        return None
    listed = offers(t, None) if ready(t.s) else []
    n = int(m.group(2))
    if not 1 <= n <= len(listed):
        return None
    return register(t, listed[n - 1].id, not m.group(1).startswith(("ยกเลิก", "un")))


def offers(t: Turn, areas: set[str] | None) -> list[SessionView]:
    """Upcoming sessions of the given areas (default: the areas they started, else all),
    plus any they registered for."""
    s = t.s
    wanted = areas if areas is not None else (set(s.started) or set(t.catalog.areas))
    return [
        o
        for o in s.offers
        if o.status == "scheduled" and o.starts_at > t.ctx.now and (o.area in wanted or o.id in s.registrations)
    ][:MAX_OFFERS]


def sessions_reply(t: Turn, areas: set[str] | None) -> Reply:
    """The sessions on offer, numbered, each with its register or unregister button."""
    lang = t.lang
    listed = offers(t, areas)
    if not listed:
        return Reply(tr(lang, "no_sessions"))
    lines, shown = [tr(lang, "sessions")], []
    for n, o in enumerate(listed, 1):
        area = t.catalog.areas.get(o.area)
        if o.id in t.s.registrations:
            status = tr(lang, "registered_mark")
            shown.append(Button(tr(lang, "unregister_n", n=n), buttons.encode("unreg", o.id)))
        elif o.full:
            status = tr(lang, "full_mark")
        else:
            status = "" if o.capacity is None else tr(lang, "seats_left", n=o.capacity - o.taken)
            shown.append(Button(tr(lang, "register_n", n=n), buttons.encode("reg", o.id)))
        head = f"{n}. [{area.short(lang) if area else o.area}] {o.title(lang)}"
        detail = " · ".join(x for x in (when(o.starts_at, lang), o.place or "", status) if x)
        lines.append(f"{head}\n   {detail}")
    return Reply("\n".join(lines), tuple(shown))


def register(t: Turn, session_id: int, yes: bool) -> Outcome:
    """Register for a session on offer (with its calendar file), or unregister; refuse any other."""
    s, lang = t.s, t.lang
    offer = next((o for o in offers(t, set(t.catalog.areas)) if o.id == session_id), None)
    if offer is None or not ready(s):
        return t.refuse()
    if not yes:
        if s.registrations.pop(session_id, None) is None:
            return t.refuse()
        t.take()
        t.out.chosen = tr(lang, "unregister_n", n="").strip()
        return t.tell(tr(lang, "unregistered", title=offer.title(lang)))
    if session_id in s.registrations:
        return t.tell(tr(lang, "already_registered", title=offer.title(lang)))
    if offer.full:
        return t.tell(tr(lang, "session_full", title=offer.title(lang)))
    s.registrations[session_id] = t.ctx.now
    t.take()
    t.out.chosen = tr(lang, "register_n", n="").strip()
    text = tr(lang, "registered", title=offer.title(lang), when=when(offer.starts_at, lang), place=offer.place or "-")
    ics = Attachment(f"rabfang-session-{offer.id}.ics", session_ics(offer, lang, t.ctx.now), "text/calendar")
    t.out.replies.append(Reply(text, attachment=ics))
    return t.show()


SESSIONS = Sessions()
