"""The service: runs one inbound event through the engine inside one storage transaction.

Channels call `handle` and render what comes back; they never see state or storage.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from storage import Database

from .admin import ADMIN_COMMANDS, Admin, Doorbell
from .config import Settings
from .engine import Context, Engine
from .i18n import tr
from .model import Inbound, Outcome, Reply, State
from .surveys import Catalog


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Handled:
    """The replies for one event, plus what a channel needs to render them well."""

    replies: list[Reply]
    lang: str | None
    pseudonym: str
    chosen: str | None = None  # the label of an accepted tap, for marking the question answered
    refused: bool = False
    erased: bool = False


class FloodGate:
    """At most `limit` messages per `window` per participant; the first one over gets a notice,
    the rest are dropped quietly. Counts by the platform's timestamps, so a backlog drained
    after a restart is judged by when it was sent, not when it is processed. Senders are kept
    in order of their last message, so forgetting the quiet ones costs only what it forgets."""

    def __init__(self, limit: int, window: timedelta):
        self.limit = limit
        self.window = window
        self._seen: OrderedDict[tuple[str, str], deque[datetime]] = OrderedDict()
        self._noticed: dict[tuple[str, str], datetime] = {}

    def check(self, key: tuple[str, str], at: datetime) -> str:
        """'ok', 'notice' (drop it and say so once), or 'drop'."""
        self._forget_before(at - self.window)
        times = self._seen.pop(key, None) or deque()
        self._seen[key] = times  # now the most recent sender
        while times and at - times[0] >= self.window:
            times.popleft()
        if len(times) < self.limit:
            times.append(at)
            return "ok"
        last = self._noticed.get(key)
        if last is not None and at - last < self.window:
            return "drop"
        self._noticed[key] = at
        return "notice"

    def _forget_before(self, cutoff: datetime) -> None:
        while self._seen:
            key, times = next(iter(self._seen.items()))
            if times and times[-1] >= cutoff:
                return
            self._seen.popitem(last=False)
            self._noticed.pop(key, None)


class Service:
    def __init__(
        self,
        db: Database,
        catalog: Catalog,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
        doorbell: Doorbell | None = None,
    ):
        self.db = db
        self.catalog = catalog
        self.settings = settings
        self.clock = clock
        self.admin = Admin(db, catalog, settings, clock, doorbell)
        self.flood = FloodGate(settings.flood_limit, timedelta(seconds=settings.flood_window))

    def _admin_command(self, channel: str, user_ref: str, event: Inbound) -> tuple[str, str] | None:
        """An admin's `/sessions …`, `/broadcast …`, `/stats`, `/export`; others go to the engine,
        which answers them as it answers any unknown command."""
        if event.kind != "text" or not event.text.startswith("/"):
            return None
        head, _, arg = event.text[1:].partition(" ")
        name = head.split("@", 1)[0].lower()
        if name in ADMIN_COMMANDS and self.settings.is_admin(channel, user_ref):
            return name, arg.strip()
        return None

    def engine(self, now: datetime) -> Engine:
        s = self.settings
        return Engine(Context(self.catalog, now, retention_days=s.retention_days, contact=s.contact))

    async def handle(self, channel: str, user_ref: str, event: Inbound, event_id: str | None = None) -> Handled | None:
        """Decide and store one event; None when `event_id` was already handled.

        Raises storage.StorageError when nothing could be stored: the event is not claimed,
        so the platform's redelivery (or the participant's retry) will be handled later."""
        now = self.clock()
        admin = self._admin_command(channel, user_ref, event)
        if admin is not None:
            if event_id is not None and not await self.db.claim_event(channel, event_id, now):
                return None
            replies = await self.admin.chat(*admin, requested_by=f"{channel}:{user_ref}")
            return Handled(replies=replies, lang=None, pseudonym=self.db.pseudonym(channel, user_ref))
        engine = self.engine(now)
        key = (channel, user_ref)
        sent_at = event.sent_at or now

        def decide(state: State) -> Outcome:
            # runs after the event id is claimed, so a redelivered event is never counted twice
            # the console is one person at a local terminal: nothing to guard against
            verdict = "ok" if channel == "console" else self.flood.check(key, sent_at)
            if verdict == "ok":
                return engine.decide(state, event)
            replies = [Reply(tr(state.lang, "flood"))] if verdict == "notice" else []
            return Outcome(state=state, replies=replies)

        outcome = await self.db.handle_event(channel, user_ref, event_id, decide, now)
        if outcome is None:
            return None
        return Handled(
            replies=outcome.replies,
            lang=outcome.state.lang,
            pseudonym=self.db.pseudonym(channel, user_ref),
            chosen=outcome.chosen,
            refused=outcome.refused,
            erased=outcome.erase,
        )

    @staticmethod
    def try_later(lang: str | None, kept: bool = True) -> Reply:
        """What a participant is told when their message could not be stored: `kept` where the
        channel holds on to it and retries (LINE's inbox, Telegram's unconfirmed update)."""
        return Reply(tr(lang, "try_later" if kept else "try_later_lost"))
