"""Logging, configured once by `configure(settings)` (from `cli.main`, or a test), never at import.

Every record that reaches a root handler, ours and the libraries' alike, passes a redaction
filter first. Libraries log more than they should: httpx's INFO line carries the request URL and
so the Telegram bot token; aiosqlite at DEBUG logs SQL parameters with platform user ids;
python-telegram-bot's DEBUG lines carry whole updates (user ids, names, usernames, what was
written); uvicorn, aiohttp and the LINE SDK log requests and tracebacks. The filter masks:

- the configured secrets (every SecretStr in Settings, and the password in a PostgreSQL
  RABFANG_DB URL) wherever they appear;
- anything shaped like a Telegram bot token, and LINE user, group and room ids;
- in dict, JSON and repr-shaped text, the values of fields that name or quote a person
  (`id`, `user_id`, `chat_id`, `from`, `first_name`, `last_name`, `username`, `text`, `phone_number`);
- numbers of 7 or more digits standing alone (platform ids, wherever they turn up; not the
  digits inside a word, such as a pseudonym).

It formats a record's arguments first and redacts the result (then clears the arguments), and
renders a traceback into `exc_text` so that it is redacted as well.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, TextIO

from pydantic import SecretStr

if TYPE_CHECKING:
    from .config import Settings

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# The least a library logs at, whatever RABFANG_LOG_LEVEL says (a higher root level wins).
QUIET = {
    "httpx": logging.WARNING,  # INFO: every request URL, the bot token in it
    "httpcore": logging.WARNING,
    "aiosqlite": logging.INFO,  # DEBUG: SQL parameters, platform user ids among them
    "psycopg.pool": logging.WARNING,  # INFO: every connection taken from and given back to the pool
    "apscheduler.executors.default": logging.WARNING,  # INFO: every run, the sweep's every 30 s
    "telegram": logging.INFO,  # DEBUG: whole updates and requests
    "psycopg": logging.INFO,  # DEBUG: connection and pool internals
}

MASK = "<redacted>"

_FIELDS = "id|user_id|chat_id|from|first_name|last_name|username|text|phone_number"
# `"first_name": "Ann"`, `'id': 12`, `first_name='Ann'`, `chat_id=12`: the key, then the value
_FIELD = re.compile(
    rf"""(?P<key>(?<!\w)(?P<q>["']?)(?:{_FIELDS})(?P=q)\s*[:=]\s*)"""
    r"""(?P<value>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|-?\d+(?:\.\d+)?)"""
)
_PATTERNS = (
    (re.compile(r"\d{6,}:[A-Za-z0-9_-]{30,}"), "<bot-token>"),
    (re.compile(r"(?<![0-9A-Za-z])[UCR][0-9a-f]{32}(?![0-9A-Za-z])"), "<line-id>"),
    (_FIELD, rf"\g<key>{MASK}"),
    # a number standing alone: not digits inside a word such as a pseudonym (P3f2012345670ab…)
    (re.compile(r"(?<![0-9A-Za-z])\d{7,}(?![0-9A-Za-z])"), "<number>"),
)


class Redactor:
    """Masks secrets, platform ids and personal fields in a text."""

    def __init__(self, secrets: Iterable[str] = ()):
        self.secrets: list[str] = []
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        """Mask these too (e.g. a key generated at run time). Very short values are ignored:
        masking them would blank out ordinary words."""
        for secret in secrets:
            parts = [secret, *secret.split(":", 1)[1:]]  # a bot token's secret part on its own, too
            self.secrets += [p for p in parts if len(p) >= 6 and p not in self.secrets]
        self.secrets.sort(key=len, reverse=True)  # a secret containing another goes first

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        for pattern, mask in _PATTERNS:
            text = pattern.sub(mask, text)
        return text


class RedactingFilter(logging.Filter):
    """A handler filter: every record leaves with its message, arguments and traceback redacted."""

    _render = logging.Formatter()

    def __init__(self, redact: Redactor):
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the format: keep the raw parts, redacted
            message = f"{record.msg!s} {record.args!r}"
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._render.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def secrets_of(settings: Settings) -> list[str]:
    """The values of every SecretStr setting that is set."""
    found = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr) and value.get_secret_value():
            found.append(value.get_secret_value())
    if isinstance(settings.db, str):  # postgresql://user:PASSWORD@host/db
        from urllib.parse import unquote, urlsplit

        password = urlsplit(settings.db).password
        if password:
            found += [password, unquote(password)]
    return found


def configure(settings: Settings, handler: logging.Handler | None = None, stream: TextIO | None = None) -> Redactor:
    """The root level from RABFANG_LOG_LEVEL, the libraries quieted, and redaction on every root
    handler. Adds `handler` (default: one on `stream`, else stderr, if the root has none).
    Returns the redactor, so that a secret made later can be added to it."""
    root = logging.getLogger()
    level = logging.getLevelName(settings.log_level.upper())
    if not isinstance(level, int):
        raise ValueError(f"not a log level: {settings.log_level!r}")
    root.setLevel(level)
    if handler is None and not root.handlers:
        handler = logging.StreamHandler(stream or sys.stderr)
    if handler is not None:
        if handler.formatter is None:
            handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
    for name, quiet in QUIET.items():
        logging.getLogger(name).setLevel(max(level, quiet))
    redact = Redactor(secrets_of(settings))
    for h in root.handlers:
        for old in [f for f in h.filters if isinstance(f, RedactingFilter)]:
            h.removeFilter(old)
        h.addFilter(RedactingFilter(redact))
    return redact
