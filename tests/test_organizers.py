"""Organizers: sessions, registration with capacity, reminders exactly once across restarts,
quiet-hour nudges, broadcasts, admin-only commands. The clock is injected: nothing sleeps."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from bot.admin import Admin, Doorbell, add_sessions_commands, when_arg
from bot.config import Settings
from bot.i18n import BANGKOK
from bot.model import Inbound, Reply
from bot.outreach import SWEEP, Outreach, add_outreach
from bot.scheduler import Scheduler
from bot.senders import Capabilities
from bot.service import Service
from bot.surveys import Catalog
from storage import Database
from storage import outreach as q

from .conftest import Clock

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 09:00 Bangkok


class FakeSender:
    """Records pushes; answers 'blocked' for the user refs it is told are blocked. Cannot multicast."""

    capabilities = Capabilities(push=True, multicast=0)

    def __init__(self, name: str, blocked: set[str] | None = None):
        self.name = name
        self.blocked = blocked or set()
        self.sent: list[tuple[str, str]] = []

    async def push(self, user_ref: str, replies: list[Reply], key: str | None = None) -> str:
        if user_ref in self.blocked:
            return "blocked"
        self.sent += [(user_ref, r.text) for r in replies]
        return "sent"

    async def multicast(self, user_refs: Sequence[str], replies: list[Reply], key: str) -> str:
        raise AssertionError("multicast on a channel whose capabilities say it has none")

    def texts(self, user_ref: str) -> list[str]:
        return [t for u, t in self.sent if u == user_ref]


async def tap(service: Service, user: str, *inputs: str, channel: str = "telegram") -> list[Reply]:
    replies: list[Reply] = []
    for text in inputs:
        kind = "button" if "=" in text else "text"
        handled = await service.handle(
            channel, user, Inbound(kind, text=text if kind == "text" else "", data=text if kind == "button" else "")
        )
        assert handled is not None
        replies = handled.replies
    return replies


PROFILE = ("hi", "lang=th", "consent=yes", "group=citizen", "region=south", "age=~skip")


async def add_session(
    db: Database, clock: Clock, starts: datetime = T0, capacity: int | None = None, area: str = "health"
) -> int:
    return await q.add_session(
        db,
        area=area,
        title_th="ประชุมกลุ่มย่อยด้านสุขภาพ",
        title_en="Health focus group",
        starts_at=starts,
        ends_at=None,
        place="สพร. กรุงเทพฯ",
        capacity=capacity,
        now=clock(),
    )


async def test_register_at_the_end_of_an_area_with_capacity(
    service: Service, db: Database, clock: Clock, catalog: Catalog
) -> None:
    sid = await add_session(db, clock, capacity=1)
    await tap(service, "a", *PROFILE, "area=health")
    replies: list[Reply] = []
    while (await db.load_state("telegram", "a", clock())).step == "survey":
        replies = await tap(service, "a", "5")  # ratings; texts take "5" as their answer too
    offer = next(r for r in replies if any(b.data == f"reg={sid}" for b in r.buttons))
    assert "ประชุมกลุ่มย่อยด้านสุขภาพ" in offer.text and "อ. 1 ธ.ค. 2569 เวลา 09:00 น." in offer.text
    confirm = await tap(service, "a", f"reg={sid}")
    assert "ลงทะเบียนแล้ว" in confirm[0].text and "อ. 1 ธ.ค. 2569 เวลา 09:00 น." in confirm[0].text
    ics = confirm[0].attachment
    assert ics is not None and ics.filename.endswith(".ics") and b"DTSTART:20261201T020000Z" in ics.content
    assert "ประชุมกลุ่มย่อยด้านสุขภาพ".encode() in ics.content.replace(b"\r\n ", b"")
    # the session is now full for someone else, and says so
    await tap(service, "b", *PROFILE, "area=health")
    listing = await tap(service, "b", "/events")
    assert "เต็มแล้ว" in listing[0].text and not listing[0].buttons
    refused = await tap(service, "b", f"reg={sid}")
    assert "ปุ่มนี้ใช้ไม่ได้" in refused[0].text or "เต็มแล้ว" in refused[0].text
    assert [r.participant_id for r in await q.registrants(db, sid)] == [1]
    # unregister frees the seat
    await tap(service, "a", f"unreg={sid}")
    assert await q.registrants(db, sid) == []


@pytest.mark.backends
async def test_simultaneous_taps_for_the_last_seat_give_it_once(service: Service, db: Database, clock: Clock) -> None:
    """Six people tap register for the one seat at the same moment (one worker: several workers on
    PostgreSQL are tests/test_limits.py): one is registered with a calendar file, five hear it is full."""
    sid = await add_session(db, clock, capacity=1)
    users = [f"s{n}" for n in range(6)]
    for u in users:
        await tap(service, u, *PROFILE)
    taps = [service.handle("telegram", u, Inbound("button", data=f"reg={sid}")) for u in users]
    said = [h.replies[0] for h in await asyncio.gather(*taps) if h is not None]
    registered = [r for r in said if "ลงทะเบียนแล้ว" in r.text and r.attachment is not None]
    full = [r for r in said if "เต็มแล้ว" in r.text and r.attachment is None]
    assert (len(registered), len(full)) == (1, 5), [r.text for r in said]
    assert len(await q.registrants(db, sid)) == 1


async def test_english_confirmation_and_typed_registration(service: Service, db: Database, clock: Clock) -> None:
    sid = await add_session(db, clock)
    await tap(service, "e", "hi", "lang=en", "consent=yes", "group=sme", "region=north", "age=~skip", "area=health")
    replies = await tap(service, "e", "register 1")
    assert "You are registered: Health focus group" in replies[0].text
    assert "Tue 1 Dec 2026, 09:00" in replies[0].text
    assert [r.participant_id for r in await q.registrants(db, sid)] == [1]


@pytest.fixture
def outreach_for(settings: Settings, catalog: Catalog, clock: Clock):  # type: ignore[no-untyped-def]
    def make(db: Database, sender: FakeSender, **overrides: str) -> Outreach:
        s = settings.model_copy(update=overrides)
        return Outreach(db, catalog, s, {sender.name: sender}, clock)

    return make


async def registered(service: Service, db: Database, clock: Clock, users: list[str], sid: int) -> None:
    for u in users:
        await tap(service, u, *PROFILE, "area=health", f"reg={sid}")


async def test_reminders_at_each_offset_exactly_once_across_a_restart(
    service, db, clock, settings, outreach_for
) -> None:  # type: ignore[no-untyped-def]
    clock.now = T0 - timedelta(days=3)
    sid = await add_session(db, clock)
    await registered(service, db, clock, ["r1", "r2"], sid)
    sender = FakeSender("telegram")
    out = outreach_for(db, sender, reminder_offsets="24h,1h", nudge_after="1000d")
    for at in (T0 - timedelta(hours=25), T0 - timedelta(hours=24, minutes=-1)):
        clock.now = at
        await out.sweep()
    assert len(sender.texts("r1")) == 1 and "แจ้งเตือน" in sender.texts("r1")[0]
    await out.sweep()  # nothing new is due
    # a restart: a new database connection and a new Outreach over the same file
    await db.close()
    async with await Database.open(settings.db) as db2:
        again = outreach_for(db2, sender, reminder_offsets="24h,1h", nudge_after="1000d")
        clock.now = T0 - timedelta(hours=23)
        await again.sweep()
        assert len(sender.texts("r1")) == 1
        clock.now = T0 - timedelta(minutes=59)
        await again.sweep()
        await again.sweep()
        assert len(sender.texts("r1")) == 2 and len(sender.texts("r2")) == 2
        clock.now = T0 + timedelta(minutes=1)
        await again.sweep()
        assert len(sender.sent) == 4


async def test_a_reminder_missed_while_down_is_sent_once_if_not_begun(service, db, clock, outreach_for) -> None:  # type: ignore[no-untyped-def]
    clock.now = T0 - timedelta(days=3)
    sid = await add_session(db, clock)
    late = await add_session(db, clock, starts=T0 + timedelta(minutes=10))
    await registered(service, db, clock, ["m1"], sid)
    await tap(service, "m1", f"reg={late}")
    sender = FakeSender("telegram")
    out = outreach_for(db, sender, reminder_offsets="24h,1h", nudge_after="1000d")
    clock.now = T0 - timedelta(minutes=30)  # the bot was down for the 24h and (for `sid`) nothing else
    await out.sweep()
    assert len(sender.texts("m1")) == 2  # one reminder per session, not one per missed offset
    clock.now = T0 + timedelta(minutes=5)  # `sid` has begun: nothing more for it
    await out.sweep()
    assert len(sender.texts("m1")) == 2


async def test_cancelled_and_moved_sessions_send_notices_instead(service, db, clock, outreach_for) -> None:  # type: ignore[no-untyped-def]
    clock.now = T0 - timedelta(days=3)
    a = await add_session(db, clock)
    b = await add_session(db, clock, starts=T0 + timedelta(days=1))
    await registered(service, db, clock, ["c1"], a)
    await tap(service, "c1", f"reg={b}")
    sender = FakeSender("telegram")
    out = outreach_for(db, sender, reminder_offsets="24h", nudge_after="1000d")
    await q.cancel_session(db, a, clock())
    await q.move_session(db, b, T0 + timedelta(days=2), None, clock())
    await out.sweep()
    await out.sweep()
    texts = sender.texts("c1")
    assert len(texts) == 2
    assert any("ถูกยกเลิก" in t for t in texts) and any("เปลี่ยนเวลา" in t and "3 ธ.ค. 2569" in t for t in texts)
    clock.now = T0 + timedelta(days=1, minutes=1)  # 24h before the new time
    await out.sweep()
    assert len(sender.texts("c1")) == 3 and "แจ้งเตือน" in sender.texts("c1")[-1]


async def test_nudges_once_per_area_outside_quiet_hours(service, db, clock, outreach_for) -> None:  # type: ignore[no-untyped-def]
    clock.now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # 19:00 Bangkok
    await tap(service, "quiet", *PROFILE, "area=health", "4", "4", "1")  # a capability, then today's level of the next
    await tap(service, "done", *PROFILE, "area=participation")
    while (await db.load_state("telegram", "done", clock())).step == "survey":
        await tap(service, "done", "4")
    await tap(service, "gone", *PROFILE, "area=health", "4")
    sender = FakeSender("telegram", blocked={"gone"})
    out = outreach_for(db, sender, nudge_after="24h")
    clock.now += timedelta(hours=23)  # 18:00 next day: not yet quiet long enough
    await out.sweep()
    assert sender.sent == []
    clock.now += timedelta(hours=3)  # 21:00 Bangkok: quiet hours
    await out.sweep()
    assert sender.sent == []
    clock.now = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)  # 08:00 Bangkok: deferred nudges go out
    await out.sweep()
    await out.sweep()
    assert (
        len(sender.texts("quiet")) == 1
        and "ยังตอบด้านสุขภาพและการแพทย์ไม่ครบ (ตอบแล้ว 1/5 ขีดความสามารถ)" in sender.texts("quiet")[0]
    )
    assert sender.texts("done") == [] and sender.texts("gone") == []
    state = await db.fetch_all("SELECT active FROM participants WHERE user_ref = 'gone'")
    assert state == [(0,)]  # blocked: marked inactive, never tried again


async def test_broadcast_reaches_everyone_once_and_reports(service, db, clock, outreach_for, settings) -> None:  # type: ignore[no-untyped-def]
    for n in range(12):
        await tap(service, f"b{n}", *PROFILE, "area=health" if n % 2 else "area=sme", "4")
    await tap(service, "b0", "lang=en")
    sender = FakeSender("telegram", blocked={"b3"})
    out = outreach_for(db, sender, admins="telegram:boss")
    bid = await q.create_broadcast(db, "area:health", "ข่าวดี", "Good news", "telegram:boss", clock())
    # a restart mid-broadcast: b1 was claimed and sent before the crash
    assert await q.claim(db, "broadcast", str(bid), 2, clock())
    await out.sweep()
    await out.sweep()
    got = [u for u, t in sender.sent if t == "ข่าวดี"]
    assert sorted(got) == ["b11", "b5", "b7", "b9"]  # odd = health, minus b1 (already sent) and b3 (blocked)
    assert sender.texts("boss") == [
        "ประกาศ #1 ส่งเสร็จแล้ว: สำเร็จ 4 · ไม่สำเร็จ 1 · ถูกบล็อก 1\n\nBroadcast #1 finished: sent 4 · failed 1 · blocked 1"
    ]


async def test_a_queued_broadcast_rings_the_doorbell_and_the_sweep_answers_at_once(
    db: Database, catalog: Catalog, settings: Settings, clock: Clock
) -> None:
    s = settings.model_copy(update={"admins": "telegram:boss"})
    doorbell = Doorbell()
    service = Service(db, catalog, s, clock, admin=Admin(db, catalog, s, clock, doorbell))
    await tap(service, "p1", *PROFILE)
    sender = FakeSender("telegram")
    scheduler = Scheduler(clock)
    add_outreach(scheduler, Outreach(db, catalog, s, {"telegram": sender}, clock), doorbell)
    doorbell.ring()  # before start: nobody answers yet, and nothing breaks
    await scheduler.start()
    try:
        job = scheduler.aps.get_job(SWEEP)
        assert job is not None
        job.modify(next_run_time=datetime.now(BANGKOK) + timedelta(hours=1))  # no sweep but a rung one
        queued = await tap(service, "boss", "/broadcast --to all --th ข่าว --en News")
        assert "queued for 1 participant" in queued[0].text
        for _ in range(250):
            if sender.texts("p1"):
                break
            await asyncio.sleep(0.02)
        assert sender.texts("p1") == ["ข่าว"]
    finally:
        await scheduler.stop()
    doorbell.ring()  # after stop: nothing either


async def test_admin_commands_are_refused_like_unknown_ones(
    db: Database, catalog: Catalog, settings: Settings, clock: Clock
) -> None:
    s = settings.model_copy(update={"admins": "telegram:42, line:Uadmin"})
    service = Service(db, catalog, s, clock)
    await tap(service, "7", *PROFILE)
    unknown = await tap(service, "7", "/nonsense")
    for command in ("/stats", "/sessions list", "/broadcast --to all --th x --en y", "/export"):
        assert [r.text for r in await tap(service, "7", command)] == [r.text for r in unknown]
    stats = await tap(service, "42", "/stats")
    assert "participants" in stats[0].text and "telegram: 1 / 1 / 1" in stats[0].text
    added = await tap(
        service,
        "Uadmin",
        '/sessions add --area sme --title-th "SME พบรัฐ" --title-en "SME meets government" --starts 2026-12-05T13:30 --capacity 40',
        channel="line",
    )
    assert "session 1 added" in added[0].text
    listed = await tap(service, "42", "/sessions")
    assert "SME meets government" in listed[0].text and "0/40" in listed[0].text
    bad = await tap(service, "42", "/sessions add --area nope")
    assert "required" in bad[0].text or "usage" in bad[0].text


def test_times_without_a_zone_are_bangkok_time() -> None:
    assert when_arg("2026-12-01T09:00") == T0
    assert when_arg("2026-12-01T02:00+00:00") == T0


def test_dates_and_ids_out_of_range_are_usage_errors_not_crashes() -> None:
    """The CLI and chat share the parsers: a year 0001 or 9999 (which overflows on the way to UTC or
    a day later) and an id past 64 bits are refused as arguments, never reach storage."""
    for odd in ("0001-01-01T09:00", "9999-12-31", "1999-12-31T23:00"):
        with pytest.raises(argparse.ArgumentTypeError):
            when_arg(odd)
    parser = argparse.ArgumentParser()
    add_sessions_commands(parser)
    for words in (["cancel", str(10**20)], ["cancel", "0"], ["cancel", "²"], ["move", "3", "--starts", "0001-01-01"]):
        with pytest.raises(SystemExit):
            parser.parse_args(words)
    assert parser.parse_args(["cancel", "๓"]).id == 3  # Thai digits are a number
