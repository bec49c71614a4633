"""The one outbound boundary: what a channel can send, how a failed call is retried, how sends are
paced, and what a delivery comes to. Every channel's API client sits behind this; nothing else
retries, paces or interprets a platform's errors.

The exceptions a channel's API layer raises, mapped from its SDK's own at the call site (as
httpx maps httpcore's in one place):

    SendError            a platform call did not deliver
    ├── Blocked          the participant blocked or unfollowed the bot, or the platform no longer knows them
    ├── Refused          the platform refused this request for good (a 4xx other than 429): never retried
    └── Unavailable      no answer, a 429 or a 5xx: retried by the policy, raised once it gives up

A `Sender` never raises them to its callers: it answers with a `Delivery`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

from .model import Reply

T = TypeVar("T")

Delivery = Literal["sent", "blocked", "failed"]


class SendError(Exception):
    """A platform call did not deliver; `status` is the HTTP status when there was one."""

    def __init__(self, message: str = "", status: int | None = None):
        super().__init__(message)
        self.status = status


class Blocked(SendError):
    """The participant blocked or unfollowed the bot, or the platform no longer knows them."""


class Refused(SendError):
    """The platform refused the request for good (bad request, too large, forbidden): never retried."""


class Unavailable(SendError):
    """No answer, rate limited (429) or a server error (5xx). `retry_after`: seconds the platform
    asked us to wait, when it said."""

    def __init__(self, message: str = "", status: int | None = None, retry_after: float | None = None):
        super().__init__(message, status)
        self.retry_after = retry_after


def delivery_of(exc: SendError) -> Delivery:
    return "blocked" if isinstance(exc, Blocked) else "failed"


@dataclass(frozen=True)
class Capabilities:
    """What a channel's platform can do with a message, declared once per channel."""

    reply: bool = False  # answer an event in its own context (LINE's free reply token)
    push: bool = True  # send to a participant unprompted (reminders, broadcasts)
    multicast: int = 0  # recipients in one multicast call; 0: none
    edit: bool = False  # edit a sent message in place (mark a tapped question answered)
    file: bool = False  # send an attachment (a calendar file, an export zip)
    messages_per_call: int = 0  # messages one reply or push may carry; 0: one per call
    menu: bool = False  # a menu per participant, in their language (LINE's rich menu)
    quota: bool = False  # pushes spend a monthly message quota the platform can be asked about (LINE)


class Outbound(Protocol):
    """Messages the bot starts (reminders, broadcasts): what outreach needs of a channel. `key`
    makes a retried push deliver once where the platform supports it (LINE's retry key); elsewhere
    it names the delivery in the log. Neither method raises: each answers with a `Delivery`."""

    name: str
    capabilities: Capabilities

    async def push(self, user_ref: str, replies: list[Reply], key: str | None = None) -> Delivery: ...

    async def multicast(self, user_refs: Sequence[str], replies: list[Reply], key: str) -> Delivery: ...


class Metered(Protocol):
    """Where `capabilities.quota`: how many more messages the platform lets pushes and multicasts
    send this month (LINE counts one per recipient per call), None when there is no limit.
    Raises SendError when it cannot tell."""

    async def quota_left(self) -> int | None: ...


class Sender(Outbound, Protocol):
    """A channel's whole way out: also `answer`, which replies to an inbound event in the context
    the channel gave it when it was received (a LINE reply token, the Telegram message a tap came
    from), marking the tapped question answered with `chosen` where the channel can edit."""

    async def answer(
        self, user_ref: str, replies: list[Reply], context: Mapping[str, str], *, chosen: str | None, key: str
    ) -> Delivery: ...

    async def link_menu(self, user_ref: str, lang: str | None) -> bool:
        """Where `capabilities.menu`: show the participant the menu in their language."""
        ...

    async def unlink_menu(self, user_ref: str) -> bool:
        """Where `capabilities.menu`: back to the default menu (they erased their data)."""
        ...


class RetryPolicy:
    """The one retry loop: `Unavailable` is retried after each of `delays` (or the wait the platform
    named, when longer, held for every send through `pacer`); anything else is raised at once."""

    def __init__(self, delays: Sequence[float] = (0.5, 1.0, 2.0, 4.0), max_wait: float = 60.0):
        self.delays = tuple(delays)
        self.max_wait = max_wait

    async def call(self, request: Callable[[], Awaitable[T]], pacer: Pacer | None = None, chat: str | None = None) -> T:
        """Make `request` (after `pacer` grants a slot in `chat`, when given), retrying as above."""
        for attempt in range(len(self.delays) + 1):
            if pacer is not None:
                await pacer.wait(chat)
            try:
                return await request()
            except Unavailable as exc:
                if attempt == len(self.delays):
                    raise
                wait = self.delays[attempt]
                if exc.retry_after:
                    held = min(exc.retry_after, self.max_wait)
                    if pacer is not None:
                        pacer.hold(held)  # every send waits it out, this one at its next pacer.wait
                    else:
                        wait = max(wait, held)
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover


class Pacer:
    """Spaces sends: about `rate` a second overall and `chat_rate` a second in one chat, allowing
    `chat_burst` back to back (so an answer and the next question go out at once). `hold` stops
    every send for the time a platform's rate limit names. Per-chat slots use GCRA."""

    def __init__(
        self,
        rate: float = 30.0,
        chat_rate: float | None = None,
        chat_burst: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._interval = 1.0 / rate
        self._chat_interval = 1.0 / chat_rate if chat_rate else 0.0
        self._chat_tolerance = (max(chat_burst, 1) - 1) * self._chat_interval
        self._clock = clock
        self._next = 0.0  # the earliest moment the next send may go, overall
        self._held_until = 0.0
        self._chats: dict[str, float] = {}  # chat -> theoretical arrival time

    def chat_delay(self, chat: str) -> float:
        """Reserve this chat's next slot; how long to wait for it."""
        if not self._chat_interval:
            return 0.0
        now = self._clock()
        tat = max(self._chats.get(chat, now), now)
        at = max(now, tat - self._chat_tolerance)
        self._chats[chat] = tat + self._chat_interval
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

    async def wait(self, chat: str | None = None) -> None:
        """Wait for a slot in `chat` (None: a send that adds no message to a chat) and overall.
        The chat's slot first: a chat that must wait takes no overall slot from those that need not."""
        delay = self.chat_delay(chat) if chat is not None else 0.0
        if delay > 0:
            await asyncio.sleep(delay)
        delay = self.overall_delay()
        if delay > 0:
            await asyncio.sleep(delay)
