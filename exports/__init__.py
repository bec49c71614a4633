"""Exports: files for analysts, read-only over storage.

- `write_export(db, out, flt, progress, fmt, catalog=...)`: the export set (CLI, scheduler, chat).
- `write_dated_export`, `prune`: the scheduled export's dated folders and retention.
- `export_zip`, `export_zip_bytes`, `export_attachment`: the set as a zip (Telegram /export).
- `exports.links`: signed, expiring download links and the `GET /exports/{token}` route (LINE).
- `exports.report.write_report`: the self-contained HTML report; its findings' sentences are in
  `exports.findings`, the statistics behind them (Wilson intervals, level picks) in `exports.summary`.
- `exports.themes.find_themes`: recurring themes of the free text (Thai-aware, each language ranked on its
  own), for themes.csv and the report.
- `exports.datapackage`: the set's Frictionless Data Package (datapackage.json) and CKAN metadata (ckan.json).

Everything here reads through `storage.queries.Snapshot` (`async with snapshot(db) as snap:`), never
a database driver.
"""

from .export import (
    ExportResult,
    export_attachment,
    export_zip,
    export_zip_bytes,
    prune,
    write_dated_export,
    write_export,
)

__all__ = [
    "ExportResult",
    "export_attachment",
    "export_zip",
    "export_zip_bytes",
    "prune",
    "write_dated_export",
    "write_export",
]
