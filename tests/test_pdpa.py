"""PDPA rights end to end on LINE: consent recorded with the notice version and time, a copy of
one's data on request, erasure that leaves no trace in the database files or in later exports,
and a notice stating purpose, retention, recipients, rights and contact in both languages.

Over both backends (tests/conftest.py `backends`); what is about SQLite's files (no trace left in
the file or its WAL, erasure while a reader holds old pages) is checked on SQLite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.engine import Context, Engine
from bot.i18n import NOTICE_VERSION, day
from bot.model import Inbound, State
from exports import write_export
from storage import outreach as q
from tests.test_line import ALICE, BOB, Harness, api, line, line_settings, onboard  # noqa: F401

SECRET = "ความลับของอลิซ ร้านข้าวแกงซอย 7"

pytestmark = pytest.mark.backends


def everything_on_disk(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))


async def test_consent_copy_erasure_and_no_trace(line: Harness, tmp_path: Path, backend: str) -> None:  # noqa: F811
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
    assert any("ลบข้อมูลทั้งหมดของท่าน" in m["text"] for m in done)

    assert await line.sql("SELECT channel, answers FROM deletions") == [("line", 4)]
    assert await line.sql("SELECT count(*) FROM registrations") == [(0,)]
    if backend == "sqlite":
        raw = everything_on_disk(line.settings.db)
        for trace in (ALICE, SECRET, pseudonym):
            assert trace.encode() not in raw, f"{trace!r} is still in the database files"
        assert "ความเห็นของบ๊อบ".encode() in raw  # the others' answers are intact
    for trace in (ALICE, SECRET, pseudonym):  # on every backend: in no table
        for table, column in (("participants", "user_ref"), ("participants", "pseudonym"), ("answers", "text")):
            assert await line.sql(f"SELECT count(*) FROM {table} WHERE {column} = ?", trace) == [(0,)]
    assert await line.sql("SELECT count(*) FROM answers WHERE text = ?", "ความเห็นของบ๊อบ") == [(1,)]

    after = tmp_path / "after"
    await write_export(line.app.db, after, catalog=line.app.catalog)
    for f in after.iterdir():
        content = f.read_bytes()
        for trace in (ALICE, SECRET, pseudonym):
            assert trace.encode() not in content, f"{trace!r} in {f.name}"


def test_privacy_notice_states_what_the_law_asks_in_both_languages(catalog) -> None:  # type: ignore[no-untyped-def]
    engine = Engine(Context(catalog, datetime(2026, 11, 25, tzinfo=UTC), retention_days=180, contact="dpo@dga.or.th"))
    for lang, words in {
        "th": ("วัตถุประสงค์", "180 วัน", "ผู้เห็นข้อมูล", "สิทธิ", "ลบ", "ติดต่อ", "dpo@dga.or.th", day(NOTICE_VERSION, "th")),
        "en": (
            "Purpose",
            "180 days",
            "Who sees it",
            "rights",
            "delete",
            "Contact",
            "dpo@dga.or.th",
            day(NOTICE_VERSION, "en"),
        ),
    }.items():
        out = engine.decide(State(lang=lang, step="menu", consent="given"), Inbound("text", text="/privacy"))
        text = out.replies[0].text
        assert all(w in text for w in words), (lang, [w for w in words if w not in text])


@pytest.mark.sqlite_only  # old page images in the WAL: SQLite's own
async def test_erasure_during_a_read_blocks_no_one_and_leaves_nothing_once_it_ends(
    db,
    service,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    """An export holding a reader while a participant erases: the erasure and everyone else's
    writes go on at once; the erased bytes leave every file as soon as the reader lets go."""
    import asyncio
    import time

    from tests.test_storage import CONSENTED, walk

    alice, comment = "Ua1ce000000000000000000000000e7a5", "เบอร์ของอลิซ 081-234-5678 ลับมาก"
    await walk(service, alice, *CONSENTED, "4", "5", comment, ids="e")  # two levels off the plan, and why
    await walk(service, "Ub0b", *CONSENTED, "3")

    async with db.reader() as reader:
        [(before,)] = await (await reader.execute("SELECT count(*) FROM answers")).fetchall()  # an export's snapshot
        assert before == 4
        started = time.monotonic()
        await service.handle("telegram", alice, Inbound("text", text="/deleteme"))
        erased = service.handle("telegram", alice, Inbound("button", data="del=yes"))
        others = [service.handle("telegram", f"Uother{n}", Inbound("text", text="hi")) for n in range(5)]
        handled, *_ = await asyncio.gather(erased, *others)
        assert handled is not None and handled.erased
        assert time.monotonic() - started < 1.0, "the erasure held everyone else's writes"
        assert await db.checkpoint() is False  # the reader still needs the old pages: not waited for
        assert time.monotonic() - started < 1.5
        (count,) = await (await reader.execute("SELECT count(*) FROM answers")).fetchone()
        assert count == before  # the reader's snapshot is intact
    deadline = time.monotonic() + 5
    while True:
        raw = everything_on_disk(settings.db)
        left = [t for t in (alice, comment) if t.encode() in raw]
        if not left:
            break
        assert time.monotonic() < deadline, f"{left} still on disk after the reader closed"
        await asyncio.sleep(0.1)
    assert await db.checkpoint() is True
    assert settings.db.with_name(settings.db.name + "-wal").stat().st_size == 0


def test_declining_says_exactly_what_is_kept_and_for_how_long(catalog) -> None:  # type: ignore[no-untyped-def]
    engine = Engine(Context(catalog, datetime(2026, 11, 25, tzinfo=UTC), unconsented_days=7))
    for lang, kept, nothing in (
        ("th", ("ภาษาที่เลือก", "ขั้นตอน", "รหัสบัญชีแชต", "7 วัน"), "ไม่ได้บันทึกคำตอบใด ๆ"),
        ("en", ("language choice", "place in this conversation", "account's id", "7 days"), "nothing of yours"),
    ):
        at_consent = State(lang=lang, step="consent")
        asked = engine.ask(at_consent).text
        assert all(w in asked for w in kept), (lang, asked)  # the notice says it before they choose
        declined = engine.decide(at_consent, Inbound("button", data="consent=no"))
        said = declined.replies[0].text
        assert all(w in said for w in kept) and nothing not in said, (lang, said)
        mine = engine.decide(declined.state, Inbound("text", text="/mydata")).replies[0].text
        assert all(w in mine for w in kept) and ("English" if lang == "en" else "ไทย") in mine, (lang, mine)
    # someone who has said nothing yet has nothing stored, and is told so
    first = engine.decide(State(), Inbound("text", text="/mydata")).replies[0].text
    assert "เรายังไม่ได้เก็บข้อมูลใดของท่าน" in first


async def rows_of(db, sql: str, *params: object) -> list[tuple]:  # type: ignore[no-untyped-def]
    return await db.fetch_all(sql, params)


async def test_retention_covers_every_table_that_holds_personal_data(db) -> None:  # type: ignore[no-untyped-def]
    """Every column that looks personal (storage.retention.LOOKS_PERSONAL) is declared in COVERAGE,
    with both an erasure and a purge; a CASCADE claim is a real ON DELETE CASCADE to participants."""
    from storage.retention import CASCADE, COVERAGE, LOOKS_PERSONAL

    tables, columns_of, cascades_of = await schema(db)
    assert "inbox" in tables and "participants" in tables
    for table in tables:
        columns = columns_of[table]
        personal = {c for c in columns if LOOKS_PERSONAL.search(c)}
        if not personal:
            continue
        assert table in COVERAGE, f"{table} holds {sorted(personal)} but retention does not cover it"
        coverage = COVERAGE[table]
        assert personal <= set(coverage.personal), f"{table}: {sorted(personal - set(coverage.personal))} undeclared"
        assert coverage.erase and coverage.purge
        if CASCADE in (coverage.erase, coverage.purge):
            assert ("participant_id", "participants") in cascades_of[table], table
    for table, coverage in COVERAGE.items():
        assert table in tables, f"COVERAGE names {table}, which the schema does not have"
        assert set(coverage.personal) <= set(columns_of[table]), table


async def schema(db) -> tuple[list[str], dict[str, list[str]], dict[str, set[tuple[str, str]]]]:  # type: ignore[no-untyped-def]
    """Tables, their columns, and their (column, parent table) foreign keys that cascade on delete,
    as the database itself reports them (SQLite: PRAGMA; PostgreSQL: information_schema)."""
    columns: dict[str, list[str]] = {}
    cascades: dict[str, set[tuple[str, str]]] = {}
    if db.backend == "sqlite":
        tables = [r[0] for r in await rows_of(db, "SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns[table] = [r[1] for r in await rows_of(db, f"PRAGMA table_info({table})")]
            keys = await rows_of(db, f"PRAGMA foreign_key_list({table})")
            cascades[table] = {(k[3], k[2]) for k in keys if k[6] == "CASCADE"}
        return tables, columns, cascades
    tables = [
        r[0]
        for r in await rows_of(
            db, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"
        )
    ]
    for table in tables:
        columns[table] = [
            r[0]
            for r in await rows_of(
                db,
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public'"
                " AND table_name = ? ORDER BY ordinal_position",
                table,
            )
        ]
        keys = await rows_of(
            db,
            "SELECT kcu.column_name, ccu.table_name FROM information_schema.referential_constraints rc"
            " JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = rc.constraint_name"
            " JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_name = rc.unique_constraint_name"
            " WHERE kcu.table_name = ? AND rc.delete_rule = 'CASCADE'",
            table,
        )
        cascades[table] = {(k[0], k[1]) for k in keys}
    return tables, columns, cascades


async def _line_event(service, user: str, text: str, n: int, now: datetime) -> None:  # type: ignore[no-untyped-def]
    """An event through the inbox table, as the LINE channel stores and processes it."""
    from bot.model import Incoming
    from storage import inbox

    await inbox.add(service.db, "line", [Incoming(f"ev{n:04d}", user, Inbound("text", text=text))], now)
    (row,) = await inbox.pending(service.db, "line", user)
    await service.handle("line", user, row.item.inbound, row.event_id, inbox_seq=row.seq)


async def test_the_daily_purge_reaches_the_inbox_and_those_who_never_consented(
    db,
    service,
    settings,
    clock,  # type: ignore[no-untyped-def]
) -> None:
    from bot.scheduler import RetentionPurge

    ever, hello, recent = "U0ever000000000000000000000000001", "U0hello00000000000000000000000002", "U0recent0000000001"
    for n, text in enumerate(("hi", "ไทย", "ยินยอม", "1", "1", "ข้าม")):  # consents and answers the profile
        await _line_event(service, ever, text, n, clock.now)
    await _line_event(service, hello, "hello", 100, clock.now)  # never consented
    clock.now += timedelta(days=8)
    await _line_event(service, recent, "hello", 200, clock.now)  # never consented, but only just now
    assert {r[0] for r in await rows_of(db, "SELECT user_ref FROM inbox")} == {ever, hello, recent}

    counts = await RetentionPurge(db, settings.retention_days, lambda: clock.now, settings.unconsented_days).run()
    assert counts["participants"] == 1 and counts["inbox"] == 7
    assert {r[0] for r in await rows_of(db, "SELECT user_ref FROM participants")} == {ever, recent}
    assert {r[0] for r in await rows_of(db, "SELECT user_ref FROM inbox")} == {recent}

    clock.now += timedelta(days=settings.retention_days)
    await RetentionPurge(db, settings.retention_days, lambda: clock.now, settings.unconsented_days).run()
    for table in ("participants", "inbox", "answers"):
        assert await rows_of(db, f"SELECT count(*) FROM {table}") == [(0,)], table


async def test_erasure_reaches_every_covered_table(db, service, settings, clock) -> None:  # type: ignore[no-untyped-def]
    from storage.retention import COVERAGE

    admin = "U0adm1n0000000000000000000000000a"
    settings.admins = f"line:{admin}"
    for n, text in enumerate(("hi", "ไทย", "ยินยอม", "1", "1", "ข้าม")):
        await _line_event(service, admin, text, n, clock.now)
    await db.fetch_all(
        "INSERT INTO broadcasts (audience, text_th, text_en, requested_by, created_at) VALUES ('all', 'ก', 'a', ?, ?)",
        (f"line:{admin}", clock.now.isoformat()),
    )
    (pid,) = (await rows_of(db, "SELECT id FROM participants WHERE user_ref = ?", admin))[0]
    await _line_event(service, admin, "ลบข้อมูล", 50, clock.now)
    await _line_event(service, admin, "ใช่", 51, clock.now)
    for table, coverage in COVERAGE.items():
        for column in coverage.personal:
            found = await rows_of(db, f"SELECT count(*) FROM {table} WHERE CAST({column} AS TEXT) LIKE ?", f"%{admin}%")
            assert found == [(0,)], (table, column)
        if "participant_id" in coverage.personal:
            assert await rows_of(db, f"SELECT count(*) FROM {table} WHERE participant_id = ?", pid) == [(0,)], table


async def test_my_data_goes_out_in_one_free_reply_however_much_there_is(line: Harness) -> None:  # noqa: F811
    """46 comments of 2,000 characters: one reply call per request, no push, on LINE; the full
    copy as a file where the channel sends files, and page by page where it does not."""
    from bot.model import Answer, Outcome

    alice = line.user(ALICE)
    await onboard(line, alice)
    catalog = line.app.catalog
    keys = [q.key for a in catalog.areas for q in catalog.flow(a) if q.question.kind == "text"]
    assert len(keys) == 46
    now = datetime.now(UTC)
    comments = {k: f"{n:02d} " + "ความเห็นยาวมาก " * 133 for n, k in enumerate(keys)}

    def commented(state: State) -> Outcome:
        answers = {k: Answer(text=comments[k][:2000], at=now) for k in keys}
        return Outcome(state=state.model_copy(update={"answers": answers}))

    await line.app.db.handle_event("line", ALICE, None, commented, now)
    before = len(line.api.calls)
    for _ in range(5):  # five requests inside the flood limit
        await line.send(alice.text("ข้อมูลของฉัน"))
    calls = line.api.calls[before:]
    assert [c.kind for c in calls] == ["reply"] * 5, [c.kind for c in calls]
    assert all(len(c.messages) <= 5 for c in calls)
    summary = calls[-1].messages[0]["text"]
    assert "ภูมิภาค" in summary and "/mydata 1" in summary and summary.count("•") >= 15

    # the full copy, page by page, each page one reply
    pages = int(summary.split("/mydata ")[-1].split("”")[0])
    seen = ""
    for n in range(1, pages + 1):
        got = await line.send(alice.text(f"/mydata {n}"))
        assert len(got) <= 5 and f"{n}/{pages}" in got[0]["text"]
        seen += got[0]["text"]
    assert all(c[:2000] in seen for c in comments.values())
    assert [c.kind for c in line.api.calls[before:]] == ["reply"] * (5 + pages)


def test_my_data_attaches_the_full_copy(catalog) -> None:  # type: ignore[no-untyped-def]
    from bot.model import Answer

    key = next(q.key for a in catalog.areas for q in catalog.flow(a) if q.question.kind == "text")
    at = datetime(2026, 11, 25, tzinfo=UTC)
    comment = "ข้อเสนอ " * 600
    state = State(lang="th", step="menu", consent="given", consent_at=at, group="citizen", region="central")
    state.answers[key] = Answer(text=comment, at=at)
    out = Engine(Context(catalog, at)).decide(state, Inbound("text", text="ข้อมูลของฉัน"))
    copy = out.replies[0].attachment
    assert copy is not None and comment in copy.content.decode("utf-8")
    assert comment not in out.replies[0].text and len(out.replies[0].text) < 3500


async def test_the_line_sender_answers_one_event_with_one_call(line: Harness) -> None:  # noqa: F811
    """However many replies the engine makes, LINE gets one reply call of at most five messages,
    the last still carrying its buttons."""
    from bot.model import Button, Reply

    alice = line.user(ALICE)
    await line.send(alice.follow())
    event = alice.text("hi")
    token = event["replyToken"]
    replies = [Reply(f"ข้อความที่ {n}") for n in range(11)] + [Reply("เลือก", (Button("ก", "lang=th"),))]
    context = {"reply_token": token, "received": datetime.now(UTC).isoformat()}
    assert await line.channel.sender.answer(ALICE, replies, context, chosen=None, key="k") == "sent"
    (call,) = line.api.replies_to(token)
    assert len(call.messages) <= 5 and not line.api.pushes_to(ALICE)
    text = "\n".join(m["text"] for m in call.messages)
    assert all(f"ข้อความที่ {n}" in text for n in range(11))
    assert call.messages[-1]["quickReply"]["items"][0]["action"]["data"] == "lang=th"


async def test_an_edited_then_unsent_comment_leaves_no_number_behind(line: Harness, backend: str) -> None:  # noqa: F811
    """LINE: a comment with a phone number, edited to drop it, then taken back. The edit replaces
    the stored comment; the unsend erases it and says so; an edit of an answer since replaced, or
    an unsend of a message that gave none, changes nothing."""
    alice = line.user(ALICE)
    await onboard(line, alice)
    await line.send(alice.tap(lambda a: a["data"] == "area=health"))
    for _ in range(2):
        await line.send(alice.text("1"))  # levels off the plan: the comment question follows
    comment = alice.text("โทรหาฉันที่ 081-234-5678 เรื่องคิวโรงพยาบาล")
    mid = comment["message"]["id"]
    await line.send(comment)
    (key,) = [k for k, v in (await line.answers(ALICE)).items() if v[2]]
    assert await line.sql("SELECT ref FROM answers WHERE text IS NOT NULL") == [(mid,)]

    edited = {"id": mid, "type": "text", "quoteToken": "q", "text": "เรื่องคิวโรงพยาบาลรอนานมาก"}
    said = await line.send(line.platform.event("messageEdited", alice.source, message=edited))
    assert (await line.answers(ALICE))[key][2] == "เรื่องคิวโรงพยาบาลรอนานมาก"
    assert any("เรื่องคิวโรงพยาบาลรอนานมาก" in m["text"] for m in said)

    pushes = len(line.api.pushes_to(ALICE))
    said = await line.send(line.platform.event("unsend", alice.source, reply=False, unsend={"messageId": mid}))
    assert key not in await line.answers(ALICE)
    assert any("ยกเลิกข้อความ" in m["text"] for m in said)
    assert len(line.api.pushes_to(ALICE)) == pushes + 1  # no reply token: one push, once
    await line.app.db.checkpoint()
    if backend == "sqlite":
        raw = everything_on_disk(line.settings.db)
        assert b"081-234-5678" not in raw and "รอนานมาก".encode() not in raw
    assert await line.sql("SELECT count(*) FROM answers WHERE text LIKE ?", "%081-234-5678%") == [(0,)]

    # an unsend or edit that reaches no stored answer changes nothing and says nothing
    before = await line.answers(ALICE)
    quiet = await line.send(
        line.platform.event("unsend", alice.source, reply=False, unsend={"messageId": mid}),
        line.platform.event("messageEdited", alice.source, message=edited),
    )
    assert quiet == [] and await line.answers(ALICE) == before


def test_unsending_a_required_answer_asks_it_again(catalog) -> None:  # type: ignore[no-untyped-def]
    engine = Engine(Context(catalog, datetime(2026, 11, 25, tzinfo=UTC)))
    state = State(lang="en", step="menu", consent="given", group="citizen", region="central")
    state = engine.decide(state, Inbound("button", data="area=health")).state
    first = state.key
    state = engine.decide(state, Inbound("text", text="4", ref="m-1")).state
    assert state.answers[first].ref == "m-1" and state.key != first
    second = state.key
    state = engine.decide(state, Inbound("button", data=f"q.{second}=3")).state  # tapped: no message
    assert state.answers[second].ref is None

    out = engine.decide(state, Inbound("unsend", ref="m-1"))
    assert first not in out.state.answers and out.state.key == first  # asked again
    assert "deleted" in out.replies[0].text and out.replies[-1].buttons
    # an edit of it now reaches nothing: the answer it gave is gone
    assert engine.decide(out.state, Inbound("edited", text="5", ref="m-1")).replies == []
    # a typed rating, edited: the new rating replaces it while it is the one stored
    again = engine.decide(out.state, Inbound("text", text="2", ref="m-2")).state
    changed = engine.decide(again, Inbound("edited", text="5", ref="m-2"))
    assert changed.state.answers[first].value == 5 and changed.state.answers[first].ref == "m-2"
