"""A verification report as a PDF: real reports of the seeded demo, printed and read
back as text (pypdf), in Chinese and in English; the QR code of the report's page;
no whole ID number; a failing verdict resting on a listing; long names and many
records flowing on to further pages."""

from __future__ import annotations

import copy
import io
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import segno
from fastapi.testclient import TestClient
from pypdf import PdfReader

from api import create_app
from registry.calendar import china_today
from registry.demo import DEMO_ENGINEERS, credit_code
from registry.errors import InvalidInput
from registry.settings import Settings
from registry.verification.batch import verdict_label
from tests._support import LOOPBACK, seed_demo_node
from tests._verifying import Node
from web.pdf import report_pdf

ENGINEERS = {e.name: e for e in DEMO_ENGINEERS}
PAGE = "https://sh.registry.yrd.example/reports/"
# A whole resident ID number: 17 digits and a check character, standing alone.
WHOLE_ID = re.compile(r"(?<![0-9A-Za-z])[1-9][0-9]{16}[0-9Xx](?![0-9A-Za-z])")
# Each page's footer, as it reads back squashed: taken out, so that a row split
# across two pages reads back whole.
FOOTER = re.compile(
    r"(工程师核验报告|Engineerverificationreport)·urn:uuid:[0-9a-f-]+(第\d+页|Page\d+)"
)


@pytest.fixture
def node(tmp_path: Path, sqlite_url: str) -> Iterator[Node]:
    """The seeded demo node, on SQLite alone: the PDF prints a report's JSON, which is
    the same from either database (the verification tests run both)."""
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=sqlite_url,
        webhook_allowed_networks=LOOPBACK.allowed,
        demo=True,
    )
    tokens = seed_demo_node(settings)
    with TestClient(create_app(settings)) as client:
        yield Node(settings, client, tokens)


def _read(pdf: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(pdf))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def _squashed(value: str) -> str:
    """``value`` without whitespace: a line the PDF wrapped reads back whole."""
    return re.sub(r"\s+", "", value)


def _printed(pdf: bytes) -> tuple[PdfReader, str]:
    """The PDF, and its text squashed without the pages' footers; asserts that no
    whole ID number is printed."""
    reader, text = _read(pdf)
    assert not WHOLE_ID.search(text), "a whole ID number is printed"
    squashed = _squashed(text)
    assert len(FOOTER.findall(squashed)) == len(reader.pages)
    return reader, FOOTER.sub("", squashed)


def _url(report: dict[str, Any]) -> str:
    return f"{PAGE}{report['id']}"


def _assert_qr_of(reader: PdfReader, url: str) -> None:
    """The first page's image is the QR code of ``url`` (level M), module by module."""
    (image,) = reader.pages[0].images
    pixels = image.image
    assert pixels is not None
    grey = pixels.convert("L")
    matrix = segno.make(url, error="m", micro=False).matrix
    size = len(matrix)
    module = grey.width / (size + 8)  # a quiet zone of four modules each side
    assert grey.width == grey.height
    assert module >= 1
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            value = grey.getpixel((int((x + 4.5) * module), int((y + 4.5) * module)))
            assert isinstance(value, int)  # one grey level a pixel
            assert (value < 128) == bool(dark), (x, y)


def test_a_qualified_report_prints_in_chinese(node: Node) -> None:
    chen = ENGINEERS["陈静"]
    report = node.verify(id_number=chen.id_number, region="CN-SH")
    subject = report["credentialSubject"]
    assert subject["verdict"] == "qualified"
    pdf = report_pdf(report, language="zh", page_url=_url(report))
    assert pdf.startswith(b"%PDF-")
    reader, text = _printed(pdf)
    assert len(reader.pages) <= 2
    assert "工程师核验报告" in text
    assert verdict_label("qualified")["zh"] in text
    assert verdict_label("not-qualified")["zh"] not in text
    assert _squashed(subject["verdictText"]["zh"]) in text
    assert "陈静" in text
    assert subject["holder"]["residentIdMasked"] in text
    assert chen.id_number not in text
    for reason in subject["reasons"]:
        assert _squashed(reason["zh"]) in text
    assert subject["registration"]["registrationNumber"] in text
    assert subject["qualification"]["certificateNumber"] in text
    assert subject["registration"]["employer"]["name"] in text
    (agreement,) = subject["agreements"]
    assert _squashed(agreement["legalBasis"]["title"]) in text
    assert _squashed(agreement["legalBasis"]["documentNumber"]) in text
    ce = subject["continuingEducation"]
    assert f"共{ce['counted']['total']}学时" in text
    assert "无在效的失信名单记录" in text
    for log in subject["logs"]:
        assert log["rootHash"][:12] in text
    assert report["id"] in text
    assert _url(report) in text
    _assert_qr_of(reader, _url(report))


def test_the_same_report_prints_in_english(node: Node) -> None:
    report = node.verify(registration_number="SH-REG-1001", name="王立新", region="CN-AH")
    subject = report["credentialSubject"]
    reader, text = _printed(report_pdf(report, language="en", page_url=_url(report)))
    assert "Engineerverificationreport" in text
    assert "qualified" in text
    assert _squashed(subject["verdictText"]["en"]) in text
    assert "王立新" in text
    for reason in subject["reasons"]:
        assert _squashed(reason["en"]) in text
        assert _squashed(reason["zh"]) not in text
    assert "SH-REG-1001" in text
    assert "核验理由" not in text
    assert _url(report) in text
    _assert_qr_of(reader, _url(report))


def test_a_failing_verdict_resting_on_a_listing(node: Node) -> None:
    """A listing whose measures restrict practice decides against the person: the PDF
    says 不合格, why, and the listing with its decision and measures."""
    wang = ENGINEERS["王立新"]
    listed_on = china_today() - timedelta(days=40)
    node.issue(
        [
            {
                "type": "UntrustworthinessListing",
                "authority": "CN-JS",
                "listed": {
                    "kind": "organisation",
                    "name": "江苏某危化品运输有限公司",
                    "credit_code": credit_code("91320900MA1Q50099"),
                },
                "related_persons": [
                    {"name": wang.name, "id_number": wang.id_number, "role": "principal"}
                ],
                "legal_basis": "《安全生产严重失信主体名单管理办法》第六条",
                "penalty_decision_number": "苏应急罚〔2026〕88号",
                "listing_decision_number": "苏应急失信〔2026〕8号",
                "listed_on": listed_on.isoformat(),
                "measures": ["依法依规实施联合惩戒"],
                "measure_codes": ["restrict-practice"],
            }
        ]
    )
    report = node.verify(id_number=wang.id_number, region="CN-SH")
    subject = report["credentialSubject"]
    assert subject["verdict"] == "not-qualified"
    codes = [(r["code"], r["holds"], r["decides"]) for r in subject["reasons"]]
    assert ("listing-restricts-practice", False, True) in codes
    (listing,) = subject["listings"]
    for language in ("zh", "en"):
        _, text = _printed(report_pdf(report, language=language, page_url=_url(report)))
        assert verdict_label("not-qualified")[language].replace(" ", "") in text
        for reason in subject["reasons"]:
            assert _squashed(reason[language]) in text
        assert "苏应急失信〔2026〕8号" in text
        assert "苏应急罚〔2026〕88号" in text
        assert listing["expiresOn"] in text
        assert "依法依规实施联合惩戒" in text
        assert wang.id_number not in text
    _, chinese = _printed(report_pdf(report, language="zh", page_url=_url(report)))
    assert "安全生产严重失信主体名单" in chinese
    assert "主要负责人" in chinese
    assert "依法限制或禁止从事相关职业（执业）" in chinese
    assert "不符合" in chinese


def test_a_renewal_prints_both_terms_hours(node: Node) -> None:
    """The hours of the renewed term and of the one before it, each credit with
    whether it counts, and why not where it does not."""
    report = node.verify(id_number=ENGINEERS["黄磊"].id_number, region="CN-ZJ")
    ce = report["credentialSubject"]["continuingEducation"]
    previous = ce["previousPeriod"]
    (set_aside,) = [c for c in previous["credits"] if not c["counts"]]
    _, text = _printed(report_pdf(report, language="zh", page_url=_url(report)))
    assert "本注册周期" in text
    assert "上一注册周期" in text
    assert f"共{previous['counted']['total']}学时" in text
    assert _squashed(f"否：{set_aside['reason']['zh']}") in text
    assert f"{previous['period']['from']}至{previous['period']['until']}" in text


def test_someone_the_registry_does_not_hold(node: Node) -> None:
    report = node.verify(registration_number="SH-REG-9999", name="周某", region="CN-SH")
    subject = report["credentialSubject"]
    _, text = _printed(report_pdf(report, language="zh", page_url=_url(report)))
    assert verdict_label("not-found")["zh"] in text
    assert "周某" in text
    assert "SH-REG-9999" in text
    assert "未查到该人员的记录" in text
    for reason in subject["reasons"]:
        assert _squashed(reason["zh"]) in text


def test_long_names_and_many_records_flow_on(node: Node) -> None:
    report = node.verify(id_number=ENGINEERS["陈静"].id_number, region="CN-SH")
    subject = report["credentialSubject"]
    long_name = "阿卜杜热合曼·艾合买提江·买买提依明·吐尔逊托合提·阿卜杜克热木·艾尔肯江" * 2
    subject["holder"]["name"] = long_name
    others = []
    for n in range(40):
        other = copy.deepcopy(subject["registration"])
        other["registrationNumber"] = f"SH-REG-{5000 + n}"
        others.append(other)
    subject["otherRegistrations"] = others
    credits = subject["continuingEducation"]["credits"]
    subject["continuingEducation"]["credits"] = [
        {**credits[n % len(credits)], "hours": n + 0.5} for n in range(150)
    ]
    reasons = subject["reasons"]
    subject["reasons"] = [{**reasons[0], "zh": reasons[0]["zh"] * 60}, *reasons]
    for language in ("zh", "en"):
        reader, text = _printed(report_pdf(report, language=language, page_url=_url(report)))
        assert len(reader.pages) > 2
        assert _squashed(long_name) in text
        assert "SH-REG-5000" in text
        assert "SH-REG-5039" in text
        assert "149.5" in text
        assert _squashed(subject["reasons"][0][language]) in text
        assert report["id"] in text
        page = "第" if language == "zh" else "Page"
        assert f"{page}{len(reader.pages)}" in _squashed(reader.pages[-1].extract_text())


def test_what_it_refuses(node: Node) -> None:
    report = node.verify(id_number=ENGINEERS["陈静"].id_number, region="CN-SH")
    with pytest.raises(InvalidInput, match="zh or en"):
        report_pdf(report, language="fr", page_url=_url(report))
    with pytest.raises(InvalidInput, match="names the report's page"):
        report_pdf(report, language="zh", page_url=" ")
    credential = {**report, "type": ["VerifiableCredential", "EngineerQualification"]}
    with pytest.raises(InvalidInput, match="not a verification report"):
        report_pdf(credential, language="zh", page_url=_url(report))
