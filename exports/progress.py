"""A progress bar for `rabfang export` on a terminal: stderr only, and only when it is a TTY."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from .csvfiles import Progress

WIDTH = 30


class ProgressBar:
    """Redraws one line per file at most ten times a second; a new line when a file is done."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self._name: str | None = None
        self._last = 0.0

    def __call__(self, name: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        if name != self._name:
            if self._name is not None:
                self.stream.write("\n")
            self._name, self._last = name, 0.0
        finished = total is not None and done >= total
        if not finished and now - self._last < 0.1 and done:
            return
        self._last = now
        if total:
            filled = int(WIDTH * min(done, total) / total)
            line = f"{name:<18} [{'#' * filled}{'.' * (WIDTH - filled)}] {100 * done // total:3d}%  {done:,}/{total:,}"
        else:
            line = f"{name:<18} {done:,} rows"
        self.stream.write("\r" + line)
        self.stream.flush()

    def close(self) -> None:
        if self._name is not None:
            self.stream.write("\n")
            self.stream.flush()


def terminal_progress(stream: TextIO | None = None) -> ProgressBar | None:
    """A progress bar on `stream` (stderr) when it is a terminal, else None: logs and pipes stay clean."""
    stream = stream or sys.stderr
    isatty = getattr(stream, "isatty", None)
    return ProgressBar(stream) if isatty and isatty() else None


__all__ = ["Progress", "ProgressBar", "terminal_progress"]
