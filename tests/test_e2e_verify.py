"""End to end on the real server: an employer's question answered with a signed report,
which `registry verify` and an outside eddsa-jcs-2022 verifier check offline; and
recognition agreements managed from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.examples import verify_examples
from tests._outside import (
    inclusion_root,
    issuing_key,
    leaf_hash,
    log_verifier_key,
    note_signed_by,
    verify_eddsa_jcs_2022,
)
from tests._servers import Servers
from tests._support import run_command


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_command(args, env)


@pytest.mark.e2e
def test_a_demo_report_verifies_offline(pg_url: str, servers: Servers, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = servers.start(pg_url, data_dir)
    tokens = json.loads((data_dir / "secrets" / "demo-tokens.json").read_text(encoding="utf-8"))
    answer = httpx.post(
        f"{server.base}/v1/verify/engineer",
        json=verify_examples()["recognised"]["value"],
        headers={"Authorization": f"Bearer {tokens['verifier']}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    report: dict[str, Any] = answer.json()
    assert report["credentialSubject"]["verdict"] == "qualified"

    # Any standard eddsa-jcs-2022 verifier, given the node key from the trust list.
    trust = httpx.get(f"{server.base}/v1/trust-list").json()
    node_key = issuing_key(trust, report["proof"]["verificationMethod"])
    verify_eddsa_jcs_2022(report, node_key)
    evidence = report["credentialSubject"]["evidence"]
    roots = {
        c["authority"]: note_signed_by(c["checkpoint"], log_verifier_key(trust, c["authority"]))
        for c in evidence["checkpoints"]
    }
    for item in evidence["credentials"]:
        _, size, root = roots[item["authority"]]
        leaf = leaf_hash(item["credential"])
        assert inclusion_root(leaf, item["leafIndex"], size, item["inclusionProof"]) == root

    # `registry verify`, offline, with the trust list pinned to its genesis.
    history = httpx.get(f"{server.base}/v1/trust-list/history").json()
    genesis = history["versions"][0]["digest"]
    (tmp_path / "trust.json").write_text(json.dumps(trust), encoding="utf-8")
    (tmp_path / "report.json").write_text(json.dumps(report, ensure_ascii=False), "utf-8")
    # The English summary and verdict lines, whatever the locale of the machine.
    env = {**os.environ, "REGISTRY_DATA_DIR": str(tmp_path / "elsewhere"), "LC_ALL": "C.UTF-8"}
    # The report relies on the demo's recognition agreement, so it holds for the demo.
    checked = _run(
        env,
        "verify",
        str(tmp_path / "report.json"),
        "--trust-list",
        str(tmp_path / "trust.json"),
        "--genesis",
        genesis,
        "--demo",
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "verifies: every check holds" in checked.stdout
    assert "inclusion in its log" in checked.stdout

    report["credentialSubject"]["continuingEducation"]["counted"]["total"] = 48
    (tmp_path / "changed.json").write_text(json.dumps(report, ensure_ascii=False), "utf-8")
    refused = _run(
        env,
        "verify",
        str(tmp_path / "changed.json"),
        "--trust-list",
        str(tmp_path / "trust.json"),
        "--genesis",
        genesis,
    )
    assert refused.returncode == 1
    assert "does not verify: verification > report > report signature" in refused.stdout

    # A registration's QR code names the very credential its proof bundle holds.
    registration = report["credentialSubject"]["registration"]["id"]
    text = httpx.get(f"{server.base}/v1/credentials/{registration}/qr").headers["x-qr-text"]
    # The node witnesses its own logs as it serves (the one-node demo): within moments
    # of starting, the bundle is at a witnessed checkpoint.
    deadline = time.monotonic() + 30
    bundle = httpx.get(f"{server.base}/v1/credentials/{registration}/proof").json()
    while not bundle["witnessed"] and time.monotonic() < deadline:
        time.sleep(0.2)
        bundle = httpx.get(f"{server.base}/v1/credentials/{registration}/proof").json()
    assert bundle["witnessed"], bundle
    (tmp_path / "bundle.json").write_text(json.dumps(bundle, ensure_ascii=False), "utf-8")
    scanned = _run(
        env,
        "verify",
        str(tmp_path / "bundle.json"),
        "--trust-list",
        str(tmp_path / "trust.json"),
        "--genesis",
        genesis,
        "--qr",
        text,
    )
    assert scanned.returncode == 0, scanned.stdout + scanned.stderr
    assert "QR code" in scanned.stdout


def test_recognition_from_the_command_line(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "REGISTRY_DATA_DIR": str(tmp_path / "data"),
        "REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path / 'node.sqlite3'}",
        "REGISTRY_DEMO": "false",
    }
    assert _run(env, "db", "upgrade").returncode == 0
    for code, zh, en in (
        ("CN-SH", "上海市应急管理局", "Shanghai"),
        ("CN-ZJ", "浙江省应急管理厅", "Zhejiang"),
    ):
        made = _run(env, "authority", "create", code, "--name-zh", zh, "--name-en", en)
        assert made.returncode == 0, made.stderr
    proposed = _run(
        env,
        "recognition",
        "propose",
        "--by",
        "CN-ZJ",
        "--parties",
        "CN-SH,CN-ZJ",
        "--kinds",
        "continuing-education",
        "--effective-from",
        "2025-01-01",
        "--basis-number",
        "沪浙应急〔2025〕1号",
        "--basis-title",
        "沪浙继续教育学时互认协议",
    )
    assert proposed.returncode == 0, proposed.stderr
    agreement = proposed.stdout.split()[1]
    assert agreement.startswith("urn:uuid:")
    assert _run(env, "recognition", "sign", agreement, "--as", "CN-ZJ").returncode == 0
    early = _run(env, "recognition", "publish", agreement)
    assert early.returncode == 1
    assert "missing CN-SH" in early.stderr
    assert _run(env, "recognition", "sign", agreement, "--as", "CN-SH").returncode == 0
    published = _run(env, "recognition", "publish", agreement)
    assert published.returncode == 0, published.stderr
    listed = _run(env, "recognition", "list", "--date", "2025-06-01", "--json")
    assert [a["id"] for a in json.loads(listed.stdout)] == [agreement]
    # A demonstration agreement (a synthetic basis) is published only where the demo runs.
    shown = _run(
        env,
        "recognition",
        "propose",
        "--by",
        "CN-SH",
        "--parties",
        "CN-SH,CN-ZJ",
        "--kinds",
        "qualification",
        "--effective-from",
        "2025-01-01",
        "--basis-number",
        "沪浙应急〔2025〕9号（演示）",
        "--basis-title",
        "沪浙资格互认协议（演示）",
        "--demonstration",
    )
    assert shown.returncode == 0, shown.stderr
    demonstration = shown.stdout.split()[1]
    for party in ("CN-SH", "CN-ZJ"):
        assert _run(env, "recognition", "sign", demonstration, "--as", party).returncode == 0
    refused = _run(env, "recognition", "publish", demonstration)
    assert refused.returncode == 1
    assert "is a demonstration" in refused.stderr
    assert "REGISTRY_DEMO" in refused.stderr
    demo = {**env, "REGISTRY_DEMO": "true"}
    accepted = _run(demo, "recognition", "publish", demonstration)
    assert accepted.returncode == 0, accepted.stderr
    bad = _run(
        env,
        "recognition",
        "propose",
        "--by",
        "CN-ZJ",
        "--parties",
        "CN-ZJ",
        "--kinds",
        "qualification",
        "--effective-from",
        "2025-01-01",
        "--basis-number",
        "x",
        "--basis-title",
        "y",
    )
    assert bad.returncode == 1
    assert "two or more parties" in bad.stderr
