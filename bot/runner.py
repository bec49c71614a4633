"""`rabfang run`: every configured channel, the HTTP server and the scheduler in one process,
until SIGINT or SIGTERM; then in-flight work is finished and the database closed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import signal
from collections.abc import Iterator
from typing import Any, Protocol

import h11
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from storage.leases import Leadership, run_lease

from .app import App, nightly_export, open_app
from .config import Settings
from .handlers.http import TALLY, Tally
from .leader import Leading
from .senders import Outbound

log = logging.getLogger("rabfang.run")


class Component(Protocol):
    """A part of the running bot: a channel or the scheduler. Routes join the shared HTTP server.
    A component with work that can die (Telegram's long polling) also has `healthy() -> bool`,
    which GET /healthz asks."""

    name: str
    routes: list[BaseRoute]

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Channel(Component, Outbound, Protocol):
    """A component that participants are reached through (LINE, Telegram)."""


def build_components(app: App) -> list[Component]:
    """The channels whose credentials are configured, the export links, then the scheduler."""
    s = app.settings
    channels: list[Channel] = []
    if s.telegram_bot_token:
        from .handlers.telegram import TelegramChannel

        channels.append(TelegramChannel(app))
    if s.line_channel_secret and s.line_channel_access_token:
        from .handlers.line import LineChannel

        channels.append(LineChannel(app))
    components: list[Component] = list(channels)
    if s.public_url:
        from exports.links import ExportLinks

        components.append(ExportLinks(app))  # GET /exports/{token}: signed download links
        from exports.presenter import Presenter

        components.append(Presenter(app))  # GET /live/{session}/{token}: live sessions' presenter pages
    from .outreach import Outreach, add_outreach
    from .scheduler import Scheduler, add_export, add_retention

    scheduler = Scheduler()
    add_export(scheduler, nightly_export(app, scheduler.clock), s.export_cron)
    senders = {c.name: c for c in channels}
    add_outreach(scheduler, Outreach(app.db, app.catalog, s, senders), app.doorbell)
    add_retention(scheduler, app.db, s)
    components.append(scheduler)
    return components


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: `run` owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


RESERVED_FILES = 128  # descriptors kept for the database, the platforms' clients, logs, exports


def guarded_h11(header_timeout: float, max_connections: int, tally: Tally = TALLY) -> type[H11Protocol]:
    """uvicorn's h11 protocol with the two limits uvicorn lacks: a connection whose request head
    is not complete within `header_timeout` seconds (from connecting, or from the first byte of a
    later request on a kept-alive connection) is closed, and a connection arriving while
    `max_connections` are open is closed at once. Both are counted, not logged one by one.

    (uvicorn's `limit_concurrency` answers 503 to every request once that many connections are
    open, established ones included, and still accepts each one, so it bounds neither the
    connections nor the descriptors they hold.)"""

    class GuardedH11Protocol(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            full = len(self.connections) >= max_connections
            super().connection_made(transport)
            if full:
                tally.count("connections closed on arrival (too many open)")
                transport.close()
                return
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self._head_timer is None and self.conn.their_state is h11.IDLE:
                self._arm()  # the first byte of a request on a kept-alive connection
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:
                self._disarm()  # the head is in (or the connection is done with)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(header_timeout, self._head_late)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_late(self) -> None:
            self._head_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                tally.count("connections closed (request head not received in time)")
                self.transport.close()

    return GuardedH11Protocol


class CountInvalidRequests(logging.Filter):
    """uvicorn warns once for every malformed or oversized request head it answers 400: those are
    counted into the tally instead, so that garbage cannot flood the log."""

    def __init__(self, tally: Tally = TALLY):
        super().__init__()
        self.tally = tally

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage() == "Invalid HTTP request received.":
            self.tally.count("invalid HTTP requests answered 400")
            return False
        return True


def connection_room(wanted: int) -> int:
    """How many connections the process can hold: raises the soft limit on open files towards
    `wanted` plus what the rest of the process needs, up to the hard limit; else fewer
    connections, so that a flood of them never leaves accept() without a descriptor."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = wanted + RESERVED_FILES
    if soft != resource.RLIM_INFINITY and soft < need:
        raised = need if hard == resource.RLIM_INFINITY else min(hard, need)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        if soft < need:
            room = max(1, soft - RESERVED_FILES)
            log.warning(
                "open-file limit %d allows %d connections, not %d (RABFANG_HTTP_MAX_CONNECTIONS)", soft, room, wanted
            )
            return room
    return wanted


def server_config(app: Any, settings: Settings, **overrides: Any) -> uvicorn.Config:
    """uvicorn as `rabfang run` serves: bounded heads, bodies (in the webhooks), idle time and
    connections (docs/operations.md, "Behind HTTPS")."""
    options: dict[str, Any] = {
        "host": settings.http_host,
        "port": settings.http_port,
        "log_config": None,
        "access_log": False,
        "lifespan": "off",
        "http": guarded_h11(settings.http_header_timeout, connection_room(settings.http_max_connections)),
        "timeout_keep_alive": settings.http_keep_alive,
        "backlog": settings.http_backlog,
        "h11_max_incomplete_event_size": settings.http_max_head,
        "timeout_graceful_shutdown": 10,  # a client that reads a download slowly does not hold up stopping
    }
    uvicorn_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, CountInvalidRequests) for f in uvicorn_log.filters):
        uvicorn_log.addFilter(CountInvalidRequests())
    return uvicorn.Config(app, **(options | overrides))


def leader_only(component: Component, settings: Settings) -> bool:
    """What runs on one process at a time: the scheduler's jobs, and Telegram when it long-polls
    (two pollers of one bot would take each other's updates). Webhooks are served by every worker."""
    return component.name == "scheduler" or (component.name == "telegram" and not settings.telegram_webhook_url)


def lead(components: list[Component], settings: Settings, lease: Leadership, retry: float = 2.0) -> list[Component]:
    """The components with the leader-only ones gathered into one `Leading`, last (it starts the
    scheduler after the channels it sends through)."""
    rest = [c for c in components if not leader_only(c, settings)]
    return [*rest, Leading(lease, [c for c in components if leader_only(c, settings)], retry=retry)]


def healthy(component: Component) -> bool:
    """Whether a component says it works (one that cannot tell is taken at its word)."""
    check = getattr(component, "healthy", None)
    if check is None:
        return True
    try:
        return bool(check())
    except Exception:
        return False


def http_app(components: list[Component]) -> Starlette:
    async def healthz(request: Request) -> JSONResponse:
        failing = [c.name for c in components if not healthy(c)]
        body: dict[str, object] = {"ok": not failing, "channels": [c.name for c in components]}
        if failing:
            body["failing"] = failing
        for c in components:
            if isinstance(c, Leading):
                body["leader"] = c.leading  # whether this worker runs the scheduler (and Telegram's polling)
        return JSONResponse(body, status_code=503 if failing else 200)

    routes: list[BaseRoute] = [Route("/healthz", healthz, methods=["GET"])]
    for c in components:
        routes += c.routes
    return Starlette(routes=routes)


async def run(settings: Settings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with open_app(settings) as app:
        lease = await run_lease(app.db)  # SQLite: AlreadyRunning if another process runs on the file
        components = build_components(app)
        if all(c.name in ("scheduler", "exports", "presenter") for c in components):
            log.warning("no channel configured (TELEGRAM_BOT_TOKEN, LINE_CHANNEL_SECRET + LINE_CHANNEL_ACCESS_TOKEN)")
        components = lead(components, settings, lease, settings.leader_retry)
        server = _Server(server_config(http_app(components), settings))
        started: list[Component] = []
        try:
            for c in components:
                await c.start()
                started.append(c)
                log.info("%s channel started", c.name)
            serving = asyncio.create_task(server.serve())
            log.info("listening on http://%s:%s", settings.http_host, settings.http_port)
            stopped = asyncio.create_task(stop.wait())
            _done, _ = await asyncio.wait({serving, stopped}, return_when=asyncio.FIRST_COMPLETED)
            server.should_exit = True
            await serving
            stopped.cancel()
        finally:
            for c in reversed(started):
                try:
                    await c.stop()
                except Exception:
                    log.exception("stopping %s failed", c.name)
        log.info("stopped")
    return 0
