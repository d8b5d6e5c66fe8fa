"""OpenAPI request examples that work against a ``make run`` demo as written.

They name the demo's seeded people and records (``registry.demo``), and
their dates are set when the app starts, so that no example date is in the future
or out of its window.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from registry.calendar import add_years
from registry.demo import (
    DEMO_ENGINEERS,
    DEMO_LISTED_ORGANISATIONS,
    DEMO_LISTED_PERSON,
    credit_code,
    resident_id,
)

__all__ = [
    "batch_examples",
    "blacklist_check_examples",
    "blacklist_search_examples",
    "record_examples",
    "status_change_examples",
    "subscription_examples",
    "verify_batch_examples",
    "verify_examples",
]


def _engineer(name: str) -> dict[str, str]:
    engineer = next(e for e in DEMO_ENGINEERS if e.name == name)
    return {"name": engineer.name, "id_number": engineer.id_number}


def _employer_code(name: str) -> str:
    """The credit code of the demo engineer's employer."""
    engineer = next(e for e in DEMO_ENGINEERS if e.name == name)
    return engineer.employer[1] if engineer.employer else ""


def record_examples(today: date) -> dict[str, dict[str, Any]]:
    """One complete, valid request per record type (for a `issuer:CN-SH` token)."""
    return {
        "qualification": {
            "summary": "SafetyEngineerQualification: a new junior engineer in Shanghai",
            "value": {
                "type": "SafetyEngineerQualification",
                "authority": "CN-SH",
                "holder": {"name": "黄海", "id_number": resident_id("310115", "19940618", "036")},
                "certificate_number": "SH-2026-J-0102",
                "category": "construction",
                "issued_on": (today - timedelta(days=30)).isoformat(),
            },
        },
        "registration": {
            "summary": "SafetyEngineerRegistration: 刘洋 registers with a Shanghai employer",
            "description": "Rests on 刘洋's seeded qualification, named by certificate number.",
            "value": {
                "type": "SafetyEngineerRegistration",
                "authority": "CN-SH",
                "holder": _engineer("刘洋"),
                "registration_number": "SH-REG-2026-0415",
                "qualification": "SH-2021-Q-0003",
                "category": "other",
                "employer": {
                    "name": "上海申安检测技术有限公司",
                    "credit_code": credit_code("91310104MA1FR0014"),
                },
                "kind": "initial",
                "valid_from": today.isoformat(),
                "valid_until": (today + timedelta(days=5 * 365)).isoformat(),
            },
        },
        "registration-change": {
            "summary": "SafetyEngineerRegistration: 王立新 changes employer (变更注册)",
            "description": (
                "Changes his seeded registration SH-REG-1001: the term is kept (it ends on "
                "that registration's last day), and SH-REG-1001 is superseded from today."
            ),
            "value": {
                "type": "SafetyEngineerRegistration",
                "authority": "CN-SH",
                "holder": _engineer("王立新"),
                "registration_number": "SH-REG-2026-0520",
                "qualification": "SH-2019-C-0001",
                "category": "chemical",
                "employer": {
                    "name": "上海金山石化工程有限公司",
                    "credit_code": credit_code("91310116MA1FR0023"),
                },
                "kind": "change",
                "changes": "SH-REG-1001",
                "valid_from": today.isoformat(),
                # The demo registered him 400 days ago for five years (registry.demo).
                "valid_until": (
                    add_years(today - timedelta(days=400), 5) - timedelta(days=1)
                ).isoformat(),
            },
        },
        "continuing-education": {
            "summary": "ContinuingEducationCredit: 16 professional hours for 王立新",
            "value": {
                "type": "ContinuingEducationCredit",
                "authority": "CN-SH",
                "holder": _engineer("王立新"),
                "course_title": "化工过程安全管理实务",
                "provider": {
                    "name": "上海市安全生产科学研究所",
                    "credit_code": credit_code("12310000MB0P10008"),
                },
                "hours": 16,
                "kind": "professional",
                "completed_on": (today - timedelta(days=14)).isoformat(),
            },
        },
        "listing": {
            "summary": "UntrustworthinessListing: a Shanghai company and its principal",
            "value": {
                "type": "UntrustworthinessListing",
                "authority": "CN-SH",
                "listed": {
                    "kind": "organisation",
                    "name": "上海某建材有限公司",
                    "credit_code": credit_code("91310116MA1J20015"),
                },
                "related_persons": [
                    {
                        "name": "马某",
                        "id_number": resident_id("310116", "19680302", "015"),
                        "role": "principal",
                    }
                ],
                "legal_basis": "《安全生产严重失信主体名单管理办法》（应急管理部令第11号）第六条",
                "penalty_decision_number": f"沪应急罚〔{today.year}〕88号",
                "listing_decision_number": f"沪应急失信〔{today.year}〕12号",
                "listed_on": (today - timedelta(days=7)).isoformat(),
                "measures": ["依法依规实施联合惩戒", "限制参与政府采购和工程招投标"],
                "measure_codes": ["restrict-procurement"],
            },
        },
    }


def batch_examples(today: date) -> dict[str, dict[str, Any]]:
    """A batch of Shanghai records: a qualification and a CE credit."""
    records = record_examples(today)
    return {
        "shanghai": {
            "summary": "Two Shanghai records in one batch",
            "value": {
                "items": [
                    records["qualification"]["value"],
                    records["continuing-education"]["value"],
                ]
            },
        }
    }


def status_change_examples(today: date) -> dict[str, dict[str, Any]]:
    """One example per kind of decision."""

    def example(
        summary: str, action: str, reason: str, number: str, on: date | None = None
    ) -> dict[str, Any]:
        return {
            "summary": summary,
            "value": {
                "action": action,
                "reason": reason,
                "decision_number": number,
                "effective_on": (on or today).isoformat(),
            },
        }

    return {
        "suspend": example(
            "Suspend a registration",
            "suspend",
            "涉嫌出具虚假安全评价报告，暂停执业",
            f"沪应急注〔{today.year}〕21号",
        ),
        "reinstate": example(
            "Reinstate a suspended registration",
            "reinstate",
            "调查结束，恢复执业",
            f"沪应急注〔{today.year}〕22号",
        ),
        "cancel": example(
            "Cancel (注销) a registration",
            "cancel",
            "本人申请注销注册",
            f"沪应急注〔{today.year}〕23号",
        ),
        "lift": example(
            "Lift a listing after credit repair",
            "lift",
            "完成信用修复，准予提前移出",
            f"沪应急修复〔{today.year}〕4号",
        ),
        "withdraw": example(
            "Withdraw a listing whose penalty was overturned",
            "withdraw",
            "行政处罚决定被依法撤销",
            f"沪应急复〔{today.year}〕6号",
        ),
        "suspend-ahead": example(
            "Suspend a registration from a later day (scheduled until then)",
            "suspend",
            "逾期未完成继续教育，自下月起暂停执业",
            f"沪应急注〔{today.year}〕24号",
            today + timedelta(days=30),
        ),
        "cancel-scheduled": example(
            "Cancel the change a record has scheduled, before its day",
            "cancel-scheduled",
            "已补完继续教育学时，撤回暂停执业决定",
            f"沪应急注〔{today.year}〕25号",
        ),
    }


def verify_examples() -> dict[str, dict[str, Any]]:
    """Questions about the demo's engineers, for a `verifier` token."""
    return {
        "recognised": {
            "summary": "陈静 in Shanghai: qualified through a recognition agreement",
            "description": (
                "A Jiangsu qualification and Zhejiang CE hours count in Shanghai under the "
                "demo's four-province agreement; her registration is Shanghai's own."
            ),
            "value": {"id_number": _engineer("陈静")["id_number"], "region": "CN-SH"},
        },
        "by-registration-number": {
            "summary": "王立新 in Anhui, by registration number and name",
            "description": "Anhui recognises Shanghai registrations one way (demo agreement).",
            "value": {
                "registration_number": "SH-REG-1001",
                "name": "王立新",
                "region": "CN-AH",
                "category": "chemical",
            },
        },
        "registered-elsewhere": {
            "summary": "李娜 in Shanghai: not qualified, her registration is Jiangsu's",
            "description": (
                "Her Jiangsu qualification counts in Shanghai, but no agreement makes a "
                "Jiangsu registration count there: she must register in Shanghai."
            ),
            "value": {"id_number": _engineer("李娜")["id_number"], "region": "CN-SH"},
        },
        "suspended": {
            "summary": "张伟 in Jiangsu: not qualified, his registration is suspended",
            "value": {"id_number": _engineer("张伟")["id_number"], "region": "CN-JS"},
        },
        "not-registered": {
            "summary": "刘洋 in Shanghai: qualified but never registered",
            "value": {"id_number": _engineer("刘洋")["id_number"], "region": "CN-SH"},
        },
        "renewal-hours-information": {
            "summary": "黄磊 in Zhejiang: a renewal stands whatever hours the registry holds",
            "description": (
                "His earlier term has 32.5 hours recorded. Continuing education is checked "
                "by the registering authority when it grants a renewal: the hours are "
                "reported beside the verdict (not assessed, as Zhejiang's rule here is "
                "provisional), and he is qualified."
            ),
            "value": {"id_number": _engineer("黄磊")["id_number"], "region": "CN-ZJ"},
        },
        "listed-engineer": {
            "summary": "赵强 in Zhejiang: qualified, reported with the listing that names him",
            "description": (
                "A listing decides only through its own measures: this one's do not "
                "restrict practice, so it is reported beside the verdict."
            ),
            "value": {"id_number": _engineer("赵强")["id_number"], "region": "CN-ZJ"},
        },
        "other-employer": {
            "summary": "王立新 for another company: not qualified to practise there",
            "description": (
                "He is registered to 上海华东化工有限公司; an engineer practises for the one "
                "employer registered, so another employer gets not-qualified with the reason."
            ),
            "value": {
                "id_number": _engineer("王立新")["id_number"],
                "region": "CN-SH",
                "employer": _employer_code("陈静"),
            },
        },
    }


def verify_batch_examples() -> dict[str, dict[str, Any]]:
    """A batch of the demo's engineers, with one bad row."""
    return {
        "mixed": {
            "summary": "Four demo engineers and one mistyped ID number",
            "value": {
                "rows": [
                    {"id_number": _engineer("陈静")["id_number"], "region": "CN-SH"},
                    {"id_number": _engineer("李娜")["id_number"], "region": "CN-SH"},
                    {"registration_number": "SH-REG-1001", "name": "王立新", "region": "CN-AH"},
                    {"id_number": _engineer("张伟")["id_number"], "region": "CN-JS"},
                    {"id_number": "320106199007210460", "region": "CN-SH"},
                ]
            },
        }
    }


def blacklist_search_examples() -> dict[str, dict[str, Any]]:
    """Searches that find the demo's listings, for an `enforcement` token."""
    anhui_name, anhui_code = DEMO_LISTED_ORGANISATIONS["CN-AH"]
    shanghai_name, _ = DEMO_LISTED_ORGANISATIONS["CN-SH"]
    person_name, person_id = DEMO_LISTED_PERSON
    return {
        "organisation": {
            "summary": f"{anhui_name}, by credit code, inspected in Shanghai",
            "description": "Anhui's listing binds in Shanghai too (joint punishment).",
            "value": {"credit_code": anhui_code, "region": "CN-SH"},
        },
        "person-elsewhere": {
            "summary": f"{person_name}, by ID number, inspected in Anhui",
            "description": "A person Jiangsu lists, found from another province.",
            "value": {"id_number": person_id, "region": "CN-AH"},
        },
        "by-name": {
            "summary": f"{shanghai_name}, by name: a possible match (a name identifies no one)",
            "value": {"name": shanghai_name},
        },
        "possible-match": {
            "summary": "A near name that may be the same company: a possible match too",
            "value": {"name": shanghai_name.replace("有限公司", "股份有限公司")},
        },
    }


def blacklist_check_examples() -> dict[str, dict[str, Any]]:
    """A bulk check naming the demo's listed parties, one clean party and a bad row."""
    return {
        "mixed": {
            "summary": "Listed, not listed, and a bad row",
            "description": (
                "Anhui's listed company and Jiangsu's listed person are listed; the "
                "demo's Shanghai employer is not; the last row is answered with its error."
            ),
            "value": {
                "rows": [
                    {"credit_code": DEMO_LISTED_ORGANISATIONS["CN-AH"][1]},
                    {"id_number": DEMO_LISTED_PERSON[1]},
                    {"credit_code": credit_code("91310000MA1FL0001")},
                    {"credit_code": "not a code"},
                ],
                "region": "CN-SH",
            },
        }
    }


def subscription_examples() -> dict[str, dict[str, Any]]:
    """A subscription that follows the demo's listed Anhui company."""
    return {
        "employer": {
            "summary": "Follow a company: its listings and its engineers' registrations",
            "value": {
                "url": "https://hr.example.com/registry-webhook",
                "credit_codes": [DEMO_LISTED_ORGANISATIONS["CN-AH"][1]],
            },
        }
    }
