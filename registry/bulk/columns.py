"""The columns of a bulk-import file for each record type, in Chinese and in English.

A column is known by its Chinese header (what the template writes) or its English
one; either is accepted. Each maps to a field of the record's input (``registry.
credentials.records``); a listing's related persons are one pair of columns per role.
"""

from __future__ import annotations

from dataclasses import dataclass

from registry.calendar import DAY_FORMS
from registry.credentials import CredentialType
from registry.errors import InvalidInput
from registry.labels import (
    CATEGORY,
    CE_KIND,
    LISTED_KIND,
    MEASURE,
    REGISTRATION_KIND,
    RELATED_ROLE,
    Enumeration,
)

__all__ = [
    "COLUMNS",
    "RELATED_ROLES",
    "RETIRED_ROLE_COLUMNS",
    "TYPES",
    "YES_NO",
    "Column",
    "record_type",
]


@dataclass(frozen=True)
class Column:
    """One column: the input field it fills (dotted path), its headers, whether it must
    be filled in, and what it takes: a day (any form ``parse_day`` reads, or a date
    cell), one of an enumeration's codes or labels, yes or no, or text."""

    path: str
    zh: str
    en: str
    required: bool = True
    day: bool = False
    takes: Enumeration | None = None
    yes_no: bool = False
    note: str = ""


YES_NO = Enumeration(
    "yes or no", "是否", {"true": "是", "false": "否"}, {"yes": "true", "no": "false"}
)
"""A yes-or-no column: 是 or 否 (yes, no, true, false too)."""


def _day(path: str, zh: str, en: str) -> Column:
    return Column(path, zh, en, day=True, note=f"日期，可写作 {DAY_FORMS}，或日期单元格")


def _pilot(path: str) -> Column:
    return Column(
        path,
        "试点代码",
        "pilot_code",
        required=False,
        yes_no=True,
        note="信用代码是校验位不符的早期试点代码时填“是”；否则留空或填“否”",
    )


_HOLDER = (
    Column("holder.name", "姓名", "holder_name"),
    Column("holder.id_number", "身份证号", "holder_id_number"),
)

COLUMNS: dict[CredentialType, tuple[Column, ...]] = {
    CredentialType.QUALIFICATION: (
        *_HOLDER,
        Column("certificate_number", "证书编号", "certificate_number"),
        Column("category", "专业类别", "category", takes=CATEGORY),
        _day("issued_on", "发证日期", "issued_on"),
        Column("replaces", "更正的记录", "replaces", required=False),
    ),
    CredentialType.REGISTRATION: (
        *_HOLDER,
        Column("registration_number", "注册编号", "registration_number"),
        Column("qualification", "资格证书编号", "qualification"),
        Column("category", "专业类别", "category", takes=CATEGORY),
        Column("employer.name", "聘用单位", "employer_name"),
        Column("employer.credit_code", "聘用单位统一社会信用代码", "employer_credit_code"),
        Column("kind", "注册类型", "kind", takes=REGISTRATION_KIND),
        _day("valid_from", "有效期起", "valid_from"),
        _day("valid_until", "有效期至", "valid_until"),
        Column("replaces", "更正的记录", "replaces", required=False),
        _pilot("employer.pilot_code"),
        # Last, so that the columns of a file made from an earlier template keep their places.
        Column(
            "changes",
            "变更的注册",
            "changes",
            required=False,
            note="变更注册时必填：被变更注册的注册编号或凭证编号；其他注册类型留空",
        ),
    ),
    CredentialType.CE_CREDIT: (
        *_HOLDER,
        Column("course_title", "课程名称", "course_title"),
        Column("provider.name", "培训机构", "provider_name"),
        Column("provider.credit_code", "培训机构统一社会信用代码", "provider_credit_code"),
        Column("hours", "学时", "hours", note="学时数，以 0.5 为单位"),
        Column("kind", "学时类型", "kind", takes=CE_KIND),
        _day("completed_on", "完成日期", "completed_on"),
        Column("replaces", "更正的记录", "replaces", required=False),
        _pilot("provider.pilot_code"),
    ),
    CredentialType.LISTING: (
        Column("listed.kind", "主体类型", "listed_kind", takes=LISTED_KIND),
        Column("listed.name", "主体名称", "listed_name"),
        Column("listed.credit_code", "统一社会信用代码", "listed_credit_code", required=False),
        Column("listed.id_number", "身份证号", "listed_id_number", required=False),
        Column("legal_basis", "列入依据", "legal_basis"),
        Column("penalty_decision_number", "行政处罚决定书文号", "penalty_decision_number"),
        Column("listing_decision_number", "列入决定书文号", "listing_decision_number"),
        _day("listed_on", "列入日期", "listed_on"),
        Column("measures", "惩戒措施", "measures", note="多项措施用分号（；）或换行分开"),
        Column("replaces", "更正的记录", "replaces", required=False),
    ),
}
"""The columns of each type, in template order (a column added later goes last)."""

RELATED_ROLES: tuple[tuple[str, str, str], ...] = tuple(
    (role, RELATED_ROLE.label(role), role.replace("-", "_")) for role in RELATED_ROLE.codes
)
"""A listing's related persons: role, Chinese and English column prefix."""

for _role, _zh, _en in RELATED_ROLES:
    COLUMNS[CredentialType.LISTING] += (
        Column(f"related.{_role}.name", f"{_zh}姓名", f"{_en}_name", required=False),
        Column(f"related.{_role}.id_number", f"{_zh}身份证号", f"{_en}_id_number", required=False),
    )
# Last, so that the columns of a file made from an earlier template keep their places.
COLUMNS[CredentialType.LISTING] += (
    _pilot("listed.pilot_code"),
    Column(
        "measure_codes",
        "措施代码",
        "measure_codes",
        required=False,
        note=(
            "多项用分号（；）或顿号（、）分开，填代码或名称："
            + "；".join(f"{code}（{label}）" for code, label in MEASURE.labels.items())
        ),
    ),
)

RETIRED_ROLE_COLUMNS: dict[str, str] = {
    header: role
    for role, zh in RELATED_ROLE.retired.items()
    for header in (
        f"{zh}姓名",
        f"{zh}身份证号",
        f"{role.replace('-', '_')}_name",
        f"{role.replace('-', '_')}_id_number",
    )
}
"""The related-person columns of an earlier template whose role is retired (法定代表人
姓名, ...), by header: refused, naming the roles taken instead."""

TYPES: dict[str, CredentialType] = {
    "qualification": CredentialType.QUALIFICATION,
    "registration": CredentialType.REGISTRATION,
    "continuing-education": CredentialType.CE_CREDIT,
    "listing": CredentialType.LISTING,
}
"""Short names for ``--type``; the full type names work too."""


def record_type(name: str) -> CredentialType:
    """The record type a ``--type`` value names; raises ``InvalidInput``."""
    if name in COLUMNS:
        return CredentialType(name)
    if name in TYPES:
        return TYPES[name]
    raise InvalidInput(f"unknown type {name!r}: use one of {', '.join(TYPES)}")
