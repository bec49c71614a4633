"""What the levels mean, one tap or word away, and one naming of the levels everywhere.

The guide's path is followed on LINE (signed webhooks into the running app, the Flex message
checked by the fake Messaging API as LINE checks it), on Telegram (the fake Bot API) and on the
console; the survey is tests/surveys/examples, whose first capability gives an example per level.
Both languages' names and meanings are shown to come from the same level entries: an entry
changed in a copy of the catalog changes the card, the guide, the presenter page and the report."""

from __future__ import annotations

import io
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.app import open_app
from bot.config import Settings
from bot.engine import Context, Engine
from bot.engine.input import parse_command
from bot.handlers.console import run_console
from bot.handlers.line import render
from bot.model import Inbound, State
from bot.surveys import Catalog, load_catalog
from exports.presenter import level_names
from exports.report import Report, Stats
from testbed.line_api import CHANNEL_SECRET, FakeLineApi
from testbed.telegram_api import FakeBotAPI
from tests.line_screen import shown
from tests.test_line import Harness
from tests.test_telegram import onboard, running

EXAMPLES = Path(__file__).parent / "surveys" / "examples"
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
FIRST = "education.enrolment.current_level"
WORDS = ("ระดับ", "ระดับหมายถึงอะไร", "ความหมายของระดับ", "levels", "what do the levels mean", "what do levels mean")


@pytest.fixture(scope="module")
def examples() -> Catalog:
    return load_catalog(EXAMPLES)


def on_first_question(lang: str) -> State:
    return State(
        lang=lang, consent="given", group="citizen", region="north", step="survey", area="education", key=FIRST
    )


def decide(catalog: Catalog, state: State, event: Inbound):
    return Engine(Context(catalog, NOW)).decide(state, event)


# ---- the engine ------------------------------------------------------------------------------


@pytest.mark.parametrize("word", WORDS)
def test_the_words_call_the_guide_and_a_level_stays_an_answer(word: str) -> None:
    assert parse_command(word) == ("levels", "")
    assert parse_command("ระดับ 3") == (None, "")  # an answer, not the command


@pytest.mark.parametrize("lang", ["th", "en"])
def test_the_guide_shows_the_capabilitys_examples_then_asks_the_same_question_again(
    examples: Catalog, lang: str
) -> None:
    state = on_first_question(lang)
    asked = Engine(Context(examples, NOW)).ask(state)
    [levels_button] = [b for b in asked.buttons if b.data.endswith("=~levels")]
    assert levels_button.label == {"th": "ระดับหมายถึงอะไร?", "en": "What levels mean?"}[lang]
    assert len(levels_button.label) <= 20
    for event in (Inbound("button", data=levels_button.data), Inbound("text", text=WORDS[0 if lang == "th" else 3])):
        out = decide(examples, state, event)
        assert out.state == state and not out.refused  # nothing changes, nothing is recorded
        guide, again = out.replies
        assert guide.guide is not None and not guide.buttons
        item = examples.areas["education"].items[0]
        assert [lv.example for lv in guide.guide.levels] == [
            {"th": "เช่น ", "en": "e.g. "}[lang] + item.examples[n](lang)  # type: ignore[index]
            for n in range(1, 6)
        ]
        assert item.capability(lang) in guide.guide.about
        for lv in guide.guide.levels:  # the text says what the guide shows
            assert f"{lv.name}: {lv.means}" in guide.text and lv.example in guide.text  # type: ignore[operator]
        # the same question, compactly: no card again, its buttons, the guide's among them
        assert again.card is None and again.text == examples.step(FIRST).question.prompt(lang)  # type: ignore[union-attr]
        assert again.buttons == asked.buttons


def test_without_examples_and_off_the_survey_the_guide_gives_the_five_levels(examples: Catalog) -> None:
    state = on_first_question("th").model_copy(update={"key": "education.teacher_skills.current_level"})
    guide, again = decide(examples, state, Inbound("text", text="ระดับ")).replies
    assert guide.guide is not None and guide.guide.about == "" and all(lv.example is None for lv in guide.guide.levels)
    assert again.text == examples.step(state.key).question.prompt("th")  # type: ignore[arg-type,union-attr]
    menu = on_first_question("en").model_copy(update={"step": "menu", "area": None, "key": None})
    out = decide(examples, menu, Inbound("text", text="what do the levels mean"))
    guide, again = out.replies
    assert out.state == menu and [lv.level for lv in guide.guide.levels] == [1, 2, 3, 4, 5]  # type: ignore[union-attr]
    assert all(lv.example is None for lv in guide.guide.levels)  # type: ignore[union-attr]
    assert [b.data for b in again.buttons] == ["area=education"]  # the menu, asked again


def test_a_guide_button_of_an_earlier_question_still_explains_and_changes_nothing(examples: Catalog) -> None:
    state = on_first_question("th").model_copy(update={"key": "education.teacher_skills.current_level"})
    out = decide(examples, state, Inbound("button", data=f"q.{FIRST}=~levels"))
    assert out.state == state and not out.refused
    assert out.replies[0].guide is not None and out.replies[0].guide.about  # that capability's examples


def changed_catalog(tmp_path: Path) -> Catalog:
    """The examples survey with level 4's entry changed (both languages' name and meaning)."""
    folder = tmp_path / "changed"
    shutil.copytree(EXAMPLES, folder)
    common = yaml.safe_load((folder / "common.yaml").read_text(encoding="utf-8"))
    four = next(lv for lv in common["levels"] if lv["level"] == 4)
    four["name"] = {"th": "ครบวงจรออนไลน์", "en": "Managed (End to end)"}
    four["means"] = {"th": "ทำได้ครบทุกขั้นตอนบนโทรศัพท์", "en": "Every step can be done on a phone."}
    (folder / "common.yaml").write_text(yaml.safe_dump(common, allow_unicode=True), encoding="utf-8")
    return load_catalog(folder)


def test_both_languages_name_and_describe_the_levels_from_the_same_entries(tmp_path: Path) -> None:
    catalog = changed_catalog(tmp_path)
    said = {"th": ("ระดับ 4 ครบวงจรออนไลน์", "ทำได้ครบทุกขั้นตอนบนโทรศัพท์")}
    said["en"] = ("Level 4 Managed (End to end)", "Every step can be done on a phone.")
    for lang, (name, means) in said.items():
        state = on_first_question(lang)
        card = Engine(Context(catalog, NOW)).ask(state).card
        assert card is not None and card.target == 4 and card.target_line.endswith(name)  # the card
        [message] = [m.to_dict() for m in render([Engine(Context(catalog, NOW)).ask(state)])]
        assert name in shown(message)  # as LINE draws it
        guide = decide(catalog, state, Inbound("text", text="levels")).replies[0]
        four = guide.guide.levels[3]  # type: ignore[union-attr]
        assert (four.name, four.means) == (name, means) and f"{name}: {means}" in guide.text  # the guide
        intro = decide(catalog, state.model_copy(update={"step": "menu"}), Inbound("button", data="area=education"))
        assert name in intro.replies[0].text  # the area's intro lists the levels
        assert catalog.level_options[3].label(lang) == name  # the option, as a previous answer shows it
    assert level_names(catalog, 4) == {"level": 4, "th": said["th"][0], "en": said["en"][0]}  # the presenter page
    report = Report(catalog, io.StringIO(), Stats(), {})
    assert report.level_name(4) == (
        f'<span class="th" lang="th">{said["th"][0]}</span><span class="en" lang="en">{said["en"][0]}</span>'
    )
    assert report.level_text(4) == f"{said['th'][0]} / {said['en'][0]}"


# ---- LINE, Telegram, the console ------------------------------------------------------------


async def test_on_line_the_guide_is_one_flex_message_then_the_question(tmp_path: Path) -> None:
    async with FakeLineApi() as api:
        settings = Settings(
            _env_file=None,
            db=tmp_path / "line.db",
            surveys_dir=EXAMPLES,
            line_channel_secret=CHANNEL_SECRET,
            line_channel_access_token=api.token,
            line_api_base_url=api.url,
        )
        line = await Harness(settings, api).start()
        try:
            user = line.user("U" + "9" * 32)
            await line.send(user.follow())
            for prefix in ("lang=th", "consent=yes", "group=", "region=", "age=", "area=education"):
                await line.send(user.tap(lambda a, p=prefix: a["data"].startswith(p)))
            guide_data = next(a["data"] for a in user.bubble_buttons() if a["data"].endswith("=~levels"))
            before = await line.answers(user.user_id)
            messages = await line.send(user.postback(guide_data))
            assert all(c.status == 200 for c in api.calls), [c.body.get("_error") for c in api.calls]
            guide, again = messages
            assert guide["type"] == "flex" and guide["contents"]["type"] == "bubble" and "quickReply" not in guide
            flat = shown(guide)
            assert "ระดับ 4 ดิจิทัลเต็มรูปแบบ" in flat and "เช่น สมัคร ส่งเอกสาร และรับผลออนไลน์ได้ครบ" in flat
            assert len(guide["altText"]) <= 400
            assert again["type"] == "text" and again["text"].startswith("ท่านเห็นว่าวันนี้")
            assert [a["data"] for a in user.quick_replies()][-2:] == [guide_data, f"q.{FIRST}=~back"]
            # typed, as on LINE for PC: the same, and still nothing recorded
            typed = await line.send(user.text("ระดับหมายถึงอะไร"))
            assert [m["type"] for m in typed] == ["flex", "text"] and typed[0]["contents"] == guide["contents"]
            assert await line.answers(user.user_id) == before
        finally:
            await line.stop()


async def test_on_telegram_the_guide_is_one_text_message_then_the_question(tmp_path: Path) -> None:
    async with FakeBotAPI() as api, running(api, tmp_path, surveys_dir=EXAMPLES) as bot:
        p = bot.participant(5550021)
        await onboard(p, "en", area="education")
        data = next(d for _, d in p.buttons() if d.endswith("=~levels"))
        calls = await p.tap(data)
        sent = [c.params["text"] for c in calls if c.method == "sendMessage"]
        assert len(sent) == 2 and not [c for c in calls if c.method == "editMessageText"]  # the card stays
        assert "Level 4 Managed (Fully digital): The whole service is online" in sent[0]
        assert "e.g. Apply, send documents and get the result online" in sent[0]
        assert sent[1] == "Where do you think this capability stands today?"
        assert data in [d for _, d in p.buttons()]
        assert await bot.answers(5550021) == {}


async def test_on_the_console_the_guide_is_text_then_the_question(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, db=tmp_path / "console.db", surveys_dir=EXAMPLES)
    out = io.StringIO()
    script = ["1", "1", "1", "1", "7", "1", "ระดับ", "7"]  # ไทย, consent, profile, age skipped, area; the guide twice
    async with open_app(settings) as app:
        await run_console(app.service, "guide", io.StringIO("\n".join(script) + "\n"), out)
    text: Any = out.getvalue()
    assert text.count("ระดับความพร้อมดิจิทัล\nตัวอย่างจาก: การรับสมัครเรียนแบบดิจิทัล") == 2  # typed, then its number
    assert text.count("ระดับ 1 รัฐบาลอิเล็กทรอนิกส์: มีข้อมูลและแบบฟอร์มบนเว็บไซต์") == 2
    assert text.rstrip().endswith("  8. ย้อนกลับ") and "  7. ระดับหมายถึงอะไร?" in text


async def test_on_telegram_the_card_stays_marked_answered_and_the_next_question_comes_under_it(
    tmp_path: Path,
) -> None:
    async with FakeBotAPI() as api, running(api, tmp_path, surveys_dir=EXAMPLES) as bot:
        p = bot.participant(5550022)
        await onboard(p, "en", area="education")
        calls = await p.tap(f"q.{FIRST}=2")
        [edit] = [c for c in calls if c.method == "editMessageText"]
        assert edit.params["text"].startswith("Capability 1/2 · Education\nDigital enrolment\nCurrent level: Level 2")
        assert edit.params["text"].endswith("\n\n✓ 2 (plan)") and "reply_markup" not in edit.params
        [sent] = [c.params["text"] for c in calls if c.method == "sendMessage"]
        assert sent == "Which level is a feasible and appropriate target for 2027?"
        calls = await p.tap("q.education.enrolment.target_level=~back")  # back: the card again, in place
        [edit] = [c for c in calls if c.method == "editMessageText"]
        assert "Current level: Level 2 Developing (Open)" in edit.params["text"] and "reply_markup" in edit.params
