"""Tables over HTTP: rows read from an uploaded CSV, and CSV answers for Excel and WPS."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from pydantic import ValidationError

from registry.errors import FieldError, InvalidInput
from registry.spreadsheets import csv_text, decode_csv

__all__ = ["csv_answer", "csv_rows", "invalid_fields"]


def csv_rows(body: bytes, columns: Sequence[str], *, max_rows: int) -> list[dict[str, str]]:
    """The rows of a CSV in UTF-8 (a BOM allowed) or GB 18030, as Excel and WPS save it
    on Chinese Windows, whose header names only ``columns``, empty cells left out.
    Raises ``InvalidInput`` for another encoding, an unknown column, no rows, more
    than ``max_rows`` (reading stops at the first one over), or text the csv module
    cannot read."""
    text = decode_csv(body)
    # newline="": lines may end in CR (old Mac exports), LF or CRLF, as csv expects.
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        unknown = sorted(set(reader.fieldnames or ()) - set(columns))
        if unknown or not reader.fieldnames:
            raise InvalidInput(
                f"CSV columns are {', '.join(columns)}; unknown: {', '.join(unknown)}"
            )
        rows: list[dict[str, str]] = []
        for row in reader:
            if len(rows) == max_rows:
                raise InvalidInput(f"at most {max_rows:,} rows a batch")
            rows.append({k: v for k, v in row.items() if v not in (None, "")})
    except csv.Error as exc:  # a cell over csv's field limit, say
        raise InvalidInput(f"the CSV cannot be read: {exc}") from exc
    if not rows:
        raise InvalidInput("the CSV has no rows")
    return rows


def csv_answer(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """CSV text with a BOM, so that Excel and WPS read it as UTF-8, and no cell that a
    spreadsheet would run as a formula (``registry.spreadsheets``)."""
    return csv_text(header, rows)


def invalid_fields(exc: ValidationError, what: str) -> InvalidInput:
    """``InvalidInput`` naming every field pydantic refused."""
    errors = tuple(FieldError(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors())
    return InvalidInput(f"the {what} is invalid", errors=errors)
