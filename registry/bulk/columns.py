"""The columns of a bulk-import file for each record type, in Chinese and in English.

A column is known by its Chinese header (what the template writes) or its English
one; either is accepted. Each maps to a field of the record's input (``registry.
credentials.records``); a listing's related persons are one pair of columns per role.
"""

from __future__ import annotations

from dataclasses import dataclass

from registry.credentials import CredentialType
from registry.errors import InvalidInput

__all__ = ["COLUMNS", "RELATED_ROLES", "TYPES", "Column", "record_type"]


@dataclass(frozen=True)
class Column:
    """One column: the input field it fills (dotted path), its headers, and whether it
    must be filled in."""

    path: str
    zh: str
    en: str
    required: bool = True


_HOLDER = (
    Column("holder.name", "姓名", "holder_name"),
    Column("holder.id_number", "身份证号", "holder_id_number"),
)

COLUMNS: dict[CredentialType, tuple[Column, ...]] = {
    CredentialType.QUALIFICATION: (
        *_HOLDER,
        Column("certificate_number", "证书编号", "certificate_number"),
        Column("category", "专业类别", "category"),
        Column("issued_on", "发证日期", "issued_on"),
        Column("replaces", "更正的记录", "replaces", required=False),
    ),
    CredentialType.REGISTRATION: (
        *_HOLDER,
        Column("registration_number", "注册编号", "registration_number"),
        Column("qualification", "资格证书编号", "qualification"),
        Column("category", "专业类别", "category"),
        Column("employer.name", "聘用单位", "employer_name"),
        Column("employer.credit_code", "聘用单位统一社会信用代码", "employer_credit_code"),
        Column("kind", "注册类型", "kind"),
        Column("valid_from", "有效期起", "valid_from"),
        Column("valid_until", "有效期至", "valid_until"),
        Column("replaces", "更正的记录", "replaces", required=False),
    ),
    CredentialType.CE_CREDIT: (
        *_HOLDER,
        Column("course_title", "课程名称", "course_title"),
        Column("provider.name", "培训机构", "provider_name"),
        Column("provider.credit_code", "培训机构统一社会信用代码", "provider_credit_code"),
        Column("hours", "学时", "hours"),
        Column("kind", "学时类型", "kind"),
        Column("completed_on", "完成日期", "completed_on"),
        Column("replaces", "更正的记录", "replaces", required=False),
    ),
    CredentialType.LISTING: (
        Column("listed.kind", "主体类型", "listed_kind"),
        Column("listed.name", "主体名称", "listed_name"),
        Column("listed.credit_code", "统一社会信用代码", "listed_credit_code", required=False),
        Column("listed.id_number", "身份证号", "listed_id_number", required=False),
        Column("legal_basis", "列入依据", "legal_basis"),
        Column("penalty_decision_number", "行政处罚决定书文号", "penalty_decision_number"),
        Column("listing_decision_number", "列入决定书文号", "listing_decision_number"),
        Column("listed_on", "列入日期", "listed_on"),
        Column("measures", "惩戒措施", "measures"),
        Column("replaces", "更正的记录", "replaces", required=False),
    ),
}
"""The columns of each type, in template order."""

RELATED_ROLES: tuple[tuple[str, str, str], ...] = (
    ("legal-representative", "法定代表人", "legal_representative"),
    ("principal", "主要负责人", "principal"),
    ("safety-lead", "安全负责人", "safety_lead"),
    ("directly-responsible", "直接责任人员", "directly_responsible"),
)
"""A listing's related persons: role, Chinese and English column prefix."""

for _role, _zh, _en in RELATED_ROLES:
    COLUMNS[CredentialType.LISTING] += (
        Column(f"related.{_role}.name", f"{_zh}姓名", f"{_en}_name", required=False),
        Column(f"related.{_role}.id_number", f"{_zh}身份证号", f"{_en}_id_number", required=False),
    )

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
