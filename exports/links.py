"""Signed, expiring download links for the export (LINE cannot send files).

A token is `<expiry>.<mac>`: the expiry in Unix seconds and a base64url HMAC-SHA256 over the
link's purpose and that expiry, with a key of its own (settings or the database's meta table),
so it opens one thing only and only until it expires. Any change to the token fails the MAC:
403. A genuine but expired token: 410. Comparison is constant-time.

No link lives longer than MAX_TTL, whoever signed it: `sign` refuses a longer lifetime, and
`verify` refuses (403) a token whose expiry is further than MAX_TTL from now even when its MAC is
right. Someone who has the key (a copy of the database holds it unless RABFANG_EXPORT_LINK_KEY is
set) can still mint links, but each opens the export for a day at most.

The link is not single-use on purpose: LINE fetches a link to draw its preview, which would
spend a single-use link before the admin taps it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.model import utcnow
from storage import Database
from storage.queries import meta_key

from .export import export_zip, zip_name

if TYPE_CHECKING:
    from bot.app import App
    from bot.config import Settings

log = logging.getLogger("rabfang.links")

EXPORT = "export"  # the purpose of a link to the current export
TTL = timedelta(hours=1)
MAX_TTL = timedelta(hours=24)  # the longest any link may live, checked again on every download
META_KEY = "export_link_key"
Verdict = Literal["ok", "forged", "expired"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class LinkSigner:
    key: bytes
    clock: Callable[[], datetime] = utcnow

    def _mac(self, purpose: str, expires: int) -> str:
        return _b64(hmac.new(self.key, f"rabfang-link/v1\n{purpose}\n{expires}".encode(), hashlib.sha256).digest())

    def sign(self, purpose: str, ttl: timedelta = TTL) -> str:
        if not timedelta(0) < ttl <= MAX_TTL:
            raise ValueError(f"a link lives more than 0 and at most {MAX_TTL}; asked for {ttl}")
        expires = int((self.clock() + ttl).timestamp())
        return f"{expires}.{self._mac(purpose, expires)}"

    def verify(self, purpose: str, token: str) -> Verdict:
        """'ok', 'forged' (malformed, altered, signed for another purpose, or living longer than
        MAX_TTL from now) or 'expired'."""
        stamp, _, mac = token.partition(".")
        if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12 and mac):
            return "forged"
        expires = int(stamp)
        if not hmac.compare_digest(self._mac(purpose, expires).encode(), mac.encode("utf-8", "replace")):
            return "forged"
        now = self.clock().timestamp()
        if expires - now > MAX_TTL.total_seconds():  # genuine MAC, impossible lifetime: a minted link
            return "forged"
        return "ok" if now < expires else "expired"


async def link_signer(db: Database, settings: Settings, clock: Callable[[], datetime] = utcnow) -> LinkSigner:
    """The signer with the configured key (RABFANG_EXPORT_LINK_KEY), or one kept in the database."""
    configured = settings.export_link_key
    key = configured.get_secret_value() if configured else await meta_key(db, META_KEY)
    return LinkSigner(key.encode(), clock)


def link_url(settings: Settings, token: str) -> str:
    if not settings.public_url:
        raise RuntimeError("RABFANG_PUBLIC_URL is not set: there is no address to link to")
    return f"{settings.public_url.rstrip('/')}/exports/{token}"


async def export_link(db: Database, settings: Settings, clock: Callable[[], datetime] = utcnow) -> str:
    """A signed URL for the current export, valid for one hour (for an admin's /export on LINE)."""
    signer = await link_signer(db, settings, clock)
    return link_url(settings, signer.sign(EXPORT))


class ExportLinks:
    """A component serving `GET /exports/{token}`: a fresh export zip built at download time."""

    name = "exports"

    def __init__(self, app: App, clock: Callable[[], datetime] = utcnow):
        self.app = app
        self.clock = clock
        self.signer: LinkSigner | None = None
        self._building = asyncio.Semaphore(1)  # one export at a time, however many taps
        self.routes: list[BaseRoute] = [Route("/exports/{token}", self.download, methods=["GET"])]

    async def start(self) -> None:
        self.signer = await link_signer(self.app.db, self.app.settings, self.clock)

    async def stop(self) -> None:
        pass

    def url(self) -> str:
        """A fresh signed link (the component must be started)."""
        assert self.signer is not None, "ExportLinks.start() first"
        return link_url(self.app.settings, self.signer.sign(EXPORT))

    async def download(self, request: Request) -> Response:
        headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
        if self.signer is None:
            return PlainTextResponse("not ready\n", 503, headers=headers)
        verdict = self.signer.verify(EXPORT, request.path_params["token"])
        if verdict == "forged":
            log.warning("export link refused: bad signature")
            return PlainTextResponse("forbidden\n", 403, headers=headers)
        if verdict == "expired":
            return PlainTextResponse("this link has expired; send /export again\n", 410, headers=headers)
        now = self.clock()
        tmp = tempfile.TemporaryDirectory(prefix="rabfang-link-")
        try:
            async with self._building:
                path = await export_zip(
                    self.app.db,
                    Path(tmp.name) / zip_name(now),
                    catalog=self.app.catalog,
                    now=now,
                    license=self.app.settings.open_data_license,
                )
        except BaseException:
            tmp.cleanup()
            raise
        log.info("export downloaded through a signed link")
        return FileResponse(
            path,
            media_type="application/zip",
            filename=path.name,
            headers=headers,
            background=BackgroundTask(tmp.cleanup),
        )
