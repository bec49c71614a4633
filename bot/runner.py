"""`rabfang run`: every configured channel, the HTTP server and the scheduler in one process,
until SIGINT or SIGTERM; then in-flight work is finished and the database closed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
from typing import Protocol

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from .app import App, nightly_export, open_app
from .config import Settings
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
        components = build_components(app)
        if all(c.name in ("scheduler", "exports") for c in components):
            log.warning("no channel configured (TELEGRAM_BOT_TOKEN, LINE_CHANNEL_SECRET + LINE_CHANNEL_ACCESS_TOKEN)")
        config = uvicorn.Config(
            http_app(components),
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
            lifespan="off",
        )
        server = _Server(config)
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
