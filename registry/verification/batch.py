"""Verifying many people at once: one verdict per row, or that row's error.

Rows by ID number are looked up together (three queries per 1,000 people); the
agreements and rules are read once for the whole batch. No report is signed: a
batch answers with verdicts and reasons, and a signed report on any one person is
one request to ``/v1/verify/engineer`` away.

Tables come as people make them (headers in English or in Chinese, see
``BATCH_COLUMNS``) and answers go back as tables with Chinese (or English) headers
and verdict labels beside the codes. Every answer row echoes what was asked (the
name, the ID number masked, never whole, the registration number), found or not.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from registry.errors import InvalidInput, RegistryError
from registry.ids import mask_resident_id, parse_resident_id
from registry.verification.dossier import Dossier
from registry.verification.freshness import MIRROR_STALE
from registry.verification.judge import Judgement
from registry.verification.report import said_of

__all__ = [
    "BATCH_COLUMNS",
    "MAX_BATCH",
    "answer_table",
    "asked_of",
    "csv_batch_rows",
    "table_batch_rows",
    "verdict_label",
    "verdict_row",
]

MAX_BATCH = 10_000
"""The most people one batch verifies."""

BATCH_COLUMNS: dict[str, tuple[str, ...]] = {
    "id_number": ("身份证号", "身份证号码", "公民身份号码"),
    "registration_number": ("注册编号", "注册证书编号"),
    "name": ("姓名",),
    "region": ("地区", "执业地区"),
    "category": ("专业类别", "类别"),
    "date": ("日期", "核验日期"),
    "employer": ("聘用单位统一社会信用代码", "聘用单位信用代码", "统一社会信用代码"),
}
"""Each column of a batch table and the Chinese headers it is also known by."""

_MAX_COLUMNS = 32  # a table's width read at most; a batch has seven columns

_LABELS: dict[str, tuple[str, str]] = {
    "qualified": ("合格", "qualified"),
    "not-qualified": ("不合格", "not qualified"),
    "not-found": ("未查到", "no record found"),
    "name-mismatch": ("姓名不符", "name does not match"),
    "invalid": ("输入有误", "invalid row"),
}


def _header_of(name: str) -> str | None:
    text = name.strip().lstrip("\ufeff")
    for key, aliases in BATCH_COLUMNS.items():
        if text.lower() == key or text in aliases:
            return key
    return None


def table_batch_rows(table: Sequence[Sequence[str]]) -> list[dict[str, str]]:
    """The rows of a table (header first) as ``{column: value}``, empty cells left out.

    Raises ``InvalidInput`` for an unknown header, a column named twice, no rows, or
    more than ``MAX_BATCH`` rows."""
    if not table:
        raise InvalidInput("the table has no rows")
    header = [cell.strip() for cell in table[0]]
    keys = [_header_of(name) for name in header]
    unknown = [name for name, key in zip(header, keys, strict=True) if name and key is None]
    named = [key for key in keys if key is not None]
    if unknown or not named or len(set(named)) != len(named):
        raise InvalidInput(
            f"CSV columns are {', '.join(BATCH_COLUMNS)} (or 身份证号, 注册编号, 姓名, 地区, "
            f"专业类别, 日期); unknown: {', '.join(unknown)}"
        )
    rows: list[dict[str, str]] = []
    for cells in table[1:]:
        row = {
            key: cell.strip()
            for key, cell in zip(keys, cells, strict=False)
            if key is not None and cell and cell.strip()
        }
        if not any(cell.strip() for cell in cells):
            continue
        if len(rows) == MAX_BATCH:
            raise InvalidInput(f"at most {MAX_BATCH:,} rows a batch")
        rows.append(row)
    if not rows:
        raise InvalidInput("the CSV has no rows")
    return rows


def csv_batch_rows(text: str) -> list[dict[str, str]]:
    """The rows of a batch CSV's text; see ``table_batch_rows``. Reading stops at the
    first row over the limit."""
    # newline="": lines may end in CR (old Mac exports), LF or CRLF, as csv expects.
    reader = csv.reader(io.StringIO(text, newline=""))
    table: list[list[str]] = []
    try:
        for cells in reader:
            if len(table) > MAX_BATCH + 1:
                raise InvalidInput(f"at most {MAX_BATCH:,} rows a batch")
            if any(cell.strip() for cell in cells):
                table.append(cells[:_MAX_COLUMNS])
    except csv.Error as exc:  # a cell over csv's field limit, say
        raise InvalidInput(f"the CSV cannot be read: {exc}") from exc
    return table_batch_rows(table)


def _masked(value: object) -> str | None:
    """The ID number asked about, masked: never the number itself, even a wrong one."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return mask_resident_id(parse_resident_id(value))
    except RegistryError:
        text = value.strip()
        # A number that does not parse may be one typo from the right one: shown
        # no more than a valid one would be.
        if len(text) <= 8:
            return "*" * len(text)
        return text[:4] + "*" * (len(text) - 8) + text[-4:]


def asked_of(row: Mapping[str, Any]) -> dict[str, str]:
    """What a row asked, to echo beside its answer: name, masked ID number,
    registration number and employer, as given."""
    asked: dict[str, str] = {}
    name = row.get("name")
    if isinstance(name, str) and name.strip():
        asked["name"] = name.strip()
    masked = _masked(row.get("id_number"))
    if masked:
        asked["residentIdMasked"] = masked
    number = row.get("registration_number")
    if isinstance(number, str) and number.strip():
        asked["registrationNumber"] = number.strip()
    employer = row.get("employer")
    if isinstance(employer, str) and employer.strip():
        asked["employer"] = employer.strip()
    return asked


def verdict_label(kind: str) -> dict[str, str]:
    """The label of a verdict (or ``not-found``, ``name-mismatch``, ``invalid``)."""
    zh, en = _LABELS[kind]
    return {"zh": zh, "en": en}


def verdict_row(result: tuple[Dossier, Judgement]) -> dict[str, Any]:
    """One row's answer: the verdict with its label, who, and every reason."""
    dossier, judgement = result
    verdict = "qualified" if judgement.qualified else "not-qualified"
    label = verdict
    if not dossier.records:
        label = "name-mismatch" if dossier.name_mismatch else "not-found"
    row: dict[str, Any] = {
        "verdict": verdict,
        "verdictLabel": verdict_label(label),
        "found": bool(dossier.records),
        "region": judgement.region,
        "date": judgement.on.isoformat(),
    }
    if dossier.records:
        row["name"] = dossier.name
        row["residentIdMasked"] = dossier.masked
    row["reasons"] = [said_of(said) for said in judgement.reasons]
    return row


_TABLE: tuple[tuple[str, str, str], ...] = (
    ("row", "行号", "row"),
    ("name", "姓名", "name"),
    ("masked", "身份证号（脱敏）", "resident_id_masked"),
    ("registration", "注册编号", "registration_number"),
    ("employer", "聘用单位统一社会信用代码", "employer"),
    ("region", "地区", "region"),
    ("date", "核验日期", "date"),
    ("label", "结论", "verdict_label"),
    ("verdict", "结论代码", "verdict"),
    ("reasons_zh", "原因", "reasons_zh"),
    ("reasons_en", "原因（英文）", "reasons_en"),
    ("error", "错误", "error"),
)


def answer_table(
    results: Sequence[Mapping[str, Any]], lang: Literal["zh", "en"]
) -> tuple[list[str], list[list[object]]]:
    """The header and rows of a batch's answer as a table, headers and labels in
    ``lang``; each row echoes what was asked, and the reasons that decided (with any
    saying a log relied on is not current)."""
    header = [zh if lang == "zh" else en for _, zh, en in _TABLE]
    rows: list[list[object]] = []
    for result in results:
        asked = result.get("asked", {})
        reasons = result.get("reasons", [])
        blocking = [r for r in reasons if r.get("decides", True) and not r["holds"]]
        # A verdict resting on a log not confirmed lately says so, whatever it is.
        stale = [r for r in reasons if r.get("code") == MIRROR_STALE]
        blocking = [*blocking, *stale] if blocking else reasons
        label = result.get("verdictLabel", {})
        values = {
            "row": result["row"],
            "name": asked.get("name") or result.get("name", ""),
            "masked": asked.get("residentIdMasked") or result.get("residentIdMasked", ""),
            "registration": asked.get("registrationNumber", ""),
            "employer": asked.get("employer", ""),
            "region": result.get("region", ""),
            "date": result.get("date", ""),
            "label": label.get(lang, ""),
            "verdict": result.get("verdict", ""),
            "reasons_zh": "\uff1b".join(r["zh"] for r in blocking),
            "reasons_en": "; ".join(r["en"] for r in blocking),
            "error": result.get("error", ""),
        }
        rows.append([values[key] for key, _, _ in _TABLE])
    return header, rows
