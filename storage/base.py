"""What every storage module shares: times as stored, and files private to the account that runs
rabfang (0600 files, 0700 folders it makes), whatever the umask."""

from __future__ import annotations

import os
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat()


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class StorageError(Exception):
    """A write could not be made durable (disk full, read-only file, corruption, the database
    server gone).

    Nothing of the unit of work was kept; the caller tells the participant to try again and
    the webhook answers with a status that makes the platform redeliver."""


class Rejected(StorageError):
    """The database refused a value (PostgreSQL: a NUL character in text, a number out of range;
    SQLite: an integer beyond 64 bits): the same unit of work would fail every time, so it is not
    an outage to wait out. The event that carried it is dropped, and its sender told so once."""


PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def private_dir(folder: Path) -> None:
    """Create `folder` and any missing parents 0700 (whatever the umask); folders that exist are
    left as their owner set them."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for made in reversed(missing):
        with suppress(FileExistsError):
            made.mkdir(mode=PRIVATE_DIR)
            os.chmod(made, PRIVATE_DIR)


def private_file(path: Path) -> None:
    """Create `path` empty and 0600 if it is missing, or make it 0600 (whatever the umask)."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)


def database_files(path: Path) -> tuple[Path, Path, Path]:
    return path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")
