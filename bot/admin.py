"""Admin commands, the same from the command line and from chat: sessions, broadcast, stats.

In chat they are for the ids in RABFANG_ADMINS only; anyone else gets exactly what an unknown
command gets, so their existence is not revealed."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Awaitable, Callable
from datetime import datetime

from storage import Database
from storage import outreach as q

from .config import Settings
from .i18n import BANGKOK, when
from .live import LiveControl, LiveError
from .model import Reply
from .surveys import Catalog

ADMIN_COMMANDS = ("sessions", "broadcast", "stats", "export", "live")


class UsageError(Exception):
    """Bad arguments to an admin command; the message says how to use it."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message}\n\n{self.format_usage()}")

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        raise UsageError(message or self.format_help())


def when_arg(value: str) -> datetime:
    """ISO 8601; a time without a zone is Bangkok time."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=BANGKOK)


def add_sessions_commands(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    add = sub.add_parser("add", help="announce a focus-group session")
    add.add_argument("--area", required=True)
    add.add_argument("--title-th", required=True)
    add.add_argument("--title-en", required=True)
    add.add_argument("--starts", required=True, type=when_arg, help="ISO 8601; no zone = Bangkok time")
    add.add_argument("--ends", type=when_arg)
    add.add_argument("--place", help="a place or an online link")
    add.add_argument("--capacity", type=int)
    sub.add_parser("list", help="sessions with their registrations")
    cancel = sub.add_parser("cancel", help="cancel a session; its registrants are told")
    cancel.add_argument("id", type=int)
    move = sub.add_parser("move", help="move a session; its registrants are told")
    move.add_argument("id", type=int)
    move.add_argument("--starts", required=True, type=when_arg)
    move.add_argument("--ends", type=when_arg)


def add_live_commands(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    start = sub.add_parser("start", help="run a session live: its code, check-in links and QR codes")
    start.add_argument("id", type=int)
    stop = sub.add_parser("stop", help="end a live session")
    stop.add_argument("id", type=int, nargs="?")
    nxt = sub.add_parser("next", help="open the next capability of the session's area")
    nxt.add_argument("--session", type=int)
    opened = sub.add_parser("open", help="open a capability: area.item, its id, or its number in the area")
    opened.add_argument("capability")
    opened.add_argument("--session", type=int)
    close = sub.add_parser("close", help="close the capability open now")
    close.add_argument("--session", type=int)


def add_broadcast_command(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--to", required=True, help="all | area:<id> | session:<id>")
    parser.add_argument("--th", required=True, help="the message in Thai")
    parser.add_argument("--en", required=True, help="the message in English")


class Doorbell:
    """Says "a broadcast is queued" to whoever sends them, without Admin knowing who that is.

    The composition root makes one and gives it to Admin (which rings) and to the outreach sweep
    (which answers by sweeping at once). Unanswered, as in `rabfang broadcast` from another
    process, a ring does nothing: the running bot's next sweep finds the broadcast in the table."""

    def __init__(self) -> None:
        self._answers: list[Callable[[], None]] = []

    def on_ring(self, answer: Callable[[], None]) -> None:
        self._answers.append(answer)

    def ring(self) -> None:
        for answer in self._answers:
            answer()


class Admin:
    """Runs admin commands against the app; returns text for a terminal or a chat."""

    def __init__(
        self,
        db: Database,
        catalog: Catalog,
        settings: Settings,
        now: Callable[[], datetime],
        doorbell: Doorbell | None = None,
        *,
        export: Callable[[str], Awaitable[Reply]] | None = None,
        live: LiveControl | None = None,
    ):
        self.db = db
        self.catalog = catalog
        self.settings = settings
        self.now = now
        self.doorbell = doorbell or Doorbell()  # rung when a broadcast is queued
        self._export = export  # the composition root's: exports/ is not the admin's to import
        self.live_control = live or LiveControl(
            db,
            catalog,
            now,
            self.doorbell.ring,
            line_basic_id=settings.line_basic_id,
            telegram_username=settings.telegram_bot_username,
        )

    async def sessions(self, args: argparse.Namespace) -> str:
        db = self.db
        if args.action == "add":
            if args.area not in self.catalog.areas:
                raise UsageError(f"unknown area {args.area!r}; one of: {', '.join(self.catalog.areas)}")
            if args.capacity is not None and args.capacity < 1:
                raise UsageError("--capacity must be at least 1")
            if args.ends and args.ends <= args.starts:
                raise UsageError("--ends must be after --starts")
            sid = await q.add_session(
                db,
                area=args.area,
                title_th=args.title_th,
                title_en=args.title_en,
                starts_at=args.starts,
                ends_at=args.ends,
                place=args.place,
                capacity=args.capacity,
                now=self.now(),
            )
            return f"session {sid} added: {args.title_en} · {when(args.starts, 'en')} (Bangkok)"
        if args.action == "list":
            rows = await q.list_sessions(db)
            if not rows:
                return "no sessions"
            lines = []
            for s in rows:
                seats = f"{s.taken}/{s.capacity}" if s.capacity else f"{s.taken}"
                lines.append(
                    f"{s.id}\t{s.status}\t{s.area}\t{when(s.starts_at, 'en')}\t{seats} registered\t{s.title_en}"
                )
            return "\n".join(lines)
        if args.action == "cancel":
            ok = await q.cancel_session(db, args.id, self.now())
            return f"session {args.id} cancelled; registrants will be told" if ok else f"no scheduled session {args.id}"
        ok = await q.move_session(db, args.id, args.starts, args.ends, self.now())
        return (
            f"session {args.id} moved to {when(args.starts, 'en')}; registrants will be told"
            if ok
            else f"no scheduled session {args.id}"
        )

    async def broadcast(self, args: argparse.Namespace, requested_by: str | None) -> str:
        kind, _, ref = args.to.partition(":")
        if not (
            args.to == "all" or (kind == "area" and ref in self.catalog.areas) or (kind == "session" and ref.isdigit())
        ):
            raise UsageError("--to must be all, area:<id> or session:<id>")
        people = await q.audience(self.db, args.to)
        bid = await q.create_broadcast(self.db, args.to, args.th, args.en, requested_by, self.now())
        self.doorbell.ring()  # start sending now rather than at the next sweep
        return f"broadcast {bid} queued for {len(people)} participant(s); a delivery report follows when it is done"

    async def stats(self) -> str:
        st = await q.stats(self.db)
        lines = ["participants (all / consented / active) by channel:"]
        for ch, (n, k, a) in sorted(st.participants.items()):
            lines.append(f"  {ch}: {n} / {k} / {a}")
        lines.append("areas (started / completed) by channel:")
        for area in self.catalog.areas:
            per = [f"{ch} {s}/{c}" for (a, ch), (s, c) in sorted(st.areas.items()) if a == area]
            lines.append(f"  {area}: {', '.join(per) or '-'}")
        lines.append(f"answers: {st.answers} · registrations: {st.registrations} · erased on request: {st.deletions}")
        return "\n".join(lines)

    async def live(self, args: argparse.Namespace, requested_by: str | None) -> list[Reply]:
        """`live start|stop|next|open|close`: text, and for `start` its QR codes as images."""
        control = self.live_control
        try:
            if args.action == "start":
                started = await control.start(args.id, requested_by)
                return [Reply(started.text())] + [Reply(a.filename, attachment=a) for a in started.qr_codes()]
            if args.action == "stop":
                return [Reply(await control.stop(args.id))]
            if args.action == "next":
                return [Reply(await control.next(args.session, requested_by))]
            if args.action == "open":
                return [Reply(await control.open(args.capability, args.session, requested_by))]
            return [Reply(await control.close(args.session))]
        except LiveError as exc:
            raise UsageError(str(exc)) from None

    async def export(self, channel: str) -> Reply:
        """The current export for an admin in chat (see bot.app: a zip or a signed link)."""
        if self._export is None:
            return Reply("exports are not available here")
        return await self._export(channel)

    async def chat(self, command: str, arg: str, requested_by: str) -> list[Reply]:
        """An admin command typed in chat, e.g. `/sessions cancel 3`."""
        try:
            words = shlex.split(arg.replace("“", '"').replace("”", '"'))
        except ValueError as exc:
            return [Reply(f"{exc}")]
        try:
            if command == "sessions":
                parser = _Parser(prog="/sessions")
                add_sessions_commands(parser)
                return [Reply(await self.sessions(parser.parse_args(words or ["list"])))]
            if command == "broadcast":
                parser = _Parser(prog="/broadcast")
                add_broadcast_command(parser)
                return [Reply(await self.broadcast(parser.parse_args(words), requested_by))]
            if command == "live":
                parser = _Parser(prog="/live")
                add_live_commands(parser)
                return await self.live(parser.parse_args(words or ["--help"]), requested_by)
            if command == "stats":
                return [Reply(await self.stats())]
            if command == "export":
                return [await self.export(requested_by.partition(":")[0])]
        except UsageError as exc:
            return [Reply(str(exc))]
        return []
