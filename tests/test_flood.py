"""Flood control: 5 messages per 10 s per participant by default; one notice, then silence;
other participants unaffected; a redelivered event is not counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.model import Inbound
from bot.service import Service

from .conftest import Clock


async def test_excess_messages_are_dropped_with_one_notice(db, catalog, settings, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    service = Service(db, catalog, settings.model_copy(update={"flood_limit": 5, "flood_window": 10.0}), clock)
    replies = []
    for n in range(8):
        handled = await service.handle("line", "flooder", Inbound("text", text="hi", sent_at=clock()), f"f{n}")
        assert handled is not None
        replies.append([r.text for r in handled.replies])
    assert all(r and "ส่งข้อความเร็วเกินไป" not in r[0] for r in replies[:5])
    assert "ส่งข้อความเร็วเกินไป" in replies[5][0] and "too fast" in replies[5][0]  # language not chosen yet
    assert replies[6] == [] and replies[7] == []
    # a redelivery of an already-handled event is neither processed nor counted
    assert await service.handle("line", "flooder", Inbound("text", text="hi", sent_at=clock()), "f0") is None
    # someone else is unaffected
    other = await service.handle("line", "calm", Inbound("text", text="hi", sent_at=clock()), "c0")
    assert other is not None and "Please choose a language" in other.replies[0].text
    # after the window, the flooder is heard again
    clock.now += timedelta(seconds=11)
    later = await service.handle("line", "flooder", Inbound("button", data="lang=en", sent_at=clock()), "f9")
    assert later is not None and later.replies[0].text == "Language set to English."


async def test_a_backlog_is_judged_by_when_it_was_sent(db, catalog, settings, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    service = Service(db, catalog, settings.model_copy(update={"flood_limit": 5}), clock)
    sent = clock() - timedelta(minutes=5)
    for n in range(8):  # drained at once after a restart, but sent 3 s apart
        handled = await service.handle(
            "line", "patient", Inbound("text", text="hi", sent_at=sent + timedelta(seconds=3 * n)), f"p{n}"
        )
        assert handled is not None and handled.replies and "too fast" not in handled.replies[0].text


def test_the_gate_forgets_quiet_senders_as_it_goes() -> None:
    from bot.service import FloodGate

    gate = FloodGate(5, timedelta(seconds=10))
    start = datetime(2026, 12, 1, tzinfo=UTC)
    for n in range(20_000):  # 1,000 new participants a second, for 20 s
        assert gate.check(("line", f"U{n}"), start + timedelta(milliseconds=n)) == "ok"
    assert len(gate._seen) <= 10_001  # only those heard from in the last window
