"""The Telegram channel: python-telegram-bot 22 as transport only.

An update becomes an `Inbound`, goes through `Service.handle` (which claims the update id and
stores the outcome in one transaction), and the replies are rendered the Telegram way: inline
keyboards, the tapped question edited to show the choice, long texts split at 4096 characters.
State lives in rabfang's tables, never in PTB's ConversationHandler or persistence.

Long polling is our own loop over `getUpdates`: PTB's Updater acknowledges an update before it is
processed, so a crash would lose it. Here the offset moves past an update only once its effects
are committed, and the `events` table absorbs the redelivery after a crash. With
`TELEGRAM_WEBHOOK_URL` set, updates arrive at `POST /webhooks/telegram` instead, checked against
the secret token given to `setWebhook`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import secrets
import time
import unicodedata
import warnings
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from telegram import (
    Bot,
    BotCommand,
    CallbackQuery,
    Chat,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
    User,
)
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from bot.model import Button, Inbound, Reply, chunks
from bot.senders import Capabilities
from bot.service import Service
from storage import StorageError

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger("rabfang.telegram")

CHANNEL = "telegram"
WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_TEXT = 4096  # Telegram's limit for one message
MAX_CALLBACK_DATA = 64  # bytes
ALLOWED_UPDATES = ("message", "callback_query", "my_chat_member")

Delivery = Literal["sent", "blocked", "failed"]
T = TypeVar("T")

PRIVATE_ONLY = (
    "รับฟังตอบแบบสอบถามได้ในแชตส่วนตัวเท่านั้น กรุณาเปิดแชตกับบอตโดยตรงแล้วพิมพ์ /start "
    "(บอตไม่เก็บข้อมูลใดจากกลุ่มนี้)\n\n"
    "rabfang works in private chat only: please open a chat with the bot and send /start. "
    "Nothing from this group is stored."
)

# (command, Thai description, English description): the menu Telegram shows next to the input.
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("start", "เริ่มหรือทำต่อจากข้อเดิม", "Start, or continue where you left off"),
    ("areas", "เลือกด้านที่จะแสดงความคิดเห็น", "Choose an area to comment on"),
    ("status", "ดูความคืบหน้า", "See your progress"),
    ("events", "การประชุมระดมสมองที่เปิดรับลงทะเบียน", "Focus-group sessions you can join"),
    ("back", "ย้อนกลับไปข้อก่อนหน้า", "Go back to the previous question"),
    ("skip", "ข้ามข้อนี้ (ถ้าข้ามได้)", "Skip this question (if optional)"),
    ("language", "เปลี่ยนภาษา", "Change language"),
    ("privacy", "ประกาศความเป็นส่วนตัว", "Privacy notice"),
    ("mydata", "ดูข้อมูลของฉันที่เก็บไว้", "See the data kept about you"),
    ("deleteme", "ลบข้อมูลของฉันและถอนความยินยอม", "Delete your data and withdraw consent"),
    ("help", "วิธีใช้", "How to use this bot"),
)


def command_menus() -> dict[str | None, list[BotCommand]]:
    """The command menu per `language_code`: Thai, English, and a bilingual default."""
    return {
        "th": [BotCommand(c, th) for c, th, _ in COMMANDS],
        "en": [BotCommand(c, en) for c, _, en in COMMANDS],
        None: [BotCommand(c, f"{th} · {en}") for c, th, en in COMMANDS],
    }


# ---- rendering ---------------------------------------------------------------------------


def label_width(label: str) -> int:
    """How wide a label looks: Thai vowel and tone marks stack on their consonant and add nothing."""
    return sum(0 if unicodedata.category(c) in ("Mn", "Me", "Cf") else 1 for c in label)


def _per_row(widest: int) -> int:
    return 3 if widest <= 8 else 2 if widest <= 16 else 1


def _rows(buttons: Sequence[Button]) -> list[list[Button]]:
    """Pack buttons in order: three short ones a row, two middling ones, a long one alone."""
    rows: list[list[Button]] = []
    for b in buttons:
        row = rows[-1] if rows else None
        if row is not None and len(row) < _per_row(max(label_width(x.label) for x in [*row, b])):
            row.append(b)
        else:
            rows.append([b])
    return rows


def _is_control(b: Button) -> bool:
    """Skip and back (`...=~skip`, `...=~back`) go together on the last row, under the choices."""
    return b.data.partition("=")[2].startswith("~")


def keyboard(buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
    """An inline keyboard for a reply's buttons; a button whose data Telegram would refuse is left out."""
    usable = []
    for b in buttons:
        if len(b.data.encode()) > MAX_CALLBACK_DATA or not b.data.isascii():
            log.error("button data longer than %d bytes or not ASCII, left out: %r", MAX_CALLBACK_DATA, b.data)
            continue
        usable.append(b)
    if not usable:
        return None
    choices = [b for b in usable if not _is_control(b)]
    controls = [b for b in usable if _is_control(b)]
    rows = _rows(choices) + _rows(controls)
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in rows])


def answered_text(question: str, chosen: str) -> str:
    """The question message after a tap: its text and the accepted choice, keyboard gone."""
    suffix = f"\n\n✓ {chosen}"
    return question[: MAX_TEXT - len(suffix)] + suffix


# ---- pacing ------------------------------------------------------------------------------


class Pacer:
    """Spaces outbound messages the way Telegram asks: about `rate` a second overall and `chat_rate`
    a second in one chat, allowing `chat_burst` back to back (so an answer and the next question
    go out at once). A flood-control `RetryAfter` holds every send for the time Telegram names."""

    def __init__(
        self,
        rate: float = 30.0,
        chat_rate: float = 1.0,
        chat_burst: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._interval = 1.0 / rate
        self._chat_interval = 1.0 / chat_rate
        self._chat_tolerance = (max(chat_burst, 1) - 1) * self._chat_interval
        self._clock = clock
        self._next = 0.0  # the earliest moment the next message may go, overall
        self._held_until = 0.0
        self._chats: dict[int, float] = {}  # chat id -> theoretical arrival time (GCRA)

    def chat_delay(self, chat_id: int) -> float:
        """Reserve this chat's next slot; how long to wait for it."""
        now = self._clock()
        tat = max(self._chats.get(chat_id, now), now)
        at = max(now, tat - self._chat_tolerance)
        self._chats[chat_id] = tat + self._chat_interval
        if len(self._chats) > 4096:
            self._chats = {c: t for c, t in self._chats.items() if t > now}
        return at - now

    def overall_delay(self) -> float:
        """Reserve the next overall slot; how long to wait for it."""
        now = self._clock()
        at = max(now, self._next, self._held_until)
        self._next = at + self._interval
        return at - now

    def hold(self, seconds: float) -> None:
        self._held_until = max(self._held_until, self._clock() + seconds)

    async def wait(self, chat_id: int | None) -> None:
        """Wait for a slot in `chat_id` (None: an edit, which adds no message to the chat) and overall."""
        # The chat's slot first, then an overall one: a chat that must wait takes no overall slot
        # from the chats that need not.
        delay = self.chat_delay(chat_id) if chat_id is not None else 0.0
        if delay > 0:
            await asyncio.sleep(delay)
        delay = self.overall_delay()
        if delay > 0:
            await asyncio.sleep(delay)


def _seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that the int form will become a timedelta
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class _UserLocks:
    """One lock per participant, dropped when nobody holds or awaits it: one user's events in order."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = defaultdict(int)

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] += 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]


# ---- the channel -------------------------------------------------------------------------


class TelegramChannel:
    """The Telegram transport: long polling, or a webhook on rabfang's HTTP server."""

    name = "telegram"
    capabilities = Capabilities(reply=False, push=True, multicast=0, edit=True, file=True, messages_per_call=1)

    def __init__(
        self,
        app: App,
        *,
        pacer: Pacer | None = None,
        poll_timeout: int = 25,
        retry_delay: float = 1.0,
        max_retry_delay: float = 30.0,
        attempts: int = 3,
    ):
        s = app.settings
        if s.telegram_bot_token is None:
            raise ValueError("TELEGRAM_BOT_TOKEN is not set")
        self.app = app
        self._token = s.telegram_bot_token.get_secret_value()
        self._base_url = s.telegram_api_base_url
        self._webhook_url = s.telegram_webhook_url
        secret = s.telegram_webhook_secret.get_secret_value() if s.telegram_webhook_secret else None
        self._secret = secret or secrets.token_urlsafe(32)
        self._pacer = pacer or Pacer()
        self._poll_timeout = poll_timeout
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._attempts = attempts
        self._bot: Bot | None = None
        self._poller: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._locks = _UserLocks()
        self._told: set[int] = set()  # update ids whose sender was told "try later" (once is enough)
        self.routes: list[BaseRoute] = (
            [Route(WEBHOOK_PATH, self._webhook, methods=["POST"])] if self._webhook_url else []
        )

    # ---- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        bot = Bot(
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
        self._bot = bot
        try:
            await self._set_commands()
            if self._webhook_url:
                await bot.set_webhook(self._webhook_url, allowed_updates=ALLOWED_UPDATES, secret_token=self._secret)
            else:
                await bot.delete_webhook(drop_pending_updates=False)  # getUpdates refuses while a webhook is set
        except BaseException:
            self._bot = None
            await bot.shutdown()
            raise
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
        try:
            await asyncio.wait_for(self._idle.wait(), timeout=30)
        except TimeoutError:
            log.warning("telegram: stopped with work still in flight")
        if self._bot is not None:
            await self._bot.shutdown()
            self._bot = None

    async def _set_commands(self) -> None:
        bot = self._bot
        assert bot is not None
        for language, commands in command_menus().items():
            try:
                await self._call(
                    None, lambda c=commands, lc=language: bot.set_my_commands(c, language_code=lc), paced=False
                )
            except TelegramError as exc:
                log.warning("telegram: setMyCommands (%s) failed: %s", language or "default", self._describe(exc))

    @contextlib.asynccontextmanager
    async def _working(self) -> AsyncIterator[None]:
        self._busy += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._busy -= 1
            if not self._busy:
                self._idle.set()

    # ---- receiving: polling ------------------------------------------------------------------

    async def _poll(self) -> None:
        """Fetch a batch, process it, and only then ask for the next offset: that acknowledges it."""
        offset: int | None = None
        delay = self._retry_delay
        while not self._stopping.is_set():
            try:
                updates = await self._fetch(offset)
            except TelegramError as exc:
                wait = _seconds(exc) if isinstance(exc, RetryAfter) else delay
                log.warning("telegram: getUpdates failed (%s); retrying in %.1fs", self._describe(exc), wait)
                await self._pause(wait)
                delay = min(delay * 2, self._max_retry_delay)
                continue
            if updates is None:
                break
            failed = None
            if updates:
                async with self._working():
                    failed = await self._process_batch(updates)
            if failed is None:
                if updates:
                    offset = max(u.update_id for u in updates) + 1
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
                await self._bot.get_updates(offset=offset, limit=1, timeout=0, allowed_updates=ALLOWED_UPDATES)

    async def _fetch(self, offset: int | None) -> tuple[Update, ...] | None:
        """The next batch, or None once we are stopping (an unfinished long poll is abandoned)."""
        assert self._bot is not None
        fetch = asyncio.create_task(
            self._bot.get_updates(offset=offset, timeout=self._poll_timeout, allowed_updates=ALLOWED_UPDATES)
        )
        stopping = asyncio.create_task(self._stopping.wait())
        await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if self._stopping.is_set():
            fetch.cancel()
            with contextlib.suppress(BaseException):
                await fetch
            return None  # nothing fetched now was processed, so nothing is acknowledged
        return fetch.result()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _process_batch(self, updates: Sequence[Update]) -> int | None:
        """Process a batch: users concurrently, each user's updates in order. Returns the lowest
        update id that could not be stored (a user's later updates wait for it), or None."""
        by_user: dict[str, list[Update]] = defaultdict(list)
        for u in sorted(updates, key=lambda u: u.update_id):
            by_user[_sender_key(u)].append(u)

        async def run(queue: list[Update]) -> int | None:
            for u in queue:
                if not await self._process(u):
                    return u.update_id
            return None

        results = await asyncio.gather(*(run(q) for q in by_user.values()))
        failed = [r for r in results if r is not None]
        return min(failed) if failed else None

    # ---- receiving: webhook ------------------------------------------------------------------

    async def _webhook(self, request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self._secret.encode()):
            return Response(status_code=403)
        if self._stopping.is_set() or self._bot is None:
            return Response(status_code=503)  # Telegram retries later
        try:
            update = Update.de_json(await request.json(), self._bot)
        except Exception:
            return Response(status_code=400)
        if update is None or not well_formed(update):
            return Response(status_code=400)
        async with self._working(), self._locks.hold(_sender_key(update)):
            stored = await self._process(update)
        if stored:
            return Response(status_code=200)
        # 500 makes Telegram deliver the update again; the events table absorbs what was stored.
        log.warning("telegram: update %s not stored; answering 500 so Telegram delivers it again", update.update_id)
        return Response(status_code=500)

    # ---- one update --------------------------------------------------------------------------

    async def _process(self, update: Update) -> bool:
        """Handle one update; False when it could not be stored and must be delivered again."""
        if not well_formed(update):
            log.warning("telegram: update %s is not shaped as the Bot API documents; skipped", update.update_id)
            return True
        try:
            if update.callback_query is not None:
                return await self._on_callback(update.update_id, update.callback_query)
            if update.message is not None:
                return await self._on_message(update.update_id, update.message)
            if update.my_chat_member is not None:
                await self._on_membership(update.my_chat_member)
            return True
        except StorageError:
            return False
        except Exception:
            # A bug must not stall every participant behind this update: log it and move on.
            log.exception("telegram: update %s failed", update.update_id)
            return True

    async def _on_message(self, update_id: int, message: Message) -> bool:
        chat = message.chat
        if chat.type != "private":
            if self._addressed(message):
                await self._deliver_to_group(chat.id)
            return True
        user = message.from_user
        if user is None:
            return True
        # The message's own timestamp: flood control judges a backlog by when it was sent.
        if message.text is not None:
            event = Inbound("text", text=message.text, sent_at=message.date)
        elif message.effective_attachment is not None or message.caption is not None:
            event = Inbound("unsupported", sent_at=message.date)  # stickers, photos, voice, locations ...
        else:
            return True  # a service message (pinned, timer changed ...): nothing the participant said
        return await self._converse(update_id, user, chat.id, event)

    async def _on_callback(self, update_id: int, query: CallbackQuery) -> bool:
        message = query.message
        if message is None or message.chat.type != "private":
            await self._answer(query)
            return True
        return await self._converse(
            update_id, query.from_user, message.chat.id, Inbound("button", data=query.data or ""), query
        )

    async def _on_membership(self, change: ChatMemberUpdated) -> None:
        status = change.new_chat_member.status
        if change.chat.type == "private":
            if status == "kicked":  # the participant blocked the bot
                await self._mark_blocked(str(change.chat.id))
        elif status in ("member", "administrator") and change.old_chat_member.status in ("left", "kicked"):
            await self._deliver_to_group(change.chat.id)

    async def _converse(
        self, update_id: int, user: User, chat_id: int, event: Inbound, query: CallbackQuery | None = None
    ) -> bool:
        """The heart of the channel: the service decides and stores, we render what it says."""
        user_ref = str(user.id)
        try:
            handled = await self.app.service.handle(CHANNEL, user_ref, event, event_id=str(update_id))
        except StorageError:
            if query is not None:
                await self._answer(query)
            # The update comes again (refetched, or redelivered after a 500) until it is stored:
            # the participant hears once that it is kept, not at every attempt.
            if update_id not in self._told:
                if len(self._told) > 10_000:
                    self._told.clear()
                self._told.add(update_id)
                await self._deliver(user_ref, chat_id, [Service.try_later(await self._lang(user_ref))])
            raise
        except BaseException:
            if query is not None:
                await self._answer(query)  # always, so the participant's spinner stops
            raise
        # Answering the tap, marking the question answered and sending what comes next are
        # independent calls: made side by side, the participant waits for one round trip, not three.
        calls: list[Awaitable[object]] = []
        if query is not None:
            calls.append(self._answer(query))
            if handled is not None and handled.chosen and not handled.refused:
                calls.append(self._mark_answered(query, handled.chosen))
        if handled is not None:  # None: a redelivered update, whose replies went out the first time
            calls.append(self._deliver(user_ref, chat_id, handled.replies))
        results = await asyncio.gather(*calls)
        if handled is not None and results[-1] != "sent":
            log.info("telegram: replies to %s %s", handled.pseudonym, results[-1])
        return True

    def _addressed(self, message: Message) -> bool:
        """A group message meant for us: a command, or one naming the bot."""
        text = message.text or ""
        username = self._bot.username if self._bot is not None else None
        return text.startswith("/") or bool(username and f"@{username}".casefold() in text.casefold())

    async def _lang(self, user_ref: str) -> str | None:
        """The participant's language, when even that can be read; None shows both languages."""
        try:
            return (await self.app.db.load_state(CHANNEL, user_ref)).lang
        except Exception:
            return None

    # ---- sending -----------------------------------------------------------------------------

    async def push(self, user_ref: str, replies: list[Reply], key: str | None = None) -> Delivery:
        """Send replies outside a conversation (reminders, broadcasts), paced like every send.
        Returns "sent", "blocked" (the participant blocked the bot: marked inactive) or "failed";
        never raises. `key` names the delivery in the log."""
        try:
            chat_id = int(user_ref)
        except ValueError:
            return "failed"
        if self._bot is None or self._stopping.is_set():
            return "failed"
        try:
            async with self._working():
                status = await self._deliver(user_ref, chat_id, replies)
        except Exception:
            log.exception("telegram: push %s failed", key or "")
            return "failed"
        if status != "sent":
            log.info("telegram: push %s to %s %s", key or "", self.app.db.pseudonym(CHANNEL, user_ref), status)
        return status

    async def _deliver(self, user_ref: str, chat_id: int, replies: Sequence[Reply]) -> Delivery:
        """Render replies in order. Stops at a block; a message Telegram refuses is skipped."""
        status: Delivery = "sent"
        for reply in replies:
            try:
                await self._send_reply(chat_id, reply)
            except Forbidden:
                await self._mark_blocked(user_ref)
                return "blocked"
            except BadRequest as exc:
                log.error("telegram: a message was refused: %s", self._describe(exc))
                status = "failed"
            except TelegramError as exc:
                log.warning("telegram: sending failed: %s", self._describe(exc))
                return "failed"
        return status

    async def _send_reply(self, chat_id: int, reply: Reply) -> None:
        bot = self._bot
        assert bot is not None
        parts = [p for p in chunks(reply.text, MAX_TEXT) if p.strip()]
        markup = keyboard(reply.buttons)
        if markup is not None and not parts:
            parts = ["…"]  # Telegram shows no keyboard without a message to carry it
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            await self._call(
                chat_id,
                lambda p=part, m=(markup if last else None): bot.send_message(
                    chat_id, p, reply_markup=m, link_preview_options=LinkPreviewOptions(is_disabled=True)
                ),
            )
        if reply.attachment is not None:
            a = reply.attachment
            await self._call(chat_id, lambda: bot.send_document(chat_id, a.content, filename=a.filename))

    async def _deliver_to_group(self, chat_id: int) -> None:
        assert self._bot is not None
        bot = self._bot
        try:
            await self._call(chat_id, lambda: bot.send_message(chat_id, PRIVATE_ONLY))
        except TelegramError as exc:
            log.info("telegram: group notice not sent: %s", self._describe(exc))

    async def _answer(self, query: CallbackQuery) -> None:
        assert self._bot is not None
        bot = self._bot
        try:
            await self._call(None, lambda: bot.answer_callback_query(query.id), paced=False)
        except TelegramError as exc:  # too old, or already answered on a first delivery
            log.debug("telegram: answerCallbackQuery failed: %s", self._describe(exc))

    async def _mark_answered(self, query: CallbackQuery, chosen: str) -> None:
        """Edit the tapped question to show the choice and drop its keyboard: the chat reads as a record."""
        message = query.message
        if not isinstance(message, Message) or not message.text:
            return  # older than 48 hours: Telegram no longer shows us its text
        bot = self._bot
        assert bot is not None
        text = answered_text(message.text, chosen)
        try:
            await self._call(
                None,  # an edit adds no message to the chat: paced overall only
                lambda: bot.edit_message_text(
                    text,
                    chat_id=message.chat.id,
                    message_id=message.message_id,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                ),
            )
        except TelegramError as exc:  # not modified, too old to edit: the record stays as it was
            log.debug("telegram: editMessageText failed: %s", self._describe(exc))

    async def _mark_blocked(self, user_ref: str) -> None:
        try:
            await self.app.db.set_active(CHANNEL, user_ref, False, self.app.service.clock())
        except StorageError:
            log.warning("telegram: could not mark a participant inactive")
        log.info("telegram: %s blocked the bot; marked inactive", self.app.db.pseudonym(CHANNEL, user_ref))

    async def _call(self, chat_id: int | None, call: Callable[[], Awaitable[T]], *, paced: bool = True) -> T:
        """One Bot API call; flood control and network errors retried. A paced call waits for a slot
        overall and, when it adds a message to `chat_id`, for a slot in that chat."""
        attempt = 0
        while True:
            attempt += 1
            if paced:
                await self._pacer.wait(chat_id)
            try:
                return await call()
            except RetryAfter as exc:
                self._pacer.hold(_seconds(exc))
                if attempt >= self._attempts + 2:
                    raise
                if not paced:
                    await asyncio.sleep(_seconds(exc))
            except BadRequest:
                raise
            except NetworkError:  # includes TimedOut
                if attempt >= self._attempts:
                    raise
                await asyncio.sleep(min(self._retry_delay * attempt, self._max_retry_delay))

    def _describe(self, exc: BaseException) -> str:
        """An exception for the log, with the bot token masked should it appear in it."""
        return f"{type(exc).__name__}: {exc}".replace(self._token, "<token>")


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_chat(chat: object) -> bool:
    return isinstance(chat, Chat) and _is_id(chat.id) and isinstance(chat.type, str)


def _is_user(user: object) -> bool:
    return isinstance(user, User) and _is_id(user.id)


def _is_text(value: object) -> bool:
    return value is None or isinstance(value, str)


def well_formed(update: Update) -> bool:
    """Whether the fields this channel reads have the types the Bot API documents. PTB builds its
    objects from whatever JSON it is given, and a webhook caller holding the secret could send
    anything: a message without a chat, a number for a text, a list for callback data."""
    query = update.callback_query
    if query is not None:
        message = query.message
        if message is not None and not (_is_chat(getattr(message, "chat", None)) and _is_id(message.message_id)):
            return False
        return _is_user(query.from_user) and _is_text(query.data) and _is_text(getattr(message, "text", None))
    message = update.message
    if message is not None:
        return (
            _is_chat(message.chat)
            and (message.from_user is None or _is_user(message.from_user))
            and _is_text(message.text)
            and _is_text(message.caption)
            and isinstance(message.date, datetime)
        )
    change = update.my_chat_member
    if change is not None:
        return (
            _is_chat(change.chat)
            and isinstance(getattr(change.new_chat_member, "status", None), str)
            and isinstance(getattr(change.old_chat_member, "status", None), str)
        )
    return True


def _sender_key(update: Update) -> str:
    """Whose update this is, for keeping one participant's updates in order."""
    user = update.effective_user
    if user is not None:
        return f"u{user.id}"
    chat = update.effective_chat
    return f"c{chat.id}" if chat is not None else "-"
