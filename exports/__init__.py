"""Exports: files for analysts, read-only over storage."""

from .csvfiles import ExportResult, write_export

__all__ = ["ExportResult", "write_export"]
