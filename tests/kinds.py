"""Survey folders for export and report tests, one per way of asking about a capability.

Each is the shipped surveys (bot/surveys/) with the per-item questions written out here, so the
tests say which kind they exercise whatever the shipped default is: `agreement` asks the three
5-point agreement questions, `levels` the level picks (current_level marks the item's current level,
target_level its target) everywhere but the sme area, which keeps the agreement scale.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from bot.surveys import SURVEY_DIR, Catalog, load_catalog

WHY = {
    "th": "เพราะเหตุใด? พิมพ์ข้อคิดเห็นและข้อเสนอแนะเพิ่มเติม หรือกด “ข้าม”",
    "en": "Why? Type your comments and suggestions, or tap “Skip”.",
}
AGREEMENT: list[dict[str, Any]] = [
    {
        "id": "current",
        "kind": "rating",
        "prompt": {
            "th": "สถานภาพปัจจุบันที่ประเมินไว้ถูกต้องและครบถ้วนหรือไม่",
            "en": "Is the assessed current status correct and complete?",
        },
    },
    {
        "id": "feasible",
        "kind": "rating",
        "prompt": {"th": "ระดับเป้าหมาย ปี พ.ศ. 2570 มีความเป็นไปได้หรือไม่", "en": "Is the 2027 target feasible?"},
    },
    {
        "id": "appropriate",
        "kind": "rating",
        "prompt": {"th": "ระดับเป้าหมาย ปี พ.ศ. 2570 มีความเหมาะสมหรือไม่", "en": "Is the 2027 target appropriate?"},
    },
    {
        "id": "why",
        "kind": "text",
        "optional": True,
        "ask_if": {"of": ["current", "feasible", "appropriate"], "rating_at_most": 2},
        "prompt": WHY,
    },
]
LEVELS: list[dict[str, Any]] = [
    {
        "id": "current_level",
        "kind": "level",
        "marks": "current",
        "prompt": {
            "th": "ปัจจุบันขีดความสามารถนี้อยู่ระดับใด",
            "en": "Which level is this capability at today?",
        },
    },
    {
        "id": "target_level",
        "kind": "level",
        "marks": "target",
        "prompt": {
            "th": "ระดับเป้าหมาย ปี พ.ศ. 2570 ที่เป็นไปได้และเหมาะสมคือระดับใด",
            "en": "Which 2027 target level is feasible and appropriate?",
        },
    },
    {"id": "why", "kind": "text", "optional": True, "prompt": WHY},
]


def _write(dest: Path, file: str, data: dict[str, Any]) -> None:
    (dest / file).write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def make_survey(dest: Path, item_questions: list[dict[str, Any]], overrides: dict[str, list] | None = None) -> Path:
    """Copy the shipped surveys to `dest` with these per-item questions (and per-area overrides)."""
    dest.mkdir(parents=True, exist_ok=True)
    for path in SURVEY_DIR.glob("*.yaml"):
        shutil.copy(path, dest / path.name)
    common = yaml.safe_load((dest / "common.yaml").read_text(encoding="utf-8"))
    common["item_questions"] = item_questions
    _write(dest, "common.yaml", common)
    for area, questions in (overrides or {}).items():
        data = yaml.safe_load((dest / f"{area}.yaml").read_text(encoding="utf-8"))
        data["item_questions"] = questions
        _write(dest, f"{area}.yaml", data)
    return dest


def _folder(prefix: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, folder, True)
    return folder


@cache
def agreement_catalog() -> Catalog:
    """The agreement form: tests/surveys/agreement (the conftest fixture of the same name)."""
    return load_catalog(Path(__file__).parent / "surveys" / "agreement")


@cache
def levels_catalog() -> Catalog:
    return load_catalog(make_survey(_folder("rabfang-levels-"), LEVELS, {"sme": AGREEMENT}))
