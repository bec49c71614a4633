"""Admin commands, the same from the command line and from chat: sessions, broadcast, stats, the
Delphi round 2 of an area (open, close, list).

In chat they are for the ids in RABFANG_ADMINS only; anyone else gets exactly what an unknown
command gets, so their existence is not revealed."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from storage import Database
from storage import delphi as rounds
from storage import outreach as q

from .config import Settings
from .engine.input import clean_text
from .i18n import BANGKOK, tr, when
from .live import LiveControl, LiveError
from .model import Reply
from .outreach import in_quiet_hours
from .surveys import Catalog

ADMIN_COMMANDS = ("sessions", "broadcast", "stats", "export", "delphi", "live")


MAX_ID = 2**63 - 1  # both backends' integer: a larger id names nothing (and SQLite cannot even bind it)
MAX_CAPACITY = 100_000  # seats in one session: more is a typo
YEARS = range(2000, 2101)  # a consultation's dates: outside them a typo (year 0001 or 9999 overflows)


class UsageError(Exception):
    """Bad arguments to an admin command; the message says how to use it. `syntax`: the words do
    not fit the command (told with the command's usage in the admin's language)."""

    def __init__(self, message: str, *, syntax: bool = False):
        super().__init__(message)
        self.syntax = syntax


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message}\n\n{self.format_usage()}", syntax=True)

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        raise UsageError(message or self.format_help())


def when_arg(value: str) -> datetime:
    """ISO 8601 in the years a consultation can mean; a time without a zone is Bangkok time."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from exc
    if parsed.year not in YEARS:
        raise argparse.ArgumentTypeError(f"{value!r} is not between {YEARS.start} and {YEARS.stop - 1}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=BANGKOK)


def whole(value: str, low: int, high: int, what: str) -> int:
    """A whole number from `low` to `high` (Thai digits too: int() reads them; '²' it refuses)."""
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be a whole number: {value!r}") from None
    if not low <= n <= high:
        raise argparse.ArgumentTypeError(f"{what} must be from {low} to {high}: {value!r}")
    return n


def id_arg(value: str) -> int:
    """A session's id: checked here, so both backends answer a huge one alike (as a usage error)."""
    return whole(value, 1, MAX_ID, "an id")


def capacity_arg(value: str) -> int:
    return whole(value, 1, MAX_CAPACITY, "--capacity")


def add_sessions_commands(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    add = sub.add_parser("add", help="announce a focus-group session")
    add.add_argument("--area", required=True)
    add.add_argument("--title-th", required=True)
    add.add_argument("--title-en", required=True)
    add.add_argument("--starts", required=True, type=when_arg, help="ISO 8601; no zone = Bangkok time")
    add.add_argument("--ends", type=when_arg)
    add.add_argument("--place", help="a place or an online link")
    add.add_argument("--capacity", type=capacity_arg)
    sub.add_parser("list", help="sessions with their registrations")
    cancel = sub.add_parser("cancel", help="cancel a session; its registrants are told")
    cancel.add_argument("id", type=id_arg)
    move = sub.add_parser("move", help="move a session; its registrants are told")
    move.add_argument("id", type=id_arg)
    move.add_argument("--starts", required=True, type=when_arg)
    move.add_argument("--ends", type=when_arg)


def closes_arg(value: str) -> datetime:
    """When a round closes: ISO 8601 (no zone = Bangkok time); a bare date includes that whole day
    (it closes at 00:00 the day after, written as 23:59 of that day: bot.i18n.when(until=True))."""
    parsed = when_arg(value)
    return parsed + timedelta(days=1) if len(value) == 10 else parsed


def add_delphi_commands(parser: argparse.ArgumentParser) -> None:
    """`delphi open --area AREA [--closes DATE]`, `delphi close --area AREA`, `delphi list`; in chat
    the area and the date may come without their flags: `/delphi open education 2026-12-20`."""
    sub = parser.add_subparsers(dest="action", required=True)
    opening = sub.add_parser("open", help="open round 2 of an area and invite everyone who completed round 1")
    opening.add_argument("where", nargs="?", metavar="AREA", help=argparse.SUPPRESS)
    opening.add_argument("until", nargs="?", type=closes_arg, metavar="DATE", help=argparse.SUPPRESS)
    opening.add_argument("--area")
    opening.add_argument("--closes", type=closes_arg, help="ISO 8601 (no zone = Bangkok time); a date: its end")
    closing = sub.add_parser("close", help="close the open round of an area; later answers are refused")
    closing.add_argument("where", nargs="?", metavar="AREA", help=argparse.SUPPRESS)
    closing.add_argument("--area")
    sub.add_parser("list", help="the rounds, open and closed")


def add_live_commands(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    start = sub.add_parser("start", help="run a session live: its code, check-in links and QR codes")
    start.add_argument("id", type=id_arg)
    stop = sub.add_parser("stop", help="end a live session")
    stop.add_argument("id", type=id_arg, nargs="?")
    nxt = sub.add_parser("next", help="open the next capability of the session's area")
    nxt.add_argument("--session", type=id_arg)
    opened = sub.add_parser("open", help="open a capability: area.item, its id, or its number in the area")
    opened.add_argument("capability")
    opened.add_argument("--session", type=id_arg)
    close = sub.add_parser("close", help="close the capability open now")
    close.add_argument("--session", type=id_arg)


def audience_arg(value: str) -> str:
    """`all`, `area:<id>` or `session:<id>`, the session's id a number in range, written in ASCII
    digits as storage reads it ('session:²' was a crash)."""
    kind, _, ref = value.partition(":")
    if kind == "session":
        return f"session:{id_arg(ref)}"
    return value


def add_broadcast_command(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--to", required=True, type=audience_arg, help="all | area:<id> | session:<id>")
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
            raise UsageError("--to must be all, area:<id> or session:<id>", syntax=True)
        people = await q.audience(self.db, args.to)
        bid = await q.create_broadcast(self.db, args.to, args.th, args.en, requested_by, self.now())
        self.doorbell.ring()  # start sending now rather than at the next sweep
        return f"broadcast {bid} queued for {len(people)} participant(s); a delivery report follows when it is done"

    async def delphi(self, args: argparse.Namespace) -> str:
        """Open, close or list the Delphi rounds (see storage.delphi and bot.engine.delphi)."""
        if args.action == "list":
            found = await rounds.rounds(self.db)
            if not found:
                return "no Delphi rounds"
            lines = []
            for r in found:
                state = f"closed {when(r.closed_at, 'en')}" if r.closed_at else "open"
                closes = f" until {when(r.closes_at, 'en', until=True)}" if r.closes_at and not r.closed_at else ""
                lines.append(f"{r.area}\tround {r.round}\t{state}{closes}\topened {when(r.opened_at, 'en')}")
            return "\n".join(lines)
        area = args.area or args.where
        if area is None:
            raise UsageError(f"which area? --area AREA, one of: {', '.join(self.catalog.areas)}")
        if area not in self.catalog.areas:
            raise UsageError(f"unknown area {area!r}; one of: {', '.join(self.catalog.areas)}")
        now = self.now()
        if args.action == "close":
            closed = await rounds.close_round(self.db, area, now)
            if closed is None:
                return f"no open round of {area}"
            return f"round {closed.round} of {area} closed; later round-{closed.round} answers are refused"
        closes = args.closes or args.until
        if closes is not None and closes <= now:
            raise UsageError("--closes must be in the future")
        questions = [
            s.key for s in self.catalog.flow(area) if s.item is not None and s.question.kind in ("rating", "level")
        ]
        if not questions:
            raise UsageError(f"{area} has no rating or level questions to ask again")
        levels = max(5, len(self.catalog.common.levels))
        r, opened = await rounds.open_round(self.db, area, questions, closes, now, levels)
        people = await q.unclaimed(
            self.db, rounds.INVITATION, rounds.invitation_ref(area, r.round), await rounds.invitees(self.db, area)
        )
        self.doorbell.ring()  # invite now rather than at the next sweep
        until = f" until {when(r.closes_at, 'en', until=True)} (Bangkok)" if r.closes_at else ""
        if not opened:
            return (
                f"round {r.round} of {area} is already open{until}; "
                "nobody is invited twice (those who completed round 1 since are invited)"
            )
        later = " from 08:00 Bangkok time (quiet hours now)" if in_quiet_hours(now) else ""
        return (
            f"round {r.round} of {area} opened{until}; {len(people)} participant(s) who completed round 1 "
            f"and were not invited yet will be invited by the running bot{later}"
        )

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

    async def chat(self, command: str, arg: str, requested_by: str, lang: str | None = None) -> list[Reply]:
        """An admin command typed in chat, e.g. `/sessions cancel 3`: its text cleaned as a
        participant's is (no NUL or other control character reaches storage); words that do not fit
        the command are answered with its usage in the admin's language (`lang`; None: both)."""
        arg = clean_text(arg)
        try:
            words = shlex.split(arg.replace("“", '"').replace("”", '"'))
        except ValueError as exc:
            return [usage(lang, command, str(exc))]
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
            if command == "delphi":
                parser = _Parser(prog="/delphi")
                add_delphi_commands(parser)
                return [Reply(await self.delphi(parser.parse_args(words or ["list"])))]
            if command == "export":
                return [await self.export(requested_by.partition(":")[0])]
        except UsageError as exc:
            return [usage(lang, command, str(exc)) if exc.syntax else Reply(str(exc))]
        return []


def usage(lang: str | None, command: str, detail: str) -> Reply:
    """What an admin is told when a command's words do not fit it: how to write it, in their
    language, then what did not fit (argparse's words)."""
    return Reply(tr(lang, "admin_usage", command=command, usage=tr(lang, f"admin_usage_{command}"), detail=detail))
