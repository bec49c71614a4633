"""Survey files: every shipped one validates; a broken one fails with file, field and line."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.surveys import COMMON_FILE as COMMON
from bot.surveys import SURVEY_DIR, SurveyError, load_catalog

AREAS = ["education", "health", "agriculture", "welfare", "participation", "sme"]


def test_the_six_areas_ship_and_validate() -> None:
    catalog = load_catalog()
    assert list(catalog.areas) == AREAS
    for area in catalog.areas.values():
        assert area.items and {q.id for q in area.closing} == {"problems", "expectations", "missed"}
        for item in area.items:
            assert catalog.common.level(item.current) and catalog.common.level(item.target)
            assert item.capability.th and item.capability.en


def test_context_levels_are_carried(catalog) -> None:  # type: ignore[no-untyped-def]
    welfare = {i.id: (i.current, i.target) for i in catalog.areas["welfare"].items}
    assert (1, 3) in welfare.values()  # proactive benefits without application
    assert catalog.areas["sme"].items[0].current == 3


def copy_surveys(tmp_path: Path) -> Path:
    folder = tmp_path / "surveys"
    shutil.copytree(SURVEY_DIR, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return folder


def break_file(folder: Path, name: str, old: str, new: str) -> Path:
    path = folder / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        (
            "    current: 2\n    target: 3",
            "    current: 2\n    target: 7",
            "items.1.target",
            "level 7 is not in common.yaml",
        ),
        ('en: "Lifelong digital learning platform"', 'xx: "oops"', "items.1.capability.en", "Field required"),
        ("id: lifelong_platform", "id: learner_data", "items.1.id", "duplicate item id 'learner_data'"),
        ("id: teacher_skills", "id: Teacher-Skills", "items.4.id", "should match pattern"),
        (
            "  - id: missed\n",
            "  - id: missed\n    colour: blue\n",
            "closing.2.colour",
            "Extra inputs are not permitted",
        ),
        ('short: {th: "การศึกษา"', 'short: {th: "การศึกษาและการเรียนรู้ตลอดชีวิต"', "short", "longer than 20"),
    ],
)
def test_a_broken_file_names_file_field_and_line(tmp_path: Path, old: str, new: str, field: str, message: str) -> None:
    folder = copy_surveys(tmp_path)
    path = break_file(folder, "education.yaml", old, new)
    with pytest.raises(SurveyError) as err:
        load_catalog(folder)
    problem = err.value.problems[0]
    assert problem.file == str(path)
    assert problem.field == field
    assert message in problem.message
    assert problem.line is not None
    lines = path.read_text(encoding="utf-8").splitlines()
    near = lines[problem.line - 1 : problem.line + 1]  # the named line, or the mapping just above it
    assert any(new.strip().splitlines()[-1].strip() in line for line in near)


def test_invalid_yaml_is_reported_with_its_line(tmp_path: Path) -> None:
    folder = copy_surveys(tmp_path)
    break_file(folder, "health.yaml", "items:\n", "items:\n  - id: [unclosed\n")
    with pytest.raises(SurveyError) as err:
        load_catalog(folder)
    assert "not valid YAML" in str(err.value) and "health.yaml:" in str(err.value)


def rabfang(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, encoding="utf-8", env=env, timeout=60
    )


def test_cli_validate_reports_and_exits_nonzero(tmp_path: Path) -> None:
    ok = rabfang("surveys", "validate")
    assert ok.returncode == 0, ok.stderr
    assert "6 file(s) valid" in ok.stdout
    folder = copy_surveys(tmp_path)
    path = break_file(folder, "sme.yaml", "target: 4", "target: 1")
    bad = rabfang("surveys", "validate", str(path), env={"RABFANG_SURVEYS_DIR": str(folder), "PATH": ""})
    assert bad.returncode == 1
    assert f"{path}:" in bad.stderr and "below current level" in bad.stderr


def test_a_broken_survey_stops_start_up(tmp_path: Path) -> None:
    folder = copy_surveys(tmp_path)
    break_file(folder, "agriculture.yaml", "id: agriculture", "id: education")
    env = {"RABFANG_SURVEYS_DIR": str(folder), "RABFANG_DB": str(tmp_path / "x.db"), "PATH": ""}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "demo"], input="", capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 2
    assert "agriculture.yaml" in result.stderr and "also used by" in result.stderr


# ---- level questions and their ask_if -----------------------------------------------------------


def test_the_shipped_surveys_ask_two_levels_then_why(catalog) -> None:  # type: ignore[no-untyped-def]
    asked = [(q.id, q.kind, q.marks) for q in catalog.common.item_questions]
    assert asked == [("current_level", "level", "current"), ("target_level", "level", "target"), ("why", "text", None)]
    why = catalog.common.item_questions[2]
    assert why.optional and why.ask_if is not None
    assert why.ask_if.differs_from_plan == ("current_level", "target_level")
    step = catalog.step("education.learner_data.target_level")
    assert step is not None and step.plan_level == 4
    assert [(o.id, o.value) for o in catalog.options(step)] == [(str(n), n) for n in range(1, 6)] + [("dk", None)]
    assert catalog.step("education.learner_data.why").differs == (  # type: ignore[union-attr]
        "education.learner_data.current_level",
        "education.learner_data.target_level",
    )


def test_the_agreement_form_is_still_a_survey_one_can_ship(agreement_catalog) -> None:  # type: ignore[no-untyped-def]
    kinds = [(q.id, q.kind) for q in agreement_catalog.common.item_questions]
    assert kinds == [("current", "rating"), ("feasible", "rating"), ("appropriate", "rating"), ("why", "text")]
    assert agreement_catalog.step("health.telemedicine.why").needs  # asked after a low rating


ITEM_QUESTIONS_AT = "item_questions:\n"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("    marks: current\n", "", "a level question needs marks"),
        ("  - id: why\n    kind: text\n", "  - id: why\n    kind: text\n    marks: current\n", "only for level"),
        ("    marks: target\n", "    marks: later\n", "Input should be 'current' or 'target'"),
        (
            "{differs_from_plan: [current_level, target_level]}",
            "{differs_from_plan: [current_level, nope]}",
            "'nope', which is not a level question asked before it",
        ),
        (
            "{differs_from_plan: [current_level, target_level]}",
            "{of: [current_level], rating_at_most: 2}",
            "'current_level', which is not a rating question asked before it",
        ),
        (
            "{differs_from_plan: [current_level, target_level]}",
            "{differs_from_plan: [current_level], of: [current_level], rating_at_most: 2}",
            "not both",
        ),
        ("{differs_from_plan: [current_level, target_level]}", "{}", "ask_if needs"),
    ],
)
def test_level_questions_and_their_ask_if_are_validated(tmp_path: Path, old: str, new: str, message: str) -> None:
    folder = copy_surveys(tmp_path)
    path = break_file(folder, "common.yaml", old, new)
    with pytest.raises(SurveyError) as err:
        load_catalog(folder)
    problem = err.value.problems[0]
    assert problem.file == str(path) and problem.field.startswith("item_questions")
    assert message in problem.message, problem.message


def test_a_level_question_is_about_a_capability_not_a_closing_one(tmp_path: Path) -> None:
    folder = copy_surveys(tmp_path)
    break_file(
        folder,
        "education.yaml",
        "  - id: missed\n    kind: text\n",
        "  - id: missed\n    kind: level\n    marks: target\n",
    )
    with pytest.raises(SurveyError, match="put it in item_questions"):
        load_catalog(folder)


# ---- the maturity levels' meanings and each capability's examples ------------------------------


def test_every_shipped_capability_has_an_example_per_level(catalog) -> None:  # type: ignore[no-untyped-def]
    """Five short pictures per capability, in plain Thai and English, as a compact list shows them."""
    levels = {lv.level for lv in catalog.common.levels}
    assert levels == {1, 2, 3, 4, 5} and all(lv.means for lv in catalog.common.levels)
    count = 0
    for area in catalog.areas.values():
        for item in area.items:
            assert item.examples is not None and set(item.examples) == levels, item.id
            for n, text in item.examples.items():
                count += 1
                where = f"{area.id}.{item.id} level {n}"
                assert len(text.th) <= 45 and len(text.en) <= 60, where  # the editors' limits, under the 80 refused
                assert not text.th.endswith(".") and not text.en.endswith("."), where
                assert not re.search(r"[A-Za-z()]", text.th), f"{where}: no English or brackets in Thai"
            assert len({t.th for t in item.examples.values()}) == len(levels), f"{item.id}: one picture per level"
    assert count == 28 * 5


def example_line(path: Path, marker: str) -> int:
    return next(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if marker in line)


FIFTH = '      5: {th: "ลูกเริ่มเรียนไม่ทัน โรงเรียนติดต่อมาช่วยก่อน", en: "Your child falls behind and the school reaches out first"}\n'


@pytest.mark.parametrize(
    ("new", "field", "message", "marker"),
    [
        ("", "items.0.examples", "examples need one per level (1, 2, 3, 4, 5) or none: missing level 5", "1: {th:"),
        (FIFTH.replace("5:", "6:"), "items.0.examples", "missing level 5; level 6 is not on the scale", "6: {th:"),
        (
            FIFTH.replace(', en: "Your child falls behind and the school reaches out first"', ""),
            "items.0.examples.5.en",
            "Field required",
            "5: {th:",
        ),
        (
            FIFTH.replace("Your child falls behind", "Your child falls behind in maths and reading by the end of term"),
            "items.0.examples.5.en",
            "example is 96 characters: at most 80, as it is shown on one line",
            "5: {th:",
        ),
        (
            FIFTH.replace("ลูกเริ่มเรียนไม่ทัน", "ลูกเริ่มเรียนไม่ทันเพื่อนในชั้นเรียนทั้งวิชาคณิตศาสตร์และภาษาไทย"),
            "items.0.examples.5.th",
            "at most 80",
            "5: {th:",
        ),
        (FIFTH.replace("5:", "five:"), "items.0.examples.five.[key]", "valid integer", "five: {th:"),
    ],
)
def test_a_broken_example_names_file_line_and_field(
    tmp_path: Path, new: str, field: str, message: str, marker: str
) -> None:
    folder = copy_surveys(tmp_path)
    path = break_file(folder, "education.yaml", FIFTH, new)
    with pytest.raises(SurveyError) as err:
        load_catalog(folder)
    (problem,) = err.value.problems
    assert (problem.file, problem.field) == (str(path), field)
    assert message in problem.message, problem.message
    assert problem.line == example_line(path, marker), (problem.line, marker)


def test_an_area_may_give_no_examples_but_not_some(tmp_path: Path) -> None:
    folder = copy_surveys(tmp_path)
    text = (folder / "sme.yaml").read_text(encoding="utf-8")
    without = re.sub(r"    examples:\n(      \d: .*\n)+", "", text)
    assert without.count("examples:") == 0 and text.count("    examples:\n") == 5
    (folder / "sme.yaml").write_text(without, encoding="utf-8")
    catalog = load_catalog(folder)
    assert all(item.examples is None for item in catalog.areas["sme"].items)
    assert catalog.areas["education"].items[0].examples is not None


def test_every_level_has_its_meaning_or_none_does(tmp_path: Path) -> None:
    folder = copy_surveys(tmp_path)
    text = (folder / COMMON).read_text(encoding="utf-8")
    third = re.search(r"  - level: 3\n    name: .*\n(    means:\n(      .*\n){2})", text)
    assert third is not None
    path = break_file(folder, COMMON, third[1], "")
    with pytest.raises(SurveyError) as err:
        load_catalog(folder)
    (problem,) = err.value.problems
    assert (problem.file, problem.field) == (str(path), "levels.2.means")
    assert problem.message == "give every level its meaning (means), or none"
    assert problem.line == example_line(path, "level: 3")

    (folder / COMMON).write_text(re.sub(r"    means:\n(      .*\n){2}", "", text), encoding="utf-8")
    assert all(lv.means is None for lv in load_catalog(folder).common.levels), "none is allowed"
