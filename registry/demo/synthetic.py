"""Synthetic people and organisations: well-formed, never real, and the same every run.

The demo, the tests and the benchmarks share these factories. Every ID number and
credit code they make has the right check character, so it validates like a real
one; the numbered factories (``engineer(n)``, ``company(n)``, ``person(n)``) give
the same answer for the same ``n``, so a benchmark's data can be rebuilt or reused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from registry.ids import Category, credit_code_check_character, resident_id_check_character

__all__ = [
    "AUTHORITIES",
    "SyntheticEngineer",
    "company",
    "credit_code",
    "engineer",
    "person",
    "resident_id",
]

AUTHORITIES = ("CN-SH", "CN-JS", "CN-ZJ", "CN-AH")
"""The four member authorities, in the order the numbered factories cycle through."""

_ENGINEER_AREAS = {
    "CN-SH": ("310101", "310104", "310115"),
    "CN-JS": ("320106", "320102", "320583"),
    "CN-ZJ": ("330106", "330102"),
    "CN-AH": ("340104", "340102"),
}
_COMPANY_AREA = {"CN-SH": "310115", "CN-JS": "320902", "CN-ZJ": "331002", "CN-AH": "340104"}
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰建国志红"
_CATEGORIES = tuple(Category)


def resident_id(area: str, born: str, sequence: str) -> str:
    """A well-formed synthetic ID number: area code, birth date, sequence, check."""
    first17 = f"{area}{born}{sequence}"
    return first17 + resident_id_check_character(first17)


def credit_code(first17: str) -> str:
    """A well-formed synthetic credit code: 17 characters and their check character."""
    return first17 + credit_code_check_character(first17)


@dataclass(frozen=True)
class SyntheticEngineer:
    """Engineer ``n``: everything about them follows from ``n``."""

    n: int
    name: str
    id_number: str
    qualified_by: str
    registered_by: str
    category: str

    @property
    def registration_age(self) -> int:
        """Days since the registration began: one in five has lapsed (over 5 years)."""
        return 100 + (self.n * 7919) % 2100


def engineer(n: int) -> SyntheticEngineer:
    """Engineer ``n`` (0 <= n < 9,000,000), with a unique, well-formed ID number."""
    qualified_by = AUTHORITIES[n % 4]
    # One in five registers in the next province, not the one that qualified them.
    registered_by = AUTHORITIES[(n + 1) % 4] if n % 5 == 0 else qualified_by
    areas = _ENGINEER_AREAS[qualified_by]
    born = date(1965, 1, 1) + timedelta(days=n % 10_000)
    # Birth day and sequence number together are unique per n; the demo's own
    # engineers have sequences below 100.
    number = resident_id(areas[n % len(areas)], born.strftime("%Y%m%d"), f"{100 + n // 10_000}")
    name = (
        _SURNAMES[n % len(_SURNAMES)]
        + _GIVEN[(n // 7) % len(_GIVEN)]
        + (_GIVEN[(n // 11) % len(_GIVEN)] if n % 3 else "")
    )
    category = _CATEGORIES[(n // 4) % len(_CATEGORIES)].value
    return SyntheticEngineer(n, name, number, qualified_by, registered_by, category)


def company(n: int) -> tuple[str, str]:
    """The n-th synthetic chemical company: its name and credit code."""
    authority = AUTHORITIES[n % 4]
    return (
        f"{'沪苏浙皖'[n % 4]}某{n:06d}号化工有限公司",
        credit_code(f"91{_COMPANY_AREA[authority]}MA{n:07d}"[:17]),
    )


def person(n: int) -> str:
    """The ID number of the n-th company's legal representative."""
    born = f"{1960 + n % 40}{1 + n % 12:02d}{1 + n % 28:02d}"
    return resident_id(_COMPANY_AREA[AUTHORITIES[n % 4]], born, f"{n // 4 % 1000:03d}")
