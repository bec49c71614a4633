"""The words participants read: one term per concept (docs/glossary.md), every Thai message ending
politely, dates as Thai people read them, round 2 in plain words, a true notice (asked again of
those who agreed to an earlier one), and a pause at the end of an area."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.admin import closes_arg
from bot.engine import Context, Engine
from bot.engine.delphi import closes_text, invitation, overview
from bot.engine.privacy import notice_text
from bot.i18n import MESSAGES, NOTICE_VERSION, REASK_VERSIONS, day, tr, when
from bot.model import GroupResult, Inbound, RoundView, State
from bot.service import Service
from bot.surveys import Catalog
from storage.delphi import group_result

from .test_engine import consented
from .transcript import Conversation

ROOT = Path(__file__).resolve().parents[1]

# Messages only organizers and admins read (bot/admin.py, the live session's facilitator, the
# broadcast report): plain statements, no persona.
ORGANIZER_ONLY = frozenset({"broadcast_report", "quota_refused", "quota_low", "live_wave"})
ORGANIZER_ONLY |= {k for k in MESSAGES if k.startswith("admin_")}  # to admins: commands' usage and failures
# Not a message's end: button labels, lines and headings inside a longer message (a card, a list, a
# summary), fragments put into other messages, and the notice (a document inside the consent question).
PARTS = frozenset(
    {
        # buttons
        "consent_yes",
        "consent_no",
        "mark_current",
        "mark_target",
        "delete_yes",
        "delete_no",
        "skip",
        "back",
        "register_n",
        "unregister_n",
        "pause_button",
        "delphi_start",
        "delphi_menu_button",
        "delphi_keep",
        # lines, headings and labels inside a message
        "notice",
        "privacy_title",
        "level_named",
        "card_heading",
        "levels_button",
        "levels_title",
        "levels_about",
        "levels_example",
        "progress",
        "progress_closing",
        "capability",
        "current",
        "target",
        "previous_answer",
        "type_text",
        "summary_item",
        "sum_current",
        "sum_target",
        "sum_rating",
        "your_picks",
        "summary_texts",
        "status_area",
        "st_done",
        "st_doing",
        "st_none",
        "mydata_profile",
        "mydata_page",
        "not_chosen",
        "registered_mark",
        "full_mark",
        "seats_left",
        "not_given",
        "dk_short",
        "delphi_closes",
        "delphi_progress",
        "delphi_yours",
        "delphi_yours_now",
        "delphi_group",
        "delphi_group_half",
        "delphi_group_none",
        "delphi_one",
        "delphi_all",
        "delphi_most",
        "delphi_most_often",
        "delphi_most_tied",
        "delphi_and",
        "delphi_half",
        "delphi_half_one",
        "delphi_middle",
        "delphi_middle_between",
        "delphi_none",
        "delphi_round_label",
        "live_mark",
        "live_heading",
    }
)
POLITE = re.compile(r"(ค่ะ|คะ)$")
TRAILING = " \n.:)”"


def ends_politely(text: str) -> bool:
    """A Thai message ends with ค่ะ or คะ: after its closing punctuation, or before a last aside in
    brackets ("(ไม่บังคับ)", "({question})"), or before a placeholder for the list it introduces."""
    text = text.strip()
    candidates = [text]
    if text.endswith(")") and "(" in text:
        candidates.append(text[: text.rindex("(")])
    candidates.append(re.sub(r"\{[a-z_]+\}$", "", text))
    return any(POLITE.search(c.rstrip(TRAILING)) for c in candidates)


def test_the_exemptions_name_real_messages() -> None:
    assert MESSAGES.keys() >= (ORGANIZER_ONLY | PARTS)


@pytest.mark.parametrize("key", sorted(MESSAGES.keys() - ORGANIZER_ONLY - PARTS))
def test_every_thai_message_to_a_participant_ends_politely(key: str) -> None:
    th, _en = MESSAGES[key]
    assert ends_politely(th), f"{key}: {th!r} ends without ค่ะ / คะ"


def test_every_question_the_shipped_surveys_ask_in_chat_ends_politely(catalog: Catalog) -> None:
    prompts = {q.key: q.question.prompt.th for area in catalog.areas for q in catalog.flow(area)}
    assert prompts and not [k for k, th in prompts.items() if not ends_politely(th)]


def test_the_politeness_rule_can_fail() -> None:
    assert not ends_politely("ข้อนี้ข้ามไม่ได้ แต่เลือก “ไม่ทราบ” ได้")
    assert not ends_politely("กรุณาเลือกภาษา")
    assert ends_politely("ท่านอยู่ในช่วงอายุใดคะ (ไม่ตอบก็ได้ กด “ข้าม”)")
    assert ends_politely("ขอบคุณค่ะ สรุปคำตอบของท่านมีดังนี้ค่ะ:")


# ---- one term per concept ---------------------------------------------------------------------

# (variant, the glossary's term) in Thai and English
THAI_VARIANTS = (
    ("แชท", "แชต"),
    ("สถานภาพ", "ระดับปัจจุบัน"),
    ("ประเมินไว้", "ระดับปัจจุบัน"),
    ("วันนี้", "ระดับปัจจุบัน"),
    ("แผนเสนอ", "ร่างแผน"),
    ("เป้า 2570", "เป้าหมายปี 2570"),
    ("ระดับเป้าหมาย", "เป้าหมายปี 2570"),
    ("เชิงดิจิทัลของภาครัฐ", "ขีดความสามารถ"),
    ("หัวข้อ", "ขีดความสามารถ"),
)
ENGLISH_VARIANTS = (("assessed", "current level"), ("proposed", "2027 target"), ("Current status", "Current level"))


def participant_texts(catalog: Catalog) -> list[tuple[str, str, str]]:
    """(where, Thai, English) of every text this branch words: the messages, the areas' titles and
    intros, the questions asked of every capability, the rich menu."""
    from bot.handlers.line.richmenu import CHAT_BAR, TILES

    out = [(f"i18n {k}", th, en) for k, (th, en) in MESSAGES.items()]
    for area in catalog.areas.values():
        out += [(f"{area.id} title", area.title.th, area.title.en), (f"{area.id} intro", area.intro.th, area.intro.en)]
    out += [(f"question {q.id}", q.prompt.th, q.prompt.en) for q in catalog.common.item_questions]
    for tile in TILES:
        out += [(f"menu {tile.command}", f"{tile.title.th} {tile.hint.th}", f"{tile.title.en} {tile.hint.en}")]
    return [*out, ("menu bar", CHAT_BAR.th, CHAT_BAR.en)]


def test_one_term_per_concept_in_what_participants_read(catalog: Catalog) -> None:
    wrong = []
    for where, th, en in participant_texts(catalog):
        wrong += [(where, bad, good) for bad, good in THAI_VARIANTS if bad in th]
        wrong += [(where, "ความสามารถ", "ขีดความสามารถ") for _ in re.finditer(r"(?<!ขีด)ความสามารถ", th)]
        wrong += [(where, bad, good) for bad, good in ENGLISH_VARIANTS if bad in en]
    assert not wrong


@pytest.mark.parametrize("path", ["exports/report.py", "exports/findings.py", "exports/presenter.py"])
def test_one_term_per_concept_in_the_report_and_the_presenter_page(path: str) -> None:
    source = (ROOT / path).read_text(encoding="utf-8")
    found = [bad for bad, _ in THAI_VARIANTS if bad in source and bad not in ("วันนี้", "หัวข้อ")]
    found += re.findall(r"(?<!ขีด)ความสามารถ", source)
    assert not found, path


def test_the_glossary_is_written_once_and_the_messages_point_to_it() -> None:
    import bot.i18n

    glossary = (ROOT / "docs" / "glossary.md").read_text(encoding="utf-8")
    assert "docs/glossary.md" in (bot.i18n.__doc__ or "")
    for term in ("ขีดความสามารถ", "ระดับปัจจุบัน", "เป้าหมายปี 2570", "ร่างแผน", "แชต", "รอบที่ 2", "ค่ะ"):
        assert term in glossary


# ---- dates ------------------------------------------------------------------------------------


def test_a_bare_closing_date_closes_at_the_end_of_that_day_and_says_so() -> None:
    closes = closes_arg("2026-12-20")
    opened = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
    r = RoundView(area="education", round=2, opened_at=opened, closes_at=closes)
    assert r.is_open(datetime(2026, 12, 20, 16, 59, 59, tzinfo=UTC))  # 23:59:59 in Bangkok
    assert not r.is_open(datetime(2026, 12, 20, 17, 0, tzinfo=UTC))  # 00:00 on the 21st
    assert closes_text(r, "th") == "อา. 20 ธ.ค. 2569 เวลา 23:59 น."
    assert closes_text(r, "en") == "Sun 20 Dec 2026, 23:59"
    said = invitation("th", "ด้านการศึกษา", "education", closes_text(r, "th")).text
    assert "(ปิดรับ อา. 20 ธ.ค. 2569 เวลา 23:59 น.)" in said and "21 ธ.ค." not in said
    # a moment that is no midnight is written as it is, and `when` alone never moves one
    assert when(closes, "th") == "จ. 21 ธ.ค. 2569 เวลา 00:00 น."
    assert when(closes_arg("2026-12-20T18:30"), "th", until=True) == "อา. 20 ธ.ค. 2569 เวลา 18:30 น."


def test_dates_are_written_the_thai_way_with_the_buddhist_era() -> None:
    assert day("2026-12-07", "th") == "7 ธันวาคม 2569"
    assert day("2026-12-07", "en") == "7 December 2026"
    assert when(datetime(2026, 12, 7, 11, 54, tzinfo=UTC), "th") == "จ. 7 ธ.ค. 2569 เวลา 18:54 น."
    assert when(datetime(2026, 12, 7, 11, 54, tzinfo=UTC), "en") == "Mon 7 Dec 2026, 18:54"


def test_the_notice_title_gives_its_version_as_a_date(catalog: Catalog) -> None:
    engine = Engine(Context(catalog, datetime(2026, 12, 8, tzinfo=UTC)))
    for lang, title in (
        ("th", f"ประกาศความเป็นส่วนตัว (ฉบับวันที่ {day(NOTICE_VERSION, 'th')})"),
        ("en", f"Privacy notice (version of {day(NOTICE_VERSION, 'en')})"),
    ):
        state = State(lang=lang, step="menu", consent="given", consent_version=NOTICE_VERSION)
        out = engine.decide(state, Inbound("text", text="/privacy"))
        assert out.replies[0].text.startswith(title)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", NOTICE_VERSION)  # stored with each consent as an ISO date
    assert "ฉบับวันที่ 7 ธันวาคม 2569" in tr("th", "privacy_title", version=day("2026-12-07", "th"))


# ---- round 2 in plain words ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "th", "en"),
    [
        (
            [0, 0, 12, 8, 3],
            "ภาพรวมคำตอบรอบแรก: ผู้ตอบ 23 คน ส่วนใหญ่ตอบระดับ 3 (ครึ่งหนึ่งตอบระหว่างระดับ 3–4)",
            "Round 1 overall: 23 answered; most answered level 3 (half answered between levels 3 and 4)",
        ),
        (  # no majority: "most often", and the middle half wider
            [5, 5, 6, 4, 3],
            "ภาพรวมคำตอบรอบแรก: ผู้ตอบ 23 คน ตอบระดับ 3 มากที่สุด (ครึ่งหนึ่งตอบระหว่างระดับ 2–4)",
            "Round 1 overall: 23 answered; level 3 was answered most often (half answered between levels 2 and 4)",
        ),
        (  # a tie names both levels
            [0, 2, 2, 0, 0],
            "ภาพรวมคำตอบรอบแรก: ผู้ตอบ 4 คน ตอบระดับ 2 และ 3 มากที่สุดเท่ากัน (ครึ่งหนึ่งตอบระหว่างระดับ 2–3)",
            "Round 1 overall: 4 answered; levels 2 and 3 were answered most, equally (half answered between "
            "levels 2 and 3)",
        ),
        (  # median 2, IQR 2–2.25 in the report: whole levels here
            [0, 3, 1, 0, 0],
            "ภาพรวมคำตอบรอบแรก: ผู้ตอบ 4 คน ส่วนใหญ่ตอบระดับ 2",
            "Round 1 overall: 4 answered; most answered level 2",
        ),
        (
            [0, 0, 0, 2, 0],
            "ภาพรวมคำตอบรอบแรก: ผู้ตอบ 2 คน ทุกคนตอบระดับ 4",
            "Round 1 overall: 2 answered; all answered level 4",
        ),
        (
            [1, 0, 0, 0, 0],
            "ภาพรวมคำตอบรอบแรก: ผู้ตอบ 1 คน ตอบระดับ 1",
            "Round 1 overall: 1 answered; they answered level 1",
        ),
    ],
)
def test_round_one_is_told_in_whole_levels(counts: list[int], th: str, en: str) -> None:
    result = group_result(counts)
    assert (overview("th", result), overview("en", result)) == (th, en)
    assert result.counts == tuple(counts) and result.median is not None  # staff's figures are kept too


def test_the_middle_half_holds_at_least_half_of_the_answers() -> None:
    for n in range(2, 40):
        for split in range(n + 1):  # answers at levels 1 and 5 in every proportion
            counts = [split, 0, 0, 0, n - split]
            text = overview("en", group_result(counts))
            if m := re.search(r"between levels (\d) and (\d)", text):
                low, high = int(m.group(1)), int(m.group(2))
                inside = sum(c for level, c in enumerate(counts, 1) if low <= level <= high)
                assert 2 * inside >= n, (counts, text)


def test_a_round_stored_before_the_counts_is_still_read_in_whole_levels() -> None:
    old = GroupResult.model_validate({"n": 4, "median": 2.5, "q1": 2.0, "q3": 3.25})  # as migration 0009 stored it
    assert overview("th", old) == "ภาพรวมคำตอบรอบแรก: ผู้ตอบ 4 คน คำตอบกึ่งกลางอยู่ระหว่างระดับ 2 และ 3"
    assert overview("en", GroupResult(n=3, median=4.0)) == "Round 1 overall: 3 answered; the middle answer is level 4"


def test_the_round_two_intro_speaks_no_statistics() -> None:
    for key in ("delphi_intro", "delphi_invite", "notice"):
        th, en = MESSAGES[key]
        for word in ("มัธยฐาน", "IQR", "ผลรวม", "median", "n ="):
            assert word not in th and word not in en, (key, word)


# ---- a true notice, asked again of those who agreed to an earlier one --------------------------------


def test_the_notice_says_what_is_kept_how_long_and_what_is_published(catalog: Catalog) -> None:
    ctx = Context(catalog, datetime(2026, 12, 8, tzinfo=UTC), retention_days=365)
    th, en = notice_text(ctx, "th"), notice_text(ctx, "en")
    assert "ยกข้อคิดเห็นที่ท่านพิมพ์มาเป็นตัวอย่าง โดยไม่ระบุผู้เขียน" in th and "without their writer" in en
    assert "ภาพรวมเท่านั้น" not in th and "Only aggregate" not in en  # no longer true
    # as storage purges: each answer from when it was given, the rest from the last message
    assert "คำตอบแต่ละข้อเก็บ 365 วันนับจากวันที่ตอบ" in th and "365 วันนับจากข้อความล่าสุด" in th
    assert "each answer 365 days from when you gave it" in en and "365 days from your last message" in en
    # the chat account id, kept after consent, and what for
    for word in ("รหัสบัญชีแชต", "การแจ้งเตือน", "คำเชิญร่วมรอบที่ 2", "คำตอบต่อข้อความของท่าน"):
        assert word in th.split("• ระยะเวลาเก็บ")[0]
    assert NOTICE_VERSION not in REASK_VERSIONS


def outdated_in_survey(catalog: Catalog) -> Conversation:
    """A participant who agreed to the 2026-12-02 notice, halfway through education."""
    convo = consented(catalog)
    convo.send("[1]")  # education
    convo.send("2")
    state = convo.state.model_copy(update={"consent_version": "2026-12-02"})
    return Conversation(catalog, state)


def test_a_consent_to_an_earlier_notice_is_asked_again_then_they_carry_on(catalog: Catalog) -> None:
    convo = outdated_in_survey(catalog)
    key, answers = convo.state.key, dict(convo.state.answers)
    out = convo.send("4")  # an answer: not taken until they agree to the notice as it is now
    assert "ประกาศความเป็นส่วนตัวมีฉบับใหม่" in out and "ตามประกาศฉบับนี้หรือไม่คะ" in out and "ก่อนเริ่ม" not in out
    assert convo.state.answers == answers and convo.state.step == "consent"
    convo.send(f"[data:q.{key}=4]")  # nor a tap on the question's old button
    assert convo.state.answers == answers and convo.state.step == "consent"
    assert "ข้อมูลของท่านที่เราเก็บไว้" in convo.send("ข้อมูลของฉัน")  # their data is theirs to see
    out = convo.send("[data:consent=yes]")
    assert convo.state.consent_version == NOTICE_VERSION and convo.state.consent_at == convo.now
    assert (convo.state.step, convo.state.key) == ("survey", key) and "ทำต่อจากข้อเดิม" in out
    convo.send("4")
    assert convo.state.answers[key].value == 4
    assert "ประกาศความเป็นส่วนตัวมีฉบับใหม่" not in convo.send("/privacy")  # asked once


def test_declining_the_new_notice_withdraws_consent_and_says_what_happens(catalog: Catalog) -> None:
    convo = outdated_in_survey(catalog)
    convo.send("สถานะ")
    out = convo.send("ไม่ยินยอม")
    assert convo.state.consent == "declined" and "ถอนความยินยอมแล้ว" in out and "ลบข้อมูล" in out
    assert convo.state.answers  # kept until the short purge, or deleted now on request
    assert "ให้ความยินยอมเมื่อ" in convo.send("ข้อมูลของฉัน")  # "my data" still shows what is kept
    convo.send("ลบข้อมูล")
    convo.send("[1]")
    assert convo.erased


def test_a_consent_to_the_current_notice_is_not_asked_again(catalog: Catalog) -> None:
    convo = consented(catalog)
    assert convo.state.consent_version == NOTICE_VERSION
    convo.send("[1]")
    assert convo.state.step == "survey"


# ---- a pause, and an intro that says only true things ------------------------------------------------


def finish_education(convo: Conversation) -> str:
    convo.send("menu")
    convo.send("การศึกษา" if convo.state.lang == "th" else "Education")
    out = ""
    while convo.state.step == "survey":
        step = convo.catalog.step(convo.state.key or "")
        assert step is not None
        out = convo.send(str(step.plan_level) if step.question.kind != "text" else "skip")
    return out


@pytest.mark.parametrize(
    ("lang", "button", "said"),
    [
        ("th", "พอแค่นี้ก่อน", "บันทึกคำตอบไว้แล้วค่ะ พิมพ์ “เริ่ม” เมื่อต้องการทำต่อนะคะ"),
        ("en", "That's all for now", "Saved. Type “start” to carry on."),
    ],
)
def test_the_end_of_an_area_offers_a_pause_beside_the_other_areas(
    catalog: Catalog, lang: str, button: str, said: str
) -> None:
    convo = consented(catalog, lang)
    finish_education(convo)
    labels = [b.label for b in convo.last[-1].buttons]
    assert labels[-1] == button and len(labels) == len(catalog.areas) + 1
    out = convo.send(f"[{len(labels)}]")
    assert out.strip() == said and not convo.last[-1].buttons and convo.outcome.chosen == button  # type: ignore[union-attr]
    assert convo.state.step == "menu"
    convo.send(button)  # typed, too
    assert said in "\n".join(r.text for r in convo.last)


def test_a_pause_in_an_area_keeps_the_place_and_start_carries_on(catalog: Catalog) -> None:
    convo = consented(catalog)
    convo.send("[1]")
    convo.send("2")
    key = convo.state.key
    out = convo.send("พอแค่นี้ก่อน")
    assert "บันทึกคำตอบไว้แล้วค่ะ" in out and convo.state.key == key and not convo.last[-1].buttons
    convo.now += timedelta(days=2)
    out = convo.send("เริ่ม")
    assert "ทำต่อจากข้อเดิม" in out and convo.state.key == key


def test_help_says_how_to_carry_on(catalog: Catalog) -> None:
    convo = consented(catalog)
    out = convo.send("ช่วยเหลือ")
    assert "• เริ่ม: ทำต่อจากข้อที่ค้างไว้" in out and "• พอแค่นี้ก่อน:" in out and "บันทึกทันที" in out
    out = consented(catalog, "en").send("help")
    assert "• start: carry on where you left off" in out and "• that's all for now:" in out


def test_the_area_intro_says_what_skip_and_dont_know_are_for(catalog: Catalog) -> None:
    convo = consented(catalog)
    intro = convo.send("[1]")
    assert "ได้ตลอด" not in intro and "“ไม่ทราบ”" in intro and "ข้อที่ไม่บังคับ" in intro
    assert "ระดับ 4 " in intro  # the levels named as the glossary names them
    out = convo.send("ข้าม")  # a level question: not skippable, as the intro says
    assert "ข้ามไม่ได้ค่ะ" in out and "ไม่ทราบ" in out
    convo.send("2")
    convo.send("5")  # differs from the plan: "why?", which may be skipped
    assert convo.state.key.endswith(".why")  # type: ignore[union-attr]
    convo.send("ข้าม")
    assert convo.state.answers["education.learner_data.why"].skipped


async def test_an_earlier_consent_stored_is_asked_again_and_the_new_one_recorded(service: Service) -> None:
    """Through the service and a real database: a participant whose row holds a consent to the
    2026-12-02 notice is asked again, and agreeing stores the current version and time."""

    async def say(data: str) -> str:
        kind = "button" if "=" in data else "text"
        handled = await service.handle("telegram", "7", Inbound(kind, text=data, data=data))
        return "\n".join(r.text for r in handled.replies) if handled else ""

    for data in ("hi", "lang=th", "consent=yes", "group=citizen", "region=north", "age=~skip", "area=education"):
        await say(data)
    db = service.db
    async with db.transaction() as conn:  # as a row written before this notice holds it
        await conn.execute("UPDATE participants SET consent_version = '2026-12-02'")
    state = await db.load_state("telegram", "7")
    assert state.consent_version == "2026-12-02" and state.step == "survey"
    assert "ประกาศความเป็นส่วนตัวมีฉบับใหม่" in await say("3")
    assert await db.fetch_all("SELECT count(*) FROM answers") == [(0,)]  # the answer waits for consent
    assert "ทำต่อจากข้อเดิม" in await say("consent=yes")
    ((version,),) = await db.fetch_all("SELECT consent_version FROM participants")
    assert version == NOTICE_VERSION
    await say("3")
    assert await db.fetch_all("SELECT question, value FROM answers") == [("current_level", 3)]


async def test_a_report_quotes_no_comment_of_someone_who_agreed_to_an_earlier_notice(
    service: Service, catalog: Catalog, tmp_path: Path
) -> None:
    """The notices before 2026-12-07 promised aggregate results only: until those who agreed to
    them agree again, their comments are counted but never quoted (the comment list, the themes'
    examples); staff's comments.csv still has them."""
    from exports import write_export
    from exports.report import write_report

    async def answer(user: str, comment: str) -> None:
        async def say(data: str) -> None:
            kind = "button" if "=" in data and " " not in data else "text"
            await service.handle("telegram", user, Inbound(kind, text=data, data=data))

        for data in ("hi", "lang=th", "consent=yes", "group=citizen", "region=north", "age=~skip", "area=education"):
            await say(data)
        for _ in range(40):
            state = await service.db.load_state("telegram", user)
            step = catalog.step(state.key or "") if state.step == "survey" else None
            if step is None:
                break
            await say(comment if step.question.kind == "text" else f"q.{step.key}={step.plan_level}")

    await answer("1", "ครูในโรงเรียนห่างไกลยังขาดอินเทอร์เน็ตที่เสถียร")
    await answer("2", "ครูในโรงเรียนห่างไกลยังขาดอุปกรณ์และอินเทอร์เน็ต")
    async with service.db.transaction() as conn:
        await conn.execute("UPDATE participants SET consent_version = '2026-12-02' WHERE user_ref = '2'")
    html = (await write_report(service.db, catalog, tmp_path / "r.html")).read_text(encoding="utf-8")
    assert "ครูในโรงเรียนห่างไกลยังขาดอินเทอร์เน็ตที่เสถียร" in html
    assert "อุปกรณ์และอินเทอร์เน็ต" not in html
    await write_export(service.db, tmp_path / "e", catalog=catalog)
    staff = (tmp_path / "e" / "comments.csv").read_text(encoding="utf-8-sig")
    assert "อุปกรณ์และอินเทอร์เน็ต" in staff
