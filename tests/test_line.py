"""The LINE channel over real HTTP: signed webhooks into the running app (uvicorn on 127.0.0.1),
replies through the real line-bot-sdk async client to a fake Messaging API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import App, open_app
from bot.config import Settings
from bot.handlers.line import ONE_TO_ONE, LineChannel
from bot.i18n import tr
from bot.model import Reply
from bot.runner import http_app
from testbed.line_api import CHANNEL_SECRET, FakeLineApi, LinePlatform, LineUser, serve

ALICE, BOB, CAROL = (f"U{c * 32}" for c in "abc")
GROUP = "C" + "9" * 32


class Harness:
    """The app, the LINE channel and the HTTP server, as `rabfang run` wires them."""

    def __init__(self, settings: Settings, api: FakeLineApi, clock: Callable[[], datetime] | None = None):
        self.settings = settings
        self.api = api
        self.clock = clock or (lambda: datetime.now(UTC))

    async def start(self) -> Harness:
        self.stack = AsyncExitStack()
        self.app: App = await self.stack.enter_async_context(open_app(self.settings))
        self.channel = LineChannel(self.app, retry_delays=(0.01, 0.02, 0.04), clock=self.clock)
        await self.channel.start()
        self.server, self.task, port = await serve(http_app([self.channel]))
        self.base = f"http://127.0.0.1:{port}"
        self.platform = LinePlatform(self.api, f"{self.base}/webhooks/line")
        return self

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task
        await self.channel.stop()
        await self.platform.aclose()
        await self.stack.aclose()

    def user(self, user_id: str) -> LineUser:
        return self.platform.user(user_id)

    async def send(self, *events: dict[str, Any]) -> list[dict[str, Any]]:
        """Post one signed body, expect 200, wait until processed; the messages it caused."""
        before = len([c for c in self.api.calls if c.delivered])
        response = await self.platform.post(list(events))
        assert response.status_code == 200, response.text
        await self.channel.idle()
        return [m for c in [c for c in self.api.calls if c.delivered][before:] for m in c.messages]

    async def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        return await self.app.db.fetch_all(query, params)

    async def inbox(self, user_id: str | None = None) -> list[tuple[Any, ...]]:
        if user_id is None:
            return await self.sql("SELECT event_id, processed, body IS NULL, retry_key FROM inbox ORDER BY seq")
        return await self.sql(
            "SELECT event_id, processed, body IS NULL, retry_key FROM inbox WHERE user_ref = ? ORDER BY seq", user_id
        )

    async def answers(self, user_id: str) -> dict[str, tuple[Any, ...]]:
        rows = await self.sql(
            "SELECT a.area || '.' || a.item || '.' || a.question, a.option, a.value, a.text, a.skipped"
            " FROM answers a JOIN participants p ON p.id = a.participant_id WHERE p.user_ref = ?",
            user_id,
        )
        return {r[0]: r[1:] for r in rows}


@pytest.fixture
async def api() -> AsyncIterator[FakeLineApi]:
    async with FakeLineApi() as fake:
        yield fake


@pytest.fixture
def line_settings(tmp_path: Path, api: FakeLineApi, pg_url: str | None) -> Settings:
    return Settings(
        _env_file=None,
        db=pg_url or tmp_path / "line.db",  # PostgreSQL in modules marked `backends` (tests/conftest.py)
        line_channel_secret=CHANNEL_SECRET,
        line_channel_access_token=api.token,
        line_api_base_url=api.url,
    )


@pytest.fixture
async def line(line_settings: Settings, api: FakeLineApi) -> AsyncIterator[Harness]:
    harness = await Harness(line_settings, api).start()
    try:
        yield harness
    finally:
        await harness.stop()


def data_of(user: LineUser) -> list[str]:
    return [a["data"] for a in user.quick_replies()]


async def onboard(line: Harness, user: LineUser) -> None:
    """Follow, then tap through language, consent and the profile to the area menu."""
    await line.send(user.follow())
    for prefix in ("lang=th", "consent=yes", "group=", "region=", "age="):
        await line.send(user.tap(lambda a, p=prefix: a["data"].startswith(p)))
    assert any(d.startswith("area=") for d in data_of(user)), data_of(user)


async def survey_by_taps(line: Harness, user: LineUser, area: str) -> int:
    """Open an area and answer every question by tapping: 4 for levels and ratings, Skip for comments."""
    await line.send(user.tap(lambda a: a["data"] == f"area={area}"))
    taps = 0
    while any(d.startswith("q.") for d in data_of(user)):
        offered = data_of(user)
        pick = next((d for d in offered if d.endswith("=4")), None) or next(d for d in offered if d.endswith("~skip"))
        await line.send(user.tap(lambda a, pick=pick: a["data"] == pick))
        taps += 1
    return taps


# ---- the webhook ---------------------------------------------------------------------------


async def test_follow_greets_with_language_quick_replies(line: Harness) -> None:
    alice = line.user(ALICE)
    follow = alice.follow()
    messages = await line.send(follow)
    [call] = line.api.replies_to(follow["replyToken"])
    assert call.status == 200 and call.headers["authorization"] == f"Bearer {line.api.token}"
    assert "รับฟัง" in messages[-1]["text"]
    actions = alice.quick_replies()
    assert [a["data"] for a in actions] == ["lang=th", "lang=en"]
    assert all(a["type"] == "postback" and a["displayText"] == a["label"] for a in actions)
    assert await line.sql("SELECT active FROM participants WHERE user_ref = ?", ALICE) == [(1,)]
    [(event_id, processed, cleared, _key)] = await line.inbox(ALICE)
    assert (event_id, processed, cleared) == (follow["webhookEventId"], 1, 1)


async def test_full_area_by_postbacks(line: Harness, catalog) -> None:
    alice = line.user(ALICE)
    await onboard(line, alice)
    taps = await survey_by_taps(line, alice, "health")
    area = catalog.areas["health"]
    ratings = {f"health.{item.id}.{q}" for item in area.items for q in ("current_level", "target_level")}
    # a 4 differs from the plan where an item is not at 4 today or aimed at 4: "why?" follows
    whys = {f"health.{item.id}.why" for item in area.items if (item.current, item.target) != (4, 4)}
    answers = await line.answers(ALICE)
    assert {k for k, a in answers.items() if a[1] == 4} == ratings
    assert {k for k, a in answers.items() if a[3]} == {f"health..{c.id}" for c in area.closing} | whys  # skipped
    assert taps == len(ratings) + len(whys) + len(area.closing)
    # Every answer came back as a reply within LINE's limits (the fake refuses anything else).
    assert all(c.kind == "reply" and c.status == 200 for c in line.api.calls)
    assert any("✓" in a["label"] for a in alice.quick_replies())  # the menu marks health done


async def test_full_area_by_typed_answers_only(line: Harness, catalog) -> None:
    """LINE for desktop shows no quick replies: every step can be typed."""
    alice = line.user(ALICE)
    await line.send(alice.follow())
    for typed in ("ไทย", "ยินยอม", "1", "2", "ข้าม", "สุขภาพ"):
        await line.send(alice.text(typed))
    comments = iter(["ระบบนัดหมายล่มบ่อย", "อยากให้ข้อมูลเชื่อมกันทุกโรงพยาบาล", "-"])
    typed_count = 0
    while any(d.startswith("q.") for d in data_of(alice)):
        key = next(d for d in data_of(alice) if d.startswith("q.")).partition("=")[0].removeprefix("q.")
        step = catalog.step(key)  # a level: the plan's, so no "why?" follows
        await line.send(alice.text(str(step.plan_level) if step.question.kind == "level" else next(comments)))
        typed_count += 1
    assert not [c for c in line.api.calls if c.kind == "push"]
    answers = await line.answers(ALICE)
    area = catalog.areas["health"]
    assert len(answers) == typed_count == len(area.items) * 2 + len(area.closing)
    assert sorted(a[2] for a in answers.values() if a[2]) == sorted(
        ["ระบบนัดหมายล่มบ่อย", "อยากให้ข้อมูลเชื่อมกันทุกโรงพยาบาล", "-"]
    )
    profile = await line.sql(
        "SELECT consent, stakeholder, region, age_band FROM participants WHERE user_ref = ?", ALICE
    )
    assert profile == [("given", "citizen", "central", None)]


@pytest.mark.parametrize(
    "signature",
    [None, "", "bm90IGEgc2lnbmF0dXJl", "forged-by-other-secret"],
    ids=["missing", "empty", "wrong", "other-secret"],
)
async def test_bad_or_missing_signature_is_refused_and_changes_nothing(line: Harness, signature: str | None) -> None:
    alice = line.user(ALICE)
    events = [alice.follow(), alice.text("สวัสดี")]
    if signature == "forged-by-other-secret":
        response = await line.platform.post(events, secret="not-the-channel-secret")
    else:
        response = await line.platform.post(events, signature=signature)
    assert 400 <= response.status_code < 500
    await line.channel.idle()
    assert await line.inbox() == []
    assert await line.sql("SELECT count(*) FROM participants") == [(0,)]
    assert line.api.calls == []


async def test_signature_is_checked_on_the_exact_bytes(line: Harness) -> None:
    """A body re-serialised after signing (same JSON, other bytes) no longer matches."""
    alice = line.user(ALICE)
    body = line.platform.body([alice.follow()])
    from testbed.line_api import sign

    signature = sign(body)
    reformatted = json.dumps(json.loads(body), ensure_ascii=True, indent=1).encode()
    assert (await line.platform.post(reformatted, signature=signature)).status_code == 400
    assert (await line.platform.post(body, signature=signature)).status_code == 200
    await line.channel.idle()
    assert len(line.api.calls) == 1


async def test_webhook_answers_before_the_work_is_done(line: Harness) -> None:
    """The 200 does not wait for the Messaging API: events are stored, answered, then handled."""
    line.api.latency = 1.5
    alice = line.user(ALICE)
    follow = alice.follow()
    started = time.monotonic()
    response = await line.platform.post([follow])
    elapsed = time.monotonic() - started
    assert response.status_code == 200 and elapsed < 1.0
    assert [r[1] for r in await line.inbox(ALICE)] in ([0], [1])  # stored durably before the 200
    await line.channel.idle()
    assert line.api.replies_to(follow["replyToken"])[0].status == 200


async def test_redelivered_event_records_nothing_twice(line: Harness) -> None:
    alice = line.user(ALICE)
    await onboard(line, alice)
    tap = alice.tap(lambda a: a["data"] == "area=health")
    first = await line.send(tap)
    state = await line.sql("SELECT cursor, updated_at FROM participants WHERE user_ref = ?", ALICE)
    calls = len(line.api.calls)
    again = {**tap, "deliveryContext": {"isRedelivery": True}}
    assert await line.send(again) == []
    assert len(line.api.calls) == calls and first
    assert await line.sql("SELECT cursor, updated_at FROM participants WHERE user_ref = ?", ALICE) == state
    assert len(await line.inbox(ALICE)) == 7  # follow, 5 taps, the area: once each


async def test_redelivery_of_an_event_never_received_is_handled(line: Harness) -> None:
    """LINE redelivers what we failed to take: it is new to us, answered by push (its token is old)."""
    alice = line.user(ALICE)
    follow = {**alice.follow(), "deliveryContext": {"isRedelivery": True}}
    line.api.expire(follow["replyToken"])
    messages = await line.send(follow)
    assert messages and "รับฟัง" in messages[-1]["text"]
    [push] = line.api.pushes_to(ALICE)
    assert push.status == 200


async def test_body_replayed_concurrently_is_handled_once(line: Harness) -> None:
    alice = line.user(ALICE)
    await onboard(line, alice)
    body = line.platform.body([alice.tap(lambda a: a["data"] == "area=health"), alice.text("4")])
    calls = len(line.api.calls)
    responses = await asyncio.gather(*(line.platform.post(body) for _ in range(12)))
    assert [r.status_code for r in responses] == [200] * 12
    await line.channel.idle()
    assert len(line.api.calls) == calls + 2  # one reply per event
    assert len(await line.inbox(ALICE)) == 8
    answers = await line.answers(ALICE)
    assert list(answers.values()) == [("4", 4, None, 0)]


async def test_expired_reply_token_falls_back_to_push_with_the_stored_retry_key(line: Harness) -> None:
    alice = line.user(ALICE)
    follow = alice.follow()
    line.api.expire(follow["replyToken"])
    messages = await line.send(follow)
    [reply] = line.api.replies_to(follow["replyToken"])
    assert reply.status == 400
    [push] = line.api.pushes_to(ALICE)
    [(_, processed, _, retry_key)] = await line.inbox(ALICE)
    assert push.headers["x-line-retry-key"] == retry_key and processed == 1
    assert push.messages == reply.messages == messages  # the same messages, quick replies included


async def test_a_reply_token_outlives_its_life_on_the_fake_as_on_line(line: Harness) -> None:
    """The fake refuses a reply token older than `token_life` (LINE: about a minute), as it refuses an
    expired one; the answer still reaches the participant, by push."""
    alice = line.user(ALICE)
    follow = alice.follow()
    line.api.token_life = 0.05
    await asyncio.sleep(0.1)
    messages = await line.send(follow)
    [reply] = line.api.replies_to(follow["replyToken"])
    assert reply.status == 400 and line.api.late_replies == 1
    [push] = line.api.pushes_to(ALICE)
    assert push.messages == messages


async def test_used_reply_token_falls_back_to_push(line: Harness) -> None:
    """LINE answers 400 "Invalid reply token" for a used token too; it is retried by push, not lost."""
    alice = line.user(ALICE)
    follow = alice.follow()
    line.api.fail("reply", 400, "Invalid reply token")
    assert await line.send(follow)
    assert [c.status for c in line.api.calls] == [400, 200]
    assert line.api.calls[1].kind == "push"


async def test_429_and_5xx_are_retried(line: Harness) -> None:
    alice = line.user(ALICE)
    line.api.fail("reply", 429)
    line.api.fail("reply", 500)
    assert await line.send(alice.follow())
    assert [(c.kind, c.status) for c in line.api.calls] == [("reply", 429), ("reply", 500), ("reply", 200)]


async def test_a_push_that_failed_after_delivery_is_not_delivered_twice(line: Harness) -> None:
    """A 500 may hide a delivered push; the retry carries the same key and LINE answers 409."""
    alice = line.user(ALICE)
    follow = alice.follow()
    line.api.expire(follow["replyToken"])
    line.api.fail("push", 500, deliver=True)
    await line.send(follow)
    pushes = line.api.pushes_to(ALICE)
    assert [p.status for p in pushes] == [500, 409]
    assert pushes[0].headers["x-line-retry-key"] == pushes[1].headers["x-line-retry-key"]
    assert len(alice.messages()) == len(pushes[0].messages)  # delivered exactly once


async def test_failed_send_is_logged_by_pseudonym_only(line: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    alice = line.user(ALICE)
    follow = alice.follow()
    line.api.fail("reply", 500, times=4)  # every attempt fails
    await line.send(follow)
    assert [c.status for c in line.api.calls] == [500] * 4
    pseudonym = line.app.db.pseudonym("line", ALICE)
    failures = [r for r in caplog.records if r.name == "rabfang.line" and "failed" in r.getMessage()]
    assert failures and pseudonym in failures[0].getMessage()
    # Ours at any level, anyone's at INFO and above (aiosqlite's DEBUG echoes SQL parameters).
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("rabfang") or r.levelno >= logging.INFO]
    for secret in (ALICE, follow["replyToken"], line.api.token, CHANNEL_SECRET):
        assert not [m for m in logged if secret in m]


@pytest.mark.parametrize("down_for", [timedelta(seconds=2), timedelta(minutes=3)], ids=["quick", "slow"])
async def test_crash_between_200_and_processing_is_drained_on_restart(
    line_settings: Settings, api: FakeLineApi, monkeypatch: pytest.MonkeyPatch, down_for: timedelta
) -> None:
    first = await Harness(line_settings, api).start()
    monkeypatch.setattr(first.channel.inbox, "_kick", lambda chat: None)  # the process dies right after the 200
    alice, bob = first.user(ALICE), first.user(BOB)
    events = [alice.follow(), bob.follow(), alice.postback("lang=en")]
    response = await first.platform.post(events)
    assert response.status_code == 200
    await first.stop()
    assert api.calls == []
    monkeypatch.undo()

    later = Harness(line_settings, api, clock=lambda: datetime.now(UTC) + down_for)
    second = await later.start()  # start() drains the inbox
    try:
        await second.channel.idle()
        assert [r[1] for r in await second.inbox()] == [1, 1, 1]
        assert {c.to for c in api.calls} == {ALICE, BOB}
        if down_for > timedelta(minutes=1):  # reply tokens are stale by now: push, with the stored keys
            keys = {r[3] for r in await second.inbox()}
            assert {c.kind for c in api.calls} == {"push"}
            assert {c.headers["x-line-retry-key"] for c in api.calls} == keys
        else:
            assert {c.kind for c in api.calls} == {"reply"}
        assert "Language set to English" in " ".join(m["text"] for m in alice.messages())
        assert (await second.sql("SELECT lang FROM participants WHERE user_ref = ?", ALICE)) == [("en",)]
    finally:
        await second.stop()


async def test_stop_finishes_what_was_received(line_settings: Settings, api: FakeLineApi) -> None:
    harness = await Harness(line_settings, api).start()
    api.latency = 0.3
    alice = harness.user(ALICE)
    assert (await harness.platform.post([alice.follow(), alice.postback("lang=th")])).status_code == 200
    await harness.stop()
    assert [c.status for c in api.calls] == [200, 200]
    assert not harness.channel.sender.started


# ---- events ----------------------------------------------------------------------------------


async def test_several_events_in_one_body_are_processed_in_order_per_user(line: Harness) -> None:
    alice, bob, carol = line.user(ALICE), line.user(BOB), line.user(CAROL)
    await line.send(carol.follow())
    await line.send(
        alice.follow(),
        bob.follow(),
        alice.postback("lang=en"),
        bob.postback("lang=th"),
        alice.postback("consent=yes"),
        bob.sticker(),
        carol.unfollow(),
        alice.text("1"),
    )
    rows = await line.sql("SELECT user_ref, lang, consent, stakeholder, active FROM participants ORDER BY user_ref")
    assert rows == [
        (ALICE, "en", "given", "citizen", 1),
        (BOB, "th", None, None, 1),
        (CAROL, None, None, None, 0),
    ]
    assert "Which region" in alice.messages()[-1]["text"]
    assert "รับได้เฉพาะข้อความ" in bob.messages()[-1]["text"]  # the sticker
    assert all(r[1] == 1 for r in await line.inbox())


@pytest.mark.parametrize("kind", ["sticker", "image", "location"])
async def test_stickers_media_and_locations_are_unsupported(line: Harness, kind: str) -> None:
    alice = line.user(ALICE)
    await line.send(alice.follow(), alice.postback("lang=th"))
    offered = data_of(alice)
    [message] = await line.send(getattr(alice, kind)())
    assert "รับได้เฉพาะข้อความ" in message["text"]
    assert data_of(alice) == offered  # the current step's buttons, so the participant can go on


async def test_unfollow_marks_inactive_and_refollow_resumes(line: Harness) -> None:
    alice = line.user(ALICE)
    await onboard(line, alice)
    await line.send(alice.tap(lambda a: a["data"] == "area=health"), alice.text("4"))
    assert await line.send(alice.unfollow()) == []
    assert await line.sql("SELECT active FROM participants WHERE user_ref = ?", ALICE) == [(0,)]
    assert await line.channel.push(ALICE, [Reply("reminder")]) == "blocked"
    messages = await line.send(alice.follow())
    assert await line.sql("SELECT active FROM participants WHERE user_ref = ?", ALICE) == [(1,)]
    assert "ทำต่อจากข้อเดิม" in messages[0]["text"]
    assert any(d.startswith("q.health.") for d in data_of(alice))


async def test_group_and_room_hear_the_one_to_one_note_once_on_join_then_nothing(line: Harness) -> None:
    group = {"type": "group", "groupId": GROUP, "userId": ALICE}
    room_id = "R" + "8" * 32
    room = {"type": "room", "roomId": room_id, "userId": BOB}
    p = line.platform
    message = {"id": "1", "type": "text", "quoteToken": "q", "text": "สวัสดี"}
    joined = {"members": [{"type": "user", "userId": BOB}]}
    await line.send(
        p.event("join", {"type": "group", "groupId": GROUP}),
        p.event("join", {"type": "room", "roomId": room_id}),
    )
    replies = [c for c in line.api.calls if c.kind == "reply"]
    assert len(replies) == 2 and all(c.messages[0]["text"] == ONE_TO_ONE for c in replies)
    await line.send(  # what a group says afterwards is not answered: 13 of 30 events used to be
        p.event("message", group, message=message),
        p.event("message", room, message=message),
        p.event("postback", group, postback={"data": "lang=th"}),
        p.event("memberJoined", {"type": "group", "groupId": GROUP}, joined=joined),
        p.event("message", group, message={"id": "2", "type": "sticker", "packageId": "1", "stickerId": "1"}),
    )
    assert len([c for c in line.api.calls if c.kind == "reply"]) == 2
    assert not line.api.pushes_to(GROUP) and not line.api.pushes_to(room_id)
    assert await line.sql("SELECT count(*) FROM participants") == [(0,)]
    assert await line.inbox() == []  # nothing from a group is stored


async def test_other_event_types_are_ignored(line: Harness) -> None:
    alice, p = line.user(ALICE), line.platform
    await line.send(
        p.event("videoPlayComplete", alice.source, videoPlayComplete={"trackingId": "t"}),
        p.event("beacon", alice.source, beacon={"hwid": "d41d8cd98f", "type": "enter"}),
        p.event("somethingNew", alice.source),
        {**alice.text("standby: another channel answers"), "mode": "standby"},
        p.event("postback", alice.source, postback={"data": ""}),
    )
    assert line.api.calls == []
    assert await line.sql("SELECT count(*) FROM participants") == [(0,)]
    assert await line.inbox() == []  # nothing to act on, so nothing of theirs is kept


async def test_verify_request_with_no_events_is_answered(line: Harness) -> None:
    response = await line.platform.post([])
    assert response.status_code == 200
    assert (await line.platform.post(b"not json")).status_code == 400


async def test_erasure_purges_the_participants_inbox_rows(line: Harness) -> None:
    alice, bob = line.user(ALICE), line.user(BOB)
    await onboard(line, alice)
    await line.send(bob.follow())
    await line.send(alice.text("ลบข้อมูล"))
    await line.send(alice.tap(lambda a: a["data"] == "del=yes"))
    assert await line.inbox(ALICE) == []
    assert len(await line.inbox(BOB)) == 1
    assert await line.sql("SELECT count(*) FROM participants WHERE user_ref = ?", ALICE) == [(0,)]
    raw = (line.settings.db).read_bytes() + line.settings.db.with_name("line.db-wal").read_bytes()
    assert ALICE.encode() not in raw
    await line.send(alice.text("สวัสดี"))  # a new start after erasure works
    assert data_of(alice) == ["lang=th", "lang=en"]


# ---- storage failures ------------------------------------------------------------------------


async def fail_inserts(line: Harness, table: str) -> None:
    async with line.app.db.transaction() as conn:
        await conn.execute(
            f"CREATE TEMP TRIGGER fail_{table} BEFORE INSERT ON main.{table}"
            " BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )


async def heal(line: Harness, table: str) -> None:
    async with line.app.db.transaction() as conn:
        await conn.execute(f"DROP TRIGGER temp.fail_{table}")


async def test_inbox_write_failure_answers_5xx_so_line_redelivers(line: Harness) -> None:
    alice = line.user(ALICE)
    follow = alice.follow()
    await fail_inserts(line, "inbox")
    response = await line.platform.post([follow])
    assert 500 <= response.status_code < 600
    assert await line.inbox() == []
    # Nothing was kept, but LINE will redeliver: the participant is told so once, in the reply.
    await line.api.wait_for(lambda: len(line.api.calls) == 1)
    [told] = line.api.calls
    assert told.kind == "reply" and told.status == 200
    assert [m["text"] for m in told.messages] == [tr(None, "try_later")]
    redelivery = {**follow, "deliveryContext": {"isRedelivery": True}}
    assert 500 <= (await line.platform.post([redelivery])).status_code < 600
    await heal(line, "inbox")
    assert await line.send(redelivery)
    assert len(line.api.calls) == 3  # the greeting: its reply token was used, so it is pushed
    assert [(c.kind, c.status) for c in line.api.calls[1:]] == [("reply", 400), ("push", 200)]
    assert "รับฟัง" in line.api.calls[2].messages[-1]["text"]
    assert len(await line.inbox(ALICE)) == 1


async def test_processing_failure_keeps_the_event_and_says_try_later(line: Harness) -> None:
    alice = line.user(ALICE)
    await line.send(alice.follow(), alice.postback("lang=en"))
    await fail_inserts(line, "events")  # the event's claim, and so its whole unit of work, fails
    [sorry] = await line.send(alice.postback("consent=yes"), alice.text("1"))
    assert "can't save your last message right now" in sorry["text"]  # once: the second event waits its turn
    assert [r[1] for r in await line.inbox(ALICE)][-2:] == [0, 0]  # both kept, unprocessed
    assert await line.sql("SELECT consent FROM participants WHERE user_ref = ?", ALICE) == [(None,)]
    await heal(line, "events")
    messages = await line.send(alice.text("2"))  # the kept events go first, in order, then this one
    profile = await line.sql("SELECT consent, stakeholder, region FROM participants WHERE user_ref = ?", ALICE)
    assert profile == [("given", "citizen", "central")]
    assert "Thank you" in messages[0]["text"] and "age band" in messages[-1]["text"]
    assert all(r[1] == 1 for r in await line.inbox(ALICE))


# ---- push ------------------------------------------------------------------------------------


async def test_push_splits_into_calls_of_five_and_long_texts_into_messages(line: Harness) -> None:
    alice = line.user(ALICE)
    await line.send(alice.follow())
    replies = [Reply(f"ข้อความที่ {n}") for n in range(1, 7)] + [Reply("ก" * 12000)]
    assert await line.channel.push(ALICE, replies, key="broadcast-7") == "sent"
    pushes = line.api.pushes_to(ALICE)
    assert [len(p.messages) for p in pushes] == [5, 4]  # 6 short + 3 chunks of the long one
    assert len({p.headers["x-line-retry-key"] for p in pushes}) == 2
    # The same key again (a retried broadcast) delivers nothing new.
    delivered = len(alice.messages())
    assert await line.channel.push(ALICE, replies, key="broadcast-7") == "sent"
    assert len(alice.messages()) == delivered
    assert [p.status for p in line.api.pushes_to(ALICE)][2:] == [409, 409]


async def test_push_reports_failure_without_raising(line: Harness) -> None:
    line.api.fail("push", 400, "Failed to send messages")
    assert await line.channel.push(ALICE, [Reply("hello")]) == "blocked"
    line.api.fail("push", 500, times=4)
    assert await line.channel.push(ALICE, [Reply("hello")]) == "failed"
    line.api.fail("push", 403, "Access to this API is not available for your account")
    assert await line.channel.push(ALICE, [Reply("hello")]) == "failed"


async def test_one_write_transaction_per_event_after_the_receipt(line: Harness) -> None:
    """A webhook body costs one write for its receipt, then each event one: claim, decide, save and
    mark the inbox row together (docs/architecture.md shows the path)."""
    alice = line.user(ALICE)
    await onboard(line, alice)
    statements: list[str] = []
    await line.app.db.set_trace(statements.append)
    try:
        await line.send(alice.tap(lambda a: a["data"] == "area=health"))
        one = [s for s in statements if s.startswith("BEGIN")]
        statements.clear()
        await line.send(alice.text("4"), alice.text("4"), alice.text("3"))
        three = [s for s in statements if s.startswith("BEGIN")]
    finally:
        await line.app.db.set_trace(None)
    assert len(one) == 2, one  # the receipt, the event
    assert len(three) == 4, three  # one receipt for the body, then one per event
    assert all(s == "BEGIN IMMEDIATE" for s in one + three)
