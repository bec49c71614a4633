"""The console channel: one participant's conversation in a terminal, through the real engine
and storage. Buttons print as numbered options; typing a number taps that button."""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from bot.model import Button, Inbound, Reply
from bot.service import Service, StorageError

CHANNEL = "console"


def render(replies: list[Reply]) -> str:
    """Replies as terminal text: each message, then its buttons numbered one per line."""
    blocks = []
    for reply in replies:
        lines = [reply.text]
        lines += [f"  {n}. {b.label}" for n, b in enumerate(reply.buttons, 1)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def to_inbound(line: str, buttons: tuple[Button, ...]) -> Inbound:
    """A typed number picks the numbered option shown last; anything else is typed text."""
    word = line.strip()
    if word.isdigit() and 1 <= int(word) <= len(buttons):
        return Inbound("button", data=buttons[int(word) - 1].data)
    return Inbound("text", text=line.rstrip("\r\n"))


async def run_console(service: Service, user: str, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> None:
    """Converse until end of input. Running it again for the same user resumes."""
    interactive = stdin.isatty()
    loop = asyncio.get_running_loop()
    buttons: tuple[Button, ...] = ()
    event = Inbound("text", text="/start")
    lang: str | None = None
    while True:
        try:
            handled = await service.handle(CHANNEL, user, event)
        except StorageError:
            handled = None
            stdout.write(render([service.try_later(lang, kept=False)]) + "\n\n")
        if handled is not None:
            lang = handled.lang
            if handled.replies:
                buttons = handled.replies[-1].buttons
                stdout.write(render(handled.replies) + "\n\n")
        if interactive:
            stdout.write("> ")
        stdout.flush()
        line = await loop.run_in_executor(None, stdin.readline)
        if not line:
            return
        event = to_inbound(line, buttons)
