"""Each authority's continuing-education rule, as versioned data.

A rule lives in ``registry/ce/policies/<authority>.toml`` (or the directory
``REGISTRY_CE_RULES_DIR`` names): one ``[[versions]]`` entry per version, never
edited once in force. The version that applies to a registration term is the newest
whose ``effective_from`` is on or before the term's first day.
``docs/continuing-education.md`` explains each field.

A rule carries its standing. ``official``: the province published it, and ``source``
cites the document. ``provisional``: a default the registry ships until the province
publishes its own; hours are then reported, never assessed against it. Only an
official rule may say that a shortfall itself ends the right to practise
(``shortfall_ends_practice``), and every figure it states comes from its source.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any

from registry.errors import InvalidInput, NotFound
from registry.ids import province

__all__ = ["CePolicy", "ForeignHours", "PolicyBook", "Standing", "load_policies"]


class Standing(StrEnum):
    """Whether a rule is a province's published rule or a default standing in for one."""

    OFFICIAL = "official"
    PROVISIONAL = "provisional"


class ForeignHours(StrEnum):
    """Whether hours from another province's courses count."""

    UNDER_AGREEMENT = "under-agreement"
    NEVER = "never"


@dataclass(frozen=True)
class CePolicy:
    """One version of one authority's rule.

    The hours are those a registration term requires (the term the registration
    states: a 变更注册 keeps the term of the registration it changes unless
    ``change_keeps_term`` is false). ``min_professional_share`` is 0 unless the
    source itself gives a professional share of these hours.
    """

    authority: str
    version: int
    effective_from: date
    standing: Standing
    min_hours_per_term: Fraction
    min_hours_per_year: Fraction
    min_professional_share: Fraction
    foreign_hours: ForeignHours
    source: str
    shortfall_ends_practice: bool = False
    change_keeps_term: bool = True

    def __post_init__(self) -> None:
        if self.version < 1:
            raise InvalidInput("a policy version is 1 or more")
        if self.min_hours_per_term <= 0 or self.min_hours_per_year < 0:
            raise InvalidInput("a term requires some hours, and a year none or some")
        if not 0 <= self.min_professional_share <= 1:
            raise InvalidInput("the professional share is between 0 and 1")
        if not self.source.strip():
            raise InvalidInput("a policy names the rule it comes from (source)")
        if self.standing is Standing.PROVISIONAL and (
            self.shortfall_ends_practice or not self.change_keeps_term
        ):
            raise InvalidInput(
                "a provisional rule decides nothing: shortfall_ends_practice and "
                "change_keeps_term = false need an official rule that says so"
            )

    @property
    def official(self) -> bool:
        """Whether the province published this rule (hours are assessed against it)."""
        return self.standing is Standing.OFFICIAL

    @property
    def min_professional_hours(self) -> Fraction:
        """The professional hours a term requires: the share of its minimum."""
        return self.min_hours_per_term * self.min_professional_share


@dataclass(frozen=True)
class PolicyBook:
    """Every version of every authority's rule a node knows."""

    policies: tuple[CePolicy, ...]

    def for_term(self, authority: str, term_start: date) -> CePolicy:
        """The version of ``authority``'s rule in force on ``term_start``; raises
        ``NotFound`` if it had none then."""
        code = province(authority).iso
        versions = [
            p for p in self.policies if p.authority == code and p.effective_from <= term_start
        ]
        if not versions:
            raise NotFound(f"{code} has no continuing-education rule in force on {term_start}")
        return max(versions, key=lambda p: p.effective_from)


def load_policies(directory: Path | None = None) -> PolicyBook:
    """Read every ``*.toml`` rule in ``directory`` (default: the shipped ones).

    Raises ``InvalidInput`` naming the file and the problem.
    """
    if directory is None:
        files = [
            (entry.name, entry.read_text(encoding="utf-8"))
            for entry in resources.files("registry.ce").joinpath("policies").iterdir()
            if entry.name.endswith(".toml")
        ]
    else:
        files = [(path.name, path.read_text(encoding="utf-8")) for path in directory.glob("*.toml")]
    policies: list[CePolicy] = []
    for name, text in sorted(files):
        policies.extend(_parse(name, text))
    seen = {(p.authority, p.version) for p in policies}
    if len(seen) != len(policies):
        raise InvalidInput("a policy version appears twice")
    return PolicyBook(tuple(policies))


def _parse(name: str, text: str) -> list[CePolicy]:
    try:
        data = tomllib.loads(text)
        authority = province(str(data["authority"])).iso
        if name != f"{authority}.toml":
            raise InvalidInput(f"the rule of {authority} belongs in {authority}.toml")
        versions = data["versions"]
        if not isinstance(versions, list) or not versions:
            raise InvalidInput("a rule has at least one [[versions]] entry")
        return [_version(authority, entry) for entry in versions]
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        raise InvalidInput(f"{name}: {type(exc).__name__}: {exc}") from exc
    except InvalidInput as exc:
        raise InvalidInput(f"{name}: {exc.message}") from exc


def _version(authority: str, entry: dict[str, Any]) -> CePolicy:
    effective_from = entry["effective_from"]
    if not isinstance(effective_from, date):
        raise InvalidInput("effective_from is a date (2026-01-01)")
    unknown = set(entry) - _FIELDS
    if unknown:
        raise InvalidInput(f"unknown field(s) {', '.join(sorted(unknown))}")
    flags = {}
    for flag in ("shortfall_ends_practice", "change_keeps_term"):
        if flag in entry:
            if not isinstance(entry[flag], bool):
                raise InvalidInput(f"{flag} is true or false")
            flags[flag] = entry[flag]
    return CePolicy(
        authority=authority,
        version=int(entry["version"]),
        effective_from=effective_from,
        standing=Standing(entry["standing"]),
        min_hours_per_term=Fraction(str(entry["min_hours_per_term"])),
        min_hours_per_year=Fraction(str(entry.get("min_hours_per_year", 0))),
        min_professional_share=Fraction(str(entry.get("min_professional_share", 0))),
        foreign_hours=ForeignHours(entry["foreign_hours"]),
        source=str(entry["source"]).strip(),
        **flags,
    )


_FIELDS = {
    "version",
    "effective_from",
    "standing",
    "min_hours_per_term",
    "min_hours_per_year",
    "min_professional_share",
    "foreign_hours",
    "source",
    "shortfall_ends_practice",
    "change_keeps_term",
}
