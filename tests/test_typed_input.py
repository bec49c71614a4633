"""Typed answers as Thai (and English) people type them, over every kind of question: each case is
where the participant is, what they type, and what it must do (the answer stored, or the command
run). Particles, Thai and full-width digits, "ระดับ 3", spaces and zero-width characters are read
past; a free-text answer is stored exactly as typed; nothing that starts with ไม่ is ever a yes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.engine import Context, Engine, parse_command
from bot.engine.input import readings, typed_number, yes_or_no
from bot.i18n import tr
from bot.model import Inbound, State
from bot.surveys import Catalog, load_catalog

from .conftest import AGREEMENT
from .transcript import Conversation

Q = "education.learner_data."
KEY = {
    "level": Q + "current_level",
    "target": Q + "target_level",
    "why": Q + "why",
    "closing": "education..problems",
    "rating": Q + "current",
}
ONBOARDING = ("lang", "consent", "group", "region", "age", "menu")


def path(at: str, lang: str, catalog: Catalog) -> list[str]:
    """The taps that bring a new participant to `at`."""
    taps = ["hi", f"[data:lang={lang}]", "[data:consent=yes]", "[data:group=citizen]", "[data:region=north]"]
    taps += ["[data:age=~skip]"]
    if at == "declined":
        return [*taps[:2], "[data:consent=no]"]
    if at in ONBOARDING:
        return taps[: ONBOARDING.index(at) + 1]
    if at == "confirm_delete":
        return [*taps, "ลบข้อมูล"]
    taps.append("[data:area=education]")
    if at in ("level", "rating"):
        return taps
    taps.append(f"[data:q.{KEY['level']}=2]")
    if at == "target":
        return taps
    if at == "why":
        return [*taps, f"[data:q.{KEY['target']}=5]"]  # the plan says 4: "why?" follows
    assert at == "closing"
    taps.append(f"[data:q.{KEY['target']}=4]")
    for item in catalog.areas["education"].items[1:]:  # each as the plan has it: no "why?"
        taps += [f"[data:q.education.{item.id}.current_level={item.current}]"]
        taps += [f"[data:q.education.{item.id}.target_level={item.target}]"]
    return taps


# (where, language, typed, expected): `field=value` is the answer stored; `answer=<option>` the
# option stored for the question; `text` the typed text stored as it is; `skipped`; `cmd:<name>`
# the command run (and seen to act); `erased` / `kept` at the delete confirmation; `reprompt`:
# nothing is taken, the question is asked again.
CASES: list[tuple[str, str, str, str]] = [
    # the language question (no language yet: both are understood)
    ("lang", "th", "ไทยค่ะ", "lang=th"),
    ("lang", "th", "ไทยครับ", "lang=th"),
    ("lang", "th", "ภาษาไทย", "lang=th"),
    ("lang", "th", "ภาษาไทยค่ะๆ", "lang=th"),
    ("lang", "th", "ไ\u200bท\u200bย", "lang=th"),
    ("lang", "th", "๑", "lang=th"),
    ("lang", "en", "อังกฤษ", "lang=en"),
    ("lang", "en", "ภาษาอังกฤษค่ะ", "lang=en"),
    ("lang", "en", "english please", "lang=en"),
    ("lang", "en", "English.", "lang=en"),
    ("lang", "en", "２", "lang=en"),
    ("lang", "th", "ค่ะ", "reprompt"),
    # consent
    ("consent", "th", "ยินยอมค่ะ", "consent=given"),
    ("consent", "th", "ตกลงค่ะ", "consent=given"),
    ("consent", "th", "ได้ค่ะ", "consent=given"),
    ("consent", "th", "ค่ะ", "consent=given"),
    ("consent", "th", "ครับ", "consent=given"),
    ("consent", "th", "ค่าาา", "consent=given"),
    ("consent", "th", "ครับครับ", "consent=given"),
    ("consent", "th", "ยิน ยอม ค่ะ", "consent=given"),
    ("consent", "th", "ไม่ยินยอมค่ะ", "consent=declined"),
    ("consent", "th", "ไม่ค่ะ", "consent=declined"),
    ("consent", "th", "ไม่ได้ครับ", "consent=declined"),
    ("consent", "th", "ไม่ตกลงนะคะ", "consent=declined"),
    ("consent", "th", "ไม่แน่ใจค่ะ", "reprompt"),
    ("consent", "en", "Yes please", "consent=given"),
    ("consent", "en", "I agree", "consent=given"),
    ("consent", "en", "OK", "consent=given"),
    ("consent", "en", "no thanks", "consent=declined"),
    ("declined", "th", "ยินยอมค่ะ", "consent=given"),
    ("declined", "th", "ค่ะ", "reprompt"),  # after declining, "ค่ะ" only acknowledges: no consent
    # the profile
    ("group", "th", "๑", "group=citizen"),
    ("group", "th", "เกษตรกรค่ะ", "group=farmer"),
    ("group", "th", "ข้อ 3", "group=farmer"),
    ("group", "th", "3 ค่ะ", "group=farmer"),
    ("group", "en", "Farmer please", "group=farmer"),
    ("group", "th", "ข้ามค่ะ", "reprompt"),  # not optional: said so, asked again
    ("region", "th", "อีสานค่ะ", "region=northeast"),
    ("region", "th", "กรุงเทพ ครับ", "region=bangkok"),
    ("region", "th", "ภาคใต้จ้า", "region=south"),
    ("region", "en", "๔", "region=northeast"),
    ("age", "th", "30-39 ค่ะ", "age=a30_39"),
    ("age", "th", "ข้ามค่ะ", "age=skipped"),
    ("age", "en", "skip please", "age=skipped"),
    # the menu of areas
    ("menu", "th", "การศึกษาค่ะ", "area=education"),
    ("menu", "th", "๑", "area=education"),
    ("menu", "en", "Education please", "area=education"),
    # a level question (1–5, then "don't know")
    ("level", "th", "๓", "answer=3"),
    ("level", "th", "ระดับ 3", "answer=3"),
    ("level", "th", "ระดับ ๓ ค่ะ", "answer=3"),
    ("level", "th", "3 ค่ะ", "answer=3"),
    ("level", "th", "ข้อ 2", "answer=2"),
    ("level", "th", "ตอบ 4 ครับ", "answer=4"),
    ("level", "th", "3\u200b", "answer=3"),
    ("level", "th", "ไม่ทราบค่ะ", "answer=dk"),
    ("level", "th", "ระดับ 4 ดิจิทัลเต็มรูปแบบ", "answer=4"),
    ("level", "th", "ระดับ", "reprompt"),  # the word alone: no level given
    ("level", "th", "ข้ามค่ะ", "reprompt"),  # not optional
    ("level", "en", "level 3", "answer=3"),
    ("level", "en", "３", "answer=3"),
    ("level", "en", "don't know", "answer=dk"),
    ("target", "th", "๔ ค่ะ", "answer=4"),
    ("target", "th", "ย้อนกลับค่ะ", "cmd:back"),
    ("target", "en", "back please", "cmd:back"),
    # the agreement form's rating question
    ("rating", "th", "เห็นด้วยค่ะ", "answer=4"),
    ("rating", "th", "ไม่เห็นด้วยค่ะ", "answer=2"),
    ("rating", "th", "ไม่เห็นด้วยอย่างยิ่งครับ", "answer=1"),
    ("rating", "th", "๕", "answer=5"),
    ("rating", "en", "strongly agree", "answer=5"),
    # "why?" and the closing questions: the text as typed, or a skip
    ("why", "th", "ข้ามค่ะ", "skipped"),
    ("why", "th", "ข้ามครับ", "skipped"),
    ("why", "th", "ข้าม นะคะ", "skipped"),
    ("why", "th", "ครูยังขาดอุปกรณ์ค่ะ", "text"),
    ("why", "th", "๓ ปีที่แล้วยังไม่มีค่ะ", "text"),
    ("why", "en", "skip", "skipped"),
    ("why", "th", "ค่ะ", "reprompt"),  # a particle alone is no reason: asked for words, or Skip
    ("why", "th", "นะคะๆ", "reprompt"),
    ("why", "en", "Teachers lack devices.", "text"),
    ("closing", "th", "อินเทอร์เน็ตช้า นะคะ", "text"),
    ("closing", "th", "ข้ามค่ะ", "skipped"),
    ("closing", "en", "ข้ามค่ะ", "skipped"),
    # the delete confirmation: a polite particle alone erases nothing
    ("confirm_delete", "th", "ยืนยันลบค่ะ", "erased"),
    ("confirm_delete", "th", "ยกเลิกค่ะ", "kept"),
    ("confirm_delete", "th", "ไม่ค่ะ", "kept"),
    ("confirm_delete", "th", "ค่ะ", "reprompt"),
    ("confirm_delete", "en", "yes", "erased"),
    # command words with a particle
    ("menu", "th", "สวัสดีค่ะ", "cmd:start"),
    ("level", "th", "สวัสดีครับ", "cmd:start"),
    ("level", "th", "เริ่มค่ะ", "cmd:start"),
    ("level", "th", "ช่วยด้วยค่ะ", "cmd:help"),
    ("level", "th", "ช่วยเหลือครับ", "cmd:help"),
    ("level", "th", "เมนูค่ะ", "cmd:areas"),
    ("level", "th", "สถานะค่ะ", "cmd:status"),
    ("level", "th", "ลบข้อมูลค่ะ", "cmd:deleteme"),
    ("level", "th", "เปลี่ยนภาษาค่ะ", "cmd:language"),
    ("menu", "en", "help please", "cmd:help"),
    ("menu", "en", "my data", "cmd:mydata"),
    ("menu", "en", "delete my data", "cmd:deleteme"),
]

COMMAND_DONE: dict[str, Callable[[State, str, str], bool]] = {
    "start": lambda s, lang, said: tr(lang, "resume" if s.step == "survey" else "menu") in said,
    "help": lambda s, lang, said: tr(lang, "help_intro") in said,
    "areas": lambda s, lang, said: s.step == "menu",
    "status": lambda s, lang, said: tr(lang, "status") in said,
    "deleteme": lambda s, lang, said: s.step == "confirm_delete",
    "language": lambda s, lang, said: s.step == "lang",
    "mydata": lambda s, lang, said: tr(lang, "mydata") in said,
    "back": lambda s, lang, said: s.key == KEY["level"],
}


@pytest.fixture(scope="module")
def agreement() -> Catalog:
    return load_catalog(AGREEMENT)


@pytest.mark.parametrize(
    ("at", "lang", "typed", "expected"), CASES, ids=[f"{n}-{c[0]}-{c[1]}" for n, c in enumerate(CASES)]
)
def test_typed(at: str, lang: str, typed: str, expected: str, catalog: Catalog, agreement: Catalog) -> None:
    cat = agreement if at == "rating" else catalog
    convo = Conversation(cat)
    for line in path(at, lang, cat):
        convo.send(line)
    before = convo.state.model_copy(deep=True)
    said = convo.send(typed)
    s = convo.state
    kind, _, value = expected.partition("=")
    if kind in ("lang", "consent", "group", "region"):
        assert getattr(s, kind) == value, said
    elif kind == "age":
        assert s.step == "menu" and s.age == (None if value == "skipped" else value), said
    elif kind == "area":
        assert s.step == "survey" and s.area == value, said
    elif kind == "answer":
        assert s.answers[KEY[at]].option == value, said
    elif kind == "text":
        assert s.answers[KEY[at]].text == typed, said  # stored exactly as typed
    elif kind == "skipped":
        assert s.answers[KEY[at]].skipped and s.key != KEY[at], said
    elif kind == "erased":
        assert convo.erased and s.consent is None
    elif kind == "kept":
        assert not convo.erased and s.step == "menu" and s.consent == "given", said
    elif kind == "reprompt":
        assert (s.step, s.key, s.answers, s.lang, s.consent) == (
            before.step,
            before.key,
            before.answers,
            before.lang,
            before.consent,
        )
        assert s.group == before.group and s.region == before.region and not convo.erased
        assert said, "asked again"
        return
    else:
        assert kind.startswith("cmd:"), expected
        name = kind.removeprefix("cmd:")
        assert parse_command(typed)[0] == name
        assert COMMAND_DONE[name](s, lang, said), said
    assert "ขออภัย ไม่เข้าใจ" not in said and "Sorry, I did not understand" not in said


def test_the_table_covers_every_question_type_in_both_languages() -> None:
    assert len(CASES) >= 60
    places = {at for at, *_ in CASES}
    assert places >= {"lang", "consent", "group", "region", "age", "menu", "level", "rating", "why", "closing"}
    assert {"confirm_delete"} <= places and any(e.startswith("cmd:") for *_, e in CASES)
    assert {lang for _, lang, *_ in CASES} == {"th", "en"}


@pytest.mark.parametrize(
    ("typed", "reads"),
    [
        ("ชนะครับ", ["ชนะครับ", "ชนะ", "ช"]),  # a word ending like a particle is read whole first
        ("ข้าม\u200bค่ะ", ["ข้ามค่ะ", "ข้าม"]),
        ("ค่ะๆ", ["ค่ะๆ", "ค่ะ"]),
        ("ระดับ ๓ ค่ะ", ["ระดับ3ค่ะ", "ระดับ3", "3ค่ะ", "3"]),
        ("ค่่ะ", ["ค่ะ"]),  # a tone mark typed twice
        ("เเล้ว", ["แล้ว"]),  # two เ typed for แ
        ("ระดับ", ["ระดับ"]),  # alone: a word (the levels' explanation), never a number
    ],
)
def test_readings(typed: str, reads: list[str]) -> None:
    assert list(readings(typed)) == reads


def test_nothing_that_says_no_is_a_yes() -> None:
    for no in ("ไม่ค่ะ", "ไม่ครับ", "ไม่ยินยอมค่ะ", "ไม่ตกลงค่ะ", "ไม่ได้ค่ะ", "ไม่เอาค่ะ", "ไม่เห็นด้วยครับ", "ไม่จ้า"):
        assert yes_or_no(no) is False, no
    for unsure in ("ไม่แน่ใจค่ะ", "ไม่รู้ค่ะ", "นะ", "คะ", "ตกลงไม่ได้ค่ะ", "ขอไม่ตอบค่ะ", "ได้ไม่ค่ะ", "1 ไม่"):
        assert yes_or_no(unsure) is not True, unsure
    assert yes_or_no("ค่ะ") is True and yes_or_no("ค่ะ", bare_yes=False) is None
    assert typed_number("๑๒") == 12 and typed_number("ระดับ") is None and typed_number("12345678") is None


@pytest.mark.parametrize(
    ("at", "lang", "typed", "expected"), CASES, ids=[f"{n}-{c[0]}-{c[1]}" for n, c in enumerate(CASES)]
)
def test_over_the_flood_limit_only_answers_get_through(
    at: str, lang: str, typed: str, expected: str, catalog: Catalog, agreement: Catalog
) -> None:
    """Past the flood limit every typed answer of the table is still taken (and not counted); a
    command or text that answers nothing changes nothing and gets no reply."""
    cat = agreement if at == "rating" else catalog
    convo = Conversation(cat)
    for line in path(at, lang, cat):
        convo.send(line)
    state = convo.state
    out = Engine(Context(cat, convo.now, flood="drop")).decide(state, Inbound("text", text=typed))
    if expected == "reprompt" or expected.startswith("cmd:"):
        assert not out.accepted and out.replies == [] and out.state is state
    else:
        assert out.accepted and out.replies and out.state != state
