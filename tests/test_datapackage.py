"""The export set as open data: datapackage.json validates with the `frictionless` library on a real
export (a real SQLite database, Thai text, formula-looking cells, sessions and registrations), a
broken CSV makes it fail, and `rabfang export --ckan` writes the CKAN dataset metadata beside it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from frictionless import Package, validate

from bot.cli import main
from bot.surveys import Catalog
from exports import write_export
from exports.datapackage import LICENSES, TYPES
from exports.tables import TABLES
from storage import Database
from tests.test_export import at, read_csv, seed
from tests.test_export_cli import _in_thread, cli_db  # noqa: F401  (cli_db: a fixture)

FILES = {t.file for t in TABLES}


@pytest.fixture(scope="session")
def catalog(agreement_catalog: Catalog) -> Catalog:
    return agreement_catalog


@pytest.fixture
async def exported(db: Database, catalog: Catalog, tmp_path: Path) -> Path:
    await seed(db, catalog)
    out = tmp_path / "export"
    await write_export(db, out, catalog=catalog, now=at(100), license="Open-Data-Common")
    return out


def descriptor(folder: Path) -> dict:
    return json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))


def errors(folder: Path) -> set[str]:
    report = validate(str(folder / "datapackage.json"))
    found = {e.type for task in report.tasks for e in task.errors} | {e.type for e in report.errors}
    assert report.valid == (not found)
    return found


@pytest.mark.backends  # the survey-versions query on PostgreSQL too
async def test_the_export_set_is_a_valid_data_package(exported: Path, catalog: Catalog) -> None:
    assert errors(exported) == set()
    package = descriptor(exported)
    assert package["profile"] == "tabular-data-package"
    assert {r["path"] for r in package["resources"]} == FILES  # every CSV, and only those
    for table in TABLES:
        res = next(r for r in package["resources"] if r["name"] == table.name)
        fields = res["schema"]["fields"]
        assert [(f["name"], f["type"]) for f in fields] == [(c.name, TYPES[c.kind]) for c in table.columns]
        assert res["schema"]["missingValues"] == [""]
        assert res["rows"] == len(read_csv(exported / table.file))
    schemas = {r["name"]: r["schema"] for r in package["resources"]}
    assert schemas["participants"]["primaryKey"] == ["respondent"]
    refs = {(k["fields"][0], k["reference"]["resource"]) for k in schemas["responses"]["foreignKeys"]}
    assert refs == {("respondent", "participants"), ("session_id", "sessions")}
    field = {f["name"]: f for f in schemas["participants"]["fields"]}
    assert field["channel"]["constraints"]["enum"] == ["line", "telegram", "console"]
    assert field["region"]["constraints"]["enum"] == [o.id for o in catalog.common.profile.region]
    assert package["licenses"] == [{"name": "Open-Data-Common", "title": LICENSES["Open-Data-Common"].title}]
    provenance = package["provenance"]
    assert provenance["exported_at"] == "2026-11-20T11:40:00+07:00"
    assert provenance["survey_version_current"] == catalog.version
    assert sum(v["answers"] for v in provenance["survey_versions"]) == len(read_csv(exported / "responses.csv"))
    # Thai text reads back through frictionless as written (the byte-order mark is no part of it)
    rows = Package(str(exported / "datapackage.json")).get_resource("comments").read_rows()
    assert {r["text"] for r in rows} == {r["text"] for r in read_csv(exported / "comments.csv")}
    assert any("ข้อมูล" in r["text"] for r in rows)


def broken(src: Path, dest: Path, file: str, edit: Callable[[list[str]], list[str]]) -> Path:
    shutil.copytree(src, dest)
    path = dest / file
    lines = path.read_bytes().decode("utf-8-sig").split("\r\n")  # CRLF as written: no newline translation
    path.write_bytes(("\ufeff" + "\r\n".join(edit(lines))).encode())
    return dest


def set_cell(column: str, value: str) -> Callable[[list[str]], list[str]]:
    """Put `value` in `column` of the first data row (the row's first cells hold no commas)."""

    def edit(lines: list[str]) -> list[str]:
        header = lines[0].split(",")
        cells = lines[1].split(",")
        cells[header.index(column)] = value
        return [lines[0], ",".join(cells), *lines[2:]]

    return edit


@pytest.mark.parametrize(
    ("file", "edit", "error"),
    [
        ("sessions.csv", set_cell("capacity", "forty"), "type-error"),  # wrong type
        ("sessions.csv", set_cell("starts_at", "tomorrow"), "type-error"),
        ("participants.csv", lambda ls: [",".join(line.split(",")[:-1]) for line in ls], "missing-label"),
        ("registrations.csv", set_cell("respondent", "f" * 16), "foreign-key"),  # nobody in participants.csv
        ("participants.csv", set_cell("channel", "fax"), "constraint-error"),  # not an allowed value
        ("sessions.csv", lambda ls: [*ls[:-1], ls[1], ""], "primary-key"),  # the same session twice
    ],
)
async def test_a_broken_csv_fails_validation(
    exported: Path, tmp_path: Path, file: str, edit: Callable[[list[str]], list[str]], error: str
) -> None:
    assert error in errors(broken(exported, tmp_path / "broken", file, edit))


async def test_an_area_export_validates_without_foreign_keys(db: Database, catalog: Catalog, tmp_path: Path) -> None:
    """An area's participants.csv lists only those who started it: keys to it are not promised."""
    from storage.queries import Filter

    await seed(db, catalog)
    await write_export(db, tmp_path / "edu", Filter(area="education"), catalog=catalog, now=at(100))
    assert errors(tmp_path / "edu") == set()
    assert all("foreignKeys" not in r["schema"] for r in descriptor(tmp_path / "edu")["resources"])


@pytest.mark.usefixtures("cli_db")  # a seeded SQLite file as RABFANG_DB
def test_export_ckan_writes_the_dataset_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RABFANG_OPEN_DATA_LICENSE", "Open-Data-Common")
    out = tmp_path / "out"
    assert _in_thread(main, ["export", "--out", str(out), "--ckan"]) == 0, capsys.readouterr().err
    assert {"datapackage.json", "ckan.json", "README.txt"} <= {p.name for p in out.iterdir()}
    assert f"{out / 'ckan.json'}: CKAN dataset metadata (licence Open-Data-Common)" in capsys.readouterr().out
    assert errors(out) == set()
    ckan, package = json.loads((out / "ckan.json").read_text(encoding="utf-8")), descriptor(out)
    assert ckan["name"] == package["name"] and ckan["title"] == package["title"]
    assert ckan["notes"] == package["description"] and ckan["license_id"] == "Open Data Common"
    assert {t["name"] for t in ckan["tags"]} == set(package["keywords"])
    assert [(r["name"], r["url"], r["format"]) for r in ckan["resources"]] == [
        (r["name"], r["path"], "CSV") for r in package["resources"]
    ]
    for res, fd in zip(ckan["resources"], package["resources"], strict=True):
        assert json.loads(res["schema"]) == fd["schema"]  # as text, the way CKAN keeps a resource field
    extras = {e["key"]: e["value"] for e in ckan["extras"]}
    assert json.loads(extras["provenance"]) == package["provenance"]
    readme = (out / "README.txt").read_text(encoding="utf-8-sig")
    assert "datapackage.json: a Frictionless Data Package" in readme and "ckan.json: the CKAN dataset" in readme
    assert "Licence: Open-Data-Common" in readme

    assert _in_thread(main, ["export", "--out", str(tmp_path / "plain")]) == 0  # without --ckan: the package only
    assert not (tmp_path / "plain" / "ckan.json").exists() and (tmp_path / "plain" / "datapackage.json").exists()
    assert _in_thread(main, ["export", "--out", str(tmp_path / "x"), "--format", "xlsx", "--ckan"]) == 2
    assert "--ckan describes the CSV files" in capsys.readouterr().err
