"""Persistence: SQLite (aiosqlite and a writer thread) or PostgreSQL (psycopg 3) behind one
interface, `Database`. The only package that contains SQL."""

from .db import Database, Rejected, StorageError, UnsupportedDatabase, database_target

__all__ = ["Database", "Rejected", "StorageError", "UnsupportedDatabase", "database_target"]
