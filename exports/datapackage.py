"""The export set as open data: a Frictionless Data Package (`datapackage.json`) describing every
CSV with its Table Schema, the licence and the provenance; and the CKAN dataset metadata
(`ckan.json`) that staff upload to data.go.th.

Both are generated from the tables' own column definitions (exports.tables): a column's kind
gives its Table Schema type (TYPES), its `values` its allowed values, and a table's `primary_key`
and `foreign_keys` the keys; a new column or file is described by defining it there, once.
Writing JSON needs no library; the `frictionless` package validates the result in the tests.

Licences (settings `RABFANG_OPEN_DATA_LICENSE`): an id of LICENSES, CC-BY-4.0 by default. Thai
government open data on data.go.th is commonly published under its "Open Data Common" licence
(CKAN license id "Open Data Common"); the DGA's own terms are the DGA Open Government License.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.surveys import Catalog

from .csvfiles import Kind, atomic_file, local_time
from .tables import TABLES, Column, Context, Table, describe_filter

PACKAGE = "datapackage.json"
CKAN = "ckan.json"
PROFILE = "tabular-data-package"
TYPES: dict[Kind, str] = {"text": "string", "integer": "integer", "decimal": "number", "datetime": "datetime"}
MISSING = [""]  # an empty cell is no value (README: "An empty cell means no value")
DIALECT = {"delimiter": ",", "quoteChar": '"', "doubleQuote": True, "header": True, "lineTerminator": "\r\n"}
TITLE_TH = "ความคิดเห็นต่อร่างแผนพัฒนารัฐบาลดิจิทัล พ.ศ. 2566-2570 (รับฟัง)"
TITLE_EN = "Consultation on the draft Digital Government Development Plan 2023-2027 (rabfang)"


@dataclass(frozen=True)
class License:
    name: str  # the Data Package licence name (an Open Definition / SPDX id where there is one)
    title: str
    path: str = ""
    ckan_id: str = ""  # CKAN's license_id, when it differs from `name`


LICENSES: dict[str, License] = {
    lic.name: lic
    for lic in (
        License("CC-BY-4.0", "Creative Commons Attribution 4.0", "https://creativecommons.org/licenses/by/4.0/", "cc-by"),
        License("CC0-1.0", "Creative Commons CCZero", "https://creativecommons.org/publicdomain/zero/1.0/", "cc-zero"),
        License("ODC-BY-1.0", "Open Data Commons Attribution License 1.0", "https://opendatacommons.org/licenses/by/1-0/",
                "odc-by"),
        License("ODbL-1.0", "Open Data Commons Open Database License 1.0", "https://opendatacommons.org/licenses/odbl/1-0/",
                "odc-odbl"),
        License("Open-Data-Common", "Open Data Common (data.go.th)", "", "Open Data Common"),
        License("DGA-OGL", "DGA Open Government License (สพร.)",
                "https://www.data.go.th/pages/dga-open-government-license", "DGA Open Government License"),
    )
}  # fmt: skip
DEFAULT_LICENSE = "CC-BY-4.0"


def license_of(name: str) -> License:
    """The licence named in settings; an unknown id is kept as given (the organizer's choice)."""
    return LICENSES.get(name) or License(name, name)


def field(column: Column, catalog: Catalog | None) -> dict[str, Any]:
    """A column's Table Schema field: type, description, allowed values."""
    out: dict[str, Any] = {"name": column.name, "type": TYPES[column.kind], "description": column.about}
    if column.kind == "datetime":
        out["format"] = "any"  # ISO 8601 with the +07:00 offset
    constraints: dict[str, Any] = {}
    values = allowed(column.values, catalog)
    if values:
        constraints["enum"] = values
    if column.range:
        constraints["minimum"], constraints["maximum"] = column.range
    if constraints:
        out["constraints"] = constraints
    return out


def allowed(values: tuple[str, ...] | str, catalog: Catalog | None) -> list[str]:
    """Static values, or the ids a survey list holds (area, group, region, age): none without a catalog."""
    if isinstance(values, tuple):
        return list(values)
    if catalog is None:
        return []
    if values == "area":
        return list(catalog.areas)
    profile = catalog.common.profile
    return [o.id for o in getattr(profile, values)]


def schema(table: Table, catalog: Catalog | None, keyed: bool = True) -> dict[str, Any]:
    """A table's Table Schema; foreign keys only when `keyed` (every file holds all they point to)."""
    out: dict[str, Any] = {"fields": [field(c, catalog) for c in table.columns], "missingValues": MISSING}
    if table.primary_key:
        out["primaryKey"] = list(table.primary_key)
    if keyed and table.foreign_keys:
        out["foreignKeys"] = [
            {"fields": [f], "reference": {"resource": resource, "fields": [to]}}
            for f, resource, to in table.foreign_keys
        ]
    return out


def resource(table: Table, rows: int | None, catalog: Catalog | None, keyed: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": table.name,
        "path": table.file,
        "profile": "tabular-data-resource",
        "title": table.name,
        "description": table.about,
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",  # the IANA name; the files start with a byte-order mark (for Excel), which readers skip
        "dialect": DIALECT,
        "schema": schema(table, catalog, keyed),
    }
    if rows is not None:
        out["rows"] = rows  # an extra property: the data rows written
    return out


def package_name(ctx: Context) -> str:
    """A CKAN-safe dataset name: lower case, digits, - and _."""
    return "rabfang-" + re.sub(r"[^a-z0-9_-]+", "-", local_time(ctx.generated_at)[:16].lower()).strip("-")


def datapackage(
    ctx: Context,
    rows: dict[str, int],
    *,
    license: str = DEFAULT_LICENSE,
    survey_versions: Sequence[tuple[str, str, int]] = (),
    tables: Iterable[Table] = TABLES,
    population: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The Data Package descriptor of an export set written with `rows` rows per file.

    `survey_versions`: (version, first loaded at, answers) of the answers exported; `population`:
    the margins' source (e.g. {"source": "NSO ...", "year": 2023, "path": "population.csv"}), if any."""
    lic = license_of(license)
    keyed = not ctx.flt.area  # an area's participants.csv lists only those who started the area
    current = ctx.catalog.version if ctx.catalog is not None else None
    provenance: dict[str, Any] = {
        "generator": "rabfang export",
        "exported_at": local_time(ctx.generated_at),
        "filter": describe_filter(ctx.flt),
        "survey_version_current": current,
        "survey_versions": [
            {"version": v or None, "first_loaded_at": local_time(at) or None, "answers": n}
            for v, at, n in survey_versions
        ],
    }
    if population:
        provenance["population"] = population
    licence = {"name": lic.name, "title": lic.title} | ({"path": lic.path} if lic.path else {})
    return {
        "profile": PROFILE,
        "name": package_name(ctx),
        "title": f"{TITLE_TH} / {TITLE_EN}",
        "description": (
            "Answers of consenting participants to the DGA's consultation bot (LINE / Telegram): pseudonymous, "
            "no platform ids or names. README.txt describes every file and column; this descriptor says the same "
            "in Frictionless Data Package form (Table Schema types, allowed values, keys)."
        ),
        "keywords": ["digital government", "consultation", "รัฐบาลดิจิทัล", "รับฟังความคิดเห็น", "DGA"],
        "languages": ["th", "en"],
        "licenses": [licence],
        "created": local_time(ctx.generated_at),
        "version": current or "",
        "provenance": provenance,
        "resources": [resource(t, rows.get(t.file), ctx.catalog, keyed) for t in tables if t.file in rows],
    }


def ckan(package: dict[str, Any], license: str = DEFAULT_LICENSE) -> dict[str, Any]:
    """CKAN dataset metadata (package_create's fields) for the package, by frictionless-ckan-mapper
    (description → notes, licence → license_*, keywords → tags, path → url, the rest as extras),
    then CKAN's licence id, and each resource's schema as JSON text (CKAN keeps resource fields as
    text; ckanext-validation reads a schema from there)."""
    from frictionless_ckan_mapper.frictionless_to_ckan import package as to_ckan

    out = to_ckan(json.loads(json.dumps(package)))
    lic = license_of(license)
    out["license_id"] = lic.ckan_id or lic.name
    for res in out.get("resources", []):
        res["format"] = "CSV"
        if isinstance(res.get("schema"), dict):
            res["schema"] = json.dumps(res["schema"], ensure_ascii=False)
    return out


def write_package(folder: Path, package: dict[str, Any]) -> None:
    """datapackage.json (UTF-8, no byte-order mark: JSON readers expect none)."""
    _write_json(folder / PACKAGE, package)


def write_ckan(folder: Path, package: dict[str, Any], license: str = DEFAULT_LICENSE) -> None:
    _write_json(folder / CKAN, ckan(package, license))


def _write_json(path: Path, value: Any) -> None:
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(value, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
