"""`registry verify` fails closed without a pinned genesis, takes the whole trust-list
chain as one file (GET /v1/trust-list/chain), and prints first what an employer
needs: the verdict, the person, the region and the day, in Chinese or English."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from registry.demo import DEMO_ENGINEERS
from registry.settings import Settings
from tests._support import run_command, seed_demo_node

ENGINEERS = {e.name: e for e in DEMO_ENGINEERS}


@pytest.fixture
def node(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    tokens = seed_demo_node(settings)
    with TestClient(create_app(settings)) as client:
        yield client, tokens


def _verify(tmp_path: Path, *args: str, lang: str = "C.UTF-8") -> subprocess.CompletedProcess[str]:
    env = {"REGISTRY_DATA_DIR": str(tmp_path / "elsewhere"), "LANG": lang, "LC_ALL": ""}
    return run_command(["verify", *args], env)


def _report(client: TestClient, tokens: dict[str, str], **body: Any) -> dict[str, Any]:
    answer = client.post(
        "/v1/verify/engineer", json=body, headers={"Authorization": f"Bearer {tokens['verifier']}"}
    )
    assert answer.status_code == 200, answer.text
    report: dict[str, Any] = answer.json()
    return report


def _files(client: TestClient, tmp_path: Path, document: dict[str, Any]) -> tuple[str, str, str]:
    """The document and the chain written to files, and the published genesis."""
    path = tmp_path / "document.json"
    path.write_text(json.dumps(document, ensure_ascii=False), "utf-8")
    chain = tmp_path / "chain.json"
    chain.write_text(client.get("/v1/trust-list/chain").text, "utf-8")
    genesis = client.get("/v1/trust-list/history").json()["genesis"]
    return str(path), str(chain), genesis


def test_the_chain_is_every_version_as_trust_export_writes_it(
    node: tuple[TestClient, dict[str, str]],
) -> None:
    client, _ = node
    answer = client.get("/v1/trust-list/chain")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    chain = answer.json()
    history = client.get("/v1/trust-list/history").json()
    assert [v["credentialSubject"]["version"] for v in chain] == [
        v["version"] for v in history["versions"]
    ]
    # Each version byte for byte as served alone.
    for version in chain:
        alone = client.get(f"/v1/trust-list/{version['credentialSubject']['version']}")
        assert alone.json() == version
    again = client.get("/v1/trust-list/chain", headers={"If-None-Match": answer.headers["etag"]})
    assert again.status_code == 304


def test_an_empty_history_has_no_chain(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        answer = client.get("/v1/trust-list/chain")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"


# What this checks does not depend on the database: SQLite alone (the domain below the
# command is tested on both).
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_verify_refuses_to_vouch_without_a_pinned_genesis(
    node: tuple[TestClient, dict[str, str]], tmp_path: Path
) -> None:
    client, tokens = node
    report = _report(client, tokens, id_number=ENGINEERS["王立新"].id_number, region="CN-SH")
    document, chain, genesis = _files(client, tmp_path, report)

    unpinned = _verify(tmp_path, document, "--trust-list", chain)
    assert unpinned.returncode == 1, unpinned.stdout + unpinned.stderr
    assert "every check holds" not in unpinned.stdout
    assert "--genesis" in unpinned.stdout
    assert "--unsafe-genesis-from-file" in unpinned.stdout

    taken = _verify(tmp_path, document, "--trust-list", chain, "--unsafe-genesis-from-file")
    assert taken.returncode == 0, taken.stdout + taken.stderr
    assert "NOT PINNED" in taken.stdout
    assert "genesis was NOT pinned" in taken.stdout.splitlines()[-1]
    assert "verifies: every check holds" not in taken.stdout

    pinned = _verify(tmp_path, document, "--trust-list", chain, "--genesis", genesis)
    assert pinned.returncode == 0, pinned.stdout + pinned.stderr
    assert pinned.stdout.splitlines()[-1] == "verifies: every check holds"

    wrong = _verify(tmp_path, document, "--trust-list", chain, "--genesis", "ab" * 32)
    assert wrong.returncode == 1


# What this checks does not depend on the database: SQLite alone (the domain below the
# command is tested on both).
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_verdict_comes_first_in_the_language_chosen(
    node: tuple[TestClient, dict[str, str]], tmp_path: Path
) -> None:
    client, tokens = node
    wang = ENGINEERS["王立新"]
    report = _report(client, tokens, id_number=wang.id_number, region="CN-SH")
    day = report["credentialSubject"]["query"]["date"]
    masked = report["credentialSubject"]["holder"]["residentIdMasked"]
    document, chain, genesis = _files(client, tmp_path, report)
    base = [document, "--trust-list", chain, "--genesis", genesis]

    english = _verify(tmp_path, *base, "--lang", "en").stdout.splitlines()
    assert english[0].split()[:4] == ["Verdict", "qualified:", "on", f"{day},"]
    assert english[1].split() == ["Person", wang.name, masked]
    assert english[2].split() == ["Region", "Shanghai", "(CN-SH)"]
    assert english[3].split() == ["Day", day]
    assert wang.id_number not in "\n".join(english)
    assert english.index("") < next(i for i, line in enumerate(english) if "trust list" in line)

    chinese = _verify(tmp_path, *base, "--lang", "zh").stdout.splitlines()
    assert chinese[0].startswith("结论")
    assert "合格" in chinese[0]
    assert chinese[1].split() == ["人员", wang.name, masked]
    assert "上海市" in chinese[2]
    assert chinese[-1] == "核验通过：各项检查均成立"
    # The checks too, by name and what they found.
    assert any("✓ 信任列表: 第 1 版" in line for line in chinese)
    assert any("✓ 报告签名" in line for line in chinese)
    unpinned = _verify(tmp_path, document, "--trust-list", chain, "--lang", "zh")
    assert unpinned.returncode == 1
    assert "未固定创世摘要" in unpinned.stdout
    assert unpinned.stdout.splitlines()[-1].startswith("核验不通过: 核验 > 信任列表: 未固定")
    # The locale decides when --lang is not given.
    by_locale = _verify(tmp_path, *base, lang="zh_CN.UTF-8").stdout.splitlines()
    assert by_locale == chinese

    refused = _verify(tmp_path, *base, "--lang", "fr")
    assert refused.returncode != 0
    assert "--lang" in refused.stdout + refused.stderr


def test_a_failing_file_is_summed_up_as_unverified(
    node: tuple[TestClient, dict[str, str]], tmp_path: Path
) -> None:
    client, tokens = node
    report = _report(client, tokens, id_number=ENGINEERS["陈静"].id_number, region="CN-SH")
    report["credentialSubject"]["verdict"] = "not-qualified"
    document, chain, genesis = _files(client, tmp_path, report)
    answer = _verify(
        tmp_path, document, "--trust-list", chain, "--genesis", genesis, "--lang", "en"
    )
    assert answer.returncode == 1
    lines = answer.stdout.splitlines()
    assert "does NOT verify" in lines[0]
    assert lines[-1].startswith("does not verify")


def test_a_wrong_name_and_nobody_say_so_first(
    node: tuple[TestClient, dict[str, str]], tmp_path: Path
) -> None:
    client, tokens = node
    mismatch = _report(
        client, tokens, registration_number="SH-REG-1001", name="王力新", region="CN-SH"
    )
    document, chain, genesis = _files(client, tmp_path, mismatch)
    zh = _verify(tmp_path, document, "--trust-list", chain, "--genesis", genesis, "--lang", "zh")
    assert zh.returncode == 0, zh.stdout + zh.stderr
    lines = zh.stdout.splitlines()
    assert "不合格" in lines[0]
    assert lines[1].split() == ["人员", "王力新", "SH-REG-1001"]
    assert any(line.startswith("原因") and "姓名与该注册编号" in line for line in lines[:6])
    assert "王立新" not in zh.stdout

    nobody = _report(
        client, tokens, registration_number="SH-REG-9999", name="王立新", region="CN-SH"
    )
    document, chain, genesis = _files(client, tmp_path, nobody)
    en = _verify(tmp_path, document, "--trust-list", chain, "--genesis", genesis, "--lang", "zh")
    assert "未查到" in en.stdout.splitlines()[0]


def test_a_credential_says_whose_what_by_whom_and_when(
    node: tuple[TestClient, dict[str, str]], tmp_path: Path
) -> None:
    client, tokens = node
    report = _report(client, tokens, id_number=ENGINEERS["王立新"].id_number, region="CN-SH")
    registration = report["credentialSubject"]["registration"]["id"]
    bundle = client.get(f"/v1/credentials/{registration}/proof").json()
    document, chain, genesis = _files(client, tmp_path, bundle)
    answer = _verify(
        tmp_path, document, "--trust-list", chain, "--genesis", genesis, "--lang", "en"
    )
    assert answer.returncode == 0, answer.stdout + answer.stderr
    lines = answer.stdout.splitlines()
    assert lines[0].split()[:2] == ["Whose", "王立新"]
    assert lines[1].startswith("What")
    assert "safety-engineer registration" in lines[1]
    assert "SH-REG-1001" in lines[1]
    assert lines[2].split()[-2:] == ["Shanghai", "(CN-SH)"]
    assert lines[3].startswith("Valid from")
    assert lines[4].startswith("Valid until")
    assert ENGINEERS["王立新"].id_number not in answer.stdout


def test_what_decides_comes_as_the_reason_and_what_informs_as_a_note(
    node: tuple[TestClient, dict[str, str]], tmp_path: Path
) -> None:
    """Offline, as an employer reads it: a listing whose measures do not restrict
    practice is a note beside a qualified verdict (《安全生产严重失信主体名单管理办法》,
    应急管理部令第11号); a registration to another employer is the reason for not
    qualified (不得同时受聘于两个或两个以上单位, 《注册安全工程师分类管理办法》)."""
    client, tokens = node
    zhao = ENGINEERS["赵强"]
    listed = _report(client, tokens, id_number=zhao.id_number, region="CN-ZJ")
    document, chain, genesis = _files(client, tmp_path, listed)
    answer = _verify(
        tmp_path, document, "--trust-list", chain, "--genesis", genesis, "--lang", "zh"
    )
    assert answer.returncode == 0, answer.stdout + answer.stderr
    lines = answer.stdout.splitlines()
    assert "合格" in lines[0]
    assert "不合格" not in lines[0]
    assert not any(line.startswith("原因") for line in lines[:8])
    assert any(line.startswith("另请注意") and "严重失信主体名单" in line for line in lines[:8])

    wang, chen = ENGINEERS["王立新"], ENGINEERS["陈静"]
    assert chen.employer is not None
    other = _report(
        client, tokens, id_number=wang.id_number, region="CN-SH", employer=chen.employer[1]
    )
    document, chain, genesis = _files(client, tmp_path, other)
    answer = _verify(
        tmp_path, document, "--trust-list", chain, "--genesis", genesis, "--lang", "en"
    )
    assert answer.returncode == 0, answer.stdout + answer.stderr
    lines = answer.stdout.splitlines()
    assert "not qualified" in lines[0]
    assert any(line.startswith("Why") and "not to the employer asked" in line for line in lines)


def test_verify_refuses_a_report_relying_on_a_demonstration_agreement_without_demo(
    node: tuple[TestClient, dict[str, str]], tmp_path: Path
) -> None:
    """The demo's recognition agreements cite synthetic documents: a report relying on
    one holds offline only for the demo (`registry verify --demo`)."""
    client, tokens = node
    report = _report(client, tokens, id_number=ENGINEERS["陈静"].id_number, region="CN-SH")
    assert report["credentialSubject"]["agreements"]
    document, chain, genesis = _files(client, tmp_path, report)
    refused = _verify(tmp_path, document, "--trust-list", chain, "--genesis", genesis)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "relies on a demonstration agreement" in refused.stdout
    assert "every check holds" not in refused.stdout
    accepted = _verify(tmp_path, document, "--trust-list", chain, "--genesis", genesis, "--demo")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "✓ demonstration agreement" in accepted.stdout
    assert "every check holds" in accepted.stdout
