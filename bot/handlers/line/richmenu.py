"""The LINE rich menu, in Thai and English: five tiles (start or continue, focus-group sessions,
my data, help, language), each a message action that sends the command's word, so a tap answers
exactly as typing would. Images are drawn with Pillow in the Thai font shipped beside this file
(Sarabun, SIL Open Font License) or, failing that, one the system has.

`sync` makes LINE hold what this file describes, and is safe to run again: each menu is named
`rabfang-<lang>-<hash of the menu and its image>`; one already on LINE under that name is kept,
a changed one is created anew, its users are moved to it, and the old one is deleted. Aliases
`rabfang-th` and `rabfang-en` point at the current menus (how the sender finds them to link a
participant's language); the Thai one is every user's default.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import io
import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from linebot.v3.messaging import (
    AsyncMessagingApi,
    AsyncMessagingApiBlob,
    CreateRichMenuAliasRequest,
    MessageAction,
    RichMenuArea,
    RichMenuBatchLinkOperation,
    RichMenuBatchRequest,
    RichMenuBounds,
    RichMenuRequest,
    RichMenuSize,
    UpdateRichMenuAliasRequest,
)
from linebot.v3.messaging.exceptions import ApiException

if TYPE_CHECKING:
    from PIL import ImageDraw, ImageFont

log = logging.getLogger("rabfang.line")

WIDTH, HEIGHT = 2500, 843  # LINE's compact size: the chat keeps most of the screen
MAX_IMAGE = 1 << 20  # bytes: LINE's limit on a rich menu image
PREFIX = "rabfang"
LANGS = ("th", "en")
DEFAULT = "th"
FONT_DIR = Path(__file__).with_name("fonts")
SYSTEM_FONTS = (  # Debian's fonts-thai-tlwg and fonts-noto
    "/usr/share/fonts/truetype/tlwg/Laksaman-Bold.ttf",
    "/usr/share/fonts/truetype/tlwg/Garuda-Bold.ttf",
    "/usr/share/fonts/truetype/tlwg/Loma-Bold.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansThai-Bold.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansThai-Bold.ttf",
)


class Words(NamedTuple):
    th: str
    en: str

    def __call__(self, lang: str) -> str:
        return self.en if lang == "en" else self.th


@dataclass(frozen=True)
class Tile:
    """One tap area: the command it calls, the word it sends, and what its picture says."""

    command: str
    sends: Words  # a word of the command table (bot/engine/commands.py) in each language
    title: Words
    hint: Words
    box: tuple[int, int, int, int]  # x, y, width, height on the image
    icon: str


_HALF = HEIGHT // 2
TILES: tuple[Tile, ...] = (
    Tile(
        "start",
        Words("เริ่ม", "start"),
        Words("เริ่ม / ทำต่อ", "Start / continue"),
        Words("ตอบต่อจากข้อเดิม", "Pick up where you left off"),
        (0, 0, 834, HEIGHT),
        "play",
    ),
    Tile(
        "events",
        Words("กิจกรรม", "events"),
        Words("กิจกรรม", "Events"),
        Words("การประชุมระดมสมอง", "Focus-group sessions"),
        (834, 0, 833, _HALF),
        "calendar",
    ),
    Tile(
        "mydata",
        Words("ข้อมูลของฉัน", "my data"),
        Words("ข้อมูลของฉัน", "My data"),
        Words("ข้อมูลที่เก็บไว้", "What is kept about you"),
        (1667, 0, 833, _HALF),
        "person",
    ),
    Tile(
        "help",
        Words("ช่วยเหลือ", "help"),
        Words("ช่วยเหลือ", "Help"),
        Words("วิธีใช้", "How to use this bot"),
        (834, _HALF, 833, HEIGHT - _HALF),
        "question",
    ),
    Tile(
        "language",
        Words("ภาษา", "language"),
        Words("ภาษา · Language", "Language · ภาษา"),
        Words("ไทย / English", "English / ไทย"),
        (1667, _HALF, 833, HEIGHT - _HALF),
        "language",
    ),
)
CHAT_BAR = Words("เมนู", "Menu")  # ≤ 14 characters

BLUE, INK, MUTED, PAPER, LINE_GREY = "#0B3D91", "#1F2328", "#5F6368", "#F3F6FB", "#D5DCE8"


class FontMissing(RuntimeError):
    """No font that can draw Thai was found."""


def find_font(candidates: Iterable[str | Path] | None = None) -> Path:
    """The first Thai font that exists: $RABFANG_RICHMENU_FONT, the shipped Sarabun, then the system's."""
    if candidates is None:
        chosen = os.environ.get("RABFANG_RICHMENU_FONT")
        candidates = [*([chosen] if chosen else []), FONT_DIR / "Sarabun-SemiBold.ttf", *SYSTEM_FONTS]
    tried = [Path(c) for c in candidates]
    for path in tried:
        if path.is_file():
            return path
    raise FontMissing(
        "no Thai font for the rich menu images; looked for: "
        + ", ".join(str(p) for p in tried)
        + ". Install Debian's fonts-thai-tlwg, or set RABFANG_RICHMENU_FONT to a .ttf that has Thai."
    )


# ---- the menu and its picture -------------------------------------------------------------------


def request(lang: str, name: str = "") -> RichMenuRequest:
    """The rich menu object for `lang`: its size, name, chat bar text and tap areas."""
    return RichMenuRequest(
        size=RichMenuSize(width=WIDTH, height=HEIGHT),
        selected=False,
        name=name or f"{PREFIX}-{lang}",
        chat_bar_text=CHAT_BAR(lang),
        areas=[
            RichMenuArea(
                bounds=RichMenuBounds(x=t.box[0], y=t.box[1], width=t.box[2], height=t.box[3]),
                action=MessageAction(label=t.title(lang)[:20], text=t.sends(lang)),
            )
            for t in TILES
        ],
    )


def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    from PIL import ImageFont, features

    # Thai marks stack on their consonant only with OpenType shaping (libraqm, in Pillow's wheels)
    engine = ImageFont.Layout.RAQM if features.check("raqm") else ImageFont.Layout.BASIC
    return ImageFont.truetype(str(path), size, layout_engine=engine)


def _fitted(path: Path, text: str, size: int, width: int) -> ImageFont.FreeTypeFont:
    font = _font(path, size)
    while font.getlength(text) > width and size > 24:
        size -= 4
        font = _font(path, size)
    return font


def _icon(draw: ImageDraw.ImageDraw, kind: str, cx: int, cy: int, r: int, colour: str, font_path: Path) -> None:
    """A plain glyph drawn with shapes, so it needs no icon font."""
    w = max(6, r // 6)
    if kind == "play":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=colour, width=w)
        draw.polygon([(cx - r // 3, cy - r // 2), (cx - r // 3, cy + r // 2), (cx + r // 2, cy)], fill=colour)
    elif kind == "calendar":
        draw.rounded_rectangle((cx - r, cy - r * 3 // 4, cx + r, cy + r), radius=r // 5, outline=colour, width=w)
        draw.rectangle((cx - r, cy - r * 3 // 4, cx + r, cy - r // 4), fill=colour)
        for dx in (-r // 2, r // 2):
            draw.line((cx + dx, cy - r, cx + dx, cy - r // 2), fill=colour, width=w)
        for row in range(2):
            for col in range(3):
                x, y, d = cx - r // 2 + col * r // 2, cy + r // 12 + row * r * 2 // 5, max(3, w * 2 // 3)
                draw.rectangle((x - d, y - d, x + d, y + d), fill=colour)
    elif kind == "person":
        draw.ellipse((cx - r // 3, cy - r, cx + r // 3, cy - r // 3), fill=colour)
        draw.pieslice((cx - r * 2 // 3, cy - r // 6, cx + r * 2 // 3, cy + r * 7 // 6), 180, 360, fill=colour)
    else:  # question, language: a ring with a character in it
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=colour, width=w)
        glyph = "?" if kind == "question" else "ก A"
        draw.text(
            (cx, cy),
            glyph,
            font=_font(font_path, r * 3 // 2 if kind == "question" else r * 2 // 3),
            fill=colour,
            anchor="mm",
        )


def draw(lang: str, font_path: Path | None = None) -> bytes:
    """The menu's image for `lang` as PNG bytes."""
    return _draw(lang, font_path or find_font())


@functools.lru_cache(maxsize=8)
def _draw(lang: str, path: Path) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (WIDTH, HEIGHT), PAPER)
    pen = ImageDraw.Draw(image)
    for tile in TILES:
        x, y, w, h = tile.box
        big = h == HEIGHT
        ink, hint_ink = ("#FFFFFF", "#DCE6F7") if big else (INK, MUTED)
        if big:
            pen.rectangle((x, y, x + w - 1, y + h - 1), fill=BLUE)
        pen.rectangle((x, y, x + w - 1, y + h - 1), outline=LINE_GREY, width=4)
        title_size, hint_size, r = (110, 56, 110) if big else (76, 44, 58)
        title = _fitted(path, tile.title(lang), title_size, w - 80)
        hint = _fitted(path, tile.hint(lang), hint_size, w - 80)
        cx = x + w // 2
        if big:
            _icon(pen, tile.icon, cx, y + h // 2 - 170, r, ink, path)
            pen.text((cx, y + h // 2 + 40), tile.title(lang), font=title, fill=ink, anchor="mm")
            pen.text((cx, y + h // 2 + 150), tile.hint(lang), font=hint, fill=hint_ink, anchor="mm")
        else:
            _icon(pen, tile.icon, cx, y + h // 2 - 95, r, BLUE, path)
            pen.text((cx, y + h // 2 + 40), tile.title(lang), font=title, fill=ink, anchor="mm")
            pen.text((cx, y + h // 2 + 125), tile.hint(lang), font=hint, fill=hint_ink, anchor="mm")
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    data = out.getvalue()
    if len(data) > MAX_IMAGE:
        raise ValueError(f"the {lang} rich menu image is {len(data)} bytes; LINE takes at most {MAX_IMAGE}")
    return data


@dataclass(frozen=True)
class Menu:
    lang: str
    request: RichMenuRequest
    image: bytes

    @property
    def alias(self) -> str:
        return alias(self.lang)


def alias(lang: str) -> str:
    return f"{PREFIX}-{lang}"


def menus(font_path: Path | None = None) -> list[Menu]:
    """Both menus, each named by a hash of what it is and what it shows."""
    path = font_path or find_font()
    out = []
    for lang in LANGS:
        image = draw(lang, path)
        spec = request(lang).to_dict()
        spec.pop("name", None)
        digest = hashlib.sha256(json.dumps(spec, sort_keys=True, ensure_ascii=False).encode() + image).hexdigest()
        out.append(Menu(lang, request(lang, f"{PREFIX}-{lang}-{digest[:16]}"), image))
    return out


# ---- making LINE hold them ------------------------------------------------------------------------


@dataclass
class Outcome:
    """What a sync did, for the command line to print."""

    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)  # old menus whose users were moved to the new one
    default: str | None = None
    left: list[str] = field(default_factory=list)  # old menus not yet deleted (their move is in progress)


def _status(exc: ApiException) -> int:
    return int(exc.status or 0)


async def sync(
    api: AsyncMessagingApi, blob: AsyncMessagingApiBlob, wanted: Sequence[Menu], *, wait: float = 60.0
) -> Outcome:
    """Make LINE hold `wanted` and nothing else of ours; the Thai one is the default."""
    outcome = Outcome()
    existing = (await api.get_rich_menu_list()).richmenus or []
    ours = [m for m in existing if (m.name or "").startswith(PREFIX + "-")]
    aliases = {a.rich_menu_alias_id: a.rich_menu_id for a in (await api.get_rich_menu_alias_list()).aliases or []}
    current: dict[str, str] = {}
    for menu in wanted:
        found = next((m for m in ours if m.name == menu.request.name), None)
        if found is not None and not await _has_image(blob, found.rich_menu_id):
            # made by a run that stopped before its upload: of no use, and LINE takes no second image
            if found.rich_menu_id in aliases.values():
                for name in [a for a, m in aliases.items() if m == found.rich_menu_id]:
                    await api.delete_rich_menu_alias(name)
                    del aliases[name]
            await api.delete_rich_menu(found.rich_menu_id)
            ours.remove(found)
            found = None
        if found is not None:
            current[menu.lang] = found.rich_menu_id
            outcome.kept.append(menu.request.name)
        else:
            menu_id = (await api.create_rich_menu(menu.request)).rich_menu_id
            try:
                await blob.set_rich_menu_image(menu_id, menu.image, _headers={"Content-Type": "image/png"})
            except BaseException:
                await api.delete_rich_menu(menu_id)  # a menu without its image is of no use to anyone
                raise
            current[menu.lang] = menu_id
            outcome.created.append(menu.request.name)
        if menu.alias not in aliases:
            await api.create_rich_menu_alias(
                CreateRichMenuAliasRequest(rich_menu_alias_id=menu.alias, rich_menu_id=current[menu.lang])
            )
        elif aliases[menu.alias] != current[menu.lang]:
            await api.update_rich_menu_alias(menu.alias, UpdateRichMenuAliasRequest(rich_menu_id=current[menu.lang]))
    try:
        default = (await api.get_default_rich_menu_id()).rich_menu_id
    except ApiException as exc:
        if _status(exc) != 404:
            raise
        default = None
    if DEFAULT in current and default != current[DEFAULT]:
        await api.set_default_rich_menu(current[DEFAULT])
    outcome.default = current.get(DEFAULT)
    for old in ours:
        if old.rich_menu_id in current.values():
            continue
        lang = (old.name or "").removeprefix(PREFIX + "-").split("-", 1)[0]
        if lang in current and not await _move_users(api, old.rich_menu_id, current[lang], wait):
            outcome.left.append(old.name or old.rich_menu_id)
            continue
        outcome.moved.append(old.name or old.rich_menu_id)
        await api.delete_rich_menu(old.rich_menu_id)
        outcome.deleted.append(old.name or old.rich_menu_id)
    return outcome


async def _has_image(blob: AsyncMessagingApiBlob, menu_id: str) -> bool:
    try:
        await blob.get_rich_menu_image(menu_id)
    except ApiException as exc:
        if _status(exc) == 404:
            return False
        raise
    return True


async def _move_users(api: AsyncMessagingApi, old: str, new: str, wait: float) -> bool:
    """Relink everyone linked to `old` to `new` (LINE's batch control) and wait for it to finish;
    False when it has not finished within `wait` seconds."""
    response = await api.rich_menu_batch_with_http_info(
        RichMenuBatchRequest(operations=[RichMenuBatchLinkOperation(var_from=old, to=new)])
    )
    request_id = (response.headers or {}).get("x-line-request-id") or (response.headers or {}).get("X-Line-Request-Id")
    if not request_id:
        return False
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        progress = await api.get_rich_menu_batch_progress(request_id)
        if progress.phase == "succeeded":
            return True
        if progress.phase == "failed":
            log.warning("LINE rich menu: moving users from an old menu failed; it is kept for now")
            return False
        if loop.time() > deadline:
            return False
        await asyncio.sleep(1.0)


def data_host(base_url: str) -> str:
    """The api-data host that goes with an API host: LINE's own, or the same host elsewhere."""
    return base_url.replace("://api.line.me", "://api-data.line.me")


class SyncFailed(RuntimeError):
    """LINE refused a rich-menu call; the message is LINE's (it holds no token or user id)."""


async def publish(base_url: str, token: str, *, data_url: str | None = None, font: Path | None = None) -> Outcome:
    """Draw both menus and make LINE hold them (see `sync`): what `rabfang line richmenu` runs."""
    from linebot.v3.messaging import AsyncApiClient, Configuration

    wanted = menus(font)  # FontMissing before any call to LINE
    api_client = AsyncApiClient(Configuration(host=base_url.rstrip("/"), access_token=token))
    blob_client = AsyncApiClient(Configuration(host=(data_url or data_host(base_url)).rstrip("/"), access_token=token))
    try:
        return await sync(AsyncMessagingApi(api_client), AsyncMessagingApiBlob(blob_client), wanted)
    except ApiException as exc:
        body = exc.body.decode() if isinstance(exc.body, bytes) else str(exc.body or "")
        try:
            message = json.loads(body).get("message", "")
        except (ValueError, AttributeError):
            message = ""
        raise SyncFailed(f"LINE answered {exc.status}: {message or exc.reason}") from None
    finally:
        await api_client.close()
        await blob_client.close()
