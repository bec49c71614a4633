"""Persistence: SQLite through aiosqlite. The only package that contains SQL."""

from .db import Database, StorageError

__all__ = ["Database", "StorageError"]
