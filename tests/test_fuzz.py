"""Fuzzing: malformed and hostile input through both webhook endpoints, over real HTTP to the running
app on 127.0.0.1, and through the engine directly.

The app runs as `rabfang run` wires it (both channels behind one Starlette server, Telegram in
webhook mode) in a thread of its own, so that hypothesis drives it from plain functions. Eight
participants are seated at different steps (language, consent, a rating question, a comment
question; on each channel), and a stranger on each channel has never written. Then:

- a fixed corpus of malformed requests: empty, `null`, lists, invalid UTF-8, lone surrogates in ids
  and texts, missing and wrong-typed fields, absurd timestamps, unknown event and update types,
  bad/missing/truncated signatures and secrets, a body over 1 MB;
- property-based LINE webhooks: signed bodies of one to three events, each malformed in structure
  (wrong types, missing fields, unknown types, standby mode, not from a user) or invalid in meaning
  for a seated participant (forged or truncated postback data, answers for questions they are not
  on, 50 KB texts, texts that answer nothing, stickers), plus unsigned and badly signed bodies;
- property-based Telegram webhook updates of the same kinds (forged callback data, callbacks with no
  message, unknown update types, group chats, wrong-typed fields, 50 KB texts), plus wrong secrets;
- the engine on its own: any event in any reachable state never raises and keeps its invariants
  (buttons fit Telegram, stored comments are valid UTF-8 within the limit); forged button data is
  refused and changes nothing.

Every request must be answered with a documented status, never 5xx: the LINE webhook 200, 400 (bad
or missing signature, not a webhook body) or 413 (over 1 MB); the Telegram webhook 200, 400 (not an
update) or 403 (wrong secret). Nothing may be logged at ERROR (a handler on the root logger collects
every such record, uvicorn's "Exception in ASGI application" included). The participants, answers,
progress, registrations and deletions tables must be unchanged by every request (the participants'
`updated_at` aside: it is when the bot last heard from them); an unsigned or badly signed body must
not even reach the inbox or the events table.

CI: ~300 generated cases plus a corpus of ~100 (~15 s). RABFANG_LONG=1: over 10,000 generated cases.
The count is printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import threading
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.handlers.line import MAX_BODY
from bot.handlers.telegram import MAX_CALLBACK_DATA, SECRET_HEADER
from bot.model import MAX_TEXT, Inbound, State
from bot.surveys import Catalog
from testbed.line_api import FakeLineApi, sign
from testbed.participants import Model, next_input
from testbed.telegram_api import FakeBotAPI
from tests.reliability import dump, report, running_stack, scale, stack_settings

ENGINE_EXAMPLES = scale(50, 2000)  # per engine property (two of them)
LINE_EXAMPLES = scale(100, 3500)
TELEGRAM_EXAMPLES = scale(100, 3500)

LINE_OK = {200, 400, 413}
TELEGRAM_OK = {200, 400, 403}
KEPT = ("participants", "answers", "progress", "registrations", "deletions")
HUGE = 50_000
FIGURES: Counter[str] = Counter()

PROFILE_NAMES = ("group", "region", "age")
BUTTON_NAMES = ("lang", "consent", "del", *PROFILE_NAMES, "area", "reg", "unreg")
LINE_TYPES = ("message", "postback", "follow", "unfollow", "join", "leave", "memberJoined", "beacon", "accountLink")
TG_OTHER_UPDATES = (
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "inline_query",
    "chosen_inline_result",
    "shipping_query",
    "pre_checkout_query",
    "poll",
    "poll_answer",
    "chat_join_request",
    "message_reaction",
    "business_message",
)

any_char = st.characters(exclude_categories=())  # lone surrogates and control characters included
any_text = st.text(any_char, max_size=80)
json_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), any_text)
json_value = st.recursive(
    json_scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3), max_leaves=8
)


def huge_text() -> st.SearchStrategy[str]:
    """About 50 KB of text: a random chunk repeated."""
    return st.text(any_char, min_size=1, max_size=16).map(lambda t: (t * (HUGE // len(t) + 1))[:HUGE])


def settled(**kw: Any) -> Callable:
    return settings(
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        **kw,
    )


# ---- forged button data, by construction --------------------------------------------------------


def valid_values(catalog: Catalog, name: str) -> set[str]:
    if name == "lang":
        return {"th", "en"}
    if name in ("consent", "del"):
        return {"yes", "no"}
    if name in PROFILE_NAMES:
        return {o.id for o in getattr(catalog.common.profile, name)} | {"~skip"}
    if name == "area":
        return set(catalog.areas)
    return set()


def is_forged(catalog: Catalog, s: State, data: str) -> bool:
    """Button data no button offers for state `s`, so that it must be refused and change nothing:
    no `=` or nothing after it; a name we never use; a known name with a value it never has; a
    question that does not exist, a value no option has, or a question the participant is not on
    and has not answered."""
    name, sep, value = data.partition("=")
    if not sep or not value:
        return True
    if name in BUTTON_NAMES:
        if name in ("reg", "unreg"):
            return True  # no session is on offer
        return value not in valid_values(catalog, name)
    if not name.startswith("q."):
        return True
    step = catalog.step(name[2:])
    if step is None:
        return True
    if value in ("~skip", "~back") or value in {o.id for o in catalog.options(step)}:
        on_it = s.step == "survey" and s.key == step.key
        ready = s.consent == "given" and s.group is not None and s.region is not None
        if value in ("~skip", "~back"):
            return not on_it
        return not ready or (not on_it and step.key not in s.answers)
    return True


@st.composite
def forged(draw: st.DrawFn, catalog: Catalog, s: State) -> str:
    keys = sorted(k for a in catalog.areas for k in (st_.key for st_ in catalog.flow(a)))
    kind = draw(
        st.sampled_from(("no-sep", "empty", "name", "value", "key", "option", "control", "other-question", "cut"))
    )
    text = st.text(any_char, min_size=1, max_size=40)
    if kind == "no-sep":
        data = draw(text.filter(lambda t: "=" not in t))
    elif kind == "empty":
        data = draw(st.text(any_char, max_size=40)).replace("=", "") + "="
    elif kind == "name":
        name = draw(text.filter(lambda t: "=" not in t and t not in BUTTON_NAMES and not t.startswith("q.")))
        data = f"{name}={draw(text)}"
    elif kind == "value":
        name = draw(st.sampled_from(BUTTON_NAMES))
        data = f"{name}={draw(text)}"
    elif kind == "key":
        data = f"q.{draw(text.filter(lambda t: '=' not in t and t not in keys))}={draw(text)}"
    elif kind == "option":
        data = f"q.{draw(st.sampled_from(keys))}={draw(text)}"
    elif kind == "control":
        data = f"q.{draw(st.sampled_from(keys))}={draw(st.sampled_from(('~skip', '~back')))}"
    elif kind == "other-question":
        key = draw(st.sampled_from(keys))
        step = catalog.step(key)
        assert step is not None
        option = draw(st.sampled_from([o.id for o in catalog.options(step)] or ["x"]))
        data = f"q.{key}={option}"
    else:  # a real button's data, cut short
        engine = Model(catalog).engine
        offered = [b.data for b in engine.ask(s).buttons] or ["lang=th"]
        whole = draw(st.sampled_from(offered))
        data = whole[: draw(st.integers(0, len(whole) - 1))]
    assume(is_forged(catalog, s, data))
    FIGURES["forged data: " + kind] += 1
    return data


def junk_text() -> st.SearchStrategy[str]:
    """Texts that answer nothing where they are sent (the caller checks with the engine)."""
    return st.one_of(
        any_text,
        huge_text(),
        st.text(st.sampled_from(" \t\r\n\x00\x07\x1b\u200b\u00a0\ufeff"), max_size=30),
        st.text(st.characters(categories=["Cs"]), min_size=1, max_size=8),
        st.sampled_from(["/nonsense", "/start@other_bot x", "🙂", "๑๒๓", "99", "-1", "0", "1e3", "ลงทะเบียน 9"]),
    )


# ---- the app in a thread of its own ----------------------------------------------------------------


@dataclass
class Seat:
    """A participant seated at some step, whose stored state no invalid input may change."""

    channel: str
    ref: str
    state: State
    where: str


class Errors(logging.Handler):
    """Every record at ERROR or above, from any logger and any thread."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = f"{record.name}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.records.append(text)


class Running:
    """Both channels and the fake platforms, served from a background event loop."""

    def __init__(self, tmp_path: Path, catalog: Catalog):
        self.tmp_path = tmp_path
        self.catalog = catalog
        self.model = Model(catalog)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fuzzed-app", daemon=True)
        self.exit = contextlib.AsyncExitStack()
        self.errors = Errors()
        self.seats: list[Seat] = []
        self.http = httpx.Client(timeout=30.0)
        self.update_ids = iter(range(10_000_000, 100_000_000))

    def call(self, coro: Coroutine[Any, Any, Any], timeout: float = 60.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> None:
        logging.getLogger().addHandler(self.errors)
        self.thread.start()
        self.call(self._start())

    async def _start(self) -> None:
        tg = await self.exit.enter_async_context(FakeBotAPI())
        line = await self.exit.enter_async_context(FakeLineApi())
        self.settings = stack_settings(self.tmp_path, tg, line, webhook=True)
        self.stack = await self.exit.enter_async_context(running_stack(self.settings, tg, line))
        self.db = self.settings.db
        for channel, base in (("telegram", "9100000"), ("line", "U" + "f0" * 15 + "00")):
            for n, where in enumerate(("lang", "consent", "rating", "text")):
                ref = base[:-1] + str(n + 1)
                self.seats.append(Seat(channel, ref, await self._seat(channel, ref, where), where))
            # someone the bot has never heard from: invalid input from them must not create a row
            self.seats.append(Seat(channel, base[:-1] + "9", State(), "stranger"))

    async def _seat(self, channel: str, ref: str, where: str) -> State:
        """Take a participant to `where` through the service, as their events would."""
        service = self.stack.app.service
        db = self.stack.app.db

        async def do(kind: str, value: str) -> State:
            await service.handle(channel, ref, Inbound(kind, text=value, data=value))  # type: ignore[arg-type]
            return await db.load_state(channel, ref)

        state = await do("text", "/start")
        if where == "lang":
            return state
        state = await do("button", "lang=en")
        if where == "consent":
            return state
        profile = self.catalog.common.profile
        for data in ("consent=yes", f"group={profile.group[0].id}", f"region={profile.region[1].id}", "age=~skip"):
            state = await do("button", data)
        state = await do("button", "area=health")
        for answered in range(60):
            step = self.catalog.step(state.key or "")
            assert step is not None
            kind = "rating" if step.question.kind == "level" else step.question.kind  # a choice question
            if kind == where and (where == "text" or answered >= 2):
                return state
            state = await do("text", "4" if kind == "rating" else "ความเห็น")
        raise AssertionError(f"no {where} question reached")

    def stop(self) -> None:
        try:
            self.call(self.exit.aclose())
        finally:
            self.http.close()
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            logging.getLogger().removeHandler(self.errors)

    # ---- one request and what must hold ----------------------------------------------------------

    def snapshot(self, strict: bool) -> dict:
        if strict:
            return dump(self.db, (*KEPT, "inbox", "events"))
        return dump(self.db, KEPT, skip=("updated_at",))

    def exchange(self, send: Callable[[], httpx.Response], allowed: set[int], *, strict: bool = False) -> int:
        """Send one request; check its status, the log, and that the database kept its content."""
        before = self.snapshot(strict)
        mark = len(self.errors.records)
        response = send()
        self.call(self.stack.line.idle())
        self.call(self.stack.telegram.idle())  # a stored update is processed right after the 200
        status = response.status_code
        FIGURES["cases"] += 1
        FIGURES[f"HTTP {status}"] += 1
        if status >= 500:
            FIGURES["5xx"] += 1
        errors = self.errors.records[mark:]
        FIGURES["errors logged"] += len(errors)
        assert status in allowed, f"answered {status}: {response.text[:300]}"
        assert not errors, "\n".join(errors)
        after = self.snapshot(strict)
        changed = {
            t: {
                "gone": sorted(set(before[t]) - set(after[t]), key=repr),
                "new": sorted(set(after[t]) - set(before[t]), key=repr),
            }
            for t in before
            if before[t] != after[t]
        }
        assert not changed, f"the request changed the database: {changed}"
        return status

    def line_post(self, body: bytes, signature: str | bytes | None = "sign", strict: bool = False) -> int:
        headers: dict[str, Any] = {"content-type": "application/json; charset=utf-8"}
        if signature == "sign":
            headers["x-line-signature"] = sign(body)
        elif signature is not None:
            headers["x-line-signature"] = signature
        url = self.stack.base + "/webhooks/line"
        return self.exchange(lambda: self.http.post(url, content=body, headers=headers), LINE_OK, strict=strict)

    def telegram_post(self, body: bytes, secret: str | bytes | None = "secret") -> int:
        headers: dict[str, Any] = {"content-type": "application/json"}
        if secret == "secret":
            headers[SECRET_HEADER] = self.stack.secret
        elif secret is not None:
            headers[SECRET_HEADER] = secret
        strict = secret != "secret"
        url = self.stack.telegram_url
        return self.exchange(lambda: self.http.post(url, content=body, headers=headers), TELEGRAM_OK, strict=strict)

    def seat(self, channel: str, where: str) -> Seat:
        return next(s for s in self.seats if s.channel == channel and s.where == where)

    def changes_nothing(self, seat: Seat, event: Inbound) -> bool:
        return self.model.decide(seat.state, event).state == seat.state


@pytest.fixture(scope="module")
def bot(
    tmp_path_factory: pytest.TempPathFactory, catalog: Catalog, request: pytest.FixtureRequest
) -> Iterator[Running]:
    running = Running(tmp_path_factory.mktemp("fuzz"), catalog)
    running.start()
    try:
        yield running
    finally:
        running.stop()
        figures = {
            "cases": FIGURES["cases"] + FIGURES["engine cases"],
            "HTTP requests": FIGURES["cases"],
            "engine events": FIGURES["engine cases"],
            "5xx": FIGURES["5xx"],
            "errors logged": FIGURES["errors logged"],
        }
        figures.update({k: v for k, v in sorted(FIGURES.items()) if k.startswith("HTTP ")})
        report(request, "fuzz", figures)


# ---- events as the platforms shape them -------------------------------------------------------------


_event_ids = iter(range(1, 10**9))


def line_event(seat: Seat | None, kind: str, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": kind,
        "mode": "active",
        "timestamp": 1_760_000_000_000,
        "webhookEventId": f"01FUZZ{next(_event_ids):020d}",
        "deliveryContext": {"isRedelivery": False},
        "replyToken": f"fuzz{next(_event_ids):028d}",
    }
    if seat is not None:
        event["source"] = {"type": "user", "userId": seat.ref}
    event.update(fields)
    return event


def line_body(events: list[Any]) -> bytes:
    return json.dumps({"destination": "Ufuzz", "events": events}).encode()


def tg_user(seat: Seat) -> dict[str, Any]:
    return {"id": int(seat.ref), "is_bot": False, "first_name": "Fuzz", "language_code": "th"}


def tg_message(bot: Running, seat: Seat, **fields: Any) -> dict[str, Any]:
    chat = {"id": int(seat.ref), "type": "private", "first_name": "Fuzz"}
    message = {"message_id": 1, "date": 1_760_000_000, "chat": chat, "from": tg_user(seat), **fields}
    return {"update_id": next(bot.update_ids), "message": message}


def tg_callback(bot: Running, seat: Seat, data: Any, message: Any = "default") -> dict[str, Any]:
    query: dict[str, Any] = {
        "id": f"cq{next(bot.update_ids)}",
        "from": tg_user(seat),
        "chat_instance": "ci",
        "data": data,
    }
    if message == "default":
        message = {
            "message_id": 1,
            "date": 1_760_000_000,
            "chat": {"id": int(seat.ref), "type": "private"},
            "text": "question",
        }
    if message is not None:
        query["message"] = message
    return {"update_id": next(bot.update_ids), "callback_query": query}


def encode(value: Any) -> bytes:
    return json.dumps(value).encode()  # ASCII: lone surrogates travel as \\udXXX escapes


# ---- the corpus -----------------------------------------------------------------------------------


LINE_RAW: list[tuple[str, bytes, Any]] = [
    ("empty body", b"", "sign"),
    ("null", b"null", "sign"),
    ("a list", b"[]", "sign"),
    ("a number", b"1", "sign"),
    ("not JSON", b"{events: []", "sign"),
    ("no events", b"{}", "sign"),
    ("events null", b'{"events": null}', "sign"),
    ("events an object", b'{"events": {}}', "sign"),
    ("events of junk", b'{"events": [null, 1, "x", [], {}]}', "sign"),
    ("invalid UTF-8", b'{"events": [], "x": "\xff\xfe\xc0"}', "sign"),
    ("no signature", b'{"events": []}', None),
    ("empty signature", b'{"events": []}', ""),
    ("wrong signature", b'{"events": []}', sign(b'{"events": [ ]}')),
    ("truncated signature", b'{"events": []}', sign(b'{"events": []}')[:-2]),
    ("signature not base64", b'{"events": []}', "!!!***"),
    ("signature of another secret", b'{"events": []}', sign(b'{"events": []}', "not-the-secret")),
    ("signature with latin-1 bytes", b'{"events": []}', "sig\xe9".encode("latin-1")),
    ("over 1 MB", b'{"events": [], "pad": "' + b"x" * (1 << 20) + b'"}', "sign"),
]

TELEGRAM_RAW: list[tuple[str, bytes, Any]] = [
    ("empty body", b"", "secret"),
    ("null", b"null", "secret"),
    ("empty object", b"{}", "secret"),
    ("a list", b"[1, 2]", "secret"),
    ("a string", b'"update"', "secret"),
    ("not JSON", b"{update_id: 1", "secret"),
    ("invalid UTF-8", b'{"update_id": 5, "x": "\xff\xfe"}', "secret"),
    ("update_id a string", b'{"update_id": "x"}', "secret"),
    ("update_id only", b'{"update_id": 7}', "secret"),
    ("update_id huge", b'{"update_id": 123456789012345678901234567890}', "secret"),
    ("message null", b'{"update_id": 8, "message": null}', "secret"),
    ("message a list", b'{"update_id": 9, "message": [1]}', "secret"),
    ("message without chat", b'{"update_id": 10, "message": {"message_id": 1, "date": 1}}', "secret"),
    ("no secret", b'{"update_id": 11}', None),
    ("empty secret", b'{"update_id": 12}', ""),
    ("wrong secret", b'{"update_id": 13}', "wrong"),
    ("secret with latin-1 bytes", b'{"update_id": 14}', "s\xe9cret".encode("latin-1")),
]


@pytest.mark.parametrize(("name", "body", "signature"), LINE_RAW, ids=[c[0] for c in LINE_RAW])
def test_line_corpus_of_malformed_requests(bot: Running, name: str, body: bytes, signature: Any) -> None:
    strict = signature != "sign" or name in ("over 1 MB", "invalid UTF-8")
    assert bot.line_post(body, signature, strict=strict) in ({400, 413} if name != "events of junk" else {200})


@pytest.mark.parametrize(("name", "body", "secret"), TELEGRAM_RAW, ids=[c[0] for c in TELEGRAM_RAW])
def test_telegram_corpus_of_malformed_requests(bot: Running, name: str, body: bytes, secret: Any) -> None:
    status = bot.telegram_post(body, secret)
    if secret != "secret":
        assert status == 403


def line_corpus_events(bot: Running) -> list[tuple[str, list[Any]]]:
    rating, text, lang = bot.seat("line", "rating"), bot.seat("line", "text"), bot.seat("line", "lang")
    user = {"type": "user", "userId": rating.ref}
    return [
        ("id missing", [{k: v for k, v in line_event(rating, "follow").items() if k != "webhookEventId"}]),
        ("id a number", [line_event(rating, "follow", webhookEventId=12345)]),
        (
            "id a lone surrogate",
            [line_event(None, "follow", webhookEventId="\ud800", source={"type": "user", "userId": "U\udc00"})],
        ),
        (
            "user id a lone surrogate",
            [line_event(None, "message", source={"type": "user", "userId": "U\ud800x"}, message={"type": "sticker"})],
        ),
        (
            "reply token a lone surrogate",
            [line_event(rating, "message", replyToken="\udfff", message={"type": "sticker"})],
        ),
        ("source a string", [line_event(None, "follow", source="user")]),
        ("source of unknown type", [line_event(None, "follow", source={"type": "robot", "userId": rating.ref})]),
        ("user id a number", [line_event(None, "follow", source={"type": "user", "userId": 7})]),
        ("type a number", [line_event(rating, 7)]),
        ("type missing", [{k: v for k, v in line_event(rating, "message").items() if k != "type"}]),
        ("unknown type", [line_event(rating, "teleport", teleport={"to": "moon"})]),
        ("message a list", [line_event(rating, "message", message=[1, 2])]),
        ("message a string", [line_event(rating, "message", message="4")]),
        ("message type unknown", [line_event(rating, "message", message={"type": "hologram", "id": "1"})]),
        ("text a number", [line_event(rating, "message", message={"type": "text", "id": "1", "text": 4})]),
        ("text a list", [line_event(text, "message", message={"type": "text", "id": "1", "text": ["a comment"]})]),
        ("text null", [line_event(text, "message", message={"type": "text", "id": "1", "text": None})]),
        ("text 50 KB", [line_event(text, "message", message={"type": "text", "id": "1", "text": "ก" * HUGE})]),
        (
            "text of lone surrogates",
            [line_event(rating, "message", message={"type": "text", "id": "1", "text": "\ud800\udbff4"})],
        ),
        ("postback a list", [line_event(rating, "postback", postback=["lang=en"])]),
        ("postback data a number", [line_event(rating, "postback", postback={"data": 5})]),
        ("postback data empty", [line_event(rating, "postback", postback={"data": ""})]),
        ("postback data 50 KB", [line_event(rating, "postback", postback={"data": "q." + "x" * HUGE + "=4"})]),
        ("postback for another question", [line_event(lang, "postback", postback={"data": f"q.{rating.state.key}=4"})]),
        ("timestamp a string", [line_event(rating, "message", timestamp="yesterday", message={"type": "sticker"})]),
        ("timestamp negative", [line_event(rating, "message", timestamp=-5, message={"type": "sticker"})]),
        ("timestamp beyond year 9999", [line_event(rating, "message", timestamp=10**20, message={"type": "sticker"})]),
        ("timestamp a float", [line_event(rating, "message", timestamp=1.5e12, message={"type": "sticker"})]),
        (
            "standby mode",
            [line_event(rating, "message", mode="standby", message={"type": "text", "id": "1", "text": "5"})],
        ),
        (
            "from a group",
            [
                line_event(
                    None,
                    "message",
                    source={"type": "group", "groupId": "C1", "userId": rating.ref},
                    message={"type": "text", "text": "5"},
                )
            ],
        ),
        ("from a room, no ids", [line_event(None, "postback", source={"type": "room"}, postback={"data": "lang=en"})]),
        (
            "delivery context junk",
            [line_event(rating, "message", deliveryContext="again", message={"type": "sticker"})],
        ),
        ("unfollow without a source", [line_event(None, "unfollow")]),
        ("source user without id", [line_event(None, "follow", source={"type": "user"})]),
        ("a thousand events of nothing", [line_event(None, "teleport") for _ in range(1000)]),
        (
            "memberJoined from a person",
            [{"type": "memberJoined", "source": user, "webhookEventId": "01FUZZmember", "joined": 5}],
        ),
    ]


def test_line_corpus_of_malformed_events(bot: Running) -> None:
    failures = []
    for name, events in line_corpus_events(bot):
        try:
            bot.line_post(line_body(events))
        except AssertionError as exc:
            failures.append(f"{name}: {exc}")
    assert not failures, "\n\n".join(failures)


def test_telegram_corpus_of_malformed_updates(bot: Running) -> None:
    rating, text, lang = bot.seat("telegram", "rating"), bot.seat("telegram", "text"), bot.seat("telegram", "lang")
    cases: list[tuple[str, dict[str, Any]]] = [
        ("text a number", tg_message(bot, rating, text=4)),
        ("text a list", tg_message(bot, text, text=["a comment"])),
        ("text 50 KB", tg_message(bot, text, text="ก" * HUGE)),
        ("text of lone surrogates", tg_message(bot, rating, text="\ud800\udbff4")),
        ("date a string", tg_message(bot, rating, date="today", text="5")),
        ("date beyond year 9999", tg_message(bot, rating, date=10**15, text="5")),
        ("from a string", tg_message(bot, rating, **{"from": "someone", "text": "5"})),
        ("chat a number", tg_message(bot, rating, chat=5, text="5")),
        ("chat of unknown type", tg_message(bot, rating, chat={"id": int(rating.ref), "type": "hyperspace"}, text="5")),
        ("a group chat", tg_message(bot, rating, chat={"id": -100, "type": "group", "title": "g"}, text="5")),
        ("entities junk", tg_message(bot, rating, text="/start", entities=[{"type": 5}])),
        ("callback data a number", tg_callback(bot, rating, 4)),
        ("callback data missing", tg_callback(bot, rating, None)),
        ("callback data 10 KB", tg_callback(bot, rating, "q." + "x" * 10_000 + "=4")),
        ("callback data over 64 bytes", tg_callback(bot, rating, "x" * (MAX_CALLBACK_DATA + 1))),
        ("callback for another question", tg_callback(bot, lang, f"q.{rating.state.key}=4")),
        ("callback with no message", tg_callback(bot, rating, "lang=en", message=None)),
        ("callback message a string", tg_callback(bot, rating, "lang=en", message="question")),
        (
            "callback from a group",
            tg_callback(
                bot, rating, "lang=en", message={"message_id": 1, "date": 1, "chat": {"id": -5, "type": "group"}}
            ),
        ),
        ("my_chat_member junk", {"update_id": next(bot.update_ids), "my_chat_member": {"chat": 5}}),
    ]
    cases += [(kind, {"update_id": next(bot.update_ids), kind: {"id": 1, "junk": [1, 2]}}) for kind in TG_OTHER_UPDATES]
    failures = []
    for name, update in cases:
        try:
            bot.telegram_post(encode(update))
        except AssertionError as exc:
            failures.append(f"{name}: {exc}")
    assert not failures, "\n\n".join(failures)


# ---- property-based: LINE --------------------------------------------------------------------------


@st.composite
def line_events(draw: st.DrawFn, bot: Running) -> Any:
    """One event that must change no participant: malformed, or invalid for a seated one."""
    seats = [s for s in bot.seats if s.channel == "line"]
    seat = draw(st.sampled_from(seats))
    kind = draw(
        st.sampled_from(("structure", "payload", "forged", "text", "huge", "media", "standby", "not-a-user", "junk"))
    )
    FIGURES["LINE event: " + kind] += 1
    if kind == "junk":
        return draw(json_value)
    if kind == "structure":  # any fields at all, but never a person's message, tap or follow
        event = line_event(None, draw(st.one_of(st.sampled_from(LINE_TYPES[4:]), any_text, json_value)))
        for key in draw(
            st.lists(
                st.sampled_from(
                    (
                        "source",
                        "timestamp",
                        "mode",
                        "message",
                        "postback",
                        "replyToken",
                        "webhookEventId",
                        "deliveryContext",
                    )
                ),
                max_size=4,
            )
        ):
            event[key] = draw(json_value)
        assume(
            not (isinstance(event.get("type"), str) and event["type"] in ("message", "postback", "follow", "unfollow"))
        )
        return event
    if kind == "payload":  # a message or a tap from the participant, with its payload malformed
        if draw(st.booleans()):
            message = draw(
                st.one_of(
                    json_value,
                    st.fixed_dictionaries({"type": json_value}),
                    st.fixed_dictionaries(
                        {"type": st.just("text"), "text": json_value.filter(lambda v: not isinstance(v, str))}
                    ),
                )
            )
            assume(
                not (
                    isinstance(message, dict) and message.get("type") == "text" and isinstance(message.get("text"), str)
                )
            )
            return line_event(seat, "message", message=message)
        postback = draw(
            st.one_of(
                json_value,
                st.fixed_dictionaries({"data": json_value.filter(lambda v: not isinstance(v, str) or not v)}),
            )
        )
        assume(not (isinstance(postback, dict) and isinstance(postback.get("data"), str) and postback["data"]))
        return line_event(seat, "postback", postback=postback)
    if kind == "forged":
        return line_event(seat, "postback", postback={"data": draw(forged(bot.catalog, seat.state))})
    if kind in ("text", "huge"):
        seat = draw(st.sampled_from([s for s in seats if s.where != "stranger"]))  # any text greets a stranger
        text = draw(huge_text() if kind == "huge" else junk_text())
        assume(bot.changes_nothing(seat, Inbound("text", text=text)))
        return line_event(seat, "message", message={"type": "text", "id": "1", "text": text})
    if kind == "media":
        media = draw(st.sampled_from(("sticker", "image", "video", "audio", "file", "location")))
        return line_event(
            seat,
            "message",
            message={"type": media, "id": "1", **draw(st.dictionaries(any_text, json_value, max_size=2))},
        )
    if kind == "standby":
        return line_event(seat, "message", mode="standby", message={"type": "text", "id": "1", "text": draw(any_text)})
    source = draw(
        st.one_of(
            json_value,
            st.fixed_dictionaries(
                {
                    "type": st.sampled_from(("group", "room")),
                    "groupId": any_text,
                    "roomId": any_text,
                    "userId": st.just(seat.ref),
                }
            ),
        )
    )
    return line_event(
        None,
        draw(st.sampled_from(("message", "postback", "follow"))),
        source=source,
        message={"type": "text", "text": "5"},
        postback={"data": "lang=en"},
    )


@settled(max_examples=LINE_EXAMPLES)
@given(data=st.data())
def test_line_webhook_property(bot: Running, data: st.DataObject) -> None:
    how = data.draw(st.sampled_from(("signed", "signed", "signed", "signed", "unsigned", "bad signature")))
    events = data.draw(st.lists(line_events(bot), min_size=1, max_size=3))
    body = line_body(events)
    refused = 413 if len(body) > MAX_BODY else 400  # a body over 1 MB is refused before its signature is read
    if how == "signed":
        bot.line_post(body)
    elif how == "unsigned":
        assert bot.line_post(body, None, strict=True) == refused
    else:
        forged_signature = data.draw(
            st.one_of(
                st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=60),
                st.just(sign(body)[:-4] + "AAA="),
            )
        )
        assume(forged_signature != sign(body))
        assert bot.line_post(body, forged_signature, strict=True) == refused


# ---- property-based: Telegram ----------------------------------------------------------------------


@st.composite
def telegram_updates(draw: st.DrawFn, bot: Running) -> dict[str, Any]:
    seats = [s for s in bot.seats if s.channel == "telegram"]
    seat = draw(st.sampled_from(seats))
    kind = draw(st.sampled_from(("forged", "text", "huge", "no-message", "other-update", "group", "fields", "junk")))
    FIGURES["Telegram update: " + kind] += 1
    if kind == "forged":
        return tg_callback(bot, seat, draw(forged(bot.catalog, seat.state)))
    if kind in ("text", "huge"):
        seat = draw(st.sampled_from([s for s in seats if s.where != "stranger"]))  # any text greets a stranger
        text = draw(huge_text() if kind == "huge" else junk_text())
        assume(bot.changes_nothing(seat, Inbound("text", text=text)))
        return tg_message(bot, seat, text=text)
    if kind == "no-message":
        return tg_callback(bot, seat, draw(any_text), message=None)
    if kind == "other-update":
        return {"update_id": next(bot.update_ids), draw(st.sampled_from(TG_OTHER_UPDATES)): draw(json_value)}
    if kind == "group":
        chat = {
            "id": -draw(st.integers(1, 10**12)),
            "type": draw(st.sampled_from(("group", "supergroup", "channel"))),
            "title": draw(any_text),
        }
        return tg_message(bot, seat, chat=chat, text=draw(any_text))
    if kind == "fields":  # a message whose fields have the wrong types
        field = draw(st.sampled_from(("text", "date", "chat", "from", "message_id", "entities", "sticker", "caption")))
        value = draw(json_value)
        if field == "text":
            assume(not isinstance(value, str))
        update = tg_message(bot, seat, text="/nonsense")
        update["message"][field] = value
        return update
    return {"update_id": next(bot.update_ids), **draw(st.dictionaries(any_text, json_value, max_size=3))}


@settled(max_examples=TELEGRAM_EXAMPLES)
@given(data=st.data())
def test_telegram_webhook_property(bot: Running, data: st.DataObject) -> None:
    update = data.draw(telegram_updates(bot))
    if data.draw(st.integers(0, 9)) == 0:
        secret = data.draw(
            st.one_of(st.none(), st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=70))
        )
        assume(secret != bot.stack.secret)
        assert bot.telegram_post(encode(update), secret) == 403
    else:
        bot.telegram_post(encode(update))


# ---- property-based: the engine ---------------------------------------------------------------------


def states(catalog: Catalog) -> list[State]:
    """Reachable states: random walks of plausible inputs, and the detours (declined, deleting)."""
    model = Model(catalog)
    found: list[State] = [State()]
    for seed in range(40):
        rng = random.Random(seed)
        s = State()
        for n in range(rng.randint(1, 70)):
            s = model.decide(s, next_input(rng, catalog, s, "walk", n)).state
        found.append(s)
        for detour in ("/deleteme", "/language", "/areas", "back"):
            found.append(model.decide(s, Inbound("text", text=detour)).state)
    declined = model.decide(
        model.decide(State(), Inbound("button", data="lang=th")).state, Inbound("button", data="consent=no")
    )
    found.append(declined.state)
    return found


_STATES: dict[int, list[State]] = {}


def pool(catalog: Catalog) -> list[State]:
    if id(catalog) not in _STATES:
        _STATES[id(catalog)] = states(catalog)
    return _STATES[id(catalog)]


inbound = st.one_of(
    st.builds(
        Inbound,
        kind=st.just("text"),
        text=st.one_of(
            any_text,
            huge_text(),
            junk_text(),
            st.sampled_from(
                [
                    "/start",
                    "/start health",
                    "/start " + "x" * 5000,
                    "back",
                    "skip",
                    "ลบข้อมูล",
                    "yes",
                    "1",
                    "13",
                    "register 1",
                ]
            ),
        ),
    ),
    st.builds(
        Inbound,
        kind=st.just("button"),
        data=st.one_of(
            any_text,
            huge_text(),
            st.sampled_from(["=", "q.=", "lang=", "=th", "q..=4", "reg=1", "unreg=99999999999999999999", "del=yes"]),
        ),
    ),
    st.just(Inbound("unsupported")),
    st.just(Inbound("follow")),
)


@settled(max_examples=ENGINE_EXAMPLES)
@given(data=st.data(), event=inbound)
def test_engine_never_raises_and_keeps_its_invariants(catalog: Catalog, data: st.DataObject, event: Inbound) -> None:
    state = data.draw(st.sampled_from(pool(catalog)))
    FIGURES["engine cases"] += 1
    out = Model(catalog).decide(state, event)
    assert out.replies, "every event is answered"
    for reply in out.replies:
        assert reply.text.strip() or reply.buttons
        reply.text.encode("utf-8")  # no lone surrogate reaches a platform
        for b in reply.buttons:
            assert b.data.isascii() and len(b.data.encode()) <= MAX_CALLBACK_DATA, b.data
            assert b.label.strip()
    for key, answer in out.state.answers.items():
        if state.answers.get(key) != answer and answer.text is not None:
            assert 0 < len(answer.text) <= MAX_TEXT
            answer.text.encode("utf-8")
            assert not any(c < " " and c not in "\n\t" for c in answer.text)
    if out.refused:
        assert out.state == state


@settled(max_examples=ENGINE_EXAMPLES)
@given(data=st.data())
def test_engine_refuses_forged_button_data_and_changes_nothing(catalog: Catalog, data: st.DataObject) -> None:
    state = data.draw(st.sampled_from(pool(catalog)))
    forged_data = data.draw(forged(catalog, state))
    FIGURES["engine cases"] += 1
    out = Model(catalog).decide(state, Inbound("button", data=forged_data))
    assert out.refused and out.state == state, (state.step, state.key, forged_data)
    assert out.replies and not out.erase


@pytest.mark.parametrize(
    "event",
    [Inbound("text", text="²"), Inbound("text", text="4" * 5000), Inbound("button", data="reg=" + "9" * 5000)],
    ids=["superscript two", "5000 digits", "reg= 5000 digits"],
)
def test_engine_reads_any_typed_number(catalog: Catalog, event: Inbound) -> None:
    """A participant at a rating question types a number the engine cannot use ('²', 5,000 digits:
    LINE allows texts that long): it is answered like any other unreadable text, and nothing changes."""
    s = next(s for s in pool(catalog) if s.step == "survey" and s.consent == "given")
    out = Model(catalog).decide(s, event)
    assert out.state == s
