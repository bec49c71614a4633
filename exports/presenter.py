"""The presenter page of a live session, for a projector: served by `rabfang run` at a signed,
expiring link (exports.links' signer, purpose `live:<session id>`; no login).

It shows the capability open now (both languages), its assessed level and 2027 target, the room's
answers as bars and counts, the themes of the comments typed so far (exports.themes), how many
are checked in, and the code and QR codes for late arrivals. It updates by server-sent events: on
connecting the server sends the whole state, then again whenever it changes (it looks four times
a second, cheaply); the browser's EventSource reconnects when the connection drops and gets the
whole state again. No external asset: the report's CSP, plus `connect-src 'self'` for the stream.

    GET  /live/{session}/{token}          the page
    GET  /live/{session}/{token}/events   the stream (text/event-stream)
    POST /live/{session}/{token}/next     the facilitator's buttons: the next capability, or
    POST /live/{session}/{token}/close    close the one open (the signed link is the credential)
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from html import escape
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from bot.live import LiveError, links, qr_svg
from bot.model import utcnow
from storage import Database
from storage import live as lq

from .links import LinkSigner, link_signer
from .report import FONT_STACK, content_security_policy
from .themes import Phraser, phrase_text, rank

if TYPE_CHECKING:
    from bot.app import App
    from bot.config import Settings
    from bot.surveys import Catalog

log = logging.getLogger("rabfang.presenter")

TTL = timedelta(hours=12)  # a day's session; exports.links caps any link at 24 hours
POLL = 0.25  # seconds between looks at the database while a page is connected
PING = 15.0  # seconds of silence before a comment line keeps proxies from closing the stream
THEMES = 8


def purpose(session_id: int) -> str:
    return f"live:{session_id}"


def presenter_url(settings: Settings, signer: LinkSigner, session_id: int) -> str | None:
    if not settings.public_url:
        return None
    token = signer.sign(purpose(session_id), TTL)
    return f"{settings.public_url.rstrip('/')}/live/{session_id}/{token}"


async def presenter_link(
    db: Database, settings: Settings, session_id: int, clock: Callable[[], datetime] = utcnow
) -> str | None:
    """A fresh signed link to a live session's presenter page (None without RABFANG_PUBLIC_URL)."""
    return presenter_url(settings, await link_signer(db, settings, clock), session_id)


# ---- what the page shows ------------------------------------------------------------------------


def level_names(catalog: Catalog, k: int) -> dict:
    """Level `k` as every screen names it, in both languages (the page prints both)."""
    return {"level": k, "th": catalog.common.named(k, "th"), "en": catalog.common.named(k, "en")}


async def live_state(db: Database, catalog: Catalog, settings: Settings, session_id: int, phraser: Phraser) -> dict:
    """The whole state of the page, as the stream sends it."""
    session = await lq.get(db, session_id)
    if session is None:
        return {"missing": True}
    tally = await lq.tally(db, session_id, session.open_item)
    state: dict[str, Any] = {
        "title": {"th": session.title_th, "en": session.title_en},
        "code": session.code,
        "running": session.running,
        "checked_in": tally.checked_in,
        "answers": 0,
        "item": None,
        "questions": [],
        "themes": [],
        "comments": len(tally.comments),
    }
    if not session.open_item:
        return state
    area_id, _, item_id = session.open_item.partition(".")
    area = catalog.areas.get(area_id)
    item = next((i for i in area.items if i.id == item_id), None) if area else None
    if area is None or item is None:
        return state
    n = next(i for i, it in enumerate(area.items, 1) if it.id == item_id)

    state["item"] = {
        "key": session.open_item,
        "n": n,
        "of": len(area.items),
        "area": {"th": area.title.th, "en": area.title.en},
        "th": item.capability.th,
        "en": item.capability.en,
        "current": level_names(catalog, item.current),
        "target": level_names(catalog, item.target),
    }
    answers = 0
    for q in catalog.flow(area_id):
        if q.item is None or q.item.id != item_id or q.question.kind == "text":
            continue
        counts = tally.counts.get(q.question.id, {})
        bars = []
        for o in catalog.options(q):
            label = str(o.value) if o.value is not None else o.label.th
            bars.append(
                {
                    "id": o.id,
                    "label": label,
                    "en": o.label.en,
                    "n": counts.get(o.id, 0),
                    "plan": o.value == q.plan_level,
                }
            )
        total = sum(b["n"] for b in bars)
        answers += total
        state["questions"].append(
            {
                "id": q.question.id,
                "th": q.question.prompt("th"),
                "en": q.question.prompt("en"),
                "total": total,
                "bars": bars,
            }
        )
    state["answers"] = answers
    state["themes"] = themes(tally.comments, phraser)
    return state


def themes(comments: list[str], phraser: Phraser) -> list[dict]:
    """The comments' themes (exports.themes: Thai-aware phrases shared by at least two comments)."""
    if not comments:
        return []
    counts: Counter = Counter()
    for text in comments:
        counts.update(phraser(text))
    key = ("item", "", "", "")
    ranked = rank({key: counts}, {key: len(comments)}, top=THEMES).get(key, [])
    return [{"text": phrase_text(t.tokens), "n": t.comments} for t in ranked]


# ---- the page -----------------------------------------------------------------------------------

SCRIPT = (
    "(function(){var base=location.pathname.replace(/\\/$/,'');var es=null;"
    "function $(id){return document.getElementById(id);}"
    "function el(tag,cls,text){var e=document.createElement(tag);if(cls){e.className=cls;}"
    "if(text!==undefined&&text!==null){e.textContent=String(text);}return e;}"
    "function both(node,th,en){node.textContent='';node.appendChild(el('span','th',th));"
    "node.appendChild(el('span','en',en));}"
    "function render(s){document.body.classList.toggle('idle',!s.item);$('checked').textContent=s.checked_in;"
    "$('answers').textContent=s.answers;$('comments').textContent=s.comments;"
    "if(!s.running){document.body.classList.add('over');}"
    "var qs=$('questions');qs.textContent='';"
    "if(s.item){both($('cap'),s.item.th,s.item.en);both($('area'),s.item.area.th+' \\u00b7 '+s.item.n+'/'+s.item.of,"
    "s.item.area.en+' \\u00b7 '+s.item.n+'/'+s.item.of);"
    "$('plan').textContent=s.item.current.th+'  \\u2192  '+s.item.target.th;"
    "$('plan-en').textContent=s.item.current.en+'  \\u2192  '+s.item.target.en;}"
    "s.questions.forEach(function(q){var box=el('section','q');box.setAttribute('data-q',q.id);"
    "var h=el('h3');both(h,q.th,q.en);box.appendChild(h);var max=1;"
    "q.bars.forEach(function(b){if(b.n>max){max=b.n;}});"
    "q.bars.forEach(function(b){var row=el('div','row'+(b.plan?' plan':''));row.setAttribute('data-option',b.id);"
    "row.appendChild(el('span','label',b.label));var track=el('span','track');var bar=el('span','bar');"
    "bar.style.width=(100*b.n/max)+'%';track.appendChild(bar);row.appendChild(track);"
    "row.appendChild(el('span','count',b.n));box.appendChild(row);});"
    "box.appendChild(el('div','total',q.total));qs.appendChild(box);});"
    "var th=$('themes');th.textContent='';s.themes.forEach(function(t){th.appendChild(el('li','',t.text+' \\u00b7 '+t.n));});}"
    "function connect(){es=new EventSource(base+'/events');"
    "es.onopen=function(){document.body.classList.remove('offline');};"
    "es.onmessage=function(e){render(JSON.parse(e.data));};"
    "es.onerror=function(){document.body.classList.add('offline');"
    "if(es.readyState===2){es.close();setTimeout(connect,2000);}};}"
    "document.querySelectorAll('[data-action]').forEach(function(b){b.addEventListener('click',function(){"
    "fetch(base+'/'+b.getAttribute('data-action'),{method:'POST'});});});"
    "connect();})();"
)
CSP = content_security_policy(SCRIPT, served=True)

CSS = f"""
* {{ box-sizing: border-box; }}
html {{ font-family: {FONT_STACK}; color: #111; background: #fff; font-size: 1.2vw; line-height: 1.3; }}
body {{ margin: 0; padding: 1rem 2rem; min-height: 100vh; }}
.en {{ display: block; color: #555; font-size: .7em; }}
header {{ display: flex; justify-content: space-between; align-items: flex-start; gap: 2rem; }}
header h1 {{ font-size: 1.4rem; margin: 0; }}
.join {{ display: flex; gap: 1rem; align-items: center; text-align: center; }}
.join svg {{ width: 6.5rem; height: 6.5rem; display: block; }}
.join .code {{ font-size: 2.6rem; font-weight: 700; letter-spacing: .15em; }}
.join small {{ display: block; font-size: .75rem; color: #555; }}
#area {{ font-size: 1rem; color: #2166ac; margin-top: .3rem; }}
#cap {{ font-size: 2.2rem; font-weight: 700; margin: .1rem 0; }}
#cap .en {{ font-size: 1.2rem; font-weight: 400; }}
.plan-line {{ font-size: 1.3rem; margin: .2rem 0 .8rem; }} #plan-en {{ font-size: 1rem; color: #555; display: block; }}
#questions {{ display: flex; gap: 3rem; }}
.q {{ flex: 1; }} .q h3 {{ font-size: 1.2rem; margin: 0 0 .5rem; }}
.row {{ display: flex; align-items: center; gap: .6rem; margin: .2rem 0; font-size: 1.2rem; }}
.row .label {{ width: 5.5rem; text-align: right; }}
.row .track {{ flex: 1; background: #eee; height: 1.6rem; border-radius: .3rem; overflow: hidden; }}
.row .bar {{ display: block; height: 100%; background: #67a9cf; transition: width .4s; }}
.row.plan .bar {{ background: #2166ac; }} .row.plan .label {{ font-weight: 700; }}
.row .count {{ width: 3.5rem; font-variant-numeric: tabular-nums; font-weight: 700; }}
.total {{ display: none; }}
#themes {{ list-style: none; padding: 0; margin: .3rem 0; display: flex; flex-wrap: wrap; gap: .5rem; font-size: 1.2rem; }}
.capability > h3 {{ margin: .8rem 0 0; font-size: 1.1rem; }}
#themes li {{ background: #f1f5fa; border: 1px solid #c9d9ea; border-radius: 1rem; padding: .2rem .8rem; }}
footer {{ margin-top: .6rem; font-size: 1.1rem; color: #333; display: flex; gap: 2rem; align-items: center; }}
footer b {{ font-size: 1.6rem; }}
.status {{ margin-left: auto; font-size: .9rem; color: #2a7; }} .status .off {{ display: none; color: #b2182b; }}
body.offline .status .on {{ display: none; }} body.offline .status .off {{ display: inline; }}
.waiting {{ display: none; font-size: 2rem; margin: 3rem 0; color: #555; }}
body.idle .waiting {{ display: block; }} body.idle .capability {{ display: none; }}
.over-note {{ display: none; }} body.over .over-note {{ display: block; font-size: 1.4rem; color: #b2182b; }}
.controls button {{ font: inherit; font-size: .9rem; padding: .2rem .8rem; }}
"""


def page(title_th: str, title_en: str, code: str, joins: dict[str, str]) -> str:
    qrs = "".join(
        f"<div>{qr_svg(url)}<small>{escape('LINE' if channel == 'line' else 'Telegram')}</small></div>"
        for channel, url in joins.items()
    )
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="th">',
            "<head>",
            '<meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{escape(CSP)}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="robots" content="noindex">',
            f"<title>{escape(title_th)} · rabfang live</title>",
            f"<style>{CSS}</style>",
            "</head>",
            '<body class="idle">',
            "<header>",
            f'<div><h1>{escape(title_th)}<span class="en">{escape(title_en)}</span></h1>'
            '<div class="over-note">การประชุมจบแล้ว · The session has ended</div></div>',
            f'<div class="join">{qrs}<div><small>ส่งรหัสนี้ในแชต · send this code in the chat</small>'
            f'<div class="code" id="code">{escape(code)}</div><small>live {escape(code)}</small></div></div>',
            "</header>",
            '<main id="live">',
            '<p class="waiting">รอผู้ดำเนินการเปิดขีดความสามารถ<span class="en">Waiting for the facilitator to open a capability</span></p>',
            '<div class="capability">',
            '<div id="area"></div><div id="cap"></div>',
            '<div class="plan-line">ระดับปัจจุบัน → เป้าหมายปี 2570: <span id="plan"></span><span id="plan-en"></span></div>',
            '<div id="questions"></div>',
            '<h3>ประเด็นจากความเห็น <span class="en" style="display:inline">· themes of the comments</span></h3>',
            '<ul id="themes"></ul>',
            "</div>",
            "</main>",
            "<footer>",
            '<span>ลงชื่อเข้าร่วม / checked in <b id="checked">0</b></span>',
            '<span>คำตอบ / answers <b id="answers">0</b></span>',
            '<span>ความเห็น / comments <b id="comments">0</b></span>',
            '<span class="controls"><button data-action="next">ถัดไป · next</button> '
            '<button data-action="close">ปิดรับ · close</button></span>',
            '<span class="status"><span class="on">● live</span><span class="off">● reconnecting…</span></span>',
            "</footer>",
            f"<script>{SCRIPT}</script>",
            "</body>",
            "</html>",
        ]
    )


# ---- the component --------------------------------------------------------------------------


class Presenter:
    """A component serving the presenter pages (see the module doc)."""

    name = "presenter"

    def __init__(self, app: App, clock: Callable[[], datetime] = utcnow):
        self.app = app
        self.clock = clock
        self.signer: LinkSigner | None = None
        self.phraser = Phraser()
        self._stopping = asyncio.Event()
        base = "/live/{session:int}/{token}"
        self.routes: list[BaseRoute] = [
            Route(base, self.page, methods=["GET"]),
            Route(base + "/events", self.events, methods=["GET"]),
            Route(base + "/{action}", self.act, methods=["POST"]),
        ]

    async def start(self) -> None:
        self.signer = await link_signer(self.app.db, self.app.settings, self.clock)

    async def stop(self) -> None:
        self._stopping.set()  # every open stream ends, so shutting down waits for none

    def drop(self) -> None:
        """End every open stream now and keep serving (the pages reconnect): the connection drop
        a projector's Wi-Fi makes, on purpose."""
        dropped, self._stopping = self._stopping, asyncio.Event()
        dropped.set()

    def _refused(self, request: Request) -> Response | None:
        headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
        if self.signer is None:
            return PlainTextResponse("not ready\n", 503, headers=headers)
        verdict = self.signer.verify(purpose(request.path_params["session"]), request.path_params["token"])
        if verdict == "forged":
            log.warning("presenter link refused: bad signature")
            return PlainTextResponse("forbidden\n", 403, headers=headers)
        if verdict == "expired":
            return PlainTextResponse(
                "this link has expired; start the session again for a new one\n", 410, headers=headers
            )
        return None

    async def page(self, request: Request) -> Response:
        if (refused := self._refused(request)) is not None:
            return refused
        session = await lq.get(self.app.db, request.path_params["session"])
        if session is None:
            return PlainTextResponse("no such live session\n", 404)
        s = self.app.settings
        html = page(
            session.title_th,
            session.title_en,
            session.code,
            links(s.line_basic_id, s.telegram_bot_username, session.code),
        )
        return HTMLResponse(
            html,
            headers={
                "Content-Security-Policy": CSP,
                "Cache-Control": "no-store",
                "Referrer-Policy": "no-referrer",
                "X-Robots-Tag": "noindex",
                "X-Content-Type-Options": "nosniff",
            },
        )

    async def state(self, session_id: int) -> dict:
        return await live_state(self.app.db, self.app.catalog, self.app.settings, session_id, self.phraser)

    async def events(self, request: Request) -> Response:
        if (refused := self._refused(request)) is not None:
            return refused
        session_id = request.path_params["session"]
        return StreamingResponse(
            self._stream(session_id),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no", "Referrer-Policy": "no-referrer"},
        )

    async def _stream(self, session_id: int) -> AsyncIterator[str]:
        """The whole state at once, then whenever it changes; a comment line when quiet."""
        yield "retry: 1000\n\n"
        stopping = self._stopping  # this stream's: set when the component stops
        last: tuple | None = None
        quiet = 0.0
        while not stopping.is_set():
            seen = await lq.fingerprint(self.app.db, session_id)
            if seen != last:
                last = seen
                quiet = 0.0
                yield f"data: {json.dumps(await self.state(session_id), ensure_ascii=False)}\n\n"
            elif quiet >= PING:
                quiet = 0.0
                yield ": ping\n\n"
            try:
                await asyncio.wait_for(stopping.wait(), POLL)
            except TimeoutError:
                quiet += POLL

    async def act(self, request: Request) -> Response:
        if (refused := self._refused(request)) is not None:
            return refused
        action, session_id = request.path_params["action"], request.path_params["session"]
        control = self.app.service.admin.live_control
        try:
            if action == "next":
                said = await control.next(session_id)
            elif action == "close":
                said = await control.close(session_id)
            else:
                return PlainTextResponse("unknown action\n", 404)
        except LiveError as exc:
            return JSONResponse({"ok": False, "message": str(exc)}, status_code=409)
        return JSONResponse({"ok": True, "message": said})
