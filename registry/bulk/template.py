"""The XLSX import template: a clean data sheet, an example sheet and a sheet of notes.

The data sheet (the first: the importer reads it) has the header row frozen, a note
on each header saying what the column takes, a drop-down of Chinese labels on every
column that takes an enumeration (a code typed instead is still read: the drop-down
warns, never refuses), day columns formatted as dates and every other column as text
(ID numbers must not turn into 3.1E+17). The example sits on its own sheet, ``示例``,
so that it can never be imported by mistake; ``说明`` explains each column.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from registry.bulk.columns import COLUMNS, YES_NO, Column
from registry.calendar import DAY_FORMS
from registry.credentials import CredentialType
from registry.errors import InvalidInput
from registry.ids import credit_code_check_character, resident_id_check_character

__all__ = ["DATA_SHEET", "EXAMPLE_SHEET", "NOTES_SHEET", "column_note", "write_xlsx_template"]

DATA_SHEET = "数据"
"""The sheet the rows go in: the first of the workbook."""

EXAMPLE_SHEET = "示例"
"""The sheet with one example row, never imported."""

NOTES_SHEET = "说明"
"""The sheet that explains each column."""

_ROWS = 1_000  # rows formatted ahead on the data sheet

_ID = "31010119900307123"
_CODE = "91310000MA1FL1234"
_EXAMPLE_ID = _ID + resident_id_check_character(_ID)
_EXAMPLE_CODE = _CODE + credit_code_check_character(_CODE)
_EXAMPLES: dict[str, str] = {
    "holder.name": "张三",
    "holder.id_number": _EXAMPLE_ID,
    "certificate_number": "SH-2026-0001",
    "category": "化工安全",
    "issued_on": "2026-03-01",
    "registration_number": "SH-REG-2026-0001",
    "qualification": "SH-2026-0001",
    "employer.name": "上海某化工有限公司",
    "employer.credit_code": _EXAMPLE_CODE,
    "kind": "初始注册",
    "valid_from": "2026-03-01",
    "valid_until": "2031-02-28",
    "course_title": "危险化学品安全管理",
    "provider.name": "上海某安全培训中心",
    "provider.credit_code": _EXAMPLE_CODE,
    "hours": "8",
    "completed_on": "2026年3月1日",
    "listed.kind": "单位",
    "listed.name": "上海某化工有限公司",
    "listed.credit_code": _EXAMPLE_CODE,
    "legal_basis": "《安全生产严重失信主体名单管理办法》第六条",
    "penalty_decision_number": "（沪）应急罚〔2026〕1号",
    "listing_decision_number": "沪应急失信〔2026〕1号",
    "listed_on": "2026/3/1",
    "measures": "限制参加政府采购；限制取得安全生产许可",
    "related.principal.name": "李四",
    "related.principal.id_number": _EXAMPLE_ID,
    "measure_codes": "restrict-procurement、列为重点监管对象，加大执法检查频次",
}
_EXAMPLE_KINDS = {CredentialType.CE_CREDIT: "专业"}


def column_note(column: Column) -> str:
    """What a column takes, as its header's note and the notes sheet say it."""
    parts = ["必填" if column.required else "选填"]
    if column.takes is not None:
        choices = "、".join(column.takes.labels.values())
        parts.append(f"从下拉列表选择：{choices}（也可填代码 {'、'.join(column.takes.codes)}）")
    if column.day:
        parts.append(f"日期，可写作 {DAY_FORMS}，或用日期单元格")
    elif column.note:
        parts.append(column.note)
    if column.path.endswith("id_number"):
        parts.append("18 位居民身份证号码（旧的 15 位号码也可），请以文本格式录入")
    if column.path.endswith("credit_code"):
        parts.append("18 位统一社会信用代码")
    return "；".join(parts)


def _example(record_type: CredentialType, column: Column) -> str:
    if column.path == "kind" and record_type in _EXAMPLE_KINDS:
        return _EXAMPLE_KINDS[record_type]
    return _EXAMPLES.get(column.path, "")


def write_xlsx_template(record_type: CredentialType, path: Path) -> None:
    """Write the template of ``record_type`` to ``path`` as XLSX."""
    from openpyxl import Workbook  # noqa: PLC0415 (only bulk import needs it)
    from openpyxl.comments import Comment  # noqa: PLC0415
    from openpyxl.styles import Font  # noqa: PLC0415
    from openpyxl.utils import get_column_letter  # noqa: PLC0415
    from openpyxl.worksheet.datavalidation import DataValidation  # noqa: PLC0415

    columns = COLUMNS[record_type]
    workbook = Workbook()
    data: Any = workbook.active
    if data is None:
        raise InvalidInput("openpyxl made a workbook without a sheet")
    data.title = DATA_SHEET
    example = workbook.create_sheet(EXAMPLE_SHEET)
    notes = workbook.create_sheet(NOTES_SHEET)
    header = [column.zh for column in columns]
    data.append(header)
    example.append(header)
    example.append([_example(record_type, column) for column in columns])
    for sheet in (data, example):
        sheet.freeze_panes = "A2"
        for cell in sheet[1]:
            cell.font = Font(bold=True)
    for position, column in enumerate(columns, start=1):
        letter = get_column_letter(position)
        note = column_note(column)
        data[f"{letter}1"].comment = Comment(note, "registry", width=300, height=120)
        for sheet in (data, example):
            sheet.column_dimensions[letter].width = 22
        # Text cells: ID numbers must not turn into 3.1E+17. Day columns take date
        # cells, which the importer reads as days.
        for row in range(2, _ROWS + 2):
            data[f"{letter}{row}"].number_format = "yyyy-mm-dd" if column.day else "@"
        choices = column.takes or (YES_NO if column.yes_no else None)
        if choices is not None:
            labels = ",".join(choices.labels.values())
            validation = DataValidation(
                type="list",
                formula1=f'"{labels}"',
                allow_blank=not column.required,
                showErrorMessage=True,
                errorStyle="warning",  # a code typed instead is read too
                errorTitle=choices.zh,
                error=f"请从列表选择：{labels}",
            )
            validation.add(f"{letter}2:{letter}{_ROWS + 1}")
            data.add_data_validation(validation)
    notes.append(["列名", "英文列名", "填写说明"])
    for column in columns:
        notes.append([column.zh, column.en, column_note(column)])
    notes.append([])
    notes.append(["日期", "", f"可写作 {DAY_FORMS}，或用 Excel/WPS 的日期单元格"])
    notes.append(
        ["示例", "", f"“{EXAMPLE_SHEET}”表中有一行示例；请在“{DATA_SHEET}”表中填写，不导入示例表"]
    )
    notes.freeze_panes = "A2"
    for cell in notes[1]:
        cell.font = Font(bold=True)
    for letter, width in (("A", 28), ("B", 32), ("C", 90)):
        notes.column_dimensions[letter].width = width
    workbook.save(path)
