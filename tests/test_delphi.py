"""Issue 15.2, a Delphi round 2, as organizers and participants see it: an admin opens round 2 of an
area (in chat or on the command line), everyone who completed round 1 is invited once (on LINE by
multicast), each sees their round-1 answer beside the group's median, IQR and n, keeps one answer
and changes another (with a reason), the round is stored, and the summary shows convergence; after
the round closes (by an admin, or at its closing time) a late answer is refused and nothing stored."""

from __future__ import annotations

import argparse
import csv
import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.config import Settings
from bot.engine.privacy import notice_text
from bot.model import Inbound, quantile
from bot.outreach import Outreach
from bot.service import Service
from bot.surveys import Catalog
from exports import write_export
from exports.report import write_report
from storage import Database
from storage import delphi as rounds
from testbed.line_api import CHANNEL_SECRET, FakeLineApi
from testbed.telegram_api import FakeBotAPI
from tests.conftest import Clock
from tests.test_line import Harness
from tests.test_telegram import onboard, running

pytestmark = pytest.mark.backends

AREA = "agriculture"  # four capabilities: eight level picks
ADMIN = "U" + "a" * 32
DAYTIME = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)  # 11:00 in Bangkok: invitations are not held back
# round-1 picks of each participant: (current_level, target_level) for every capability
PICKS = ((1, 3), (2, 4), (2, 4), (3, 5))


def daytime() -> datetime:
    return DAYTIME


def quartiles(values: list[int]) -> tuple[float, float, float]:
    """An independent computation: Python's inclusive quantiles (Excel's QUARTILE.INC)."""
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, median, q3


# round 1's overview as a participant reads it, for PICKS (levels 1, 2, 2, 3 and 3, 4, 4, 5): two of
# four answered the middle level, which is no majority, and the middle half (ranks 2 and 3) answered it
OVERVIEW_CURRENT = "ภาพรวมคำตอบรอบแรก: ผู้ตอบ 4 คน ตอบระดับ 2 มากที่สุด (อย่างน้อยครึ่งหนึ่งตอบระดับ 2)"
OVERVIEW_TARGET = "ภาพรวมคำตอบรอบแรก: ผู้ตอบ 4 คน ตอบระดับ 4 มากที่สุด (อย่างน้อยครึ่งหนึ่งตอบระดับ 4)"
STATISTICS = ("มัธยฐาน", "IQR", "n =", "ผลรวม", ".25", ".5", ".75")  # what a citizen is never shown


def plain(text: str) -> bool:
    """Whether a participant's message is free of statistics: no n, median, IQR or fractional level."""
    return not any(word in text for word in STATISTICS)


def answer_for(data: str, pick: tuple[int, int]) -> str:
    """The round-1 tap for a question's button data: the level picked, else skip (comments, why?)."""
    key = data[2:].partition("=")[0]
    if key.endswith(".current_level"):
        return f"q.{key}={pick[0]}"
    if key.endswith(".target_level"):
        return f"q.{key}={pick[1]}"
    return f"q.{key}=~skip"


def summary_rows(out: Path) -> list[dict[str, str]]:
    with (out / "summary.csv").open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def line_actions(user: Any) -> list[dict[str, Any]]:
    return user.quick_replies() or user.bubble_buttons()


def text_of(message: dict[str, Any]) -> str:
    return message.get("text", message.get("altText", ""))


# ---- the group result -----------------------------------------------------------------------


@pytest.mark.parametrize("values", [[3], [1, 2], [1, 2, 2, 3], [3, 4, 4, 5, 5], [1, 1, 1, 5, 5, 5, 2, 4, 4]])
def test_the_quartiles_are_excels_quartile_inc(values: list[int]) -> None:
    counts = [values.count(v) for v in range(1, 6)]
    if len(values) > 1:
        q1, median, q3 = quartiles(values)
    else:
        q1 = median = q3 = float(values[0])
    assert (quantile(counts, 0.25), quantile(counts, 0.5), quantile(counts, 0.75)) == pytest.approx((q1, median, q3))
    assert quantile([0] * 5, 0.5) is None


def test_the_privacy_notice_says_a_second_round_may_be_offered(catalog: Catalog) -> None:
    from bot.engine.core import Context

    ctx = Context(catalog, DAYTIME)
    assert "รอบที่ 2" in notice_text(ctx, "th") and "Round 2" in notice_text(ctx, "en")


# ---- LINE, end to end -------------------------------------------------------------------------


async def test_a_delphi_round_on_line_invited_by_multicast_kept_changed_and_closed(
    tmp_path: Path, catalog: Catalog
) -> None:
    async with FakeLineApi() as api:
        settings = Settings(
            _env_file=None,
            db=tmp_path / "line.db",
            flood_limit=10_000,
            line_channel_secret=CHANNEL_SECRET,
            line_channel_access_token=api.token,
            line_api_base_url=api.url,
            admins=f"line:{ADMIN}",
        )
        line = await Harness(settings, api).start()
        try:
            users = [line.user(f"U{n:032x}") for n in range(len(PICKS) + 1)]
            for user in users:
                await line.send(user.follow())
                for prefix in ("lang=th", "consent=yes", "group=", "region=", "age="):
                    await line.send(user.tap(lambda a, p=prefix: a["data"].startswith(p)))
            for user, pick in zip(users, PICKS, strict=False):  # the last one never finishes round 1
                await line.send(user.postback(f"area={AREA}"))
                for _ in range(40):
                    data = [a["data"] for a in line_actions(user) if a["data"].startswith(f"q.{AREA}.")]
                    if not data:
                        break
                    await line.send(user.postback(answer_for(data[0], pick)))
            await line.send(users[-1].postback(f"area={AREA}"))  # started, not completed: not invited

            # someone who is no admin gets what any unknown command gets
            unknown = [text_of(m) for m in await line.send(users[0].text("/nonsense"))]
            assert [text_of(m) for m in await line.send(users[0].text(f"/delphi open {AREA}"))] == unknown
            assert await line.sql("SELECT count(*) FROM delphi_rounds") == [(0,)]

            admin = line.user(ADMIN)
            opened = [text_of(m) for m in await line.send(admin.text(f"/delphi open {AREA} 2030-12-20"))]
            assert "round 2 of agriculture opened" in opened[0] and "4 participant(s)" in opened[0], opened
            outreach = Outreach(line.app.db, line.app.catalog, line.app.settings, {"line": line.channel}, daytime)
            await outreach.delphi()
            assert api.multicasts == 1  # everyone invited speaks Thai: one call
            invited = [u for u in users if any(m.get("text", "").startswith("รอบที่ 2") for m in u.messages())]
            assert invited == users[: len(PICKS)]
            assert all(c.kind == "multicast" for c in api.calls if c.kind != "reply")
            assert [a["data"] for a in users[0].quick_replies()] == [f"d2={AREA}"]
            # opening it again, and sweeping again, invites nobody twice
            again = [text_of(m) for m in await line.send(admin.text(f"/delphi open {AREA}"))]
            assert "already open" in again[0]
            await outreach.delphi()
            assert api.multicasts == 1

            alice = users[0]
            replies = await line.send(alice.tap(lambda a: a["data"] == f"d2={AREA}"))  # the invitation's button
            first_key = f"{AREA}.farmer_registry.current_level"
            question = text_of(replies[-1])
            assert "คำตอบรอบแรกของท่าน: 1" in question
            assert OVERVIEW_CURRENT in question and plain(question)  # (staff read: median 2, IQR 1.75–2.25)
            await line.send(alice.tap(lambda a: a["data"] == f"d2.{first_key}=~keep"))
            target_key = f"{AREA}.farmer_registry.target_level"
            question = text_of(alice.messages()[-1])
            assert OVERVIEW_TARGET in question and plain(question)
            await line.send(alice.tap(lambda a: a["data"] == f"d2.{target_key}=4"))  # changed: 3 -> 4
            assert "เพราะเหตุใด" in text_of(alice.messages()[-1])
            await line.send(alice.text("ได้ข้อมูลเพิ่มจากผลรวมของทุกคน"))
            for _ in range(10):
                keep = [a for a in alice.quick_replies() if a["data"].endswith("=~keep")]
                if not keep:
                    break
                await line.send(alice.postback(keep[0]["data"]))
            assert "คงเดิม 7 ข้อ เปลี่ยน 1 ข้อ" in " ".join(text_of(m) for m in alice.messages()[-2:])

            bob = users[1]
            await line.send(bob.tap(lambda a: a["data"] == f"d2={AREA}"))
            closed = [text_of(m) for m in await line.send(admin.text(f"/delphi close {AREA}"))]
            assert "closed" in closed[0]
            late = await line.send(bob.tap(lambda a: a["data"] == f"d2.{first_key}=~keep"))
            assert "ปิดรับคำตอบแล้ว" in " ".join(text_of(m) for m in late)
            stored = await line.sql(
                "SELECT p.user_ref, a.item, a.question, a.option, a.text FROM answers a"
                " JOIN participants p ON p.id = a.participant_id WHERE a.round = 2 ORDER BY a.item, a.question"
            )
        finally:
            await line.stop()
    assert {r[0] for r in stored} == {alice.user_id}  # bob's late answer was not kept
    assert len(stored) == 8
    changed = [r for r in stored if r[3] != {"current_level": "1", "target_level": "3"}[r[2]]]
    assert [(r[1], r[2], r[3], r[4]) for r in changed] == [
        ("farmer_registry", "target_level", "4", "ได้ข้อมูลเพิ่มจากผลรวมของทุกคน")
    ]

    out = tmp_path / "export"
    db = await Database.open(settings.db)
    try:
        await write_export(db, out, catalog=catalog)
    finally:
        await db.close()
    rows = summary_rows(out)
    by_round = {
        (r["item_id"], r["question_id"], r["group"]): r for r in rows if r["scope"] == "round" and r["area"] == AREA
    }
    target2 = by_round[("farmer_registry", "target_level", "2")]
    assert (target2["n"], target2["n_both_rounds"], target2["n_changed"], target2["median"]) == ("1", "1", "1", "4.0")
    current2 = by_round[("farmer_registry", "current_level", "2")]
    assert (current2["n_both_rounds"], current2["n_changed"]) == ("1", "0")
    target1 = by_round[("farmer_registry", "target_level", "1")]
    q1, median, q3 = quartiles([p[1] for p in PICKS])
    assert (float(target1["median"]), float(target1["iqr"])) == (median, q3 - q1)
    overall = next(
        r
        for r in rows
        if r["scope"] == "all" and r["item_id"] == "farmer_registry" and r["question_id"] == "target_level"
    )
    assert overall["n"] == str(len(PICKS))  # "all" is round 1: round 2 is not counted twice
    with (out / "responses.csv").open(encoding="utf-8-sig", newline="") as f:
        responses = list(csv.DictReader(f))
    assert sum(1 for r in responses if r["round"] == "2") == 8
    assert {r["round"] for r in responses} == {"1", "2"}


# ---- Telegram, end to end -------------------------------------------------------------------------


async def test_a_delphi_round_on_telegram_invited_kept_changed_and_late_refused(tmp_path: Path) -> None:
    async with FakeBotAPI() as api, running(api, tmp_path) as bot:
        people = [bot.participant(5_551_000 + n) for n in range(len(PICKS))]
        for p, pick in zip(people, PICKS, strict=True):
            await onboard(p, area=AREA)
            for _ in range(40):
                data = [d for _, d in p.buttons() if d.startswith(f"q.{AREA}.")]
                if not data:
                    break
                await p.tap(answer_for(data[0], pick))
        admin = bot.app.service.admin
        opened = await admin.delphi(argparse.Namespace(action="open", where=AREA, until=None, area=None, closes=None))
        assert "opened" in opened and "4 participant(s)" in opened
        outreach = Outreach(bot.app.db, bot.app.catalog, bot.app.settings, {"telegram": bot.channel}, daytime)
        await outreach.sweep()  # what the running bot does every 30 s, and at once when an admin opens one
        await outreach.sweep()  # nothing left to send
        for p in people:
            invitations = [t for t in p.texts() if t.startswith("รอบที่ 2 ของ")]
            assert len(invitations) == 1, p.user_id
        alice, bob = people[0], people[1]
        assert alice.buttons() == [("เริ่มรอบที่ 2", f"d2={AREA}")]

        calls = await alice.tap(f"d2={AREA}")
        shown = "\n".join(alice.texts(calls))
        assert "คำตอบรอบแรกของท่าน: 1" in shown and OVERVIEW_CURRENT in shown and plain(shown)
        first_key = f"{AREA}.farmer_registry.current_level"
        await alice.tap(f"d2.{first_key}=2")  # changed: 1 -> 2
        assert "เพราะเหตุใด" in alice.texts()[-1]
        await alice.tap(f"d2.{first_key}=~skip")  # no reason given
        for _ in range(10):
            keep = [d for _, d in alice.buttons() if d.endswith("=~keep")]
            if not keep or not alice.buttons()[0][1].startswith("d2."):
                break
            await alice.tap(keep[0])
        assert "คงเดิม 7 ข้อ เปลี่ยน 1 ข้อ" in "\n".join(alice.texts()[-2:])

        await bob.tap(f"d2={AREA}")
        await admin.delphi(argparse.Namespace(action="close", where=AREA, area=None))
        late = await bob.tap(f"d2.{first_key}=3")
        assert "ปิดรับคำตอบแล้ว" in "\n".join(bob.texts(late))
        stored = await bot.rows(
            "SELECT p.user_ref, a.question, a.option, a.text FROM answers a"
            " JOIN participants p ON p.id = a.participant_id WHERE a.round = 2 AND a.item = 'farmer_registry'"
            " ORDER BY a.question"
        )
        assert stored == [
            (str(alice.user_id), "current_level", "2", None),
            (str(alice.user_id), "target_level", "3", None),
        ]
        out = tmp_path / "export"
        await write_export(bot.app.db, out, catalog=bot.app.catalog)
        report = await write_report(bot.app.db, bot.app.catalog, tmp_path / "report.html", area=AREA, lang="en")
    html = report.read_text(encoding="utf-8")
    # round 1: 1, 2, 2, 3 (median 2, quartiles 1.75 and 2.25); round 2: alice's 2 alone
    assert "Current level — round 1 → 2: median 2 → 2, IQR 0.5 → 0, 1 of 1 changed their answer" in html
    assert 'data-dimension="round"' in html  # and the findings by round, beside those by group
    current2 = next(
        r
        for r in summary_rows(out)
        if r["scope"] == "round"
        and r["group"] == "2"
        and r["item_id"] == "farmer_registry"
        and r["question_id"] == "current_level"
    )
    assert (current2["n_both_rounds"], current2["n_changed"]) == ("1", "1")


# ---- the organizers' side ----------------------------------------------------------------------


def test_delphi_open_and_close_on_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("RABFANG_DB", str(tmp_path / "cli.db"))
    assert main(["delphi", "open", "--area", AREA, "--closes", "2030-12-20"]) == 0
    assert "round 2 of agriculture opened until" in capsys.readouterr().out
    assert main(["delphi", "open", "--area", AREA]) == 0  # again: nothing changes, nobody invited twice
    assert "already open" in capsys.readouterr().out
    assert main(["delphi", "list"]) == 0
    listed = capsys.readouterr().out
    # a bare date closes at the end of that day, and says so (not "Sat 21 Dec 2030, 00:00")
    assert "agriculture\tround 2\topen until Fri 20 Dec 2030, 23:59" in listed
    assert main(["delphi", "open", "--area", "space"]) == 2
    assert "unknown area 'space'" in capsys.readouterr().err
    assert main(["delphi", "close", "--area", AREA]) == 0
    assert "round 2 of agriculture closed" in capsys.readouterr().out
    assert main(["delphi", "close", "--area", AREA]) == 0
    assert "no open round of agriculture" in capsys.readouterr().out
    assert main(["delphi", "open", "--area", AREA, "--closes", "2020-01-01"]) == 2
    assert "in the future" in capsys.readouterr().err


async def say(service: Service, user: str, *texts: str) -> list[str]:
    out: list[str] = []
    for text in texts:
        kind = "button" if "=" in text and " " not in text else "text"
        handled = await service.handle("telegram", user, Inbound(kind, text=text, data=text))
        out = [r.text for r in handled.replies] if handled else []
    return out


async def complete(service: Service, catalog: Catalog, user: str, pick: tuple[int, int]) -> None:
    await say(service, user, "hi", "lang=th", "consent=yes", "group=citizen", "region=north", "age=~skip")
    await say(service, user, f"area={AREA}")
    for _ in range(40):  # levels as picked; the why? and closing questions skipped
        state = await service.db.load_state("telegram", user)
        if state.step != "survey":
            break
        step = catalog.step(state.key or "")
        assert step is not None
        if step.question.kind == "level":
            await say(service, user, f"q.{step.key}={pick[0] if step.question.marks == 'current' else pick[1]}")
        else:
            await say(service, user, f"q.{step.key}=~skip")
    assert AREA in (await service.db.load_state("telegram", user)).completed


async def test_a_round_closes_at_its_closing_time(
    db: Database, catalog: Catalog, settings: Settings, clock: Clock
) -> None:
    service = Service(db, catalog, settings, clock)
    for n, pick in enumerate(PICKS[:2]):
        await complete(service, catalog, str(n), pick)
    questions = [s.key for s in catalog.flow(AREA) if s.question.kind == "level"]
    r, opened = await rounds.open_round(db, AREA, questions, clock.now + timedelta(hours=1), clock.now)
    assert opened and r.feedback[f"{AREA}.farmer_registry.current_level"].n == 2
    shown = await say(service, "0", f"d2={AREA}")
    assert "รอบที่ 2" in shown[0]
    first_key = f"{AREA}.farmer_registry.current_level"
    await say(service, "0", f"d2.{first_key}=~keep")  # in time
    clock.now += timedelta(hours=2)  # past its closing time, before any sweep closed it
    late = await say(service, "0", f"d2.{AREA}.farmer_registry.target_level=~keep")
    assert "ปิดรับคำตอบแล้ว" in late[0]
    assert (await say(service, "1", f"d2={AREA}"))[0].startswith("ขออภัยค่ะ รอบที่ 2")
    stored = await db.fetch_all("SELECT participant_id, question FROM answers WHERE round = 2")
    assert stored == [(1, "current_level")]
    outreach = Outreach(db, catalog, settings, {}, lambda: clock.now)
    await outreach.delphi()  # the sweep closes it in storage too
    ((closed_at,),) = await db.fetch_all("SELECT closed_at FROM delphi_rounds")
    assert closed_at is not None
    # opened again, it shows what its panelists were shown, and invites nobody twice
    again, reopened = await rounds.open_round(db, AREA, questions, None, clock.now)
    assert reopened and again.feedback == r.feedback and again.closed_at is None


async def test_the_menu_offers_an_open_round_to_those_who_completed_round_1(
    db: Database, catalog: Catalog, settings: Settings, clock: Clock
) -> None:
    service = Service(db, catalog, settings, clock)
    await complete(service, catalog, "1", PICKS[0])
    await say(service, "2", "hi", "lang=en", "consent=yes", "group=citizen", "region=north", "age=~skip")
    questions = [s.key for s in catalog.flow(AREA) if s.question.kind == "level"]
    await rounds.open_round(db, AREA, questions, None, clock.now)
    for user, offered in (("1", True), ("2", False)):
        handled = await service.handle("telegram", user, Inbound("text", text="menu"))
        assert handled is not None
        data = [b.data for r in handled.replies for b in r.buttons]
        assert (f"d2={AREA}" in data) is offered, user
    # typing the menu's number of the round-2 button starts it, as on a client without buttons
    handled = await service.handle("telegram", "1", Inbound("text", text=str(len(catalog.areas) + 1)))
    assert handled is not None and "รอบที่ 2 · ด้านการเกษตร" in handled.replies[0].text
    # someone who never completed round 1 is told why, and nothing is stored
    told = await say(service, "2", f"d2={AREA}")
    assert "completed round 1" in told[0]


async def test_a_reason_taken_back_goes_and_the_round_2_answer_stays(
    db: Database, catalog: Catalog, settings: Settings, clock: Clock
) -> None:
    service = Service(db, catalog, settings, clock)
    await complete(service, catalog, "1", PICKS[0])
    questions = [s.key for s in catalog.flow(AREA) if s.question.kind == "level"]
    await rounds.open_round(db, AREA, questions, None, clock.now)
    key = f"{AREA}.farmer_registry.current_level"
    await say(service, "1", f"d2={AREA}", f"d2.{key}=3")  # changed: 1 -> 3, so why?
    await service.handle("telegram", "1", Inbound("text", text="เห็นผลรวมแล้ว", ref="m1"))
    assert await db.fetch_all("SELECT option, text, ref FROM answers WHERE round = 2") == [("3", "เห็นผลรวมแล้ว", "m1")]
    handled = await service.handle("telegram", "1", Inbound("edited", text="เห็นผลรวมของทุกคนแล้ว", ref="m1"))
    assert handled is not None
    assert await db.fetch_all("SELECT text FROM answers WHERE round = 2") == [("เห็นผลรวมของทุกคนแล้ว",)]
    mine = await say(service, "1", "/mydata")
    assert any("(รอบที่ 2): 3 — เห็นผลรวมของทุกคนแล้ว" in text for text in mine), mine
    await service.handle("telegram", "1", Inbound("unsend", ref="m1"))
    assert await db.fetch_all("SELECT option, text FROM answers WHERE round = 2") == [("3", None)]
