"""Engine behaviour, case by case (the golden transcripts are in test_transcripts.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.engine import ACTIONS, STEPS, TAPS, Context, Engine, buttons, commands, parse_command
from bot.model import MAX_TEXT, Inbound, SessionView, State, Step
from bot.surveys import Catalog

from .transcript import START, Conversation


def consented(catalog: Catalog, lang: str = "th") -> Conversation:
    convo = Conversation(catalog)
    for line in ("hi", "[1]" if lang == "th" else "[2]", "[1]", "1", "1", "skip"):
        convo.send(line)
    assert convo.state.step == "menu"
    return convo


def test_nothing_is_kept_before_consent(catalog: Catalog) -> None:
    convo = Conversation(catalog)
    convo.send("hi")
    convo.send("[1]")
    convo.send("[2]")  # decline
    assert convo.state.consent == "declined"
    convo.send("[data:area=health]")
    convo.send("[data:q.health.telemedicine.current_level=4]")
    assert convo.state.answers == {} and convo.state.group is None


def test_every_area_can_be_completed_with_typed_answers_only(catalog: Catalog) -> None:
    convo = consented(catalog, "en")
    for area in catalog.areas:
        convo.send("menu")
        convo.send(catalog.areas[area].short.en)
        while convo.state.step == "survey":
            step = catalog.step(convo.state.key or "")
            assert step is not None
            convo.send(str(step.plan_level) if step.question.kind != "text" else f"comment on {step.key}")
        assert area in convo.state.completed
    texts = [a.text for a in convo.state.answers.values() if a.text]
    assert len(texts) == sum(len(a.closing) for a in catalog.areas.values())
    assert "You have completed every area" in "\n".join(r.text for r in convo.last)


def test_why_is_asked_only_when_a_pick_differs_from_the_plan(catalog: Catalog) -> None:
    convo = consented(catalog)
    convo.send("[1]")  # education: learner_data is assessed at 2, aims at 4
    for level in ("2", "4"):
        convo.send(level)
    assert convo.state.key == "education.lifelong_platform.current_level"  # as planned: no "why?"
    for level in ("2", "5"):  # lifelong_platform: 2 -> 3 in the plan; 5 is not the plan's target
        convo.send(level)
    assert convo.state.key == "education.lifelong_platform.why"
    convo.send("skip")
    assert convo.state.answers["education.lifelong_platform.why"].skipped
    assert convo.state.key == "education.digital_credentials.current_level"
    for level in ("ไม่ทราบ", "4"):  # "don't know" differs from nothing
        convo.send(level)
    assert convo.state.key == "education.out_of_school.current_level"
    answer = convo.state.answers["education.digital_credentials.current_level"]
    assert (answer.option, answer.value) == ("dk", None)
    assert convo.state.answers["education.digital_credentials.target_level"].value == 4


def test_ratings_cannot_be_skipped_but_dont_know_is_offered(catalog: Catalog) -> None:
    convo = consented(catalog, "en")
    convo.send("[1]")
    out = convo.send("skip")
    assert "can't be skipped" in out and "Don't know" in out
    assert convo.state.key == "education.learner_data.current_level"
    convo.send("don't know")
    answer = convo.state.answers["education.learner_data.current_level"]
    assert answer.option == "dk" and answer.value is None


def test_free_text_over_the_limit_is_refused_and_not_stored(catalog: Catalog) -> None:
    convo = consented(catalog, "en")
    convo.send("[1]")
    while catalog.step(convo.state.key or "").question.kind != "text":  # type: ignore[union-attr]
        convo.send("4")
    key = convo.state.key
    out = convo.send("ก" * (MAX_TEXT + 1))
    assert "2000" in out and convo.state.key == key and key not in convo.state.answers
    convo.send("ก" * MAX_TEXT)
    assert convo.state.answers[key].text == "ก" * MAX_TEXT  # type: ignore[index]


def test_invalid_unicode_and_control_characters_are_cleaned(catalog: Catalog) -> None:
    convo = consented(catalog)
    convo.send("[1]")
    while catalog.step(convo.state.key or "").question.kind != "text":  # type: ignore[union-attr]
        convo.send("4")
    key = convo.state.key
    convo.send("ปัญหา\ud800\x00\x07คือ")
    assert convo.state.answers[key].text == "ปัญหา?คือ"  # type: ignore[index]


def test_a_stale_button_never_answers_the_current_question(catalog: Catalog) -> None:
    convo = consented(catalog, "en")
    convo.send("[1]")
    convo.send("4")  # learner_data.current_level
    assert convo.state.key == "education.learner_data.target_level"
    # a tap on an unanswered later question's button is refused
    out = convo.send("[data:q.education.teacher_skills.current_level=1]")
    assert "no longer valid" in out
    assert "education.teacher_skills.current_level" not in convo.state.answers
    # a tap on the answered earlier question changes that answer and says so
    out = convo.send("[data:q.education.learner_data.current_level=2]")
    assert "Answer changed" in out
    assert convo.state.answers["education.learner_data.current_level"].value == 2
    assert convo.state.key == "education.learner_data.target_level"


@pytest.mark.parametrize(
    "data",
    [
        "",
        "=",
        "q.=1",
        "q.education.learner_data.current_level=",
        "q.education.learner_data.current_level=99",
        "area=nope",
        "x" * 500,
    ],
)
def test_forged_buttons_are_refused_without_change(catalog: Catalog, data: str) -> None:
    convo = consented(catalog)
    convo.send("[1]")
    before = convo.state.model_copy(deep=True)
    convo.send(f"[data:{data}]")
    assert convo.state.answers == before.answers and convo.state.key == before.key


def test_resume_after_a_week_continues_at_the_same_question(catalog: Catalog) -> None:
    convo = consented(catalog, "en")
    convo.send("[2]")  # health
    convo.send("4")
    key = convo.state.key
    later = Conversation(catalog, State.model_validate(convo.state.model_dump()))  # as stored and reloaded
    out = later.send("/start")
    assert "continue where you left off" in out and later.state.key == key


def test_edited_survey_does_not_strand_a_participant(catalog: Catalog) -> None:
    convo = consented(catalog)
    convo.send("[1]")
    convo.state.key = "education.removed_item.current"  # the organizers deleted the item they were on
    out = convo.send("4")
    assert convo.state.key in {s.key for s in catalog.flow("education")}
    assert "ความสามารถ 1/5" in out


def test_delete_asks_twice_then_erases(catalog: Catalog) -> None:
    convo = consented(catalog)
    convo.send("[1]")
    convo.send("4")
    convo.send("ลบข้อมูล")
    assert convo.state.step == "confirm_delete" and not convo.erased
    convo.send("ยืนยัน")
    assert convo.erased and convo.state.answers == {} and convo.state.consent is None


def test_commands_parse_in_both_languages() -> None:
    assert parse_command("/start@rabfang_bot health") == ("start", "health")
    assert parse_command("ย้อนกลับ") == ("back", "")
    assert parse_command("  SKIP ") == ("skip", "")
    assert parse_command("/nonsense") == ("unknown", "")
    assert parse_command("เห็นด้วย") == (None, "")


def test_engine_is_pure(catalog: Catalog) -> None:
    state = State()
    engine = Engine(Context(catalog, START))
    first = engine.decide(state, Inbound("text", text="hi"))
    second = engine.decide(state, Inbound("text", text="hi"))
    assert state == State() and first.state == second.state and first.replies == second.replies


def test_a_typed_number_works_for_every_button_shown(catalog: Catalog) -> None:
    convo = Conversation(catalog)
    for line in ("hi", "2", "1", "1", "1"):  # English, consent, citizen, Bangkok
        convo.send(line)
    assert convo.state.step == "age"
    convo.send("7")  # the 7th button: Skip
    assert convo.state.step == "menu" and convo.state.age is None
    convo.send("1")
    convo.send("8")  # Back (levels have no Skip; the 7th is what the levels mean), on the first question: the menu
    assert convo.state.step == "menu"
    convo.send("1")
    convo.send("4")
    assert convo.state.answers["education.learner_data.current_level"].value == 4


# ---- the command table, the button codec, the step table ----------------------------------------


def test_every_command_has_one_action_and_its_words_call_it() -> None:
    assert set(ACTIONS) == {c.name for c in commands.COMMANDS}
    words = [w for c in commands.COMMANDS for w in (c.name, *c.words)]
    assert len(words) == len(set(words)), "a word calls two commands"
    for c in commands.COMMANDS:
        assert parse_command(f"/{c.name}") == (c.name, "")
        for w in c.words:
            assert parse_command(w) == (c.name, "")
        if c.hint:  # help tells them to type words that work
            assert parse_command(c.hint.word.th) == parse_command(c.hint.word.en) == (c.name, "")


def test_the_command_menu_in_each_language() -> None:
    names = [
        "start",
        "areas",
        "status",
        "levels",
        "events",
        "back",
        "skip",
        "language",
        "privacy",
        "mydata",
        "deleteme",
        "help",
    ]
    assert [n for n, _ in commands.menu("th")] == [n for n, _ in commands.menu("en")] == names
    assert commands.menu("en")[0] == ("start", "Start, or continue where you left off")
    assert commands.menu("th")[-1] == ("help", "วิธีใช้")
    assert commands.menu(None)[-1] == ("help", "วิธีใช้ · How to use this bot")


def test_help_lists_the_commands_from_the_table() -> None:
    text = commands.help_text("en")
    assert text.startswith("How to answer:") and "\n• back: return to the previous question" in text
    assert text.count("\n• ") == sum(1 for c in commands.COMMANDS if c.hint)
    assert commands.help_text(None) == commands.help_text("th") + "\n\n" + commands.help_text("en")


@pytest.mark.parametrize(
    ("data", "decoded", "control"),
    [
        (buttons.encode("lang", "th"), ("lang", "th"), False),
        (buttons.encode("reg", 12), ("reg", "12"), False),
        (buttons.question("education.learner_data.current", "4"), ("q.education.learner_data.current", "4"), False),
        (buttons.question("education.learner_data.why", buttons.SKIP), ("q.education.learner_data.why", "~skip"), True),
        (buttons.encode("age", buttons.SKIP), ("age", "~skip"), True),
        ("q.education.learner_data.current=~back", ("q.education.learner_data.current", "~back"), True),
        ("lang=", None, False),
        ("nothing", None, False),
    ],
)
def test_button_codec(data: str, decoded: tuple[str, str] | None, control: bool) -> None:
    assert buttons.decode(data) == decoded
    assert buttons.is_control(data) is control


def test_every_button_shown_is_one_the_codec_reads_and_a_family_takes(catalog: Catalog) -> None:
    convo = consented(catalog, "en")
    seen = [b.data for r in convo.last for b in r.buttons]
    for line in ("[1]", "4", "1", "1", "/deleteme", "[2]", "/language"):
        convo.send(line)
        seen += [b.data for r in convo.last for b in r.buttons]
    for data in seen:
        decoded = buttons.decode(data)
        assert decoded is not None and buttons.kind(decoded[0]) in TAPS, data
    assert {buttons.kind(buttons.decode(d)[0]) for d in seen} >= {"q", "area", "del", "lang"}  # type: ignore[index]


def test_every_step_has_a_family() -> None:
    assert set(STEPS) == set(get_args(Step))


# ---- one set of choices, the capability card, the consent notice ---------------------------------

SESSIONS = tuple(
    SessionView(id=i, area=area, title_th=f"ประชุม {i}", title_en=f"Session {i}", starts_at=START + timedelta(days=i))
    for i, area in ((1, "education"), (2, "health"), (3, "education"))
)
MOVES = st.one_of(
    st.tuples(st.just("tap"), st.integers(0, 20)),  # the n-th button of the last reply (mod their number)
    st.tuples(
        st.just("type"),
        st.sampled_from(
            ["1", "3", "7", "9", "ข้าม", "ย้อนกลับ", "/events", "/status", "ลงทะเบียน 1", "/start", "ไม่ทราบ", "ความเห็น"]
        ),
    ),
    st.tuples(st.just("data"), st.sampled_from(["reg=1", "unreg=3", "area=health", "q.education.nope.x=1", "junk"])),
    st.tuples(st.just("other"), st.sampled_from(["<sticker>", "<follow>"])),
)


def play_move(convo: Conversation, move: tuple[str, object]) -> None:
    kind, arg = move
    if kind == "tap":
        shown = convo.last[-1].buttons if convo.last else ()
        convo.send(f"[{int(arg) % len(shown) + 1}]" if shown else "hi")  # type: ignore[call-overload]
    elif kind == "data":
        convo.send(f"[data:{arg}]")
    else:
        convo.send(str(arg))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(moves=st.lists(MOVES, min_size=1, max_size=80), offered=st.booleans())
def test_at_most_the_last_reply_of_a_turn_carries_buttons(catalog: Catalog, moves: list, offered: bool) -> None:
    """LINE shows quick replies on the last message only: a turn offers one set of choices, all of
    them one tap (within LINE's 13 quick replies of 20 characters)."""
    convo = Conversation(catalog, State(offers=SESSIONS if offered else ()))
    for move in [("tap", 0)] * 6 + moves:  # Thai, consent, the profile, the first area; then anything
        play_move(convo, move)
        replies = convo.last
        assert all(not r.buttons for r in replies[:-1]), [r.text[:40] for r in replies]
        if replies and replies[-1].buttons:
            shown = replies[-1].buttons
            assert len(shown) <= 13 and all(len(b.label) <= 20 for b in shown)
            assert len({b.data for b in shown}) == len(shown)


def test_the_end_of_an_area_offers_its_sessions_and_the_areas_in_one_set(catalog: Catalog) -> None:
    convo = consented(catalog)
    convo.offers = SESSIONS
    convo.send("[1]")  # education
    while convo.state.step == "survey":
        step = catalog.step(convo.state.key or "")
        convo.send(str(step.plan_level) if step and step.question.kind == "level" else "ข้าม")  # type: ignore[union-attr]
    *before, last = convo.last
    assert not any(r.buttons for r in before)
    data = [b.data for b in last.buttons]
    assert data[:6] == [f"area={a}" for a in catalog.areas] and "reg=1" in data and "reg=3" in data
    assert "ลงทะเบียน" in last.text and "ต้องการแสดงความคิดเห็นด้านอื่นต่อหรือไม่" in last.text
    convo.send(str(data.index("reg=3") + 1))  # the number the LINE legend shows beside "ลงทะเบียน 2"
    assert 3 in convo.state.registrations


def test_a_capability_is_shown_once_and_its_card_comes_with_its_first_question(catalog: Catalog) -> None:
    convo = consented(catalog, "en")
    convo.send("[1]")
    ask = convo.last[-1]
    card = ask.card
    assert card is not None and card.key == "education.learner_data"
    assert (card.current, card.target, card.levels) == (2, 4, 5)
    assert card.heading == "1/5" and card.question in ask.text and "Capability 1/5 · Education" in ask.text
    assert card.current_line == "Current level: Level 2 Developing (Open)"
    assert card.target_line == "2027 target: Level 4 Managed (Fully digital)"
    assert card.capability in ask.text and card.current_line in ask.text and card.target_line in ask.text
    labels = [b.label for b in ask.buttons]
    assert labels == ["1", "2 (plan)", "3", "4", "5", "Don't know", "What levels mean?", "Back"]
    convo.send("[3]")
    second = convo.last[-1]
    assert second.card is None  # the card is on screen: only the question
    assert card.capability not in second.text and card.current_line not in second.text  # not repeated
    assert second.text == catalog.common.item_questions[1].prompt("en")  # under the card: the question alone
    assert "4 (plan)" in [b.label for b in second.buttons]
    convo.send("[4]")  # today 3, not the assessed 2: why?
    why = convo.last[-1]
    assert convo.state.key == "education.learner_data.why" and why.card is None
    convo.send("back")  # back at the target question, which is first shown again: with its card
    assert convo.last[-1].card is not None and convo.state.key == "education.learner_data.target_level"
    assert "current level 3 (plan 2) · 2027 target 4 (plan 4)" in why.text
    for lang, mark in (("th", "2 ✓ตามแผน"), ("en", "2 (plan)")):
        other = consented(catalog, lang)
        other.send("[1]")
        assert mark in [b.label for b in other.last[-1].buttons]


def test_progress_counts_capabilities_and_never_changes_on_the_way(catalog: Catalog) -> None:
    convo = consented(catalog)
    convo.send("[1]")
    seen = []
    for level in ("1", "1", "ข้าม", "2", "3"):  # a "why?" comes and goes: the totals stay
        ask = convo.last[-1]  # under its capability's card, a question comes alone
        seen.append((ask.text.splitlines()[0], ask.card.heading) if ask.card else None)
        convo.send(level)
    assert seen == [
        ("ขีดความสามารถ 1/5 · ด้านการศึกษา", "1/5"),
        None,
        None,
        ("ขีดความสามารถ 2/5 · ด้านการศึกษา", "2/5"),
        None,
    ]
    convo.send("ย้อนกลับ")  # a question shown again on its own says where it stands
    assert convo.last[-1].text.splitlines()[0] == "ขีดความสามารถ 2/5 · ด้านการศึกษา"


def test_the_consent_notice_fits_in_two_line_messages(catalog: Catalog) -> None:
    from bot.handlers.line.render import render as line_render

    for lang in ("[1]", "[2]"):
        convo = Conversation(catalog)
        convo.send("hi")
        convo.send(lang)
        assert convo.state.step == "consent"
        messages = line_render(convo.last)
        assert len(messages) <= 2 and messages[-1].quick_reply is not None
