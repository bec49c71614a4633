"""A fake Telegram Bot API server on 127.0.0.1 for tests: real HTTP, Bot-API-shaped JSON.

It serves the methods rabfang uses, records every call, queues updates for `getUpdates` with
Telegram's offset semantics (an update is confirmed once a later offset is asked for), and can
play a blocked user (403) or flood control (429 with `retry_after`). It runs in the test's
event loop, so tests await its records instead of sleeping.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import email.parser
import email.policy
import itertools
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

TOKEN = "123456:TEST-token_abcdefghijklmnopqrstuvwxyz"
BOT_ID = 123456
BOT_USERNAME = "rabfang_test_bot"

# Parameters PTB sends as plain strings; every other parameter is JSON-encoded.
_STRING_PARAMS = {"text", "caption", "callback_query_id", "url", "secret_token", "language_code", "parse_mode"}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float  # time.monotonic() when it arrived
    status: int = 200
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # field -> (filename, content)
    result: Any = None  # what the server answered, when it succeeded


def listening_socket() -> socket.socket:
    """A socket on a free 127.0.0.1 port, listening before the server runs (connections wait in
    its backlog). Made as an explicit TCP socket: asyncio only sets TCP_NODELAY on those, and
    without it every response waits ~40 ms for a delayed ACK."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Refusal(Exception):
    """A method's 400, with the Bot API's description."""


class FakeBotAPI:
    """The fake server and its state. Use `async with FakeBotAPI() as api:`; `api.base_url` is what
    TELEGRAM_API_BASE_URL should be."""

    def __init__(self, token: str = TOKEN):
        self.token = token
        self.calls: list[Call] = []
        self.updates: list[dict[str, Any]] = []  # unconfirmed, in order
        self.blocked: set[int] = set()
        self.flood: dict[str, list[int]] = {}  # method -> retry_after values to answer with, in turn
        self.webhook: dict[str, Any] = {}
        self.on_call: Callable[[Call], None] | None = None  # runs before the response is sent
        self.latency: dict[str, float] = {}  # method -> seconds to take answering it
        self.rate_limit: int | None = None  # messages per second, beyond which 429 with retry_after
        self._sends: collections.deque[float] = collections.deque()
        self.arrivals: list[str] = []  # methods in the order their requests arrived
        self._changed = asyncio.Condition()
        self._update_ids = itertools.count(1000)
        self._message_ids = itertools.count(1)
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._closing = False
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.port = 0

    # ---- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> FakeBotAPI:
        sock = listening_socket()
        self.port = sock.getsockname()[1]
        app = Starlette(routes=[Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"])])
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", timeout_graceful_shutdown=2)
        self._server = QuietServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing = True
        await self._notify()
        assert self._server is not None and self._task is not None
        self._server.should_exit = True
        await self._task

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    # ---- what tests do -----------------------------------------------------------------------

    def user(self, user_id: int, first_name: str = "Somchai", language_code: str = "th") -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": language_code}

    def chat(self, chat_id: int, kind: str = "private") -> dict[str, Any]:
        if kind == "private":
            return {"id": chat_id, "type": "private", "first_name": "Somchai"}
        return {"id": chat_id, "type": kind, "title": "A group"}

    def message_update(
        self,
        user_id: int,
        text: str | None = None,
        *,
        chat_id: int | None = None,
        chat_type: str = "private",
        **content: Any,
    ) -> dict[str, Any]:
        """An update carrying a message from `user_id`: text, or other content (sticker=..., photo=...)."""
        msg: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self.chat(chat_id if chat_id is not None else user_id, chat_type),
            "from": self.user(user_id),
            **content,
        }
        if text is not None:
            msg["text"] = text
            if text.startswith("/"):
                msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split(" ", 1)[0])}]
        return {"update_id": next(self._update_ids), "message": msg}

    def forwarded_update(self, user_id: int, text: str, *, legacy: bool = False) -> dict[str, Any]:
        """A message `user_id` forwarded from someone else: `forward_origin` as Bot API 7+ sends it,
        or (`legacy`) `forward_from`/`forward_date` as older (self-hosted) Bot API servers do."""
        update = self.message_update(user_id, text)
        sender = {"id": 7770001, "is_bot": False, "first_name": "Somsak"}
        date = int(time.time()) - 86400
        if legacy:
            update["message"].update(forward_from=sender, forward_date=date)
        else:
            update["message"]["forward_origin"] = {"type": "user", "date": date, "sender_user": sender}
        return update

    def unblocked_update(self, user_id: int) -> dict[str, Any]:
        """The participant unblocked the bot: `my_chat_member` from kicked to member."""
        update = self.blocked_update(user_id)
        change = update["my_chat_member"]
        change["old_chat_member"], change["new_chat_member"] = (
            {**change["new_chat_member"], "status": "kicked"},
            {"user": change["new_chat_member"]["user"], "status": "member"},
        )
        return update

    def callback_update(self, user_id: int, message: dict[str, Any], data: str) -> dict[str, Any]:
        """An update for a tap on a button of `message` (a message the bot sent)."""
        query = {
            "id": f"cq{next(self._update_ids)}",
            "from": self.user(user_id),
            "chat_instance": "ci1",
            "message": message,
            "data": data,
        }
        return {"update_id": next(self._update_ids), "callback_query": query}

    def blocked_update(self, user_id: int) -> dict[str, Any]:
        member = {"user": {"id": BOT_ID, "is_bot": True, "first_name": "rabfang"}}
        change = {
            "chat": self.chat(user_id),
            "from": self.user(user_id),
            "date": int(time.time()),
            "old_chat_member": {**member, "status": "member"},
            "new_chat_member": {**member, "status": "kicked", "until_date": 0},
        }
        return {"update_id": next(self._update_ids), "my_chat_member": change}

    async def deliver(self, *updates: dict[str, Any]) -> int:
        """Queue updates for getUpdates, all in one batch; returns the last one's id."""
        self.updates.extend(updates)
        await self._notify()
        return updates[-1]["update_id"]

    def sent(self, chat_id: int | None = None, method: str = "sendMessage") -> list[Call]:
        return [
            c for c in self.calls if c.method == method and c.status == 200 and (chat_id is None or _chat(c) == chat_id)
        ]

    def method_calls(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def message(self, chat_id: int, message_id: int) -> dict[str, Any]:
        return self._messages[(chat_id, message_id)]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Wait until `predicate()` is truthy (re-checked on every call the server records)."""

        async def until() -> Any:
            async with self._changed:
                while not (value := predicate()):
                    await self._changed.wait()
                return value

        return await asyncio.wait_for(until(), timeout)

    async def wait_acked(self, update_id: int, timeout: float = 10.0) -> None:
        """Wait until the bot confirmed `update_id`: a getUpdates call with a higher offset."""
        await self.wait_for(
            lambda: any(c.method == "getUpdates" and (c.params.get("offset") or 0) > update_id for c in self.calls),
            timeout,
        )

    # ---- the server --------------------------------------------------------------------------

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _endpoint(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        params, files = await _parse(request)
        call = Call(method, params, time.monotonic(), files=files)
        self.arrivals.append(method)
        await self._notify()
        if request.path_params["token"] != self.token:
            call.status = 401
            return await self._record(call, _error(401, "Unauthorized"))
        if method == "getUpdates":
            # Recorded on arrival: asking for an offset is what confirms the updates before it.
            self.calls.append(call)
            await self._notify()
            body = await self._get_updates(params)
            call.result = [u["update_id"] for u in body["result"]]
            await self._notify()
            return JSONResponse(body)
        if self.latency.get(method):
            await asyncio.sleep(self.latency[method])
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            call.status = 404
            return await self._record(call, _error(404, "Not Found: method not found"))
        chat_id = _chat(call)
        if method in ("sendMessage", "sendDocument", "editMessageText") and chat_id in self.blocked:
            call.status = 403
            return await self._record(call, _error(403, "Forbidden: bot was blocked by the user"))
        if self.rate_limit and method in ("sendMessage", "sendDocument"):
            now = time.monotonic()
            while self._sends and now - self._sends[0] >= 1.0:
                self._sends.popleft()
            if len(self._sends) >= self.rate_limit:
                call.status = 429
                return await self._record(call, _error(429, "Too Many Requests: retry after 1", {"retry_after": 1}))
            self._sends.append(now)
        pending = self.flood.get(method)
        if pending:
            retry_after = pending.pop(0)
            call.status = 429
            body = _error(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})
            return await self._record(call, body)
        try:
            call.result = handler(params, files)
        except Refusal as exc:
            call.status = 400
            return await self._record(call, _error(400, str(exc)))
        return await self._record(call, {"ok": True, "result": call.result})

    async def _record(self, call: Call, body: dict[str, Any]) -> JSONResponse:
        self.calls.append(call)
        if self.on_call is not None:
            self.on_call(call)
        await self._notify()
        return JSONResponse(body, status_code=call.status)

    async def _get_updates(self, params: dict[str, Any]) -> dict[str, Any]:
        offset = params.get("offset")
        if offset:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]  # confirmed: forgotten
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        async with self._changed:
            while not self.updates and not self._closing:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), left)
        batch = self.updates[: int(params.get("limit") or 100)]
        return {"ok": True, "result": copy.deepcopy(batch)}

    def _bot_user(self) -> dict[str, Any]:
        return {"id": BOT_ID, "is_bot": True, "first_name": "rabfang", "username": BOT_USERNAME}

    def _new_message(self, chat_id: int, **fields: Any) -> dict[str, Any]:
        msg = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self.chat(chat_id, "private" if chat_id > 0 else "group"),
            "from": self._bot_user(),
            **fields,
        }
        self._messages[(chat_id, msg["message_id"])] = msg
        return msg

    def _m_getMe(self, params: dict[str, Any], files: Any) -> dict[str, Any]:
        return {**self._bot_user(), "can_join_groups": True, "can_read_all_group_messages": False}

    def _m_sendMessage(self, params: dict[str, Any], files: Any) -> dict[str, Any]:
        fields: dict[str, Any] = {"text": params["text"]}
        if params.get("reply_markup"):
            fields["reply_markup"] = params["reply_markup"]
        return self._new_message(params["chat_id"], **fields)

    def _m_sendDocument(self, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> dict[str, Any]:
        name, content = next(iter(files.values()))
        doc = {"file_id": "f1", "file_unique_id": "u1", "file_name": name, "file_size": len(content)}
        return self._new_message(params["chat_id"], document=doc)

    def _m_editMessageText(self, params: dict[str, Any], files: Any) -> dict[str, Any]:
        msg = self._messages.get((params["chat_id"], params["message_id"]))
        if msg is None:
            raise Refusal("Bad Request: message to edit not found")
        if msg.get("text") == params["text"] and msg.get("reply_markup") == (params.get("reply_markup") or None):
            raise Refusal(
                "Bad Request: message is not modified: specified new message content and reply markup are"
                " exactly the same as a current content and reply markup of the message"
            )
        msg["text"] = params["text"]
        if params.get("reply_markup"):
            msg["reply_markup"] = params["reply_markup"]
        else:
            msg.pop("reply_markup", None)
        return msg

    def _m_answerCallbackQuery(self, params: dict[str, Any], files: Any) -> bool:
        return True

    def _m_setMyCommands(self, params: dict[str, Any], files: Any) -> bool:
        return True

    def _m_setWebhook(self, params: dict[str, Any], files: Any) -> bool:
        self.webhook = dict(params)
        return True

    def _m_deleteWebhook(self, params: dict[str, Any], files: Any) -> bool:
        self.webhook = {}
        return True


class QuietServer(uvicorn.Server):
    """uvicorn without signal handling: the test runner owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _chat(call: Call) -> Any:
    return call.params.get("chat_id")


def _error(code: int, description: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return body


def _decode(name: str, value: str) -> Any:
    if name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


async def _parse(request: Request) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
    """PTB posts url-encoded parameters (JSON-encoded values), or multipart when there are files."""
    body = await request.body()
    ctype = request.headers.get("content-type", "")
    params: dict[str, Any] = {}
    files: dict[str, tuple[str, bytes]] = {}
    if ctype.startswith("multipart/form-data"):
        head = f"Content-Type: {ctype}\r\nMIME-Version: 1.0\r\n\r\n".encode()
        parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        for part in parsed.iter_parts():  # type: ignore[attr-defined]
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            if part.get_filename():
                files[name] = (part.get_filename(), payload)
            else:
                params[name] = _decode(name, payload.decode())
    elif body:
        if ctype.startswith("application/json"):
            params = json.loads(body)
        else:
            params = {k: _decode(k, v) for k, v in parse_qsl(body.decode(), keep_blank_values=True)}
    params.update({k: _decode(k, v) for k, v in request.query_params.items()})
    return params, files


@contextlib.asynccontextmanager
async def fake_bot_api(token: str = TOKEN) -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(token) as api:
        yield api


class Participant:
    """One Telegram user talking to the bot through the fake: types, taps, and reads what came back.

    By default an update goes through getUpdates and is done once the bot acknowledges it;
    `send` replaces that (a webhook POST, say)."""

    def __init__(
        self,
        api: FakeBotAPI,
        user_id: int,
        send: Callable[[dict[str, Any]], Awaitable[Any]] | None = None,
    ):
        self.api = api
        self.user_id = user_id
        self._send = send or self._poll
        self.last: Any = None  # what the last `send` returned

    async def _poll(self, update: dict[str, Any]) -> None:
        await self.api.wait_acked(await self.api.deliver(update))

    async def send(self, update: dict[str, Any]) -> list[Call]:
        """Send an update; the calls the bot made for this chat while handling it."""
        mark = len(self.api.calls)
        self.last = await self._send(update)
        return [c for c in self.api.calls[mark:] if _chat(c) == self.user_id or c.method == "answerCallbackQuery"]

    async def say(self, text: str) -> list[Call]:
        return await self.send(self.api.message_update(self.user_id, text))

    async def tap(self, data: str, message: dict[str, Any] | None = None) -> list[Call]:
        """Tap the button carrying `data` on `message` (default: the latest message with buttons)."""
        message = message if message is not None else self.question()
        return await self.send(self.api.callback_update(self.user_id, copy.deepcopy(message), data))

    def question(self) -> dict[str, Any]:
        """The latest message with buttons the bot sent this user, as it stands now."""
        for call in reversed(self.api.sent(self.user_id)):
            if call.params.get("reply_markup"):
                return self.api.message(self.user_id, call.result["message_id"])
        raise AssertionError("the bot sent no buttons")

    def buttons(self, message: dict[str, Any] | None = None) -> list[tuple[str, str]]:
        """(label, data) of every button of `message` (default: the latest question)."""
        message = message if message is not None else self.question()
        rows = message.get("reply_markup", {}).get("inline_keyboard", [])
        return [(b["text"], b["callback_data"]) for row in rows for b in row]

    def texts(self, calls: list[Call] | None = None) -> list[str]:
        """The texts of the messages sent to this user (in `calls`, or all of them)."""
        calls = calls if calls is not None else self.api.calls
        return [c.params["text"] for c in calls if c.method == "sendMessage" and _chat(c) == self.user_id]
