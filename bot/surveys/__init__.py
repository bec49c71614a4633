"""Load and validate the survey files; flatten each area into the ordered questions it asks.

`common.yaml` holds the maturity levels, the agreement scale and the questions asked of every
capability item (by default: the level it stands at today, the 2027 target that is feasible and
appropriate, and why, when either differs from the plan); every other `*.yaml` file here is one focus area. Organizers edit these files
(or a copy in `RABFANG_SURVEYS_DIR`) and check them with `rabfang surveys validate`.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import yaml
from pydantic import ValidationError

from .schema import CALLBACK_MAX, Area, Common, Item, Located, Option, Question, Text

DONT_KNOW = Option(
    id="dk",
    label=Text(th="ไม่ทราบ", en="Don't know"),
    aliases=("ไม่ทราบ", "ไม่รู้", "dont know", "don't know", "dk"),
)

SURVEY_DIR = Path(__file__).parent
COMMON_FILE = "common.yaml"


@dataclass(frozen=True)
class SurveyProblem:
    file: str
    field: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field or '(file)'}: {self.message}"


class SurveyError(Exception):
    """One or more survey files are invalid; `problems` says where and why."""

    def __init__(self, problems: list[SurveyProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class FlowQuestion:
    """A question as it stands in an area's flow: an item question (item set) or a closing question.

    Worked out once when the catalog loads: `key`, its stable id within the catalog (e.g.
    `education.learner_data.current_level`); `needs`, the keys of the ratings of which one must be
    at most `limit` for it to be asked; `differs`, the keys of the level picks of which one must
    differ from the plan for it to be asked (neither: always asked)."""

    area: str
    item: Item | None
    question: Question
    key: str = field(init=False)
    needs: tuple[str, ...] = field(init=False)
    limit: int = field(init=False)
    differs: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        base = f"{self.area}.{self.item_id}."
        cond = self.question.ask_if
        object.__setattr__(self, "key", base + self.question.id)
        object.__setattr__(self, "needs", tuple(base + q for q in cond.of) if cond else ())
        object.__setattr__(self, "limit", (cond.rating_at_most or 0) if cond else 0)
        object.__setattr__(self, "differs", tuple(base + q for q in cond.differs_from_plan) if cond else ())

    @property
    def item_id(self) -> str:
        return self.item.id if self.item else ""

    @property
    def plan_level(self) -> int | None:
        """The level the plan gives this level question's capability: assessed today or 2027 target."""
        if self.item is None or self.question.marks is None:
            return None
        return self.item.current if self.question.marks == "current" else self.item.target


class Catalog:
    """All areas plus the shared scale; read-only after load."""

    def __init__(self, common: Common, areas: Iterable[Area]):
        self.common = common
        self.areas: dict[str, Area] = {a.id: a for a in sorted(areas, key=lambda a: (a.order, a.id))}
        self._flows = {a: self._flatten(area) for a, area in self.areas.items()}
        self._by_key = {s.key: s for flow in self._flows.values() for s in flow}
        # what the engine works out once per catalog and language, not once per event (a question's
        # fixed lines and buttons): the catalog is read-only after load, so it never goes stale
        self.memo: dict[object, object] = {}

    def _flatten(self, area: Area) -> tuple[FlowQuestion, ...]:
        item_qs = area.item_questions or self.common.item_questions
        steps = [FlowQuestion(area.id, item, q) for item in area.items for q in item_qs]
        steps += [FlowQuestion(area.id, None, q) for q in area.closing]
        return tuple(steps)

    def flow(self, area: str) -> tuple[FlowQuestion, ...]:
        return self._flows.get(area, ())

    def step(self, key: str) -> FlowQuestion | None:
        return self._by_key.get(key)

    def options(self, step: FlowQuestion) -> tuple[Option, ...]:
        """The choices of a question: the agreement scale, the maturity levels, or none (text)."""
        kind = step.question.kind
        return self.common.scale if kind == "rating" else self.level_options if kind == "level" else ()

    @cached_property
    def level_options(self) -> tuple[Option, ...]:
        """A level question's choices: each maturity level (id "1".., value = the level), then
        "don't know" (id "dk", no value), listed low to high so a typed number is the level."""
        levels = tuple(
            Option(
                id=str(lv.level),
                value=lv.level,
                label=Text(th=lv.named("th"), en=lv.named("en")),
            )
            for lv in self.common.levels
        )
        return (*levels, DONT_KNOW)

    @cached_property
    def version(self) -> str:
        """A short hash of the survey content, the same whether it was loaded from YAML or a workbook.

        Areas are hashed in menu order without their `order` numbers: the sequence is content, the
        numbers that produce it are not. Any change to a text, level, option or question changes it."""
        return hashlib.sha256(self.canonical.encode()).hexdigest()[:12]

    @cached_property
    def canonical(self) -> str:
        """The survey content as canonical JSON (NFC, sorted keys): what `version` hashes."""
        content = {
            "common": self.common.model_dump(mode="json"),
            "areas": [a.model_dump(mode="json", exclude={"order"}) for a in self.areas.values()],
        }
        text = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return unicodedata.normalize("NFC", text)

    @cached_property
    def longest_button_data(self) -> tuple[str, int]:
        longest = max(len(o.id) for o in (*self.common.scale, DONT_KNOW))
        key = max(self._by_key, key=len, default="")
        return key, len(f"lq.{key}=") + max(longest, 5)  # the longer of `q.` and live `lq.`


def _line_of(node: yaml.Node | None, loc: tuple) -> int | None:
    """Follow a pydantic error location through the YAML node tree to a line number."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == str(part)), None)  # `3:` keys an int
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def _parse(path: Path, model: type[Common] | type[Area]) -> tuple[object | None, list[SurveyProblem]]:
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
        tree = yaml.compose(text)
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as exc:
        return None, [SurveyProblem(name, "", None, f"cannot read: {exc}")]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        return None, [SurveyProblem(name, "", line, f"not valid YAML: {getattr(exc, 'problem', exc)}")]
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            cause = err.get("ctx", {}).get("error")
            if isinstance(cause, Located):
                loc += cause.loc
            field = ".".join(str(p) for p in loc)
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(SurveyProblem(name, field, _line_of(tree, loc), msg))
        return None, problems


def survey_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.yaml") if p.name != COMMON_FILE)


def load_catalog(directory: Path | None = None, files: Iterable[Path] | None = None) -> Catalog:
    """Load `common.yaml` and the area files of `directory`; raise SurveyError listing every problem."""
    directory = directory or SURVEY_DIR
    common, problems = _parse(directory / COMMON_FILE, Common)
    areas: list[Area] = []
    paths = list(files) if files is not None else survey_files(directory)
    seen: dict[str, str] = {}
    for path in paths:
        area, errs = _parse(path, Area)
        problems += errs
        if area is None:
            continue
        assert isinstance(area, Area)
        if area.id in seen:
            problems.append(SurveyProblem(str(path), "id", 1, f"area id {area.id!r} also used by {seen[area.id]}"))
            continue
        seen[area.id] = str(path)
        if common is not None:
            problems += _cross_check(path, area, common)  # type: ignore[arg-type]
        areas.append(area)
    if not paths:
        problems.append(SurveyProblem(str(directory), "", None, "no area survey files (*.yaml)"))
    if problems:
        raise SurveyError(problems)
    assert isinstance(common, Common)
    catalog = Catalog(common, areas)
    key, size = catalog.longest_button_data
    if size > CALLBACK_MAX:
        raise SurveyError(
            [
                SurveyProblem(
                    str(directory), key, None, f"ids too long: button data would be {size} bytes (max {CALLBACK_MAX})"
                )
            ]
        )
    return catalog


def examples_problem(item: Item, common: Common) -> str | None:
    """Why an item's level examples are wrong (not one per level of the scale), or None."""
    if item.examples is None:
        return None
    want, got = {lv.level for lv in common.levels}, set(item.examples)
    if got == want:
        return None
    span = ", ".join(map(str, sorted(want)))
    missing, extra = sorted(want - got), sorted(got - want)
    said = [f"missing level {', '.join(map(str, missing))}"] if missing else []
    said += [f"level {', '.join(map(str, extra))} is not on the scale"] if extra else []
    return f"examples need one per level ({span}) or none: {'; '.join(said)}"


def _cross_check(path: Path, area: Area, common: Common) -> list[SurveyProblem]:
    """References from an area file into common.yaml: levels that exist, examples for each of them."""
    tree = yaml.compose(path.read_text(encoding="utf-8"))
    problems = []
    for i, item in enumerate(area.items):
        if (wrong := examples_problem(item, common)) is not None:
            loc = ("items", i, "examples")
            extra = sorted(set(item.examples or ()) - {lv.level for lv in common.levels})
            line = _line_of(tree, (*loc, *extra[:1]))  # a level not on the scale: its own line
            problems.append(SurveyProblem(str(path), ".".join(map(str, loc)), line, wrong))
        for name in ("current", "target"):
            n = getattr(item, name)
            if common.level(n) is None:
                loc = ("items", i, name)
                problems.append(
                    SurveyProblem(
                        str(path),
                        ".".join(map(str, loc)),
                        _line_of(tree, loc),
                        f"level {n} is not in common.yaml levels",
                    )
                )
    return problems


__all__ = ["SURVEY_DIR", "Catalog", "FlowQuestion", "SurveyError", "SurveyProblem", "load_catalog"]
