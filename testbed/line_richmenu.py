"""LINE's rich-menu endpoints for the fake API, with LINE's checks: the menu object (size, ≤ 20 areas
inside the image, chatBarText ≤ 14, actions), the image on the api-data host (PNG or JPEG, ≤ 1 MB,
the menu's own size, uploaded once), the default menu, per-user links, aliases and the batch
control that moves users from one menu to another. Errors are 400 (404 for an unknown id) with
LINE's `message`."""

from __future__ import annotations

import io
import itertools
import re
import struct
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import line_flex

SIZES = {(2500, 1686), (2500, 843), (1200, 810), (1200, 405), (800, 540), (800, 270)}
MAX_AREAS = 20
MAX_IMAGE = 1 << 20
USER_ID = re.compile(r"U[0-9a-f]{32}")
ALIAS_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


class Refused(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def validate_menu(body: object) -> None:
    """A rich menu object as LINE checks it, or Refused."""
    if not isinstance(body, dict):
        raise Refused("The request body could not be parsed")
    unknown = set(body) - {"size", "selected", "name", "chatBarText", "areas"}
    if unknown:
        raise Refused(f"unknown properties {sorted(unknown)}")
    size = body.get("size")
    dims = (size.get("width"), size.get("height")) if isinstance(size, dict) else None
    if dims not in SIZES:
        raise Refused(f"size: one of {sorted(SIZES)}")
    if not isinstance(body.get("selected"), bool):
        raise Refused("selected: true or false")
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 300:
        raise Refused("name: 1 to 300 characters")
    bar = body.get("chatBarText")
    if not isinstance(bar, str) or not 1 <= len(bar) <= 14:
        raise Refused("chatBarText: 1 to 14 characters")
    areas = body.get("areas")
    if not isinstance(areas, list) or len(areas) > MAX_AREAS:
        raise Refused(f"areas: at most {MAX_AREAS}")
    width, height = dims
    for n, area in enumerate(areas):
        bounds = area.get("bounds") if isinstance(area, dict) else None
        if not isinstance(bounds, dict):
            raise Refused(f"areas[{n}].bounds: required")
        x, y, w, h = (bounds.get(k) for k in ("x", "y", "width", "height"))
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (x, y, w, h)):
            raise Refused(f"areas[{n}].bounds: integers x, y, width, height")
        if x < 0 or y < 0 or w <= 0 or h <= 0 or x + w > width or y + h > height:
            raise Refused(f"areas[{n}].bounds: outside the rich menu's {width}x{height}")
        try:
            line_flex.action(area.get("action"), f"areas[{n}].action")
        except line_flex.Invalid as exc:
            raise Refused(str(exc)) from None


def image_size(data: bytes, mime: str) -> tuple[int, int]:
    """The pixel size of a PNG or JPEG, or Refused when the bytes are not what `mime` says."""
    if mime == "image/png":
        if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
            raise Refused("The image is not a PNG")
        return struct.unpack(">II", data[16:24])
    if mime == "image/jpeg":
        if data[:2] != b"\xff\xd8":
            raise Refused("The image is not a JPEG")
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            return image.size
    raise Refused("Content-Type: image/jpeg or image/png", 415)


@dataclass
class RichMenus:
    """The rich-menu side of the fake LINE platform."""

    token: str
    menus: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → the menu object
    images: dict[str, bytes] = field(default_factory=dict)
    default: str | None = None
    links: dict[str, str] = field(default_factory=dict)  # user id → rich menu id
    aliases: dict[str, str] = field(default_factory=dict)  # alias → rich menu id
    batches: dict[str, str] = field(default_factory=dict)  # request id → phase
    log: list[tuple[str, str, int]] = field(default_factory=list)  # (method, path, status)

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)

    def created(self) -> int:
        return sum(1 for m, p, s in self.log if m == "POST" and p == "/v2/bot/richmenu" and s == 200)

    def uploads(self) -> int:
        return sum(1 for m, p, s in self.log if m == "POST" and p.endswith("/content") and s == 200)

    # ---- routing -------------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        r = "/v2/bot/richmenu"
        return [
            Route(r, self._wrap(self._create), methods=["POST"]),
            Route(f"{r}/list", self._wrap(self._list), methods=["GET"]),
            Route(f"{r}/batch", self._wrap(self._batch), methods=["POST"]),
            Route(f"{r}/progress/batch", self._wrap(self._progress), methods=["GET"]),
            Route(f"{r}/alias", self._wrap(self._create_alias), methods=["POST"]),
            Route(f"{r}/alias/list", self._wrap(self._alias_list), methods=["GET"]),
            Route(f"{r}/alias/{{alias}}", self._wrap(self._alias), methods=["GET", "POST", "DELETE"]),
            Route(f"{r}/{{menu}}", self._wrap(self._menu), methods=["GET", "DELETE"]),
            Route("/v2/bot/user/all/richmenu/{menu}", self._wrap(self._set_default), methods=["POST"]),
            Route("/v2/bot/user/all/richmenu", self._wrap(self._default), methods=["GET", "DELETE"]),
            Route("/v2/bot/user/{user}/richmenu/{menu}", self._wrap(self._link), methods=["POST"]),
            Route("/v2/bot/user/{user}/richmenu", self._wrap(self._user), methods=["GET", "DELETE"]),
        ]

    def data_routes(self) -> list[Route]:
        """The api-data host's: the image upload (and download)."""
        return [Route("/v2/bot/richmenu/{menu}/content", self._wrap(self._content), methods=["POST", "GET"])]

    def _wrap(self, handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            if request.headers.get("authorization") != f"Bearer {self.token}":
                response: Response = JSONResponse({"message": "Authentication failed"}, status_code=401)
            else:
                try:
                    response = await handler(request)
                except Refused as exc:
                    response = JSONResponse({"message": str(exc)}, status_code=exc.status)
            self.log.append((request.method, request.url.path, response.status_code))
            return response

        return endpoint

    async def _json(self, request: Request) -> Any:
        import json

        try:
            return json.loads(await request.body())
        except ValueError:
            raise Refused("The request body could not be parsed as JSON") from None

    def _known(self, menu_id: str, *, image: bool = False) -> str:
        if menu_id not in self.menus:
            raise Refused("richmenu not found", 404)
        if image and menu_id not in self.images:
            raise Refused("must upload richmenu image before applying it to user")
        return menu_id

    # ---- menus ---------------------------------------------------------------------------------

    async def _create(self, request: Request) -> Response:
        body = await self._json(request)
        validate_menu(body)
        menu_id = f"richmenu-{uuid.uuid4().hex}"
        self.menus[menu_id] = {"richMenuId": menu_id, **body}
        return JSONResponse({"richMenuId": menu_id})

    async def _list(self, request: Request) -> Response:
        return JSONResponse({"richmenus": list(self.menus.values())})

    async def _menu(self, request: Request) -> Response:
        menu_id = self._known(request.path_params["menu"])
        if request.method == "GET":
            return JSONResponse(self.menus[menu_id])
        if menu_id in self.aliases.values():
            raise Refused("the richmenu has an alias; delete or move the alias first")
        del self.menus[menu_id]
        self.images.pop(menu_id, None)
        self.links = {u: m for u, m in self.links.items() if m != menu_id}
        if self.default == menu_id:
            self.default = None
        return JSONResponse({})

    async def _content(self, request: Request) -> Response:
        menu_id = self._known(request.path_params["menu"])
        if request.method == "GET":
            if menu_id not in self.images:
                raise Refused("Not found", 404)
            return Response(self.images[menu_id], media_type="image/png")
        data = await request.body()
        mime = request.headers.get("content-type", "").split(";")[0].strip()
        if len(data) > MAX_IMAGE:
            raise Refused(f"The image is larger than {MAX_IMAGE} bytes", 413)
        size = image_size(data, mime)
        menu = self.menus[menu_id]["size"]
        if size != (menu["width"], menu["height"]):
            raise Refused(f"The image is {size[0]}x{size[1]}; the richmenu is {menu['width']}x{menu['height']}")
        if menu_id in self.images:
            raise Refused("An image has already been uploaded to the richmenu")
        self.images[menu_id] = data
        return JSONResponse({})

    # ---- the default and per-user links ---------------------------------------------------------

    async def _set_default(self, request: Request) -> Response:
        self.default = self._known(request.path_params["menu"], image=True)
        return JSONResponse({})

    async def _default(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.default = None
            return JSONResponse({})
        if self.default is None:
            raise Refused("no default richmenu", 404)
        return JSONResponse({"richMenuId": self.default})

    def _user_id(self, request: Request) -> str:
        user = request.path_params["user"]
        if not USER_ID.fullmatch(user):
            raise Refused("The value for the 'userId' parameter is invalid")
        return user

    async def _link(self, request: Request) -> Response:
        user = self._user_id(request)
        self.links[user] = self._known(request.path_params["menu"], image=True)
        return JSONResponse({})

    async def _user(self, request: Request) -> Response:
        user = self._user_id(request)
        if request.method == "DELETE":
            self.links.pop(user, None)
            return JSONResponse({})
        if user not in self.links:
            raise Refused("the user has no richmenu", 404)
        return JSONResponse({"richMenuId": self.links[user]})

    # ---- aliases -------------------------------------------------------------------------------

    async def _create_alias(self, request: Request) -> Response:
        body = await self._json(request)
        alias, menu_id = body.get("richMenuAliasId"), body.get("richMenuId")
        if not isinstance(alias, str) or not ALIAS_ID.fullmatch(alias):
            raise Refused("richMenuAliasId: 1 to 32 of A-Z, a-z, 0-9, _ and -")
        if alias in self.aliases:
            raise Refused("conflict richmenu alias id")
        self.aliases[alias] = self._known(str(menu_id), image=True)
        return JSONResponse({})

    async def _alias_list(self, request: Request) -> Response:
        return JSONResponse({"aliases": [{"richMenuAliasId": a, "richMenuId": m} for a, m in self.aliases.items()]})

    async def _alias(self, request: Request) -> Response:
        alias = request.path_params["alias"]
        if alias not in self.aliases:
            raise Refused("richmenu alias not found", 404)
        if request.method == "GET":
            return JSONResponse({"richMenuAliasId": alias, "richMenuId": self.aliases[alias]})
        if request.method == "DELETE":
            del self.aliases[alias]
            return JSONResponse({})
        body = await self._json(request)
        self.aliases[alias] = self._known(str(body.get("richMenuId")), image=True)
        return JSONResponse({})

    # ---- batch control -------------------------------------------------------------------------

    async def _batch(self, request: Request) -> Response:
        body = await self._json(request)
        operations = body.get("operations")
        if not isinstance(operations, list) or not 1 <= len(operations) <= 1000:
            raise Refused("operations: 1 to 1000")
        for op in operations:
            if op.get("type") == "link":
                old, new = self._known(str(op.get("from"))), self._known(str(op.get("to")), image=True)
                self.links = {u: (new if m == old else m) for u, m in self.links.items()}
            elif op.get("type") == "unlink":
                old = self._known(str(op.get("from")))
                self.links = {u: m for u, m in self.links.items() if m != old}
            elif op.get("type") == "unlinkAll":
                self.links = {}
            else:
                raise Refused("operations[].type: link, unlink or unlinkAll")
        request_id = str(uuid.uuid4())
        self.batches[request_id] = "succeeded"
        return JSONResponse({}, status_code=202, headers={"x-line-request-id": request_id})

    async def _progress(self, request: Request) -> Response:
        request_id = request.query_params.get("requestId", "")
        if request_id not in self.batches:
            raise Refused("request not found", 404)
        now = "2026-01-01T00:00:00.000Z"
        return JSONResponse({"phase": self.batches[request_id], "acceptedTime": now, "completedTime": now})
