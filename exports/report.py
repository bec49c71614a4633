"""`rabfang report`: one self-contained HTML file (no network fetches), Thai with English available.

Per area: each capability with its current level and 2027 target, stacked bars of its three
ratings with n and % agree, the breakdown by stakeholder group, respondents by channel and
region, the recurring themes of the comments (exports.themes: per area, per capability, and per
stakeholder group at the end), and the free-text answers grouped per question. Charts are CSS bars in a Thai system font
stack; every string from the database or the survey files is HTML-escaped, and a Content Security
Policy forbids any fetch and any script but the page's own language switch. The file is streamed
(comments may be many) under a temporary name and renamed when complete.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any, TextIO

from bot.surveys import Catalog
from bot.surveys.schema import Area, Item, Text
from storage import Database
from storage.queries import Filter, snapshot

from .csvfiles import BANGKOK, atomic_file, private_dir
from .summary import Key, Stats, Tally, group_order, rating_stats
from .themes import Theme, Themes, find_themes, shorten

FONT_STACK = (
    '"Noto Sans Thai", "Noto Sans Thai UI", "Sarabun", "Leelawadee UI", "Leelawadee", "Thonburi", '
    '"Tahoma", "Loma", "Garuda", "Waree", "Umpush", "Tlwg Typo", "Norasi", sans-serif'
)
SHORT_QUESTION = {
    "current": ("สถานภาพปัจจุบันถูกต้องและครบถ้วน", "Current status correct and complete"),
    "feasible": ("เป้าหมายปี 2570 เป็นไปได้", "2027 target feasible"),
    "appropriate": ("เป้าหมายปี 2570 เหมาะสม", "2027 target appropriate"),
}
CHANNEL_NAMES = {"line": ("LINE", "LINE"), "telegram": ("Telegram", "Telegram"), "console": ("คอนโซล", "Console")}
NOT_GIVEN = ("ไม่ระบุ", "Not given")
SCALE = (
    ("s1", "1", "ไม่เห็นด้วยอย่างยิ่ง", "Strongly disagree"),
    ("s2", "2", "ไม่เห็นด้วย", "Disagree"),
    ("s3", "3", "ไม่แน่ใจ", "Not sure"),
    ("s4", "4", "เห็นด้วย", "Agree"),
    ("s5", "5", "เห็นด้วยอย่างยิ่ง", "Strongly agree"),
    ("dk", "?", "ไม่ทราบ", "Don't know"),
)

SCRIPT = (
    "(function(){var d=document.documentElement;function set(l){d.setAttribute('data-lang',l);d.lang=l;}"
    "document.querySelectorAll('[data-set-lang]').forEach(function(b){b.addEventListener('click',"
    "function(){set(b.getAttribute('data-set-lang'));});});"
    "if(location.hash==='#en'||location.hash==='#th'){set(location.hash.slice(1));}})();"
)
SCRIPT_HASH = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    f"script-src 'sha256-{SCRIPT_HASH}'; base-uri 'none'; form-action 'none'"
)

CSS = f"""
:root {{ --s1:#b2182b; --s2:#ef8a62; --s3:#d9d9d9; --s4:#67a9cf; --s5:#2166ac; --ink:#1b1b1b; --muted:#5f6368; }}
* {{ box-sizing: border-box; }}
html {{ font-family: {FONT_STACK}; color: var(--ink); background: #fff; line-height: 1.55; }}
body {{ margin: 0 auto; max-width: 1100px; padding: 24px; }}
html[data-lang="th"] .en, html[data-lang="en"] .th {{ display: none; }}
h1 {{ font-size: 1.6rem; margin: 0 0 .25rem; }} h2 {{ font-size: 1.35rem; margin: 2rem 0 .5rem;
  border-bottom: 3px solid var(--s5); padding-bottom: .25rem; }}
h3 {{ font-size: 1.1rem; margin: 1.5rem 0 .5rem; }} h4 {{ font-size: 1rem; margin: .25rem 0; }}
.muted, small {{ color: var(--muted); }}
.toggle {{ float: right; }} .toggle button {{ font: inherit; padding: .2rem .7rem; margin-left: .25rem;
  border: 1px solid #999; background: #f4f4f4; border-radius: 4px; cursor: pointer; }}
nav ul {{ columns: 2; padding-left: 1.2rem; }}
table {{ border-collapse: collapse; margin: .5rem 0 1rem; font-size: .92rem; }}
th, td {{ border: 1px solid #ddd; padding: .25rem .5rem; text-align: left; vertical-align: top; }}
td.num, th.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.tables {{ display: flex; flex-wrap: wrap; gap: 1.5rem; }}
article.item {{ border: 1px solid #e3e3e3; border-radius: 6px; padding: .75rem 1rem; margin: 1rem 0;
  break-inside: avoid; }}
.levels {{ display: flex; gap: .25rem; align-items: center; margin: .25rem 0 .75rem; flex-wrap: wrap; }}
.lv {{ width: 2rem; text-align: center; border: 1px solid #bbb; border-radius: 3px; font-size: .8rem; }}
.lv.cur {{ background: var(--s5); color: #fff; border-color: var(--s5); }}
.lv.tgt {{ background: #cfe3f1; border-color: var(--s4); }}
.chart {{ display: grid; grid-template-columns: minmax(12rem, 16rem) 1fr 15rem; gap: .35rem .75rem;
  align-items: center; }}
.bar {{ display: flex; height: 1.5rem; border-radius: 3px; overflow: hidden; background: #f1f1f1; }}
.bar span {{ display: block; height: 100%; font-size: .75rem; line-height: 1.5rem; text-align: center;
  overflow: hidden; white-space: nowrap; -webkit-print-color-adjust: exact; print-color-adjust: exact; }}
.s1 {{ background: var(--s1); color: #fff; }} .s2 {{ background: var(--s2); }} .s3 {{ background: var(--s3); }}
.s4 {{ background: var(--s4); }} .s5 {{ background: var(--s5); color: #fff; }}
.dk {{ background: repeating-linear-gradient(45deg, #eee, #eee 4px, #fff 4px, #fff 8px); }}
.legend {{ display: flex; flex-wrap: wrap; gap: .75rem; font-size: .85rem; margin: .5rem 0; }}
.legend i {{ display: inline-block; width: .9rem; height: .9rem; vertical-align: -2px; margin-right: .25rem;
  border: 1px solid #ccc; }}
td.pct {{ background: linear-gradient(to right, #cfe3f1 var(--p), transparent var(--p)); min-width: 7rem; }}
.themes table {{ width: 100%; }} .themes td.ex {{ overflow-wrap: anywhere; color: #333; font-size: .88rem; }}
.chips {{ margin: .25rem 0 .75rem; }} .chip {{ display: inline-block; margin: .15rem .3rem .15rem 0;
  padding: .05rem .6rem; border: 1px solid #cfe3f1; background: #eef5fb; border-radius: 999px; }}
.chip small {{ margin-left: .3rem; }} #themes-groups th, #themes-groups td {{ vertical-align: middle; }}
#themes-groups .chips {{ margin: 0; }}
.comments ul {{ padding-left: 1.2rem; }} .comments li {{ margin: .35rem 0; white-space: pre-wrap;
  overflow-wrap: anywhere; }}
.comments li small {{ white-space: normal; }}
footer {{ margin-top: 3rem; font-size: .85rem; color: var(--muted); border-top: 1px solid #ddd; padding-top: .5rem; }}
@media print {{ .toggle {{ display: none; }} body {{ max-width: none; }} }}
"""


CHIPS = 5  # themes shown per capability and per stakeholder group


def is_thai_char(ch: str) -> bool:
    return "\u0e00" <= ch <= "\u0e7f"


def esc(value: object) -> str:
    return escape(str(value), quote=True)


def bi(th: str, en: str) -> str:
    """Both languages; CSS shows the chosen one."""
    return f'<span class="th" lang="th">{esc(th)}</span><span class="en" lang="en">{esc(en)}</span>'


def tx(text: Text) -> str:
    return bi(text.th, text.en)


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}%"


class Peekable:
    """An async iterator that can look at its next row without taking it."""

    _END = object()

    def __init__(self, it: AsyncIterator[tuple[Any, ...]]):
        self._it = it
        self._next: Any = None

    async def peek(self) -> tuple[Any, ...] | None:
        if self._next is None:
            self._next = await anext(self._it, self._END)
        return None if self._next is self._END else self._next

    async def take(self) -> tuple[Any, ...] | None:
        row = await self.peek()
        if row is not None:
            self._next = None
        return row


@dataclass
class Counts:
    respondents: int = 0
    completed: int = 0


class Report:
    def __init__(
        self,
        catalog: Catalog,
        fh: TextIO,
        stats: Stats,
        counts: dict[str, dict[tuple[str, str], Counts]],
        themes: Themes | None = None,
    ):
        self.catalog = catalog
        self.fh = fh
        self.stats = stats
        self.counts = counts  # area -> (dimension, value) -> Counts; dimension "channel" | "region" | "all"
        self.themes = themes or Themes()

    def w(self, *parts: str) -> None:
        self.fh.write("".join(parts))

    # ---- labels ---------------------------------------------------------------------------

    def group_label(self, scope: str, value: str) -> str:
        if not value:
            return bi(*NOT_GIVEN)
        if scope == "channel":
            return bi(*CHANNEL_NAMES.get(value, (value, value)))
        profile = self.catalog.common.profile
        options = profile.group if scope == "stakeholder_group" else profile.region
        found = next((o for o in options if o.id == value), None)
        return tx(found.label) if found else esc(value)

    def level_name(self, n: int) -> str:
        level = self.catalog.common.level(n)
        return tx(level.name) if level else ""

    def question_label(self, area: str, item: str, question: str) -> str:
        if question in SHORT_QUESTION:
            return bi(*SHORT_QUESTION[question])
        step = self.catalog.step(f"{area}.{item}.{question}")
        return tx(step.question.prompt) if step else esc(question)

    # ---- pieces -----------------------------------------------------------------------------

    def bar(self, t: Tally) -> str:
        total = t.n + t.dk
        if not total:
            return '<div class="bar" role="img" aria-label="no answers"></div>'
        parts, described = [], []
        for (cls, mark, th, en), count in zip(SCALE, [*t.counts, t.dk], strict=True):
            if not count:
                continue
            width = 100 * count / total
            label = str(count) if width >= 6 else ""
            parts.append(
                f'<span class="{cls}" style="width:{width:.2f}%" title="{esc(mark)} {esc(th)} / {esc(en)}: {count}">'
                f"{label}</span>"
            )
            described.append(f"{en}: {count}")
        return f'<div class="bar" role="img" aria-label="{esc(", ".join(described))}">{"".join(parts)}</div>'

    def legend(self) -> str:
        items = "".join(f'<span><i class="{cls}"></i>{esc(mark)} {bi(th, en)}</span>' for cls, mark, th, en in SCALE)
        return f'<div class="legend">{items}</div>'

    def levels(self, item: Item) -> str:
        cells = []
        for n in range(1, max(5, item.target) + 1):
            cls = "cur" if n <= item.current else "tgt" if n <= item.target else ""
            cells.append(f'<span class="lv {cls}">{n}</span>')
        return (
            f'<div class="levels">{"".join(cells)}<span>&nbsp;{bi("สถานภาพปัจจุบัน", "Current")}: '
            f"<b>{bi('ระดับ', 'level')} {item.current}</b> – {self.level_name(item.current)} → "
            f"{bi('เป้าหมาย พ.ศ. 2570', '2027 target')}: <b>{bi('ระดับ', 'level')} {item.target}</b> – "
            f"{self.level_name(item.target)}</span></div>"
        )

    def chart(self, keys: list[Key]) -> str:
        rows = []
        for key in keys:
            t = self.stats.get("all", "", key)
            rows.append(
                f"<div>{self.question_label(*key)}</div>{self.bar(t)}"
                f'<div class="num">n = {t.n}'
                + (f" <small>(+{t.dk} {bi('ไม่ทราบ', 'DK')})</small>" if t.dk else "")
                + f" · {bi('เห็นด้วย', 'agree')} {pct(t.pct_agree)}</div>"
            )
        return f'<div class="chart">{"".join(rows)}</div>'

    def by_group(self, keys: list[Key]) -> str:
        present: set[str] = set()
        for key in keys:
            present |= self.stats.groups("stakeholder_group", key)
        groups = group_order(self.catalog, "stakeholder_group", present)
        if not groups:
            return ""
        head = "".join(f'<th class="num">{self.question_label(*k)}</th>' for k in keys)
        body = []
        for g in groups:
            cells = []
            for key in keys:
                t = self.stats.get("stakeholder_group", g, key)
                if t.n:
                    cells.append(
                        f'<td class="num pct" style="--p:{t.pct_agree}%"><b>{pct(t.pct_agree)}</b> '
                        f"<small>n = {t.n}</small></td>"
                    )
                else:
                    cells.append('<td class="num">–</td>')
            body.append(f"<tr><th>{self.group_label('stakeholder_group', g)}</th>{''.join(cells)}</tr>")
        caption = bi("ร้อยละที่เห็นด้วย (4–5) แยกตามกลุ่มผู้มีส่วนได้ส่วนเสีย", "% agree (4–5) by stakeholder group")
        return (
            f"<table><caption>{caption}</caption><thead><tr><th>{bi('กลุ่ม', 'Group')}</th>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>"
        )

    def count_table(self, area: str, dimension: str) -> str:
        cells = self.counts.get(area, {})
        present = {v for (d, v) in cells if d == dimension}
        values = group_order(self.catalog, dimension, present)
        title = bi("ช่องทาง", "Channel") if dimension == "channel" else bi("ภูมิภาค", "Region")
        rows = "".join(
            f"<tr><th>{self.group_label(dimension, v)}</th><td class='num'>{cells[(dimension, v)].respondents}</td>"
            f"<td class='num'>{cells[(dimension, v)].completed}</td></tr>"
            for v in values
        )
        return (
            f"<table><thead><tr><th>{title}</th><th class='num'>{bi('ผู้ตอบ', 'Respondents')}</th>"
            f"<th class='num'>{bi('ตอบครบ', 'Completed')}</th></tr></thead><tbody>{rows}</tbody></table>"
        )

    def theme_table(self, themes: list[Theme]) -> str:
        """The themes of an area: rank, theme, how many comments, and one of them."""
        if not themes:
            return (
                f'<p class="muted">{bi("ยังมีความคิดเห็นไม่พอที่จะสรุปประเด็น", "Not enough comments yet to find themes")}</p>'
            )
        shown: set[str] = set()
        rows = []
        for n, t in enumerate(themes, 1):
            example = next((e for e in t.examples if e not in shown), t.examples[0] if t.examples else "")
            shown.add(example)
            lang = "th" if any(is_thai_char(c) for c in t.text) else "en"
            rows.append(
                f'<tr><td class="num">{n}</td><th lang="{lang}">{esc(t.text)}</th>'
                f'<td class="num">{t.comments} <small>({t.share:.0f}%)</small></td>'
                f'<td class="ex">{esc(shorten(example))}</td></tr>'
            )
        return (
            f'<div class="themes"><table><thead><tr><th class="num">#</th><th>{bi("ประเด็น", "Theme")}</th>'
            f'<th class="num">{bi("ความคิดเห็น", "Comments")}</th><th>{bi("ตัวอย่าง", "Example")}</th></tr>'
            f"</thead><tbody>{''.join(rows)}</tbody></table></div>"
        )

    def theme_chips(self, themes: list[Theme], label: str = "") -> str:
        if not themes:
            return ""
        chips = "".join(
            f'<span class="chip" title="{esc(t.comments)} {esc("comments")}">{esc(t.text)}<small>{t.comments}</small></span>'
            for t in themes
        )
        return f'<div class="chips">{f"<b>{label}:</b> " if label else ""}{chips}</div>'

    def group_themes(self) -> None:
        """Themes per stakeholder group, across the areas in the report."""
        groups = {k[3] for k in self.themes.groups if k[0] == "stakeholder_group" and self.themes.groups[k]}
        if not groups:
            return
        title = bi("ประเด็นที่พบบ่อย แยกตามกลุ่มผู้มีส่วนได้ส่วนเสีย", "Recurring themes by stakeholder group")
        rows = "".join(
            f"<tr><th>{self.group_label('stakeholder_group', g)}</th><td>"
            f"{self.theme_chips(self.themes.of('stakeholder_group', group=g)[:CHIPS])}</td></tr>"
            for g in group_order(self.catalog, "stakeholder_group", groups)
        )
        self.w(
            f'<section class="themes" id="themes-groups"><h2>{title}</h2><table><tbody>{rows}</tbody></table></section>'
        )

    async def comments(self, comments: Peekable, area: str, item: str, question: str, heading: str) -> None:
        """Write the free-text answers to one question (they arrive in survey order)."""
        rows = []
        while (row := await comments.peek()) is not None and tuple(row[4:7]) == (area, item, question):
            await comments.take()
            _who, channel, group, region, *_key, text, _lang, _at = row
            meta = " · ".join(
                (self.group_label("stakeholder_group", group or ""), self.group_label("region", region or ""))
            )
            rows.append(f"<li>{esc(text)} <small>— {meta} · {self.group_label('channel', channel or '')}</small></li>")
        if rows:
            self.w(
                f'<div class="comments"><h4>{heading} <small>({len(rows)})</small></h4><ul>',
                "".join(rows),
                "</ul></div>",
            )

    async def area(self, area: Area, comments: Peekable) -> None:
        total = self.counts.get(area.id, {}).get(("all", ""), Counts())
        self.w(
            f'<section class="area" id="area-{esc(area.id)}"><h2>{tx(area.title)}</h2>',
            f'<p class="muted">{bi("ผู้ตอบ", "Respondents")}: <b>{total.respondents}</b> · ',
            f"{bi('ตอบครบทั้งด้าน', 'Completed the area')}: <b>{total.completed}</b></p>",
            f"<h3>{bi('จำนวนผู้ตอบแยกตามช่องทางและภูมิภาค', 'Respondents by channel and region')}</h3>",
            f'<div class="tables">{self.count_table(area.id, "channel")}{self.count_table(area.id, "region")}</div>',
            f'<h3 id="themes-{esc(area.id)}">{bi("ประเด็นที่พบบ่อยในความคิดเห็น", "Recurring themes in the comments")}</h3>',
            self.theme_table(self.themes.of("area", area.id)),
            f"<h3>{bi('ขีดความสามารถและระดับเป้าหมาย', 'Capabilities and targets')}</h3>",
            self.legend(),
        )
        flow = self.catalog.flow(area.id)
        for number, item in enumerate(area.items, 1):
            steps = [s for s in flow if s.item is not None and s.item.id == item.id]
            keys = [(area.id, item.id, s.question.id) for s in steps if s.question.kind == "rating"]
            self.w(
                f'<article class="item" id="item-{esc(area.id)}-{esc(item.id)}">',
                f"<h4>{number}. {tx(item.capability)}</h4>",
                self.levels(item),
                self.chart(keys),
                self.by_group(keys),
                self.theme_chips(self.themes.of("item", area.id, item.id)[:CHIPS], bi("ประเด็นหลัก", "Key themes")),
            )
            for s in steps:
                if s.question.kind == "text":
                    heading = bi("เหตุผลที่ไม่เห็นด้วย", "Why they disagree")
                    await self.comments(comments, area.id, item.id, s.question.id, heading)
            self.w("</article>")
        closing = [s for s in flow if s.item is None and s.question.kind == "text"]
        if closing:
            self.w(f"<h3>{bi('ความคิดเห็นและข้อเสนอแนะ', 'Comments and suggestions')}</h3>")
            for s in closing:
                await self.comments(comments, area.id, "", s.question.id, tx(s.question.prompt))
        self.w("</section>")


async def write_report(
    db: Database,
    catalog: Catalog,
    out: Path,
    *,
    area: str | None = None,
    lang: str = "th",
    now: datetime | None = None,
) -> Path:
    """Write the HTML report to `out` (atomically) and return it."""
    if area is not None and area not in catalog.areas:
        raise ValueError(f"unknown area {area!r}; areas: {', '.join(catalog.areas)}")
    now = now or datetime.now(UTC)
    flt = Filter(area=area)
    areas = [a for a in catalog.areas.values() if area is None or a.id == area]
    order = [(s.area, s.item_id, s.question.id) for a in areas for s in catalog.flow(a.id) if s.question.kind == "text"]
    private_dir(out.parent)
    async with snapshot(db) as snap:
        stats = await rating_stats(snap, flt)
        themes = await find_themes(snap, flt, catalog)
        counts: dict[str, dict[tuple[str, str], Counts]] = {}
        async for a, channel, region, respondents, completed in snap.respondents(flt):
            cells = counts.setdefault(a, {})
            for cell in (("all", ""), ("channel", channel or ""), ("region", region or "")):
                c = cells.setdefault(cell, Counts())
                c.respondents += respondents
                c.completed += completed
        with atomic_file(out) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            report = Report(catalog, fh, stats, counts, themes)
            _head(report, areas, lang, now)
            async with aclosing(aiter(snap.comments(flt, order))) as rows:
                comments = Peekable(rows)
                for a in areas:
                    await report.area(a, comments)
            report.group_themes()
            _foot(report)
    return out


def _head(r: Report, areas: list[Area], lang: str, now: datetime) -> None:
    title_th = "รายงานผลการรับฟังความคิดเห็น ร่างแผนพัฒนารัฐบาลดิจิทัล พ.ศ. 2566–2570"
    title_en = "Consultation report: draft Digital Government Development Plan 2023–2027"
    lang = "en" if lang == "en" else "th"
    r.w(
        f'<!doctype html>\n<html lang="{lang}" data-lang="{lang}"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{esc(title_th)} / {esc(title_en)}</title><style>{CSS}</style></head><body>",
        '<div class="toggle" aria-label="language / ภาษา">',
        '<button type="button" data-set-lang="th" lang="th">ไทย</button>',
        '<button type="button" data-set-lang="en" lang="en">English</button></div>',
        f"<h1>{bi(title_th, title_en)}</h1>",
        f'<p class="muted">{bi("จัดทำเมื่อ", "Generated")} {esc(now.astimezone(BANGKOK).isoformat(timespec="minutes"))}',
        f" · {bi('ข้อมูลจากผู้ที่ให้ความยินยอมแล้วเท่านั้น', 'consenting participants only')}</p>",
    )
    rows = []
    for a in areas:
        c = r.counts.get(a.id, {}).get(("all", ""), Counts())
        rows.append(
            f'<tr><th><a href="#area-{esc(a.id)}">{tx(a.title)}</a></th><td class="num">{c.respondents}</td>'
            f'<td class="num">{c.completed}</td></tr>'
        )
    r.w(
        f"<h2>{bi('ภาพรวม', 'Overview')}</h2><table><thead><tr><th>{bi('ด้าน', 'Area')}</th>",
        f"<th class='num'>{bi('ผู้ตอบ', 'Respondents')}</th><th class='num'>{bi('ตอบครบ', 'Completed')}</th>",
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>",
    )


def _foot(r: Report) -> None:
    r.w(
        "<footer><p>",
        bi(
            "n คือจำนวนผู้ให้คะแนน 1–5 (ไม่รวม “ไม่ทราบ”); ร้อยละที่เห็นด้วยคือสัดส่วนผู้ให้คะแนน 4 หรือ 5 จาก n; "
            "ผู้ตอบหนึ่งคนอาจตอบได้หลายด้าน; ข้อความแสดงตามที่ผู้ตอบพิมพ์ โดยไม่ระบุตัวตน",
            "n counts ratings 1–5 (don't know excluded); % agree is the share of 4 or 5 among n; one person may "
            "answer several areas; comments are shown as typed, without identities.",
        ),
        f"</p><script>{SCRIPT}</script></footer></body></html>\n",
    )
