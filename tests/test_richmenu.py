"""The LINE rich menu: drawn in Thai and English, created, uploaded, made the default and linked per
participant through the fake Messaging API over real HTTP (its api-data host a server of its
own), with LINE's checks; running it again creates nothing, and an edited menu replaces the old."""

from __future__ import annotations

import argparse
import dataclasses
import io
import struct
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from bot.cli import build_parser, cmd_line
from bot.config import Settings
from bot.engine.input import parse_command
from bot.handlers.line import richmenu
from bot.handlers.line.api import LineSender
from bot.handlers.line.richmenu import TILES, FontMissing, Menu, find_font, menus, publish, request
from bot.senders import Pacer, RetryPolicy
from testbed.line_api import FakeLineApi
from testbed.line_richmenu import Refused, validate_menu

ALICE, BOB = "U" + "a" * 32, "U" + "b" * 32


@pytest.fixture(scope="module")
def drawn() -> list[Menu]:
    return menus()


@pytest.fixture
async def api() -> AsyncIterator[FakeLineApi]:
    async with FakeLineApi() as fake:
        yield fake


@pytest.fixture
async def sender(api: FakeLineApi) -> AsyncIterator[LineSender]:
    s = LineSender(
        api.url,
        api.token,
        pseudonym=lambda ref: "p-1",
        retry=RetryPolicy((0.01,)),
        pacer=Pacer(rate=1000.0),
        clock=lambda: datetime.now(UTC),
        menu_recheck=0.0,  # a menu published during the test is found at once
    )
    await s.start()
    yield s
    await s.stop()


async def sync(api: FakeLineApi, wanted: list[Menu] | None = None) -> richmenu.Outcome:
    if wanted is None:
        return await publish(api.url, api.token, data_url=api.data_url)
    from linebot.v3.messaging import AsyncApiClient, AsyncMessagingApi, AsyncMessagingApiBlob, Configuration

    async with (
        AsyncApiClient(Configuration(host=api.url, access_token=api.token)) as a,
        AsyncApiClient(Configuration(host=api.data_url, access_token=api.token)) as b,
    ):
        return await richmenu.sync(AsyncMessagingApi(a), AsyncMessagingApiBlob(b), wanted, wait=1.0)


def ours(api: FakeLineApi) -> dict[str, str]:
    """lang → menu id of the menus of ours on the fake LINE."""
    return {m["name"].split("-")[1]: i for i, m in api.richmenus.menus.items() if m["name"].startswith("rabfang-")}


# ---- what the menu is -----------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["th", "en"])
def test_every_tile_sends_a_word_that_calls_its_command(lang: str) -> None:
    assert {t.command for t in TILES} == {"start", "events", "mydata", "help", "language"}
    for tile in TILES:
        assert parse_command(tile.sends(lang)) == (tile.command, ""), tile.sends(lang)
    words = [a.action.text for a in request(lang).areas]
    expected = {
        "th": ["เริ่ม", "กิจกรรม", "ข้อมูลของฉัน", "ช่วยเหลือ", "ภาษา"],
        "en": ["start", "events", "my data", "help", "language"],
    }
    assert words == expected[lang]


@pytest.mark.parametrize("lang", ["th", "en"])
def test_the_menu_object_passes_lines_checks(lang: str) -> None:
    body = request(lang, f"rabfang-{lang}-x").to_dict()
    validate_menu(body)
    assert len(body["chatBarText"]) <= 14
    # the tiles cover the image without overlapping
    covered = sum(a["bounds"]["width"] * a["bounds"]["height"] for a in body["areas"])
    assert covered == 2500 * 843


def test_the_images_are_pngs_of_the_menus_size_within_a_megabyte(drawn: list[Menu]) -> None:
    assert [m.lang for m in drawn] == ["th", "en"]
    for menu in drawn:
        assert menu.image[:8] == b"\x89PNG\r\n\x1a\n" and len(menu.image) <= 1 << 20
        with Image.open(io.BytesIO(menu.image)) as image:
            assert image.size == (2500, 843)
        assert menu.request.name.startswith(f"rabfang-{menu.lang}-") and len(menu.request.name) <= 300
    assert drawn[0].image != drawn[1].image
    assert menus() == drawn, "drawing is deterministic: the same menus hash the same"


def test_thai_is_drawn_with_a_thai_font(drawn: list[Menu], tmp_path: Path) -> None:
    """The shipped font has Thai glyphs: the Thai tiles' titles ink as much as the English ones do,
    not tofu boxes. (And the PNG is written for a person to look at.)"""
    (tmp_path / "menu-th.png").write_bytes(drawn[0].image)
    from PIL import ImageFont

    font = ImageFont.truetype(str(find_font()), 80)
    for text in ("ข้อมูลของฉัน", "ช่วยเหลือ"):
        glyphs = {font.getmask(c).getbbox() for c in text}
        assert None not in glyphs and len(glyphs) > 3


def test_a_missing_font_is_said_plainly(tmp_path: Path) -> None:
    with pytest.raises(FontMissing, match="fonts-thai-tlwg"):
        find_font([tmp_path / "none.ttf"])
    system = Path("/usr/share/fonts/truetype/tlwg/Garuda.ttf")
    if system.exists():
        assert find_font([tmp_path / "none.ttf", system]) == system


# ---- on LINE ----------------------------------------------------------------------------------


async def test_created_uploaded_made_default_and_aliased(api: FakeLineApi) -> None:
    done = await sync(api)
    menus_on_line = ours(api)
    assert set(menus_on_line) == {"th", "en"} and len(done.created) == 2
    assert api.richmenus.uploads() == 2 and set(api.richmenus.images) == set(menus_on_line.values())
    assert api.richmenus.default == menus_on_line["th"] == done.default
    assert api.richmenus.aliases == {"rabfang-th": menus_on_line["th"], "rabfang-en": menus_on_line["en"]}
    # the images went to the api-data host, the menus to the API host
    assert all(p.endswith("/content") for m, p, s in api.richmenus.log if m == "POST" and "content" in p)


async def test_running_again_creates_nothing(api: FakeLineApi) -> None:
    await sync(api)
    before = (dict(api.richmenus.menus), api.richmenus.created(), api.richmenus.uploads())
    done = await sync(api)
    assert not done.created and not done.deleted and len(done.kept) == 2
    assert (dict(api.richmenus.menus), api.richmenus.created(), api.richmenus.uploads()) == before


async def test_a_menu_left_without_its_image_is_made_again(api: FakeLineApi) -> None:
    """A run stopped between creating a menu and uploading its image: the next run mends it."""
    drawn = menus()
    headers = {"authorization": f"Bearer {api.token}"}
    async with httpx.AsyncClient(headers=headers) as http:
        r = await http.post(f"{api.url}/v2/bot/richmenu", json=drawn[1].request.to_dict())
    orphan = r.json()["richMenuId"]
    done = await sync(api, drawn)
    assert len(done.created) == 2 and orphan not in api.richmenus.menus
    assert set(api.richmenus.images) == set(api.richmenus.menus)


async def test_an_edited_menu_replaces_the_old_and_keeps_its_users(api: FakeLineApi, sender: LineSender) -> None:
    drawn = menus()
    await sync(api, drawn)
    old = ours(api)
    assert await sender.link_menu(ALICE, "en")
    assert api.richmenus.links[ALICE] == old["en"]

    edited_request = request("en", "rabfang-en-edited").copy(update={"chat_bar_text": "Open menu"})
    edited = [drawn[0], dataclasses.replace(drawn[1], request=edited_request)]
    done = await sync(api, edited)
    new = ours(api)
    assert done.created == ["rabfang-en-edited"] and done.kept == [drawn[0].request.name]
    assert new["th"] == old["th"] and new["en"] != old["en"] and old["en"] not in api.richmenus.menus
    assert len(api.richmenus.menus) == 2, "replaced, not duplicated"
    assert api.richmenus.links[ALICE] == new["en"], "her English menu followed the edit"
    assert api.richmenus.aliases["rabfang-en"] == new["en"]

    # the sender's remembered id is stale now: it asks the alias again and links the new one
    assert await sender.link_menu(BOB, "en")
    assert api.richmenus.links[BOB] == new["en"]


async def test_a_participants_language_and_erasure(api: FakeLineApi, sender: LineSender) -> None:
    assert not await sender.link_menu(ALICE, "en"), "no menu on LINE yet: nothing to link, nothing raised"
    assert not await sender.link_menu(ALICE, "en")  # asked again only after `menu_recheck` (here: at once)
    await sync(api)
    menus_on_line = ours(api)
    assert await sender.link_menu(ALICE, "en")
    assert api.richmenus.links[ALICE] == menus_on_line["en"]
    assert await sender.link_menu(ALICE, "th")
    assert api.richmenus.links[ALICE] == menus_on_line["th"]
    calls = len(api.richmenus.log)
    assert await sender.link_menu(ALICE, "th")
    assert len(api.richmenus.log) == calls, "linked already: no second call"
    assert await sender.unlink_menu(ALICE)
    assert ALICE not in api.richmenus.links  # back to the default (Thai) menu
    assert await sender.unlink_menu(ALICE), "unlinking twice is fine"
    assert not await sender.link_menu("Cgroup", "th") and not await sender.link_menu(ALICE, None)


async def test_the_command_line(api: FakeLineApi, capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["line", "richmenu", "--data-url", api.data_url])
    settings = Settings(_env_file=None, line_channel_access_token=api.token, line_api_base_url=api.url)
    assert await cmd_line(settings, args) == 0
    out = capsys.readouterr().out
    assert out.count("created") == 2 and "default" in out
    assert await cmd_line(settings, args) == 0
    assert capsys.readouterr().out.count("kept") == 2
    assert await cmd_line(Settings(_env_file=None), args) == 2
    wrong = Settings(_env_file=None, line_channel_access_token="nope", line_api_base_url=api.url)
    assert await cmd_line(wrong, args) == 1
    assert "401" in capsys.readouterr().err


def test_the_api_data_host_goes_with_lines_api_host() -> None:
    assert richmenu.data_host("https://api.line.me") == "https://api-data.line.me"
    assert richmenu.data_host("http://127.0.0.1:9000") == "http://127.0.0.1:9000"
    assert isinstance(build_parser().parse_args(["line", "richmenu"]), argparse.Namespace)


# ---- the fake refuses what LINE refuses -----------------------------------------------------------


def spec(**change: Any) -> dict[str, Any]:
    body = request("th", "rabfang-th-x").to_dict()
    body.update(change)
    return body


@pytest.mark.parametrize(
    ("body", "expect"),
    [
        (spec(size={"width": 2500, "height": 1000}), "size"),
        (spec(chatBarText="ก" * 15), "chatBarText"),
        (spec(areas=[spec()["areas"][0]] * 21), "at most 20"),
        (
            spec(
                areas=[
                    {
                        "bounds": {"x": 2000, "y": 0, "width": 600, "height": 100},
                        **{"action": spec()["areas"][0]["action"]},
                    }
                ]
            ),
            "outside",
        ),
        (spec(areas=[{"bounds": spec()["areas"][0]["bounds"], "action": {"type": "message", "text": ""}}]), "text"),
        (spec(name=""), "name"),
        (spec(selected="yes"), "selected"),
    ],
)
def test_the_fake_refuses_a_menu_line_refuses(body: dict[str, Any], expect: str) -> None:
    with pytest.raises(Refused, match=expect):
        validate_menu(body)


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(out, "PNG")
    return out.getvalue()


async def test_the_fake_checks_uploads_and_links(api: FakeLineApi, drawn: list[Menu]) -> None:
    headers = {"authorization": f"Bearer {api.token}"}
    async with httpx.AsyncClient(headers=headers) as http:
        r = await http.post(f"{api.url}/v2/bot/richmenu", json=request("th", "t").to_dict())
        menu_id = r.json()["richMenuId"]
        content = f"{api.data_url}/v2/bot/richmenu/{menu_id}/content"
        # not on the API host
        assert (
            await http.post(f"{api.url}/v2/bot/richmenu/{menu_id}/content", content=drawn[0].image)
        ).status_code in (404, 405)
        # linking before an image is refused
        assert (await http.post(f"{api.url}/v2/bot/user/{ALICE}/richmenu/{menu_id}")).status_code == 400
        assert (await http.post(f"{api.url}/v2/bot/user/all/richmenu/{menu_id}")).status_code == 400
        # the wrong size, type, or more than a megabyte
        wrong = await http.post(content, content=png(2500, 1686), headers={"content-type": "image/png"})
        assert wrong.status_code == 400 and "2500x1686" in wrong.json()["message"]
        lying = await http.post(content, content=drawn[0].image, headers={"content-type": "image/jpeg"})
        assert lying.status_code == 400
        huge = drawn[0].image[:33] + struct.pack(">I", 1 << 20) + b"x" * (1 << 20)
        assert (await http.post(content, content=huge, headers={"content-type": "image/png"})).status_code == 413
        ok = await http.post(content, content=drawn[0].image, headers={"content-type": "image/png"})
        assert ok.status_code == 200
        again = await http.post(content, content=drawn[0].image, headers={"content-type": "image/png"})
        assert again.status_code == 400 and "already" in again.json()["message"]
        assert (await http.post(f"{api.url}/v2/bot/user/{ALICE}/richmenu/{menu_id}")).status_code == 200
        assert (await http.post(f"{api.url}/v2/bot/user/not-a-user/richmenu/{menu_id}")).status_code == 400
        assert (await http.delete(f"{api.url}/v2/bot/richmenu/richmenu-{'0' * 32}")).status_code == 404
        assert (await http.delete(f"{api.url}/v2/bot/richmenu/{menu_id}")).status_code == 200
        assert ALICE not in api.richmenus.links


async def test_the_channel_links_a_participants_menu_and_unlinks_it_on_erasure(
    api: FakeLineApi, tmp_path: Path
) -> None:
    """Through the running LINE channel: a participant who chooses English gets the English menu;
    one who erases their data is back on the default."""
    from bot.config import Settings
    from testbed.line_api import CHANNEL_SECRET
    from tests.test_line import Harness

    await sync(api)
    menus_on_line = ours(api)
    settings = Settings(
        _env_file=None,
        db=tmp_path / "menu.db",
        flood_limit=10_000,
        line_channel_secret=CHANNEL_SECRET,
        line_channel_access_token=api.token,
        line_api_base_url=api.url,
    )
    line = await Harness(settings, api).start()
    try:
        alice = line.user(ALICE)
        await line.send(alice.follow())
        assert ALICE not in api.richmenus.links  # no language chosen yet: the default menu
        await line.send(alice.postback("lang=en"))
        assert api.richmenus.links[ALICE] == menus_on_line["en"]
        await line.send(alice.text("delete my data"))
        await line.send(alice.postback("del=yes"))
        assert ALICE not in api.richmenus.links
    finally:
        await line.stop()
