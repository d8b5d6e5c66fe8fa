"""Bulk import of records from CSV or XLSX files, and the templates for them."""

from registry.bulk.columns import COLUMNS, TYPES, record_type
from registry.bulk.importer import Imported, check_file, issue_rows, template_rows, write_template
from registry.bulk.rows import ParsedRows, RowError

__all__ = [
    "COLUMNS",
    "TYPES",
    "Imported",
    "ParsedRows",
    "RowError",
    "check_file",
    "issue_rows",
    "record_type",
    "template_rows",
    "write_template",
]
