"""The demo's records: engineers of all four provinces with their qualifications,
registrations and continuing-education credits, a few listings, and some status
changes, issued through the same path as the API's, with dates relative to today.

Every ID number and credit code is synthetic but well formed (its check character
is right), so it validates like a real one. The OpenAPI examples name these people.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import func, select
from sqlmodel import Session

from registry.calendar import add_years, china_today
from registry.credentials import CredentialType
from registry.credentials.lifecycle import Action, StatusChangeIn
from registry.credentials.records import RecordIn
from registry.demo.agreements import seed_demo_agreements
from registry.demo.synthetic import credit_code, resident_id
from registry.issuing import IssuingContext, change_status, issue_records
from registry.storage.models import Record

__all__ = [
    "DEMO_ENGINEERS",
    "DEMO_LISTED_ENGINEER",
    "DEMO_LISTED_ORGANISATIONS",
    "DEMO_LISTED_PERSON",
    "DEMO_RENEWING",
    "DemoEngineer",
    "seed_demo_records",
]

_RECORD = TypeAdapter(RecordIn)


@dataclass(frozen=True)
class DemoEngineer:
    """A synthetic engineer: where the qualification comes from and what it covers."""

    name: str
    id_number: str
    authority: str
    certificate_number: str
    category: str
    registered_by: str | None
    employer: tuple[str, str] | None


def _engineers_table() -> tuple[DemoEngineer, ...]:
    """The rows of ``engineers.csv``: the ID number and credit code from their first
    17 characters' parts, empty cells for an engineer not registered."""
    text = resources.files("registry.demo").joinpath("engineers.csv").read_text(encoding="utf-8")
    return tuple(
        DemoEngineer(
            name=row["name"],
            id_number=resident_id(row["area"], row["born"], row["sequence"]),
            authority=row["authority"],
            certificate_number=row["certificate_number"],
            category=row["category"],
            registered_by=row["registered_by"] or None,
            employer=(
                (row["employer"], credit_code(row["employer_credit_code"]))
                if row["employer"]
                else None
            ),
        )
        for row in csv.DictReader(io.StringIO(text))
    )


DEMO_ENGINEERS = _engineers_table()
"""The demo's engineers (``engineers.csv``). 陈静 holds a Jiangsu qualification and a
Shanghai registration; 刘洋 and 吴敏 are qualified but not registered; 张伟's
registration is suspended; 黄磊's registration is a renewal (延续注册) whose earlier
term has fewer hours recorded than the national figure; 赵强 is named in a listing
whose measures do not restrict practice."""

DEMO_RENEWING = "黄磊"
"""The demo engineer whose registration is a renewal: his earlier term ended 201
days ago with 32.5 hours recorded, and the renewal stands."""

DEMO_LISTED_ENGINEER = ("赵强", "浙江丽水某矿业有限公司", credit_code("91331100MA2L90014"))
"""The demo engineer named in a listing (as 直接责任人员 of the listed company)."""

_PROVIDERS = {
    "CN-SH": ("上海市安全生产科学研究所", credit_code("12310000MB0P10008")),
    "CN-JS": ("江苏省安全生产培训中心", credit_code("12320000MB1A20009")),
    "CN-ZJ": ("浙江省应急管理科学研究院", credit_code("12330000MB1B3000A")),
    "CN-AH": ("安徽省安全生产协会", credit_code("51340000MJ1C4000B")),
}


def _engineer_items(today: date) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for number, engineer in enumerate(DEMO_ENGINEERS):
        holder = {"name": engineer.name, "id_number": engineer.id_number}
        items.append(
            {
                "type": "SafetyEngineerQualification",
                "authority": engineer.authority,
                "holder": holder,
                "certificate_number": engineer.certificate_number,
                "category": engineer.category,
                "issued_on": (today - timedelta(days=900 + 97 * number)).isoformat(),
            }
        )
    return items


def _registration(
    engineer: DemoEngineer, number: str, kind: str, start: date, last: date
) -> dict[str, Any]:
    registered_by, employer = engineer.registered_by or "", engineer.employer or ("", "")
    return {
        "type": "SafetyEngineerRegistration",
        "authority": registered_by,
        "holder": {"name": engineer.name, "id_number": engineer.id_number},
        "registration_number": number,
        "qualification": engineer.certificate_number,
        "category": engineer.category,
        "employer": {"name": employer[0], "credit_code": employer[1]},
        "kind": kind,
        "valid_from": start.isoformat(),
        "valid_until": last.isoformat(),
    }


def _later_items(today: date) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for number, engineer in enumerate(DEMO_ENGINEERS):
        holder = {"name": engineer.name, "id_number": engineer.id_number}
        if engineer.registered_by and engineer.employer:
            start = today - timedelta(days=400 + 31 * number)
            kind = "initial"
            if engineer.name == DEMO_RENEWING:
                kind, start = "renewal", today - timedelta(days=200)
                items.append(
                    _registration(
                        engineer,
                        f"{engineer.registered_by[3:]}-REG-0{1001 + number}",
                        "initial",
                        today - timedelta(days=1500),
                        start - timedelta(days=1),
                    )
                )
            items.append(
                _registration(
                    engineer,
                    f"{engineer.registered_by[3:]}-REG-{1001 + number}",
                    kind,
                    start,
                    add_years(start, 5) - timedelta(days=1),
                )
            )
        for course, (title, hours, kind) in enumerate(
            (
                ("安全生产法律法规与政策解读", 12, "general"),
                ("危险化学品重大危险源辨识与管控", 24, "professional"),
                ("事故调查与案例分析", 8.5, "professional"),
            )
        ):
            # 陈静 took two of her courses in Zhejiang: hours from another province.
            issuer = "CN-ZJ" if engineer.name == "陈静" and course else engineer.authority
            provider = _PROVIDERS[issuer]
            items.append(
                {
                    "type": "ContinuingEducationCredit",
                    "authority": issuer,
                    "holder": holder,
                    "course_title": title,
                    "provider": {"name": provider[0], "credit_code": provider[1]},
                    "hours": hours,
                    "kind": kind,
                    "completed_on": (
                        today - timedelta(days=60 + 120 * course + 7 * number)
                    ).isoformat(),
                }
            )
    return items


def _listing(
    authority: str, listed: dict[str, Any], listed_on: date, decision: str, **extra: Any
) -> dict[str, Any]:
    return {
        "type": "UntrustworthinessListing",
        "authority": authority,
        "listed": listed,
        "legal_basis": "《安全生产严重失信主体名单管理办法》（应急管理部令第11号）第六条",
        "penalty_decision_number": f"{decision}罚〔{listed_on.year}〕{listed_on.day}号",
        "listing_decision_number": f"{decision}失信〔{listed_on.year}〕{listed_on.month}号",
        "listed_on": listed_on.isoformat(),
        "measures": ["依法依规实施联合惩戒", "列为重点监管对象，提高检查频次"],
        **extra,
    }


DEMO_LISTED_ORGANISATIONS = {
    "CN-SH": ("上海临港危险品仓储有限公司", credit_code("91310115MA1H90010")),
    "CN-JS": ("江苏盐城某化工有限公司", credit_code("91320900MA1Q50011")),
    "CN-ZJ": ("浙江台州某烟花爆竹有限公司", credit_code("91331000MA2K60012")),
    "CN-AH": ("安徽淮北某矿业有限公司", credit_code("91340600MA2T70013")),
}
"""The organisations the demo lists, by the authority that lists them."""

DEMO_LISTED_PERSON = ("钱某某", resident_id("320902", "19750503", "011"))
"""The person Jiangsu lists on their own."""


def _listing_items(today: date) -> list[dict[str, Any]]:
    principal = {
        "name": "孙某",
        "id_number": resident_id("310115", "19700822", "017"),
        "role": "principal",
    }

    def organisation(code: str) -> dict[str, Any]:
        name, credit = DEMO_LISTED_ORGANISATIONS[code]
        return {"kind": "organisation", "name": name, "credit_code": credit}

    person_name, person_id = DEMO_LISTED_PERSON
    engineer_name, engineer_company, engineer_code = DEMO_LISTED_ENGINEER
    engineer = next(e for e in DEMO_ENGINEERS if e.name == engineer_name)
    return [
        _listing(
            "CN-SH",
            organisation("CN-SH"),
            today - timedelta(days=200),
            "沪应急",
            related_persons=[principal],
            measure_codes=["key-supervision", "restrict-procurement"],
        ),
        _listing(
            "CN-JS",
            {"kind": "person", "name": person_name, "id_number": person_id},
            today - timedelta(days=500),
            "苏应急",
            measure_codes=["key-supervision", "restrict-practice"],
        ),
        _listing("CN-JS", organisation("CN-JS"), today - timedelta(days=450), "苏应急"),
        _listing("CN-ZJ", organisation("CN-ZJ"), today - timedelta(days=300), "浙应急"),
        _listing("CN-AH", organisation("CN-AH"), today - timedelta(days=30), "皖应急"),
        _listing(
            "CN-ZJ",
            {"kind": "organisation", "name": engineer_company, "credit_code": engineer_code},
            today - timedelta(days=120),
            "浙应急",
            related_persons=[
                {
                    "name": engineer.name,
                    "id_number": engineer.id_number,
                    "role": "directly-responsible",
                }
            ],
            measure_codes=["key-supervision", "restrict-funding"],
        ),
    ]


def seed_demo_records(
    session: Session, context: IssuingContext, *, now: datetime | None = None
) -> bool:
    """Publish the demo's recognition agreements where none was ever proposed, and
    issue the demo's records into a registry that has none; returns whether it did.

    The caller commits.
    """
    now = now or datetime.now(UTC)
    agreed = seed_demo_agreements(session, context, now=now)
    if session.scalar(select(func.count()).select_from(Record)):
        return agreed
    today = china_today(now)
    issued: dict[str, str] = {}
    for stage in demo_record_stages(today):
        for authority in sorted({item["authority"] for item in stage}):
            issued |= issue_demo_stage(session, context, stage, authority, now=now)
    apply_demo_changes(session, context, issued, today, now=now)
    return True


def demo_record_stages(today: date) -> list[list[dict[str, Any]]]:
    """The demo's records in the order they build on each other: qualifications and
    first registrations, then renewals, changes and hours, then listings. Where each
    authority runs its own node, every node must have the others' records of a stage
    before the next one is issued."""
    return [_engineer_items(today), _later_items(today), _listing_items(today)]


def issue_demo_stage(
    session: Session,
    context: IssuingContext,
    stage: list[dict[str, Any]],
    authority: str,
    *,
    now: datetime,
) -> dict[str, str]:
    """Issue ``authority``'s records of a stage; returns each one's credential id by
    the demo's name for it. The caller commits."""
    items = [_RECORD.validate_python(item) for item in stage if item["authority"] == authority]
    if not items:
        return {}
    result = issue_records(session, context, items, now=now)
    return {
        _key(item): record.credential.id for item, record in zip(items, result.records, strict=True)
    }


def _key(item: Any) -> str:
    number = getattr(item, "certificate_number", None) or getattr(item, "registration_number", None)
    if number:
        return f"{item.type}:{number}"
    if item.type == CredentialType.LISTING:
        return f"listing:{item.listed.name}"
    return f"{item.type}:{id(item)}"


_CHANGES: tuple[tuple[str, str, Action, str, str, int], ...] = (
    (
        "CN-JS",
        "SafetyEngineerRegistration:JS-REG-1004",
        Action.SUSPEND,
        "所在单位发生生产安全事故，暂停执业接受调查",
        "苏应急注〔2026〕17号",
        20,
    ),
    (
        "CN-JS",
        f"listing:{DEMO_LISTED_ORGANISATIONS['CN-JS'][0]}",
        Action.LIFT,
        "完成信用修复，经审核准予提前移出",
        "苏应急修复〔2026〕3号",
        10,
    ),
    (
        "CN-ZJ",
        f"listing:{DEMO_LISTED_ORGANISATIONS['CN-ZJ'][0]}",
        Action.WITHDRAW,
        "行政处罚决定经行政复议被撤销",
        "浙应急复〔2026〕5号",
        15,
    ),
)
"""(authority, record, action, reason, decision number, days ago) of the demo's
status changes."""


def apply_demo_changes(
    session: Session,
    context: IssuingContext,
    issued: dict[str, str],
    today: date,
    *,
    now: datetime,
    authority: str | None = None,
) -> None:
    """Make the demo's status changes (only ``authority``'s, if given) to the records
    ``issued`` names. The caller commits."""
    for code, key, action, reason, decision, days_ago in _CHANGES:
        if authority is not None and code != authority:
            continue
        change_status(
            session,
            context,
            issued[key],
            StatusChangeIn(
                action=action,
                reason=reason,
                decision_number=decision,
                effective_on=today - timedelta(days=days_ago),
            ),
            now=now,
        )
