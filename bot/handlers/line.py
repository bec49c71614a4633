"""The LINE channel: a signed webhook into a durable inbox, the engine's replies out as text
messages with quick-reply buttons.

The webhook checks `X-Line-Signature` on the raw body, writes every event to the inbox
(storage/inbox.py) and answers 200 at once; each chat's events are then processed in arrival
order. Replies use the event's reply token while it is fresh, and fall back to a push carrying
an `X-Line-Retry-Key` kept with the inbox row. LINE types stay in this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import traceback
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
from linebot.v3.messaging import (
    AsyncApiClient,
    AsyncMessagingApi,
    Configuration,
    MulticastRequest,
    PostbackAction,
    PushMessageRequest,
    QuickReply,
    QuickReplyItem,
    ReplyMessageRequest,
    TextMessage,
)
from linebot.v3.messaging.exceptions import ApiException
from linebot.v3.webhook import SignatureValidator
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.app import App
from bot.model import Button, Inbound, Reply, chunks
from bot.senders import Capabilities
from bot.service import Service, utcnow
from storage import StorageError, inbox

CHANNEL = "line"
WEBHOOK_PATH = "/webhooks/line"

MAX_MESSAGES = 5  # message objects per reply or push call
MAX_TEXT = 5000  # characters of a text message, counted in UTF-16 code units
MAX_QUICK_REPLIES = 13
MAX_LABEL = 20
MAX_DATA = 300  # postback data, and displayText
MAX_BODY = 1 << 20  # a webhook body larger than this is not LINE's
REPLY_TOKEN_TTL = timedelta(seconds=50)  # LINE: use a reply token within a minute of the webhook
PRUNE_AFTER = timedelta(days=7)  # processed inbox rows are kept this long as dedupe keys

UNSUPPORTED = frozenset({"image", "video", "audio", "file", "location", "sticker"})

ONE_TO_ONE = (
    "ขออภัย “รับฟัง” ตอบได้เฉพาะในแชตส่วนตัว (1:1) เท่านั้น กรุณาเพิ่มเป็นเพื่อนแล้วทักมาในแชตส่วนตัวค่ะ\n"
    "Sorry, rabfang works in one-to-one chat only. Please add it as a friend and message it directly."
)

log = logging.getLogger("rabfang.line")


# ---- translating --------------------------------------------------------------------------


def to_inbound(event: dict) -> Inbound | None:
    """A LINE event from a user → what the engine understands; None for events it ignores.
    Fields of the wrong type are read as LINE's documented absence of them, never coerced."""
    kind = event.get("type")
    sent_at = _sent_at(event.get("timestamp"))
    if kind == "follow":
        return Inbound("follow", sent_at=sent_at)
    if kind == "message":
        message = event.get("message")
        text = message.get("text") if isinstance(message, dict) and message.get("type") == "text" else None
        if isinstance(text, str):
            return Inbound("text", text=text, sent_at=sent_at)
        # stickers, media, locations, any message type LINE adds later, and a text that is not one
        return Inbound("unsupported", sent_at=sent_at)
    if kind == "postback":
        postback = event.get("postback")
        data = postback.get("data") if isinstance(postback, dict) else None
        return Inbound("button", data=data, sent_at=sent_at) if isinstance(data, str) and data else None
    return None


def _sent_at(stamp: object) -> datetime | None:
    """LINE's timestamp (ms since the epoch), when it is one a clock can show."""
    if not isinstance(stamp, int) or isinstance(stamp, bool) or stamp <= 0:
        return None
    try:
        return datetime.fromtimestamp(stamp / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def text_value(value: object) -> str | None:
    """A non-empty string that can be stored: SQLite (and every platform) takes only valid UTF-8,
    and JSON escapes can carry lone surrogates that are not. Anything else is None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value


def source_type(event: dict) -> str | None:
    source = event.get("source")
    kind = source.get("type") if isinstance(source, dict) else None
    return kind if isinstance(kind, str) else None


def chat_of(event: dict) -> str:
    """The chat an event came from: the user's id in 1:1, else the group or room id ("" if none)."""
    key = {"user": "userId", "group": "groupId", "room": "roomId"}.get(source_type(event) or "", "")
    return (text_value(event["source"].get(key)) if key else None) or ""


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str) -> list[str]:
    """Text for LINE's 5,000-unit limit (an emoji outside the BMP counts twice)."""
    out: list[str] = []
    for part in chunks(text, MAX_TEXT):
        out += [part] if _utf16(part) <= MAX_TEXT else chunks(part, MAX_TEXT // 2)
    return out


def _label(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def legend(buttons: Sequence[Button]) -> str:
    """`1 ประชาชนทั่วไป · 2 ผู้ประกอบการ SME · …`: the choices by the number that answers them."""
    return " · ".join(b.label if b.label.startswith(f"{n} ") else f"{n} {b.label}" for n, b in enumerate(buttons, 1))


def render(replies: Sequence[Reply]) -> list[TextMessage]:
    """Replies as LINE text messages. Buttons become quick replies on a reply's last message:
    postbacks carrying the button data, showing the label in the chat when tapped. More than
    fit become a numbered list instead; typing the number (or the label) answers, as it does on
    LINE for desktop, which shows no quick replies. Attachments cannot be sent: the text goes."""
    messages: list[TextMessage] = []
    for reply in replies:
        text, buttons, quick = reply.text, reply.buttons, None
        fits = len(buttons) <= MAX_QUICK_REPLIES and all(len(b.data) <= MAX_DATA for b in buttons)
        if buttons and fits:
            # LINE for PC and Mac shows no quick replies: a one-line legend lets those users type.
            text = text + "\n\n" + legend(buttons)
            quick = QuickReply(
                items=[
                    QuickReplyItem(
                        action=PostbackAction(label=_label(b.label), data=b.data, display_text=b.label[:MAX_DATA])
                    )
                    for b in buttons
                ]
            )
        elif buttons:
            text = text + "\n\n" + "\n".join(f"{n}. {b.label}" for n, b in enumerate(buttons, 1))
        parts = [p for p in split_text(text) if p.strip()]
        if not parts:
            if quick is None:
                continue
            parts = ["⋯"]
        messages += [TextMessage(text=p) for p in parts[:-1]]
        messages.append(TextMessage(text=parts[-1], quick_reply=quick))
    return messages


def retry_key(base: str, n: int) -> str:
    """The retry key of the n-th push for one event or one `push` call: the base itself first,
    then UUIDs derived from it, so a retried send reuses exactly the same keys."""
    try:
        root = uuid.UUID(base)
    except ValueError:
        root = uuid.uuid5(uuid.NAMESPACE_URL, "rabfang:" + base)
    return str(root) if n == 0 else str(uuid.uuid5(root, str(n)))


@dataclass(frozen=True)
class _Failure:
    status: int | None  # None: no HTTP answer (connection error, timeout)
    message: str


def _error_message(body: object) -> str:
    """LINE's `message` field of an error body (never the request: it holds ids and tokens)."""
    try:
        value = json.loads(body) if isinstance(body, str | bytes) else None
    except ValueError:
        value = None
    message = value.get("message") if isinstance(value, dict) else None
    return str(message)[:200] if message else ""


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The raw body, or None when it is larger than `limit`."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        return None
    parts, size = [], 0
    async for part in request.stream():
        size += len(part)
        if size > limit:
            return None
        parts.append(part)
    return b"".join(parts)


# ---- the channel --------------------------------------------------------------------------

PROCESSING_LIMIT = 8
MAX_MULTICAST = 500  # recipients in one multicast call


class LineChannel:
    """The LINE Messaging API channel: a Component of `rabfang run`."""

    name = CHANNEL
    capabilities = Capabilities(reply=True, push=True, multicast=500, edit=False, file=False, messages_per_call=5)

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
        self.app = app
        self._validator = SignatureValidator(s.line_channel_secret.get_secret_value())
        self._token = s.line_channel_access_token
        self._base_url = s.line_api_base_url.rstrip("/")
        self._delays = tuple(retry_delays)
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        self._stop_timeout = stop_timeout
        self._clock = clock
        self._client: AsyncApiClient | None = None
        self._api: AsyncMessagingApi | None = None
        self._workers: dict[str, asyncio.Task[None]] = {}  # chat → the task processing its rows
        self._again: set[str] = set()  # chats that got new rows while their worker was busy
        self._storage_retry = storage_retry  # first and longest wait before a stuck chat is tried again
        self._waits: dict[str, float] = {}  # chat → how long its next retry waits
        self._retries: dict[str, asyncio.Task[None]] = {}  # chat → its pending retry
        self._told: set[str] = set()  # event ids whose sender was told "try later" (once is enough)
        self._telling: set[asyncio.Task[None]] = set()
        self._stopping = False
        # A few events processed at once: enough to overlap the sends, few enough that a webhook's
        # own write (urgent: LINE waits for it) never queues behind a crowd of them.
        self._busy = asyncio.Semaphore(PROCESSING_LIMIT)
        self.routes: list[BaseRoute] = [Route(WEBHOOK_PATH, self._webhook, methods=["POST"])]

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the SDK client (its aiohttp session needs the running loop), then process
        whatever a previous run stored but did not finish."""
        config = Configuration(host=self._base_url, access_token=self._token.get_secret_value())
        self._client = AsyncApiClient(config)
        self._api = AsyncMessagingApi(self._client)
        self._stopping = False
        db = self.app.db
        try:
            await inbox.prune(db, CHANNEL, self._clock() - PRUNE_AFTER)
        except StorageError:
            log.warning("could not prune old LINE inbox rows; continuing")
        chats = await inbox.pending_chats(db, CHANNEL)
        if chats:
            log.info("draining the LINE inbox: %d chat(s) with unprocessed events", len(chats))
        for chat in chats:
            self._kick(chat)

    async def stop(self) -> None:
        """Finish the events already received (within `stop_timeout`), then close the client.
        Anything left stays in the inbox for the next start."""
        self._stopping = True
        try:
            await asyncio.wait_for(self.idle(), self._stop_timeout)
        except TimeoutError:
            log.warning("LINE processing did not finish in %.0f s; the rest stays in the inbox", self._stop_timeout)
            for task in list(self._workers.values()):
                task.cancel()
            await asyncio.gather(*self._workers.values(), return_exceptions=True)
        for task in [*self._retries.values(), *self._telling]:
            task.cancel()
        await asyncio.gather(*self._retries.values(), *self._telling, return_exceptions=True)
        self._retries.clear()
        if self._client is not None:
            await self._client.close()
        self._client = self._api = None

    async def idle(self) -> None:
        """Wait until every stored event that has a worker is processed."""
        while self._workers:
            await asyncio.wait(list(self._workers.values()))  # unlike gather, never cancels them

    # ---- the webhook -----------------------------------------------------------------------

    async def _webhook(self, request: Request) -> Response:
        body = await _read_body(request, MAX_BODY)
        if body is None:
            return PlainTextResponse("request body too large", status_code=413)
        signature = request.headers.get("x-line-signature", "")
        if not signature or not self._signed(body, signature):
            log.warning("refused a LINE webhook with a %s signature", "bad" if signature else "missing")
            return PlainTextResponse("invalid signature", status_code=400)
        try:
            payload = json.loads(body)
            events = payload["events"]
            if not isinstance(events, list):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return PlainTextResponse("not a LINE webhook body", status_code=400)
        incoming = [item for item in map(self._incoming, events) if item is not None]
        if incoming:
            try:
                chats = await inbox.add(self.app.db, CHANNEL, incoming, self._clock())
            except StorageError:
                log.error("could not store %d LINE event(s); answering 503 so LINE redelivers", len(incoming))
                for item in incoming:
                    self._tell_later(item)
                return PlainTextResponse("try again", status_code=503)
            for chat in chats:
                self._kick(chat)
        return Response(status_code=200)

    def _signed(self, body: bytes, signature: str) -> bool:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return self._validator.validate(text, signature)

    @staticmethod
    def _incoming(event: object) -> inbox.Incoming | None:
        """An event to keep, or None when it has no usable id (LINE's always have one)."""
        if not isinstance(event, dict):
            return None
        event_id = text_value(event.get("webhookEventId"))
        if event_id is None:
            return None
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        if text_value(body) is None:  # lone surrogates in a text: kept as JSON escapes instead
            body = json.dumps(event, separators=(",", ":"))
        return inbox.Incoming(
            event_id=event_id,
            user_ref=chat_of(event),
            body=body,
            reply_token=text_value(event.get("replyToken")),
        )

    # ---- processing ------------------------------------------------------------------------

    def _kick(self, chat: str) -> None:
        """Make sure the chat's rows get processed: start its worker, or tell the busy one."""
        if self._stopping:
            return
        if chat in self._workers:
            self._again.add(chat)
            return
        self._workers[chat] = asyncio.create_task(self._work(chat))

    async def _work(self, chat: str) -> None:
        """Process a chat's unprocessed rows in order. A row that could not be stored stops the
        chat's queue, so nothing overtakes it; the chat is tried again after a while (waiting
        longer each time), or sooner with its next event."""
        try:
            while True:
                self._again.discard(chat)
                try:
                    rows = await inbox.pending(self.app.db, CHANNEL, chat)
                except StorageError:
                    log.error("could not read the LINE inbox for %s", self._pseudonym(chat))
                    self._retry_later(chat)
                    return
                for row in rows:
                    async with self._busy:
                        stored = await self._guarded(row)
                    if not stored:
                        self._retry_later(chat)
                        break
                else:
                    self._waits.pop(chat, None)
                if chat not in self._again:
                    return
        finally:
            self._workers.pop(chat, None)

    def _retry_later(self, chat: str) -> None:
        """Try a stuck chat again once storage may have recovered: the participant was told their
        message is kept and will be saved without sending it again."""
        if self._stopping or chat in self._retries:
            return
        first, longest = self._storage_retry
        wait = self._waits.get(chat, first)
        self._waits[chat] = min(wait * 2, longest)

        async def retry() -> None:
            try:
                await asyncio.sleep(wait)
            finally:
                self._retries.pop(chat, None)
            self._kick(chat)

        self._retries[chat] = asyncio.create_task(retry())

    async def _guarded(self, row: inbox.Row) -> bool:
        """`_process`, with an unexpected error logged and the row dropped rather than retried
        forever ahead of the chat's later events."""
        try:
            return await self._process(row)
        except Exception as exc:
            trace = "".join(traceback.format_tb(exc.__traceback__))
            log.error(
                "a LINE event from %s failed (%s); dropped\n%s",
                self._pseudonym(row.user_ref),
                type(exc).__name__,
                trace,
            )
            with contextlib.suppress(StorageError):
                await inbox.mark_processed(self.app.db, CHANNEL, row.seq, self._clock())
            return True

    async def _process(self, row: inbox.Row) -> bool:
        """Handle one stored event and answer it; False when it must be tried again later."""
        db = self.app.db
        pseudonym = self._pseudonym(row.user_ref)
        try:
            event = json.loads(row.body)
        except ValueError:
            event = {}
        try:
            source = source_type(event) if isinstance(event, dict) else None
            if not isinstance(event, dict) or event.get("mode") == "standby":
                pass  # another channel of a module owns this chat right now
            elif source in ("group", "room"):
                await self._not_one_to_one(row, event, pseudonym)
            elif source != "user" or not row.user_ref:
                pass  # not from a person: nothing to answer
            elif event.get("type") == "unfollow":
                await db.set_active(CHANNEL, row.user_ref, False, self._clock())
            elif (inbound := to_inbound(event)) is not None:
                return await self._handle(row, inbound, pseudonym)
            await inbox.mark_processed(db, CHANNEL, row.seq, self._clock())
        except StorageError:
            log.warning("could not store a LINE event from %s; it stays in the inbox", pseudonym)
            return False
        return True

    async def _handle(self, row: inbox.Row, inbound: Inbound, pseudonym: str) -> bool:
        db, service = self.app.db, self.app.service
        try:
            handled = await service.handle(CHANNEL, row.user_ref, inbound, event_id=row.event_id)
        except StorageError:
            log.warning("could not store a LINE event from %s; it stays in the inbox", pseudonym)
            if self._first_telling(row.event_id):
                await self._send(row, [Service.try_later(await self._lang(row.user_ref))], pseudonym, attempt="later")
            return False
        except Exception as exc:
            # A bug, not a full disk: the same event would fail again, so it is not retried.
            trace = "".join(traceback.format_tb(exc.__traceback__))
            log.error("a LINE event from %s failed (%s); dropped\n%s", pseudonym, type(exc).__name__, trace)
            lost = Service.try_later(await self._lang(row.user_ref), kept=False)
            await self._send(row, [lost], pseudonym, attempt="later")
            with contextlib.suppress(StorageError):
                await inbox.mark_processed(db, CHANNEL, row.seq, self._clock())
            return True
        try:
            if handled is not None and handled.erased:
                await inbox.purge(db, CHANNEL, row.user_ref, row.seq)
            else:
                await inbox.mark_processed(db, CHANNEL, row.seq, self._clock())
        except StorageError:
            # The event's effects and its claim are committed; the row is found claimed next time.
            log.warning("could not mark a LINE event from %s processed", pseudonym)
        if handled is not None and handled.replies:
            await self._send(row, handled.replies, handled.pseudonym)
        return True

    def _first_telling(self, event_id: str) -> bool:
        """Whether this is the first time the sender of `event_id` is to be told to wait: retries
        and redeliveries of the same event say nothing more."""
        if event_id in self._told:
            return False
        if len(self._told) > 10_000:
            self._told.clear()
        self._told.add(event_id)
        return True

    def _tell_later(self, item: inbox.Incoming) -> None:
        """Answer an event that could not even be stored (LINE redelivers it) with "try later",
        in the participant's language, while its reply token is fresh; the webhook does not wait."""
        if not item.reply_token or not item.user_ref.startswith("U") or not self._first_telling(item.event_id):
            return

        async def tell(token: str) -> None:
            reply = Service.try_later(await self._lang(item.user_ref))
            await self._deliver(self._pseudonym(item.user_ref), render([reply]), reply_token=token, to=None, key="")

        task = asyncio.create_task(tell(item.reply_token))
        self._telling.add(task)
        task.add_done_callback(self._telling.discard)

    async def _not_one_to_one(self, row: inbox.Row, event: dict, pseudonym: str) -> None:
        """In a group or room, say once per message that the bot works in 1:1 chat only."""
        if event.get("type") in ("message", "postback", "join") and row.reply_token and self._fresh(row):
            await self._deliver(pseudonym, render([Reply(ONE_TO_ONE)]), reply_token=row.reply_token, to=None, key="")

    async def _lang(self, user_ref: str) -> str | None:
        try:
            return (await self.app.db.load_state(CHANNEL, user_ref)).lang
        except Exception:
            return None

    def _pseudonym(self, chat: str) -> str:
        return self.app.db.pseudonym(CHANNEL, chat)

    def _fresh(self, row: inbox.Row) -> bool:
        return self._clock() - row.received_at < REPLY_TOKEN_TTL

    # ---- sending ---------------------------------------------------------------------------

    async def _send(self, row: inbox.Row, replies: list[Reply], pseudonym: str, attempt: str = "") -> None:
        """Answer a stored event: reply while its token is fresh, push otherwise. The push keys
        derive from the row's retry key (and `attempt`), so a retried push is delivered once."""
        key = row.retry_key if not attempt else str(uuid.uuid5(uuid.UUID(row.retry_key), attempt))
        token = row.reply_token if self._fresh(row) else None
        await self._deliver(pseudonym, render(replies), reply_token=token, to=row.user_ref, key=key)

    async def push(self, user_ref: str, replies: list[Reply], key: str | None = None) -> str:
        """Send to a participant without an event to answer (reminders, broadcasts): "sent",
        "blocked" (unfollowed, or LINE no longer knows them) or "failed". Never raises. The same
        `key` never delivers twice within LINE's 24 hours."""
        pseudonym = self._pseudonym(user_ref)
        try:
            if await inbox.is_active(self.app.db, CHANNEL, user_ref) is False:
                return "blocked"
            return await self._deliver(pseudonym, render(replies), reply_token=None, to=user_ref, key=key or "")
        except Exception as exc:
            log.error("pushing to %s on LINE failed (%s)", pseudonym, type(exc).__name__)
            return "failed"

    async def multicast(self, user_refs: Sequence[str], replies: list[Reply], key: str) -> str:
        """The same messages to up to 500 participants in one call per five messages (broadcasts):
        "sent" or "failed", never raises. The same `key` never delivers twice within 24 hours."""
        if self._api is None or not user_refs or len(user_refs) > MAX_MULTICAST:
            return "failed"
        messages = render(replies)
        try:
            for n, start in enumerate(range(0, len(messages), MAX_MESSAGES)):
                batch = messages[start : start + MAX_MESSAGES]
                request = MulticastRequest(to=list(user_refs), messages=batch)
                failure = await self._call(
                    lambda request=request, n=n: self._api.multicast(
                        request, x_line_retry_key=retry_key(key, n), _request_timeout=self._timeout
                    )
                )
                if failure is not None and failure.status != 409:
                    log.warning(
                        "LINE multicast to %d participants failed: %s %s",
                        len(user_refs),
                        failure.status,
                        failure.message,
                    )
                    return "failed"
        except Exception as exc:
            log.error("LINE multicast to %d participants failed (%s)", len(user_refs), type(exc).__name__)
            return "failed"
        return "sent"

    async def _deliver(
        self, pseudonym: str, messages: list[TextMessage], *, reply_token: str | None, to: str | None, key: str
    ) -> str:
        """Send messages five at a time: the first five as a reply when there is a token, the
        rest (and everything once the token proves expired) as pushes. Logs failures."""
        if self._api is None:
            log.error("LINE send to %s failed: the channel is not started", pseudonym)
            return "failed"
        base = key or str(uuid.uuid4())
        for n, start in enumerate(range(0, len(messages), MAX_MESSAGES)):
            batch = messages[start : start + MAX_MESSAGES]
            if n == 0 and reply_token:
                failure = await self._call(
                    lambda batch=batch: self._api.reply_message(
                        ReplyMessageRequest(reply_token=reply_token, messages=batch), _request_timeout=self._timeout
                    )
                )
                if failure is None:
                    continue
                if not (failure.status == 400 and "reply token" in failure.message.lower()):
                    log.warning("LINE reply to %s failed: %s %s", pseudonym, failure.status, failure.message)
                    return "failed"
                log.info("LINE reply token for %s was no longer valid; pushing instead", pseudonym)
            if to is None:
                log.warning("LINE reply to %s failed and a push is not wanted", pseudonym)
                return "failed"
            result = await self._push(to, batch, retry_key(base, n), pseudonym)
            if result != "sent":
                return result
        return "sent"

    async def _push(self, to: str, batch: list[TextMessage], key: str, pseudonym: str) -> str:
        failure = await self._call(
            lambda: self._api.push_message(
                PushMessageRequest(to=to, messages=batch), x_line_retry_key=key, _request_timeout=self._timeout
            )
        )
        if failure is None or failure.status == 409:  # 409: this retry key was accepted before
            return "sent"
        log.warning("LINE push to %s failed: %s %s", pseudonym, failure.status, failure.message)
        if failure.status == 400 and "failed to send messages" in failure.message.lower():
            return "blocked"  # LINE knows no such user any more
        return "failed"

    async def _call(self, request: Callable[[], Awaitable[object]]) -> _Failure | None:
        """One API call, retried with backoff on 429, 5xx and network errors; None on success."""
        for attempt in range(len(self._delays) + 1):
            try:
                await request()
                return None
            except ApiException as exc:
                status = int(exc.status or 0)
                failure = _Failure(status, _error_message(exc.body))
                retry = status == 429 or status >= 500
            except (aiohttp.ClientError, TimeoutError) as exc:
                failure = _Failure(None, type(exc).__name__)
                retry = True
            if not retry or attempt == len(self._delays):
                return failure
            await asyncio.sleep(self._delays[attempt])
        return None  # unreachable: the loop always returns
