"""Counting an engineer's continuing-education hours in one registration term under one
rule.

The term is the registration's own, ``[first day, last day]``; a credit counts in it
when it was completed on a day inside it, is in force, and was issued by the rule's
own authority (the registering authority) or (if the rule lets foreign hours count)
by one whose CE hours a recognition agreement in force on the completion day makes
count there. Hours are counted up to the day asked about; ``assess`` says whether
the term's requirement is met already and, if not, what is missing. Whether that
matters is the verifier's business: under a provisional rule nothing is assessed
against it, and under an official one a shortfall informs unless the rule says
otherwise (``registry.verification.judge``).

One course counts once: two credits of one person for the same course (the same
provider, course title and completion day: ``Credit.course``), issued before
issuing refused the second or by two authorities, count as one. The first to count
(by completion day, then id) counts; each other is set aside as a duplicate of it,
and the assessment lists them (``Assessment.duplicates``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction

from registry.calendar import add_years
from registry.ids import Category, province
from registry.policies import CePolicy, ForeignHours
from registry.recognition import Agreement, Reason, RecordKind, recognise

__all__ = [
    "Assessment",
    "CountedCredit",
    "Credit",
    "assess",
    "format_hours",
]


@dataclass(frozen=True)
class Credit:
    """A CE credit as the verifier read it from its signed credential and its state."""

    id: str
    issuer: str
    hours: Fraction
    kind: str  # "general" (公需) or "professional" (专业)
    completed_on: date
    in_force: bool = True
    course: tuple[str, ...] | None = None
    """What makes two credits of one person the same credit (provider, normalised
    course title, completion day); ``None`` if unknown, and then never a duplicate."""


@dataclass(frozen=True)
class CountedCredit:
    """One credit, whether it counted, why, under which agreement, and, when set aside
    as the same course as another credit that counts, which one."""

    credit: Credit
    counted: bool
    reason: Reason
    agreement: str | None = None
    duplicate_of: str | None = None


@dataclass(frozen=True)
class Assessment:
    """The hours a cycle requires and those counted, credit by credit."""

    policy: CePolicy
    cycle_start: date
    cycle_end: date  # the first day after the cycle
    on: date
    general: Fraction
    professional: Fraction
    credits: list[CountedCredit]
    shortfalls: list[Reason] = field(default_factory=list)

    @property
    def total(self) -> Fraction:
        """All hours counted."""
        return self.general + self.professional

    @property
    def duplicates(self) -> list[CountedCredit]:
        """The credits set aside as the same course as a credit that counts."""
        return [c for c in self.credits if c.duplicate_of is not None]

    @property
    def satisfied(self) -> bool:
        """Whether the cycle's requirement is met by the hours counted so far."""
        return not self.shortfalls


def assess(
    credits: Iterable[Credit],
    *,
    policy: CePolicy,
    region: str,
    term: tuple[date, date],
    on: date,
    agreements: Iterable[Agreement],
    category: Category | None = None,
) -> Assessment:
    """Count ``credits`` for the registration term ``term`` (its first and last day)
    under the rule of ``region``, as of ``on``."""
    region = province(region).iso
    cycle_start, last = term
    cycle_end = last + timedelta(days=1)
    agreements = list(agreements)
    counted: list[CountedCredit] = []
    hours = {"general": Fraction(0), "professional": Fraction(0)}
    # A term of five years runs to the fifth anniversary (民法典第二百零二条): that last
    # day closes year five, it begins no sixth.
    years = _year_of(cycle_start, last - timedelta(days=1)) + 1 if last > cycle_start else 1
    by_year = [Fraction(0)] * years
    counting: dict[tuple[str, ...], str] = {}
    for credit in sorted(credits, key=lambda c: (c.completed_on, c.id)):
        verdict = _judge(
            credit,
            policy=policy,
            region=region,
            cycle=(cycle_start, cycle_end),
            on=on,
            agreements=agreements,
            category=category,
        )
        if verdict.counted and credit.course is not None:
            first = counting.setdefault(credit.course, credit.id)
            if first != credit.id:
                verdict = CountedCredit(credit, False, _duplicate(first), duplicate_of=first)
        counted.append(verdict)
        if verdict.counted:
            hours[credit.kind] += credit.hours
            by_year[min(_year_of(cycle_start, credit.completed_on), years - 1)] += credit.hours
    shortfalls = _shortfalls(policy, hours, by_year, cycle_start, on)
    return Assessment(
        policy=policy,
        cycle_start=cycle_start,
        cycle_end=cycle_end,
        on=on,
        general=hours["general"],
        professional=hours["professional"],
        credits=counted,
        shortfalls=shortfalls,
    )


def _duplicate(first: str) -> Reason:
    return Reason(
        "duplicate-course",
        f"与已计入的学时记录 {first} 为同一课程（同一培训机构、课程和完成日期），不重复计入",
        f"the same course (provider, title and completion date) as {first}, which counts: "
        "not counted twice",
    )


def _judge(
    credit: Credit,
    *,
    policy: CePolicy,
    region: str,
    cycle: tuple[date, date],
    on: date,
    agreements: list[Agreement],
    category: Category | None,
) -> CountedCredit:
    cycle_start, cycle_end = cycle
    if not credit.in_force:
        return CountedCredit(
            credit,
            False,
            # Revoked, or superseded by its correction (which counts in its place): a
            # correction must not read as a revocation.
            Reason(
                "credit-not-in-force",
                "该学时记录已失效（已撤销或已被更正记录取代）",
                "the credit is no longer in force (revoked, or superseded by its correction)",
            ),
        )
    if not cycle_start <= credit.completed_on < cycle_end or credit.completed_on > on:
        return CountedCredit(
            credit,
            False,
            Reason(
                "outside-cycle",
                f"完成日期 {credit.completed_on} 不在本周期"
                f"（{cycle_start} 至 {_last(cycle_end)}）内",
                f"completed on {credit.completed_on}, outside the cycle "
                f"{cycle_start} to {_last(cycle_end)}",
            ),
        )
    issuer = province(credit.issuer).iso
    if issuer != region and policy.foreign_hours is ForeignHours.NEVER:
        return CountedCredit(
            credit,
            False,
            Reason(
                "foreign-hours-not-accepted",
                "本地规定不认可外省（市）学时",
                "this region's rule accepts no hours from other provinces",
            ),
        )
    recognition = recognise(
        agreements,
        issuer=issuer,
        region=region,
        kind=RecordKind.CONTINUING_EDUCATION,
        category=category,
        level="junior",
        on=credit.completed_on,
    )
    return CountedCredit(
        credit,
        recognition.recognised,
        recognition.reason,
        recognition.agreement.id if recognition.agreement else None,
    )


def _shortfalls(
    policy: CePolicy,
    hours: dict[str, Fraction],
    by_year: list[Fraction],
    cycle_start: date,
    on: date,
) -> list[Reason]:
    missing = []
    h = format_hours
    total = hours["general"] + hours["professional"]
    if total < policy.min_hours_per_term:
        missing.append(
            Reason(
                "too-few-hours",
                f"本注册周期须完成 {h(policy.min_hours_per_term)} 学时，已计入 {h(total)} 学时",
                f"the term requires {h(policy.min_hours_per_term)} hours; {h(total)} counted",
            )
        )
    if policy.min_professional_hours and hours["professional"] < policy.min_professional_hours:
        missing.append(
            Reason(
                "too-few-professional-hours",
                f"其中专业科目须不少于 {h(policy.min_professional_hours)} 学时，"
                f"已计入 {h(hours['professional'])} 学时",
                f"at least {h(policy.min_professional_hours)} of them must be professional; "
                f"{h(hours['professional'])} counted",
            )
        )
    if policy.min_hours_per_year:
        for year, counted in enumerate(by_year):
            first = add_years(cycle_start, year)
            if first > on:
                break
            if counted < policy.min_hours_per_year:
                missing.append(
                    Reason(
                        "too-few-hours-in-year",
                        f"周期第 {year + 1} 年（自 {first} 起）须不少于 "
                        f"{h(policy.min_hours_per_year)} 学时，已计入 {h(counted)} 学时",
                        f"year {year + 1} of the cycle (from {first}) requires "
                        f"{h(policy.min_hours_per_year)} hours; {h(counted)} counted",
                    )
                )
    return missing


def _year_of(cycle_start: date, day: date) -> int:
    year = 0
    while add_years(cycle_start, year + 1) <= day:
        year += 1
    return year


def _last(end: date) -> date:
    return date.fromordinal(end.toordinal() - 1)


def format_hours(hours: Fraction) -> str:
    """Hours as people write them: ``48``, ``8.5``."""
    return str(int(hours)) if hours.denominator == 1 else f"{float(hours):g}"
