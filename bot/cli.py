"""`rabfang` command line: a thin layer over the library."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Collection
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import ValidationError

from storage.leases import AlreadyRunning

from .admin import (
    UsageError,
    add_broadcast_command,
    add_delphi_commands,
    add_live_commands,
    add_sessions_commands,
    when_arg,
)
from .config import Settings
from .logs import configure as configure_logging
from .surveys import SURVEY_DIR, Catalog, SurveyError, load_catalog, survey_files
from .surveys.xlsform import export_workbook, read_workbook, write_yaml


def _until(value: str) -> datetime:
    """Like when_arg, but a bare date includes that whole day."""
    parsed = when_arg(value)
    return parsed + timedelta(days=1) if len(value) == 10 else parsed


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rabfang", description="รับฟัง: a LINE and Telegram consultation bot.")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="converse with the bot in this terminal (the console channel)")
    demo.add_argument("--user", default="demo", help="console participant id; the same id resumes (default: demo)")

    sub.add_parser("run", help="run every configured channel and the scheduler until SIGINT/SIGTERM")

    export = sub.add_parser("export", help="write the CSV export set")
    export.add_argument("--out", type=Path, required=True, help="output folder")
    export.add_argument("--area", help="only this area")
    export.add_argument("--since", type=when_arg, help="answers from this date (Bangkok time)")
    export.add_argument("--until", type=_until, help="answers before this date (Bangkok time)")
    export.add_argument("--channel", help="only this channel: line, telegram, console")
    export.add_argument("--format", choices=("csv", "xlsx"), default="csv", help="CSV files (default) or one workbook")
    export.add_argument(
        "--ckan", action="store_true", help="also write ckan.json: the CKAN dataset metadata for data.go.th (CSV only)"
    )

    report = sub.add_parser("report", help="write the HTML report (self-contained; Thai, English available)")
    report.add_argument("--out", type=Path, required=True, help="output file, e.g. report.html")
    report.add_argument("--area", help="only this area")
    report.add_argument("--lang", choices=("th", "en"), default="th", help="language shown first (default: th)")

    sessions = sub.add_parser("sessions", help="focus-group sessions: add, list, cancel, move")
    add_sessions_commands(sessions)
    broadcast = sub.add_parser("broadcast", help="send a message to participants (sent by the running bot)")
    add_broadcast_command(broadcast)
    sub.add_parser("stats", help="participants and completions per area and channel")
    delphi = sub.add_parser("delphi", help="a Delphi round 2 of an area: open (invites), close, list")
    add_delphi_commands(delphi)
    live = sub.add_parser("live", help="a live focus-group session: start, next, open, close, stop")
    add_live_commands(live)
    live.add_argument("--qr-dir", type=Path, default=Path("."), help="where `start` writes its QR codes (PNG)")

    backup = sub.add_parser("backup", help="an online backup of the database, safe while the bot runs")
    backup.add_argument("--out", type=Path, required=True, help="the backup file to write")

    line = sub.add_parser("line", help="the LINE Official Account's set-up")
    line_sub = line.add_subparsers(dest="line_command", required=True)
    richmenu = line_sub.add_parser(
        "richmenu", help="draw the Thai and English rich menus and put them on LINE (safe to run again after edits)"
    )
    richmenu.add_argument("--data-url", help="the host images go to (default: the api-data host of LINE_API_BASE_URL)")

    surveys = sub.add_parser("surveys", help="survey files")
    surveys_sub = surveys.add_subparsers(dest="surveys_command", required=True)
    validate = surveys_sub.add_parser(
        "validate", help="check survey files or a workbook; report every error with file, field, line or cell"
    )
    validate.add_argument("files", nargs="*", type=Path, help="area files or one .xlsx (default: every file in use)")
    validate.add_argument("--strict", action="store_true", help="a workbook's warnings count as errors")
    export_surveys = surveys_sub.add_parser("export", help="write the surveys in use as one workbook (XLSForm-shaped)")
    export_surveys.add_argument("--out", type=Path, required=True, help="the workbook to write, e.g. surveys.xlsx")
    import_surveys = surveys_sub.add_parser(
        "import", help="turn a workbook into survey files (common.yaml + one per area)"
    )
    import_surveys.add_argument("workbook", type=Path, help="the .xlsx to read")
    import_surveys.add_argument(
        "--out", type=Path, required=True, help="the folder to write (new or holding only these)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8", errors="replace")
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "settings"
            print(f"rabfang: {where}: {error['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return 2
    configure_logging(settings)  # once, before anything logs: levels, and redaction of every record
    try:
        if args.command == "surveys":
            return SURVEY_COMMANDS[args.surveys_command](settings, args)
        return asyncio.run(COMMANDS[args.command](settings, args))
    except SurveyError as exc:
        print(f"rabfang: the survey files are invalid:\n{exc}", file=sys.stderr)
        return 2
    except UsageError as exc:
        print(f"rabfang: {exc}", file=sys.stderr)
        return 2
    except AlreadyRunning as exc:
        print(f"rabfang: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _is_workbook(path: Path) -> bool:
    return path.suffix.lower() in (".xlsx", ".xlsm", ".xls")  # .xls is refused by name, not read as YAML


def _read_workbook(settings: Settings, path: Path, strict: bool = False) -> Catalog | None:
    """The workbook's catalog, or None after printing its errors; its warnings (what was skipped,
    kept from the surveys in use, or ignored) are printed apart either way, and under `strict`
    they are errors too."""
    imported = read_workbook(path, base=lambda: load_catalog(settings.surveys_dir))
    for problem in imported.problems:
        print(f"error: {problem}", file=sys.stderr)
    for note in imported.notes:
        print(f"warning: {note}", file=sys.stderr)
    failed = imported.catalog is None or (strict and bool(imported.notes))
    if imported.problems or imported.notes:
        verdict = " (--strict: warnings count as errors)" if strict and imported.notes else ""
        print(f"{len(imported.problems)} error(s), {len(imported.notes)} warning(s){verdict}.", file=sys.stderr)
    return None if failed else imported.catalog


def _print_areas(catalog: Catalog) -> None:
    for area in catalog.areas.values():
        print(f"ok  {area.id}: {len(area.items)} items, {len(catalog.flow(area.id))} questions")


def surveys_validate(settings: Settings, args: argparse.Namespace) -> int:
    books = [f for f in args.files if _is_workbook(f)]
    if books:
        if len(args.files) > 1:
            raise UsageError("validate one workbook at a time, without YAML files")
        catalog = _read_workbook(settings, books[0], strict=args.strict)
        if catalog is None:
            return 1
        _print_areas(catalog)
        print(f"{books[0]}: valid (survey version {catalog.version}).")
        return 0
    return validate_surveys(settings, args.files)


def surveys_export(settings: Settings, args: argparse.Namespace) -> int:
    catalog = load_catalog(settings.surveys_dir)
    export_workbook(catalog, args.out)
    print(f"{args.out}: {len(catalog.areas)} areas, survey version {catalog.version}")
    return 0


def surveys_import(settings: Settings, args: argparse.Namespace) -> int:
    catalog = _read_workbook(settings, args.workbook)
    if catalog is None:
        return 1
    try:
        paths = write_yaml(catalog, args.out, args.workbook.name)
    except FileExistsError as exc:
        raise UsageError(str(exc)) from None
    for path in paths:
        print(path)
    written = load_catalog(args.out)  # what the bot will load: it must be what the workbook said
    assert written.version == catalog.version, (written.version, catalog.version)
    _print_areas(written)
    print(f"survey version {written.version}; use it with RABFANG_SURVEYS_DIR={args.out} and restart the bot.")
    return 0


def validate_surveys(settings: Settings, files: list[Path]) -> int:
    directory = settings.surveys_dir or SURVEY_DIR
    try:
        catalog = load_catalog(directory, files or None)
    except SurveyError as exc:
        print(exc, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s) found.", file=sys.stderr)
        return 1
    checked = files or survey_files(directory)
    _print_areas(catalog)
    print(f"{len(checked)} file(s) valid (survey version {catalog.version}).")
    return 0


async def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from .app import open_app
    from .handlers.console import run_console

    async with open_app(settings) as app:
        await run_console(app.service, args.user)
    return 0


async def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from .runner import run

    return await run(settings)


CHANNELS = ("line", "telegram", "console")


def _check_scope(areas: Collection[str], area: str | None, channel: str | None = None) -> str | None:
    """An error message for an unknown area or channel, else None."""
    if area is not None and area not in areas:
        return f"unknown area {area!r}; areas: {', '.join(areas)}"
    if channel is not None and channel not in CHANNELS:
        return f"unknown channel {channel!r}; channels: {', '.join(CHANNELS)}"
    return None


async def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    from exports import write_export
    from exports.progress import terminal_progress
    from storage.queries import Filter

    from .app import open_app

    if args.since and args.until and args.since >= args.until:
        print("rabfang: --since must be before --until", file=sys.stderr)
        return 2
    if args.ckan and args.format != "csv":
        print("rabfang: --ckan describes the CSV files: use it without --format xlsx", file=sys.stderr)
        return 2
    flt = Filter(area=args.area, channel=args.channel, since=args.since, until=args.until)
    async with open_app(settings) as app:
        if problem := _check_scope(app.catalog.areas, args.area, args.channel):
            print(f"rabfang: {problem}", file=sys.stderr)
            return 2
        bar = terminal_progress(sys.stderr)
        try:
            result = await write_export(
                app.db,
                args.out,
                flt,
                bar,
                args.format,
                catalog=app.catalog,
                license=settings.open_data_license,
                ckan=args.ckan,
            )
        finally:
            if bar:
                bar.close()
    for name, n in result.rows.items():
        print(f"{args.out / name}: {n} rows")
    for name, what in (("datapackage.json", "Frictionless Data Package"), ("ckan.json", "CKAN dataset metadata")):
        if name in result.files:
            print(f"{args.out / name}: {what} (licence {settings.open_data_license})")
    print(f"{args.out / 'README.txt'}: column descriptions")
    return 0


async def cmd_report(settings: Settings, args: argparse.Namespace) -> int:
    from exports.report import write_report

    from .app import open_app

    async with open_app(settings) as app:
        if problem := _check_scope(app.catalog.areas, args.area):
            print(f"rabfang: {problem}", file=sys.stderr)
            return 2
        path = await write_report(app.db, app.catalog, args.out, area=args.area, lang=args.lang)
    print(path)
    return 0


async def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    from storage.retention import backup

    if not isinstance(settings.db, Path):
        print(
            "rabfang: backup copies a SQLite file; RABFANG_DB is a PostgreSQL database: back it up with"
            ' pg_dump (docs/operations.md, "Backups on PostgreSQL"), e.g. pg_dump --format=custom --file=rabfang.dump "$RABFANG_DB"',
            file=sys.stderr,
        )
        return 2
    if not settings.db.exists():
        print(f"rabfang: no database at {settings.db}", file=sys.stderr)
        return 1
    pages = await asyncio.to_thread(backup, settings.db, args.out)
    print(f"{args.out}: {pages} pages, integrity ok")
    return 0


async def cmd_admin(settings: Settings, args: argparse.Namespace) -> int:
    from .app import open_app

    async with open_app(settings) as app:
        admin = app.service.admin
        if args.command == "sessions":
            print(await admin.sessions(args))
        elif args.command == "broadcast":
            print(await admin.broadcast(args, requested_by=None))
        elif args.command == "delphi":
            print(await admin.delphi(args))
        elif args.command == "live":
            for reply in await admin.live(args, requested_by=None):
                if reply.attachment is None:
                    print(reply.text)
                    continue
                args.qr_dir.mkdir(parents=True, exist_ok=True)
                path = args.qr_dir / reply.attachment.filename
                path.write_bytes(reply.attachment.content)
                print(f"QR code: {path}")
        else:
            print(await admin.stats())
    return 0


async def cmd_line(settings: Settings, args: argparse.Namespace) -> int:
    from .handlers.line.richmenu import FontMissing, SyncFailed, publish

    if settings.line_channel_access_token is None:
        print("rabfang: LINE_CHANNEL_ACCESS_TOKEN is not set", file=sys.stderr)
        return 2
    token = settings.line_channel_access_token.get_secret_value()
    try:
        done = await publish(settings.line_api_base_url, token, data_url=args.data_url)
    except (FontMissing, SyncFailed) as exc:
        print(f"rabfang: {exc}", file=sys.stderr)
        return 1
    for name in done.created:
        print(f"created  {name}")
    for name in done.kept:
        print(f"kept     {name} (unchanged)")
    for name in done.deleted:
        print(f"deleted  {name} (replaced; its users moved to the new one)")
    for name in done.left:
        print(f"left     {name} (its users are still being moved; run again later to delete it)")
    print(f"default  {done.default} (Thai)")
    return 0


SURVEY_COMMANDS = {"validate": surveys_validate, "export": surveys_export, "import": surveys_import}

COMMANDS = {
    "sessions": cmd_admin,
    "broadcast": cmd_admin,
    "stats": cmd_admin,
    "delphi": cmd_admin,
    "live": cmd_admin,
    "demo": cmd_demo,
    "run": cmd_run,
    "export": cmd_export,
    "report": cmd_report,
    "backup": cmd_backup,
    "line": cmd_line,
}
