"""Live focus-group sessions, the organizer's side: starting and stopping one, the facilitator's
`next` / `open <capability>` / `close`, the code and its links (LINE's oaMessage link, Telegram's
deep link) with their QR codes. The same from the command line (`rabfang live …`), from chat
(`/live …`, admins only, bot.admin) and from the presenter page's buttons.

Opening a capability stores it and rings the doorbell: the running bot's outreach sends its
questions to everyone checked in (bot.outreach.Outreach.live: a LINE multicast, paced Telegram
pushes, each delivery claimed once). The participant's side is bot/engine/live.py."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

import segno

from storage import Database
from storage import live as q
from storage.live import LiveSession

from .model import Attachment
from .surveys import Catalog


class LiveError(Exception):
    """A live command that cannot be done; the message says why (for a terminal or a chat)."""


def line_link(basic_id: str, code: str) -> str:
    """LINE's URL scheme for a message to an Official Account, the text filled in:
    `https://line.me/R/oaMessage/{LINE ID}/?{text}` (the basic ID with its `@`, percent-encoded)."""
    return f"https://line.me/R/oaMessage/{quote(basic_id, safe='')}/?{quote('live ' + code)}"


def telegram_link(username: str, code: str) -> str:
    """Telegram's deep link: opening it sends `/start live_<code>` to the bot."""
    return f"https://t.me/{username.lstrip('@')}?start=live_{code}"


def links(line_basic_id: str | None, telegram_username: str | None, code: str) -> dict[str, str]:
    """The check-in links of a code, by channel (those whose bot name is configured)."""
    out = {}
    if line_basic_id:
        out["line"] = line_link(line_basic_id, code)
    if telegram_username:
        out["telegram"] = telegram_link(telegram_username, code)
    return out


def qr_png(url: str, scale: int = 8) -> bytes:
    buf = io.BytesIO()
    segno.make(url, error="m").save(buf, kind="png", scale=scale, border=2)
    return buf.getvalue()


def qr_svg(url: str) -> str:
    """An inline SVG (no XML declaration), scalable to any size by CSS."""
    buf = io.BytesIO()
    segno.make(url, error="m").save(buf, kind="svg", xmldecl=False, svgns=True, omitsize=True, border=2)
    return buf.getvalue().decode()


@dataclass(frozen=True)
class Started:
    session: LiveSession
    links: dict[str, str]
    presenter: str | None  # the presenter page's signed link, when the bot has a public address

    def text(self) -> str:
        s = self.session
        lines = [f"live session {s.session_id} running: {s.title_en}", f"code: {s.code}"]
        lines += [f"{channel}: {url}" for channel, url in self.links.items()]
        if not self.links:
            lines.append("(set RABFANG_LINE_BASIC_ID / RABFANG_TELEGRAM_BOT_USERNAME for check-in links)")
        lines.append(f"participants may also type: live {s.code}")
        if self.presenter:
            lines.append(f"presenter page (do not share; expires): {self.presenter}")
        lines.append("then: live next | open <capability> | close | stop (/live … in chat, rabfang live … here)")
        return "\n".join(lines)

    def qr_codes(self) -> list[Attachment]:
        return [
            Attachment(f"rabfang-live-{self.session.session_id}-{channel}.png", qr_png(url), "image/png")
            for channel, url in self.links.items()
        ]


class LiveControl:
    """What an organizer does with a live session. `presenter` makes the presenter page's signed
    link (the composition root's: exports/ is not this module's to import)."""

    def __init__(
        self,
        db: Database,
        catalog: Catalog,
        now: Callable[[], datetime],
        ring: Callable[[], None],
        *,
        line_basic_id: str | None = None,
        telegram_username: str | None = None,
        presenter: Callable[[int], Awaitable[str | None]] | None = None,
    ):
        self.db = db
        self.catalog = catalog
        self.now = now
        self.ring = ring
        self.line_basic_id = line_basic_id
        self.telegram_username = telegram_username
        self.presenter = presenter

    def links(self, code: str) -> dict[str, str]:
        return links(self.line_basic_id, self.telegram_username, code)

    async def start(self, session_id: int, requested_by: str | None = None) -> Started:
        session = await q.start(self.db, session_id, requested_by, self.now())
        if session is None:
            raise LiveError(f"no session {session_id} (see `rabfang sessions list`)")
        url = await self.presenter(session_id) if self.presenter else None
        return Started(session, self.links(session.code), url)

    async def stop(self, session_id: int | None = None) -> str:
        session = await self.session(session_id)
        await q.stop(self.db, session.session_id, self.now())
        return f"live session {session.session_id} stopped; its answers are in the export (source live)"

    async def session(self, session_id: int | None) -> LiveSession:
        """The live session named, or the only one running."""
        if session_id is not None:
            found = await q.get(self.db, session_id)
            if found is None or not found.running:
                raise LiveError(f"session {session_id} is not running live (/live start {session_id})")
            return found
        running = await q.running(self.db)
        if not running:
            raise LiveError("no live session is running (/live start <session id>)")
        if len(running) > 1:
            ids = ", ".join(str(s.session_id) for s in running)
            raise LiveError(f"several live sessions are running ({ids}): add --session <id>")
        return running[0]

    def capabilities(self, area: str) -> list[str]:
        found = self.catalog.areas.get(area)
        return [f"{area}.{item.id}" for item in found.items] if found else []

    def resolve(self, session: LiveSession, name: str) -> str:
        """A capability by `area.item`, its item id in the session's area, or its number there."""
        mine = self.capabilities(session.area)
        everything = [c for a in self.catalog.areas for c in self.capabilities(a)]
        if name.isdecimal() and len(name) <= 4 and 1 <= int(name) <= len(mine):  # '²' is a digit int() refuses
            return mine[int(name) - 1]
        for candidates in (everything, mine):
            for c in candidates:
                if name in (c, c.partition(".")[2]):
                    return c
        listed = ", ".join(f"{n}. {c.partition('.')[2]}" for n, c in enumerate(mine, 1))
        raise LiveError(f"unknown capability {name!r}; in {session.area}: {listed}")

    def describe(self, item: str) -> str:
        area, _, item_id = item.partition(".")
        found = next((i for i in self.catalog.areas[area].items if i.id == item_id), None)
        return f"{item} ({found.capability.en})" if found else item

    async def open(self, name: str, session_id: int | None = None, requested_by: str | None = None) -> str:
        session = await self.session(session_id)
        item = self.resolve(session, name)
        await q.open_item(self.db, session.session_id, item, requested_by, self.now())
        self.ring()  # the running bot sends its questions now
        return f"opened {self.describe(item)}: its questions go to everyone checked in; /live close to end it"

    async def next(self, session_id: int | None = None, requested_by: str | None = None) -> str:
        session = await self.session(session_id)
        mine = self.capabilities(session.area)
        opened = await q.opened_items(self.db, session.session_id)
        after = session.open_item or (opened[-1] if opened else None)
        start = mine.index(after) + 1 if after in mine else 0
        if start >= len(mine):
            await q.close_item(self.db, session.session_id, self.now())
            return "that was the last capability of the area: closed. /live stop ends the session"
        return await self.open(mine[start], session.session_id, requested_by)

    async def close(self, session_id: int | None = None) -> str:
        session = await self.session(session_id)
        item = await q.close_item(self.db, session.session_id, self.now())
        if item is None:
            return "no capability was open"
        return f"closed {self.describe(item)}: later answers to it are politely refused"
