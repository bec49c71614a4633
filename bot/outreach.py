"""Messages the bot starts: session reminders and notices, nudges to finish, broadcasts.

Every send is claimed in the `deliveries` table before it is made and settled after, so a
restart never sends the same reminder, nudge or broadcast to anyone twice. The scheduler calls
`sweep` on an interval, and at once when the admin's doorbell rings (a broadcast was queued); it
is idempotent, so missed runs simply catch up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from storage import Database
from storage import delphi as rounds
from storage import live as lq
from storage import outreach as q
from storage.outreach import Recipient

from .engine import Context
from .engine.delphi import closes_text, invitation
from .engine.live import first_prompt
from .i18n import BANGKOK, tr, when
from .model import Reply, RoundView, SessionView, utcnow
from .scheduler import Scheduler
from .senders import Outbound, SendError

if TYPE_CHECKING:
    from .admin import Doorbell
    from .config import Settings
    from .surveys import Catalog

log = logging.getLogger("rabfang.outreach")

QUIET_START, QUIET_END = 21, 8  # no nudges from 21:00 to 08:00 Bangkok time
CONCURRENCY = 8  # sends in flight at once per channel; each channel's sender keeps its pace


def in_quiet_hours(now: datetime) -> bool:
    hour = now.astimezone(BANGKOK).hour
    return hour >= QUIET_START or hour < QUIET_END


class Outreach:
    def __init__(
        self,
        db: Database,
        catalog: Catalog,
        settings: Settings,
        senders: Mapping[str, Outbound],
        clock: Callable[[], datetime] = utcnow,
    ):
        self.db = db
        self.catalog = catalog
        self.settings = settings
        self.senders = senders
        self.clock = clock
        self._sweeping = asyncio.Lock()
        self._waving = asyncio.Lock()

    async def deliver(self, kind: str, ref: str, to: Recipient, replies: list[Reply]) -> str:
        """Send once: claim, push, settle. Returns the status, or 'done' if it was already claimed."""
        sender = self.senders.get(to.channel)
        if sender is None:
            return "unreachable"
        if not await q.claim(self.db, kind, ref, to.participant_id, self.clock()):
            return "done"
        status = await sender.push(to.user_ref, replies, f"{kind}|{ref}|{to.participant_id}")
        await q.settle(self.db, kind, ref, to.participant_id, status, self.clock())
        if status != "sent":
            log.info("%s %s to %s: %s", kind, ref, to.pseudonym, status)
        return status

    async def deliver_all(
        self,
        kind: str,
        ref: str,
        recipients: list[Recipient],
        make: Callable[[Recipient], list[Reply]],
        *,
        organizer: str | None = None,
    ) -> dict[str, int]:
        """Deliver to many, a few at a time per channel, paced; returns a tally by status.

        Before any send, a channel with a monthly quota (LINE) is asked what is left: a wave that
        would exceed it is not sent on that channel at all (its deliveries settle `over_quota`),
        and `organizer` (`channel:user_ref`, who asked for the wave) is told, as when it would
        leave little."""
        tally: dict[str, int] = {}
        todo = await q.unclaimed(self.db, kind, ref, recipients)
        todo = await self._within_quota(kind, ref, todo, make, tally, organizer)
        todo = await self._multicast(kind, ref, todo, make, tally)
        queue: asyncio.Queue[Recipient] = asyncio.Queue()
        for r in todo:
            queue.put_nowait(r)

        async def worker() -> None:
            while not queue.empty():
                r = queue.get_nowait()
                try:
                    status = await self.deliver(kind, ref, r, make(r))
                except Exception:  # a storage fault: leave it unsettled, count it failed
                    log.exception("delivery %s %s to %s failed", kind, ref, r.pseudonym)
                    status = "failed"
                tally[status] = tally.get(status, 0) + 1

        await asyncio.gather(*(worker() for _ in range(min(CONCURRENCY * max(len(self.senders), 1), len(todo)))))
        return tally

    async def _multicast(
        self,
        kind: str,
        ref: str,
        todo: list[Recipient],
        make: Callable[[Recipient], list[Reply]],
        tally: dict[str, int],
    ) -> list[Recipient]:
        """Where a channel can multicast (LINE), send each group of recipients who get the same
        messages in calls of as many as it takes; returns the recipients left for one-by-one sends."""
        rest: list[Recipient] = []
        groups: dict[tuple[str, tuple[Reply, ...]], list[Recipient]] = {}
        for r in todo:
            sender = self.senders.get(r.channel)
            if sender is not None and sender.capabilities.multicast > 0:
                groups.setdefault((r.channel, tuple(make(r))), []).append(r)
            else:
                rest.append(r)
        for (channel, replies), people in groups.items():
            sender = self.senders[channel]
            size = sender.capabilities.multicast
            for start in range(0, len(people), size):
                batch = {r.participant_id: r for r in people[start : start + size]}
                claimed = await q.claim_many(self.db, kind, ref, list(batch), self.clock())
                if not claimed:
                    continue
                key = f"{kind}|{ref}|{channel}|{min(claimed)}-{max(claimed)}|{len(claimed)}"
                status = await sender.multicast([batch[pid].user_ref for pid in claimed], list(replies), key)
                await q.settle_many(self.db, kind, ref, claimed, status, self.clock())
                tally[status] = tally.get(status, 0) + len(claimed)
        return rest

    async def _within_quota(
        self,
        kind: str,
        ref: str,
        todo: list[Recipient],
        make: Callable[[Recipient], list[Reply]],
        tally: dict[str, int],
        organizer: str | None,
    ) -> list[Recipient]:
        """The one quota check (see deliver_all): the recipients whose channel can take the wave."""
        by_channel: dict[str, list[Recipient]] = {}
        for r in todo:
            by_channel.setdefault(r.channel, []).append(r)
        keep: list[Recipient] = []
        what = f"{kind.partition(':')[0]} {ref}"
        for channel, people in by_channel.items():
            sender = self.senders.get(channel)
            if sender is None or not sender.capabilities.quota:
                keep += people
                continue
            per_call = max(sender.capabilities.messages_per_call, 1)
            need = sum(-(-len(make(r)) // per_call) for r in people)  # one message per recipient per call
            try:
                left = await sender.quota_left()  # type: ignore[attr-defined]
            except SendError as exc:
                log.warning("%s: the message quota could not be read (%s); sending %s anyway", channel, exc, what)
                keep += people
                continue
            if left is not None and need > left:
                log.warning(
                    "%s %s not sent on %s: needs %d messages, %d left this month", kind, ref, channel, need, left
                )
                claimed = await q.claim_many(self.db, kind, ref, [r.participant_id for r in people], self.clock())
                await q.settle_many(self.db, kind, ref, claimed, "over_quota", self.clock())
                tally["over_quota"] = tally.get("over_quota", 0) + len(claimed)
                await self.tell(organizer, tr(None, "quota_refused", what=what, need=need, left=left))
                continue
            if left is not None and left - need < self.settings.quota_warn_share * left:
                await self.tell(organizer, tr(None, "quota_low", what=what, left=left - need))
            keep += people
        return keep

    async def tell(self, organizer: str | None, text: str, key: str | None = None) -> None:
        """A word to the organizer who asked for a wave (`channel:user_ref`); logged when there is none."""
        channel, _, user_ref = (organizer or "").partition(":")
        sender = self.senders.get(channel)
        if sender is None or not user_ref:
            log.info("organizer notice: %s", text.replace("\n", " "))
            return
        await sender.push(user_ref, [Reply(text)], key)

    # ---- the scheduled sweep ----------------------------------------------------------------

    async def sweep(self) -> None:
        """Everything due now: session notices and reminders, nudges, unfinished broadcasts, Delphi
        rounds to close and their invitations."""
        if self._sweeping.locked():
            return  # the previous sweep is still sending; it will pick up what is due
        async with self._sweeping:
            await self.sessions()
            await self.nudges()
            await self.broadcasts()
            await self.delphi()

    async def sessions(self) -> None:
        now = self.clock()
        offsets = self.settings.reminder_deltas()
        for session, moved_at in await q.sessions_to_notify(self.db, now):
            people = await q.registrants(self.db, session.id)
            if not people:
                continue
            ref = str(session.id)
            if session.status == "cancelled":
                await self.deliver_all(
                    "cancelled", ref, people, lambda r, s=session: [self._notice("session_cancelled", s, r)]
                )
                continue
            if moved_at is not None:
                kind = f"moved:{session.starts_at.isoformat()}"
                await self.deliver_all(kind, ref, people, lambda r, s=session: [self._notice("session_moved", s, r)])
            due = [off for off in offsets if session.starts_at - off <= now]
            if not due:
                continue
            latest = min(due)
            for off in due:
                kind = f"reminder:{_label(off)}:{session.starts_at.isoformat()}"
                if off != latest:  # missed while the bot was down: a later reminder supersedes it
                    for r in await q.unclaimed(self.db, kind, ref, people):
                        if await q.claim(self.db, kind, ref, r.participant_id, now):
                            await q.settle(self.db, kind, ref, r.participant_id, "skipped", now)
                    continue
                await self.deliver_all(kind, ref, people, lambda r, s=session: [self._notice("reminder", s, r)])

    def _notice(self, key: str, session: SessionView, r: Recipient) -> Reply:
        return Reply(
            tr(
                r.lang,
                key,
                title=session.title(r.lang),
                when=when(session.starts_at, r.lang),
                place=session.place or "-",
            )
        )

    async def nudges(self) -> None:
        now = self.clock()
        if in_quiet_hours(now):
            return  # deferred: the first sweep after 08:00 sends them
        for r, area_id in await q.nudge_candidates(self.db, now - self.settings.nudge_delta()):
            area = self.catalog.areas.get(area_id)
            if area is None:
                continue
            # progress as the survey counts it: capabilities, each done once its questions asked of
            # everyone are answered (the conditional "why?" is not always asked)
            answered = await q.answered_keys(self.db, r.participant_id, area_id)
            asked: dict[str, list[str]] = {}
            for p in self.catalog.flow(area_id):
                if p.item is not None and not p.needs and not p.differs:
                    asked.setdefault(p.item_id, []).append(p.key)
            done = sum(1 for keys in asked.values() if all(k in answered for k in keys))
            reply = Reply(tr(r.lang, "nudge", area=area.title(r.lang), done=done, total=len(asked)))
            await self.deliver("nudge", area_id, r, [reply])

    async def broadcasts(self) -> None:
        for b in await q.open_broadcasts(self.db):
            people = await q.audience(self.db, b.audience)
            await self.deliver_all(
                "broadcast",
                str(b.id),
                people,
                lambda r, b=b: [Reply(b.text_en if r.lang == "en" else b.text_th)],
                organizer=b.requested_by,
            )
            sent, failed, blocked = await q.finish_broadcast(self.db, b.id, self.clock())
            log.info("broadcast %s finished: sent %s, failed %s, blocked %s", b.id, sent, failed, blocked)
            await self.report(b, sent, failed, blocked)

    async def delphi(self) -> None:
        """Close the Delphi rounds whose time is up; invite to each open round everyone who completed
        round 1 of its area (each once: a delivery `delphi` of `<area>:<round>`, so opening it again,
        or a participant completing round 1 later, never invites anyone twice). The invitations take
        the broadcasts' path (deliver_all: multicast on LINE, paced), outside quiet hours."""
        now = self.clock()
        for closed in await rounds.close_expired(self.db, now):
            log.info("delphi round %s of %s closed at its closing time", closed.round, closed.area)
        if in_quiet_hours(now):
            return  # deferred: the first sweep after 08:00 sends them
        for r in await rounds.open_rounds(self.db):
            area = self.catalog.areas.get(r.area)
            if area is None:
                continue
            people = await rounds.invitees(self.db, r.area)

            def make(p: Recipient, r: RoundView = r) -> list[Reply]:
                lang = p.lang or "th"
                return [invitation(lang, self.catalog.areas[r.area].title(lang), r.area, closes_text(r, lang))]

            tally = await self.deliver_all(rounds.INVITATION, rounds.invitation_ref(r.area, r.round), people, make)
            if set(tally) - {"unreachable"}:  # a channel not running is retried quietly at every sweep
                log.info("delphi round %s of %s: invitations %s", r.round, r.area, tally)

    async def report(self, b: q.Broadcast, sent: int, failed: int, blocked: int) -> None:
        if not b.requested_by:
            return
        channel, _, user_ref = b.requested_by.partition(":")
        sender = self.senders.get(channel)
        if sender is not None:
            text = tr(None, "broadcast_report", id=b.id, sent=sent, failed=failed, blocked=blocked)
            await sender.push(user_ref, [Reply(text)], f"report|{b.id}")

    # ---- live sessions ---------------------------------------------------------------------

    async def live(self) -> None:
        """The push wave of each live session's open capability: its first question to everyone
        checked in by the time it opened (those later got it with their check-in), once each.
        The doorbell wakes this when a capability opens; the interval catches up after a restart."""
        if self._waving.locked():
            return  # a wave is going out; the next run (within LIVE_EVERY) sends what opened since
        async with self._waving:
            for session in await lq.running(self.db):
                if session.open_item and session.opened_at:
                    await self._wave(session)

    async def _wave(self, session: lq.LiveSession) -> None:
        item, ctx = session.open_item or "", Context(self.catalog, self.clock())
        people = [Recipient(*row) for row in await lq.wave_recipients(self.db, session)]
        if not people:
            return

        def make(r: Recipient) -> list[Reply]:
            lang = r.lang or "th"
            reply = first_prompt(ctx, item, lang, session.title_en if lang == "en" else session.title_th)
            return [reply] if reply else []

        kind = f"live:{item}:{session.opened_at.isoformat() if session.opened_at else ''}"
        tally = await self.deliver_all(kind, str(session.session_id), people, make, organizer=session.requested_by)
        if tally:
            log.info("live session %s, %s: %s", session.session_id, item, tally)
            sent, failed = tally.get("sent", 0), tally.get("failed", 0) + tally.get("blocked", 0)
            if sent or failed:
                await self.tell(session.requested_by, tr(None, "live_wave", item=item, sent=sent, failed=failed))


def _label(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


SWEEP = "outreach-sweep"
SWEEP_EVERY = timedelta(seconds=30)
LIVE = "live-waves"
LIVE_EVERY = timedelta(seconds=5)  # a capability opened from another process (the CLI) waits no longer


def add_outreach(scheduler: Scheduler, outreach: Outreach, doorbell: Doorbell | None = None) -> None:
    """Sweep every 30 s from start-up on (a reminder missed while down goes out at once), and
    when `doorbell` rings (an admin queued a broadcast) at once; the same for live sessions' waves,
    every 5 s."""
    scheduler.add_setup(lambda s: s.interval(SWEEP, outreach.sweep, SWEEP_EVERY).modify(next_run_time=s.clock()))
    scheduler.add_setup(lambda s: s.interval(LIVE, outreach.live, LIVE_EVERY).modify(next_run_time=s.clock()))
    if doorbell is not None:
        doorbell.on_ring(lambda: scheduler.wake(SWEEP))
        doorbell.on_ring(lambda: scheduler.wake(LIVE))  # a live capability opened: its wave at once
