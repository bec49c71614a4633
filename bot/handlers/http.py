"""What every webhook does with its request before reading it: take the body within a size and a
time limit, and treat a client that goes away as nothing worth a traceback.

A sender that disconnects mid-body, a body that dribbles in, a body too large: each is answered (or,
for a client that is gone, dropped) and counted, and the counts are logged at most once a minute,
so a thousand aborted requests make one line, not a thousand tracebacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable

from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response

MAX_BODY = 1 << 20  # no webhook body of LINE's or Telegram's comes near this
BODY_TIMEOUT = 10.0  # seconds a webhook body may take to arrive, once its head has

log = logging.getLogger("rabfang.http")


class Tally:
    """Counts of things not worth a line each (aborted or slow requests, closed connections),
    logged together: the first at once, then at most once every `every` seconds."""

    def __init__(self, logger: logging.Logger, every: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self._log = logger
        self._every = every
        self._clock = clock
        self._counts: Counter[str] = Counter()
        self._last: float | None = None  # when a summary was last logged
        self._later: asyncio.TimerHandle | None = None

    def count(self, what: str) -> None:
        self._counts[what] += 1
        if self._later is not None:
            return
        now = self._clock()
        if self._last is None or now - self._last >= self._every:
            self.flush()
            return
        with contextlib.suppress(RuntimeError):  # outside a running loop: told with the next one
            self._later = asyncio.get_running_loop().call_later(self._last + self._every - now, self.flush)

    def reset(self) -> None:
        """Forget the counts and when they were last told."""
        if self._later is not None:
            self._later.cancel()
        self._later = self._last = None
        self._counts.clear()

    def flush(self) -> None:
        self._later = None
        if self._counts:
            self._last = self._clock()
            summary = ", ".join(f"{n} {what}" for what, n in sorted(self._counts.items()))
            self._log.info("http: %s", summary)
            self._counts.clear()


TALLY = Tally(log)


async def read_body(
    request: Request, *, limit: int = MAX_BODY, timeout: float = BODY_TIMEOUT, tally: Tally = TALLY
) -> bytes | Response:
    """The raw body, or the response to give instead: 413 when it is larger than `limit`, 408 when
    it has not arrived within `timeout` seconds, and (for a client that went away, who will never
    read it) an empty 400."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        tally.count("webhook bodies too large")
        return PlainTextResponse("request body too large", status_code=413)
    parts: list[bytes] = []
    size = 0

    async def take() -> bool:
        nonlocal size
        async for part in request.stream():
            size += len(part)
            if size > limit:
                return False
            parts.append(part)
        return True

    try:
        async with asyncio.timeout(timeout):  # a timer, not wait_for's task per request
            within = await take()
    except TimeoutError:
        tally.count("webhook bodies too slow")
        return PlainTextResponse("request body not received in time", status_code=408)
    except ClientDisconnect:
        tally.count("webhook requests abandoned by their client")
        return Response(status_code=400)
    if not within:
        tally.count("webhook bodies too large")
        return PlainTextResponse("request body too large", status_code=413)
    return b"".join(parts)
