"""Survey workbooks: every shipped survey survives export and import; a broken workbook or a form
made for KoboToolbox/ODK is refused cell by cell; Catalog.version follows the content, not the form."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import xlsxwriter

from bot.cli import main
from bot.surveys import Catalog, load_catalog
from bot.surveys.xlsform import Imported, export_workbook, read_workbook, write_yaml
from tests.conftest import AGREEMENT

# Cells of the exported workbook the tests below edit (see export_workbook for the layout), for the
# agreement form (tests/surveys/agreement): survey: 1 header, 2 begin item_questions,
# 3-6 current/feasible/appropriate/why, 7 end, 8 begin education, 9-11 problems/expectations/missed,
# 12 end. capabilities: 2-6 education's five items. The shipped form has 3-5 current_level/target_level/why.


def exported(tmp_path: Path, catalog: Catalog, edit: Callable[[Any], None] | None = None) -> Path:
    path = tmp_path / "surveys.xlsx"
    export_workbook(catalog, path)
    if edit is not None:
        book = openpyxl.load_workbook(path)
        edit(book)
        book.save(path)
    return path


def read(path: Path, catalog: Catalog | None = None) -> Imported:
    return read_workbook(path, base=(lambda: catalog) if catalog else None)


def problems(imported: Imported) -> list[str]:
    assert imported.catalog is None
    return [f"{p.field}: {p.message}" for p in imported.problems]


def same(a: Catalog, b: Catalog) -> bool:
    return a.common == b.common and a.areas == b.areas


# ------------------------------------------------------------------------------------------- round trip


def test_every_shipped_survey_survives_export_and_import(tmp_path: Path, catalog: Catalog) -> None:
    imported = read(exported(tmp_path, catalog))
    assert imported.problems == [] and imported.notes == []
    back = imported.catalog
    assert back is not None
    assert back.common == catalog.common
    assert list(back.areas) == list(catalog.areas)
    for area_id, area in catalog.areas.items():
        assert back.areas[area_id] == area, area_id
    assert back.version == catalog.version

    write_yaml(back, tmp_path / "out", "surveys.xlsx")
    reloaded = load_catalog(tmp_path / "out")
    assert same(reloaded, catalog) and reloaded.version == catalog.version
    written = (tmp_path / "out" / "education.yaml").read_text(encoding="utf-8")
    assert "\n    1:\n" in written and "'1':" not in written, "level keys as the shipped files write them"


def test_thai_survives_byte_exact_and_is_normalised(tmp_path: Path, catalog: Catalog) -> None:
    def edit(book: Any) -> None:
        book["capabilities"]["C2"] = "  การเชื่อมโยงข้อมูล\u00a0ผู้เรียน "  # padded, as pasted from a document
        book["capabilities"]["D2"] = "Cafe\u0301 data"  # decomposed é

    back = read(exported(tmp_path, catalog, edit)).catalog
    assert back is not None
    item = back.areas["education"].items[0]
    assert item.capability.th == "การเชื่อมโยงข้อมูล\u00a0ผู้เรียน" and item.capability.en == "Caf\u00e9 data"
    write_yaml(back, tmp_path / "out", "x.xlsx")
    text = (tmp_path / "out" / "education.yaml").read_bytes().decode("utf-8")
    assert "การเชื่อมโยงข้อมูล\u00a0ผู้เรียน".encode() in text.encode() and "\\u" not in text
    assert load_catalog(tmp_path / "out").areas["welfare"] == catalog.areas["welfare"]


# ------------------------------------------------------------------------------------- broken workbooks


def del_sheet(name: str) -> Callable[[Any], None]:
    return lambda book: book.remove(book[name])


def set_cells(**cells: Any) -> Callable[[Any], None]:
    def edit(book: Any) -> None:
        for ref, value in cells.items():
            sheet, cell = ref.split("_")
            book[sheet][cell] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (del_sheet("survey"), "workbook: no survey sheet (the areas and their questions)"),
        (set_cells(survey_B10="problems"), "survey!B10: name: duplicate closing question id 'problems'"),
        (set_cells(capabilities_B3="learner_data"), "capabilities!B3: capability id: duplicate item id 'learner_data'"),
        (set_cells(survey_D10=None), "survey!D10: label::English (en) is empty"),
        (set_cells(capabilities_C4=" "), "capabilities!C4: capability::Thai (th) is empty"),
        (set_cells(capabilities_F3=6), "capabilities!F3: target level 6 is not one of the levels (1–5)"),
        (set_cells(capabilities_E3="two"), "capabilities!E3: current level: 'two' is not a whole number"),
        (set_cells(capabilities_F2=1), "capabilities!F2: 2027 target: target level 1 is below current level 2"),
        (set_cells(levels_A3=12), "levels!A3: level: 12 must be at most 9"),
        (set_cells(survey_A9="textarea"), "survey!A9: unknown type 'textarea'"),
        (
            set_cells(survey_A3="select_one agree"),
            "survey!A3: select_one agree: rabfang's choice questions are ratings",
        ),
        (set_cells(survey_I8="การศึกษาและการเรียนรู้ตลอดชีวิต"), "survey!I8: short::Thai (th): th label longer than 20"),
        (set_cells(survey_J8=None, survey_D8="Education and lifelong learning"), "survey!D8: label::English (en)"),
        (set_cells(survey_H6="${current} <= 2 and ${feasible} <= 2"), "survey!H6: relevant '${current} <= 2 and"),
        (set_cells(survey_H6="${why} <= 2"), "survey!H6: relevant: ask_if refers to 'why', which is not a rating"),
        (set_cells(survey_H9="${current} <= 2"), "survey!H9: relevant: ask_if is only for item questions"),
        (set_cells(survey_G9="sometimes"), "survey!G9: required 'sometimes': use yes or no"),
        (
            set_cells(survey_B8="Education"),
            "survey!B8: name: 'Education' is not a valid name: use a name of 1-20 lowercase",
        ),
        (set_cells(capabilities_A2="space"), "capabilities!A2: area 'space' has no group in the survey sheet"),
        (set_cells(survey_A12=None, survey_B12=None), "survey!A13: a group inside a group is only for item_questions"),
        (lambda book: book["survey"].delete_rows(3, 4), "survey!B2: the item_questions group has no questions"),
        (set_cells(choices_C2=None), "choices!C2: label::Thai (th) is empty"),
        (set_cells(choices_B3="Strongly-Agree"), "choices!B3: name: 'Strongly-Agree' is not a valid name"),
        (set_cells(survey_K1=None, survey_K5="x"), "survey!K5: a value in a column without a header"),
        (set_cells(survey_C1="label"), "survey!C1: column 'label' has no language"),
    ],
)
def test_a_broken_workbook_names_sheet_cell_and_problem(
    tmp_path: Path, agreement_catalog: Catalog, edit: Callable[[Any], None], expected: str
) -> None:
    found = problems(read(exported(tmp_path, agreement_catalog, edit)))
    assert any(p.startswith(expected) for p in found), found


def test_an_area_without_capabilities(tmp_path: Path, agreement_catalog: Catalog) -> None:
    catalog = agreement_catalog

    def edit(book: Any) -> None:
        ws = book["capabilities"]
        for row in range(2, 7):  # education's five rows
            for cell in ws[row]:
                cell.value = None

    found = problems(read(exported(tmp_path, catalog, edit)))
    assert found == ["survey!B8: this area has no capabilities: add its rows to the capabilities sheet"]


def test_merged_cells_are_refused_by_range(tmp_path: Path, catalog: Catalog) -> None:
    def edit(book: Any) -> None:
        book["capabilities"].merge_cells("A2:A6")  # "education" once, for its five rows

    found = problems(read(exported(tmp_path, catalog, edit)))
    assert found == ["capabilities!A2:A6: merged cells: unmerge them and type the value in each cell"]


def test_a_formula_without_a_saved_value_is_refused(tmp_path: Path, catalog: Catalog) -> None:
    # openpyxl saves formulas without the value Excel would have computed, like a script-made file
    found = problems(read(exported(tmp_path, catalog, set_cells(capabilities_F4="=E4+1"))))
    assert found == [
        "capabilities!F4: formula =E4+1 has no saved value: open and save the workbook in Excel or LibreOffice, "
        "or type the value"
    ]


def test_a_formula_with_its_saved_value_is_read(tmp_path: Path, catalog: Catalog) -> None:
    """As Excel saves it, a formula cell carries its last value: that value is read."""
    source = openpyxl.load_workbook(exported(tmp_path, catalog))
    path = tmp_path / "saved.xlsx"
    book = xlsxwriter.Workbook(str(path))  # openpyxl cannot write a formula's value; XlsxWriter can
    for ws in source.worksheets:
        out = book.add_worksheet(ws.title)
        for r, row in enumerate(ws.iter_rows(values_only=True)):
            out.write_row(r, 0, row)
            if ws.title == "capabilities" and r > 0:  # 2027 target as current + the step
                out.write_formula(r, 5, f"=E{r + 1}+{row[5] - row[4]}", None, row[5])
    book.close()
    imported = read(path)
    assert imported.problems == [] and imported.catalog is not None
    assert same(imported.catalog, catalog)


def test_a_blank_row_in_the_middle_is_skipped_and_said(tmp_path: Path, catalog: Catalog) -> None:
    def edit(book: Any) -> None:
        book["capabilities"].insert_rows(4)
        book["survey"].insert_rows(10)
        for ws in (book["capabilities"], book["survey"]):  # blank rows after the last: silent
            ws.cell(ws.max_row + 5, 1).value = " "

    imported = read(exported(tmp_path, catalog, edit))
    assert imported.catalog is not None and same(imported.catalog, catalog)
    assert imported.notes == ["capabilities!4: blank row skipped", "survey!10: blank row skipped"]


def test_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "surveys.xlsx"
    path.write_text("type,name\ntext,q\n", encoding="utf-8")
    (problem,) = problems(read(path))
    assert problem.startswith("workbook: cannot be read as an Excel workbook (.xlsx)")


def test_a_workbook_without_common_parts_keeps_those_in_use(tmp_path: Path, catalog: Catalog) -> None:
    def edit(book: Any) -> None:
        book.remove(book["levels"])
        book.remove(book["choices"])

    imported = read(exported(tmp_path, catalog, edit), catalog)
    assert imported.catalog is not None and same(imported.catalog, catalog)
    assert "levels sheet: not in the workbook, kept from the surveys in use" in imported.notes
    assert "choices list 'region': not in the workbook, kept from the surveys in use" in imported.notes
    assert problems(read(exported(tmp_path, catalog, edit))) == [
        "workbook: levels sheet is missing",
        "workbook: choices list 'scale' is missing",
        "workbook: choices list 'group' is missing",
        "workbook: choices list 'region' is missing",
        "workbook: choices list 'age' is missing",
    ]


# ---------------------------------------------------------------------- forms made for KoboToolbox/ODK


def workbook(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        ws = book.create_sheet(name)
        for row in rows:
            ws.append(row)
    book.save(path)
    return path


AGREE = [
    ["scale", str(n), th, en]
    for n, th, en in [
        (1, "ไม่เห็นด้วยอย่างยิ่ง", "Strongly disagree"),
        (2, "ไม่เห็นด้วย", "Disagree"),
        (3, "ไม่แน่ใจ", "Not sure"),
        (4, "เห็นด้วย", "Agree"),
        (5, "เห็นด้วยอย่างยิ่ง", "Strongly agree"),
    ]
]


def test_an_odk_form_imports_what_maps(tmp_path: Path, catalog: Catalog) -> None:
    """The shape ODK/Kobo users write: English first, `begin group` with a space, metadata rows, a
    note as the group's intro, a typed 1-5 number, `$kuid`, `appearance`; no levels or profile lists,
    only the capabilities sheet added."""
    header = ["type", "name", "label::English (en)", "label::Thai (th)", "required", "relevant", "constraint"]
    header += ["appearance", "$kuid"]
    path = workbook(
        tmp_path / "odk.xlsx",
        {
            "survey": [
                header,
                ["start", "start"],
                ["end", "end"],
                ["begin group", "item_questions", "Per capability", "ต่อขีดความสามารถ", None, None, None, "field-list"],
                ["select_one scale", "agree_now", "Is the level right?", "ระดับถูกต้องหรือไม่", "yes", None, None, "likert"],
                ["integer", "feasible", "Feasible? (1-5)", "เป็นไปได้หรือไม่ (1-5)", "TRUE", None, ". >= 1 and . <= 5"],
                ["text", "why", "Why?", "เพราะเหตุใด", None, "${agree_now} < 3 or ${feasible} < 3"],
                ["end group"],
                ["begin group", "water", "Water", "น้ำ"],
                ["note", "water_intro", "Water: two capabilities.", "ด้านน้ำ: ขีดความสามารถ 2 ข้อ"],
                ["text", "problems", "Problems?", "ปัญหา", "no", None, None, "multiline", "k1"],
                ["end group"],
            ],
            "choices": [["list_name", "name", "label::Thai (th)", "label::English (en)"], *AGREE],
            "settings": [["form_title", "form_id", "version"], ["Water", "water_2026", "2026110101"]],
            "capabilities": [
                [
                    "area",
                    "capability id",
                    "capability::Thai (th)",
                    "capability::English (en)",
                    "current level",
                    "2027 target",
                ],
                ["water", "tap_data", "ข้อมูลการประปา", "Tap water data", 2, 4],
                ["water", "flood_alert", "การเตือนภัยน้ำท่วม", "Flood alerts", 1, 3],
            ],
        },
    )
    imported = read(path, catalog)
    assert imported.problems == []
    assert imported.notes == [
        "levels sheet: not in the workbook, kept from the surveys in use",
        "choices list 'group': not in the workbook, kept from the surveys in use",
        "choices list 'region': not in the workbook, kept from the surveys in use",
        "choices list 'age': not in the workbook, kept from the surveys in use",
        "survey!A2: start skipped: rabfang records who answered and when itself",
        "survey!A3: end skipped: rabfang records who answered and when itself",
        "settings!C2: exported as survey version 2026110101; the workbook is now version "
        + str(imported.catalog and imported.catalog.version),
    ]
    got = imported.catalog
    assert got is not None and list(got.areas) == ["water"]
    assert got.common.levels == catalog.common.levels and got.common.profile == catalog.common.profile
    assert [(o.id, o.value, o.label.th) for o in got.common.scale][:2] == [
        ("1", 1, "ไม่เห็นด้วยอย่างยิ่ง"),
        ("2", 2, "ไม่เห็นด้วย"),
    ]
    asked = got.common.item_questions
    assert [(q.id, q.kind, q.optional) for q in asked] == [
        ("agree_now", "rating", False),
        ("feasible", "rating", False),
        ("why", "text", True),
    ]
    assert asked[2].ask_if is not None and asked[2].ask_if.of == ("agree_now", "feasible")
    assert asked[2].ask_if.rating_at_most == 2
    water = got.areas["water"]
    assert (water.title.th, water.short.en, water.intro.th) == ("น้ำ", "Water", "ด้านน้ำ: ขีดความสามารถ 2 ข้อ")
    assert [(i.id, i.current, i.target) for i in water.items] == [("tap_data", 2, 4), ("flood_alert", 1, 3)]
    assert [q.id for q in water.closing] == ["problems"]
    assert [s.key for s in got.flow("water")][:3] == [
        "water.tap_data.agree_now",
        "water.tap_data.feasible",
        "water.tap_data.why",
    ]

    write_yaml(got, tmp_path / "out", "odk.xlsx")
    assert same(load_catalog(tmp_path / "out"), got)


def test_a_kobo_form_is_refused_row_by_row(tmp_path: Path, catalog: Catalog) -> None:
    """A typical KoboToolbox household form: what rabfang cannot ask is refused, each row named."""
    header = ["type", "name", "label::English (en)", "label::Thai (th)", "hint::English (en)", "required"]
    header += ["relevant", "calculation", "choice_filter", "media::image::English (en)", "constraint"]
    rows = [
        ["begin_group", "household", "Household", "ครัวเรือน", "About your household", None],
        ["integer", "members", "How many people?", "กี่คน", None, "yes", None, None, None, None, ". > 0"],
        ["select_multiple water_src", "sources", "Water sources", "แหล่งน้ำ", None, "yes"],
        ["calculate", "adults", None, None, None, None, None, "${members} - 1"],
        ["select_one province", "province", "Province", "จังหวัด", None, "yes"],
        ["select_one district", "district", "District", "อำเภอ", None, "yes", None, None, "province=${province}"],
        ["image", "photo", "Photo of the tap", "รูปก๊อกน้ำ", None, "no"],
        ["text", "tap", "Describe the tap", "ก๊อกน้ำ", None, "no", None, None, None, "tap.jpg"],
        ["begin_repeat", "person", "Person", "บุคคล"],
        ["text", "pname", "Name", "ชื่อ", "Given name", "yes"],
        ["end_repeat", "person"],
        ["geopoint", "where", "Location", "ตำแหน่ง", None, "no"],
        ["text", "comment", "Comment", "ความเห็น", None, "no", "selected(${sources}, 'well')"],
        ["select_one scale", "happy", "Happy with water?", "พอใจหรือไม่", None, "yes"],
        ["end_group", "household"],
        ["text", "outside", "Anything else?", "อื่น ๆ", None, "no"],
    ]
    path = workbook(
        tmp_path / "kobo.xlsx",
        {
            "survey": [header, *rows],
            "choices": [
                ["list_name", "name", "label::English (en)", "label::Thai (th)", "province"],
                ["water_src", "well", "Well", "บ่อ"],
                ["province", "cm", "Chiang Mai", "เชียงใหม่"],
                ["district", "muang", "Mueang", "เมือง", "cm"],
                *AGREE,
            ],
            "settings": [["form_title", "form_id"], ["Household water", "hh_water"]],
        },
    )
    found = problems(read(path, catalog))
    expected = [
        "survey!A3: integer is only taken as a rating: constrain it to the scale, e.g. . >= 1 and . <= 5",
        "survey!A4: select_multiple is not supported",
        "survey!A5: calculations are not supported",
        "survey!A6: select_one province: rabfang's choice questions are ratings on the choices list 'scale'",
        "survey!I7: cascading selects (choice_filter) are not supported",
        "survey!A7: select_one district: rabfang's choice questions are ratings",
        "survey!A8: media questions (image, audio, video, file) are not supported",
        "survey!J9: media (images, audio, video) is not supported",
        "survey!A10: repeats are not supported",
        "survey!E11: hints are only for an area's group (its intro): put this in the label",
        "survey!A13: location questions are not supported",
        "survey!G14: relevant \"selected(${sources}, 'well')\" is not supported",
        "survey!A17: a question outside any group",
        "survey!B2: area 'household' has no capabilities: add a capabilities sheet",
    ]
    for want in expected:
        assert any(p.startswith(want) for p in found), (want, found)
    assert len(found) == len(expected), found


# -------------------------------------------------------------------------------------------- version


def test_version_follows_content_not_form(tmp_path: Path, agreement_catalog: Catalog) -> None:
    catalog = agreement_catalog
    assert len(catalog.version) == 12 and int(catalog.version, 16) >= 0
    assert load_catalog(AGREEMENT).version == catalog.version, "stable across loads"
    back = read(exported(tmp_path, catalog)).catalog
    assert back is not None and back.version == catalog.version

    versions = {catalog.version}
    for n, edit in enumerate(
        [
            set_cells(capabilities_C2="ข้อมูลผู้เรียน"),  # a capability's Thai
            set_cells(capabilities_F2=5),  # a target level
            set_cells(levels_C2="Starting"),  # a level's name
            set_cells(choices_D3="Do not agree"),  # an option
            set_cells(survey_C3="ถูกต้องหรือไม่"),  # a question
            set_cells(survey_H6="${current} <= 1"),  # when a question is asked
        ]
    ):
        edited = read(exported(tmp_path / str(n), catalog, edit)).catalog
        assert edited is not None
        versions.add(edited.version)
    assert len(versions) == 7, "every edit gives a new version"


def test_version_ignores_order_numbers_but_not_the_menu_order(tmp_path: Path, catalog: Catalog) -> None:
    areas = list(catalog.areas.values())
    renumbered = Catalog(catalog.common, [a.model_copy(update={"order": 10 * a.order}) for a in areas])
    assert renumbered.version == catalog.version
    swapped = Catalog(catalog.common, [a.model_copy(update={"order": 7 - a.order}) for a in areas])
    assert swapped.version != catalog.version


# ------------------------------------------------------------------------------------------------ CLI


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., int]:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.delenv("RABFANG_SURVEYS_DIR", raising=False)
    return lambda *argv: main(list(argv))


def test_cli_export_validate_import(
    tmp_path: Path, catalog: Catalog, cli: Callable[..., int], capsys: pytest.CaptureFixture[str]
) -> None:
    book = tmp_path / "s.xlsx"
    assert cli("surveys", "export", "--out", str(book)) == 0
    assert f"6 areas, survey version {catalog.version}" in capsys.readouterr().out
    assert cli("surveys", "validate", str(book)) == 0
    assert f"valid (survey version {catalog.version})" in capsys.readouterr().out
    assert cli("surveys", "import", str(book), "--out", str(tmp_path / "out")) == 0
    out = capsys.readouterr().out
    assert "common.yaml" in out and "ok  sme: 5 items" in out and f"RABFANG_SURVEYS_DIR={tmp_path / 'out'}" in out
    assert same(load_catalog(tmp_path / "out"), catalog)
    assert cli("surveys", "validate") == 0, "validate on the YAML files keeps working"
    assert "6 file(s) valid" in capsys.readouterr().out

    broken = exported(tmp_path / "b", catalog, set_cells(capabilities_F3=6))
    assert cli("surveys", "validate", str(broken)) == 1
    err = capsys.readouterr().err
    assert f"{broken}: capabilities!F3: target level 6 is not one of the levels (1–5)" in err
    assert cli("surveys", "import", str(broken), "--out", str(tmp_path / "never")) == 1
    assert not (tmp_path / "never").exists()

    (tmp_path / "out" / "stray.yaml").write_text("id: stray\n", encoding="utf-8")
    assert cli("surveys", "import", str(book), "--out", str(tmp_path / "out")) == 2
    assert "holds other survey files (stray.yaml)" in capsys.readouterr().err


def test_a_user_edits_the_workbook_and_the_bot_asks_the_new_capability(tmp_path: Path, catalog: Catalog) -> None:
    """Export, rename one capability, add one, change a target; import; validate; the demo asks it."""
    env = {**os.environ, "RABFANG_DB": str(tmp_path / "x.db")}
    env.pop("RABFANG_SURVEYS_DIR", None)

    def rabfang(*args: str, stdin: str = "", **extra: str) -> subprocess.CompletedProcess[str]:
        run = subprocess.run(
            [sys.executable, "-m", "bot", *args],
            input=stdin,
            capture_output=True,
            text=True,
            encoding="utf-8",
            env={**env, **extra},
            cwd=tmp_path,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        return run

    # someone answers under the shipped surveys first
    rabfang("demo", "--user", "early", stdin="\n".join(["1", "1", "2", "3", "3", "1", "4"]) + "\n")
    rabfang("surveys", "export", "--out", "s.xlsx")
    book = openpyxl.load_workbook(tmp_path / "s.xlsx")
    ws = book["capabilities"]
    ws["C2"] = "การเชื่อมโยงข้อมูลผู้เรียนทุกกระทรวง"  # rename education's first capability
    ws["F3"] = 5  # lifelong platform: target 3 -> 5
    ws.insert_rows(4)
    for col, value in zip("ABCDEF", ["education", "ai_tutor", "ครูผู้ช่วยปัญญาประดิษฐ์", "AI tutors", 1, 2], strict=True):
        ws[f"{col}4"] = value
    book.save(tmp_path / "s.xlsx")

    rabfang("surveys", "import", "s.xlsx", "--out", "dir")
    checked = rabfang("surveys", "validate", RABFANG_SURVEYS_DIR=str(tmp_path / "dir"))
    assert "ok  education: 6 items" in checked.stdout

    # ไทย, consent, SME owner, North, 30–39, education; then the first three capabilities, as planned
    answers = ["1", "1", "2", "3", "3", "1", "2", "4", "2", "5", "1", "2"]
    demo = rabfang("demo", stdin="\n".join(answers) + "\n", RABFANG_SURVEYS_DIR=str(tmp_path / "dir"))
    assert "การเชื่อมโยงข้อมูลผู้เรียนทุกกระทรวง" in demo.stdout
    assert "ครูผู้ช่วยปัญญาประดิษฐ์" in demo.stdout
    assert "ขีดความสามารถ 3/6 · ด้านการศึกษา\nครูผู้ช่วยปัญญาประดิษฐ์\nระดับปัจจุบัน: ระดับ 1 " in demo.stdout
    assert "เป้าหมายปี 2570: ระดับ 2 " in demo.stdout
    assert "เป้าหมายปี 2570: ระดับ 5 " in demo.stdout  # lifelong platform's new target

    # the export tells the two apart: each answer carries the surveys it was given under
    rabfang("export", "--out", "e")
    with (tmp_path / "e" / "responses.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    edited = load_catalog(tmp_path / "dir").version
    versions = {(r["item_id"], r["survey_version"]) for r in rows}
    assert ("learner_data", catalog.version) in versions  # the early answer, under the shipped surveys
    assert ("ai_tutor", edited) in versions and edited != catalog.version
    readme = (tmp_path / "e" / "README.txt").read_text(encoding="utf-8-sig")
    assert "survey_version" in readme


def test_the_committed_template_is_the_shipped_surveys(catalog: Catalog) -> None:
    template = Path(__file__).parent.parent / "docs" / "survey-template.xlsx"
    imported = read(template)
    assert imported.catalog is not None and same(imported.catalog, catalog), (
        "regenerate it: rabfang surveys export --out docs/survey-template.xlsx"
    )


# ------------------------------------------------------------------------------------------- level questions


def test_level_questions_are_select_one_levels_with_marks(tmp_path: Path, catalog: Catalog) -> None:
    book = openpyxl.load_workbook(exported(tmp_path, catalog))
    survey = book["survey"]
    header = [c.value for c in survey[1]]
    rows = [dict(zip(header, (c.value for c in row), strict=False)) for row in survey.iter_rows(min_row=3, max_row=5)]
    assert [(r["type"], r["name"], r["marks"]) for r in rows] == [
        ("select_one levels", "current_level", "current"),
        ("select_one levels", "target_level", "target"),
        ("text", "why", None),
    ]
    assert rows[2]["relevant"] == "${current_level} != 'plan' or ${target_level} != 'plan'"
    levels = [(r[1].value, r[4].value) for r in book["choices"].iter_rows(min_row=2) if r[0].value == "levels"]
    assert levels == [(str(n), n) for n in range(1, 6)] + [("dk", None)]  # for XLSForm tools; read from levels


def test_the_agreement_form_survives_export_and_import(tmp_path: Path, agreement_catalog: Catalog) -> None:
    imported = read(exported(tmp_path, agreement_catalog))
    assert imported.problems == [] and imported.notes == []
    assert imported.catalog is not None and same(imported.catalog, agreement_catalog)


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ({"survey_K3": None}, "survey!K3: marks: a level question needs marks: current or target"),
        ({"survey_K3": "today"}, "survey!K3: marks: 'today' is not one of 'current' or 'target'"),
        ({"survey_K5": "current"}, "survey!K5: marks: marks is only for level questions"),
        ({"survey_H5": "${current_level} != 'plan' and ${target_level} != 'plan'"}, "survey!H5: relevant"),
        ({"survey_H5": "${why} != 'plan'"}, "survey!H5: relevant: ask_if refers to 'why', which is not a level"),
        (
            {"survey_H5": "${current_level} <= 2"},
            "survey!H5: relevant: ask_if refers to 'current_level', which is not a rating",
        ),
    ],
)
def test_a_broken_level_question_is_named_by_its_cell(
    tmp_path: Path, catalog: Catalog, cells: dict[str, Any], expected: str
) -> None:
    found = problems(read(exported(tmp_path, catalog, set_cells(**cells))))
    assert any(f.startswith(expected) for f in found), found


# ------------------------------------------------------------------ level meanings and capability examples
# capabilities: G-H level 1 example (Thai, English), I-J level 2, K-L level 3, M-N level 4, O-P level 5;
# row 2 is education's learner_data. levels: D-E means (Thai, English), rows 2-6 levels 1-5.


def test_examples_and_meanings_are_columns_and_survive_the_round_trip(tmp_path: Path, catalog: Catalog) -> None:
    book = openpyxl.load_workbook(exported(tmp_path, catalog))
    capabilities = [c.value for c in book["capabilities"][1]]
    assert capabilities[6:] == [
        f"level {n} example::{lang}" for n in range(1, 6) for lang in ("Thai (th)", "English (en)")
    ]
    assert [c.value for c in book["levels"][1]][3:] == ["means::Thai (th)", "means::English (en)"]
    item = catalog.areas["education"].items[0]
    assert item.examples is not None
    assert [c.value for c in book["capabilities"][2]][6:8] == [item.examples[1].th, item.examples[1].en]
    level = catalog.common.levels[3]
    assert level.means is not None and [c.value for c in book["levels"][5]][3:] == [level.means.th, level.means.en]

    back = read(exported(tmp_path, catalog)).catalog
    assert back is not None and same(back, catalog) and back.version == catalog.version
    assert back.areas["education"].items[0].examples == item.examples and back.common.levels[3].means == level.means


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (
            {"capabilities_M2": None, "capabilities_N2": None},
            "capabilities!M2: examples need one per level (1, 2, 3, 4, 5) or none: missing level 4",
        ),
        ({"capabilities_N3": None}, "capabilities!N3: level 4 example::English (en) is empty"),
        ({"capabilities_G4": " "}, "capabilities!G4: level 1 example::Thai (th) is empty"),
        (
            {"capabilities_Q1": "level 6 example::Thai (th)", "capabilities_R1": "level 6 example::English (en)"}
            | {"capabilities_Q2": "ทุกอย่างเป็นไปเอง", "capabilities_R2": "All by itself"},
            "capabilities!Q2: examples need one per level (1, 2, 3, 4, 5) or none: level 6 is not on the scale",
        ),
        (
            {"capabilities_H2": "x" * 81},
            "capabilities!H2: level 1 example::English (en): example is 81 characters: at most 80",
        ),
        ({"capabilities_G1": "level 1 example"}, "capabilities!G1: column 'level 1 example' has no language"),
        (
            {"levels_D4": None, "levels_E4": None},
            "levels!D4: means::Thai (th): give every level its meaning (means), or none",
        ),
        ({"levels_E3": None}, "levels!E3: means::English (en) is empty"),
    ],
)
def test_a_broken_example_or_meaning_is_named_by_its_cell(
    tmp_path: Path, catalog: Catalog, cells: dict[str, Any], expected: str
) -> None:
    found = problems(read(exported(tmp_path, catalog, set_cells(**cells))))
    assert any(f.startswith(expected) for f in found), found


def test_a_workbook_without_a_levels_examples_column_names_each_row(tmp_path: Path, catalog: Catalog) -> None:
    found = problems(read(exported(tmp_path, catalog, lambda book: book["capabilities"].delete_cols(15, 2))))
    assert len(found) == 28, found  # every capability lacks level 5; the row is the place, as there is no cell
    assert found[0] == "capabilities!2: examples need one per level (1, 2, 3, 4, 5) or none: missing level 5"


def test_no_examples_and_no_meanings_are_allowed(tmp_path: Path, catalog: Catalog) -> None:
    def edit(book: Any) -> None:
        for row in book["capabilities"].iter_rows(min_row=2, max_row=6, min_col=7):  # education's examples
            for cell in row:
                cell.value = None
        book["levels"].delete_cols(4, 2)  # the meanings, columns and all

    imported = read(exported(tmp_path, catalog, edit))
    assert imported.problems == [] and imported.catalog is not None
    assert all(item.examples is None for item in imported.catalog.areas["education"].items)
    assert imported.catalog.areas["health"] == catalog.areas["health"]
    assert all(lv.means is None for lv in imported.catalog.common.levels)
    assert imported.catalog.version != catalog.version


def test_an_example_or_a_meaning_is_content(tmp_path: Path, catalog: Catalog) -> None:
    versions = {catalog.version}
    for n, edit in enumerate(
        [set_cells(capabilities_G2="ดูผลการเรียนบนเว็บไซต์"), set_cells(levels_E2="Information is on a website.")]
    ):
        edited = read(exported(tmp_path / str(n), catalog, edit)).catalog
        assert edited is not None
        versions.add(edited.version)
    assert len(versions) == 3
