"""Flood control: 5 messages per 10 s per participant by default; one notice, then silence;
other participants unaffected; a redelivered event is not counted; an answer the engine takes,
typed or tapped, always passes and is never counted. The counts are stored (table `flood`),
judged and kept in the event's own unit of work, on both backends; several workers:
tests/test_limits.py."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from bot.model import Inbound
from bot.service import Service
from storage.retention import purge_before

from .conftest import Clock

pytestmark = pytest.mark.backends


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


async def test_the_counts_are_stored_small_and_go_with_the_window_and_with_erasure(
    db, catalog, settings, clock: Clock
) -> None:  # type: ignore[no-untyped-def]
    """The marks live in the database (every worker reads them), hold no more than the limit, are
    purged once stale, and go when their sender asks to be forgotten."""
    service = flood_service(db, catalog, settings, clock)
    for n in range(12):
        sent = clock() + timedelta(milliseconds=100 * n)
        await service.handle("line", "chatty", Inbound("text", text="hi", sent_at=sent), f"k{n}")
    [(seen, noticed)] = await db.fetch_all("SELECT seen, noticed_at FROM flood WHERE user_ref = 'chatty'")
    assert len(json.loads(seen)) == 5 and noticed is not None
    # a new Service (a restart, another worker) sees the same counts: still over the limit
    again = flood_service(db, catalog, settings, clock)
    handled = await again.handle("line", "chatty", Inbound("text", text="hi", sent_at=clock()), "k12")
    assert handled is not None and handled.replies == []
    await purge_before(db, clock() - timedelta(days=365), unconsented_before=clock() - timedelta(seconds=1))
    assert len(await db.fetch_all("SELECT 1 FROM flood")) == 1  # written just now: kept
    await purge_before(db, clock() - timedelta(days=365), unconsented_before=clock() + timedelta(seconds=1))
    assert await db.fetch_all("SELECT 1 FROM flood") == []
    # erasure: the sender's row goes with everything else of theirs
    await service.handle("line", "leaving", Inbound("text", text="hi", sent_at=clock()), "l0")
    assert len(await db.fetch_all("SELECT 1 FROM flood WHERE user_ref = 'leaving'")) == 1
    await service.handle("line", "leaving", Inbound("text", text="/deleteme", sent_at=clock()), "l1")
    erased = await service.handle("line", "leaving", Inbound("button", data="del=yes", sent_at=clock()), "l2")
    assert erased is not None and erased.erased
    assert await db.fetch_all("SELECT 1 FROM flood WHERE user_ref = 'leaving'") == []


def flood_service(db, catalog, settings, clock: Clock) -> Service:  # type: ignore[no-untyped-def]
    return Service(db, catalog, settings.model_copy(update={"flood_limit": 5, "flood_window": 10.0}), clock)


async def test_a_fast_tapper_loses_no_answer(db, catalog, settings, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    """Every button tapped as soon as it appears, 10 a second: each one is taken, none gets the notice."""
    service = flood_service(db, catalog, settings, clock)
    taps = ["lang=th", "consent=yes", "group=citizen", "region=north", "age=~skip", "area=education"]
    handled = None
    sent = clock()
    for n in range(6 + 18):  # onboarding, then the 18 questions of the area
        if n >= len(taps):  # then the first button of the question being asked (a level, or Skip)
            assert handled is not None and handled.replies[-1].buttons
            taps.append(handled.replies[-1].buttons[0].data)
        sent += timedelta(milliseconds=100)
        handled = await service.handle("line", "fast", Inbound("button", data=taps[n], sent_at=sent), f"t{n}")
        assert handled is not None and handled.replies, taps[n]
        assert all("ส่งข้อความเร็วเกินไป" not in r.text for r in handled.replies), taps[n]
    state = await db.load_state("line", "fast", clock())
    answered = [k for k in state.answers if k.startswith("education.")]
    assert len(answered) == 18 and "education" in state.completed  # every tap on a question is stored
    assert state.answers["education.learner_data.current_level"].value == 1


async def test_thirty_typed_messages_in_three_seconds_get_a_handful_of_replies(
    db, catalog, settings, clock: Clock
) -> None:  # type: ignore[no-untyped-def]
    service = flood_service(db, catalog, settings, clock)
    answered = 0
    for n in range(30):
        sent = clock() + timedelta(milliseconds=100 * n)
        handled = await service.handle("line", "typist", Inbound("text", text=f"spam {n}", sent_at=sent), f"s{n}")
        answered += bool(handled and handled.replies)
    assert answered == 6  # five answered, one notice, then silence


async def test_a_burst_handled_side_by_side_is_counted_as_one(db, catalog, settings, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    """30 messages handled at once in one process: each is judged after the one before is counted
    (the check and the count are one unit of work), so still 5 answered and one notice."""
    service = flood_service(db, catalog, settings, clock)
    sent = [clock() + timedelta(milliseconds=100 * n) for n in range(30)]
    handled = await asyncio.gather(
        *(
            service.handle("line", "burst", Inbound("text", text=f"spam {n}", sent_at=sent[n]), f"b{n}")
            for n in range(30)
        )
    )
    said = [[r.text for r in h.replies] if h else [] for h in handled]
    notices = [s for s in said if s and "too fast" in s[0]]
    assert (sum(map(bool, said)), len(notices)) == (6, 1), said


async def test_stale_taps_and_stickers_count_but_a_valid_answer_still_gets_through(
    db, catalog, settings, clock: Clock
) -> None:  # type: ignore[no-untyped-def]
    service = flood_service(db, catalog, settings, clock)
    sent = clock()
    for n, data in enumerate(["lang=en", "consent=yes", "group=citizen", "region=north", "age=~skip", "area=health"]):
        await service.handle("line", "mixed", Inbound("button", data=data, sent_at=sent), f"m{n}")
    junk = [Inbound("unsupported", sent_at=sent)] * 3 + [Inbound("button", data="q.health.nope.x=1", sent_at=sent)] * 3
    said = []
    for n, event in enumerate(junk):
        handled = await service.handle("line", "mixed", event, f"j{n}")
        said.append([r.text for r in handled.replies] if handled else [])
    assert all(said[:5]) and "too fast" in said[5][0]
    handled = await service.handle("line", "mixed", Inbound("text", text="four-ish?", sent_at=sent), "junk")
    assert handled is not None and handled.replies == []  # text that answers nothing, over the limit: dropped
    handled = await service.handle("line", "mixed", Inbound("text", text="3", sent_at=sent), "typed")
    assert handled is not None and handled.replies[-1].text.startswith("Which level")  # a typed answer is taken
    tap = Inbound("button", data="q.health.info_exchange.target_level=4", sent_at=sent)
    handled = await service.handle("line", "mixed", tap, "tap")
    assert handled is not None and handled.replies  # and so is a tapped one
    state = await db.load_state("line", "mixed", clock())
    assert state.answers["health.info_exchange.current_level"].value == 3
    assert state.answers["health.info_exchange.target_level"].value == 4


async def test_the_limit_is_configurable(db, catalog, settings, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    service = Service(db, catalog, settings.model_copy(update={"flood_limit": 2, "flood_window": 60.0}), clock)
    out = []
    for n in range(4):
        sent = clock() + timedelta(seconds=15 * n)
        handled = await service.handle("line", "slow", Inbound("text", text="hi", sent_at=sent), f"c{n}")
        out.append(handled.replies if handled else [])
    assert "too fast" not in out[1][0].text and "too fast" in out[2][0].text and out[3] == []
