"""A fake LINE platform on 127.0.0.1: the Messaging API's reply and push endpoints, checked the
way LINE checks them, and LINE users who send signed webhooks shaped like real ones.

The API records every call. Reply tokens are single use, live `token_life` seconds from the
event that carried them (LINE: use it within about a minute) and can be expired; retry keys are
remembered, so a second push with an accepted key gets 409 as on LINE. Failures are scripted:
`api.fail("push", 500)` answers the next push with a 500 (`deliver=True` delivers it anyway,
the ambiguous case a retry key exists for).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from . import line_flex as flex
from .line_richmenu import RichMenus

ACCESS_TOKEN = "fake-line-access-token"
CHANNEL_SECRET = "fake-line-channel-secret"


def free_socket() -> socket.socket:
    """A listening-ready socket on a free loopback port (bound, so no other test can take it)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class QuietServer(uvicorn.Server):
    """uvicorn without signal handling, for serving inside a test's event loop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(app: Any) -> tuple[QuietServer, asyncio.Task[None], int]:
    """Serve an ASGI app on a free loopback port; returns once it accepts connections."""
    sock = free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
    server = QuietServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.005)
    return server, task, port


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Call:
    """One request to the fake API and what it answered."""

    kind: str  # "reply" | "push"
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    to: str | None = None  # whose chat the messages reached (a reply's through its token)

    @property
    def delivered(self) -> bool:
        return self.to is not None

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])


@dataclass
class _Scripted:
    status: int
    message: str
    deliver: bool = False


@dataclass
class FakeLineApi:
    token: str = ACCESS_TOKEN
    calls: list[Call] = field(default_factory=list)
    owners: dict[str, str] = field(default_factory=dict)  # reply token → the user it answers
    used: set[str] = field(default_factory=set)
    expired: set[str] = field(default_factory=set)
    accepted_keys: set[str] = field(default_factory=set)
    script: dict[str, list[_Scripted]] = field(default_factory=lambda: {"reply": [], "push": []})
    latency: float = 0.0  # seconds each API call takes
    in_flight: int = 0  # message calls being answered now
    peak_in_flight: int = 0  # the most answered at once: how many connections the client keeps
    url: str = ""
    data_url: str = ""  # the api-data host (rich menu images), a server of its own as on LINE
    multicasts: int = 0  # multicast calls answered
    token_life: float = 60.0  # seconds a reply token can be used, from its event's making
    issued: dict[str, float] = field(default_factory=dict)  # reply token → time.monotonic() it was made
    late_replies: int = 0  # replies refused because their token had outlived `token_life`
    # The Official Account's monthly message quota, as LINE keeps it: None is no limit ({"type":
    # "none"}); pushes and multicasts spend one message per recipient per call (replies are free)
    # and are refused with 429 once it is spent.
    quota: int | None = None
    quota_used: int = 0
    quota_reads: int = 0  # GET /v2/bot/message/quota calls answered

    def __post_init__(self) -> None:
        self._changed = asyncio.Condition()
        self._ids = itertools.count(1)
        self._servers: list[tuple[QuietServer, asyncio.Task[None]]] = []
        self.richmenus = RichMenus(self.token)

    # ---- control -----------------------------------------------------------------------

    def fail(self, kind: str, status: int, message: str = "", *, times: int = 1, deliver: bool = False) -> None:
        """Answer the next `times` calls of `kind` with `status` (after auth and validation)."""
        default = {400: "Invalid reply token", 429: "Too many requests", 500: "Internal server error"}
        self.script[kind] += [_Scripted(status, message or default.get(status, "error"), deliver)] * times

    def expire(self, token: str) -> None:
        self.expired.add(token)

    def delivered(self, user_id: str) -> list[dict[str, Any]]:
        """Every message that reached a user, in order."""
        return [m for c in self.calls if c.to == user_id for m in c.messages]

    def replies_to(self, token: str) -> list[Call]:
        return [c for c in self.calls if c.kind == "reply" and c.body.get("replyToken") == token]

    def pushes_to(self, user_id: str) -> list[Call]:
        return [c for c in self.calls if c.kind == "push" and c.body.get("to") == user_id]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until `predicate()` holds, re-checking after every call to the API."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout)

    # ---- serving -----------------------------------------------------------------------

    async def __aenter__(self) -> FakeLineApi:
        app = Starlette(
            routes=[
                Route("/v2/bot/message/reply", self._reply, methods=["POST"]),
                Route("/v2/bot/message/push", self._push, methods=["POST"]),
                Route("/v2/bot/message/multicast", self._multicast, methods=["POST"]),
                Route("/v2/bot/message/quota", self._quota, methods=["GET"]),
                Route("/v2/bot/message/quota/consumption", self._consumption, methods=["GET"]),
                *self.richmenus.routes(),
            ]
        )
        server, task, port = await serve(app)
        self._servers.append((server, task))
        self.url = f"http://127.0.0.1:{port}"
        server, task, port = await serve(Starlette(routes=self.richmenus.data_routes()))
        self._servers.append((server, task))
        self.data_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        for server, _ in self._servers:
            server.should_exit = True
        for _, task in self._servers:
            await task

    async def _record(self, call: Call) -> JSONResponse:
        self.calls.append(call)
        async with self._changed:
            self._changed.notify_all()
        if call.status == 200:
            return JSONResponse({"sentMessages": self._sent(call.messages)})
        return JSONResponse(call.body.get("_error", {"message": "error"}), status_code=call.status)

    def _sent(self, messages: list[dict[str, Any]]) -> list[dict[str, str]]:
        return [{"id": str(next(self._ids)), "quoteToken": uuid.uuid4().hex} for _ in messages]

    async def _parse(self, request: Request, kind: str) -> tuple[dict[str, Any], dict[str, str], str | None]:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
        finally:
            self.in_flight -= 1
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            body = json.loads(await request.body())
        except ValueError:
            return {}, headers, "The request body could not be parsed as JSON"
        if headers.get("authorization") != f"Bearer {self.token}":
            return body, headers, "401"
        return body, headers, validate(body, kind)

    async def _error(self, kind: str, body: dict, headers: dict, status: int, message: str) -> JSONResponse:
        return await self._record(Call(kind, status, {**body, "_error": {"message": message}}, headers))

    async def _reply(self, request: Request) -> JSONResponse:
        body, headers, problem = await self._parse(request, "reply")
        if problem == "401":
            return await self._error("reply", body, headers, 401, "Authentication failed")
        if problem:
            return await self._error("reply", body, headers, 400, problem)
        if "x-line-retry-key" in headers:
            return await self._error("reply", body, headers, 400, "X-Line-Retry-Key is not supported here")
        if self.script["reply"]:
            s = self.script["reply"].pop(0)
            return await self._error("reply", body, headers, s.status, s.message)
        token = body.get("replyToken")
        if token in self.issued and time.monotonic() - self.issued[token] > self.token_life:
            self.late_replies += 1
            self.expired.add(token)
        if token not in self.owners or token in self.used or token in self.expired:
            return await self._error("reply", body, headers, 400, "Invalid reply token")
        self.used.add(token)
        return await self._record(Call("reply", 200, body, headers, to=self.owners[token]))

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.token}"

    async def _quota(self, request: Request) -> JSONResponse:
        """GET /v2/bot/message/quota: `{"type": "limited", "value": N}` or `{"type": "none"}`."""
        if not self._authorized(request):
            return JSONResponse({"message": "Authentication failed"}, status_code=401)
        self.quota_reads += 1
        if self.quota is None:
            return JSONResponse({"type": "none"})
        return JSONResponse({"type": "limited", "value": self.quota})

    async def _consumption(self, request: Request) -> JSONResponse:
        """GET /v2/bot/message/quota/consumption: `{"totalUsage": N}`."""
        if not self._authorized(request):
            return JSONResponse({"message": "Authentication failed"}, status_code=401)
        return JSONResponse({"totalUsage": self.quota_used})

    def _spend(self, recipients: int) -> bool:
        """Spend the quota for one call to `recipients`; False (nothing spent) when it would go over."""
        if self.quota is not None and self.quota_used + recipients > self.quota:
            return False
        self.quota_used += recipients
        return True

    async def _push(self, request: Request) -> JSONResponse:
        body, headers, problem = await self._parse(request, "push")
        if problem == "401":
            return await self._error("push", body, headers, 401, "Authentication failed")
        if problem:
            return await self._error("push", body, headers, 400, problem)
        key = headers.get("x-line-retry-key")
        if key is not None:
            try:
                uuid.UUID(key)
            except ValueError:
                return await self._error("push", body, headers, 400, "Invalid retry key")
            if key in self.accepted_keys:
                return await self._error("push", body, headers, 409, "The retry key is already accepted")
        if self.script["push"]:
            s = self.script["push"].pop(0)
            if s.deliver:  # delivered, yet the caller sees an error
                if key:
                    self.accepted_keys.add(key)
                call = Call("push", s.status, {**body, "_error": {"message": s.message}}, headers, to=body["to"])
                return await self._record(call)
            return await self._error("push", body, headers, s.status, s.message)
        if not self._spend(1):
            return await self._error("push", body, headers, 429, "You have reached your monthly limit.")
        if key:
            self.accepted_keys.add(key)
        return await self._record(Call("push", 200, body, headers, to=body["to"]))

    async def _multicast(self, request: Request) -> JSONResponse:
        """Up to 500 recipients; recorded as one delivered call per recipient (kind `multicast`)."""
        body, headers, problem = await self._parse(request, "multicast")
        if problem == "401":
            return await self._error("multicast", body, headers, 401, "Authentication failed")
        if problem:
            return await self._error("multicast", body, headers, 400, problem)
        key = headers.get("x-line-retry-key")
        if key is not None and key in self.accepted_keys:
            return await self._error("multicast", body, headers, 409, "The retry key is already accepted")
        if not self._spend(len(body["to"])):
            return await self._error("multicast", body, headers, 429, "You have reached your monthly limit.")
        if key:
            self.accepted_keys.add(key)
        for user_id in body["to"]:
            self.calls.append(Call("multicast", 200, body, headers, to=user_id))
        self.multicasts += 1
        async with self._changed:
            self._changed.notify_all()
        return JSONResponse({})


def validate(body: dict[str, Any], kind: str) -> str | None:
    """LINE's limits on a reply or push body; the first problem found, or None."""
    if kind == "reply" and not isinstance(body.get("replyToken"), str):
        return "replyToken is required"
    if kind == "push" and not isinstance(body.get("to"), str):
        return "to is required"
    if kind == "multicast":
        to = body.get("to")
        if not isinstance(to, list) or not 1 <= len(to) <= 500 or not all(isinstance(u, str) for u in to):
            return "to: between 1 and 500 user ids"
    messages = body.get("messages")
    if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
        return "messages: between 1 and 5 message objects"
    for n, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("type") not in ("text", "flex"):
            return f"messages[{n}].type: only text and flex expected here"
        if m["type"] == "flex":
            try:
                flex.message(m, f"messages[{n}]")
            except flex.Invalid as exc:
                return str(exc)
        else:
            text = m.get("text")
            if not isinstance(text, str) or not text or utf16_len(text) > 5000:
                return f"messages[{n}].text: 1 to 5000 characters"
        quick = m.get("quickReply")
        if quick is None:
            continue
        items = quick.get("items")
        if not isinstance(items, list) or not 1 <= len(items) <= 13:
            return f"messages[{n}].quickReply.items: 1 to 13 items"
        for i, item in enumerate(items):
            action = item.get("action") or {}
            where = f"messages[{n}].quickReply.items[{i}].action"
            if item.get("type") != "action" or action.get("type") != "postback":
                return f"{where}: a postback action expected"
            label, data, display = action.get("label"), action.get("data"), action.get("displayText")
            if not isinstance(label, str) or not 1 <= len(label) <= 20:
                return f"{where}.label: 1 to 20 characters"
            if not isinstance(data, str) or not 1 <= len(data) <= 300:
                return f"{where}.data: 1 to 300 characters"
            if display is not None and (not isinstance(display, str) or not 1 <= len(display) <= 300):
                return f"{where}.displayText: 1 to 300 characters"
    return None


# ---- the users' side: signed webhooks ---------------------------------------------------------


def sign(body: bytes, secret: str = CHANNEL_SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _ids() -> Iterator[str]:
    for n in itertools.count(1):
        yield f"01{uuid.uuid4().hex[:20].upper()}{n:04d}"  # ULID-shaped, unique


@dataclass
class LinePlatform:
    """LINE's webhook side: builds events like LINE's and posts them, signed, to the bot."""

    api: FakeLineApi
    webhook_url: str
    secret: str = CHANNEL_SECRET
    destination: str = "Ubotdestination0000000000000000000"

    pace: float | None = 3.0  # seconds between one event and the next, as LINE's timestamps tell;
    # None: the wall clock, so the bot sees messages as fast as the test sends them

    def __post_init__(self) -> None:
        self.http = httpx.AsyncClient(timeout=10.0)
        self._event_ids = _ids()
        self._clock = time.time() - 3600  # people type at a human pace, whatever the test's speed

    def timestamp(self) -> int:
        if self.pace is None:
            return int(time.time() * 1000)
        self._clock += self.pace
        return int(self._clock * 1000)

    async def aclose(self) -> None:
        await self.http.aclose()

    def user(self, user_id: str) -> LineUser:
        return LineUser(self, user_id)

    def event(self, kind: str, source: dict[str, str], *, reply: bool = True, **fields: Any) -> dict[str, Any]:
        """One webhook event; a reply token when the event type has one, owned by the source."""
        event: dict[str, Any] = {
            "type": kind,
            "mode": "active",
            "timestamp": self.timestamp(),
            "source": source,
            "webhookEventId": next(self._event_ids),
            "deliveryContext": {"isRedelivery": False},
            **fields,
        }
        if reply:
            token = uuid.uuid4().hex
            event["replyToken"] = token
            self.api.owners[token] = source.get("groupId") or source.get("roomId") or source.get("userId", "")
            self.api.issued[token] = time.monotonic()
        return event

    def body(self, events: list[dict[str, Any]]) -> bytes:
        return json.dumps({"destination": self.destination, "events": events}, ensure_ascii=False).encode()

    async def post(
        self, events: list[dict[str, Any]] | bytes, *, signature: str | None = "sign", secret: str | None = None
    ) -> httpx.Response:
        """POST a webhook body; `signature=None` sends none, any other string is sent as given,
        and the default signs the body with the channel secret (or `secret`)."""
        body = events if isinstance(events, bytes) else self.body(events)
        headers = {"content-type": "application/json; charset=utf-8", "user-agent": "LineBotWebhook/2.0"}
        if signature == "sign":
            headers["x-line-signature"] = sign(body, secret or self.secret)
        elif signature is not None:
            headers["x-line-signature"] = signature
        return await self.http.post(self.webhook_url, content=body, headers=headers)


@dataclass
class LineUser:
    """A LINE user: the events their actions cause, and what the bot sent them."""

    platform: LinePlatform
    user_id: str

    @property
    def source(self) -> dict[str, str]:
        return {"type": "user", "userId": self.user_id}

    def follow(self) -> dict[str, Any]:
        return self.platform.event("follow", self.source, follow={"isUnblocked": False})

    def unfollow(self) -> dict[str, Any]:
        return self.platform.event("unfollow", self.source, reply=False)

    def text(self, text: str) -> dict[str, Any]:
        message = {"id": str(time.monotonic_ns()), "type": "text", "quoteToken": uuid.uuid4().hex, "text": text}
        return self.platform.event("message", self.source, message=message)

    def sticker(self) -> dict[str, Any]:
        message = {
            "id": str(time.monotonic_ns()),
            "type": "sticker",
            "quoteToken": uuid.uuid4().hex,
            "packageId": "446",
            "stickerId": "1988",
            "stickerResourceType": "STATIC",
            "keywords": ["happy"],
        }
        return self.platform.event("message", self.source, message=message)

    def image(self) -> dict[str, Any]:
        message = {
            "id": str(time.monotonic_ns()),
            "type": "image",
            "quoteToken": uuid.uuid4().hex,
            "contentProvider": {"type": "line"},
        }
        return self.platform.event("message", self.source, message=message)

    def location(self) -> dict[str, Any]:
        message = {"id": str(time.monotonic_ns()), "type": "location", "latitude": 13.75, "longitude": 100.5}
        return self.platform.event("message", self.source, message=message)

    def postback(self, data: str) -> dict[str, Any]:
        return self.platform.event("postback", self.source, postback={"data": data})

    # ---- what the bot sent -------------------------------------------------------------

    def messages(self) -> list[dict[str, Any]]:
        return self.platform.api.delivered(self.user_id)

    def quick_replies(self) -> list[dict[str, Any]]:
        """The postback actions offered with the last message this user got."""
        messages = self.messages()
        if not messages:
            return []
        items = (messages[-1].get("quickReply") or {}).get("items") or []
        return [item["action"] for item in items]

    def bubble_buttons(self) -> list[dict[str, Any]]:
        """The postback actions of the buttons inside the last message's Flex bubble (what LINE for
        PC and Mac offers, which shows no quick replies)."""
        messages = self.messages()
        if not messages or messages[-1].get("type") != "flex":
            return []

        def walk(node: object) -> list[dict[str, Any]]:
            if isinstance(node, dict):
                own = [node["action"]] if node.get("type") == "button" else []
                return own + [a for v in node.values() for a in walk(v)]
            return [a for v in node for a in walk(v)] if isinstance(node, list) else []

        return walk(messages[-1]["contents"])

    def tap(self, choose: str | Callable[[dict[str, Any]], bool] | int) -> dict[str, Any]:
        """The postback event of tapping an offered quick reply: by label, by test, or by index."""
        actions = self.quick_replies()
        if isinstance(choose, int):
            action = actions[choose]
        else:
            test = choose if callable(choose) else (lambda a: a["label"] == choose)
            found = [a for a in actions if test(a)]
            if not found:
                labels = [a["label"] for a in actions]
                raise AssertionError(f"no quick reply {choose!r} on the last message; offered: {labels}")
            action = found[0]
        return self.postback(action["data"])
