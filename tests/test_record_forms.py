"""The console's forms for one record: flat fields read into the API's own models, each
problem beside the field typed, and a record read back into its form to correct it."""

from __future__ import annotations

from datetime import date

from registry.credentials.records import ContinuingEducationIn, ListingIn, RegistrationIn
from registry.demo.synthetic import resident_id
from registry.errors import FieldError
from web.record_forms import FORMS, form_of_type
from web.record_input import field_errors, read_record, values_of

ID = resident_id("310101", "19900101", "001")
CODE = "91310000MA1FL0001R"
CE = {
    "holder_name": "王立新",
    "id_number": ID,
    "course_title": "危险化学品安全管理",
    "provider_name": "上海安全培训中心",
    "provider_code": CODE,
    "hours": "7.5",
    "kind": "professional",
    "completed_on": "2026-11-01",
}


def test_a_form_reads_into_the_model_the_api_takes() -> None:
    item, errors = read_record(FORMS["ce"], CE, authority="CN-SH", lang="en")
    assert errors == {}
    assert isinstance(item, ContinuingEducationIn)
    assert (item.holder.id_number, item.provider.credit_code, item.hours) == (ID, CODE, 7.5)
    assert item.authority == "CN-SH"
    assert item.replaces is None


def test_each_problem_is_beside_its_field_in_the_visitors_language() -> None:
    bad = {**CE, "id_number": ID[:-1] + "0", "hours": "7.3", "provider_code": "", "kind": "x"}
    item, errors = read_record(FORMS["ce"], bad, authority="CN-SH", lang="zh")
    assert item is None
    assert set(errors) == {"id_number", "hours", "provider_code", "kind"}
    assert errors["provider_code"] == ["必填"]
    assert ID not in str(errors)
    # What check_records finds, by its field path, lands beside the same fields.
    problems = [FieldError("completed_on", "is in the future"), FieldError("holder.id_number", "x")]
    assert set(field_errors(FORMS["ce"], problems, "en")) == {"completed_on", "id_number"}


def test_a_listing_names_an_organisation_by_code_and_a_person_by_number() -> None:
    listing = {
        "listed_kind": "organisation",
        "listed_name": "江苏盐城某化工有限公司",
        "listed_code": CODE,
        "listed_id_number": ID,  # typed, but not for an organisation
        "legal_basis": "《安全生产严重失信主体名单管理办法》第七条",
        "penalty_decision_number": "沪应急罚〔2026〕1号",
        "listing_decision_number": "沪应急失信〔2026〕1号",
        "listed_on": "2026-11-01",
        "measures": "列为重点监管对象\n\n限制参加政府采购",
        "measure_codes": ["key-supervision", "restrict-procurement"],
    }
    item, errors = read_record(FORMS["listing"], listing, authority="CN-SH", lang="en")
    assert errors == {}
    assert isinstance(item, ListingIn)
    assert item.measures == ["列为重点监管对象", "限制参加政府采购"]
    # Persons responsible: the rows filled in, in order; a problem beside its row's field.
    named = {
        **listing,
        "related_2_role": "principal",
        "related_2_name": "钱某",
        "related_2_id_number": ID,
        "related_3_role": "directly-responsible",
        "related_3_name": "孙某",
        "related_3_id_number": ID[:-1] + "0",
    }
    item, errors = read_record(FORMS["listing"], named, authority="CN-SH", lang="en")
    assert item is None
    assert set(errors) == {"related_3_id_number"}
    named["related_3_id_number"] = ID
    item, errors = read_record(FORMS["listing"], named, authority="CN-SH", lang="en")
    assert isinstance(item, ListingIn), errors
    assert [(p.role, p.name) for p in item.related_persons] == [
        ("principal", "钱某"),
        ("directly-responsible", "孙某"),
    ]
    subject = item.subject([{"name": "钱某"}, {"name": "孙某"}])  # as committed, in order
    back = values_of(FORMS["listing"], {"credentialSubject": subject})
    assert (back["related_1_name"], back["related_2_role"]) == ("钱某", "directly-responsible")
    assert "related_1_id_number" not in back
    person = {**listing, "listed_kind": "person", "listed_name": "赵强"}
    item, errors = read_record(FORMS["listing"], person, authority="CN-SH", lang="en")
    assert errors == {}
    assert isinstance(item, ListingIn)
    assert item.people()[0].id_number == ID
    item, errors = read_record(
        FORMS["listing"], {**person, "listed_id_number": ""}, authority="CN-SH", lang="en"
    )
    assert item is None
    assert "listed_id_number" in errors


def test_a_record_reads_back_into_its_form_but_for_the_id_number() -> None:
    registration = {
        "holder_name": "王立新",
        "id_number": ID,
        "registration_number": "SH-REG-9001",
        "qualification": "SH-2019-C-0001",
        "category": "chemical",
        "employer_name": "上海华东化工有限公司",
        "employer_code": CODE,
        "kind": "initial",
        "valid_from": "2025-10-23",
        "valid_until": "2030-10-22",
    }
    item, errors = read_record(FORMS["registration"], registration, authority="CN-SH", lang="en")
    assert isinstance(item, RegistrationIn), errors
    document = {
        "validFrom": "2025-10-22T16:00:00Z",  # the first instant of 23 Oct in China
        "validUntil": "2030-10-22T16:00:00Z",  # the first instant after 22 Oct 2030
        "credentialSubject": item.subject({"name": "王立新", "identifier": {"masked": "x"}}),
    }
    form = form_of_type(item.type)
    assert form is FORMS["registration"]
    back = values_of(form, document)
    assert back == {k: v for k, v in registration.items() if k != "id_number"}
    assert date.fromisoformat(back["valid_until"]) == item.valid_until


def test_an_early_pilot_code_is_taken_only_when_said_so() -> None:
    pilot = "91350100M000100Y40"  # well formed, but its check character should be 3
    ce = {**CE, "provider_code": pilot}
    item, errors = read_record(FORMS["ce"], ce, authority="CN-SH", lang="en")
    assert item is None
    assert "provider_code" in errors
    item, errors = read_record(
        FORMS["ce"], {**ce, "provider_pilot": "1"}, authority="CN-SH", lang="en"
    )
    assert isinstance(item, ContinuingEducationIn), errors
    assert item.provider.pilot
    document = {"credentialSubject": item.subject({"name": "王立新"})}
    assert values_of(FORMS["ce"], document)["provider_pilot"] == "1"
