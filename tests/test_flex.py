"""A capability's card as a LINE Flex bubble, checked by the fake Messaging API the way LINE checks
it: the longest capabilities of the shipped surveys in Thai and English, with six and seven buttons,
pushed over real HTTP through the SDK; and the fake refusing what LINE refuses."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from linebot.v3.messaging import AsyncApiClient, AsyncMessagingApi, Configuration, FlexMessage, PushMessageRequest
from linebot.v3.messaging.exceptions import ApiException

from bot.handlers.line import render
from bot.handlers.line.api import LineSender
from bot.handlers.line.flex import MAX_ALT, bubble, card_message
from bot.i18n import tr
from bot.model import Button, Card, Reply
from bot.senders import Pacer, RetryPolicy
from bot.surveys import load_catalog
from testbed import line_flex
from testbed.line_api import FakeLineApi, utf16_len, validate

USER = "U" + "f" * 32
CATALOG = load_catalog()


def longest_items(lang: str) -> list[tuple[str, Any]]:
    """The three capabilities with the longest text in `lang`, with their area."""
    items = [(area, item) for area in CATALOG.areas.values() for item in area.items]
    return sorted(items, key=lambda ai: -len(ai[1].capability(lang)))[:3]


def scale_buttons(key: str, lang: str, *, dk: bool = True) -> tuple[Button, ...]:
    """The rating buttons of a capability question as the engine makes them: 5 + don't know + back."""
    options = [o for o in CATALOG.common.scale if dk or o.id != "dk"]
    choices = tuple(Button(o.button(lang), f"q.{key}.current={o.id}") for o in options)
    return (*choices, Button(tr(lang, "back"), f"q.{key}.current=~back"))


def card_for(area: Any, item: Any, lang: str) -> Card:
    named = CATALOG.common.named
    return Card(
        key=f"{area.id}.{item.id}",
        heading=tr(lang, "card_heading", area=area.title(lang), n=5, total=5),
        capability=item.capability(lang),
        current=item.current,
        current_line=tr(lang, "current", level=named(item.current, lang)),
        target=item.target,
        target_line=tr(lang, "target", level=named(item.target, lang)),
        question=CATALOG.common.item_questions[0].prompt(lang),
    )


def reply_for(card: Card, buttons: tuple[Button, ...], lang: str) -> Reply:
    text = "\n".join(
        [
            card.heading,
            tr(lang, "capability", text=card.capability),
            card.current_line,
            card.target_line,
            "",
            card.question,
        ]
    )
    return Reply(text, buttons, card=card)


def as_dict(reply: Reply) -> dict[str, Any]:
    [message] = [m.to_dict() for m in render([reply])]
    return message


def buttons_in(node: object) -> list[dict[str, Any]]:
    """Every button component inside a Flex object, in reading order."""
    if isinstance(node, dict):
        own = [node] if node.get("type") == "button" else []
        return own + [b for v in node.values() for b in buttons_in(v)]
    if isinstance(node, list):
        return [b for v in node for b in buttons_in(v)]
    return []


def texts_in(node: object) -> list[str]:
    if isinstance(node, dict):
        own = [node["text"]] if node.get("type") == "text" else []
        return own + [t for v in node.values() for t in texts_in(v)]
    if isinstance(node, list):
        return [t for v in node for t in texts_in(v)]
    return []


CASES = [
    pytest.param(lang, n, dk, id=f"{lang}-{n}-{7 if dk else 6}buttons")
    for lang in ("th", "en")
    for n in range(3)
    for dk in (True, False)
]


@pytest.fixture
async def api() -> AsyncIterator[FakeLineApi]:
    async with FakeLineApi() as fake:
        yield fake


@pytest.fixture
async def sender(api: FakeLineApi) -> AsyncIterator[LineSender]:
    s = LineSender(
        api.url,
        api.token,
        pseudonym=lambda ref: "p-1",
        retry=RetryPolicy((0.01,)),
        pacer=Pacer(rate=1000.0),
        clock=lambda: datetime.now(UTC),
    )
    await s.start()
    yield s
    await s.stop()


@pytest.mark.parametrize(("lang", "n", "dk"), CASES)
async def test_the_longest_capabilities_are_bubbles_line_accepts(
    sender: LineSender, api: FakeLineApi, lang: str, n: int, dk: bool
) -> None:
    area, item = longest_items(lang)[n]
    card = card_for(area, item, lang)
    buttons = scale_buttons(card.key, lang, dk=dk)
    reply = reply_for(card, buttons, lang)

    assert await sender.push(USER, [reply], key=f"flex-{lang}-{n}-{dk}") == "sent"
    [call] = api.calls
    assert call.status == 200, call.body.get("_error")
    [message] = call.messages
    assert message["type"] == "flex" and message["contents"]["type"] == "bubble"
    texts = texts_in(message["contents"])
    assert card.capability in texts and card.question in texts and card.heading in texts  # Thai intact
    # the buttons inside the bubble, in the reply's order, labelled as the engine labels them (a
    # bubble's buttons are tapped: no number goes before a label, none is numbered twice)
    inside = [b["action"] for b in buttons_in(message["contents"])]
    assert [a["data"] for a in inside] == [b.data for b in buttons]
    assert [a["displayText"] for a in inside] == [a["label"] for a in inside] == [b.label for b in buttons]
    assert all(len(a["label"]) <= 20 for a in inside)
    # and the same as quick replies, for phones
    assert [i["action"]["data"] for i in message["quickReply"]["items"]] == [b.data for b in buttons]
    assert utf16_len(message["altText"]) <= MAX_ALT
    assert message["altText"].startswith(card.heading)
    size = len(json.dumps(message["contents"], ensure_ascii=False, separators=(",", ":")).encode())
    assert size < line_flex.MAX_BUBBLE


def test_the_gauge_marks_the_current_step_and_the_target() -> None:
    area, item = longest_items("th")[0]
    card = card_for(area, item, "th")
    message = as_dict(reply_for(card, scale_buttons(card.key, "th"), "th"))
    gauge = message["contents"]["body"]["contents"][1]
    steps = gauge["contents"]
    assert len(steps) == 5
    numbers = [s["contents"][0]["contents"][0]["text"] for s in steps]
    assert numbers == ["1", "2", "3", "4", "5"] and texts_in(gauge) == numbers  # the plan lines say the rest
    colours = [s["contents"][0]["backgroundColor"] for s in steps]
    assert len({colours[card.current - 1], colours[card.target - 1], colours[4]}) == 3
    # the plan lines below the gauge, each beside a dot in its step's colour
    lines = message["contents"]["body"]["contents"][2:4]
    assert [texts_in(line) for line in lines] == [[card.current_line], [card.target_line]]
    dots = [line["contents"][0]["backgroundColor"] for line in lines]
    assert dots == [colours[card.current - 1], colours[card.target - 1]]


def test_a_card_whose_current_level_is_its_target_marks_one_step_twice() -> None:
    card = Card("x.y", "หัวข้อ", "ความสามารถ", 3, "ปัจจุบัน: ระดับ 3", 3, "เป้าหมาย: ระดับ 3", "ถูกต้องหรือไม่")
    message = as_dict(Reply("ถูกต้องหรือไม่", (Button("1 ใช่", "q.x.y.c=1"),), card=card))
    step = message["contents"]["body"]["contents"][1]["contents"][2]["contents"][0]
    assert step["backgroundColor"] == "#06A94D" and step["borderColor"] == "#F5A524"  # the target, edged as current
    assert validate({"to": USER, "messages": [message]}, "push") is None


def test_english_cards_are_labelled_in_english() -> None:
    area, item = longest_items("en")[0]
    card = card_for(area, item, "en")
    texts = texts_in(as_dict(reply_for(card, scale_buttons(card.key, "en"), "en"))["contents"])
    assert card.current_line.startswith("Current level: Level ") and card.current_line in texts
    assert card.target_line in texts and not any("\u0e00" <= c <= "\u0e7f" for t in texts for c in t)


def test_a_reply_without_a_card_stays_text() -> None:
    [message] = [m.to_dict() for m in render([Reply("เลือก", (Button("ก", "a=1"),))])]
    assert message["type"] == "text"


def test_a_card_line_would_refuse_is_sent_as_its_text() -> None:
    card = Card("x.y", "หัวข้อ", "ความสามารถ", 2, "สอง", 4, "สี่", "คำถาม")
    too_long = (Button("ตอบ", "q.x.y.c=" + "9" * 300),)
    assert card_message(Reply("คำถาม", too_long, card=card), None) is None
    [message] = [m.to_dict() for m in render([Reply("คำถาม", too_long, card=card)])]
    assert message["type"] == "text"
    huge = Card("x.y", "หัวข้อ", "ก" * 12_000, 2, "สอง", 4, "สี่", "คำถาม")  # 36 KB of Thai
    assert card_message(Reply("คำถาม", (), card=huge), None) is None


def test_alt_text_is_cut_for_notifications() -> None:
    card = Card("x.y", "หัวข้อ", "ความสามารถ", 2, "สอง", 4, "สี่", "คำถาม")
    message = as_dict(Reply("ข" * 1000, (), card=card))
    assert utf16_len(message["altText"]) == MAX_ALT and message["altText"].endswith("…")
    assert "footer" not in message["contents"]  # a card without buttons: none drawn, none refused


# ---- the fake refuses what LINE refuses ------------------------------------------------------


def good() -> dict[str, Any]:
    area, item = longest_items("th")[0]
    card = card_for(area, item, "th")
    return as_dict(reply_for(card, scale_buttons(card.key, "th"), "th"))


def refused(message: dict[str, Any]) -> str:
    problem = validate({"to": USER, "messages": [message]}, "push")
    assert problem is not None
    return problem


def test_the_fake_accepts_the_bubble_we_send() -> None:
    assert validate({"to": USER, "messages": [good()]}, "push") is None


@pytest.mark.parametrize(
    ("break_it", "expect"),
    [
        (lambda m: m.pop("altText"), "altText"),
        (lambda m: m.update(altText="ก" * 1501), "altText"),
        (lambda m: m["contents"].update(type="bubbles"), "bubble or carousel"),
        (lambda m: m["contents"]["body"].pop("layout"), "layout"),
        (lambda m: m["contents"]["body"].update(contents={"type": "text"}), "contents"),
        (lambda m: m["contents"]["body"].update(colour="#FFFFFF"), "unknown"),
        (lambda m: m["contents"].update(size="huge"), "size"),
        (lambda m: m["contents"]["header"].update(backgroundColor="navy"), "backgroundColor"),
        (lambda m: m["contents"]["footer"]["contents"][0]["action"].update(label="ก" * 21), "label"),
        (lambda m: m["contents"]["footer"]["contents"][0]["action"].pop("label"), "label"),
        (lambda m: m["contents"]["footer"]["contents"][0]["action"].update(data="x" * 301), "data"),
        (lambda m: m["contents"]["footer"]["contents"][0]["action"].update(displayText=""), "displayText"),
        (lambda m: m["contents"]["footer"]["contents"][0].pop("action"), "action"),
        (lambda m: m["contents"]["footer"]["contents"][0].update(style="fancy"), "style"),
        (lambda m: m["contents"]["body"]["contents"][0].update(text=""), "text"),
        (lambda m: m["contents"]["body"].update(type="text"), "box"),
        # a baseline box holds no boxes or buttons
        (
            lambda m: m["contents"]["body"]["contents"][2].update(
                layout="baseline", contents=[{"type": "box", "layout": "vertical", "contents": []}]
            ),
            "not allowed",
        ),
        (lambda m: m["contents"]["body"]["contents"].append({"type": "text", "text": "ก" * 11_000}), "30 KB"),
    ],
)
def test_the_fake_refuses_what_line_refuses(break_it: Any, expect: str) -> None:
    message = copy.deepcopy(good())
    break_it(message)
    assert expect in refused(message)


def test_a_carousel_holds_at_most_twelve_bubbles_and_50_kb() -> None:
    bubble = good()["contents"]
    carousel = {"type": "flex", "altText": "สรุป", "contents": {"type": "carousel", "contents": [bubble] * 12}}
    twelve = len(json.dumps(carousel["contents"], ensure_ascii=False).encode())
    if twelve <= line_flex.MAX_CAROUSEL:
        assert validate({"to": USER, "messages": [carousel]}, "push") is None
    else:
        assert "50 KB" in refused(carousel)
    carousel["contents"]["contents"] = [bubble] * 13
    assert "12 bubbles" in refused(carousel)


async def test_the_fake_answers_an_oversized_bubble_with_400(api: FakeLineApi) -> None:
    """A bubble LINE would refuse, sent through the SDK over HTTP, is refused by the fake and not
    delivered (our own guard keeps `render` from ever sending one)."""
    card = Card("x.y", "หัวข้อ", "ก" * 11_000, 2, "สอง", 4, "สี่", "คำถาม")  # over 30 KB once drawn
    message = FlexMessage(alt_text="คำถาม", contents=bubble(card, ()))
    async with AsyncApiClient(Configuration(host=api.url, access_token=api.token)) as client:
        with pytest.raises(ApiException) as caught:
            await AsyncMessagingApi(client).push_message(PushMessageRequest(to=USER, messages=[message]))
    assert caught.value.status == 400
    [call] = api.calls
    assert "30 KB" in call.body["_error"]["message"] and not call.delivered
