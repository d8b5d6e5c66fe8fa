"""Every enumeration a person fills in, with the Chinese label an office writes for each code.

One table per enumeration, code -> label, and the other spellings people use
(``化工`` for ``化工安全``). The same table parses what comes in (the API, a bulk
import, a batch verification), writes the OpenAPI description (```general`` (公需),
...``) and the import template's drop-downs. A value is read after NFKC (full-width
letters and spaces folded) with the spaces taken out; a code, its label or one of its
other spellings is taken, anything else is refused naming what is accepted.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BeforeValidator, WithJsonSchema

from registry.errors import InvalidInput

__all__ = [
    "ACTION",
    "CATEGORY",
    "CE_KIND",
    "ENUMERATIONS",
    "LISTED_KIND",
    "MEASURE",
    "REGISTRATION_KIND",
    "RELATED_ROLE",
    "STATE",
    "Enumeration",
]


def _folded(value: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", value))


# Compared and hashed by identity: each enumeration is one table.
@dataclass(frozen=True, eq=False)
class Enumeration:
    """An enumeration's codes, the Chinese label of each, and other spellings of them.

    ``what`` names the enumeration in messages (``the kind of hours``); ``zh`` is its
    Chinese name, the one import files and the template use (``学时类型``).
    """

    what: str
    zh: str
    labels: Mapping[str, str]
    aliases: Mapping[str, str] = field(default_factory=dict)
    retired: Mapping[str, str] = field(default_factory=dict)
    """Codes no longer taken, with their labels: still shown where a stored record
    carries them, refused on input (an alias may name one, and is refused too)."""
    retired_why: str = ""
    """Why the retired codes are refused, as the refusal says it."""

    def __post_init__(self) -> None:
        spelled = [*self.labels, *self.labels.values(), *self.aliases]
        spelled += [*self.retired, *self.retired.values()]
        if len(set(map(_folded, spelled))) != len(spelled):
            raise ValueError(f"{self.what}: a spelling names two codes")
        if not set(self.aliases.values()) <= {*self.labels, *self.retired}:
            raise ValueError(f"{self.what}: an alias names no code")

    @property
    def codes(self) -> tuple[str, ...]:
        """The codes, in table order."""
        return tuple(self.labels)

    @property
    def spellings(self) -> tuple[str, ...]:
        """Everything accepted: each code and its label, then the other spellings."""
        taken = (alias for alias, code in self.aliases.items() if code in self.labels)
        return (*self.labels, *self.labels.values(), *taken)

    def label(self, code: str) -> str:
        """The Chinese label of ``code``, a retired one's too (a stored record may
        carry it)."""
        return self.labels[code] if code in self.labels else self.retired[code]

    def retired_code(self, value: str) -> str | None:
        """The retired code ``value`` spells (its code, label or an alias), if any."""
        folded = _folded(value)
        for code, label in self.retired.items():
            if folded in (code, _folded(label)):
                return code
        for alias, code in self.aliases.items():
            if folded == _folded(alias) and code in self.retired:
                return code
        return None

    def parse(self, value: object) -> str:
        """The code ``value`` spells; raises ``InvalidInput`` naming what is accepted,
        and why for a retired code.

        The message never repeats the value: a cell in the wrong column may hold an
        ID number."""
        if isinstance(value, str):
            folded = _folded(value)
            for code, label in self.labels.items():
                if folded in (code, _folded(label)):
                    return code
            for alias, code in self.aliases.items():
                if folded == _folded(alias) and code in self.labels:
                    return code
            retired = self.retired_code(value)
            if retired is not None:
                raise InvalidInput(self.refusal(retired))
        raise InvalidInput(f"is not {self.what}; expected one of: {self.choices()}")

    def refusal(self, retired: str) -> str:
        """Why the retired code ``retired`` is refused, and what is taken instead."""
        why = f" ({self.retired_why})" if self.retired_why else ""
        return (
            f"{retired} ({self.retired[retired]}) is no longer {self.what}{why}; "
            f"expected one of: {self.choices()}"
        )

    def choices(self) -> str:
        """The codes with their labels, as messages and descriptions list them:
        ``general (公需), professional (专业)``."""
        return ", ".join(f"{code} ({label})" for code, label in self.labels.items())

    def description(self, lead: str = "") -> str:
        """An OpenAPI description: ``lead``, then every code with its label."""
        listed = ", ".join(f"`{code}` ({label})" for code, label in self.labels.items())
        return (
            f"{lead} {'One' if lead else 'one'} of {listed}; the Chinese label is read too.".strip()
        )

    def json_schema(self, lead: str = "") -> dict[str, Any]:
        """The schema of a field that takes this enumeration: every accepted spelling."""
        return {
            "type": "string",
            "enum": list(self.spellings),
            "description": self.description(lead),
        }

    def before(self) -> BeforeValidator:
        """A pydantic validator that reads any spelling as its code (a field error
        otherwise); put it on a field typed with the codes."""

        def parse(value: object) -> object:
            if not isinstance(value, str):
                return value  # the field's own type refuses it
            try:
                return self.parse(value)
            except InvalidInput as exc:
                raise ValueError(exc.message) from None

        return BeforeValidator(parse)

    def schema(self, lead: str = "") -> WithJsonSchema:
        """The field's documented schema (``json_schema``), for an ``Annotated`` type."""
        return WithJsonSchema(self.json_schema(lead))


CATEGORY = Enumeration(
    "a category",
    "专业类别",
    {
        "coal-mine": "煤矿安全",
        "metal-nonmetal-mine": "金属非金属矿山安全",
        "chemical": "化工安全",
        "metallurgy": "金属冶炼安全",
        "construction": "建筑施工安全",
        "road-transport": "道路运输安全",
        "other": "其他安全（不包括消防安全）",
    },
    {
        "煤矿": "coal-mine",
        "金属非金属矿山": "metal-nonmetal-mine",
        "化工": "chemical",
        "金属冶炼": "metallurgy",
        "建筑施工": "construction",
        "道路运输": "road-transport",
        "其他安全": "other",
    },
)
"""专业类别: the seven categories of registered safety engineers (``registry.ids.Category``)."""

CE_KIND = Enumeration(
    "a kind of hours",
    "学时类型",
    {"general": "公需", "professional": "专业"},
    {"公需科目": "general", "专业科目": "professional"},
)
"""学时类型: continuing-education hours, general (公需) or professional (专业)."""

REGISTRATION_KIND = Enumeration(
    "a kind of registration",
    "注册类型",
    {
        "initial": "初始注册",
        "renewal": "延续注册",
        "change": "变更注册",
        "re-registration": "重新注册",
    },
)
"""注册类型: what a registration is: the first, a renewal, a change of employer, or anew."""

LISTED_KIND = Enumeration(
    "a kind of party",
    "主体类型",
    {"organisation": "单位", "person": "个人"},
    {"企业": "organisation", "法人": "organisation", "自然人": "person"},
)
"""主体类型: whom a listing names, an organisation or a person."""

RELATED_ROLE = Enumeration(
    "a role",
    "相关人员职务",
    {
        "principal": "主要负责人",
        "responsible": "有关责任人员",
        "directly-responsible": "直接责任人员",
        "other-responsible": "其他负有责任的人员",
    },
    {
        "直接责任人": "directly-responsible",
        "有关责任人": "responsible",
        "其他负有责任人员": "other-responsible",
        "安全管理负责人": "safety-lead",
    },
    retired={"legal-representative": "法定代表人", "safety-lead": "安全负责人"},
    retired_why=(
        "a listing names persons in the terms of 《安全生产严重失信主体名单管理办法》"
        "(应急管理部令第11号)"
    ),
)
"""A listing's related persons, in the terms of 《安全生产严重失信主体名单管理办法》
(应急管理部令第11号, 2023): the listed unit's principal (主要负责人), responsible
persons (有关责任人员), directly responsible persons (直接责任人员) and other persons
bearing responsibility (其他负有责任的人员); the unit itself is the listed
organisation. ``legal-representative`` (法定代表人) and ``safety-lead`` (安全负责人),
taken before, are refused on input and still shown where stored credentials carry
them."""

MEASURE = Enumeration(
    "a measure",
    "措施代码",
    {
        "key-supervision": "列为重点监管对象，加大执法检查频次",
        "restrict-funding": "限制申请政府资金、财政补助和评优表彰",
        "restrict-procurement": "限制参加政府采购和招标投标",
        "restrict-practice": "依法限制或禁止从事相关职业（执业）",
        "other": "其他措施",
    },
    {
        "重点监管": "key-supervision",
        "限制政府资金": "restrict-funding",
        "限制政府采购": "restrict-procurement",
        "限制执业": "restrict-practice",
        "其他": "other",
    },
)
"""The measures a listing takes against the listed party, coded: the kinds of joint
punishment the listing decision applies (its ``measures`` say them in full)."""

ACTION = Enumeration(
    "an action",
    "处理类型",
    {
        "suspend": "暂停执业",
        "reinstate": "恢复执业",
        "revoke": "撤销",
        "cancel": "注销",
        "lift": "信用修复移出",
        "reverse-lift": "撤销信用修复",
        "withdraw": "撤回列入",
        "cancel-scheduled": "取消预定变更",
        "supersede": "更正取代",
    },
    {
        "暂停": "suspend",
        "恢复": "reinstate",
        "信用修复": "lift",
        "移出": "lift",
        "取消预定": "cancel-scheduled",
    },
)
"""What a status change does (``registry.credentials.lifecycle.Action``)."""

STATE = Enumeration(
    "a state",
    "状态",
    {
        "active": "有效",
        "suspended": "暂停执业",
        "revoked": "已撤销",
        "cancelled": "已注销",
        "listed": "列入",
        "lifted": "已信用修复",
        "withdrawn": "已撤回",
        "superseded": "已被更正取代",
    },
    {"撤销": "revoked", "注销": "cancelled", "已移出": "lifted", "撤回": "withdrawn"},
)
"""Where a record stands (``registry.credentials.lifecycle.State``)."""

ENUMERATIONS: dict[str, Enumeration] = {
    "category": CATEGORY,
    "ce-kind": CE_KIND,
    "registration-kind": REGISTRATION_KIND,
    "listed-kind": LISTED_KIND,
    "related-role": RELATED_ROLE,
    "measure": MEASURE,
    "action": ACTION,
    "state": STATE,
}
"""Every enumeration, by a name for documents and tests."""
