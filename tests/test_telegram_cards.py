"""Telegram: a capability's questions edit one message in place. The sender drives a real PTB
`Bot` over real HTTP against the fake Bot API (testbed/telegram_api.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import Bot

from bot.handlers.telegram import Pacer
from bot.handlers.telegram.api import TelegramSender, tapped_capability
from bot.model import Attachment, Button, Card, Reply
from bot.senders import RetryPolicy
from testbed.telegram_api import TOKEN, FakeBotAPI

USER = 7770001


def card_reply(key: str, question: str, qid: str) -> Reply:
    card = Card(key, "ขีดความสามารถ 1/5 · ด้านการศึกษา", "ทักษะดิจิทัลของครู", 2, "เปิดเผย", 3, "ข้อมูล", question)
    buttons = tuple(Button(f"{n} ระดับ {n}", f"q.{key}.{qid}={n}") for n in range(1, 6))
    return Reply(
        f"{card.heading}\n{card.capability}\n\n{question}",
        (*buttons, Button("ย้อนกลับ", f"q.{key}.{qid}=~back")),
        card=card,
    )


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as fake:
        yield fake


@pytest.fixture
async def sender(api: FakeBotAPI) -> AsyncIterator[TelegramSender]:
    bot = Bot(TOKEN, base_url=api.base_url)
    await bot.initialize()
    s = TelegramSender(pacer=Pacer(rate=1000, chat_rate=1000, chat_burst=10), retry=RetryPolicy((0.01,)), token=TOKEN)
    s.bot = bot
    yield s
    await bot.shutdown()


def tap_context(api: FakeBotAPI, message: dict[str, Any], data: str) -> dict[str, str]:
    """What bot/handlers/telegram/receive.py makes of a tap on `message`."""
    return {"callback": "cq1", "message_id": str(message["message_id"]), "message_text": message["text"], "data": data}


def latest(api: FakeBotAPI) -> dict[str, Any]:
    return api.message(USER, api.sent(USER)[-1].result["message_id"])


def buttons_of(message: dict[str, Any]) -> list[str]:
    return [b["callback_data"] for row in message.get("reply_markup", {}).get("inline_keyboard", []) for b in row]


async def test_the_next_question_of_the_same_capability_edits_the_tapped_message(
    api: FakeBotAPI, sender: TelegramSender
) -> None:
    first = card_reply("education.teacher_skills", "ระดับปัจจุบันควรเป็นระดับใด", "now")
    assert await sender.push(str(USER), [first]) == "sent"
    question = latest(api)
    assert len(api.sent(USER)) == 1

    second = card_reply("education.teacher_skills", "ระดับเป้าหมาย ปี 2570 ควรเป็นระดับใด", "goal")
    context = tap_context(api, question, "q.education.teacher_skills.now=3")
    assert await sender.answer(str(USER), [second], context, chosen="3 ระดับ 3", key="k1") == "sent"

    assert len(api.sent(USER)) == 1, "no new message: the tapped one became the next question"
    [edit] = api.method_calls("editMessageText")
    assert edit.params["message_id"] == question["message_id"]
    now = api.message(USER, question["message_id"])
    assert now["text"] == second.text  # Thai intact
    assert buttons_of(now) == [b.data for b in second.buttons]
    assert len(api.method_calls("answerCallbackQuery")) == 1


async def test_another_capability_marks_the_tapped_one_answered_and_comes_as_a_new_message(
    api: FakeBotAPI, sender: TelegramSender
) -> None:
    first = card_reply("education.teacher_skills", "ระดับเป้าหมาย ปี 2570 ควรเป็นระดับใด", "goal")
    await sender.push(str(USER), [first])
    question = latest(api)

    other = card_reply("education.out_of_school", "ระดับปัจจุบันควรเป็นระดับใด", "now")
    context = tap_context(api, question, "q.education.teacher_skills.goal=4")
    assert await sender.answer(str(USER), [other], context, chosen="4 ระดับ 4", key="k2") == "sent"

    assert len(api.sent(USER)) == 2
    assert latest(api)["text"] == other.text
    marked = api.message(USER, question["message_id"])
    assert marked["text"].endswith("✓ 4 ระดับ 4") and "reply_markup" not in marked


async def test_a_reply_that_is_not_a_card_behaves_as_before(api: FakeBotAPI, sender: TelegramSender) -> None:
    first = card_reply("education.teacher_skills", "ระดับปัจจุบันควรเป็นระดับใด", "now")
    await sender.push(str(USER), [first])
    question = latest(api)
    done = Reply("จบด้านการศึกษาแล้ว ขอบคุณค่ะ", (Button("ด้านสุขภาพ", "area=health"),))
    context = tap_context(api, question, "q.education.teacher_skills.now=2")
    await sender.answer(str(USER), [done], context, chosen="2 ระดับ 2", key="k3")
    assert [m.params["text"] for m in api.sent(USER)][-1] == done.text
    assert api.message(USER, question["message_id"])["text"].endswith("✓ 2 ระดับ 2")


async def test_an_edit_telegram_refuses_sends_the_question_anew(api: FakeBotAPI, sender: TelegramSender) -> None:
    """A message Telegram no longer edits (deleted, too old): the next question still arrives."""
    second = card_reply("education.teacher_skills", "ระดับเป้าหมาย ปี 2570 ควรเป็นระดับใด", "goal")
    gone = {"message_id": 999_999, "text": "ระดับปัจจุบันควรเป็นระดับใด"}
    context = tap_context(api, gone, "q.education.teacher_skills.now=3")
    assert await sender.answer(str(USER), [second], context, chosen="3 ระดับ 3", key="k4") == "sent"
    [edit] = api.method_calls("editMessageText")
    assert edit.status == 400
    assert latest(api)["text"] == second.text


async def test_replies_after_the_card_follow_as_new_messages(api: FakeBotAPI, sender: TelegramSender) -> None:
    first = card_reply("education.teacher_skills", "ระดับปัจจุบันควรเป็นระดับใด", "now")
    await sender.push(str(USER), [first])
    question = latest(api)
    second = card_reply("education.teacher_skills", "ระดับเป้าหมาย ปี 2570 ควรเป็นระดับใด", "goal")
    note = Reply("หมายเหตุ: แก้คำตอบได้ด้วยปุ่มย้อนกลับ")
    context = tap_context(api, question, "q.education.teacher_skills.now=3")
    await sender.answer(str(USER), [second, note], context, chosen="3 ระดับ 3", key="k5")
    assert api.message(USER, question["message_id"])["text"] == second.text
    assert [m.params["text"] for m in api.sent(USER)] == [first.text, note.text]


def test_which_taps_and_replies_edit_in_place() -> None:
    from bot.handlers.telegram.api import in_place

    reply = card_reply("health.records", "คำถาม", "now")
    tap = {"message_id": "5", "data": "q.health.records.current=4"}
    assert tapped_capability(tap["data"]) == "health.records"
    assert in_place(tap, [reply])
    assert not in_place({**tap, "data": "q.health.telemedicine.current=4"}, [reply])
    assert not in_place({**tap, "data": "area=health"}, [reply])
    assert not in_place({"message_id": "5"}, [reply])  # a stored tap from before the data was kept
    assert not in_place({**tap, "message_id": ""}, [reply])
    assert not in_place(tap, [Reply(reply.text, reply.buttons)])  # not a card
    with_file = Reply(reply.text, reply.buttons, Attachment("a.ics", b"x", "text/calendar"), reply.card)
    assert not in_place(tap, [with_file])
    assert not in_place(tap, [Reply("ก" * 5000, reply.buttons, card=reply.card)])  # more than one message
