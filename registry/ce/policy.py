"""Each authority's continuing-education rule, as versioned data.

A rule lives in ``registry/ce/policies/<authority>.toml`` (or a directory the node
names): one ``[[versions]]`` entry per version, never edited once in force. The
version that applies to a cycle is the newest whose ``effective_from`` is on or
before the cycle's first day. ``docs/continuing-education.md`` explains each field.
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

__all__ = ["CePolicy", "ForeignHours", "PolicyBook", "load_policies"]


class ForeignHours(StrEnum):
    """Whether hours from another province's courses count."""

    UNDER_AGREEMENT = "under-agreement"
    NEVER = "never"


@dataclass(frozen=True)
class CePolicy:
    """One version of one authority's rule."""

    authority: str
    version: int
    effective_from: date
    cycle_years: int
    min_hours_per_cycle: Fraction
    min_hours_per_year: Fraction
    min_professional_share: Fraction
    foreign_hours: ForeignHours
    source: str

    def __post_init__(self) -> None:
        if self.version < 1 or not 1 <= self.cycle_years <= 10:
            raise InvalidInput("a policy version is 1 or more and a cycle 1 to 10 years")
        if self.min_hours_per_cycle <= 0 or self.min_hours_per_year < 0:
            raise InvalidInput("a cycle requires some hours, and a year none or some")
        if not 0 <= self.min_professional_share <= 1:
            raise InvalidInput("the professional share is between 0 and 1")
        if not self.source.strip():
            raise InvalidInput("a policy names the rule it comes from")

    @property
    def min_professional_hours(self) -> Fraction:
        """The professional hours a cycle requires: the share of its minimum."""
        return self.min_hours_per_cycle * self.min_professional_share


@dataclass(frozen=True)
class PolicyBook:
    """Every version of every authority's rule a node knows."""

    policies: tuple[CePolicy, ...]

    def for_cycle(self, authority: str, cycle_start: date) -> CePolicy:
        """The version of ``authority``'s rule in force on ``cycle_start``; raises
        ``NotFound`` if it had none then."""
        code = province(authority).iso
        versions = [
            p for p in self.policies if p.authority == code and p.effective_from <= cycle_start
        ]
        if not versions:
            raise NotFound(f"{code} has no continuing-education rule in force on {cycle_start}")
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
    return CePolicy(
        authority=authority,
        version=int(entry["version"]),
        effective_from=effective_from,
        cycle_years=int(entry["cycle_years"]),
        min_hours_per_cycle=Fraction(str(entry["min_hours_per_cycle"])),
        min_hours_per_year=Fraction(str(entry.get("min_hours_per_year", 0))),
        min_professional_share=Fraction(str(entry["min_professional_share"])),
        foreign_hours=ForeignHours(entry["foreign_hours"]),
        source=str(entry["source"]).strip(),
    )
