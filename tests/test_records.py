"""Record inputs: what each type accepts, refuses, and writes into a credential."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from registry.credentials import CredentialType
from registry.credentials.records import (
    ContinuingEducationIn,
    ListingIn,
    QualificationIn,
    RecordIn,
    RegistrationIn,
    identify_person,
)
from registry.ids import LookupSecrets, PersonIdentifier, ResidentId
from registry.labels import RELATED_ROLE

ID = "11010519491231002X"  # the GB 11643 standard's own example
CODE = "91350100M000100Y43"
HOLDER = {"name": "张三", "id_number": ID}
SECRETS = LookupSecrets((b"f" * 32,))


def _errors(model: type[Any], data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return {".".join(str(p) for p in e["loc"]): e["msg"] for e in caught.value.errors()}


def test_a_qualification_never_carries_the_number() -> None:
    record = QualificationIn.model_validate(
        {"authority": "CN-JS", "holder": HOLDER, "certificate_number": "JS-2026-0001",
         "category": "化工安全", "issued_on": "2026-06-01"}
    )  # fmt: skip
    holder, identifier, salt = identify_person(record.holder, SECRETS)
    subject = record.subject(holder)
    assert subject["category"] == "chemical"
    assert subject["level"] == "junior"
    text = json.dumps(subject)
    assert ID not in text
    assert salt.hex() not in text
    assert ID not in repr(record)
    read = PersonIdentifier.from_json(holder["identifier"])
    assert read == identifier
    assert read.binds(ResidentId(ID), salt)


@pytest.mark.parametrize(
    ("field", "value", "where", "message"),
    [
        (
            "holder",
            {"name": "张三", "id_number": "110105194912310021"},
            "holder.id_number",
            "check",
        ),
        ("category", "fire", "category", "not a category"),
        ("certificate_number", "编号1", "certificate_number", "pattern"),
        ("issued_on", "2026-13-01", "issued_on", "date"),
        ("extra", 1, "extra", "Extra inputs"),
    ],
)
def test_qualification_field_errors(field: str, value: Any, where: str, message: str) -> None:
    data: dict[str, Any] = {"authority": "CN-JS", "holder": HOLDER, "certificate_number": "JS-1",
                            "category": "chemical", "issued_on": "2026-06-01"}  # fmt: skip
    data[field] = value
    errors = _errors(QualificationIn, data)
    assert where in errors
    assert message.lower() in errors[where].lower()
    assert ID[:-1] not in json.dumps(errors)


def _registration(**changes: Any) -> dict[str, Any]:
    data = {
        "authority": "CN-JS",
        "holder": HOLDER,
        "registration_number": "SH-R-0001",
        "qualification": "urn:uuid:1",
        "category": "construction",
        "employer": {"name": "上海建工", "credit_code": CODE},
        "kind": "initial",
        "valid_from": "2026-01-01",
        "valid_until": "2031-01-01",
    }
    return {**data, **changes}


def test_registration_windows() -> None:
    record = RegistrationIn.model_validate(_registration())
    assert record.valid_until == date(2031, 1, 1)
    assert "at most 5 years" in str(
        _errors(RegistrationIn, _registration(valid_until="2031-01-02"))
    )
    assert "must follow" in str(_errors(RegistrationIn, _registration(valid_until="2025-12-31")))
    bad = _errors(RegistrationIn, _registration(employer={"name": "x", "credit_code": "123"}))
    assert "employer.credit_code" in bad
    assert "kind" in _errors(RegistrationIn, _registration(kind="transfer"))


@pytest.mark.parametrize(("hours", "ok"), [(0.5, True), (200, True), (0, False), (200.5, False),
                                           (1.25, False), (-2, False)])  # fmt: skip
def test_continuing_education_hours(hours: float, ok: bool) -> None:
    data = {"authority": "CN-JS", "holder": HOLDER, "course_title": "危险化学品安全管理",
            "hours": hours,
            "provider": {"name": "江苏安全培训中心", "credit_code": CODE},
            "kind": "professional", "completed_on": "2026-05-20"}  # fmt: skip
    if ok:
        subject = ContinuingEducationIn.model_validate(data).subject({"name": "x"})
        assert subject["hours"] == hours
    else:
        assert "hours" in _errors(ContinuingEducationIn, data)


def _listing(**changes: Any) -> dict[str, Any]:
    data = {
        "authority": "CN-JS",
        "listed": {"kind": "organisation", "name": "某化工有限公司", "credit_code": CODE},
        "related_persons": [
            {"name": "李四", "id_number": ID, "role": "principal"},
        ],
        "legal_basis": "《安全生产严重失信主体名单管理办法》第五条",
        "penalty_decision_number": "苏应急罚〔2026〕12号",
        "listing_decision_number": "苏应急失信〔2026〕3号",
        "listed_on": "2024-02-29",
        "measures": ["限制参与政府采购", "加大执法检查频次"],
    }
    return {**data, **changes}


def test_a_listing_computes_its_dates_and_commits_every_person() -> None:
    """民法典第二百零一条、第二百零二条: a listing of 2024-02-29 is in force through
    2027-02-28 (expires 2027-03-01); its twelve months end on 2025-02-28."""
    listing = ListingIn.model_validate(_listing())
    assert listing.last_day_in_force == date(2027, 2, 28)
    assert listing.earliest_removal_on == date(2025, 3, 1)
    assert listing.expires_on == date(2027, 3, 1)
    plain = ListingIn.model_validate(_listing(listed_on="2024-03-10"))
    assert plain.earliest_removal_on == date(2025, 3, 11)
    assert plain.expires_on == date(2027, 3, 11)
    committed = [identify_person(p, SECRETS)[0] for p in listing.people()]
    subject = listing.subject(committed)
    assert subject["listed"] == {
        "kind": "organisation",
        "name": "某化工有限公司",
        "creditCode": CODE,
    }
    assert subject["relatedPersons"][0]["role"] == "principal"
    assert ID not in json.dumps(subject)
    person = ListingIn.model_validate(
        _listing(listed={"kind": "person", "name": "王五", "id_number": ID}, related_persons=[])
    )
    assert len(person.people()) == 1
    assert person.subject([{"name": "王五"}])["listed"]["kind"] == "person"


@pytest.mark.parametrize(
    ("role", "code"),
    [
        ("principal", "principal"),
        ("主要负责人", "principal"),
        ("有关责任人员", "responsible"),
        ("直接责任人员", "directly-responsible"),
        ("其他负有责任的人员", "other-responsible"),
        ("other-responsible", "other-responsible"),
    ],
)
def test_related_persons_are_named_in_order_11s_terms(role: str, code: str) -> None:
    """《安全生产严重失信主体名单管理办法》(应急管理部令第11号): a listing names the
    unit's 主要负责人, 有关责任人员, 直接责任人员 and 其他负有责任的人员."""
    person = {"name": "李四", "id_number": ID, "role": role}
    listing = ListingIn.model_validate(_listing(related_persons=[person]))
    assert listing.related_persons[0].role == code


@pytest.mark.parametrize(
    "role", ["legal-representative", "法定代表人", "safety-lead", "安全负责人"]
)
def test_the_roles_order_11_does_not_name_are_refused_naming_its_terms(role: str) -> None:
    """《安全生产严重失信主体名单管理办法》(应急管理部令第11号): 法定代表人 and 安全负责人
    are not its terms; the refusal names the Order and the roles it takes."""
    person = {"name": "李四", "id_number": ID, "role": role}
    with pytest.raises(ValidationError) as caught:
        ListingIn.model_validate(_listing(related_persons=[person]))
    [error] = caught.value.errors()
    assert error["loc"][:3] == ("related_persons", 0, "role")
    assert "is no longer a role" in error["msg"]
    assert "应急管理部令第11号" in error["msg"]
    for term in ("主要负责人", "有关责任人员", "直接责任人员", "其他负有责任的人员"):
        assert term in error["msg"]


def test_coded_measures_are_carried_only_when_given() -> None:
    """《安全生产严重失信主体名单管理办法》(应急管理部令第11号): the measures a listing
    takes, coded; a listing without codes keeps the form it always had."""
    committed = [
        identify_person(p, SECRETS)[0] for p in ListingIn.model_validate(_listing()).people()
    ]
    plain = ListingIn.model_validate(_listing()).subject(committed)
    assert "measureCodes" not in plain
    coded = ListingIn.model_validate(
        _listing(measure_codes=["restrict-practice", "限制参加政府采购和招标投标", " 其他措施 "])
    ).subject(committed)
    assert coded["measureCodes"] == ["restrict-practice", "restrict-procurement", "other"]
    assert {k: v for k, v in coded.items() if k != "measureCodes"} == plain


@pytest.mark.parametrize(
    ("codes", "says"),
    [
        (["restrict-practice", "依法限制或禁止从事相关职业（执业）"], "at most once"),
        (["blacklist"], "key-supervision (列为重点监管对象，加大执法检查频次)"),
        (["other"] * 6, "at most 5"),
    ],
)
def test_coded_measures_are_known_and_each_once(codes: list[str], says: str) -> None:
    """《安全生产严重失信主体名单管理办法》(应急管理部令第11号): each measure coded once,
    from the table (registry.labels.MEASURE)."""
    with pytest.raises(ValidationError, match=re.escape(says)) as caught:
        ListingIn.model_validate(_listing(measure_codes=codes))
    assert all(e["loc"][0] == "measure_codes" for e in caught.value.errors())


def test_a_stored_role_taken_before_order_11_still_shows_its_label() -> None:
    """《安全生产严重失信主体名单管理办法》(应急管理部令第11号): credentials issued before
    keep their roles, and show them."""
    assert RELATED_ROLE.label("legal-representative") == "法定代表人"
    assert RELATED_ROLE.label("safety-lead") == "安全负责人"
    assert "legal-representative" not in RELATED_ROLE.spellings


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"measures": []}, "measures"),
        ({"listed": {"kind": "company", "name": "x"}}, "listed"),
        ({"related_persons": [{"name": "x", "id_number": ID, "role": "owner"}]},
         "related_persons.0.role"),
        ({"listed_on": "yesterday"}, "listed_on"),
    ],
)  # fmt: skip
def test_listing_field_errors(changes: dict[str, Any], where: str) -> None:
    assert any(key.startswith(where) for key in _errors(ListingIn, _listing(**changes)))


def test_record_types_are_the_enumerations_and_a_wrong_one_is_named_plainly() -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(RecordIn)
    tags = {
        str(model.model_fields["type"].default)
        for model in (QualificationIn, RegistrationIn, ContinuingEducationIn, ListingIn)
    }
    assert tags == {
        CredentialType.QUALIFICATION,
        CredentialType.REGISTRATION,
        CredentialType.CE_CREDIT,
        CredentialType.LISTING,
    }
    with pytest.raises(ValidationError) as caught:
        adapter.validate_python({"type": "Certificate"})
    message = caught.value.errors()[0]["msg"]
    assert "'SafetyEngineerQualification'" in message
    assert "CredentialType" not in message
