"""The Telegram channel: python-telegram-bot 22 as transport only. `receive` reads updates,
`render` draws keyboards and menus, `api` talks to the Bot API; this module runs long polling or the
webhook and hands every update to the shared inbound path (bot/inbox.py). State lives in rabfang's
tables, never in PTB's ConversationHandler or persistence.

Long polling is our own loop over `getUpdates`: PTB's Updater acknowledges an update before it is
processed, so a crash would lose it. Here the offset moves past an update only once its effects
are committed and its answer sent; the `events` table absorbs the redelivery after a crash. With
`TELEGRAM_WEBHOOK_URL` set, updates arrive at `POST /webhooks/telegram` instead, checked against
the secret token given to `setWebhook`, and go through the durable inbox as LINE's do.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import secrets
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from telegram import Bot, Update
from telegram.error import InvalidToken, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from bot.handlers.http import MAX_BODY, read_body
from bot.inbox import Inbox, InboxFull
from bot.model import Incoming, Reply
from bot.senders import Delivery, Pacer, RetryPolicy

from .api import CHANNEL, TelegramSender, retry_after
from .receive import ALLOWED_UPDATES, Aside, read_batch, read_update, sender_key, to_incoming, update_id, well_formed
from .render import MAX_CALLBACK_DATA, MAX_TEXT, answered_text, command_menus, keyboard, label_width

if TYPE_CHECKING:
    from bot.app import App

__all__ = [
    "ALLOWED_UPDATES",
    "CHANNEL",
    "MAX_CALLBACK_DATA",
    "MAX_TEXT",
    "PRIVATE_ONLY",
    "SECRET_HEADER",
    "WEBHOOK_PATH",
    "Pacer",
    "TelegramChannel",
    "answered_text",
    "command_menus",
    "keyboard",
    "label_width",
    "well_formed",
]

WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

PRIVATE_ONLY = (
    "ขออภัยค่ะ “รับฟัง” ตอบแบบสอบถามได้เฉพาะในแชตส่วนตัว กรุณาเปิดแชตกับบอตโดยตรงแล้วพิมพ์ /start ค่ะ "
    "(บอตไม่เก็บข้อมูลใดจากกลุ่มนี้)\n\n"
    "rabfang works in private chat only: please open a chat with the bot and send /start. "
    "Nothing from this group is stored."
)

log = logging.getLogger("rabfang.telegram")


class PollingBot(Bot):
    """PTB's `Bot`, with `getUpdates` returned raw: `Bot.get_updates` parses the whole batch at
    once, so one update PTB cannot read (from an older or newer Bot API) would fail every fetch
    and stop polling at that update for good; and it logs the batch's contents when it fails.
    (`do_api_request("getUpdates")` would do the same but warns on every call.)"""

    __slots__ = ()

    async def get_raw_updates(
        self, offset: int | None, timeout: int, *, limit: int = 100, read_timeout: float = 10.0
    ) -> object:
        data = {"offset": offset, "limit": limit, "timeout": timeout, "allowed_updates": list(ALLOWED_UPDATES)}
        return await self._post("getUpdates", data, read_timeout=read_timeout + timeout)


class TelegramChannel:
    """The Telegram transport: long polling, or a webhook on rabfang's HTTP server."""

    name = CHANNEL

    def __init__(
        self,
        app: App,
        *,
        pacer: Pacer | None = None,
        poll_timeout: int = 25,
        retry_delay: float = 1.0,
        max_retry_delay: float = 30.0,
        attempts: int = 3,
        storage_retry: tuple[float, float] = (2.0, 60.0),
    ):
        s = app.settings
        if s.telegram_bot_token is None:
            raise ValueError("TELEGRAM_BOT_TOKEN is not set")
        self._service = app.service
        self._token = s.telegram_bot_token.get_secret_value()
        self._base_url = s.telegram_api_base_url
        self._webhook_url = s.telegram_webhook_url
        secret = s.telegram_webhook_secret.get_secret_value() if s.telegram_webhook_secret else None
        self._secret = secret or secrets.token_urlsafe(32)
        self._poll_timeout = poll_timeout
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        delays = tuple(min(retry_delay * (n + 1), max_retry_delay) for n in range(attempts + 1))
        # one pace for every send: Telegram allows about 30 messages a second, and 1 a second in a chat
        pacer = pacer or Pacer(rate=s.broadcast_rate, chat_rate=1.0)
        self.sender = TelegramSender(pacer=pacer, retry=RetryPolicy(delays), token=self._token)
        self.capabilities = self.sender.capabilities
        self.inbox = Inbox(
            CHANNEL, app.service, self.sender, storage_retry=storage_retry, limit=s.inbox_limit, lease=s.inbox_lease
        )
        self._body_timeout = s.http_body_timeout
        self._bot: PollingBot | None = None
        self._poller: asyncio.Task[None] | None = None
        self._asides: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self.routes: list[BaseRoute] = (
            [Route(WEBHOOK_PATH, self._webhook, methods=["POST"])] if self._webhook_url else []
        )

    # ---- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._stopping.clear()  # started again after a stop (a worker that leads again)
        bot = PollingBot(
            self._token,
            base_url=self._base_url,
            request=HTTPXRequest(connection_pool_size=32, pool_timeout=10.0),
            get_updates_request=HTTPXRequest(connection_pool_size=1, read_timeout=10.0),
        )
        try:
            await bot.initialize()  # getMe: checks the token
        except InvalidToken:
            await bot.shutdown()
            # PTB's own message quotes the token; ours does not.
            raise RuntimeError("Telegram rejected TELEGRAM_BOT_TOKEN") from None
        except BaseException:
            await bot.shutdown()
            raise
        self._bot = self.sender.bot = bot
        try:
            await self._set_commands()
            if self._webhook_url:
                await bot.set_webhook(self._webhook_url, allowed_updates=ALLOWED_UPDATES, secret_token=self._secret)
            else:
                await bot.delete_webhook(drop_pending_updates=False)  # getUpdates refuses while a webhook is set
        except BaseException:
            self._bot = self.sender.bot = None
            await bot.shutdown()
            raise
        await self.inbox.start()
        if self._webhook_url:
            log.info("telegram: webhook set; updates arrive at %s", WEBHOOK_PATH)
        else:
            self._poller = asyncio.create_task(self._poll(), name="telegram-polling")
            log.info("telegram: long polling")

    async def stop(self) -> None:
        """Stop fetching, let in-flight updates and sends finish, close PTB's HTTP clients."""
        self._stopping.set()
        if self._poller is not None:
            await self._poller
            self._poller = None
        await self.inbox.stop()
        if self._asides:
            await asyncio.wait(set(self._asides), timeout=30)
        if self._bot is not None:
            await self._bot.shutdown()
            self._bot = self.sender.bot = None

    def healthy(self) -> bool:
        """False once long polling has stopped without being asked to (GET /healthz answers 503)."""
        if self._bot is None:
            return False
        return self._poller is None or not self._poller.done() or self._stopping.is_set()

    async def idle(self) -> None:
        """Wait until every received update is processed and answered."""
        await self.inbox.idle()
        while self._asides:
            await asyncio.wait(list(self._asides))

    async def _set_commands(self) -> None:
        bot = self._bot
        assert bot is not None
        for language, commands in command_menus().items():
            try:
                await bot.set_my_commands(commands, language_code=language)
            except TelegramError as exc:
                log.warning("telegram: setMyCommands (%s) failed: %s", language or "default", self.sender.describe(exc))

    # ---- sending what the bot starts (outreach) -------------------------------------------

    async def push(self, user_ref: str, replies: list[Reply], key: str | None = None) -> Delivery:
        """Send replies outside a conversation (reminders, broadcasts), paced like every send.
        "sent", "blocked" (the participant blocked the bot: marked inactive) or "failed"; never
        raises. `key` names the delivery in the log."""
        if self._bot is None or self._stopping.is_set():
            return "failed"
        status = await self.sender.push(user_ref, replies, key)
        if status == "blocked":
            await self._service.gone(CHANNEL, user_ref)
        if status != "sent":
            log.info("telegram: push %s to %s %s", key or "", self._service.pseudonym(CHANNEL, user_ref), status)
        return status

    async def multicast(self, user_refs: Sequence[str], replies: list[Reply], key: str) -> Delivery:
        return await self.sender.multicast(user_refs, replies, key)

    # ---- receiving: polling ------------------------------------------------------------------

    async def _poll(self) -> None:
        """Fetch a batch, process it, and only then ask for the next offset: that acknowledges it.
        An update PTB cannot read is skipped (logged by its id) and confirmed with the rest; an
        unexpected failure is logged and polling goes on after a pause."""
        offset: int | None = None
        delay = self._retry_delay
        while not self._stopping.is_set():
            try:
                fetched = await self._fetch(offset)
            except TelegramError as exc:
                wait = retry_after(exc) if isinstance(exc, RetryAfter) else delay
                log.warning("telegram: getUpdates failed (%s); retrying in %.1fs", self.sender.describe(exc), wait)
                await self._pause(wait)
                delay = min(delay * 2, self._max_retry_delay)
                continue
            except Exception as exc:
                log.error("telegram: getUpdates failed (%s); retrying in %.1fs", type(exc).__name__, delay)
                await self._pause(delay)
                delay = min(delay * 2, self._max_retry_delay)
                continue
            if fetched is None:
                break
            updates, highest = fetched
            try:
                failed = await self._process_batch(updates) if updates else None
            except Exception as exc:  # a bug: the batch comes again after a pause, polling goes on
                log.error("telegram: processing a batch failed (%s); fetching it again", type(exc).__name__)
                failed = min(u.update_id for u in updates)
            if failed is None:
                if highest is not None:
                    offset = highest + 1
                delay = self._retry_delay
            else:
                offset = failed  # this update, and whatever follows it, comes again
                log.warning("telegram: update %s not stored; fetching it again in %.1fs", failed, delay)
                await self._pause(delay)
                delay = min(delay * 2, self._max_retry_delay)
        if offset is not None and self._bot is not None:
            # Confirm what was processed, so the next start does not fetch it again (it would only
            # be absorbed by the dedupe).
            with contextlib.suppress(Exception):
                await self._bot.get_raw_updates(offset, 0, limit=1)

    async def _fetch(self, offset: int | None) -> tuple[list[Update], int | None] | None:
        """The next batch (the updates PTB could read, and the batch's highest update id), or None
        once we are stopping (an unfinished long poll is abandoned)."""
        assert self._bot is not None
        fetch = asyncio.create_task(self._bot.get_raw_updates(offset, self._poll_timeout))
        stopping = asyncio.create_task(self._stopping.wait())
        await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if self._stopping.is_set():
            fetch.cancel()
            with contextlib.suppress(BaseException):
                await fetch
            return None  # nothing fetched now was processed, so nothing is acknowledged
        return read_batch(fetch.result(), self._bot)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _process_batch(self, updates: Sequence[Update]) -> int | None:
        """Process a batch: users concurrently, each user's updates in order, and wait for their
        answers. Returns the lowest update id that could not be stored (a user's later updates wait
        for it), or None."""
        by_user: dict[str, list[Update]] = defaultdict(list)
        for u in sorted(updates, key=lambda u: u.update_id):
            by_user[sender_key(u)].append(u)

        async def run(queue: list[Update]) -> int | None:
            for u in queue:
                if not await self._process(u):
                    return u.update_id
            return None

        results = await asyncio.gather(*(run(q) for q in by_user.values()))
        await self.idle()  # confirmed only once answered
        failed = [r for r in results if r is not None]
        return min(failed) if failed else None

    async def _process(self, update: Update) -> bool:
        """Handle one polled update; False when it could not be stored and must be fetched again."""
        item = self._convert(update)
        if item is None:
            return True
        return await self.inbox.handle(item)

    # ---- receiving: webhook ------------------------------------------------------------------

    async def _webhook(self, request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self._secret.encode()):
            return Response(status_code=403)
        if self._stopping.is_set() or self._bot is None:
            return Response(status_code=503)  # Telegram retries later
        body = await read_body(request, limit=MAX_BODY, timeout=self._body_timeout)
        if isinstance(body, Response):
            return body
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            log.warning("telegram: refused a webhook body that is not JSON (400)")
            return Response(status_code=400)
        update = read_update(data, self._bot, then="answered 400")  # logged by id
        if update is None or not well_formed(update):
            if update is not None:
                log.warning("telegram: update %s is not shaped as the Bot API documents (400)", update_id(data))
            return Response(status_code=400)
        item = self._convert(update)
        if item is None:
            return Response(status_code=200)
        try:
            new = await self.inbox.accept([item])
        except InboxFull as exc:
            return PlainTextResponse(str(exc), status_code=503)  # Telegram delivers it again later
        if new is not None:
            if not new and item.context.get("callback"):
                self._aside(Aside(callback=item.context["callback"]))  # a replayed tap: stop its spinner again
            return Response(status_code=200)
        # 500 makes Telegram deliver the update again; the inbox absorbs what was stored.
        log.warning("telegram: update %s not stored; answering 500 so Telegram delivers it again", update.update_id)
        return Response(status_code=500)

    # ---- one update --------------------------------------------------------------------------

    def _convert(self, update: Update) -> Incoming | None:
        """The conversation's part of an update; what is answered aside (groups, taps in groups)
        is answered here and now."""
        if not well_formed(update):
            log.warning("telegram: update %s is not shaped as the Bot API documents; skipped", update.update_id)
            return None
        item = to_incoming(update, self._bot.username if self._bot is not None else None)
        if isinstance(item, Aside):
            self._aside(item)
            return None
        return item

    def _aside(self, aside: Aside) -> None:
        if aside.callback is not None:
            coro = self.sender.answer_callback(aside.callback)
        elif aside.group_chat is not None:
            coro = self.sender.notice(aside.group_chat, PRIVATE_ONLY)
        else:
            return
        task = asyncio.ensure_future(coro)
        self._asides.add(task)
        task.add_done_callback(self._asides.discard)
