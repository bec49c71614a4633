"""The live session's engine, as a pure function: check-in by code (known and new participants),
the open capability's taps stored beside the chat answers, and refusals (closed, not checked in,
an unknown code), with no I/O."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.engine import Context, Engine
from bot.i18n import NOTICE_VERSION, tr
from bot.model import Answer, Inbound, LiveView, State
from bot.surveys import Catalog

NOW = datetime(2026, 12, 10, 2, 0, tzinfo=UTC)
ITEM = "education.learner_data"
VIEW = LiveView(session_id=7, code="K7P2QX", title_th="ห้อง", title_en="Room", open_item=ITEM, opened=(ITEM,))


def ready(**more: object) -> State:
    base = {
        "lang": "th",
        "consent": "given",
        "consent_at": NOW,
        "consent_version": NOTICE_VERSION,
        "group": "citizen",
        "region": "bangkok",
        "step": "menu",
        "live": (VIEW,),
    }
    return State(**(base | more))


def decide(catalog: Catalog, state: State, kind: str, value: str) -> tuple[State, list[str]]:
    event = Inbound(kind, text=value) if kind == "text" else Inbound(kind, data=value)
    out = Engine(Context(catalog, NOW)).decide(state, event)
    return out.state, [r.text for r in out.replies]


def test_a_known_participant_checks_in_at_once_and_gets_the_open_capability(catalog: Catalog) -> None:
    state, said = decide(catalog, ready(), "text", "live k7p2qx")
    assert state.checkins == {7: NOW}
    assert said[0] == tr("th", "live_checked_in", title="ห้อง")
    assert "ความสามารถ" in said[1]  # late: the capability open now, at once


def test_a_new_participant_checks_in_after_four_taps(catalog: Catalog) -> None:
    state, _ = decide(catalog, State(live=(VIEW,)), "text", "/start live_K7P2QX")
    assert state.pending_live == "K7P2QX" and not state.checkins
    for data in ("lang=th", "consent=yes", "group=citizen", "region=bangkok"):
        state, said = decide(catalog, state, "button", data)
    assert tr("th", "live_checked_in", title="ห้อง") in said
    assert state.checkins == {7: NOW} and state.age is None and state.step == "menu"
    assert state.pending_live is None


def test_a_live_tap_is_kept_beside_the_chat_answer(catalog: Catalog) -> None:
    chat = Answer(option="2", value=2, lang="th", at=NOW)
    state = ready(checkins={7: NOW}, answers={f"{ITEM}.current_level": chat})
    state, said = decide(catalog, state, "button", f"lq.{ITEM}.current_level=4")
    assert state.answers[f"{ITEM}.current_level"] == chat
    live = state.answers[f"{ITEM}.current_level@live"]
    assert (live.value, live.session) == (4, 7)
    assert "2570" in said[0]  # the next live question: the 2027 target


def test_closed_or_not_checked_in_taps_are_refused_politely(catalog: Catalog) -> None:
    closed = LiveView(session_id=7, code="K7P2QX", title_th="ห้อง", title_en="Room", open_item=None, opened=(ITEM,))
    for state in (ready(checkins={7: NOW}, live=(closed,)), ready()):
        after, said = decide(catalog, state, "button", f"lq.{ITEM}.current_level=4")
        assert said == [tr("th", "live_closed")]
        assert after.answers == state.answers


def test_an_unknown_code_says_so(catalog: Catalog) -> None:
    state, said = decide(catalog, ready(), "text", "live ZZZZZZ")
    assert said[0] == tr("th", "live_unknown") and not state.checkins
