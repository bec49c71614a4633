"""Rendering and translating for LINE, without the network: quick replies, numbered lists,
LINE's length limits, retry keys, and which events become what."""

from __future__ import annotations

import uuid

from bot.handlers.line import MAX_TEXT, chat_of, render, retry_key, split_text, to_inbound
from bot.model import Attachment, Button, Inbound, Reply
from testbed.line_api import utf16_len, validate


def as_dicts(replies: list[Reply]) -> list[dict]:
    return [m.to_dict() for m in render(replies)]


def test_buttons_become_postback_quick_replies_that_show_the_label() -> None:
    buttons = (Button("ยินยอม", "consent=yes"), Button("ไม่ยินยอม", "consent=no"))
    [message] = as_dicts([Reply("ท่านยินยอมหรือไม่", buttons)])
    actions = [item["action"] for item in message["quickReply"]["items"]]
    assert actions == [
        {"type": "postback", "label": "ยินยอม", "data": "consent=yes", "displayText": "ยินยอม"},
        {"type": "postback", "label": "ไม่ยินยอม", "data": "consent=no", "displayText": "ไม่ยินยอม"},
    ]
    assert validate({"to": "U1", "messages": [message]}, "push") is None


def test_an_overlong_label_is_shortened_but_the_chat_shows_it_whole() -> None:
    label = "กรุงเทพมหานครและปริมณฑลทั้งหมด"
    [message] = as_dicts([Reply("ภูมิภาค", (Button(label, "region=bangkok"),))])
    action = message["quickReply"]["items"][0]["action"]
    assert len(action["label"]) == 20 and action["label"].endswith("…")
    assert action["displayText"] == label


def test_more_buttons_than_fit_become_a_numbered_list_in_button_order() -> None:
    buttons = tuple(Button(f"ตัวเลือก {n}", f"q.a.i.q={n}") for n in range(1, 15))
    [message] = as_dicts([Reply("เลือกหนึ่งข้อ", buttons)])
    assert "quickReply" not in message
    lines = message["text"].splitlines()
    assert lines[0] == "เลือกหนึ่งข้อ" and lines[2:] == [f"{n}. ตัวเลือก {n}" for n in range(1, 15)]


def test_thirteen_buttons_still_fit() -> None:
    buttons = tuple(Button(str(n), f"x={n}") for n in range(13))
    [message] = as_dicts([Reply("pick", buttons)])
    assert len(message["quickReply"]["items"]) == 13


def test_long_text_is_chunked_with_buttons_on_the_last_chunk() -> None:
    text = "\n".join(f"บรรทัดที่ {n} " + "ก" * 90 for n in range(150))  # ~15,000 characters
    messages = as_dicts([Reply(text, (Button("ต่อไป", "next=1"),))])
    assert len(messages) == 4
    assert all(utf16_len(m["text"]) <= MAX_TEXT for m in messages)
    assert [("quickReply" in m) for m in messages] == [False, False, False, True]
    assert "\n".join(m["text"] for m in messages) == text + "\n\n1 ต่อไป"  # split at line breaks, nothing lost


def test_quick_replies_come_with_a_legend_for_line_on_desktop() -> None:
    buttons = (Button("1 ไม่เห็นด้วยมาก", "q.a.i.q=1"), Button("ไม่ทราบ", "q.a.i.q=dk"), Button("ย้อนกลับ", "q.a.i.q=~back"))
    [message] = as_dicts([Reply("ถูกต้องหรือไม่", buttons)])
    # the choices by their numbers, never numbered twice; the controls are typed as their words
    assert message["text"] == "ถูกต้องหรือไม่\n\n1 ไม่เห็นด้วยมาก · 2 ไม่ทราบ"
    assert len(message["quickReply"]["items"]) == 3
    levels = (Button("1", "q.a.i.q=1"), Button("2 ✓ตามแผน", "q.a.i.q=2"), Button("20–29 ปี", "q.a.i.q=3"))
    [message] = as_dicts([Reply("ระดับใด", (*levels, Button("ระดับหมายถึงอะไร?", "q.a.i.q=~levels")))])
    assert message["text"] == "ระดับใด\n\n1 · 2 ✓ตามแผน · 3 20–29 ปี"
    [message] = as_dicts([Reply("เพราะเหตุใด", (Button("ข้าม", "q.a.i.w=~skip"),))])
    assert message["text"] == "เพราะเหตุใด" and len(message["quickReply"]["items"]) == 1  # no legend of controls


def test_astral_emoji_count_twice_towards_the_limit() -> None:
    text = "🙏" * 4000  # 4,000 characters, 8,000 UTF-16 units
    parts = split_text(text)
    assert "".join(parts) == text and all(utf16_len(p) <= MAX_TEXT for p in parts)
    assert validate({"to": "U1", "messages": [m.to_dict() for m in render([Reply(text)])]}, "push") is None


def test_attachments_are_sent_as_their_text_only() -> None:
    invite = Reply("นัดหมายของท่าน", attachment=Attachment("session.ics", b"BEGIN:VCALENDAR", "text/calendar"))
    assert as_dicts([invite]) == [{"type": "text", "text": "นัดหมายของท่าน"}]


def test_every_reply_becomes_at_least_one_message() -> None:
    replies = [Reply("หนึ่ง"), Reply("สอง", (Button("ก", "a=1"),)), Reply("สาม")]
    assert [m["text"] for m in as_dicts(replies)] == ["หนึ่ง", "สอง\n\n1 ก", "สาม"]
    assert as_dicts([Reply("")]) == []


def test_retry_keys_are_stable_uuids_per_batch() -> None:
    base = str(uuid.uuid4())
    assert retry_key(base, 0) == base
    assert retry_key(base, 1) == retry_key(base, 1) != retry_key(base, 2)
    # a caller's own key (e.g. a reminder's) becomes a UUID, the same every time
    key = retry_key("reminder:24h|7|42", 0)
    assert uuid.UUID(key) and key == retry_key("reminder:24h|7|42", 0) != retry_key("reminder:1h|7|42", 0)


def event(kind: str, **fields: object) -> dict:
    return {"type": kind, "timestamp": 1764090000000, "source": {"type": "user", "userId": "U1"}, **fields}


def test_events_become_inbound() -> None:
    assert to_inbound(event("follow")) == Inbound("follow", sent_at=to_inbound(event("follow")).sent_at)
    text = to_inbound(event("message", message={"type": "text", "id": "1", "text": "สวัสดี"}))
    assert text is not None and (text.kind, text.text) == ("text", "สวัสดี")
    assert text.sent_at is not None and text.sent_at.timestamp() == 1764090000
    tap = to_inbound(event("postback", postback={"data": "lang=th"}))
    assert tap is not None and (tap.kind, tap.data) == ("button", "lang=th")
    for kind in ("sticker", "image", "video", "audio", "file", "location", "somethingNew"):
        got = to_inbound(event("message", message={"type": kind, "id": "2"}))
        assert got is not None and got.kind == "unsupported"
    unfollow = to_inbound(event("unfollow"))
    assert unfollow is not None and unfollow.kind == "unfollow"
    for kind in ("unsend", "join", "beacon", "videoPlayComplete", "accountLink"):
        assert to_inbound(event(kind)) is None
    assert to_inbound(event("postback", postback={})) is None


def test_chat_of_each_source() -> None:
    assert chat_of({"source": {"type": "user", "userId": "U1"}}) == "U1"
    assert chat_of({"source": {"type": "group", "groupId": "C1", "userId": "U1"}}) == "C1"
    assert chat_of({"source": {"type": "room", "roomId": "R1"}}) == "R1"
    assert chat_of({}) == ""


async def test_requests_go_out_as_the_sdk_would_serialize_them_and_cached_parts_stay_unchanged() -> None:
    """render() caches quick replies and bubbles per set of buttons and card, requests are built
    without validating those models again, and MessagingClient serializes them in one pass: the
    JSON sent is what the SDK's validated models and their `to_dict()` give, for every question of
    every area in both languages, and for each again (nothing kept was changed by sending)."""
    from linebot.v3.messaging import (
        ApiClient,
        Configuration,
        MulticastRequest,
        PushMessageRequest,
        ReplyMessageRequest,
    )

    from bot.engine import Engine
    from bot.engine.core import Context
    from bot.handlers.line.api import MessagingClient, request
    from bot.model import State, utcnow
    from bot.surveys import load_catalog

    catalog = load_catalog()
    engine = Engine(Context(catalog, utcnow()))
    sdk = ApiClient(Configuration(access_token="x"))
    ours = MessagingClient(Configuration(access_token="x"))
    try:
        checked, flex = 0, 0
        for lang in ("th", "en", None):
            for area in catalog.areas:
                for q in catalog.flow(area):
                    state = State(
                        lang=lang, consent="given", group="g", region="r", step="survey", area=area, key=q.key
                    )
                    replies = [Reply("ด้าน"), engine.ask(state), Reply("ok", (Button("1", "x=1"),))]
                    for _ in range(2):
                        messages = render(replies)
                        for model, fields in (
                            (ReplyMessageRequest, {"reply_token": "t" * 32}),
                            (PushMessageRequest, {"to": "U" + "0" * 32}),
                        ):
                            fast = ours.sanitize_for_serialization(request(model, messages=messages, **fields))
                            slow = sdk.sanitize_for_serialization(model(messages=messages, **fields))
                            assert fast == slow
                            checked += 1
                        multi = MulticastRequest(to=["U" + "0" * 32], messages=messages)
                        assert ours.sanitize_for_serialization(multi) == sdk.sanitize_for_serialization(multi)
                        assert [m.to_dict() for m in messages] == as_dicts(replies)
                        flex += sum(m.to_dict().get("type") == "flex" for m in messages)
        assert checked > 100 and flex > 50  # the cards' bubbles are among them
    finally:
        await ours.close()


async def test_many_chats_are_answered_at_once_not_ten_at_a_time() -> None:
    """The SDK's connection pool defaults to 5 per CPU (10 here): at LINE's latency from Thailand
    that caps a process at about a hundred replies a second, whatever the rest can do."""
    import asyncio
    from datetime import UTC, datetime

    from bot.handlers.line.api import CONNECTIONS, LineSender
    from bot.senders import Pacer, RetryPolicy
    from testbed.line_api import FakeLineApi

    async with FakeLineApi(latency=0.2) as api:
        sender = LineSender(
            api.url,
            api.token,
            pseudonym=lambda ref: "p",
            retry=RetryPolicy((0.01,)),
            pacer=Pacer(rate=10_000.0),
            clock=lambda: datetime.now(UTC),
        )
        await sender.start()
        try:
            answers = [sender.push(f"U{n:032x}", [Reply("สวัสดีค่ะ")], key=str(uuid.uuid4())) for n in range(40)]
            assert set(await asyncio.gather(*answers)) == {"sent"}
        finally:
            await sender.stop()
    assert CONNECTIONS >= 40
    assert api.peak_in_flight == 40
