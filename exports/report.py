"""`rabfang report`: one self-contained HTML file (no network fetches), Thai with English available.

Per area: respondents by channel and region, the recurring themes of the comments (exports.themes),
then each capability with its current level and 2027 target and its findings stated as sentences
(exports.findings): the headline share with its 95% Wilson interval and n, a visible warning where
n < 30; diverging bars centred on "not sure" for agreement questions, the distribution of levels
picked with the plan's level marked for level picks; the same findings by stakeholder group and by
region (and by round, when answers carry one), small groups flagged; key themes and the free-text
answers. Charts are CSS in a Thai system font stack, printable on A4 (a page per area, no bar cut
across pages, readable in greyscale). Every string from the database or the survey files is
HTML-escaped, and a Content Security Policy forbids any fetch and any script but the page's own
language switch. The file is streamed (comments may be many) under a temporary name and renamed when
complete.
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

from bot.i18n import REASK_VERSIONS, when
from bot.surveys import Catalog
from bot.surveys.schema import Area, Item, Text
from storage import Database
from storage.queries import Filter, snapshot

from .csvfiles import atomic_file, private_dir
from .findings import Pair, convergence, sentence, small_warning, whole
from .summary import (
    CLOSED,
    SMALL_N,
    Change,
    Finding,
    Key,
    Measure,
    Stats,
    group_order,
    measure,
    rating_stats,
    round_changes,
)
from .themes import Theme, Themes, find_themes, shorten

FONT_STACK = (
    '"Noto Sans Thai", "Noto Sans Thai UI", "Sarabun", "Leelawadee UI", "Leelawadee", "Thonburi", '
    '"Tahoma", "Loma", "Garuda", "Waree", "Umpush", "Tlwg Typo", "Norasi", sans-serif'
)
SHORT_QUESTION = {
    "current": ("ระดับปัจจุบันถูกต้องและครบถ้วน", "Current level correct and complete"),
    "feasible": ("เป้าหมายปี 2570 เป็นไปได้", "2027 target feasible"),
    "appropriate": ("เป้าหมายปี 2570 เหมาะสม", "2027 target appropriate"),
    "current_level": ("ระดับปัจจุบัน", "Current level"),
    "target_level": ("เป้าหมายปี 2570", "2027 target"),
}
# The dimensions each capability's findings are compared by; "round" (Delphi) only when answers carry one.
COMPARE = ("round", "stakeholder_group", "region")
COMPARE_TITLES = {
    "round": ("แยกตามรอบ", "By round"),
    "stakeholder_group": ("แยกตามกลุ่มผู้มีส่วนได้ส่วนเสีย", "By stakeholder group"),
    "region": ("แยกตามภูมิภาค", "By region"),
}
COMPARE_HEADS = {"round": ("รอบ", "Round"), "stakeholder_group": ("กลุ่ม", "Group"), "region": ("ภูมิภาค", "Region")}
PLAN_MARK = ("ตามร่างแผน", "the draft plan")  # the plan's level, current or 2027 target (docs/glossary.md)
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


def content_security_policy(script: str, *, served: bool = False) -> str:
    """The Content-Security-Policy of rabfang's pages: nothing from elsewhere, inline styles,
    data: images, and no script but `script` itself (by its hash). `served`: a page `rabfang run`
    serves with this as a header (the presenter's), which may call back to its own server for its
    event stream and may not be framed (a report file carries it in a <meta>, where frame-ancestors
    is ignored)."""
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    return (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        + ("connect-src 'self'; " if served else "")
        + f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
        + ("; frame-ancestors 'none'" if served else "")
    )


CSP = content_security_policy(SCRIPT)

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
.tables {{ display: flex; flex-wrap: wrap; gap: 1.5rem; align-items: flex-start; }}
article.item {{ border: 1px solid #e3e3e3; border-radius: 6px; padding: .75rem 1rem; margin: 1rem 0;
  break-inside: avoid; }}
.levels {{ display: flex; gap: .25rem; align-items: center; margin: .25rem 0 .75rem; flex-wrap: wrap; }}
.lv {{ width: 2rem; text-align: center; border: 1px solid #bbb; border-radius: 3px; font-size: .8rem; }}
.lv.cur {{ background: var(--s5); color: #fff; border-color: var(--s5); }}
.lv.tgt {{ background: #cfe3f1; border-color: var(--s4); }}
.findings {{ margin: .25rem 0 .75rem; padding-left: 1.2rem; }} .findings li {{ margin: .2rem 0; }}
.warn {{ display: inline-block; margin: .1rem 0 .1rem .25rem; padding: 0 .4rem; border: 1.5px solid #8a5a00;
  border-radius: 3px; background: #fff4d6; color: #5a3a00; font-size: .85rem; font-weight: 600; }}
.flag {{ color: #8a5a00; font-weight: 700; }} td.small {{ background: #fff8e6; }}
.chart {{ display: grid; grid-template-columns: minmax(10rem, 14rem) 1fr 12rem; gap: .35rem .75rem;
  align-items: center; margin: .5rem 0; }}
.chart > div {{ break-inside: avoid; }}
.axis {{ display: grid; grid-template-columns: 1fr 1fr; font-size: .75rem; color: var(--muted); }}
.axis span:first-child {{ text-align: right; padding-right: .4rem; }} .axis span:last-child {{ padding-left: .4rem; }}
.div {{ display: grid; grid-template-columns: 1fr 1fr; height: 1.5rem; background: #f6f6f6; }}
.div .neg {{ display: flex; justify-content: flex-end; }} .div .pos {{ display: flex; border-left: 2px solid #222; }}
.div span, .dist .b span {{ display: block; height: 100%; font-size: .72rem; line-height: 1.5rem; text-align: center;
  overflow: hidden; white-space: nowrap; -webkit-print-color-adjust: exact; print-color-adjust: exact; }}
.div span + span {{ border-left: 1px solid #fff; }}
.dists {{ display: grid; grid-template-columns: repeat(auto-fit, minmax(18rem, 1fr)); gap: .5rem 1.5rem; margin: .5rem 0; }}
figure.dist {{ margin: 0; break-inside: avoid; }} figure.dist figcaption {{ font-weight: 600; font-size: .9rem; }}
.dist .row {{ display: grid; grid-template-columns: 4.5rem 1fr 10rem; gap: .4rem; align-items: center; white-space: nowrap;
  font-size: .85rem; margin: .12rem 0; }}
.dist .b {{ height: 1.15rem; background: #f3f3f3; }} .dist .b span {{ line-height: 1.15rem; }}
.dist .lower {{ background: repeating-linear-gradient(135deg, #f4a582, #f4a582 3px, #fbe0d0 3px, #fbe0d0 6px); }}
.dist .plan {{ background: #1b4f8a; }} .dist .higher {{ background: #92c5de; }}
.dist .row.is-plan {{ font-weight: 700; }} .dist .row.is-plan .lab::after {{ content: " ◆"; }}
.dist .mark {{ font-size: .78rem; }}
.legend i.dist-lower {{ background: repeating-linear-gradient(135deg, #f4a582, #f4a582 3px, #fbe0d0 3px, #fbe0d0 6px); }}
.legend i.dist-plan {{ background: #1b4f8a; }} .legend i.dist-higher {{ background: #92c5de; }}
.s1, .s2 {{ background-image: repeating-linear-gradient(135deg, rgba(255,255,255,.4) 0 2px, transparent 2px 6px); }}
.s1 {{ background-color: var(--s1); color: #fff; }} .s2 {{ background-color: var(--s2); }} .s3 {{ background: var(--s3); }}
.s4 {{ background: var(--s4); }} .s5 {{ background: var(--s5); color: #fff; }}
.dk {{ background: repeating-linear-gradient(45deg, #eee, #eee 4px, #fff 4px, #fff 8px); }}
.legend {{ display: flex; flex-wrap: wrap; gap: .75rem; font-size: .85rem; margin: .5rem 0; }}
.legend i {{ display: inline-block; width: .9rem; height: .9rem; vertical-align: -2px; margin-right: .25rem;
  border: 1px solid #ccc; }}
td.pct {{ background: linear-gradient(to right, #cfe3f1 var(--p), transparent var(--p)); min-width: 7rem; }}
table.compare {{ break-inside: avoid; }} table.compare caption {{ text-align: left; font-weight: 600; }}
table.compare td small {{ display: block; line-height: 1.25; }} table.compare td.pct {{ background: none; min-width: 6.5rem; }}
table.compare td.pct.small {{ background: #fff8e6; }}
.themes table {{ width: 100%; }} .themes td.ex {{ overflow-wrap: anywhere; color: #333; font-size: .88rem; }}
.chips {{ margin: .25rem 0 .75rem; }} .chip {{ display: inline-block; margin: .15rem .3rem .15rem 0;
  padding: .05rem .6rem; border: 1px solid #cfe3f1; background: #eef5fb; border-radius: 999px; }}
.chip small {{ margin-left: .3rem; }} #themes-groups th, #themes-groups td {{ vertical-align: middle; }}
#themes-groups .chips {{ margin: 0; }}
.comments ul {{ padding-left: 1.2rem; }} .comments li {{ margin: .35rem 0; white-space: pre-wrap;
  overflow-wrap: anywhere; }}
.comments li small {{ white-space: normal; }}
footer {{ margin-top: 3rem; font-size: .85rem; color: var(--muted); border-top: 1px solid #ddd; padding-top: .5rem; }}
@media print {{
  @page {{ size: A4; margin: 14mm 12mm 16mm; }}
  html {{ font-size: 10pt; }} body {{ max-width: none; padding: 0; }}
  .toggle {{ display: none; }} a {{ color: inherit; text-decoration: none; }}
  section.area {{ break-before: page; }} h2, h3, h4, figcaption, caption {{ break-after: avoid; }}
  article.item {{ border-color: #999; break-inside: auto; }} .levels, .findings {{ break-after: avoid; }}
  .chart > div, figure.dist, .dist .row, tr, .findings li, .comments li {{ break-inside: avoid; }}
  * {{ -webkit-print-color-adjust: exact; print-color-adjust: exact; }}
}}
"""


CHIPS = 5  # themes shown per capability and per stakeholder group


def top_chips(themes: list[Theme]) -> list[Theme]:
    """The CHIPS best Thai themes, then the CHIPS best English ones."""
    return [t for lang in ("th", "en") for t in [t for t in themes if t.language == lang][:CHIPS]]


def is_thai_char(ch: str) -> bool:
    return "\u0e00" <= ch <= "\u0e7f"


def esc(value: object) -> str:
    return escape(str(value), quote=True)


def bi(th: str, en: str) -> str:
    """Both languages; CSS shows the chosen one."""
    return f'<span class="th" lang="th">{esc(th)}</span><span class="en" lang="en">{esc(en)}</span>'


def tx(text: Text) -> str:
    return bi(text.th, text.en)


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
        changes: dict[tuple[str, str, str, int], Change] | None = None,
    ):
        self.catalog = catalog
        self.fh = fh
        self.stats = stats
        self.changes = changes or {}  # Delphi convergence: (area, item, question, round) -> Change
        self.counts = counts  # area -> (dimension, value) -> Counts; dimension "channel" | "region" | "all"
        self.themes = themes or Themes()
        self._measures: dict[Key, Measure] = {}

    def w(self, *parts: str) -> None:
        self.fh.write("".join(parts))

    async def live_sessions(self, rows: AsyncIterator[tuple[Any, ...]], areas: set[str]) -> None:
        """Answers given in the room during live sessions (source live): per session and question,
        how many picked each level. Shown apart from the survey's figures, which they are not in."""
        sessions = await _live_rows(rows, areas)
        if not sessions:
            return
        self.w(f"<section><h2>{bi('คำตอบในห้องประชุม (การประชุมแบบสด)', 'Answers in the room (live sessions)')}</h2>")
        head = "".join(f'<th class="num">{esc(v)}</th>' for v in ("1", "2", "3", "4", "5", "?"))
        for th, en, questions in sessions.values():
            self.w(f"<h3>{bi(th, en)}</h3><table><tr><th>{bi('ขีดความสามารถ · คำถาม', 'Capability · question')}</th>")
            self.w(f'{head}<th class="num">n</th></tr>')
            for (area, item, question), by in questions.items():
                step = self.catalog.step(f"{area}.{item}.{question}")
                label = (
                    f"{tx(step.item.capability)} · {tx(step.question.prompt)}" if step and step.item else esc(question)
                )
                cells = "".join(f'<td class="num">{by.get(o, 0)}</td>' for o in ("1", "2", "3", "4", "5", "dk"))
                self.w(f'<tr><td>{label}</td>{cells}<td class="num">{sum(by.values())}</td></tr>')
            self.w("</table>")
        self.w("</section>")

    # ---- labels ---------------------------------------------------------------------------

    def group_label(self, scope: str, value: str) -> str:
        if not value:
            return bi(*NOT_GIVEN)
        if scope == "channel":
            return bi(*CHANNEL_NAMES.get(value, (value, value)))
        if scope == "round":
            return bi(f"รอบที่ {value}", f"Round {value}")
        profile = self.catalog.common.profile
        options = profile.group if scope == "stakeholder_group" else profile.region
        found = next((o for o in options if o.id == value), None)
        return tx(found.label) if found else esc(value)

    def level_name(self, n: int) -> str:
        """Level `n` as every screen names it ("ระดับ 4 ดิจิทัลเต็มรูปแบบ" / "Level 4 Managed (Fully digital)")."""
        common = self.catalog.common
        return bi(common.named(n, "th"), common.named(n, "en"))

    def question_label(self, area: str, item: str, question: str) -> str:
        if question in SHORT_QUESTION:
            return bi(*SHORT_QUESTION[question])
        step = self.catalog.step(f"{area}.{item}.{question}")
        return tx(step.question.prompt) if step else esc(question)

    # ---- pieces -----------------------------------------------------------------------------

    def finding(self, scope: str, group: str, key: Key) -> Finding:
        return Finding(self.measure(key), self.stats.get(scope, group, key))

    def measure(self, key: Key) -> Measure:
        if key not in self._measures:
            self._measures[key] = measure(self.catalog, key)
        return self._measures[key]

    def short_label(self, key: Key) -> Pair:
        if key[2] in SHORT_QUESTION:
            return SHORT_QUESTION[key[2]]
        step = self.catalog.step(".".join(key))
        return (step.question.prompt.th, step.question.prompt.en) if step else (key[2], key[2])

    def statements(self, keys: list[Key]) -> str:
        """The quotable findings of a capability, one per question, each with its n < 30 warning."""
        items = []
        for key in keys:
            f = self.finding("all", "", key)
            warning = small_warning(f)
            items.append(
                f'<li class="finding" data-q="{esc(key[2])}">{bi(*sentence(f, self.short_label(key)))}'
                + (f' <span class="warn" role="note">{bi(*warning)}</span>' if warning else "")
                + "</li>"
            )
        return f'<ul class="findings">{"".join(items)}</ul>' if items else ""

    def rounds(self, keys: list[Key]) -> str:
        """Round 1 against each later Delphi round, one quotable line per question."""
        items = []
        for key in keys:
            later = sorted(int(g) for g in self.stats.groups("round", key) if g.isdigit() and g != "1")
            for n in later:
                line = convergence(
                    self.short_label(key),
                    self.stats.get("round", "1", key),
                    self.stats.get("round", str(n), key),
                    n,
                    self.changes.get((*key, n)),
                )
                items.append(f'<li class="round" data-q="{esc(key[2])}" data-round="{n}">{bi(*line)}</li>')
        if not items:
            return ""
        title = bi("รอบที่ 2 (เดลฟาย): เทียบกับรอบแรก", "Delphi round 2 against round 1")
        return f'<p class="rounds-title"><b>{title}</b></p><ul class="findings rounds">{"".join(items)}</ul>'

    def diverging(self, t_counts: list[int], n: int) -> str:
        """A bar centred on "not sure": disagreement to the left, agreement to the right, as shares of n."""
        if not n:
            return '<div class="div" role="img" aria-label="no answers"><div class="neg"></div><div class="pos"></div></div>'

        def seg(i: int, count: float) -> str:
            cls, mark, th, en = SCALE[i]
            width = 100 * count / n  # of one half, which is 100% of n
            label = whole(100 * t_counts[i] / n) + "%" if width >= 9 and i != 2 else ""
            title = f"{mark} {th} / {en}: {t_counts[i]}"
            return f'<span class="{cls}" style="width:{width:.2f}%" title="{esc(title)}">{label}</span>'

        c = t_counts
        neg = "".join(seg(i, v) for i, v in ((0, c[0]), (1, c[1]), (2, c[2] / 2)) if v)
        pos = "".join(seg(i, v) for i, v in ((2, c[2] / 2), (3, c[3]), (4, c[4])) if v)
        described = ", ".join(f"{SCALE[i][3]}: {c[i]}" for i in range(5))
        return (
            f'<div class="div" role="img" aria-label="{esc(described)}"><div class="neg">{neg}</div>'
            f'<div class="pos">{pos}</div></div>'
        )

    def chart(self, keys: list[Key]) -> str:
        """Diverging bars of an item's agreement questions, their centres aligned."""
        if not keys:
            return ""
        rows = []
        for key in keys:
            t = self.stats.get("all", "", key)
            disagree = t.counts[0] + t.counts[1]
            numbers = (
                f"{bi('ไม่เห็นด้วย', 'disagree')} {whole(100 * disagree / t.n)}% · "
                f"{bi('เห็นด้วย', 'agree')} {whole(100 * t.agree / t.n)}%"
                if t.n
                else bi("ยังไม่มีคำตอบ", "no answers yet")
            )
            dk = f" · {bi('ไม่ทราบ', 'DK')} {t.dk}" if t.dk else ""
            rows.append(
                f"<div>{self.question_label(*key)}</div>{self.diverging(t.counts, t.n)}"
                f'<div class="num">{numbers}{dk}</div>'
            )
        axis = (
            f'<div></div><div class="axis"><span>← {bi("ไม่เห็นด้วย", "disagree")}</span>'
            f"<span>{bi('เห็นด้วย', 'agree')} →</span></div><div></div>"
        )
        return f'<div class="chart">{"".join(rows)}{axis}</div>'

    def distribution(self, key: Key) -> str:
        """The levels picked (1–5 and don't know) as shares of n, the plan's level marked."""
        f = self.finding("all", "", key)
        t, m = f.tally, f.measure
        rows = []
        for level in range(1, 6):
            count = t.counts[level - 1]
            share = 100 * count / f.n if f.n else 0.0
            side = "higher" if m.plan is None or level > m.plan else "plan" if level == m.plan else "lower"
            mark = ""
            if level == m.plan and m.marks:
                mark = f' <span class="mark">◀ {bi(*PLAN_MARK)}</span>'
            rows.append(
                f'<div class="row{" is-plan" if level == m.plan else ""}">'
                f'<span class="lab" title="{esc(self.level_text(level))}">{bi("ระดับ", "Level")} {level}</span>'
                f'<div class="b"><span class="{side}" style="width:{share:.2f}%"></span></div>'
                f'<span class="num">{whole(share)}% ({count}){mark}</span></div>'
            )
        rows.append(
            f'<div class="row"><span class="lab">{bi("ไม่ทราบ", "Don’t know")}</span><div></div>'
            f'<span class="num">{t.dk} <small>{bi("(ไม่นับใน n)", "(not in n)")}</small></span></div>'
        )
        median = t.median
        caption = self.question_label(*key) + f" <small>n = {f.n}"
        if median is not None:
            caption += f" · {bi('มัธยฐาน', 'median')} {bi('ระดับ', 'level')} {median:g}"
        caption += "</small>"
        described = ", ".join(f"level {v}: {t.counts[v - 1]}" for v in range(1, 6)) + f", don't know: {t.dk}"
        return (
            f'<figure class="dist" role="img" aria-label="{esc(described)}"><figcaption>{caption}</figcaption>'
            f"{''.join(rows)}</figure>"
        )

    def levels(self, item: Item) -> str:
        cells = []
        for n in range(1, max(5, item.target) + 1):
            cls = "cur" if n <= item.current else "tgt" if n <= item.target else ""
            cells.append(f'<span class="lv {cls}">{n}</span>')
        return (
            f'<div class="levels">{"".join(cells)}<span>&nbsp;{bi("ระดับปัจจุบัน", "Current level")}: '
            f"<b>{self.level_name(item.current)}</b> → "
            f"{bi('เป้าหมายปี 2570', '2027 target')}: <b>{self.level_name(item.target)}</b></span></div>"
        )

    def level_text(self, n: int) -> str:
        common = self.catalog.common
        return f"{common.named(n, 'th')} / {common.named(n, 'en')}"

    def legend(self, kinds: set[str]) -> str:
        parts = []
        if "rating" in kinds:
            items = "".join(
                f'<span><i class="{cls}"></i>{esc(mark)} {bi(th, en)}</span>' for cls, mark, th, en in SCALE[:5]
            )
            parts.append(
                f'<div class="legend">{items}<span>{bi("แถบแยกซ้าย–ขวาที่ “ไม่แน่ใจ”; ไม่ทราบ นับแยก", "Bars centred on “not sure”; don’t know counted apart")}</span></div>'
            )
        if "level" in kinds:
            parts.append(
                '<div class="legend">'
                f'<span><i class="dist-lower"></i>{bi("ต่ำกว่าร่างแผน", "Lower than the draft plan")}</span>'
                f'<span><i class="dist-plan"></i>◆ {bi("ระดับตามร่างแผน", "The draft plan’s level")}</span>'
                f'<span><i class="dist-higher"></i>{bi("สูงกว่าร่างแผน", "Higher than the draft plan")}</span></div>'
            )
        return "".join(parts)

    def compare_dims(self) -> list[str]:
        present = self.stats.scopes()
        return [d for d in COMPARE if d != "round" or d in present]

    def compare(self, keys: list[Key], dimension: str) -> str:
        """The findings of one capability per group of a dimension: share, 95% CI, n; small groups flagged."""
        present: set[str] = set()
        for key in keys:
            present |= self.stats.groups(dimension, key)
        groups = group_order(self.catalog, dimension, present)
        if not groups or not keys:
            return ""
        head = "".join(f'<th class="num">{self.question_label(*k)}</th>' for k in keys)
        body = []
        for g in groups:
            cells = []
            for key in keys:
                cells.append(self.compare_cell(self.finding(dimension, g, key), key))
            body.append(f'<tr data-group="{esc(g)}"><th>{self.group_label(dimension, g)}</th>{"".join(cells)}</tr>')
        kinds = {self.measure(k).kind for k in keys}
        what = []
        if "rating" in kinds:
            what.append(("ร้อยละที่เห็นด้วย (4–5)", "% agree (4–5)"))
        if "level" in kinds:
            what.append(("ร้อยละที่เลือกระดับตามร่างแผน", "% picking the draft plan’s level"))
        th_title, en_title = COMPARE_TITLES.get(dimension, (dimension, dimension))
        caption = bi(
            f"{th_title}: {' / '.join(w[0] for w in what)} (ช่วงความเชื่อมั่น 95%), n",
            f"{en_title}: {' / '.join(w[1] for w in what)} (95% CI), n",
        )
        group_head = bi(*COMPARE_HEADS.get(dimension, ("กลุ่ม", "Group")))
        return (
            f'<table class="compare" data-dimension="{esc(dimension)}"><caption>{caption}</caption><thead><tr>'
            f"<th>{group_head}</th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        )

    def compare_cell(self, f: Finding, key: Key) -> str:
        q = esc(key[2])
        if not f.n:
            dk = f" <small>{bi('ไม่ทราบ', 'DK')} {f.tally.dk}</small>" if f.tally.dk else ""
            return f'<td class="num" data-q="{q}">–{dk}</td>'
        pct_value, ci = f.pct, f.ci
        flag = f' <span class="flag" title="n &lt; {SMALL_N}">⚠</span>' if f.small else ""
        main = f"<b>{whole(pct_value)}%</b>" if pct_value is not None else "–"
        interval = f"<small>{whole(ci[0])}–{whole(ci[1])}%</small>" if ci else ""
        extra = ""
        if f.measure.kind == "level" and f.lower is not None and f.higher is not None:
            extra = f"<small>↓{whole(f.share(f.lower) or 0)}% ↑{whole(f.share(f.higher) or 0)}%</small>"
        return (
            f'<td class="num pct{" small" if f.small else ""}" data-q="{q}" style="--p:{pct_value or 0:.1f}%">'
            f"{main}{flag}{interval}<small>n = {f.n}</small>{extra}</td>"
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

    def language_themes(self, area: str) -> str:
        """An area's Thai themes, then its English ones: each language is ranked on its own."""
        both = [(lang, self.themes.of("area", area, lang=lang)) for lang in ("th", "en")]
        if not any(found for _, found in both):
            return self.theme_table([])
        titles = {
            "th": bi("ความคิดเห็นภาษาไทย", "Comments in Thai"),
            "en": bi("ความคิดเห็นภาษาอังกฤษ", "Comments in English"),
        }
        return "".join(
            f'<h4 class="theme-lang" lang="{lang}">{titles[lang]}</h4>{self.theme_table(found)}'
            for lang, found in both
            if found
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
            f"{self.theme_chips(top_chips(self.themes.of('stakeholder_group', group=g)))}</td></tr>"
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
            self.language_themes(area.id),
            f"<h3>{bi('ขีดความสามารถ ระดับปัจจุบัน และเป้าหมายปี 2570', 'Capabilities, current levels and 2027 targets')}</h3>",
        )
        flow = self.catalog.flow(area.id)
        kinds = {s.question.kind for s in flow if s.item is not None}
        self.w(self.legend(kinds))
        for number, item in enumerate(area.items, 1):
            steps = [s for s in flow if s.item is not None and s.item.id == item.id]
            keys = [(area.id, item.id, s.question.id) for s in steps if s.question.kind in CLOSED]
            ratings = [k for k in keys if self.measure(k).kind == "rating"]
            picks = [k for k in keys if self.measure(k).kind == "level"]
            answered = any(self.stats.get("all", "", k).n or self.stats.get("all", "", k).dk for k in keys)
            self.w(
                f'<article class="item" id="item-{esc(area.id)}-{esc(item.id)}">',
                f"<h4>{number}. {tx(item.capability)}</h4>",
                self.levels(item),
                self.statements(keys),
                self.rounds(keys),
            )
            if answered:  # an unanswered capability says so in its statements; empty charts add nothing
                self.w(
                    self.chart(ratings),
                    f'<div class="dists">{"".join(self.distribution(k) for k in picks)}</div>' if picks else "",
                    f'<div class="tables">{"".join(self.compare(keys, d) for d in self.compare_dims())}</div>',
                )
            self.w(
                self.theme_chips(top_chips(self.themes.of("item", area.id, item.id)), bi("ประเด็นหลัก", "Key themes")),
            )
            for s in steps:
                if s.question.kind == "text":
                    heading = (
                        bi("เหตุผลที่ไม่เห็นด้วย", "Why they disagree")
                        if s.question.ask_if
                        else bi("เหตุผลและข้อคิดเห็น", "Reasons and comments")
                    )
                    await self.comments(comments, area.id, item.id, s.question.id, heading)
            self.w("</article>")
        closing = [s for s in flow if s.item is None and s.question.kind == "text"]
        if closing:
            self.w(f"<h3>{bi('ความคิดเห็นและข้อเสนอแนะ', 'Comments and suggestions')}</h3>")
            for s in closing:
                await self.comments(comments, area.id, "", s.question.id, tx(s.question.prompt))
        self.w("</section>")


async def _live_rows(rows: AsyncIterator[tuple[Any, ...]], areas: set[str]) -> dict:
    sessions: dict[int, tuple[str, str, dict[tuple[str, str, str], dict[str, int]]]] = {}
    async for sid, th, en, area, item, question, option, n in rows:
        if area in areas:
            sessions.setdefault(sid, (th, en, {}))[2].setdefault((area, item, question), {})[option] = n
    return sessions


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
        changes = await round_changes(snap, flt)
        themes = await find_themes(snap, flt, catalog)
        counts: dict[str, dict[tuple[str, str], Counts]] = {}
        async for a, channel, region, respondents, completed in snap.respondents(flt):
            cells = counts.setdefault(a, {})
            for cell in (("all", ""), ("channel", channel or ""), ("region", region or "")):
                c = cells.setdefault(cell, Counts())
                c.respondents += respondents
                c.completed += completed
        with atomic_file(out) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            report = Report(catalog, fh, stats, counts, themes, changes)
            _head(report, areas, lang, now)
            # quoted: none of those who agreed to a notice that promised aggregate results only
            async with aclosing(aiter(snap.comments(flt, order, unquotable=REASK_VERSIONS))) as rows:
                comments = Peekable(rows)
                for a in areas:
                    await report.area(a, comments)
            await report.live_sessions(snap.live_counts(), {a.id for a in areas})
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
        f'<p class="muted">{bi("จัดทำเมื่อ " + when(now, "th"), "Generated " + when(now, "en") + " (Bangkok time)")}',
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
            "n คือจำนวนคำตอบ 1–5 (ไม่รวม “ไม่ทราบ” ซึ่งนับแยก); คำถามความเห็นด้วย: ร้อยละที่เห็นด้วยคือสัดส่วนผู้ให้คะแนน 4 "
            "หรือ 5 จาก n; คำถามเลือกระดับ: ร้อยละของผู้ที่เลือกระดับตามร่างแผน (ระดับปัจจุบัน หรือเป้าหมายปี 2570) "
            "จาก n และร้อยละที่เลือกระดับต่ำกว่าหรือสูงกว่า; ช่วงความเชื่อมั่น 95% คำนวณด้วยวิธี Wilson score; "
            f"ตัวเลขจากคำตอบน้อยกว่า {SMALL_N} มีเครื่องหมาย ⚠ ควรตีความอย่างระมัดระวัง; "
            "ผู้ตอบหนึ่งคนอาจตอบได้หลายด้าน; ผู้ตอบเลือกเข้าร่วมเอง จึงไม่ใช่กลุ่มตัวอย่างสุ่ม; "
            "ข้อความแสดงตามที่ผู้ตอบพิมพ์ โดยไม่ระบุตัวตน",
            "n counts answers 1–5 (don't know is counted apart); agreement questions: % agree is the share of 4 or "
            "5 among n; level picks: the share of n who pick the draft plan's level (its current level or 2027 "
            "target), and the shares picking lower and higher; 95% confidence intervals are Wilson score "
            f"intervals; figures from fewer than {SMALL_N} answers are marked ⚠, read them with care; one person "
            "may answer several areas; participants chose to take part, so they are not a random sample; comments "
            "are shown as typed, without identities.",
        ),
        f"</p><script>{SCRIPT}</script></footer></body></html>\n",
    )
