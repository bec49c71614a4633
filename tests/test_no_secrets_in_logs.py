"""No secrets and no personal data in the logs of a whole `rabfang run` session at DEBUG.

Two runs of `rabfang run` on one database, both channels each time, RABFANG_LOG_LEVEL=DEBUG: first
Telegram by long polling, then Telegram by webhook (with its secret); LINE by signed webhooks both
times. Between them they cover: consent and profile, survey answers and a free-text comment, a
storage error on each channel (the poller's retry, the webhook's 500, LINE's 503 and redelivery),
a participant who blocks the bot (403 on send, and Telegram's `my_chat_member`), a LINE unfollow, a
LINE webhook with a bad signature and a Telegram webhook with a wrong secret, an admin's /export
(a zip on Telegram, a signed link on LINE, fetched once), an admin's /broadcast to everyone (pushed
on both channels, the blocked one counted, a report to the admin), and a clean stop.

The combined stdout and stderr of both runs must contain none of: the bot token or its secret
part, the LINE channel secret and access token, the Telegram webhook secret, the pseudonym and
export-link keys, the signed export link, any platform user id used, the distinctive first names,
usernames and LINE display names the fake events carry, nor the comment a participant wrote. The
log must show that each of those situations happened (so the test fails if one silently did not).

CI: those participants (~25 s). RABFANG_LONG=1: eight more on each channel, each with a name of
their own, through consent, profile and ratings to a comment before the broadcast.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import re
import signal
import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram import Chat, Message, Update, User

from bot.config import Settings
from bot.handlers.telegram import SECRET_HEADER, WEBHOOK_PATH
from bot.i18n import tr
from bot.logs import QUIET, Redactor, configure
from bot.surveys import Catalog
from testbed.line_api import CHANNEL_SECRET, FakeLineApi, LinePlatform, LineUser, sign
from testbed.telegram_api import TOKEN, FakeBotAPI, Participant
from tests.reliability import base_url, both_environment, scale, start_run
from tests.test_line_e2e import wait_healthy
from tests.test_telegram_e2e import question_key, rabfang_command

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

WEBHOOK_SECRET = "whsec-Quokka-7731-never-log-me"
PSEUDONYM_KEY = "pseudo-key-Narwhal-90211-never-log-me"
LINK_KEY = "link-key-Axolotl-55102-never-log-me"
ALICE, BLOCKER, ADMIN, HOOKED = 731_904_611, 731_904_622, 731_904_633, 731_904_644
LINE_ALICE, LINE_ADMIN, LINE_LEAVER = ("U" + c * 32 for c in "7b9")
NAMES = {
    ALICE: ("Zephyrine", "Quillfeather", "zephy_q"),
    BLOCKER: ("Bartholomew", "Cragsworth", "bart_crag"),
    ADMIN: ("Ottoline", "Admiralty", "otto_adm"),
    HOOKED: ("Peregrina", "Hookwell", "pere_hook"),
}
LINE_NAMES = {LINE_ALICE: "Wolkenbruch Ondine", LINE_ADMIN: "Amaryllis Admintrude", LINE_LEAVER: "Leopold Leavesworth"}
COMMENT = "ความเห็นส่วนตัว Gossamer-Tangerine-4471 ไม่ควรอยู่ใน log"
EXTRA = scale(0, 8)  # more participants per channel in the long setting
EXTRA_TG = [731_905_000 + n for n in range(EXTRA)]
EXTRA_LINE = [f"U{n:02d}" + "d" * 30 for n in range(EXTRA)]
NAMES |= {uid: (f"Fennimore{n}x", f"Quetzalcoa{n}y", f"fenn_{n}_q") for n, uid in enumerate(EXTRA_TG)}
LINE_NAMES |= {ref: f"Isolde Extrawurst {n}" for n, ref in enumerate(EXTRA_LINE)}


class Named(Participant):
    """A Telegram participant whose updates carry a distinctive name, username and language."""

    def __init__(self, api: FakeBotAPI, user_id: int, **kw: Any):
        super().__init__(api, user_id, **kw)
        self.first, self.last, self.username = NAMES[user_id]

    async def send(self, update: dict[str, Any]) -> list[Any]:
        for part in ("message", "callback_query", "my_chat_member"):
            if part in update:
                who = update[part]["from"]
                who.update(first_name=self.first, last_name=self.last, username=self.username)
                chat = update[part].get("chat") or (update[part].get("message") or {}).get("chat")
                if chat and chat.get("type") == "private":
                    chat.update(first_name=self.first, last_name=self.last, username=self.username)
        return await super().send(update)


@dataclass
class NamedLineUser(LineUser):
    """A LINE user whose events carry a display name (real ones do not, but nothing may log one)."""

    @property
    def source(self) -> dict[str, str]:
        return {"type": "user", "userId": self.user_id, "displayName": LINE_NAMES[self.user_id]}


def secrets_and_ids(line: FakeLineApi) -> dict[str, str]:
    """Everything that must never be logged, by what it is."""
    found = {
        "bot token": TOKEN,
        "bot token's secret part": TOKEN.split(":", 1)[1],
        "LINE channel secret": CHANNEL_SECRET,
        "LINE access token": line.token,
        "Telegram webhook secret": WEBHOOK_SECRET,
        "pseudonym key": PSEUDONYM_KEY,
        "export link key": LINK_KEY,
        "comment": COMMENT,
        "comment's distinctive part": "Gossamer-Tangerine-4471",
    }
    for uid, (first, last, username) in NAMES.items():
        found |= {f"user id {uid}": str(uid), f"first name of {uid}": first, f"last name of {uid}": last}
        found[f"username of {uid}"] = username
    for ref, name in LINE_NAMES.items():
        found |= {f"LINE user id {ref[:4]}…": ref, f"LINE display name of {ref[:4]}…": name}
    return found


@contextlib.contextmanager
def broken(db: Path, table: str) -> Iterator[None]:
    """Inserts into `table` fail while inside, as on a failing disk (from a connection of our own)."""
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
        conn.execute(
            f"CREATE TRIGGER broken_{table} BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
        )
        conn.commit()
    try:
        yield
    finally:
        with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
            conn.execute(f"DROP TRIGGER broken_{table}")
            conn.commit()


async def to_a_comment(p: Participant, catalog: Catalog) -> None:
    """Consent, profile, an area, ratings up to the first comment question: then the comment."""
    await p.say("/start")
    for data in ("lang=en", "consent=yes", "group=citizen"):
        await p.tap(data)
    await p.say("2")  # region, typed
    await p.tap("age=~skip")
    await p.tap("area=sme")
    for _ in range(40):
        step = catalog.step(question_key(p))
        assert step is not None
        if step.question.kind == "text":
            await p.say(COMMENT)
            return
        await p.say("2")  # a low rating: the "why" question follows the item's ratings
    raise AssertionError("no comment question")


async def line_act(platform: LinePlatform, api: FakeLineApi, event: dict[str, Any]) -> None:
    response = await platform.post([event])
    assert response.status_code == 200, response.text
    token = event.get("replyToken")
    if token:
        await api.wait_for(lambda: any(c.status == 200 for c in api.replies_to(token)), timeout=15)


async def line_to_a_comment(platform: LinePlatform, api: FakeLineApi, alice: LineUser, catalog: Catalog) -> None:
    await line_act(platform, api, alice.follow())
    for prefix in ("lang=th", "consent=yes", "group=", "region=", "age="):
        await line_act(platform, api, alice.tap(lambda a, p=prefix: a["data"].startswith(p)))
    await line_act(platform, api, alice.postback("area=sme"))
    for _ in range(40):
        data = [a["data"] for a in alice.quick_replies() if a["data"].startswith("q.")]
        step = catalog.step(data[0][2:].partition("=")[0])
        assert step is not None
        if step.question.kind == "text":
            await line_act(platform, api, alice.text(COMMENT))
            break
        await line_act(platform, api, alice.postback(next(d for d in data if d.endswith("=2"))))


async def line_session(platform: LinePlatform, api: FakeLineApi, db: Path, catalog: Catalog) -> None:
    alice = NamedLineUser(platform, LINE_ALICE)
    await line_to_a_comment(platform, api, alice, catalog)
    await asyncio.gather(
        *(line_to_a_comment(platform, api, NamedLineUser(platform, ref), catalog) for ref in EXTRA_LINE)
    )
    # A bad signature: refused, and logged as such.
    bad = await platform.post([alice.text("hello")], signature=sign(b"something else"))
    assert bad.status_code == 400
    # A storage error: 503, the participant told (in Thai); LINE's redelivery is stored once mended.
    event = alice.text("5")
    with broken(db, "inbox"):
        assert (await platform.post([event])).status_code == 503
        await api.wait_for(lambda: any(c.status == 200 for c in api.replies_to(event["replyToken"])), timeout=15)
    again = await platform.post([{**event, "deliveryContext": {"isRedelivery": True}}])
    assert again.status_code == 200
    # Someone who leaves: unfollow marks them inactive.
    leaver = NamedLineUser(platform, LINE_LEAVER)
    await line_act(platform, api, leaver.follow())
    assert (await platform.post([leaver.unfollow()])).status_code == 200
    # An admin's /export on LINE: a signed link, fetched once.
    admin = NamedLineUser(platform, LINE_ADMIN)
    export = admin.text("/export")
    await line_act(platform, api, export)
    [reply] = [c for c in api.replies_to(export["replyToken"]) if c.status == 200]
    link = re.search(r"https?://\S+/exports/\S+", reply.messages[0]["text"])
    assert link, reply.messages
    async with httpx.AsyncClient() as http:
        download = await http.get(link.group(0))
    assert download.status_code == 200 and download.content[:2] == b"PK"
    secrets_seen.append(link.group(0).rsplit("/", 1)[1])


secrets_seen: list[str] = []  # secrets made during the run (the export link's token)


async def broadcast_session(api: FakeBotAPI, line: FakeLineApi) -> None:
    """The admin broadcasts to everyone: pushed on both channels; a report comes back to them."""
    admin = Named(api, ADMIN)
    before = len(api.sent(ADMIN))
    await admin.say('/broadcast --to all --th "ประกาศจากผู้จัด" --en "A notice from the organizers"')
    await api.wait_for(lambda: len(api.sent(ADMIN)) >= before + 2, timeout=30)  # "queued", then the report
    assert any(c.kind == "push" and c.status == 200 for c in line.calls)


async def telegram_polling_session(api: FakeBotAPI, db: Path, catalog: Catalog) -> None:
    alice = Named(api, ALICE)
    await to_a_comment(alice, catalog)
    await asyncio.gather(*(to_a_comment(Named(api, uid), catalog) for uid in EXTRA_TG))
    # A storage error: "try later", the update fetched again, and stored once mended.
    with broken(db, "events"):
        uid = await api.deliver(api.message_update(ALICE, "/status"))
        await api.wait_for(lambda: tr("en", "try_later") in alice.texts())
    await api.wait_acked(uid, timeout=20)
    # Someone who blocks the bot: 403 on the next send, and Telegram says so as well.
    blocker = Named(api, BLOCKER)
    await blocker.say("/start")
    api.blocked.add(BLOCKER)
    await blocker.say("/help")
    await blocker.send(api.blocked_update(BLOCKER))
    # The admin's /export: a zip.
    admin = Named(api, ADMIN)
    calls = await admin.say("/export")
    assert [c for c in calls if c.method == "sendDocument" and c.status == 200]


async def telegram_webhook_session(api: FakeBotAPI, env: dict[str, str], db: Path) -> None:
    url = base_url(env) + WEBHOOK_PATH

    async def post(update: dict[str, Any], secret: str = WEBHOOK_SECRET) -> int:
        """Post an update; once stored (200) the bot answers it right after: wait for that answer."""
        before = len(api.sent(HOOKED))
        async with httpx.AsyncClient() as http:
            status = (await http.post(url, json=update, headers={SECRET_HEADER: secret})).status_code
        if status == 200:
            await api.wait_for(lambda: len(api.sent(HOOKED)) > before)
        return status

    hooked = Named(api, HOOKED, send=post)
    await hooked.say("/start")
    for data in ("lang=en", "consent=yes", "group=citizen"):
        await hooked.tap(data)
        assert hooked.last == 200
    assert await post(api.message_update(HOOKED, "/status"), secret="not-the-secret") == 403
    with broken(db, "inbox"):  # nothing can be stored: Telegram is asked to deliver it again
        await hooked.say("/status")
        assert hooked.last == 500
    await hooked.say("/status")
    assert hooked.last == 200


async def start_webhook_run(api: FakeBotAPI, env: dict[str, str], cwd: Path, log: Any) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(*rabfang_command(), "run", cwd=cwd, env=env, stdout=log, stderr=log)
    await wait_healthy(base_url(env), proc)
    await api.wait_for(lambda: api.webhook.get("secret_token") == WEBHOOK_SECRET, timeout=20)
    return proc


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 30) == 0


async def test_a_debug_session_logs_no_secret_and_no_personal_data(tmp_path: Path, catalog: Catalog) -> None:
    db = tmp_path / "rabfang.db"
    log_path = tmp_path / "rabfang.log"
    secrets_seen.clear()
    async with FakeBotAPI() as api, FakeLineApi() as line:
        extra = {
            "RABFANG_LOG_LEVEL": "DEBUG",
            "RABFANG_ADMINS": f"telegram:{ADMIN},line:{LINE_ADMIN}",
            "RABFANG_PSEUDONYM_KEY": PSEUDONYM_KEY,
            "RABFANG_EXPORT_LINK_KEY": LINK_KEY,
        }
        env = both_environment(api, line, db, **extra)
        env["RABFANG_PUBLIC_URL"] = base_url(env)
        platform = LinePlatform(line, base_url(env) + "/webhooks/line")
        try:
            with log_path.open("wb") as log:
                proc = await start_run(api, env, tmp_path, log)
                try:
                    await telegram_polling_session(api, db, catalog)
                    await line_session(platform, line, db, catalog)
                    await broadcast_session(api, line)
                finally:
                    await stop(proc)
                hooked = {
                    **env,
                    "TELEGRAM_WEBHOOK_URL": "https://rabfang.example.org" + WEBHOOK_PATH,
                    "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
                }
                proc = await start_webhook_run(api, hooked, tmp_path, log)
                try:
                    await telegram_webhook_session(api, hooked, db)
                    await line_act(platform, line, NamedLineUser(platform, LINE_ALICE).text("/status"))
                finally:
                    await stop(proc)
        finally:
            await platform.aclose()
        forbidden = secrets_and_ids(line) | {f"signed export link {n}": s for n, s in enumerate(secrets_seen)}

    text = log_path.read_text("utf-8", errors="replace")
    # The session did what it says: each situation left its (harmless) trace.
    for trace in (
        " DEBUG ",
        "telegram channel started",
        "line channel started",
        "blocked the bot",
        "refused a LINE webhook with a bad signature",
        "could not store 1 line event",
        "not stored; fetching it again",
        "not stored; answering 500",
        "broadcast 1 finished",
        "webhook set",
        "stopped",
    ):
        assert trace in text, f"the log shows no {trace!r}: the session did not do what it should"
    leaks = {what: value for what, value in forbidden.items() if value in text}
    assert not leaks, f"found in the log: {sorted(leaks)}"
    # Thai text is logged nowhere either (answers and names are the participants').
    assert not re.search(r"[\u0e00-\u0e7f]{4,}", text), "Thai text in the log: a participant's words?"


# ---- the redaction filter, record by record ---------------------------------------------------

LINE_TOKEN = "line-access-Tapir-31337-never-log-me"


@pytest.fixture
def logged() -> Iterator[io.StringIO]:
    """What reaches a root handler once `configure` has run (as `rabfang run` does), at DEBUG
    with every secret set; the root logger is put back as it was afterwards."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    filters = {h: list(h.filters) for h in handlers}
    levels = {name: logging.getLogger(name).level for name in (*QUIET, "telegram.ext")}
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    settings = Settings(
        _env_file=None,
        log_level="DEBUG",
        telegram_bot_token=TOKEN,
        telegram_webhook_secret=WEBHOOK_SECRET,
        line_channel_secret=CHANNEL_SECRET,
        line_channel_access_token=LINE_TOKEN,
        pseudonym_key=PSEUDONYM_KEY,
        export_link_key=LINK_KEY,
    )
    configure(settings, handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        for h, kept in filters.items():
            h.filters[:] = kept
        for name, was in levels.items():
            logging.getLogger(name).setLevel(was)


def alice_update() -> Update:
    first, last, username = NAMES[ALICE]
    user = User(id=ALICE, first_name=first, last_name=last, username=username, is_bot=False, language_code="en")
    chat = Chat(id=ALICE, type="private", first_name=first, last_name=last, username=username)
    message = Message(message_id=7, date=datetime(2026, 11, 25, 3, tzinfo=UTC), chat=chat, from_user=user, text=COMMENT)
    return Update(update_id=90_001, message=message)


def leaks_in(text: str) -> list[str]:
    forbidden = {
        "bot token": TOKEN,
        "bot token's secret part": TOKEN.split(":", 1)[1],
        "LINE channel secret": CHANNEL_SECRET,
        "LINE access token": LINE_TOKEN,
        "webhook secret": WEBHOOK_SECRET,
        "pseudonym key": PSEUDONYM_KEY,
        "link key": LINK_KEY,
        "user id": str(ALICE),
        "LINE user id": LINE_ALICE,
        "comment": "Gossamer-Tangerine-4471",
        **dict(zip(("first name", "last name", "username"), NAMES[ALICE], strict=True)),
    }
    return sorted(what for what, value in forbidden.items() if value in text)


def test_python_telegram_bots_debug_lines_carry_no_user(logged: io.StringIO) -> None:
    update = alice_update()
    assert str(ALICE) in repr(update) and "Zephyrine" in repr(update)  # what the filter is up against
    logging.getLogger("telegram.ext.Application").debug("Processing update %s", update)
    assert logged.getvalue() == "", "PTB's DEBUG is quieted by default"
    logging.getLogger("telegram").setLevel(logging.DEBUG)  # someone turned it on: still nothing personal
    logging.getLogger("telegram.ext.Application").debug("Processing update %s", update)
    logging.getLogger("telegram.ext.Updater").debug("Update received: %s", update.to_dict())
    logging.getLogger("telegram.ext.ExtBot").debug("as JSON: %s", json.dumps(update.to_dict(), ensure_ascii=False))
    logging.getLogger("telegram.ext.ExtBot").debug(
        "Calling Bot API endpoint `sendMessage` with parameters `%s`", {"chat_id": ALICE, "text": COMMENT}
    )
    text = logged.getvalue()
    assert len(text.splitlines()) == 4
    assert "Processing update Update(" in text and "message_id=7" in text and "update_id=90001" in text
    assert "'first_name': <redacted>" in text and '"username": <redacted>' in text
    assert not leaks_in(text), leaks_in(text)
    assert not re.search(r"[\u0e00-\u0e7f]", text), "the participant's words"


def test_httpx_request_lines_carry_no_bot_token(logged: io.StringIO) -> None:
    url = httpx.URL(f"https://api.telegram.org/bot{TOKEN}/getUpdates")
    line = 'HTTP Request: %s %s "%s %d %s"'
    logging.getLogger("httpx").info(line, "POST", url, "HTTP/1.1", 200, "OK")
    assert logged.getvalue() == "", "httpx's INFO is quieted"
    logging.getLogger("httpx").warning(line, "POST", url, "HTTP/1.1", 502, "Bad Gateway")
    other = "https://api.telegram.org/bot987654321:AAE_another-token-of-the-right-shape0/sendMessage"
    logging.getLogger("httpcore.connection").warning("connect failed: %s", other)
    text = logged.getvalue()
    assert "HTTP Request: POST https://api.telegram.org/bot<redacted>/getUpdates" in text
    assert "/bot<bot-token>/sendMessage" in text and "AAE_another" not in text
    assert not leaks_in(text), leaks_in(text)


def test_our_own_lines_and_tracebacks_are_redacted(logged: io.StringIO) -> None:
    log = logging.getLogger("rabfang.test")
    for secret in (TOKEN, CHANNEL_SECRET, LINE_TOKEN, WEBHOOK_SECRET, PSEUDONYM_KEY, LINK_KEY):
        log.info("%s", secret)
    log.info("pushing to %s and %s", LINE_ALICE, ALICE)
    try:
        raise RuntimeError(f"bad token {TOKEN} for {LINE_ALICE}: {{'first_name': 'Zephyrine'}}")
    except RuntimeError:
        log.exception("failed for %s", ALICE)
    log.info("not %s enough", "args", "for the format")  # a broken call still comes out, redacted
    text = logged.getvalue()
    assert "Traceback (most recent call last)" in text and "RuntimeError: bad token <redacted> for <line-id>" in text
    assert "pushing to <line-id> and <number>" in text
    assert not leaks_in(text), leaks_in(text)


def test_ordinary_lines_are_left_alone() -> None:
    redact = Redactor(["abc"])  # too short to mask: it would blank ordinary words
    for line in (
        "broadcast 1 finished: sent 4, failed 1, blocked 0",
        "job outreach-sweep: next run 2026-11-25 10:00:30+07:00",
        "pushing to P3f2a9c01b4d7e6a on LINE failed (ClientError)",
        "pushing to P3f20123456789a on LINE failed (ClientError)",  # digits inside a pseudonym stay
        "scheduled export written to data/exports/2026-11-25_1000",
        "listening on http://127.0.0.1:8080",
    ):
        assert redact(line) == line
