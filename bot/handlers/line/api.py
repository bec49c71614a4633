"""The LINE Messaging API behind rabfang's `Sender`: replies while a reply token is fresh (free),
pushes otherwise, multicasts for broadcasts. The SDK's errors are mapped here, once, onto
bot.senders' exception tree; retries and pacing are bot.senders'."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import TypeVar

import aiohttp
from linebot.v3.messaging import (
    AsyncApiClient,
    AsyncMessagingApi,
    Configuration,
    MulticastRequest,
    PushMessageRequest,
    ReplyMessageRequest,
    TextMessage,
)
from linebot.v3.messaging.exceptions import ApiException
from pydantic.v1 import BaseModel as SdkModel

from bot.model import Reply
from bot.senders import Blocked, Capabilities, Delivery, Pacer, Refused, RetryPolicy, SendError, Unavailable

from .render import MAX_TEXT, Message, render
from .richmenu import alias as menu_alias

CHANNEL = "line"
MAX_MESSAGES = 5  # message objects per reply, push or multicast call
MAX_MULTICAST = 500  # recipients in one multicast call
CONNECTIONS = 64  # requests to the Messaging API in flight at once: at LINE's ~50-100 ms from Thailand,
# this many bounds the replies a process can send per second (the SDK's default, 5 per CPU, is 10 here)
REPLY_TOKEN_TTL = timedelta(seconds=50)
MENU_RECHECK = 600.0  # seconds before asking LINE again for a rich menu that was not published  # LINE: use a reply token within a minute of the webhook

log = logging.getLogger("rabfang.line")
R = TypeVar("R", ReplyMessageRequest, PushMessageRequest)


def retry_key(base: str, n: int) -> str:
    """The retry key of the n-th push for one event or one `push` call: the base itself first,
    then UUIDs derived from it, so a retried send reuses exactly the same keys."""
    try:
        root = uuid.UUID(base)
    except ValueError:
        root = uuid.uuid5(uuid.NAMESPACE_URL, "rabfang:" + base)
    return str(root) if n == 0 else str(uuid.uuid5(root, str(n)))


def _error_message(body: object) -> str:
    """LINE's `message` field of an error body (never the request: it holds ids and tokens)."""
    try:
        value = json.loads(body) if isinstance(body, str | bytes) else None
    except ValueError:
        value = None
    message = value.get("message") if isinstance(value, dict) else None
    return str(message)[:200] if message else ""


def _retry_after(exc: ApiException) -> float | None:
    headers = getattr(exc, "headers", None) or {}
    try:
        return float(headers.get("Retry-After") or 0) or None
    except (TypeError, ValueError):
        return None


async def _mapped(request: Callable[[], Awaitable[object]]) -> None:
    """One SDK call, its failures as bot.senders errors."""
    try:
        await request()
    except ApiException as exc:
        status, message = int(exc.status or 0), _error_message(exc.body)
        if status == 429 and "monthly limit" in message.lower():
            raise Refused(message, status) from None  # the month's quota is spent: retrying cannot help
        if status == 429 or status >= 500:
            raise Unavailable(message, status, _retry_after(exc)) from None
        if status == 400 and "failed to send messages" in message.lower():
            raise Blocked(message, status) from None  # LINE knows no such user any more
        raise Refused(message, status) from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise Unavailable(type(exc).__name__) from None


def request(model: type[R], **fields: object) -> R:
    """A reply or push request of messages render() built: they are the SDK's validated models
    already, and validating them again on the way in was most of a reply's cost on the event loop
    (the SDK still validates the request as reply_message's argument; the JSON is the same)."""
    return model.construct(**fields)


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def one_call(messages: list[Message], limit: int = MAX_MESSAGES) -> list[Message]:
    """A participant's event is answered with at most one call's worth of messages (a free reply;
    a push, should the token have expired, spends the quota once). Consecutive texts are joined
    while they fit one message; a quick reply only ever shows on the last message, so one that
    is no longer last is dropped with it. If even that is too many, the middle goes (and says so)
    and the last message, with its buttons, stays."""
    packed: list[Message] = []
    for message in messages:
        last = packed[-1] if packed else None
        if (
            len(messages) > limit
            and isinstance(last, TextMessage)
            and isinstance(message, TextMessage)
            and _units(last.text) + 2 + _units(message.text) <= MAX_TEXT
        ):
            packed[-1] = TextMessage(text=last.text + "\n\n" + message.text, quick_reply=message.quick_reply)
        else:
            packed.append(message)
    if len(packed) > limit:
        log.warning("LINE: one event's %d messages cut to %d", len(packed), limit)
        packed = packed[: limit - 1] + packed[-1:]
    return packed


class Wire:
    """The JSON of the SDK's message models, as `to_dict()` gives it (their fields by alias, None
    left out), in one pass, with each model's JSON kept while it is alive in here. The SDK's own
    `to_dict()` serializes every level of a Flex bubble again for each level above it (a question's
    card took ~5 ms of the event loop per reply, most of what sending cost); the bubbles and quick
    replies render() caches are the same objects in every message, so theirs is worked out once.

    Kept objects are held (so no id is reused while kept) and never changed after render() built
    them; at `size` entries all are forgotten."""

    def __init__(self, size: int = 4096):
        self.size = size
        self._kept: dict[int, tuple[object, dict]] = {}

    def __call__(self, obj: object) -> object:
        if isinstance(obj, SdkModel):
            kept = self._kept.get(id(obj))
            if kept is not None and kept[0] is obj:
                return kept[1]
            out = {}
            for name, field in obj.__fields__.items():
                value = getattr(obj, name)
                if value is not None:
                    out[field.alias] = self(value)
            if len(self._kept) >= self.size:
                self._kept.clear()
            self._kept[id(obj)] = (obj, out)
            return out
        if isinstance(obj, list | tuple):
            return [self(v) for v in obj]
        if isinstance(obj, dict):  # as the SDK: a plain dict's values as they are, None included
            return {k: self(v) for k, v in obj.items()}
        if isinstance(obj, datetime | date):
            return obj.isoformat()
        return obj


class MessagingClient(AsyncApiClient):
    """The SDK's client, serializing reply, push and multicast requests through `Wire` (the same
    JSON, tests/test_line_render.py checks it); every other request the SDK's way."""

    def __init__(self, configuration: Configuration):
        super().__init__(configuration)
        self.wire = Wire()

    def sanitize_for_serialization(self, obj: object) -> object:
        if isinstance(obj, ReplyMessageRequest | PushMessageRequest | MulticastRequest):
            return self.wire(obj)
        return super().sanitize_for_serialization(obj)


class LineSender:
    """The LINE channel's way out (see bot.senders.Sender)."""

    name = CHANNEL
    capabilities = Capabilities(
        reply=True, push=True, multicast=MAX_MULTICAST, file=False, messages_per_call=5, menu=True, quota=True
    )

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        pseudonym: Callable[[str], str],
        retry: RetryPolicy,
        pacer: Pacer,
        request_timeout: float = 10.0,
        clock: Callable[[], datetime],
        menu_recheck: float = 600.0,
    ):
        self._base_url = base_url
        self._token = token
        self._pseudonym = pseudonym
        self._retry = retry
        self._pacer = pacer  # pushes and multicasts: they spend the Official Account's quota
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        self._clock = clock
        self._client: AsyncApiClient | None = None
        self._api: AsyncMessagingApi | None = None
        self._menus: dict[str, str] = {}  # language → rich menu id, as its alias named it
        self._missing: dict[str, float] = {}  # language → when LINE said it has no such menu
        self._menu_recheck = menu_recheck  # seconds before asking again for a menu not published
        self._linked: dict[str, str] = {}  # user → the language whose menu this process linked

    async def start(self) -> None:
        """The SDK client's aiohttp session needs the running loop: made here, not at import."""
        config = Configuration(host=self._base_url, access_token=self._token)
        config.connection_pool_maxsize = CONNECTIONS  # the SDK's default is 5 per CPU
        self._client = MessagingClient(config)
        self._api = AsyncMessagingApi(self._client)

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.close()
        self._client = self._api = None

    @property
    def started(self) -> bool:
        return self._api is not None

    # ---- the Sender protocol ----------------------------------------------------------------

    async def answer(
        self, user_ref: str, replies: list[Reply], context: Mapping[str, str], *, chosen: str | None, key: str
    ) -> Delivery:
        """Reply with the event's token while it is fresh, push otherwise (with retry keys derived
        from `key`, so a retried answer is delivered once)."""
        if not replies:
            return "sent"
        token = context.get("reply_token") if self._fresh(context) else None
        to = user_ref if user_ref.startswith("U") else None  # groups and rooms get replies only
        messages = one_call(render(replies))
        return await self._deliver(messages, token=token, to=to, key=key, who=self._pseudonym(user_ref))

    async def push(self, user_ref: str, replies: list[Reply], key: str | None = None) -> Delivery:
        """Send to a participant without an event to answer (reminders, broadcasts). The same
        `key` never delivers twice within LINE's 24 hours."""
        return await self._deliver(
            render(replies), token=None, to=user_ref, key=key or "", who=self._pseudonym(user_ref)
        )

    async def multicast(self, user_refs: Sequence[str], replies: list[Reply], key: str) -> Delivery:
        """The same messages to up to 500 participants, one call per five messages."""
        if self._api is None or not user_refs or len(user_refs) > MAX_MULTICAST:
            return "failed"
        api, messages = self._api, render(replies)
        for n, start in enumerate(range(0, len(messages), MAX_MESSAGES)):
            request = MulticastRequest(to=list(user_refs), messages=messages[start : start + MAX_MESSAGES])
            part_key = retry_key(key, n)
            try:
                await self._retry.call(
                    lambda r=request, k=part_key: _mapped(
                        lambda: api.multicast(r, x_line_retry_key=k, _request_timeout=self._timeout)
                    ),
                    self._pacer,
                )
            except SendError as exc:
                if exc.status == 409:  # this retry key was accepted before
                    continue
                log.warning("LINE multicast to %d participants failed: %s %s", len(user_refs), exc.status, exc)
                return "failed"
        return "sent"

    async def quota_left(self) -> int | None:
        """This month's messages left (bot.senders.Metered): GET /v2/bot/message/quota
        (`{"type": "limited", "value": N}` or `{"type": "none"}`) less
        GET /v2/bot/message/quota/consumption (`{"totalUsage": N}`); None: no limit."""
        api = self._api
        if api is None:
            raise Unavailable("the channel is not started")
        limit: list[object] = []

        async def read() -> None:
            limit.append(await api.get_message_quota(_request_timeout=self._timeout))
            limit.append(await api.get_message_quota_consumption(_request_timeout=self._timeout))

        await self._retry.call(lambda: _mapped(read))
        quota, used = limit[-2], limit[-1]
        if getattr(quota, "type", None) != "limited" or getattr(quota, "value", None) is None:
            return None
        return max(0, int(quota.value) - int(getattr(used, "total_usage", 0) or 0))  # type: ignore[attr-defined]

    # ---- the rich menu ------------------------------------------------------------------------

    async def link_menu(self, user_ref: str, lang: str | None) -> bool:
        """Show this participant the rich menu in their language (made by `rabfang line richmenu`,
        found by its alias). Cheap to call after every event: a language already linked by this
        process is not linked again. False, and logged, when it could not; never raises."""
        api = self._api
        if api is None or not user_ref.startswith("U") or lang not in ("th", "en"):
            return False
        if self._linked.get(user_ref) == lang:
            return True
        if await self._link(api, user_ref, lang):
            if len(self._linked) >= 100_000:
                self._linked.clear()
            self._linked[user_ref] = lang
            return True
        return False

    async def _link(self, api: AsyncMessagingApi, user_ref: str, lang: str) -> bool:
        for fresh in (False, True):  # a cached id goes stale when the menu is replaced
            menu_id = await self._menu_id(api, lang, fresh=fresh)
            if menu_id is None:
                return False
            try:
                await self._retry.call(
                    lambda m=menu_id: _mapped(
                        lambda: api.link_rich_menu_id_to_user(user_ref, m, _request_timeout=self._timeout)
                    )
                )
                return True
            except Refused as exc:
                if fresh or exc.status not in (400, 404):
                    log.warning("LINE rich menu for %s not linked: %s %s", self._pseudonym(user_ref), exc.status, exc)
                    return False
            except SendError as exc:
                log.warning("LINE rich menu for %s not linked: %s %s", self._pseudonym(user_ref), exc.status, exc)
                return False
        return False

    async def unlink_menu(self, user_ref: str) -> bool:
        """Back to the default menu (a participant who erased their data). Never raises."""
        api = self._api
        if api is None or not user_ref.startswith("U"):
            return False
        self._linked.pop(user_ref, None)
        try:
            await self._retry.call(
                lambda: _mapped(lambda: api.unlink_rich_menu_id_from_user(user_ref, _request_timeout=self._timeout))
            )
        except SendError as exc:
            if exc.status == 404:
                return True
            log.warning("LINE rich menu for %s not unlinked: %s %s", self._pseudonym(user_ref), exc.status, exc)
            return False
        return True

    async def _menu_id(self, api: AsyncMessagingApi, lang: str, *, fresh: bool) -> str | None:
        if not fresh and lang in self._menus:
            return self._menus[lang]
        missing = self._missing.get(lang)
        if not fresh and missing is not None and time.monotonic() - missing < self._menu_recheck:
            return None  # none published: asked again after a while, not at every event
        self._menus.pop(lang, None)
        try:
            found = await api.get_rich_menu_alias(menu_alias(lang), _request_timeout=self._timeout)
        except ApiException as exc:
            if exc.status == 404:
                self._missing[lang] = time.monotonic()
                log.info("LINE: no rich menu for %s yet (run `rabfang line richmenu`)", lang)
            else:
                log.warning("LINE rich menu alias for %s not read: %s", lang, exc.status)
            return None
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("LINE rich menu alias for %s not read: %s", lang, type(exc).__name__)
            return None
        self._missing.pop(lang, None)
        self._menus[lang] = found.rich_menu_id
        return found.rich_menu_id

    # ---- delivering --------------------------------------------------------------------------

    def _fresh(self, context: Mapping[str, str]) -> bool:
        try:
            received = datetime.fromisoformat(context.get("received", ""))
        except ValueError:
            return False
        return self._clock() - received < REPLY_TOKEN_TTL

    async def _deliver(
        self, messages: list[Message], *, token: str | None, to: str | None, key: str, who: str
    ) -> Delivery:
        """Send messages five at a time: the first five as a reply when there is a token, the rest
        (and everything once the token proves expired) as pushes. Logs failures; never raises."""
        if self._api is None:
            log.error("LINE send to %s failed: the channel is not started", who)
            return "failed"
        api, base = self._api, key or str(uuid.uuid4())
        for n, start in enumerate(range(0, len(messages), MAX_MESSAGES)):
            batch = messages[start : start + MAX_MESSAGES]
            try:
                if n == 0 and token:
                    try:
                        await self._retry.call(
                            lambda b=batch: _mapped(
                                lambda: api.reply_message(
                                    request(ReplyMessageRequest, reply_token=token, messages=b),
                                    _request_timeout=self._timeout,
                                )
                            )
                        )
                        continue
                    except Refused as exc:
                        if not (exc.status == 400 and "reply token" in str(exc).lower()):
                            raise
                        log.info("LINE reply token for %s was no longer valid; pushing instead", who)
                if to is None:
                    log.warning("LINE reply to %s failed and a push is not wanted", who)
                    return "failed"
                await self._push(api, to, batch, retry_key(base, n))
            except Blocked:
                log.info("LINE: %s can no longer be reached", who)
                return "blocked"
            except SendError as exc:
                log.warning("LINE send to %s failed: %s %s", who, exc.status, exc)
                return "failed"
        return "sent"

    async def _push(self, api: AsyncMessagingApi, to: str, batch: list[Message], key: str) -> None:
        push = request(PushMessageRequest, to=to, messages=batch)
        try:
            await self._retry.call(
                lambda: _mapped(lambda: api.push_message(push, x_line_retry_key=key, _request_timeout=self._timeout)),
                self._pacer,
            )
        except SendError as exc:
            if exc.status != 409:  # 409: this retry key was accepted before
                raise
