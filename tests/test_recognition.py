"""The recognition matrix: who counts where, under which agreement, on which day."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from registry.errors import InvalidInput
from registry.ids import Category
from registry.recognition import Agreement, Direction, RecordKind, recognise

DAY = timedelta(days=1)
START = date(2026, 1, 1)
LAST = date(2028, 12, 31)

YRD = Agreement(
    id="urn:uuid:agreement-yrd",
    parties=frozenset({"CN-SH", "CN-JS", "CN-ZJ"}),
    direction=Direction.MUTUAL,
    kinds=frozenset({RecordKind.QUALIFICATION, RecordKind.CONTINUING_EDUCATION}),
    levels=frozenset({"junior"}),
    categories=frozenset({Category.CHEMICAL, Category.CONSTRUCTION}),
    valid_from=START,
    valid_until=LAST,
    basis_number="沪苏浙应急〔2026〕1号",
)
ONE_WAY = Agreement(
    id="urn:uuid:agreement-ah-sh",
    parties=frozenset({"CN-AH", "CN-SH"}),
    direction=Direction.ONE_WAY,
    source="CN-AH",
    target="CN-SH",
    kinds=frozenset(RecordKind),
    levels=frozenset({"junior"}),
    valid_from=START,
)


def _ask(
    agreements: list[Agreement],
    *,
    issuer: str = "CN-JS",
    region: str = "CN-SH",
    kind: RecordKind = RecordKind.QUALIFICATION,
    category: Category | None = Category.CHEMICAL,
    on: date = date(2027, 6, 1),
) -> tuple[bool, str, str | None]:
    answer = recognise(
        agreements,
        issuer=issuer,
        region=region,
        kind=kind,
        category=category,
        level="junior",
        on=on,
    )
    return answer.recognised, answer.reason.code, answer.agreement.id if answer.agreement else None


@pytest.mark.parametrize(
    ("agreements", "question", "expected"),
    [
        pytest.param([], {"issuer": "CN-SH"}, (True, "own-region", None), id="own region"),
        pytest.param(
            [], {"issuer": "310000"}, (True, "own-region", None), id="own region, GB code"
        ),
        pytest.param([], {}, (False, "no-agreement", None), id="no agreement"),
        pytest.param([YRD], {}, (True, "recognised", YRD.id), id="covered"),
        pytest.param(
            [YRD],
            {"issuer": "CN-SH", "region": "CN-ZJ"},
            (True, "recognised", YRD.id),
            id="any pair of parties",
        ),
        pytest.param([YRD], {"issuer": "CN-AH"}, (False, "no-agreement", None), id="not a party"),
        pytest.param(
            [ONE_WAY],
            {"issuer": "CN-AH"},
            (True, "recognised", ONE_WAY.id),
            id="one way, its direction",
        ),
        pytest.param(
            [ONE_WAY],
            {"issuer": "CN-SH", "region": "CN-AH"},
            (False, "wrong-direction", None),
            id="one way, the wrong direction",
        ),
        pytest.param(
            [YRD],
            {"category": Category.COAL_MINE},
            (False, "category-not-covered", None),
            id="outside the category scope",
        ),
        pytest.param(
            [YRD],
            {"kind": RecordKind.REGISTRATION},
            (False, "kind-not-covered", None),
            id="outside the kind scope",
        ),
        pytest.param(
            [YRD],
            {"on": START - DAY},
            (False, "agreement-not-yet-in-force", None),
            id="the day before it starts",
        ),
        pytest.param([YRD], {"on": START}, (True, "recognised", YRD.id), id="its first day"),
        pytest.param([YRD], {"on": LAST}, (True, "recognised", YRD.id), id="its last day"),
        pytest.param([YRD], {"on": LAST + DAY}, (False, "agreement-expired", None), id="expired"),
    ],
)
def test_the_recognition_matrix(
    agreements: list[Agreement], question: dict[str, object], expected: tuple[bool, str, str | None]
) -> None:
    assert _ask(agreements, **question) == expected  # type: ignore[arg-type]


def test_a_termination_counts_from_its_effective_date() -> None:
    terminated = replace(YRD, terminated_on=date(2027, 3, 1))
    assert _ask([terminated], on=date(2027, 2, 28))[:2] == (True, "recognised")
    assert _ask([terminated], on=date(2027, 3, 1))[:2] == (False, "agreement-terminated")
    assert _ask([terminated], on=date(2027, 6, 1))[:2] == (False, "agreement-terminated")


def test_a_level_outside_the_scope() -> None:
    answer = recognise(
        [YRD],
        issuer="CN-JS",
        region="CN-SH",
        kind=RecordKind.QUALIFICATION,
        category=Category.CHEMICAL,
        level="intermediate",
        on=date(2027, 6, 1),
    )
    assert (answer.recognised, answer.reason.code) == (False, "level-not-covered")


def test_one_covering_agreement_is_enough_and_the_closest_miss_is_explained() -> None:
    expired = replace(
        YRD, id="urn:uuid:old", valid_from=date(2020, 1, 1), valid_until=date(2025, 12, 31)
    )
    assert _ask([expired, YRD]) == (True, "recognised", YRD.id)
    # The category is wrong in one and the dates in the other: the dates are the closer miss.
    narrow = replace(YRD, id="urn:uuid:narrow", categories=frozenset({Category.METALLURGY}))
    assert _ask([narrow, expired])[:2] == (False, "agreement-expired")


def test_reasons_are_written_for_people_in_both_languages() -> None:
    answer = recognise(
        [ONE_WAY],
        issuer="CN-SH",
        region="CN-AH",
        kind=RecordKind.QUALIFICATION,
        category=None,
        level="junior",
        on=date(2027, 6, 1),
    )
    assert "安徽省" in answer.reason.zh
    assert "上海市" in answer.reason.zh
    assert "from Anhui to Shanghai" in answer.reason.en
    covered = recognise(
        [YRD],
        issuer="CN-JS",
        region="CN-SH",
        kind=RecordKind.CONTINUING_EDUCATION,
        category=None,
        level="junior",
        on=date(2027, 6, 1),
    )
    assert "沪苏浙应急〔2026〕1号" in covered.reason.zh
    assert covered.reason.en.startswith(
        "continuing-education hours issued by Jiangsu count in Shanghai"
    )


@pytest.mark.parametrize(
    "change",
    [
        {"parties": frozenset({"CN-SH"})},
        {"direction": Direction.ONE_WAY},
        {"direction": Direction.ONE_WAY, "source": "CN-SH", "target": "CN-SH"},
        {"direction": Direction.ONE_WAY, "source": "CN-AH", "target": "CN-SH"},
        {"source": "CN-SH"},
        {"kinds": frozenset()},
        {"categories": frozenset()},
        {"valid_until": START - DAY},
    ],
)
def test_an_agreement_that_cannot_be_is_refused(change: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        replace(YRD, **change)  # type: ignore[arg-type]
