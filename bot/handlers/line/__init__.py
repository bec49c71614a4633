"""The LINE channel: a signed webhook into the shared inbox, the engine's replies out as text
messages with quick-reply buttons. `receive` reads webhooks, `render` draws replies, `api` talks to
the Messaging API; this module wires them into a component of `rabfang run`. LINE types stay in
this package.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.app import App
from bot.handlers.http import MAX_BODY, read_body
from bot.inbox import Inbox, InboxFull
from bot.model import Incoming, Reply, utcnow
from bot.senders import Pacer, RetryPolicy

from .api import CHANNEL, MAX_MULTICAST, LineSender, retry_key
from .receive import (
    NotLine,
    chat_of,
    events_of,
    reply_context,
    reply_token,
    source_type,
    to_inbound,
    to_incoming,
)
from .render import MAX_TEXT, render, split_text

__all__ = [
    "CHANNEL",
    "MAX_BODY",
    "MAX_MULTICAST",
    "MAX_TEXT",
    "ONE_TO_ONE",
    "WEBHOOK_PATH",
    "LineChannel",
    "chat_of",
    "render",
    "retry_key",
    "split_text",
    "to_inbound",
]

WEBHOOK_PATH = "/webhooks/line"

ONE_TO_ONE = (
    "ขออภัยค่ะ “รับฟัง” ตอบได้เฉพาะในแชตส่วนตัว (1:1) เท่านั้น กรุณาเพิ่มเป็นเพื่อนแล้วทักมาในแชตส่วนตัวค่ะ\n"
    "Sorry, rabfang works in one-to-one chat only. Please add it as a friend and message it directly."
)

log = logging.getLogger("rabfang.line")


class LineChannel:
    """The LINE Messaging API channel: a component of `rabfang run` (see bot.runner.Component)."""

    name = CHANNEL

    def __init__(
        self,
        app: App,
        *,
        retry_delays: Sequence[float] = (0.5, 1.0, 2.0, 4.0),
        request_timeout: float = 10.0,
        stop_timeout: float = 30.0,
        storage_retry: tuple[float, float] = (2.0, 60.0),
        clock: Callable[[], datetime] = utcnow,
    ):
        s = app.settings
        if s.line_channel_secret is None or s.line_channel_access_token is None:
            raise ValueError("LINE_CHANNEL_SECRET and LINE_CHANNEL_ACCESS_TOKEN are required")
        from linebot.v3.webhook import SignatureValidator

        self._validator = SignatureValidator(s.line_channel_secret.get_secret_value())
        self._clock = clock
        self._body_timeout = s.http_body_timeout
        self._service = app.service
        self.sender = LineSender(
            s.line_api_base_url.rstrip("/"),
            s.line_channel_access_token.get_secret_value(),
            pseudonym=lambda ref: app.service.pseudonym(CHANNEL, ref),
            retry=RetryPolicy(retry_delays),
            pacer=Pacer(rate=s.broadcast_rate),
            request_timeout=request_timeout,
            clock=clock,
        )
        self.inbox = Inbox(
            CHANNEL,
            app.service,
            self.sender,
            storage_retry=storage_retry,
            stop_timeout=stop_timeout,
            limit=s.inbox_limit,
            legacy=self._legacy,
            clock=clock,
            lease=s.inbox_lease,
        )
        self.capabilities = self.sender.capabilities
        self._notes: set[asyncio.Task[object]] = set()
        self.routes: list[BaseRoute] = [Route(WEBHOOK_PATH, self._webhook, methods=["POST"])]

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        await self.sender.start()
        await self.inbox.start()

    async def stop(self) -> None:
        """Finish the events already received (within `stop_timeout`), then close the client.
        Anything left stays in the inbox for the next start."""
        await self.inbox.stop()
        for task in self._notes:
            task.cancel()
        await asyncio.gather(*self._notes, return_exceptions=True)
        await self.sender.stop()

    async def idle(self) -> None:
        """Wait until every stored event is processed and answered."""
        await self.inbox.idle()
        while self._notes:
            await asyncio.wait(list(self._notes))

    # ---- sending what the bot starts (outreach) -------------------------------------------

    async def push(self, user_ref: str, replies: list[Reply], key: str | None = None) -> str:
        if not await self._service.reachable(CHANNEL, user_ref):
            return "blocked"
        return await self.sender.push(user_ref, replies, key)

    async def multicast(self, user_refs: Sequence[str], replies: list[Reply], key: str) -> str:
        return await self.sender.multicast(user_refs, replies, key)

    async def quota_left(self) -> int | None:
        return await self.sender.quota_left()

    # ---- the webhook -----------------------------------------------------------------------

    async def _webhook(self, request: Request) -> Response:
        body = await read_body(request, limit=MAX_BODY, timeout=self._body_timeout)
        if isinstance(body, Response):
            return body
        signature = request.headers.get("x-line-signature", "")
        if not signature or not self._signed(body, signature):
            log.warning("refused a LINE webhook with a %s signature", "bad" if signature else "missing")
            return PlainTextResponse("invalid signature", status_code=400)
        try:
            events = events_of(body)
        except NotLine as exc:
            log.warning("refused a signed LINE webhook: %s", exc)
            return PlainTextResponse("not a LINE webhook body", status_code=400)
        now = self._clock()
        items = [item for item in (to_incoming(e, now) for e in events) if item is not None]
        for event in events:
            self._one_to_one_note(event)
        try:
            if items and await self.inbox.accept(items) is None:
                return PlainTextResponse("try again", status_code=503)  # LINE redelivers
        except InboxFull as exc:
            return PlainTextResponse(str(exc), status_code=503)  # LINE redelivers
        return Response(status_code=200)

    def _signed(self, body: bytes, signature: str) -> bool:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return self._validator.validate(text, signature)

    def _one_to_one_note(self, event: object) -> None:
        """When the bot joins a group or room, say once that it works in 1:1 chat only; after that
        it stays quiet there (messages, postbacks, members joining: no reply, nothing stored)."""
        if not isinstance(event, dict) or source_type(event) not in ("group", "room"):
            return
        token = reply_token(event)
        if event.get("type") != "join" or token is None:
            return
        chat = chat_of(event)
        context = reply_context(token, self._clock())
        task = asyncio.ensure_future(self.sender.answer(chat, [Reply(ONE_TO_ONE)], context, chosen=None, key=""))
        self._notes.add(task)
        task.add_done_callback(self._notes.discard)

    @staticmethod
    def _legacy(body: str, token: str | None, received: datetime) -> Incoming | None:
        """A row stored before the inbox was channel-neutral: the LINE event itself."""
        try:
            event = json.loads(body)
        except ValueError:
            return None
        item = to_incoming(event, received)
        if item is None:
            return None
        return Incoming(item.event_id, item.user_ref, item.inbound, reply_context(token, received))
