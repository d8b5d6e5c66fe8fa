"""Whether an agreement covers a record in a region on a day, and why (not)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from registry.errors import InvalidInput
from registry.ids import Category, province

__all__ = ["Agreement", "Direction", "Reason", "Recognition", "RecordKind", "recognise"]


class RecordKind(StrEnum):
    """The kinds of record an agreement can recognise."""

    QUALIFICATION = "qualification"
    REGISTRATION = "registration"
    CONTINUING_EDUCATION = "continuing-education"


class Direction(StrEnum):
    """Mutual (every party's records count in every other party's region) or one way
    (the ``source`` party's records count in the ``target`` party's region only)."""

    MUTUAL = "mutual"
    ONE_WAY = "one-way"


@dataclass(frozen=True)
class Reason:
    """Why a rule held or did not, for an HR officer, in Chinese and in English."""

    code: str
    zh: str
    en: str


@dataclass(frozen=True)
class Agreement:
    """A recognition agreement as its fully signed credential states it.

    ``valid_until`` is its last day in force (``None``: open-ended);
    ``terminated_on`` the day a party's termination takes effect, from which it is
    no longer in force. ``categories`` ``None`` means every category.
    ``demonstration``: an agreement of the demo, citing a synthetic document; only a
    node running the demo publishes one or relies on it.
    """

    id: str
    parties: frozenset[str]
    direction: Direction
    kinds: frozenset[RecordKind]
    levels: frozenset[str]
    valid_from: date
    valid_until: date | None = None
    categories: frozenset[Category] | None = None
    source: str | None = None
    target: str | None = None
    terminated_on: date | None = None
    basis_number: str = ""
    basis_title: str = ""
    demonstration: bool = False

    def __post_init__(self) -> None:
        if len(self.parties) < 2:
            raise InvalidInput("an agreement has two or more parties")
        if self.direction is Direction.ONE_WAY:
            if self.source not in self.parties or self.target not in self.parties:
                raise InvalidInput("a one-way agreement runs from one party to another party")
            if self.source == self.target:
                raise InvalidInput("a one-way agreement runs between two different parties")
        elif self.source is not None or self.target is not None:
            raise InvalidInput("a mutual agreement has no source or target")
        if not self.kinds or not self.levels:
            raise InvalidInput("an agreement recognises at least one kind of record and level")
        if self.categories is not None and not self.categories:
            raise InvalidInput("an agreement's category scope is every category or some")
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise InvalidInput("an agreement's last day comes after its first")

    def runs(self, issuer: str, region: str) -> bool:
        """Whether records of ``issuer`` count in ``region`` under this agreement's
        parties and direction (scope and dates aside)."""
        if issuer == region or not {issuer, region} <= self.parties:
            return False
        if self.direction is Direction.MUTUAL:
            return True
        return (self.source, self.target) == (issuer, region)

    def not_in_force(self, on: date) -> Reason | None:
        """Why the agreement is not in force on ``on``, or ``None`` if it is."""
        if on < self.valid_from:
            return Reason(
                "agreement-not-yet-in-force",
                f"互认协议自 {self.valid_from} 起生效，{on} 时尚未生效",
                f"the recognition agreement takes effect on {self.valid_from}, after {on}",
            )
        if self.terminated_on is not None and on >= self.terminated_on:
            return Reason(
                "agreement-terminated",
                f"互认协议已于 {self.terminated_on} 终止",
                f"the recognition agreement was terminated with effect from {self.terminated_on}",
            )
        if self.valid_until is not None and on > self.valid_until:
            return Reason(
                "agreement-expired",
                f"互认协议有效期至 {self.valid_until}，{on} 时已届满",
                f"the recognition agreement ran until {self.valid_until}, before {on}",
            )
        return None

    def out_of_scope(
        self, kind: RecordKind, category: Category | None, level: str
    ) -> Reason | None:
        """Why a record of this kind, category and level is outside the scope, or ``None``."""
        if kind not in self.kinds:
            return Reason(
                "kind-not-covered",
                f"互认协议不涵盖{_KIND_ZH[kind]}",
                f"the recognition agreement does not cover {_KIND_EN[kind]}",
            )
        if category is not None and self.categories is not None and category not in self.categories:
            return Reason(
                "category-not-covered",
                f"互认协议不涵盖“{category.name_zh}”类别",
                f"the recognition agreement does not cover the {category.value} category",
            )
        if level not in self.levels:
            return Reason(
                "level-not-covered",
                f"互认协议不涵盖“{level}”级别",
                f"the recognition agreement does not cover the {level} level",
            )
        return None


@dataclass(frozen=True)
class Recognition:
    """The answer for one record: whether it counts, under which agreement, and why."""

    recognised: bool
    reason: Reason
    agreement: Agreement | None = None


def recognise(
    agreements: Iterable[Agreement],
    *,
    issuer: str,
    region: str,
    kind: RecordKind,
    category: Category | None,
    level: str,
    on: date,
) -> Recognition:
    """Whether a record issued by ``issuer`` counts in ``region`` on ``on``.

    A record counts in its own region without an agreement. Otherwise the first
    agreement that covers it is named; if none does, the reason given is the one
    from the agreement that came closest (in this order: direction, scope, dates).
    """
    issuer, region = province(issuer).iso, province(region).iso
    if issuer == region:
        return Recognition(
            True,
            Reason(
                "own-region",
                f"由{_name_zh(region)}颁发，在本地有效",
                f"issued by {_name_en(region)} itself",
            ),
        )
    between = sorted(
        (a for a in agreements if {issuer, region} <= a.parties),
        key=lambda a: (a.valid_from, a.id),
        reverse=True,
    )
    closest: tuple[int, Reason] | None = None
    for agreement in between:
        if not agreement.runs(issuer, region):
            found = (
                0,
                Reason(
                    "wrong-direction",
                    f"互认协议为单向：{_name_zh(agreement.source)}认可{_name_zh(agreement.target)}，"
                    f"反向不适用",
                    f"the recognition agreement runs one way only, from "
                    f"{_name_en(agreement.source)} to {_name_en(agreement.target)}",
                ),
            )
        elif (scope := agreement.out_of_scope(kind, category, level)) is not None:
            found = (1, scope)
        elif (dates := agreement.not_in_force(on)) is not None:
            found = (2, dates)
        else:
            return Recognition(
                True,
                Reason(
                    "recognised",
                    f"依据互认协议（{agreement.basis_number or agreement.id}），"
                    f"{_name_zh(issuer)}颁发的{_KIND_ZH[kind]}在{_name_zh(region)}有效",
                    f"{_KIND_EN[kind]} issued by {_name_en(issuer)} count in {_name_en(region)} "
                    f"under the recognition agreement {agreement.basis_number or agreement.id}",
                ),
                agreement,
            )
        if closest is None or found[0] > closest[0]:
            closest = found
    if closest is not None:
        return Recognition(False, closest[1])
    return Recognition(
        False,
        Reason(
            "no-agreement",
            f"{_name_zh(issuer)}与{_name_zh(region)}之间没有互认协议",
            f"there is no recognition agreement between {_name_en(issuer)} and {_name_en(region)}",
        ),
    )


_KIND_ZH = {
    RecordKind.QUALIFICATION: "职业资格",
    RecordKind.REGISTRATION: "注册",
    RecordKind.CONTINUING_EDUCATION: "继续教育学时",
}
_KIND_EN = {
    RecordKind.QUALIFICATION: "qualifications",
    RecordKind.REGISTRATION: "registrations",
    RecordKind.CONTINUING_EDUCATION: "continuing-education hours",
}


def _name_zh(code: str | None) -> str:
    return province(code).name_zh if code else ""


def _name_en(code: str | None) -> str:
    return province(code).name_en if code else ""
