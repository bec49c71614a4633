"""The service: runs one inbound event through the engine inside one storage transaction.

Channels call `handle` and render what comes back; they never see state or storage.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from storage import Database, Rejected, StorageError

from .admin import ADMIN_COMMANDS, Admin
from .config import Settings
from .engine import Context, Engine
from .i18n import tr
from .model import FloodMarks, Inbound, Outcome, Reply, State, utcnow
from .surveys import Catalog

log = logging.getLogger("rabfang.service")


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
    """At most `limit` messages per `window` per participant; past it the engine still takes the
    answers it accepts (the answer to the question asked, typed or tapped, however fast), and the
    rest get a notice once, then silence. Only what the engine did not take as an answer is
    counted: commands, text that answers nothing, stickers, stale or forged taps. Counts by the
    platform's timestamps, so a backlog drained after a restart is judged by when it was sent, not
    when it is processed.

    A pure policy over a sender's `FloodMarks`, which storage keeps in the event's own unit of work
    (Database.handle_event): every worker counts the same marks, and a redelivered event, never
    claimed again, is never counted twice."""

    def __init__(self, limit: int, window: timedelta):
        self.limit = limit
        self.window = window

    def check(self, marks: FloodMarks, at: datetime) -> Literal["ok", "notice", "drop"]:
        """'ok', 'notice' (drop it and say so once), or 'drop'."""
        if sum(1 for t in marks.seen if at - t < self.window) < self.limit:
            return "ok"
        last = marks.noticed
        return "drop" if last is not None and at - last < self.window else "notice"

    def record(self, marks: FloodMarks, at: datetime, verdict: str) -> FloodMarks:
        """The marks to keep after `verdict` on a message sent `at`: only what the window still holds."""
        seen = tuple(t for t in marks.seen if at - t < self.window)
        noticed = marks.noticed if marks.noticed is not None and at - marks.noticed < self.window else None
        if verdict == "ok":
            seen += (at,)
        elif verdict == "notice":
            noticed = at
        return FloodMarks(seen, noticed)


class Service:
    """One event = one unit of work in storage around the engine's decision. Channels and the inbox
    call `handle` and send what comes back; they never see state or storage."""

    def __init__(
        self,
        db: Database,
        catalog: Catalog,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
        *,
        admin: Admin | None = None,
    ):
        self.db = db
        self.catalog = catalog
        self.settings = settings
        self.clock = clock
        self.admin = admin or Admin(db, catalog, settings, clock)
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

    def engine(self, now: datetime, flood: Literal["ok", "notice", "drop"] = "ok") -> Engine:
        s = self.settings
        return Engine(
            Context(
                self.catalog,
                now,
                retention_days=s.retention_days,
                unconsented_days=s.unconsented_days,
                contact=s.contact,
                flood=flood,
            )
        )

    async def handle(
        self,
        channel: str,
        user_ref: str,
        event: Inbound,
        event_id: str | None = None,
        *,
        inbox_seq: int | None = None,
    ) -> Handled | None:
        """Decide and store one event (and mark its inbox row, if any); None when `event_id` was
        already handled, or when the event has nothing to answer.

        Raises storage.StorageError when nothing could be stored: the event is not claimed,
        so the platform's redelivery (or the inbox's retry) will be handled later."""
        now = self.clock()
        if event.kind in ("unfollow", "unblock"):
            await self.db.set_active(
                channel, user_ref, event.kind == "unblock", now, event_id=event_id, inbox_seq=inbox_seq
            )
            return None
        admin = self._admin_command(channel, user_ref, event)
        if admin is not None:
            if not await self.db.claim_event(channel, event_id, now, inbox_seq=inbox_seq):
                return None
            return Handled(
                replies=await self._run_admin(*admin, channel, user_ref, event_id),
                lang=None,
                pseudonym=self.pseudonym(channel, user_ref),
            )
        sent_at = event.sent_at or now
        engine = self.engine(now)

        def decide(state: State) -> Outcome:
            return engine.decide(state, event)

        def flood(state: State, marks: FloodMarks) -> tuple[Outcome | None, FloodMarks]:
            """Asked only when the decision took no answer: over the limit, a notice once, then silence."""
            verdict = self.flood.check(marks, sent_at)
            held = None if verdict == "ok" else self.engine(now, verdict).decide(state, event)
            return held, self.flood.record(marks, sent_at, verdict)

        outcome = await self.db.handle_event(
            channel,
            user_ref,
            event_id,
            decide,
            now,
            inbox_seq=inbox_seq,
            survey_version=self.catalog.version,
            flood=None if channel == "console" else flood,  # one person at a local terminal: nothing to guard
        )
        if outcome is None:
            return None
        return Handled(
            replies=outcome.replies,
            lang=outcome.state.lang,
            pseudonym=self.pseudonym(channel, user_ref),
            chosen=outcome.chosen,
            refused=outcome.refused,
            erased=outcome.erase,
        )

    async def _run_admin(
        self, command: str, arg: str, channel: str, user_ref: str, event_id: str | None
    ) -> list[Reply]:
        """An admin command, its event already claimed: it is never tried again, so a storage
        failure is told as what it is (not run; send it again), never as "we will record it"."""
        lang = await self.language(channel, user_ref)
        try:
            return await self.admin.chat(command, arg, requested_by=f"{channel}:{user_ref}", lang=lang)
        except Rejected as exc:
            log.warning("admin /%s (event %r): the database refused a value (%s); not run", command, event_id, exc)
            return [Reply(tr(lang, "admin_rejected", command=command))]
        except StorageError:
            log.warning("admin /%s (event %r): storage unavailable; not run", command, event_id)
            return [Reply(tr(lang, "admin_failed", command=command))]

    def pseudonym(self, channel: str, user_ref: str) -> str:
        """How logs and exports name a participant: never their platform id."""
        return self.db.pseudonym(channel, user_ref)

    async def language(self, channel: str, user_ref: str) -> str | None:
        """The participant's language, when even that can be read; None shows both languages."""
        try:
            return (await self.db.load_state(channel, user_ref, self.clock())).lang
        except Exception:
            return None

    async def reachable(self, channel: str, user_ref: str) -> bool:
        """False for a participant known to have blocked or unfollowed the bot: a push would be wasted."""
        try:
            return await self.db.is_active(channel, user_ref) is not False
        except Exception:
            return True

    async def gone(self, channel: str, user_ref: str) -> None:
        """A send found that the participant blocked the bot or left: no more reminders for them."""
        try:
            await self.db.set_active(channel, user_ref, False, self.clock())
        except StorageError:
            log.warning("could not mark %s inactive", self.pseudonym(channel, user_ref))
            return
        log.info("%s: %s blocked the bot; marked inactive", channel, self.pseudonym(channel, user_ref))

    @staticmethod
    def try_later(lang: str | None, kept: bool = True) -> Reply:
        """What a participant is told when their message could not be stored: `kept` where the
        channel holds on to it and retries (the inbox, Telegram's unconfirmed update)."""
        return Reply(tr(lang, "try_later" if kept else "try_later_lost"))

    @staticmethod
    def not_recorded(lang: str | None) -> Reply:
        """What a participant is told when the database refused something in their message (a NUL,
        a number out of range): it was dropped, and sending it again as it was would not help."""
        return Reply(tr(lang, "rejected"))
