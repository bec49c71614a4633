"""Issue 21, as a participant shows it: on LINE, at the default flood limits, someone who types every
answer (LINE for PC shows no quick replies) as soon as the bot's reply to the previous one arrives
loses nothing, through consent, the profile and a whole area; typed with polite particles and Thai
digits, every answer is in the real export's responses.csv exactly once.

The webhook, the LINE channel and the real SDK client run as `rabfang run` wires them
(tests.test_line.Harness), against the fake Messaging API over HTTP. LINE's timestamps are the wall
clock, so the flood gate sees the messages as fast as this machine answers them: far more than five
in ten seconds."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.surveys import Catalog, FlowQuestion
from testbed.line_api import CHANNEL_SECRET, FakeLineApi, LineUser
from tests.test_fast_participant import exported
from tests.test_line import Harness

AREA = "education"
THAI_DIGITS = str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙")
FLOOD = ("ส่งข้อความเร็วเกินไป", "too fast")


def shown(message: dict[str, Any]) -> str:
    return message.get("text", message.get("altText", ""))


def asked(user: LineUser, catalog: Catalog) -> FlowQuestion | None:
    """The survey question the last message asks, read from the buttons it offers (quick replies, or
    the buttons inside its bubble), or None once the area is done."""
    actions = user.quick_replies() or user.bubble_buttons()
    key = next((a["data"][2:].partition("=")[0] for a in actions if a["data"].startswith(f"q.{AREA}.")), None)
    return catalog.step(key) if key else None


async def type_through(
    line: Harness, user: LineUser, catalog: Catalog, onboarding: list[str], answer: Callable[[FlowQuestion], str]
) -> list[tuple[str, str]]:
    """Type the onboarding answers, then `answer(question)` to each question asked, each message as
    soon as the reply to the last one arrived; (question key, typed) in the order typed."""
    line.platform.pace = None  # LINE's timestamps are the wall clock: as fast as the bot answers
    for typed in onboarding:
        assert await line.send(user.text(typed)), typed
    typed_answers = []
    for _ in range(60):
        question = asked(user, catalog)
        if question is None:
            break
        typed = answer(question)
        assert await line.send(user.text(typed)), (question.key, typed)
        typed_answers.append((question.key, typed))
    assert not any(word in shown(m) for m in user.messages() for word in FLOOD)
    return typed_answers


def line_settings(tmp_path: Path, api: FakeLineApi) -> Settings:
    return Settings(  # the default flood limits (5 messages in 10 s)
        _env_file=None,
        db=tmp_path / "typed.db",
        line_channel_secret=CHANNEL_SECRET,
        line_channel_access_token=api.token,
        line_api_base_url=api.url,
    )


async def test_a_typist_at_the_bots_pace_loses_nothing(tmp_path: Path, catalog: Catalog) -> None:
    """Plain typed answers in English, one level below the plan's each time (so every "why?" is asked)."""
    async with FakeLineApi() as api:
        line = await Harness(line_settings(tmp_path, api), api).start()
        try:
            user = line.user("U" + "7" * 32)
            await line.send(user.follow())

            def answer(q: FlowQuestion) -> str:
                return f"Comment on {q.key}" if q.question.kind == "text" else str(max(1, q.plan_level - 1))

            typed = await type_through(line, user, catalog, ["English", "yes", "1", "2", "skip", "Education"], answer)
            stored = await line.answers(user.user_id)
        finally:
            await line.stop()
    assert len(typed) == len(catalog.flow(AREA)) == len(stored)  # every question asked, every answer kept
    for key, text in typed:
        option, _, kept, skipped = stored[key]
        assert not skipped and (kept == text if text.startswith("Comment") else option == text), (key, stored[key])


async def test_typed_with_particles_and_thai_digits_every_answer_is_exported_once(
    tmp_path: Path, catalog: Catalog
) -> None:
    """The issue's "Shown by": consent, the profile, five capabilities (a "why?" answered, two skipped
    with ข้ามค่ะ / ข้ามครับ), the closing questions, all typed as Thai people type; then the export."""
    items = [item.id for item in catalog.areas[AREA].items]
    why = {items[0]: "ครูและผู้ปกครองยังไม่ได้ใช้ข้อมูลร่วมกันค่ะ", items[1]: "ข้ามค่ะ", items[2]: "ข้ามครับ"}
    closing = iter(["อินเทอร์เน็ตที่โรงเรียนช้ามากค่ะ", "อยากให้สมัครเรียนออนไลน์ได้ครบนะคะ", "ข้าม นะคะ"])
    meant: dict[tuple[str, str, str], str | None] = {}  # what each typed answer means; None: skipped

    def answer(q: FlowQuestion) -> str:
        if q.question.kind == "text":
            typed = why[q.item.id] if q.item else next(closing)
            meant[(q.area, q.item_id or "", q.question.id)] = None if typed.startswith("ข้าม") else typed
            return typed
        assert q.item is not None
        level = q.plan_level + 1 if q.item.id in why and q.plan_level < 5 else q.plan_level  # off the plan: "why?"
        meant[(q.area, q.item.id, q.question.id)] = str(level)
        thai = str(level).translate(THAI_DIGITS)
        return (f"ระดับ {thai} ค่ะ", f"{thai} ครับ", f"ข้อ {thai}ค่ะ", f"{thai}ค่ะๆ", f"ตอบ {thai} นะคะ")[len(meant) % 5]

    onboarding = ["สวัสดีค่ะ", "ไทยค่ะ", "ยินยอมค่ะ", "๓", "ภาคอีสานค่ะ", "๓๐-๓๙ ค่ะ", "การศึกษาค่ะ"]
    async with FakeLineApi() as api:
        settings = line_settings(tmp_path, api)
        line = await Harness(settings, api).start()
        started = time.monotonic()
        try:
            user = line.user("U" + "8" * 32)
            await line.send(user.follow())
            typed = await type_through(line, user, catalog, onboarding, answer)
            elapsed = time.monotonic() - started
        finally:
            await line.stop()
    rows = await exported(settings, tmp_path / "export")  # the real export (exports.write_export)

    found = Counter((r["area"], r["item_id"], r["question_id"]) for r in rows)
    answered = {k: v for k, v in meant.items() if v is not None}
    assert found == Counter(answered.keys())  # every answer exactly once, and no row for a skip
    for row in rows:
        assert (row["text"] or row["option_id"]) == answered[(row["area"], row["item_id"], row["question_id"])], row
    assert {(r["channel"], r["stakeholder_group"], r["region"], r["language"]) for r in rows} == {
        ("line", "farmer", "northeast", "th")
    }
    whys = [text for key, text in typed if key.endswith(".why")]
    assert len(whys) == 3 and len(meant) == len(typed) == len(catalog.flow(AREA)) - 2  # 2 capabilities as planned
    print(
        f"\nTyped on LINE at the bot's pace, default flood limits: {len(onboarding) + len(typed)} messages in"
        f" {elapsed:.1f} s, no flood notice; responses.csv: {len(rows)} rows, each answer once"
        f" ({len(meant) - len(answered)} skipped, no row)."
    )
    print("  onboarding typed: " + " · ".join(onboarding))
    exported_as = {(r["area"], r["item_id"], r["question_id"]): r["text"] or r["option_id"] for r in rows}
    for key, text in typed:
        in_csv = exported_as.get(tuple(key.split(".", 2)), "(skipped: no row)")  # type: ignore[call-overload]
        print(f"  {key:44} typed {text!r} → responses.csv {in_csv!r}")
