"""RABFANG_DB: a file path means SQLite, a postgresql:// URL PostgreSQL, anything else is refused at
start-up. Before, `RABFANG_DB=postgresql://…` silently made a SQLite file at `postgresql:/…`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import Settings
from storage import Database, UnsupportedDatabase, database_target


@pytest.mark.parametrize(
    "value",
    ["postgresql://rabfang:secret@db.internal:5432/rabfang", "postgres://rabfang@127.0.0.1/rabfang"],
)
def test_a_postgresql_url_stays_a_url(value: str) -> None:
    assert Settings(_env_file=None, db=value).db == value
    assert database_target(value) == value


@pytest.mark.parametrize("value", ["rabfang.db", "data/rabfang.db", "/var/lib/rabfang/rabfang.db"])
def test_a_path_is_a_sqlite_file(value: str) -> None:
    assert Settings(_env_file=None, db=value).db == Path(value)


@pytest.mark.parametrize(
    "value",
    ["mysql://u:p@h/db", "sqlite:///var/lib/rabfang.db", "postgresql:/u@h/db", "postgresql:u@h/db", "redis://h"],
)
def test_any_other_scheme_is_refused(value: str) -> None:
    with pytest.raises(UnsupportedDatabase, match="RABFANG_DB=postgresql://user:password@host:5432/dbname"):
        database_target(value)
    with pytest.raises(ValueError, match="cannot use a"):
        Settings(_env_file=None, db=value)


async def test_opening_a_mangled_url_as_a_path_is_refused(tmp_path: Path) -> None:
    """What Path() made of a URL is never opened as a file."""
    with pytest.raises(UnsupportedDatabase):
        await Database.open(Path("postgresql://u@h/db"))
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("command", [["run"], ["export", "--out", "out"], ["stats"], ["backup", "--out", "b.db"]])
@pytest.mark.parametrize("value", ["mysql://u:p@127.0.0.1/rabfang", "postgresql:/u@127.0.0.1/rabfang"])
def test_the_command_line_refuses_an_unknown_database_before_doing_anything(
    tmp_path: Path, command: list[str], value: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RABFANG_", "LINE_", "TELEGRAM_"))}
    env["RABFANG_DB"] = value
    done = subprocess.run(
        [sys.executable, "-m", "bot", *command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr
    assert "rabfang: db: RABFANG_DB: cannot use a" in done.stderr and "postgresql://" in done.stderr
    assert "Traceback" not in done.stderr
    assert not list(tmp_path.iterdir())  # no file, no folder named after the URL


def test_backup_on_postgresql_points_to_pg_dump(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RABFANG_", "LINE_", "TELEGRAM_"))}
    env["RABFANG_DB"] = "postgresql://rabfang@127.0.0.1:1/rabfang"  # never connected to
    done = subprocess.run(
        [sys.executable, "-m", "bot", "backup", "--out", "b.db"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "pg_dump" in done.stderr
    assert not list(tmp_path.iterdir())


def test_the_password_in_a_postgresql_url_never_reaches_a_log() -> None:
    import io
    import logging

    from bot.logs import configure

    settings = Settings(_env_file=None, db="postgresql://rabfang:s3cr%40t-pass@db.internal:5432/rabfang")
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    root = logging.getLogger()
    try:
        configure(settings, handler)
        logging.getLogger("rabfang.test").warning("cannot reach %s", settings.db)
        logging.getLogger("psycopg.pool").warning("error connecting: password=s3cr@t-pass")
    finally:
        root.removeHandler(handler)
    assert "s3cr" not in out.getvalue() and "db.internal" in out.getvalue()
