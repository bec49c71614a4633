"""The inbound path every channel shares: a durable per-chat inbox, and the one way an event is
handled and answered.

A webhook hands its converted events to `Inbox.accept`, which stores them (storage/inbox.py) before
the platform gets its 200; each chat's rows are then processed in arrival order. Processing one
event is one unit of work in storage (`Service.handle`: claim, load, decide, save, mark the row);
its replies go out afterwards through the channel's `Sender`, in order per chat, and storing the
next event never waits for them. A row that cannot be stored stops its chat's queue, so nothing
overtakes it; the chat is tried again after a while (waiting longer each time), or sooner with its
next event, and the participant hears "try later" once per event, not at every attempt.

The backlog is bounded (`limit` unprocessed rows per channel, RABFANG_INBOX_LIMIT): beyond it
`accept` raises InboxFull and the webhook answers 503, so a flood is held by the platform, which
delivers again, rather than by our disk. The count is kept in memory (read on start, raised on
accept, lowered as rows are processed) and read again from the table when it says full, at most
once a second, since redeliveries and erasures make it drift upwards.

Several workers on one PostgreSQL database share the inbox: a worker leases a chat's rows while it
processes them (`lease` seconds, renewed as it claims the next batch), so each chat is worked on
by one worker at a time, in arrival order, whichever worker received its events. Every `sweep`
seconds each worker looks for chats no live worker holds (a lease ran out: its worker died) and
takes them, so an event acknowledged by a worker that then died is processed within seconds.

Telegram's long polling uses `Inbox.handle` directly: it confirms an update only after that
returns True, so the update itself is the durable copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import traceback
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import datetime, timedelta

from storage import Rejected, StorageError
from storage import inbox as rows

from .model import Incoming, Reply, utcnow
from .senders import Sender
from .service import Service

log = logging.getLogger("rabfang.inbox")

PRUNE_AFTER = timedelta(days=7)  # processed rows are kept this long as dedupe keys
TOLD_MEMORY = 10_000  # event ids remembered as "told to try later"
DEFAULT_LIMIT = 20_000  # unprocessed rows per channel
RECOUNT_EVERY = 1.0  # seconds between exact counts while the backlog looks full
DEFAULT_LEASE = 10.0  # seconds a worker holds a chat's rows (RABFANG_INBOX_LEASE)


class InboxFull(Exception):
    """The channel's backlog is at its limit: nothing more is stored until it drains."""


class Inbox:
    """One channel's inbound events: stored, then processed chat by chat, answered through `sender`.

    `legacy(body, reply_token, received_at)` reads a row stored before the inbox was
    channel-neutral (the platform's own event)."""

    def __init__(
        self,
        channel: str,
        service: Service,
        sender: Sender,
        *,
        storage_retry: tuple[float, float] = (2.0, 60.0),
        stop_timeout: float = 30.0,
        limit: int = DEFAULT_LIMIT,
        legacy: Callable[[str, str | None, datetime], Incoming | None] | None = None,
        clock: Callable[[], datetime] = utcnow,
        lease: float = DEFAULT_LEASE,
    ):
        self.channel = channel
        self.service = service
        self.sender = sender
        self._db = service.db
        self._storage_retry = storage_retry  # first and longest wait before a stuck chat is tried again
        self._stop_timeout = stop_timeout
        self._legacy = legacy
        self._clock = clock
        self._workers: dict[str, asyncio.Task[None]] = {}  # chat -> the task processing its rows
        self._again: set[str] = set()  # chats that got new rows while their worker was busy
        self._waits: dict[str, float] = {}  # chat -> how long its next retry waits
        self._retries: dict[str, asyncio.Task[None]] = {}  # chat -> its pending retry
        self._sends: dict[str, asyncio.Task[None]] = {}  # chat -> its latest send (sends chain per chat)
        self._tasks: set[asyncio.Task[None]] = set()  # sends and "try later" notes in flight
        self._told: set[str] = set()  # event ids whose sender was told "try later" (once is enough)
        self._stopping = False
        self.limit = limit
        self._backlog = 0  # unprocessed rows, as far as this process knows
        self._counted = float("-inf")  # loop time of the last exact count
        self._full_told = False
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"  # this process's leases
        self.lease = lease
        self._shared = rows.shared(self._db)  # other workers share this inbox (PostgreSQL)
        self._sweeper: asyncio.Task[None] | None = None

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Forget old processed rows, then process whatever a previous run stored but did not finish."""
        self._stopping = False
        try:
            await rows.prune(self._db, self.channel, self._clock() - PRUNE_AFTER)
        except StorageError:
            log.warning("could not prune old %s inbox rows; continuing", self.channel)
        await self._recount()
        chats = await rows.pending_chats(self._db, self.channel)
        if chats:
            log.info("draining the %s inbox: %d chat(s) with unprocessed events", self.channel, len(chats))
        for chat in chats:
            self._kick(chat)
        if self._shared:
            self._sweeper = asyncio.create_task(self._sweep(), name=f"{self.channel}-inbox-sweep")

    async def _sweep(self) -> None:
        """Take the chats whose worker died (its lease ran out) or never claimed them."""
        every = max(0.2, min(2.0, self.lease / 4))
        while not self._stopping:
            await asyncio.sleep(every)
            try:
                chats = await rows.stray_chats(self._db, self.channel, self._clock(), grace=every)
            except StorageError:
                continue  # the database is away; the chats wait for it
            except Exception:
                log.exception("the %s inbox sweep failed", self.channel)
                continue
            if chats:
                log.info("taking over %d %s chat(s) no live worker holds", len(chats), self.channel)
            for chat in chats:
                self._kick(chat)

    async def stop(self) -> None:
        """Finish the events already received (within `stop_timeout`); the rest stays for the next start."""
        self._stopping = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None
        try:
            await asyncio.wait_for(self.idle(), self._stop_timeout)
        except TimeoutError:
            log.warning(
                "%s processing did not finish in %.0f s; the rest stays in the inbox", self.channel, self._stop_timeout
            )
            for task in [*self._workers.values(), *self._tasks]:
                task.cancel()
            await asyncio.gather(*self._workers.values(), *self._tasks, return_exceptions=True)
        for task in self._retries.values():
            task.cancel()
        await asyncio.gather(*self._retries.values(), return_exceptions=True)
        self._retries.clear()

    async def idle(self) -> None:
        """Wait until every stored event that has a worker is processed and answered."""
        while self._workers or self._tasks:
            await asyncio.wait([*self._workers.values(), *self._tasks])  # unlike gather, never cancels them

    # ---- receiving -------------------------------------------------------------------------

    async def accept(self, items: Sequence[Incoming]) -> list[Incoming] | None:
        """Store a webhook's events durably, then start processing them; returns those that were
        new (a replayed or redelivered one was stored before). None when they could not be stored:
        the webhook answers 5xx and the platform delivers them again, and their senders are told
        "try later" once, where the channel can still answer them. InboxFull when the backlog is at
        its limit: nothing is stored, and nobody is told (the platform delivers again)."""
        if self._backlog + len(items) > self.limit:
            await self._recount(recent_enough=True)
            if self._backlog + len(items) > self.limit:
                if not self._full_told:
                    log.warning(
                        "the %s inbox is full (%d unprocessed events); answering 503", self.channel, self._backlog
                    )
                    self._full_told = True
                raise InboxFull(f"{self.channel} inbox full: {self._backlog} events waiting; deliver again later")
        self._full_told = False
        try:
            new = await rows.add(self._db, self.channel, items, self._clock())
        except StorageError:
            log.error("could not store %d %s event(s)", len(items), self.channel)
            for item in items:
                if self._first_telling(item.event_id):
                    self._spawn(self._tell(item, kept=True))
            return None
        self._backlog += len(new)
        for chat in dict.fromkeys(item.user_ref for item in new):
            self._kick(chat)
        return new

    @property
    def backlog(self) -> int:
        """Unprocessed rows, as counted in memory."""
        return self._backlog

    async def _recount(self, *, recent_enough: bool = False) -> None:
        """Read the backlog from the table (skipped when `recent_enough` and it was read within
        the last RECOUNT_EVERY seconds)."""
        now = asyncio.get_running_loop().time()
        if recent_enough and now - self._counted < RECOUNT_EVERY:
            return
        try:
            self._backlog = await rows.count_pending(self._db, self.channel)
        except StorageError:
            log.warning("could not count the %s inbox; keeping the count in memory", self.channel)
        self._counted = now

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
        """Process a chat's unprocessed rows in order; a row that could not be stored stops the queue."""
        try:
            while True:
                self._again.discard(chat)
                try:
                    pending = await rows.claim(self._db, self.channel, chat, self.worker, self._clock(), self.lease)
                except StorageError:
                    log.error(
                        "could not read (or, with several workers, lease) the %s inbox for %s; its events will come again",
                        self.channel,
                        self.service.pseudonym(self.channel, chat),
                    )
                    if self._shared:
                        await self._tell_waiting(chat)
                    self._retry_later(chat)
                    return
                for row in pending:
                    if not await self._row(row):
                        self._retry_later(chat)
                        break
                    self._backlog = max(0, self._backlog - 1)
                else:
                    self._waits.pop(chat, None)
                    if pending and self._shared:
                        continue  # other workers may have stored more of this chat's rows meanwhile
                if chat not in self._again:
                    return
        finally:
            self._workers.pop(chat, None)

    async def _tell_waiting(self, chat: str) -> None:
        """The chat's rows could not be leased (on PostgreSQL a lease is a write): tell their senders
        "try later" once, as when an event cannot be stored, if they can still be read."""
        try:
            waiting = await rows.pending(self._db, self.channel, chat)
        except StorageError:
            return
        for row in waiting:
            item = row.item
            if item is not None and self._first_telling(item.event_id):
                self._send(chat, lambda item=item, key=row.retry_key: self._tell(item, kept=True, key=key))

    async def _row(self, row: rows.Row) -> bool:
        item = row.item
        if item is None and row.legacy is not None and self._legacy is not None:
            item = self._legacy(*row.legacy, row.received_at)
        if item is None:  # nothing a participant said (a legacy row of an event we ignore)
            with contextlib.suppress(StorageError):
                await rows.mark_processed(self._db, self.channel, row.seq, self._clock())
            return True
        return await self.handle(item, seq=row.seq, key=row.retry_key)

    def _retry_later(self, chat: str) -> None:
        """Try a stuck chat again once storage may have recovered."""
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

    async def handle(self, item: Incoming, *, seq: int | None = None, key: str | None = None) -> bool:
        """Handle one event and send its answer; False when it could not be stored and must come
        again (the inbox retries its row; polling leaves the update unconfirmed). An event that
        fails for a bug, or carries a value the database refuses (storage.Rejected: it would fail
        at every try), is logged and dropped, so it never stalls the chat's later events."""
        key = key or str(uuid.uuid5(uuid.NAMESPACE_URL, f"rabfang:{self.channel}:{item.event_id}"))
        try:
            handled = await self.service.handle(self.channel, item.user_ref, item.inbound, item.event_id, inbox_seq=seq)
        except Rejected as exc:  # a poison event: it would fail every time, so it is not waited out
            log.error("the database refused a value of %s event %r (%s); dropped", self.channel, item.event_id, exc)
            if seq is not None:
                with contextlib.suppress(StorageError):
                    await rows.mark_processed(self._db, self.channel, seq, self._clock())
            if self._first_telling(f"rejected:{item.event_id}"):
                self._send(item.user_ref, lambda: self._tell(item, kept=False, key=key, rejected=True))
            return True
        except StorageError:
            log.warning(
                "could not store a %s event from %s; it will come again",
                self.channel,
                self.service.pseudonym(self.channel, item.user_ref),
            )
            if self._first_telling(item.event_id):
                self._send(item.user_ref, lambda: self._tell(item, kept=True, key=key))
            return False
        except Exception as exc:
            trace = "".join(traceback.format_tb(exc.__traceback__))
            log.error(
                "a %s event from %s failed (%s); dropped\n%s",
                self.channel,
                self.service.pseudonym(self.channel, item.user_ref),
                type(exc).__name__,
                trace,
            )
            if seq is not None:
                with contextlib.suppress(StorageError):
                    await rows.mark_processed(self._db, self.channel, seq, self._clock())
            self._send(item.user_ref, lambda: self._tell(item, kept=False, key=key))
            return True
        if handled is None and not item.context:
            return True  # a redelivery, answered the first time; or an event with nothing to say
        replies = handled.replies if handled is not None else []
        chosen = handled.chosen if handled is not None and not handled.refused else None
        self._send(item.user_ref, lambda: self._answer(item, replies, chosen, key))
        if handled is not None and self.sender.capabilities.menu:
            self._send(item.user_ref, lambda: self._menu(item.user_ref, handled.lang, handled.erased))
        return True

    # ---- answering -------------------------------------------------------------------------

    def _send(self, chat: str, send: Callable[[], Awaitable[None]]) -> None:
        """Run a send after the chat's previous one, without holding up the processing."""
        previous = self._sends.get(chat)

        async def chained() -> None:
            if previous is not None:
                await asyncio.wait([previous])
            await send()

        task = self._spawn(chained())
        self._sends[chat] = task
        task.add_done_callback(lambda t: self._sends.pop(chat, None) if self._sends.get(chat) is t else None)

    def _spawn(self, coro: Coroutine[object, object, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _answer(self, item: Incoming, replies: list[Reply], chosen: str | None, key: str) -> None:
        delivery = await self.sender.answer(item.user_ref, replies, item.context, chosen=chosen, key=key)
        if delivery == "blocked":
            await self.service.gone(self.channel, item.user_ref)
        elif delivery != "sent":
            log.info(
                "%s: replies to %s %s", self.channel, self.service.pseudonym(self.channel, item.user_ref), delivery
            )

    async def _menu(self, user_ref: str, lang: str | None, erased: bool) -> None:
        """The participant's menu follows their language, and goes with their data."""
        if erased:
            await self.sender.unlink_menu(user_ref)
        elif lang:
            await self.sender.link_menu(user_ref, lang)

    async def _tell(self, item: Incoming, *, kept: bool, key: str = "", rejected: bool = False) -> None:
        """Say that the event could not be stored: kept (it comes again), lost (a bug), or
        `rejected` (the database refused a value in it)."""
        lang = await self.service.language(self.channel, item.user_ref)
        reply = Service.not_recorded(lang) if rejected else Service.try_later(lang, kept=kept)
        later = str(uuid.uuid5(uuid.UUID(key), "later")) if key else ""
        await self.sender.answer(item.user_ref, [reply], item.context, chosen=None, key=later)

    def _first_telling(self, event_id: str) -> bool:
        """Whether this is the first time the sender of `event_id` is to be told to wait: retries
        and redeliveries of the same event say nothing more."""
        if event_id in self._told:
            return False
        if len(self._told) > TOLD_MEMORY:
            self._told.clear()
        self._told.add(event_id)
        return True
