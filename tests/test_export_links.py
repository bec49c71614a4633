"""Signed download links: they open the export for an hour, and a changed token opens nothing."""

from __future__ import annotations

import asyncio
import io
import socket
import zipfile
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from pydantic import SecretStr

from bot.app import App, open_app
from bot.config import Settings
from bot.runner import http_app
from bot.surveys import Catalog
from exports.links import EXPORT, MAX_TTL, META_KEY, ExportLinks, LinkSigner, export_link, link_signer
from tests.conftest import AGREEMENT, Clock
from tests.test_export import FILES, seed


@pytest.fixture(scope="session")
def catalog(agreement_catalog: Catalog) -> Catalog:
    """These answers are ratings on the agreement scale: the survey form that asks them."""
    return agreement_catalog


PUBLIC = "https://rabfang.example.go.th/bot/"


def test_a_token_verifies_until_it_expires(clock: Clock) -> None:
    signer = LinkSigner(b"k" * 32, clock)
    token = signer.sign(EXPORT)
    assert signer.verify(EXPORT, token) == "ok"
    clock.now += timedelta(minutes=59, seconds=59)
    assert signer.verify(EXPORT, token) == "ok"
    clock.now += timedelta(seconds=1)
    assert signer.verify(EXPORT, token) == "expired"


def test_every_change_to_a_token_is_refused(clock: Clock) -> None:
    signer = LinkSigner(b"k" * 32, clock)
    token = signer.sign(EXPORT)
    for i, ch in enumerate(token):
        for other in {"0", "9", "A", "_", "-", "."} - {ch}:
            assert signer.verify(EXPORT, token[:i] + other + token[i + 1 :]) == "forged", (i, other)
    stamp, mac = token.split(".")
    later = str(int(stamp) + 86400)  # stretching the expiry breaks the signature
    assert signer.verify(EXPORT, f"{later}.{mac}") == "forged"
    assert signer.verify(EXPORT, token + "A") == "forged"
    assert signer.verify(EXPORT, token[:-1]) == "forged"
    assert signer.verify("report", token) == "forged"  # single-purpose
    assert LinkSigner(b"j" * 32, clock).verify(EXPORT, token) == "forged"  # another key
    for junk in ("", ".", "abc", "123.", ".abc", "1e9.abc", "-5.abc", "๑๒๓.abc", "9" * 40 + ".x"):
        assert signer.verify(EXPORT, junk) == "forged", junk


def test_no_link_outlives_the_cap_even_with_a_valid_mac(clock: Clock) -> None:
    """Whoever holds the key (a database backup holds it by default) cannot make a lasting link."""
    signer = LinkSigner(b"k" * 32, clock)
    with pytest.raises(ValueError):
        signer.sign(EXPORT, MAX_TTL + timedelta(seconds=1))
    with pytest.raises(ValueError):
        signer.sign(EXPORT, timedelta(0))
    assert signer.verify(EXPORT, signer.sign(EXPORT, MAX_TTL)) == "ok"
    # A token minted by hand with the right key and a far expiry: the MAC is valid, the lifetime is not.
    for ahead in (MAX_TTL + timedelta(seconds=1), timedelta(days=365), timedelta(days=365 * 100)):
        far = int((clock.now + ahead).timestamp())
        minted = f"{far}.{signer._mac(EXPORT, far)}"
        assert signer.verify(EXPORT, minted) == "forged", ahead
    far = int((clock.now + timedelta(days=30)).timestamp())
    minted = f"{far}.{signer._mac(EXPORT, far)}"
    clock.now += timedelta(days=29, hours=1)  # within a day of its expiry it would be a valid lifetime again
    assert signer.verify(EXPORT, minted) == "ok"


async def test_the_key_is_kept_in_the_database_unless_configured(settings: Settings, clock: Clock) -> None:
    settings = settings.model_copy(update={"public_url": PUBLIC})
    async with open_app(settings) as app:
        url = await export_link(app.db, settings, clock)
        assert url.startswith("https://rabfang.example.go.th/bot/exports/")
        stored = await app.db.meta(META_KEY)
        assert stored and len(stored) == 64
    async with open_app(settings) as app:  # after a restart, earlier links still work
        signer = await link_signer(app.db, settings, clock)
        assert signer.verify(EXPORT, url.rsplit("/", 1)[1]) == "ok"
        configured = settings.model_copy(update={"export_link_key": SecretStr("x" * 40)})
        other = await link_signer(app.db, configured, clock)
        assert other.key == b"x" * 40 and other.verify(EXPORT, url.rsplit("/", 1)[1]) == "forged"
    with pytest.raises(RuntimeError, match="RABFANG_PUBLIC_URL"):
        async with open_app(settings.model_copy(update={"public_url": None})) as app:
            await export_link(app.db, app.settings, clock)


@pytest.fixture
async def app(settings: Settings, catalog, tmp_path: Path) -> AsyncIterator[App]:
    async with open_app(settings.model_copy(update={"public_url": PUBLIC, "surveys_dir": AGREEMENT})) as app:
        await seed(app.db, catalog)
        yield app


@pytest.fixture
async def served(app: App, clock: Clock) -> AsyncIterator[tuple[ExportLinks, str]]:
    """The links component in the runner's HTTP app, on a real loopback port."""
    links = ExportLinks(app, clock)
    await links.start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(http_app([links]), log_config=None, lifespan="off", access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield links, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        await links.stop()
        sock.close()


async def test_download_serves_a_fresh_zip(served: tuple[ExportLinks, str], clock: Clock) -> None:
    links, base = served
    token = links.url().rsplit("/", 1)[1]
    assert links.url().startswith(PUBLIC + "exports/")
    async with httpx.AsyncClient(base_url=base) as http:
        resp = await http.get(f"/exports/{token}")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/zip"
    assert resp.headers["cache-control"] == "no-store"
    assert 'filename="rabfang-export-2026-11-25_1000.zip"' in resp.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(resp.content)) as z:
        assert {n.split("/", 1)[1] for n in z.namelist()} == FILES
        assert "ข้อมูลไม่ครบ".encode() in z.read("rabfang-export-2026-11-25_1000/comments.csv")


async def test_download_refuses_tampering_and_expiry(served: tuple[ExportLinks, str], clock: Clock) -> None:
    links, base = served
    token = links.url().rsplit("/", 1)[1]
    stamp, mac = token.split(".")
    wrong_purpose = LinkSigner(links.signer.key, clock).sign("report")  # type: ignore[union-attr]
    async with httpx.AsyncClient(base_url=base) as http:
        for bad in (f"{int(stamp) + 3600}.{mac}", f"{stamp}.{mac[:-2]}AA", "garbage", wrong_purpose):
            resp = await http.get(f"/exports/{bad}")
            assert resp.status_code == 403, bad
            assert resp.headers["content-type"].startswith("text/plain")
        clock.now += timedelta(hours=1, seconds=1)
        resp = await http.get(f"/exports/{token}")
        assert resp.status_code == 410 and "expired" in resp.text
        fresh = links.url().rsplit("/", 1)[1]  # a new /export gives a new, working link
        assert (await http.get(f"/exports/{fresh}")).status_code == 200
