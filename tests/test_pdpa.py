"""PDPA rights end to end on LINE: consent recorded with the notice version and time, a copy of
one's data on request, erasure that leaves no trace in the database files or in later exports,
and a notice stating purpose, retention, recipients, rights and contact in both languages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.engine import Context, Engine
from bot.i18n import NOTICE_VERSION
from bot.model import Inbound, State
from exports import write_export
from storage import outreach as q
from tests.test_line import ALICE, BOB, Harness, api, line, line_settings, onboard  # noqa: F401

SECRET = "ความลับของอลิซ ร้านข้าวแกงซอย 7"


def everything_on_disk(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))


async def test_consent_copy_erasure_and_no_trace(line: Harness, tmp_path: Path) -> None:  # noqa: F811
    alice, bob = line.user(ALICE), line.user(BOB)
    sid = await q.add_session(
        line.app.db,
        area="health",
        title_th="ประชุม",
        title_en="Meeting",
        starts_at=datetime.now(UTC) + timedelta(days=3),
        ends_at=None,
        place="สพร.",
        capacity=None,
        now=datetime.now(UTC),
    )
    for user in (alice, bob):
        await onboard(line, user)
        await line.send(user.tap(lambda a: a["data"] == "area=health"))
        for level in ("3", "4"):  # today 3, not the assessed 2: "why?" follows
            await line.send(user.text(level))
        await line.send(user.text(SECRET if user is alice else "ความเห็นของบ๊อบ"))
        await line.send(user.text("2"))  # the next capability, today
    await line.send(alice.postback(f"reg={sid}"))

    ((version, at),) = await line.sql("SELECT consent_version, consent_at FROM participants WHERE user_ref = ?", ALICE)
    assert version == NOTICE_VERSION and datetime.fromisoformat(at) <= datetime.now(UTC)
    pseudonym = line.app.db.pseudonym("line", ALICE)

    copy = await line.send(alice.text("ข้อมูลของฉัน"))
    assert any(SECRET in m["text"] for m in copy) and any("ภาคกลาง" in m["text"] or "ภูมิภาค" in m["text"] for m in copy)
    before = await write_export(line.app.db, tmp_path / "before", catalog=line.app.catalog)
    assert pseudonym in (tmp_path / "before" / "responses.csv").read_text(encoding="utf-8-sig")
    assert before.rows["registrations.csv"] == 1

    await line.send(alice.text("ลบข้อมูล"))
    done = await line.send(alice.tap(lambda a: a["data"] == "del=yes"))
    assert any("ลบข้อมูลทั้งหมดของท่านแล้ว" in m["text"] for m in done)

    assert await line.sql("SELECT channel, answers FROM deletions") == [("line", 4)]
    assert await line.sql("SELECT count(*) FROM registrations") == [(0,)]
    raw = everything_on_disk(line.settings.db)
    for trace in (ALICE, SECRET, pseudonym):
        assert trace.encode() not in raw, f"{trace!r} is still in the database files"
    assert "ความเห็นของบ๊อบ".encode() in raw  # the others' answers are intact

    after = tmp_path / "after"
    await write_export(line.app.db, after, catalog=line.app.catalog)
    for f in after.iterdir():
        content = f.read_bytes()
        for trace in (ALICE, SECRET, pseudonym):
            assert trace.encode() not in content, f"{trace!r} in {f.name}"


def test_privacy_notice_states_what_the_law_asks_in_both_languages(catalog) -> None:  # type: ignore[no-untyped-def]
    engine = Engine(Context(catalog, datetime(2026, 11, 25, tzinfo=UTC), retention_days=180, contact="dpo@dga.or.th"))
    for lang, words in {
        "th": ("วัตถุประสงค์", "180 วัน", "ผู้เห็นข้อมูล", "สิทธิ", "ลบ", "ติดต่อ", "dpo@dga.or.th", NOTICE_VERSION),
        "en": ("Purpose", "180 days", "Who sees it", "rights", "delete", "Contact", "dpo@dga.or.th", NOTICE_VERSION),
    }.items():
        out = engine.decide(State(lang=lang, step="menu", consent="given"), Inbound("text", text="/privacy"))
        text = out.replies[0].text
        assert all(w in text for w in words), (lang, [w for w in words if w not in text])
