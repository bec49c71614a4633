"""Poison versus outage, and edits that respect what they edit (issue 22, items 4–6), over real
HTTP (signed LINE webhooks, the fake Messaging API) on SQLite and PostgreSQL:

- an edited live comment keeps its session (the presenter's tally and the export's session
  column still show it), and once its capability has closed an edit is refused, nothing changed;
  a Delphi reason is not edited after its round closed;
- a NUL reaches no database: admin text is cleaned like a participant's (the command runs), a LINE
  message id with one is refused at receive; a value the database still refuses is a poison event,
  dropped and told once, never retried as an outage holding up the chat's later answers;
- odd admin arguments (`session:²`, an id of 10**20, the years 0001 and 9999) get the command's
  usage in the admin's language, the same on both backends, never the participants' "not recorded"."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.engine import Context, Engine
from bot.i18n import MESSAGES, NOTICE_VERSION, tr
from bot.model import Answer, GroupResult, Inbound, Incoming, RoundView, State
from bot.service import Service
from bot.surveys import Catalog
from storage import Database
from storage import live as lq
from storage.queries import Filter, snapshot
from testbed.line_api import CHANNEL_SECRET, FakeLineApi, LineUser
from tests.test_line import ALICE, Harness, onboard

from .conftest import Clock

pytestmark = pytest.mark.backends

ADMIN = "U" + "d" * 32
ITEM = "education.learner_data"


@pytest.fixture
async def api() -> AsyncIterator[FakeLineApi]:
    async with FakeLineApi() as fake:
        yield fake


@pytest.fixture
async def line(tmp_path: Path, api: FakeLineApi, pg_url: str | None) -> AsyncIterator[Harness]:
    settings = Settings(
        _env_file=None,
        db=pg_url or tmp_path / "line.db",
        line_channel_secret=CHANNEL_SECRET,
        line_channel_access_token=api.token,
        line_api_base_url=api.url,
        admins=f"line:{ADMIN}",
        flood_limit=10_000,
    )
    harness = await Harness(settings, api).start()
    try:
        yield harness
    finally:
        await harness.stop()


def offered(user: LineUser) -> list[str]:
    return [a["data"] for a in user.quick_replies() or user.bubble_buttons()]


def texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m.get("text") or m.get("altText", "") for m in messages)


def everything_said(line: Harness, user: str) -> str:
    return texts(line.api.delivered(user))


def kept_or_lost(lang: str | None) -> list[str]:
    """The outage's words: "we will record it" and "not recorded, try later"."""
    return [tr(lang, "try_later"), tr(lang, "try_later_lost")]


async def admin_says(line: Harness, text: str) -> str:
    return texts(await line.send(line.user(ADMIN).text(text)))


# ---- item 4: edits respect what they edit ----------------------------------------------------


async def test_an_edited_live_comment_keeps_its_session_and_is_refused_once_closed(line: Harness) -> None:
    assert "session 1 added" in await admin_says(
        line, '/sessions add --area education --title-th "ห้องประชุม" --title-en "Room" --starts 2030-01-10T09:00'
    )
    code = re.search(r"code: ([A-Z0-9]{6})", await admin_says(line, "/live start 1")).group(1)  # type: ignore[union-attr]
    assert "opened" in await admin_says(line, "/live open 1")
    alice = line.user(ALICE)
    await onboard(line, alice)
    await line.send(alice.text(f"live {code}"))
    while taps := [d for d in offered(alice) if d.startswith("lq.")]:
        await line.send(alice.postback(next(d for d in taps if d.endswith("=3"))))
    assert tr("th", "live_comment") in texts(alice.messages()[-1:])
    comment = alice.text("ความเห็นแรกในห้อง")
    await line.send(comment)
    edited = {"id": comment["message"]["id"], "type": "text", "quoteToken": "q", "text": "ความเห็นที่แก้แล้ว"}
    said = texts(await line.send(line.platform.event("messageEdited", alice.source, message=edited)))
    assert "ความเห็นที่แก้แล้ว" in said

    db = line.app.db
    assert (await lq.tally(db, 1, ITEM)).comments == ["ความเห็นที่แก้แล้ว"]  # still on the presenter page
    async with snapshot(db) as snap:
        rows = [r async for r in snap.responses(Filter())]
    live_texts = [(r[10], r[14], r[15]) for r in rows if r[14] == "live" and r[10]]
    assert live_texts == [("ความเห็นที่แก้แล้ว", "live", 1)]  # the export's source and session columns
    (at_before,) = await line.sql("SELECT answered_at FROM answers WHERE source = 'live' AND text IS NOT NULL")

    assert "closed" in await admin_says(line, "/live close")
    late = {**edited, "text": "แก้หลังปิด"}
    said = texts(await line.send(line.platform.event("messageEdited", alice.source, message=late)))
    assert "ปิดรับคำตอบแล้ว" in said and "แก้หลังปิด" not in said
    assert (await lq.tally(db, 1, ITEM)).comments == ["ความเห็นที่แก้แล้ว"]
    assert await line.sql("SELECT answered_at FROM answers WHERE source = 'live' AND text IS NOT NULL") == [at_before]


def test_a_delphi_reason_is_not_edited_after_its_round_closed(catalog: Catalog) -> None:
    now = datetime(2026, 12, 21, 3, 0, tzinfo=UTC)
    key = f"{ITEM}.current_level"
    closed = RoundView(
        area="education",
        round=2,
        opened_at=now - timedelta(days=7),
        closes_at=now - timedelta(hours=1),
        feedback={key: GroupResult(n=3, median=3.0, q1=2.0, q3=4.0, counts=(0, 1, 1, 1, 0))},
    )
    reason = Answer(option="4", value=4, text="เหตุผลเดิม", lang="th", at=now - timedelta(days=1), ref="m-9")
    state = State(
        lang="th",
        consent="given",
        consent_at=now,
        consent_version=NOTICE_VERSION,
        group="citizen",
        region="bangkok",
        step="menu",
        answers={key: Answer(option="2", value=2, lang="th", at=now), f"{key}@r2": reason},
        rounds=(closed,),
    )
    engine = Engine(Context(catalog, now))
    out = engine.decide(state, Inbound("edited", text="เหตุผลใหม่", ref="m-9"))
    assert out.state.answers[f"{key}@r2"] == reason  # text and answered_at as they were
    assert "ปิดรับคำตอบแล้ว" in out.replies[0].text
    # while the round is open the same edit is taken, and stays round 2's
    still_open = state.model_copy(
        update={"rounds": (closed.model_copy(update={"closes_at": now + timedelta(days=1)}),)}
    )
    out = engine.decide(still_open, Inbound("edited", text="เหตุผลใหม่", ref="m-9"))
    assert out.state.answers[f"{key}@r2"].text == "เหตุผลใหม่" and out.state.answers[f"{key}@r2"].option == "4"
    assert out.state.answers[key].option == "2"


# ---- item 5: poison versus outage ---------------------------------------------------------------


async def test_nul_in_admin_text_is_removed_and_the_command_runs(line: Harness) -> None:
    said = await admin_says(
        line,
        '/sessions add --area education --title-th "ห้อง\x00ประชุม" --title-en "Ro\x00om" --starts 2030-01-10T09:00',
    )
    assert "session 1 added: Room" in said
    said = await admin_says(line, '/broadcast --to all --th "ข่าว\x00สาร" --en "Ne\x00ws"')
    assert "broadcast 1 queued" in said
    assert await line.sql("SELECT title_th, title_en FROM sessions") == [("ห้องประชุม", "Room")]
    assert await line.sql("SELECT text_th, text_en FROM broadcasts") == [("ข่าวสาร", "News")]
    assert not any(words in everything_said(line, ADMIN) for words in kept_or_lost(None))


async def test_nul_in_admin_text_from_any_channel_is_cleaned_before_storage(
    db: Database, catalog: Catalog, settings: Settings, clock: Clock
) -> None:
    """Past the channels' converters too (they drop NUL already): the admin command cleans its text."""
    service = Service(db, catalog, settings.model_copy(update={"admins": "telegram:42"}), clock)
    raw = '/sessions add --area education --title-th "ห้อง\x00ประชุม" --title-en "Room\x07" --starts 2030-01-10T09:00'
    handled = await service.handle("telegram", "42", Inbound("text", text=raw), "u-1")
    assert handled is not None and "session 1 added" in handled.replies[0].text
    assert await db.fetch_all("SELECT title_th, title_en FROM sessions") == [("ห้องประชุม", "Room")]


async def test_nul_in_a_line_message_id_does_not_hold_up_later_answers(line: Harness) -> None:
    alice = line.user(ALICE)
    await onboard(line, alice)
    await line.send(alice.tap(lambda a: a["data"] == "area=education"))
    poisoned = alice.text("2")
    poisoned["message"]["id"] = "6078\x001234"  # a webhook event LINE would never send, but JSON can carry
    await line.send(poisoned)
    await line.send(alice.tap(lambda a: a["data"].endswith("=4")))
    assert all(processed == 1 for _, processed, _, _ in await line.inbox(ALICE))
    assert len([v for v in (await line.answers(ALICE)).values() if v[1] is not None]) == 2  # both answers kept
    assert not any("\x00" in (ref or "") for (ref,) in await line.sql("SELECT ref FROM answers"))
    assert not any(words in everything_said(line, ALICE) for words in kept_or_lost("th"))


async def test_a_value_the_database_refuses_is_dropped_and_told_once_not_retried(line: Harness, backend: str) -> None:
    """An event past every converter with a NUL in it (PostgreSQL refuses it; SQLite stores it):
    on PostgreSQL it is a poison event, dropped and told once; the chat's next answer goes on."""
    alice = line.user(ALICE)
    await onboard(line, alice)
    await line.send(alice.tap(lambda a: a["data"] == "area=education"))
    inbox = line.channel.inbox
    received = datetime.now(UTC).isoformat()
    poison = Incoming("ev-poison", ALICE, Inbound("text", text="2", ref="m\x00x"), {"received": received})
    after = Incoming("ev-after", ALICE, Inbound("text", text="3", ref="m-after"), {"received": received})
    assert await inbox.accept([poison, after]) is not None
    await line.channel.idle()
    assert all(processed == 1 for _, processed, _, _ in await line.inbox(ALICE))
    answers = await line.answers(ALICE)
    said = everything_said(line, ALICE)
    assert not any(words in said for words in kept_or_lost("th"))
    if backend == "postgresql":
        assert said.count(tr("th", "rejected")) == 1
        assert [v[1] for v in answers.values()] == [3]  # the next answer took the question
    else:
        assert tr("th", "rejected") not in said and len(answers) == 2


# ---- item 6: admin arguments validated ---------------------------------------------------------

ODD = {
    "/broadcast --to session:² --th x --en y": ("broadcast", "an id must be a whole number: '²'"),
    "/sessions cancel 100000000000000000000": ("sessions", "an id must be from 1 to 9223372036854775807"),
    "/sessions move 3 --starts 0001-01-01T09:00": ("sessions", "'0001-01-01T09:00' is not between 2000 and 2100"),
    "/sessions add --area education --title-th ก --title-en a --starts 9999-12-31": ("sessions", "is not between"),
    "/sessions add --area education --title-th ก --title-en a --starts 2030-01-01 --capacity 10000000000000000000000": (
        "sessions",
        "--capacity must be from 1 to 100000",
    ),
    "/delphi open education 9999-12-31": ("delphi", "'9999-12-31' is not between 2000 and 2100"),
    "/live start 100000000000000000000": ("live", "an id must be from 1 to"),
    "/live next --session ²": ("live", "an id must be a whole number"),
}


@pytest.mark.parametrize("lang", ["en", None])
async def test_odd_admin_arguments_get_the_usage_in_the_admins_language(
    db: Database, catalog: Catalog, settings: Settings, clock: Clock, lang: str | None
) -> None:
    service = Service(db, catalog, settings.model_copy(update={"admins": "telegram:42"}), clock)
    if lang is not None:  # an admin who chose a language; one who never did reads both, Thai first
        await service.handle("telegram", "42", Inbound("button", data=f"lang={lang}"), "u-lang")
    for n, (text, (command, detail)) in enumerate(ODD.items()):
        handled = await service.handle("telegram", "42", Inbound("text", text=text), f"u-{n}")
        assert handled is not None, text
        (reply,) = handled.replies
        head = tr(lang, "admin_usage", command=command, usage=tr(lang, f"admin_usage_{command}"), detail="")
        assert reply.text.startswith(head.split("\n")[0]), (text, reply.text)
        assert tr(lang, f"admin_usage_{command}") in reply.text and detail in reply.text, (text, reply.text)
        assert not any(words in reply.text for words in kept_or_lost(lang)), text
    assert await db.fetch_all("SELECT count(*) FROM sessions") == [(0,)]
    assert await db.fetch_all("SELECT count(*) FROM broadcasts") == [(0,)]
    assert set(MESSAGES) >= {f"admin_usage_{c}" for c in ("sessions", "broadcast", "stats", "export", "delphi", "live")}
