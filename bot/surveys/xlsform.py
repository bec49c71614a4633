"""Survey workbooks: the surveys in use as one XLSForm-shaped workbook, and a workbook back to them.

A workbook becomes the same pydantic models (`Common`, `Area`) the YAML loader validates, and is
written out as the same YAML files. Sheets (headers match case-insensitively; `::Thai (th)` and
`::English (en)` name the language, as KoboToolbox and ODK write them):

  capabilities  area | capability id | capability::Thai (th) | capability::English (en) | current level | 2027 target |
                level 1 example::Thai (th) | level 1 example::English (en) | … one pair per level
                One row per capability, in the order asked; `area` is the name of an area's group. The
                examples say what each level looks like for that capability: a pair for every level, or
                none (all blank).
  survey        type | name | label::… | hint::… | required | relevant | short::… | marks
                The top-level group `item_questions` holds the questions asked of every capability
                (common.yaml's item_questions). Every other top-level group is an area: name = area id,
                label = title, hint = intro, short = its menu button (the label when empty). Inside it:
                the area's closing questions and, optionally, its own `item_questions` group (replacing
                the common one). Areas are listed in the menu in the order of their groups.
                `select_one scale` is a rating; `select_one levels` a level of the maturity scale,
                with `marks` current or target (the plan's level its buttons mark); `text` free text;
                `required` yes/no. `relevant` is ask_if: `${q} <= N` (several joined with `or`) after
                a rating, `${q} != 'plan'` (several joined with `or`) when a level pick differs from
                the plan.
  choices       list_name | name | label::… | value | short::… | aliases (separated by ;)
                List `scale` is the rating scale; lists `group`, `region`, `age` are the profile options;
                list `levels` (written for XLSForm tools) is read from the levels sheet instead.
  levels        level | label::Thai (th) | label::English (en) | means::Thai (th) | means::English (en): the
                maturity levels, each with the plain sentence of what it means (for every level, or none).
  settings      form_title | form_id | version | default_language: informational (version = Catalog.version).

Reading: values as the spreadsheet last saved them (a formula without a saved value is refused, its
cell named); merged cells are refused (unmerge and type the value in each cell); blank rows are
skipped, with a note for those between filled rows. A form made for KoboToolbox or ODK imports what
maps onto rabfang (text, select_one on the scale, integer constrained to the scale, a leading note as
the area intro, simple `relevant`) and each row it cannot take is refused with its cell. What a
workbook lacks of common.yaml (the levels sheet, the scale/group/region/age lists, the item_questions
group), and the capabilities of its areas when it has no capabilities sheet, are kept from the
surveys in use, with a note saying so.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from typing import Any

import openpyxl
import yaml
from openpyxl.styles import Font
from pydantic import BaseModel, ValidationError

from . import COMMON_FILE, Catalog, SurveyProblem, examples_problem, xlsx
from .schema import CALLBACK_MAX, Area, Common, Item, Located, Question

log = logging.getLogger("rabfang.surveys")
LANGS = {"th": "Thai (th)", "en": "English (en)"}
ITEM_QUESTIONS = "item_questions"
SCALE = "scale"
LEVELS = "levels"  # the choices list of a level question: the maturity levels and "don't know"
PROFILE = ("group", "region", "age")
SHEETS = ("capabilities", "survey", "choices", "levels", "settings")

CAPABILITY_HEADERS = (
    "area",
    "capability id",
    "capability::Thai (th)",
    "capability::English (en)",
    "current level",
    "2027 target",
)
SURVEY_HEADERS = (
    "type",
    "name",
    "label::Thai (th)",
    "label::English (en)",
    "hint::Thai (th)",
    "hint::English (en)",
    "required",
    "relevant",
    "short::Thai (th)",
    "short::English (en)",
    "marks",
)
CHOICE_HEADERS = (
    "list_name",
    "name",
    "label::Thai (th)",
    "label::English (en)",
    "value",
    "short::Thai (th)",
    "short::English (en)",
    "aliases",
)
LEVEL_HEADERS = ("level", "label::Thai (th)", "label::English (en)", "means::Thai (th)", "means::English (en)")
SETTINGS_HEADERS = ("form_title", "form_id", "version", "default_language")
EXAMPLE = re.compile(r"level (\d+) example")  # a capabilities column's base: the example for level N
# columns holding a participant-facing text: without `::Thai (th)` / `::English (en)` they are refused
TEXT_COLUMN = re.compile(rf"label|hint|short|capability|means|{EXAMPLE.pattern}")


def example_header(level: int, lang: str) -> str:
    """The capabilities column of a level's example in one language: `level 1 example::Thai (th)`."""
    return f"level {level} example::{LANGS[lang]}"


# XLSForm metadata rows: collected silently by ODK; rabfang records who answered and when itself.
METADATA = {
    "start",
    "end",
    "today",
    "deviceid",
    "username",
    "simserial",
    "subscriberid",
    "phonenumber",
    "email",
    "audit",
    "start-geopoint",
}
UNSUPPORTED_TYPES = {
    "calculate": "calculations are not supported",
    "select_multiple": "select_multiple is not supported: a rabfang question takes one rating or one text",
    "image": "media questions (image, audio, video, file) are not supported",
    "audio": "media questions (image, audio, video, file) are not supported",
    "video": "media questions (image, audio, video, file) are not supported",
    "file": "media questions (image, audio, video, file) are not supported",
    "background-audio": "media questions (image, audio, video, file) are not supported",
    "geopoint": "location questions are not supported",
    "geotrace": "location questions are not supported",
    "geoshape": "location questions are not supported",
    "date": "date and time questions are not supported: use text",
    "time": "date and time questions are not supported: use text",
    "datetime": "date and time questions are not supported: use text",
    "decimal": "decimal questions are not supported: use text",
    "range": "range questions are not supported: use select_one scale",
    "rank": "rank questions are not supported",
    "barcode": "barcode questions are not supported",
    "acknowledge": "acknowledge questions are not supported",
    "hidden": "hidden fields are not supported",
    "trigger": "trigger questions are not supported",
    "xml-external": "external data is not supported",
    "csv-external": "external data is not supported",
    "select_one_from_file": "choices from a file are not supported",
    "select_multiple_from_file": "choices from a file are not supported",
}
# survey columns whose content rabfang cannot honour: a value in one refuses its row
REFUSED_COLUMNS = {
    "calculation": "calculations are not supported",
    "choice_filter": "cascading selects (choice_filter) are not supported",
    "repeat_count": "repeats are not supported",
    "constraint": "constraints are not supported (except `. >= 1 and . <= 5` on an integer: a rating)",
    "default": "default answers are not supported",
    "trigger": "triggers are not supported",
    "parameters": "parameters are not supported",
    "read_only": "read-only questions are not supported",
    "media": "media (images, audio, video) is not supported",
    "image": "media (images, audio, video) is not supported",
    "audio": "media (images, audio, video) is not supported",
    "video": "media (images, audio, video) is not supported",
}
# columns that only change how ODK draws a form, or Kobo's bookkeeping: ignored without a note
COSMETIC = {"appearance", "constraint_message", "required_message", "hxl", "$autovalue", "order"}

Where = dict[tuple[str | int, ...], tuple[str, str]]  # model location -> (cell, header as written)


# ---------------------------------------------------------------------------------------------- reading


def _key(header: str) -> str:
    """`label::Thai (th)` -> `label::th`, `Current  Level` -> `current level`."""
    text = " ".join(header.split()).lower()
    base, sep, rest = text.partition("::")
    if not sep:
        return text
    code = re.search(r"\(([a-z_-]+)\)\s*$", rest)
    lang = code.group(1) if code else {"thai": "th", "english": "en"}.get(rest.strip(), rest.strip())
    return f"{base.strip()}::{lang}"


def _clean(value: Any) -> Any:
    """A cell's value with Thai in NFC and blank text as None; 2.0 as 2."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value).strip() or None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, datetime):  # nothing in a survey is a date: it was text Excel took for one
        return _text(value)
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):  # a label Excel took for a date: as typed, not "2024-01-02 00:00:00"
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ", timespec="minutes")
    return str(value)


def _int(value: Any) -> Any:
    """An int when the cell holds one (2, 2.0, "2"); else the value as is, for pydantic to refuse."""
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value


@dataclass
class Row:
    sheet: str
    number: int
    values: dict[str, Any]  # column key -> value (non-empty cells only)
    table: Table

    def text(self, key: str) -> str:
        return _text(self.values.get(key))

    def cell(self, key: str) -> str:
        letter = self.table.letters.get(key)
        return f"{self.sheet}!{letter}{self.number}" if letter else f"{self.sheet}!{self.number}"

    def at(self, key: str) -> tuple[str, str]:
        return self.cell(key), self.table.header(key)


@dataclass
class Table:
    name: str
    letters: dict[str, str] = field(default_factory=dict)  # column key -> column letter
    headers: dict[str, str] = field(default_factory=dict)  # column key -> header as written
    rows: list[Row] = field(default_factory=list)

    def header(self, key: str) -> str:
        if key in self.headers:
            return self.headers[key]
        base, _, lang = key.partition("::")
        return f"{base}::{LANGS[lang]}" if lang in LANGS else key


@dataclass
class Imported:
    """What reading a workbook gave: a catalog, or the problems that stopped it; notes either way."""

    catalog: Catalog | None
    problems: list[SurveyProblem]
    notes: list[str]


class _Reader:
    """One workbook being read: its tables, and the problems and notes found so far."""

    def __init__(self, path: Path, base: Callable[[], Catalog] | None):
        self.path = path
        self.base_loader = base
        self._base: Catalog | None = None
        self.problems: list[SurveyProblem] = []
        self.notes: list[str] = []
        self.tables: dict[str, Table] = {}
        self.missing = False  # a part the workbook lacks, with no surveys in use to take it from

    def problem(self, where: str, message: str) -> None:
        self.problems.append(SurveyProblem(str(self.path), where, None, message))

    def base(self, what: str) -> Catalog | None:
        """The surveys in use, for what the workbook lacks."""
        if self._base is None and self.base_loader is not None:
            self._base = self.base_loader()
        if self._base is None:
            self.missing = True
            self.problem("workbook", f"{what} is missing")
        else:
            self.notes.append(f"{what}: not in the workbook, kept from the surveys in use")
        return self._base

    # -- sheets

    def read_sheets(self) -> None:
        try:
            sheets = xlsx.read(self.path)
        except xlsx.WorkbookError as exc:
            self.problem(exc.where, exc.message)
            return
        names = {name.strip().lower(): name for name in sheets}
        for sheet in SHEETS:
            if sheet in names:
                self._read_sheet(sheet, sheets[names[sheet]])
        if "survey" not in names:
            self.problem("workbook", "no survey sheet (the areas and their questions)")

    def _read_sheet(self, name: str, sheet: xlsx.Sheet) -> None:
        for rng in sheet.merged:
            self.problem(f"{name}!{rng}", "merged cells: unmerge them and type the value in each cell")
        if sheet.merged:
            return
        if not sheet.rows and name != "survey":  # an empty optional sheet (KoboToolbox leaves settings so)
            self.notes.append(f"{name}: empty sheet, read as absent")
            return
        if not sheet.rows or sheet.rows[0][0].row != 1:
            self.problem(f"{name}!1", "the first row must hold the column headers")
            return
        table = Table(name)
        for cell in sheet.rows[0]:
            header = _clean(cell.value)
            if header is None:
                continue
            key = _key(_text(header))
            if key in table.letters:
                self.problem(f"{name}!{cell.coordinate}", f"column {header!r} appears twice")
                continue
            table.letters[key] = cell.column_letter
            table.headers[key] = _text(header)
        by_letter = {v: k for k, v in table.letters.items()}
        previous = 1
        for cells in sheet.rows[1:]:
            number = cells[0].row
            row: dict[str, Any] = {}
            for cell in cells:
                value = _clean(cell.value)
                if cell.formula is not None and value is None:
                    self.problem(
                        f"{name}!{cell.coordinate}",
                        f"formula {cell.formula} has no saved value: open and save the workbook in Excel or "
                        "LibreOffice, or type the value",
                    )
                    continue
                if value is None:
                    continue
                key = by_letter.get(cell.column_letter)
                if key is None:
                    self.problem(f"{name}!{cell.coordinate}", "a value in a column without a header")
                    continue
                row[key] = value
            if not row:
                continue
            if number > previous + 1:  # blank rows in the middle; trailing ones go unmentioned
                gap = f"{previous + 1}" if number == previous + 2 else f"{previous + 1}-{number - 1}"
                self.notes.append(f"{name}!{gap}: blank row{'s' if '-' in gap else ''} skipped")
            previous = number
            table.rows.append(Row(name, number, row, table))
        self.tables[name] = table

    def check_columns(self, table: Table, known: set[str]) -> None:
        """Headers rabfang does not read: a column without a language is a problem, others a note."""
        for key, header in table.headers.items():
            base, _, lang = key.partition("::")
            cell = f"{table.name}!{table.letters[key]}1"
            if key in known or base in REFUSED_COLUMNS or base in COSMETIC or base.startswith("$"):
                continue
            if TEXT_COLUMN.fullmatch(key):
                self.problem(
                    cell, f"column {header!r} has no language: name it {key}::Thai (th) or {key}::English (en)"
                )
            elif TEXT_COLUMN.fullmatch(base) and lang not in LANGS:
                self.notes.append(f"{cell}: column {header!r} ignored: rabfang speaks Thai and English")
            else:
                self.notes.append(f"{cell}: column {header!r} ignored")

    # -- choices and levels

    def choice_lists(self) -> dict[str, list[tuple[dict[str, Any], Where]]]:
        lists: dict[str, list[tuple[dict[str, Any], Where]]] = {}
        table = self.tables.get("choices")
        if table is None:
            return lists
        known = {
            "list_name",
            "list name",
            "name",
            "label::th",
            "label::en",
            "value",
            "short::th",
            "short::en",
            "aliases",
        }
        self.check_columns(table, known)
        for row in table.rows:
            list_name = row.text("list_name") or row.text("list name")
            if not list_name:
                self.problem(row.cell("list_name"), "list_name is empty")
                continue
            name = row.text("name")
            option: dict[str, Any] = {"id": name, "label": {lang: row.text(f"label::{lang}") for lang in LANGS}}
            if "value" in table.letters:  # rabfang's own column: blank means no value (e.g. "don't know")
                option["value"] = _int(row.values.get("value"))
            elif name.isdigit():  # a form from elsewhere: numeric names count as their number
                option["value"] = int(name)
            if row.text("short::th") or row.text("short::en"):
                option["short"] = {lang: row.text(f"short::{lang}") for lang in LANGS}
            if row.text("aliases"):
                option["aliases"] = [a.strip() for a in row.text("aliases").split(";") if a.strip()]
            where: Where = {
                (): row.at("name"),
                ("id",): row.at("name"),
                ("value",): row.at("value"),
                ("short",): row.at("short::th"),
                ("aliases",): row.at("aliases"),
            }
            for lang in LANGS:
                where["label", lang] = row.at(f"label::{lang}")
                where["short", lang] = row.at(f"short::{lang}")
            lists.setdefault(list_name, []).append((option, where))
        return lists

    def levels(self) -> tuple[list[Any], Where]:
        table = self.tables.get("levels")
        where: Where = {}
        if table is None:
            base = self.base("levels sheet")
            return (list(base.common.levels) if base else []), where
        self.check_columns(table, {"level", *(f"{base}::{lang}" for base in ("label", "means") for lang in LANGS)})
        levels = []
        for i, row in enumerate(table.rows):
            level: dict[str, Any] = {
                "level": _int(row.values.get("level")),
                "name": {lang: row.text(f"label::{lang}") for lang in LANGS},
            }
            if any(row.text(f"means::{lang}") for lang in LANGS):  # blank in both: this level has no meaning
                level["means"] = {lang: row.text(f"means::{lang}") for lang in LANGS}
            levels.append(level)
            where["levels", i] = row.at("level")
            where["levels", i, "means"] = row.at("means::th")
            for lang in LANGS:
                where["levels", i, "name", lang] = row.at(f"label::{lang}")
                where["levels", i, "means", lang] = row.at(f"means::{lang}")
        if not table.rows:
            where["levels",] = (f"{table.name}!2", "levels")
        return levels, where

    # -- survey

    def survey(self, scale_values: list[int]) -> tuple[_Group | None, list[_Group]]:
        """The top-level item_questions group and the area groups, in sheet order."""
        table = self.tables.get("survey")
        if table is None:
            return None, []
        known = {"type", "name", "required", "relevant", "marks"} | {
            f"{b}::{lang}" for b in ("label", "hint", "short") for lang in LANGS
        }
        self.check_columns(table, known)
        common: _Group | None = None
        areas: list[_Group] = []
        stack: list[_Group] = []
        for row in table.rows:
            kind, _, rest = _type(row.text("type")).partition(" ")
            if not kind:
                self.problem(row.cell("type"), "type is empty")
            elif kind in METADATA:
                self.notes.append(f"{row.cell('type')}: {kind} skipped: rabfang records who answered and when itself")
            elif kind == "begin_group":
                group = self._begin_group(row, stack, common, areas)
                if group.kind == "common":
                    common = group
                elif group.kind == "area":
                    areas.append(group)
                stack.append(group)
            elif kind in ("end_group", "end_repeat"):
                opener = "begin_group" if kind == "end_group" else "begin_repeat"
                if not stack or (stack[-1].kind == "repeat") != (kind == "end_repeat"):
                    self.problem(row.cell("type"), f"{kind} without a {opener}")
                else:
                    stack.pop()
            elif kind == "begin_repeat":
                self.problem(
                    row.cell("type"),
                    "repeats are not supported: the questions asked of each capability go in the item_questions group",
                )
                stack.append(_Group("repeat", row))
            else:
                self._question_row(row, kind, rest.strip(), stack, scale_values)
        for group in stack:
            self.problem(group.row.cell("type"), f"group {group.row.text('name')!r} has no end_group")
        return common, areas

    def _begin_group(self, row: Row, stack: list[_Group], common: _Group | None, areas: list[_Group]) -> _Group:
        name = row.text("name")
        if row.values.get("relevant") is not None:
            self.problem(row.cell("relevant"), "relevant on a group is not supported: put it on its questions")
        real = [g for g in stack if g.kind in ("common", "area", "override")]
        if not name:
            self.problem(row.cell("name"), "name is empty (a group's name is its area id, or item_questions)")
            return _Group("refused", row)
        if not real and name == ITEM_QUESTIONS:
            if common is not None:
                self.problem(
                    row.cell("name"), f"a second {ITEM_QUESTIONS} group (the first is in row {common.row.number})"
                )
                return _Group("refused", row)
            return _Group("common", row)
        if not real:
            for other in areas:
                if other.row.text("name") == name:
                    self.problem(
                        row.cell("name"), f"duplicate area {name!r}: its group is already in row {other.row.number}"
                    )
                    return _Group("refused", row)
            return _Group("area", row)
        if name == ITEM_QUESTIONS and real[-1].kind == "area" and real[-1].override is None:
            real[-1].override = _Group("override", row)
            return real[-1].override
        self.problem(row.cell("type"), f"a group inside a group is only for {ITEM_QUESTIONS} (an area's own questions)")
        return _Group("refused", row)

    def _question_row(self, row: Row, kind: str, rest: str, stack: list[_Group], scale_values: list[int]) -> None:
        target = next((g for g in reversed(stack) if g.kind in ("common", "area", "override")), None)
        refused = False
        for key in [] if kind in UNSUPPORTED_TYPES else row.values:  # a refused type needs no more reasons
            base = key.partition("::")[0]
            if base in REFUSED_COLUMNS and not (kind == "integer" and key == "constraint"):
                self.problem(row.cell(key), REFUSED_COLUMNS[base])
                refused = True
        if kind == "note":
            label = {lang: row.text(f"label::{lang}") for lang in LANGS}
            if target is not None and target.kind == "area" and not target.questions and not target.intro:
                target.intro = (label, row)  # a note opening an area is its intro
            else:
                self.problem(
                    row.cell("type"),
                    "a note is only taken as an area's intro (first in its group, when the group has no hint)",
                )
            return
        question_kind = self._kind(row, kind, rest, scale_values)
        if question_kind is None or refused:
            return
        if target is None:
            self.problem(
                row.cell("type"), "a question outside any group: put it in an area's group or in item_questions"
            )
            return
        for lang in LANGS:
            if row.values.get(f"hint::{lang}") is not None:
                self.problem(
                    row.cell(f"hint::{lang}"), "hints are only for an area's group (its intro): put this in the label"
                )
                return
        question: dict[str, Any] = {
            "id": row.text("name"),
            "kind": question_kind,
            "prompt": {lang: row.text(f"label::{lang}") for lang in LANGS},
        }
        where: Where = {(): row.at("name"), ("id",): row.at("name"), ("kind",): row.at("type")}
        for lang in LANGS:
            where["prompt", lang] = row.at(f"label::{lang}")
        if row.text("marks"):
            question["marks"] = row.text("marks").lower()
            where["marks",] = row.at("marks")
        elif question_kind == "level":
            where["marks",] = row.at("marks")
        required = _required(row.values.get("required"))
        if required is None:
            self.problem(row.cell("required"), f"required {row.text('required')!r}: use yes or no")
            return
        question["optional"] = not required
        where["optional",] = row.at("required")
        relevant = row.text("relevant")
        if relevant:
            ask_if = _ask_if(relevant)
            if ask_if is None:
                self.problem(
                    row.cell("relevant"),
                    f"relevant {relevant!r} is not supported: rabfang asks a question when a rating asked before "
                    "it is at most N, written ${q} <= N, or when a level picked before it differs from the plan, "
                    "written ${q} != 'plan' (several joined with or)",
                )
                return
            question["ask_if"] = ask_if
            where["ask_if",] = row.at("relevant")
        target.questions.append((question, where))

    def _kind(self, row: Row, kind: str, rest: str, scale_values: list[int]) -> str | None:
        """rabfang's question kind for an XLSForm type, or None (the refusal recorded)."""
        cell = row.cell("type")
        if kind == "text":
            return "text"
        if kind == "select_one":
            list_name = rest.split()[0] if rest else ""
            if "or_other" in rest.split():
                self.problem(cell, "or_other is not supported: add a text question after it")
            elif list_name == SCALE:
                return "rating"
            elif list_name == LEVELS:
                return "level"
            elif list_name in PROFILE:
                self.problem(
                    cell, f"the profile is asked by the bot itself: edit its options in choices (list {list_name})"
                )
            else:
                self.problem(
                    cell,
                    f"select_one {list_name}: rabfang's choice questions are ratings on the choices list 'scale' "
                    f"or levels on the list 'levels' (if {list_name} is the agreement scale, name its list scale)",
                )
            return None
        if kind == "integer":
            bounds = re.fullmatch(r"\.\s*>=\s*(\d+)\s+and\s+\.\s*<=\s*(\d+)", row.text("constraint"))
            if scale_values and bounds and (int(bounds[1]), int(bounds[2])) == (min(scale_values), max(scale_values)):
                return "rating"  # a number typed within the scale is a rating on it
            self.problem(
                cell,
                "integer is only taken as a rating: constrain it to the scale, "
                f"e.g. . >= {min(scale_values, default=1)} and . <= {max(scale_values, default=5)}",
            )
            return None
        self.problem(cell, UNSUPPORTED_TYPES.get(kind, f"unknown type {row.text('type')!r}"))
        return None

    # -- capabilities

    def capabilities(self, area_ids: list[str]) -> dict[str, list[tuple[dict[str, Any], Where]]] | None:
        table = self.tables.get("capabilities")
        if table is None:
            return None
        aliases = {"id": "capability id", "current": "current level", "target": "2027 target"}
        for short, full in aliases.items():  # accept the short headers too
            if short in table.letters and full not in table.letters:
                table.letters[full] = table.letters.pop(short)
                table.headers[full] = table.headers.pop(short)
                for row in table.rows:
                    if short in row.values:
                        row.values[full] = row.values.pop(short)
        example_levels = sorted(
            {int(m[1]) for key in table.letters if (m := EXAMPLE.fullmatch(key.partition("::")[0]))}
        )
        example_keys = {f"level {n} example::{lang}" for n in example_levels for lang in LANGS}
        self.check_columns(
            table,
            {
                "area",
                "capability id",
                "capability::th",
                "capability::en",
                "current level",
                "2027 target",
                *example_keys,
            },
        )
        items: dict[str, list[tuple[dict[str, Any], Where]]] = {a: [] for a in area_ids}
        strays: dict[str, list[Row]] = {}
        for row in table.rows:
            area = row.text("area")
            if not area:
                self.problem(row.cell("area"), "area is empty")
                continue
            if area not in items:
                strays.setdefault(area, []).append(row)
                continue
            item = {
                "id": row.text("capability id"),
                "capability": {lang: row.text(f"capability::{lang}") for lang in LANGS},
                "current": _int(row.values.get("current level")),
                "target": _int(row.values.get("2027 target")),
            }
            given = [n for n in example_levels if any(row.text(f"level {n} example::{lang}") for lang in LANGS)]
            if given:  # blank in every example cell: this capability has no examples
                item["examples"] = {n: {lang: row.text(f"level {n} example::{lang}") for lang in LANGS} for n in given}
            where: Where = {
                (): row.at("capability id"),
                ("id",): row.at("capability id"),
                ("current",): row.at("current level"),
                ("target",): row.at("2027 target"),
                ("examples",): row.at("examples"),  # no such column: the row
            }
            for lang in LANGS:
                where["capability", lang] = row.at(f"capability::{lang}")
            for n in sorted({*range(1, 10), *example_levels}):  # a missing level's column may be absent too
                where["examples", n] = row.at(f"level {n} example::th")
                for lang in LANGS:
                    where["examples", n, lang] = row.at(f"level {n} example::{lang}")
            items[area].append((item, where))
        for area, rows in strays.items():  # once per area: a renamed or deleted group
            more = f" (and {len(rows) - 1} more rows)" if len(rows) > 1 else ""
            self.problem(rows[0].cell("area"), f"area {area!r} has no group in the survey sheet{more}")
        return items


@dataclass
class _Group:
    kind: str  # common | area | override (an area's item_questions) | repeat | refused
    row: Row
    questions: list[tuple[dict[str, Any], Where]] = field(default_factory=list)
    override: _Group | None = None
    intro: tuple[dict[str, str], Row] | None = None  # from a leading note


def _type(raw: str) -> str:
    """XLSForm's spellings of a type in one form: `begin group` -> `begin_group`, `select one x` -> `select_one x`."""
    text = " ".join(raw.split()).lower()
    text = re.sub(r"^(begin|end) (group|repeat)\b", r"\1_\2", text)
    return re.sub(r"^select (one|multiple)\b", r"select_\1", text)


def _required(value: Any) -> bool | None:
    if value is None:
        return False
    text = _text(value).lower()
    if text in ("yes", "true", "true()", "1"):
        return True
    if text in ("no", "false", "false()", "0"):
        return False
    return None


_TERM = re.compile(r"\(?\s*\$\{([a-z][a-z0-9_]*)\}\s*(<=|<)\s*'?(\d+)'?\s*\)?")
_DIFFERS = re.compile(r"\(?\s*\$\{([a-z][a-z0-9_]*)\}\s*!=\s*'plan'\s*\)?")


def _ask_if(expression: str) -> dict[str, Any] | None:
    """`${a} <= 2 or ${b} < 3` -> {of: [a, b], rating_at_most: 2}; `${a} != 'plan' or ${b} != 'plan'`
    -> {differs_from_plan: [a, b]}; None when it takes neither shape."""
    terms = [term.strip() for term in re.split(r"\s+or\s+", expression.strip())]
    if all(_DIFFERS.fullmatch(term) for term in terms):
        return {"differs_from_plan": [_DIFFERS.fullmatch(term)[1] for term in terms]}  # type: ignore[index]
    refs, limits = [], set()
    for term in terms:
        match = _TERM.fullmatch(term)
        if match is None:
            return None
        refs.append(match[1])
        limits.add(int(match[3]) - (1 if match[2] == "<" else 0))
    return {"of": refs, "rating_at_most": limits.pop()} if len(limits) == 1 else None


def _locate(where: Where, loc: tuple[str | int, ...], fallback: tuple[str, str]) -> tuple[str, str]:
    for n in range(len(loc), -1, -1):
        if loc[:n] in where:
            return where[loc[:n]]
    return fallback


def _validate(
    reader: _Reader, model: type[BaseModel], data: dict[str, Any], where: Where, fallback: tuple[str, str]
) -> Any:
    """The model, or None with each pydantic error reported at its cell."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            cause = err.get("ctx", {}).get("error")
            if isinstance(cause, Located):
                loc += cause.loc
            msg = err["msg"].removeprefix("Value error, ")
            if lang := re.match(r"(th|en) label longer", msg):  # a ShortText error: point at that language's cell
                loc += (lang[1],)
            cell, header = _locate(where, loc, fallback)
            if loc[-1:] == ("items",) and err["type"] == "too_short":
                msg = "this area has no capabilities: add its rows to the capabilities sheet"
            elif loc[-1:] == (ITEM_QUESTIONS,) and err["type"] == "too_short":
                msg = f"the {ITEM_QUESTIONS} group has no questions"
            elif err["type"] == "missing" or err.get("input") in (None, ""):
                msg = f"{header} is empty"
            else:
                msg = _in_words(err, msg, loc)
                if header:
                    msg = f"{header}: {msg}"
            reader.problem(cell, msg)
        return None


ID_PATTERNS = {  # the schema's id patterns, said as an organizer would read them
    r"^[a-z][a-z0-9_]{0,19}$": "a name of 1-20 lowercase letters, digits and _, starting with a letter",
    r"^[a-z0-9_]{1,12}$": "a name of 1-12 lowercase letters, digits and _",
}


def _in_words(err: Any, msg: str, loc: tuple[str | int, ...]) -> str:
    """pydantic's message about a cell, as rabfang says it to an organizer."""
    kind, ctx, value = err["type"], err.get("ctx", {}), err.get("input")
    what = next((p for p in reversed(loc) if isinstance(p, str)), "this")
    if kind == "string_pattern_mismatch":
        return f"{value!r} is not a valid name: use {ID_PATTERNS.get(ctx.get('pattern'), 'letters, digits and _')}"
    if kind == "too_short":
        return f"{what} needs at least {ctx.get('min_length')} entries (it has {ctx.get('actual_length', 0)})"
    if kind == "too_long":
        return f"{what} may have at most {ctx.get('max_length')} entries"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{value!r} is not a whole number"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = {"greater_than_equal": "at least", "greater_than": "more than", "less_than_equal": "at most",
                 "less_than": "less than"}[kind]  # fmt: skip
        limit = next(v for k, v in ctx.items() if k in ("ge", "gt", "le", "lt"))
        return f"{value!r} must be {bound} {limit}"
    if kind == "literal_error":
        return f"{value!r} is not one of {ctx.get('expected')}"
    if kind == "string_too_long":
        return f"is {len(str(value))} characters; at most {ctx.get('max_length')}"
    return msg


def _questions(group: _Group | None, prefix: str, where: Where) -> list[dict[str, Any]]:
    if group is None:
        return []
    where[prefix,] = group.row.at("name")
    out = []
    for i, (question, w) in enumerate(group.questions):
        out.append(question)
        where.update({(prefix, i, *k): v for k, v in w.items()})
    return out


def read_workbook(path: Path, base: Callable[[], Catalog] | None = None) -> Imported:
    """Read a survey workbook into a catalog; `base` gives the surveys in use, for what it lacks.
    Never raises: whatever goes wrong past opening it is a problem in words, not a traceback."""
    try:
        return _read_workbook(path, base)
    except Exception as exc:  # a shape of workbook nobody foresaw: say so, and where to look
        log.exception("reading the survey workbook %s failed", path.name)
        problem = SurveyProblem(str(path), "workbook", None, f"could not be read ({type(exc).__name__}: {exc})")
        return Imported(None, [problem], [])


def _read_workbook(path: Path, base: Callable[[], Catalog] | None) -> Imported:
    reader = _Reader(path, base)
    reader.read_sheets()
    if reader.problems:  # a sheet that cannot be read would only give more confusing errors below
        return Imported(None, reader.problems, reader.notes)

    lists = reader.choice_lists()
    where: Where = {}
    common_data: dict[str, Any] = {}
    common_data["levels"], level_where = reader.levels()
    where.update(level_where)
    for name in (SCALE, *PROFILE):
        if name in lists:
            options = []
            for i, (option, w) in enumerate(lists.pop(name)):
                options.append(option)
                prefix = (name,) if name == SCALE else ("profile", name)
                where.update({(*prefix, i, *k): v for k, v in w.items()})
        else:
            found = reader.base(f"choices list {name!r}")
            options = (
                []
                if found is None
                else list(getattr(found.common, name) if name == SCALE else getattr(found.common.profile, name))
            )
        if name == SCALE:
            common_data[SCALE] = options
        else:
            common_data.setdefault("profile", {})[name] = options
    level_rows = lists.pop(LEVELS, [])  # written for XLSForm tools; the levels sheet is rabfang's source
    for name in lists:
        reader.notes.append(f"choices: list {name!r} is not used by rabfang, ignored")
    scale_values = [o.get("value") if isinstance(o, dict) else o.value for o in common_data[SCALE]]
    scale_values = [v for v in scale_values if isinstance(v, int)]

    common_group, area_groups = reader.survey(scale_values)
    if common_group is not None:
        common_data["item_questions"] = _questions(common_group, "item_questions", where)
    else:
        found = reader.base(f"the {ITEM_QUESTIONS} group")
        common_data["item_questions"] = list(found.common.item_questions) if found else []

    area_ids = [g.row.text("name") for g in area_groups]
    items = reader.capabilities(area_ids)
    areas: list[Area] = []
    common = None if reader.missing else _validate(reader, Common, common_data, where, ("survey", ""))
    for order, group in enumerate(area_groups, start=1):
        area_data, area_where = _area(reader, group, order, items)
        if area_data is not None:
            area = _validate(reader, Area, area_data, area_where, group.row.at("name"))
            if area is not None:
                areas.append(area)
                if common is not None:
                    _check_levels(reader, area, common, area_where)
    if not area_groups and "survey" in reader.tables:
        reader.problem("survey", "no area: each area is a begin_group … end_group")
    if reader.problems or common is None:
        return Imported(None, reader.problems, reader.notes)

    catalog = Catalog(common, areas)
    _check_level_list(reader, level_rows, catalog)
    key, size = catalog.longest_button_data
    if size > CALLBACK_MAX:
        reader.problem(key, f"ids too long: button data would be {size} bytes (max {CALLBACK_MAX})")
        return Imported(None, reader.problems, reader.notes)
    settings = reader.tables.get("settings")
    if settings and settings.rows and (version := settings.rows[0].text("version")) and version != catalog.version:
        reader.notes.append(
            f"{settings.rows[0].cell('version')}: exported as survey version {version}; "
            f"the workbook is now version {catalog.version}"
        )
    return Imported(catalog, [], reader.notes)


def _area(
    reader: _Reader, group: _Group, order: int, items: dict[str, list[tuple[dict[str, Any], Where]]] | None
) -> tuple[dict[str, Any] | None, Where]:
    row = group.row
    area_id = row.text("name")
    where: Where = {(): row.at("name"), ("id",): row.at("name"), ("items",): row.at("name")}
    data: dict[str, Any] = {"id": area_id, "order": order}
    for field_name, column in (("title", "label"), ("intro", "hint"), ("short", "short")):
        data[field_name] = {lang: row.text(f"{column}::{lang}") for lang in LANGS}
        for lang in LANGS:
            where[field_name, lang] = row.at(f"{column}::{lang}")
    if group.intro and not any(data["intro"].values()):
        data["intro"], note_row = group.intro
        for lang in LANGS:
            where["intro", lang] = note_row.at(f"label::{lang}")
    for lang in LANGS:
        if not data["short"][lang]:  # the menu button is the title unless a shorter one is given
            data["short"][lang] = data["title"][lang]
            where["short", lang] = (
                row.cell(f"label::{lang}"),
                f"{row.table.header(f'label::{lang}')} (the short label)",
            )
    data["closing"] = _questions(group, "closing", where)
    if group.override is not None:
        data["item_questions"] = _questions(group.override, "item_questions", where)
    if items is None:
        found = reader.base(f"capabilities of {area_id!r}")
        if found is None or area_id not in found.areas:
            if found is not None:
                reader.problem(row.cell("name"), f"area {area_id!r} has no capabilities: add a capabilities sheet")
            return None, where
        data["items"] = list(found.areas[area_id].items)
        return data, where
    data["items"] = []
    for i, (item, w) in enumerate(items.get(area_id, [])):
        data["items"].append(item)
        where.update({("items", i, *k): v for k, v in w.items()})
        where["items", i] = w["target",]  # the only check on a whole item: target not below current
    return data, where


def _check_level_list(reader: _Reader, rows: list[tuple[dict[str, Any], Where]], catalog: Catalog) -> None:
    """The choices sheet's `levels` list is written from the levels sheet (for XLSForm tools), which
    is what rabfang reads: where the two disagree, a warning says which one counts, so an edit to
    the list is never lost without a word (`surveys validate --strict` refuses it)."""
    wanted = [(o.id, o.label.th, o.label.en) for o in catalog.level_options]
    found = [(o["id"], o["label"]["th"], o["label"]["en"]) for o, _ in rows]
    if not rows or found == wanted:
        return
    n = next((i for i, (a, b) in enumerate(zip(found, wanted, strict=False)) if a != b), min(len(found), len(wanted)))
    cell = rows[min(n, len(rows) - 1)][1].get((), ("choices", ""))[0]
    reader.notes.append(
        f"{cell}: list 'levels' differs from the levels sheet, which is what rabfang reads (the list is written "
        "from it on export): edit a level on the levels sheet"
    )


def _check_levels(reader: _Reader, area: Area, common: Common, where: Where) -> None:
    """An item's levels must be among the levels, its examples one per level or none (the YAML
    loader's cross-checks, at the cell: for examples, that of the first level missing or not on the scale)."""
    known = sorted(lv.level for lv in common.levels)
    span = f"{known[0]}–{known[-1]}" if known == list(range(known[0], known[-1] + 1)) else ", ".join(map(str, known))
    for i, item in enumerate(area.items):
        for name in ("current", "target"):
            n = getattr(item, name)
            if common.level(n) is None:
                cell, _ = _locate(where, ("items", i, name), ("capabilities", ""))
                reader.problem(cell, f"{name} level {n} is not one of the levels ({span})")
        if (wrong := examples_problem(item, common)) is not None:
            first = min({lv.level for lv in common.levels} ^ set(item.examples or ()))
            cell, _ = _locate(where, ("items", i, "examples", first), ("capabilities", ""))
            reader.problem(cell, wrong)


# ---------------------------------------------------------------------------------------------- writing


def export_workbook(catalog: Catalog, path: Path) -> None:
    """Write the catalog as one workbook: capabilities, survey, choices, levels, settings."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    common = catalog.common
    levels = [lv.level for lv in common.levels]
    examples = [example_header(n, lang) for n in levels for lang in LANGS]

    def example_cells(item: Item) -> list[str | None]:
        found = item.examples or {}
        return [found[n](lang) if n in found else None for n in levels for lang in LANGS]

    _sheet(
        book,
        "capabilities",
        (*CAPABILITY_HEADERS, *examples),
        [
            [area.id, item.id, item.capability.th, item.capability.en, item.current, item.target, *example_cells(item)]
            for area in catalog.areas.values()
            for item in area.items
        ],
    )
    rows: list[list[Any]] = [
        ["begin_group", ITEM_QUESTIONS, "คำถามที่ถามทุกขีดความสามารถ", "Asked of every capability"],
        *map(_question_cells, common.item_questions),
        ["end_group", ITEM_QUESTIONS],
    ]
    for area in catalog.areas.values():
        rows.append(["begin_group", area.id, area.title.th, area.title.en, area.intro.th, area.intro.en])
        rows[-1] += ["", "", area.short.th, area.short.en]  # required, relevant: not for a group
        if area.item_questions is not None:
            rows.append(["begin_group", ITEM_QUESTIONS, "คำถามที่ถามทุกขีดความสามารถ", "Asked of every capability"])
            rows += map(_question_cells, area.item_questions)
            rows.append(["end_group", ITEM_QUESTIONS])
        rows += map(_question_cells, area.closing)
        rows.append(["end_group", area.id])
    _sheet(book, "survey", SURVEY_HEADERS, rows)
    lists = [(SCALE, common.scale), (LEVELS, catalog.level_options)]
    lists += [(name, getattr(common.profile, name)) for name in PROFILE]
    _sheet(
        book,
        "choices",
        CHOICE_HEADERS,
        [
            [
                name,
                o.id,
                o.label.th,
                o.label.en,
                o.value,
                o.short.th if o.short else None,
                o.short.en if o.short else None,
                "; ".join(o.aliases) or None,
            ]
            for name, options in lists
            for o in options
        ],
    )
    _sheet(
        book,
        "levels",
        LEVEL_HEADERS,
        [
            [lv.level, lv.name.th, lv.name.en, lv.means.th if lv.means else None, lv.means.en if lv.means else None]
            for lv in common.levels
        ],
    )
    _sheet(book, "settings", SETTINGS_HEADERS, [["รับฟัง (rabfang) surveys", "rabfang", catalog.version, LANGS["th"]]])
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)


# rabfang's question kinds, as XLSForm types
XLSFORM_TYPES = {"rating": f"select_one {SCALE}", "level": f"select_one {LEVELS}", "text": "text"}


def _question_cells(q: Question) -> list[Any]:
    if q.kind not in XLSFORM_TYPES:  # a kind added to schema.py needs its row shape here, not a silent "text"
        raise ValueError(f"question {q.id!r}: kind {q.kind!r} has no workbook form yet")
    kind = XLSFORM_TYPES[q.kind]
    relevant = None
    if q.ask_if and q.ask_if.of:
        relevant = " or ".join(f"${{{r}}} <= {q.ask_if.rating_at_most}" for r in q.ask_if.of)
    elif q.ask_if:
        relevant = " or ".join(f"${{{r}}} != 'plan'" for r in q.ask_if.differs_from_plan)
    cells = [kind, q.id, q.prompt.th, q.prompt.en, None, None, "no" if q.optional else "yes", relevant]
    return cells + ([None, None, q.marks] if q.marks else [])


def _sheet(book: Any, title: str, headers: tuple[str, ...], rows: list[list[Any]]) -> None:
    ws = book.create_sheet(title)
    ws.append(list(headers))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for r, row in enumerate(rows, start=2):
        for c, value in enumerate(row, start=1):
            if value in (None, ""):
                continue
            cell = ws.cell(r, c, value)
            if isinstance(value, str):
                cell.data_type = "s"  # text stays text: "=HYPERLINK(…)" typed as a label is no formula in Excel
    ws.freeze_panes = "A2"
    for i, header in enumerate(headers, start=1):
        width = max([len(header), *(len(_text(r[i - 1])) for r in rows if i <= len(r))])
        ws.column_dimensions[ws.cell(1, i).column_letter].width = min(max(width + 2, 8), 60)


def write_yaml(catalog: Catalog, directory: Path, source: str) -> list[Path]:
    """Write common.yaml and one file per area; refuse a folder holding other survey files."""
    names = [COMMON_FILE] + [f"{a}.yaml" for a in catalog.areas]
    directory.mkdir(parents=True, exist_ok=True)
    others = sorted(p.name for p in directory.glob("*.yaml") if p.name not in names)
    if others:
        raise FileExistsError(
            f"{directory} holds other survey files ({', '.join(others)}): import into an empty folder"
        )
    header = f"# Written by `rabfang surveys import` from {source} (survey version {catalog.version}).\n"
    documents: list[BaseModel] = [catalog.common, *catalog.areas.values()]
    paths = []
    for name, model in zip(names, documents, strict=True):
        data = model.model_dump(mode="json", exclude_defaults=True)
        for item in data.get("items", ()):  # JSON made the level keys strings: write `1:` as the shipped files do
            if "examples" in item:
                item["examples"] = {int(n): text for n, text in item["examples"].items()}
        path = directory / name
        path.write_text(
            header + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000), encoding="utf-8"
        )
        paths.append(path)
    return paths


__all__ = ["Imported", "export_workbook", "read_workbook", "write_yaml"]
