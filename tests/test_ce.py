"""Continuing-education rules as data, their standing and legal source, and counting
hours at a registration term's edges."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from fractions import Fraction
from pathlib import Path

import pytest

from registry.ce import Credit, ForeignHours, Standing, assess, load_policies
from registry.errors import InvalidInput, NotFound
from registry.ids import Category
from registry.recognition import Agreement, Direction, RecordKind

DAY = timedelta(days=1)
START = date(2026, 3, 1)  # the registration's first day: its term runs to 2031-02-28
END = date(2031, 3, 1)
AGREEMENT = Agreement(
    id="urn:uuid:agreement",
    parties=frozenset({"CN-SH", "CN-ZJ"}),
    direction=Direction.MUTUAL,
    kinds=frozenset({RecordKind.CONTINUING_EDUCATION}),
    levels=frozenset({"junior"}),
    valid_from=date(2027, 1, 1),
    categories=frozenset({Category.CHEMICAL}),
)
# The shipped rule is provisional; the counting is the same under an official one.
POLICY = replace(
    load_policies().for_term("CN-SH", START),
    standing=Standing.OFFICIAL,
    min_professional_share=Fraction(2, 3),
)


def _credit(
    n: int, on: date, hours: int = 16, kind: str = "professional", issuer: str = "CN-SH"
) -> Credit:
    return Credit(id=f"c{n}", issuer=issuer, hours=Fraction(hours), kind=kind, completed_on=on)


def _assess(credits: list[Credit], *, on: date = END - DAY, **changes: object):  # type: ignore[no-untyped-def]
    policy = replace(POLICY, **changes)  # type: ignore[arg-type]
    return assess(
        credits,
        policy=policy,
        region="CN-SH",
        term=(START, END - DAY),
        on=on,
        agreements=[AGREEMENT],
        category=Category.CHEMICAL,
    )


def test_the_shipped_rules_are_provisional_and_keep_only_what_their_source_gives() -> None:
    """The shipped rules are defaults, not a province's published rule: marked
    provisional. Their one figure, 48 hours a registration term, is the one their
    source gives (《注册安全工程师管理规定》, 原国家安全生产监督管理总局令第11号); the
    two-thirds professional share of 人力资源社会保障部令第25号 is a share of another
    rule's hours, so it is not applied to these."""
    book = load_policies()
    for code in ("CN-SH", "CN-JS", "CN-ZJ", "CN-AH"):
        policy = book.for_term(code, START)
        assert policy.standing is Standing.PROVISIONAL
        assert not policy.official
        assert policy.min_hours_per_term == 48
        assert policy.min_professional_hours == 0
        assert not policy.shortfall_ends_practice
        assert policy.change_keeps_term
        assert "注册安全工程师管理规定" in policy.source
        assert "三分之二" not in policy.source
    with pytest.raises(NotFound):
        book.for_term("CN-SH", date(2019, 12, 31))
    with pytest.raises(NotFound):
        book.for_term("CN-BJ", START)


def test_only_an_official_rule_decides_anything(tmp_path: Path) -> None:
    """A provisional rule may not say that a shortfall ends the right to practise or
    that a change of employer starts a new term: only a province's published rule,
    citing its source, may (《注册安全工程师职业资格制度规定》 leaves continuing
    education to the registering authority)."""
    shipped = (Path(__file__).parent.parent / "registry/ce/policies/CN-SH.toml").read_text()
    (tmp_path / "CN-SH.toml").write_text(
        shipped.replace(
            'standing = "provisional"', 'standing = "provisional"\nshortfall_ends_practice = true'
        ),
        encoding="utf-8",
    )
    with pytest.raises(InvalidInput, match="provisional rule decides nothing"):
        load_policies(tmp_path)
    (tmp_path / "CN-SH.toml").write_text(
        shipped.replace("min_hours_per_year = 0", "min_hours_per_year = 0\ncycle_years = 5"),
        encoding="utf-8",
    )
    with pytest.raises(InvalidInput, match="unknown field"):
        load_policies(tmp_path)


def test_a_province_sets_its_own_rule_as_a_new_version(tmp_path: Path) -> None:
    shipped = (Path(__file__).parent.parent / "registry/ce/policies/CN-SH.toml").read_text()
    newer = """
[[versions]]
version = 2
effective_from = 2027-01-01
standing = "official"
min_hours_per_term = 72
min_hours_per_year = 24
min_professional_share = "1/2"
foreign_hours = "never"
shortfall_ends_practice = true
source = "沪应急规〔2026〕9号"
"""
    (tmp_path / "CN-SH.toml").write_text(shipped + newer, encoding="utf-8")
    book = load_policies(tmp_path)
    assert book.for_term("CN-SH", date(2026, 12, 31)).version == 1
    second = book.for_term("CN-SH", date(2027, 1, 1))
    assert (second.version, second.official, second.foreign_hours) == (2, True, ForeignHours.NEVER)
    assert second.shortfall_ends_practice
    assert second.min_professional_hours == 36


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("CN-SH.toml", "authority = 'CN-SH'\nversions = []", "at least one"),
        ("CN-JS.toml", "authority = 'CN-SH'\nversions = []", "belongs in CN-SH.toml"),
        ("CN-SH.toml", "authority = 'CN-SH'\n[[versions]]\nversion = 1", "KeyError"),
        ("CN-SH.toml", "not toml at all", "TOMLDecodeError"),
    ],
)
def test_a_broken_rule_is_refused_naming_its_file(
    tmp_path: Path, name: str, text: str, problem: str
) -> None:
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(InvalidInput, match=problem) as caught:
        load_policies(tmp_path)
    assert name in caught.value.message


def test_hours_count_on_the_term_s_first_and_last_day_and_not_beyond() -> None:
    credits = [
        _credit(1, START - DAY),  # the day before: the previous term's
        _credit(2, START),
        _credit(3, END - DAY),
        _credit(4, END),  # the day after the term
    ]
    result = _assess(credits)
    assert [c.counted for c in result.credits] == [False, True, True, False]
    assert result.credits[0].reason.code == "outside-cycle"
    assert result.professional == 32
    # Asked on the day before the last course, that course has not happened yet.
    assert _assess(credits, on=END - 2 * DAY).professional == 16


def test_hours_by_kind_and_the_professional_share() -> None:
    general_heavy = [_credit(1, START, 40, "general"), _credit(2, START, 16)]
    result = _assess(general_heavy)
    assert (result.general, result.professional, result.total) == (40, 16, 56)
    assert [r.code for r in result.shortfalls] == ["too-few-professional-hours"]
    assert "32" in result.shortfalls[0].zh
    enough = _assess([_credit(1, START, 16, "general"), _credit(2, START, 32)])
    assert enough.satisfied
    short = _assess([_credit(1, START, 40)])
    assert [r.code for r in short.shortfalls] == ["too-few-hours"]
    assert "48" in short.shortfalls[0].en


def test_foreign_hours_count_only_under_an_agreement_in_force_on_completion() -> None:
    before = _credit(1, date(2026, 12, 31), issuer="CN-ZJ")  # the agreement starts 2027-01-01
    under = _credit(2, date(2027, 1, 1), issuer="CN-ZJ")
    unrelated = _credit(3, date(2027, 6, 1), issuer="CN-JS")
    result = _assess([before, under, unrelated])
    assert [(c.counted, c.reason.code) for c in result.credits] == [
        (False, "agreement-not-yet-in-force"),
        (True, "recognised"),
        (False, "no-agreement"),
    ]
    assert result.credits[1].agreement == AGREEMENT.id
    # A category outside the agreement's scope: the hours do not count.
    outside = assess(
        [under],
        policy=POLICY,
        region="CN-SH",
        term=(START, END - DAY),
        on=END - DAY,
        agreements=[AGREEMENT],
        category=Category.COAL_MINE,
    )
    assert outside.credits[0].reason.code == "category-not-covered"
    # A rule that takes no foreign hours ignores the agreement.
    never = _assess([under], foreign_hours=ForeignHours.NEVER)
    assert never.credits[0].reason.code == "foreign-hours-not-accepted"


def test_a_revoked_credit_does_not_count() -> None:
    result = _assess([replace(_credit(1, START, 48), in_force=False)])
    assert result.credits[0].reason.code == "credit-not-in-force"
    assert result.total == 0


def test_a_yearly_minimum_is_checked_for_each_year_begun() -> None:
    credits = [_credit(1, START, 24), _credit(2, date(2028, 3, 1), 16)]  # years 1 and 3
    result = _assess(credits, on=date(2028, 6, 1), min_hours_per_year=Fraction(8))
    assert [r.code for r in result.shortfalls] == ["too-few-hours", "too-few-hours-in-year"]
    assert "year 2 of the cycle (from 2027-03-01)" in result.shortfalls[1].en


def test_a_short_term_counts_its_own_days() -> None:
    """The hours count over the registration's own term, not a five-year period the
    registry guesses: a term shorter than five years ends on its own last day."""
    last = date(2027, 6, 30)
    credits = [_credit(1, last), _credit(2, last + DAY)]
    result = assess(
        credits,
        policy=POLICY,
        region="CN-SH",
        term=(START, last),
        on=END,
        agreements=[],
    )
    assert [c.counted for c in result.credits] == [True, False]
    assert result.cycle_end == last + DAY


def test_a_term_of_five_years_has_five_years() -> None:
    """A term of five years may run to the fifth anniversary (民法典第二百零二条): that
    last day closes year five, and a yearly minimum asks for no sixth year."""
    start = date(2024, 3, 10)
    last = date(2029, 3, 10)
    credits = [_credit(n, date(2024 + n, 6, 1), 10) for n in range(5)]
    result = assess(
        credits,
        policy=replace(POLICY, min_hours_per_year=Fraction(8)),
        region="CN-SH",
        term=(start, last),
        on=last,
        agreements=[],
    )
    assert [r.code for r in result.shortfalls] == []
    on_the_last_day = assess(
        [_credit(9, last, 50)],
        policy=POLICY,
        region="CN-SH",
        term=(start, last),
        on=last,
        agreements=[],
    )
    assert on_the_last_day.credits[0].counted
